"""Co-creators: their shares, and the invitations they accept or decline."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue._base import BASIS_POINTS_WHOLE, Schema


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


MAX_SHARES = 100


class ShareIn(Schema):
    creator_id: UUID
    basis_points: int = Field(ge=1, le=BASIS_POINTS_WHOLE)


class SharesChange(Schema):
    """New co-creator shares for a work, in attribution order; each co-creator whose
    share changes is asked to accept it again."""

    shares: list[ShareIn] = Field(
        min_length=1,
        max_length=MAX_SHARES,
        description="Co-creator splits summing to 10000 basis points, the owner's included.",
    )


ADDRESS_KEY = r"^[0-9a-f]{64}$"


class AddressInvite(Schema):
    """A co-creator named by email: the gateway's keyed hash of the normalised address
    (the catalogue never sees the address), and the share, taken from the owner's."""

    address_key: str = Field(pattern=ADDRESS_KEY)
    basis_points: int = Field(ge=1, le=BASIS_POINTS_WHOLE)


class AddressClaim(Schema):
    """The account that verified an address claims the invitations made to it (sent by
    the gateway alone, acting as itself)."""

    address_key: str = Field(pattern=ADDRESS_KEY)
    account_id: UUID
    name: str = Field(min_length=1, max_length=200)


class ShareRead(Schema):
    creator_id: UUID
    creator_name: str
    basis_points: int


class InvitationRead(Schema):
    """A co-creator's invitation to a work: their share, and their answer."""

    id: UUID
    work_id: UUID
    work_title: str
    creator_id: UUID
    invited_by: UUID
    basis_points: int
    status: InvitationStatus
    created_at: datetime
    answered_at: datetime | None


class InvitationEvent(Schema):
    """An invitation sent, accepted or declined: an entry in the work's chain."""

    invitation_id: UUID
    work_id: UUID
    creator_id: UUID
    invited_by: UUID
    basis_points: int
    status: InvitationStatus
    occurred_at: datetime
