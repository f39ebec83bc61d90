"""A sold work's chain as an export that stands on its own: its parties' account entries
(names, and organisations an admin confirmed) and the keys it is checked with."""

import uuid
from dataclasses import dataclass

from assent.protocol import Signer
from services.contracts.audit import ChainRead, ChainSubjectKind
from services.contracts.events import (
    AccountIdentityVerified,
    AccountRegistered,
    IdentityKind,
    Topic,
)
from services.contracts.signing import KeyRotated
from tests.assent.chain_events import at
from tests.assent.chains import Sale, sale

CREATOR_ORGANISATION = "Ada Studio Ltd"
BUYER_NAME = "Northwind Lab"
BUYER_ORGANISATION = "Northwind Labs GmbH"
CO_CREATOR_NAME = "Bea Co-Creator"


@dataclass(frozen=True)
class NamedSale:
    sold: Sale
    chain: ChainRead
    """Carries the signer's key."""


def named_sale(signer: Signer, *, carry_keys: bool = True) -> NamedSale:
    """`sale()`, whose creator (Ada <Creator>) and buyer had their organisations confirmed
    by an admin; the co-creator, paid royalties, registered and never verified."""
    sold = sale()
    admin = uuid.uuid4()
    log = sold.log
    accounts = [
        log.append(
            Topic.ACCOUNT_REGISTERED,
            AccountRegistered(account_id=sold.buyer_id, name=BUYER_NAME, roles=["buyer"]),
            minute=50,
        ),
        log.append(
            Topic.ACCOUNT_REGISTERED,
            AccountRegistered(
                account_id=sold.co_creator_id, name=CO_CREATOR_NAME, roles=["creator"]
            ),
            minute=51,
        ),
        log.append(
            Topic.ACCOUNT_IDENTITY_VERIFIED,
            AccountIdentityVerified(
                account_id=sold.creator_id,
                kind=IdentityKind.ORGANISATION,
                value=CREATOR_ORGANISATION,
                verified_by=admin,
                verified_at=at(52),
            ),
            minute=52,
        ),
        log.append(
            Topic.ACCOUNT_IDENTITY_VERIFIED,
            AccountIdentityVerified(
                account_id=sold.buyer_id,
                kind=IdentityKind.ORGANISATION,
                value=BUYER_ORGANISATION,
                verified_by=admin,
                verified_at=at(53),
            ),
            minute=53,
        ),
    ]
    if carry_keys:
        # A carried key is one the log's key.rotated entries name, proven in the export.
        first = KeyRotated(
            purpose=signer.purpose,
            key_id=signer.key_id,
            public_key=signer.public_key_b64,
            valid_from=None,
        )
        accounts.append(log.append(Topic.KEY_ROTATED, first, minute=54))
    chain = log.chain(signer, ChainSubjectKind.WORK, sold.work_id, [*sold.work_chain, *accounts])
    if carry_keys:
        chain = chain.model_copy(update={"keys": [signer.published()]})
    return NamedSale(sold, chain)
