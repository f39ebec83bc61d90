"""What a chain export says for itself: who its parties are, and which keys it carries.

- `parties`: every account the chain's entries name (who consented, was invited as a
  co-creator, withdrew, bought, was paid, refunded), by what the chain's own proven
  entries say of it: the display name it registered under (`account.registered`,
  `account.role_granted`) and each identity confirmed for it
  (`account.identity_verified`: an organisation name an admin confirmed, an email
  address verified). An account no entry of the export names is nobody's business here.
- `carried_keys`: the signing keys the export carries (`ChainRead.keys`), read from the
  document itself, so `assent verify` checks an export with nothing beside it; and
  `pinned_problems`, which refuses a carried key that differs from a key the auditor
  pinned with `--keys`.

Nothing here is checked: the chain's checks are the protocol's (`check_chain`), which a
caller runs first; a name from an entry whose proof fails is still shown as the entry
says it, beside the failure.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from assent.protocol import CHAIN_KIND, ChainEvent, VerificationError, first_error
from services.contracts.audit import CHAIN_EXPORT_TYPE
from services.contracts.catalogue import ConsentRecorded, InvitationEvent, WorkWithdrawn
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import (
    AccountIdentityVerified,
    AccountRegistered,
    AccountRoleGranted,
    IdentityKind,
)
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
)
from services.contracts.signing import PublicKeyRead


@dataclass(frozen=True)
class Identity:
    """An identity confirmed for an account, as its entry in the log says."""

    kind: IdentityKind
    value: str
    verified_at: datetime
    verified_by: UUID | None

    def __str__(self) -> str:
        confirmed = "confirmed by an admin" if self.verified_by else "verified"
        return f"{self.kind} {self.value}, {confirmed} {self.verified_at:%Y-%m-%d}"


@dataclass
class Party:
    """An account the chain names, and what the chain says of it."""

    account_id: UUID
    name: str | None = None
    name_from: str = "no account entry"
    """Where the name comes from: its account entries, or only a licence's buyer name."""
    roles: list[str] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    """What the account did in the chain, in order of first appearance."""

    @property
    def organisation(self) -> str | None:
        """The latest organisation name confirmed for the account, if any."""
        found = [i.value for i in self.identities if i.kind is IdentityKind.ORGANISATION]
        return found[-1] if found else None

    @property
    def verified(self) -> str:
        """The identities confirmed for the account, in words; "not verified" for none."""
        return "; ".join(str(identity) for identity in self.identities) or "not verified"

    @property
    def label(self) -> str:
        """How the account is named in a sentence: its name and its verified identity."""
        name = self.name or f"account {self.account_id}"
        latest = self.identities[-1] if self.identities else None
        if latest is None:
            return f"{name} (identity not verified)"
        if latest.value == name:
            return f"{name} (verified {latest.kind})"
        return f"{name} (verified {latest.kind}: {latest.value})"

    def did(self, part: str) -> None:
        if part not in self.parts:
            self.parts.append(part)


def _parts(payload: BaseModel) -> Iterable[tuple[UUID | None, str]]:
    """The accounts an entry names, each with what it did."""
    if isinstance(payload, ConsentRecorded):
        yield payload.given_by, "gave consent"
    elif isinstance(payload, InvitationEvent):
        yield payload.invited_by, "invited a co-creator"
        yield payload.creator_id, "co-creator"
    elif isinstance(payload, WorkWithdrawn):
        yield payload.withdrawn_by, "withdrew the work"
    elif isinstance(payload, LicenceGranted | DeliveryIssued | FileDownloaded):
        yield payload.buyer_id, "buyer"
    elif isinstance(payload, LicenceRefunded):
        yield payload.buyer_id, "buyer"
        yield payload.refunded_by, "refunded a licence"
    elif isinstance(payload, LedgerRecorded):
        for posting in payload.transaction.postings:
            if posting.account_kind is LedgerAccountKind.CREATOR_PAYABLE:
                yield posting.owner_id, "paid royalties"
            elif posting.account_kind is LedgerAccountKind.BUYER_BALANCE:
                yield posting.owner_id, "buyer"


def parties(events: Sequence[ChainEvent]) -> list[Party]:
    """Every account the chain's entries name, in order of first appearance."""
    found: dict[UUID, Party] = {}
    accounts: list[BaseModel] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, AccountRegistered | AccountRoleGranted | AccountIdentityVerified):
            accounts.append(payload)
            continue
        for account, part in _parts(payload):
            if account is not None:
                found.setdefault(account, Party(account)).did(part)
        if isinstance(payload, LicenceGranted) and payload.buyer_id in found:
            # The name the licence was issued to, until an account entry gives one.
            buyer = found[payload.buyer_id]
            if buyer.name is None:
                buyer.name, buyer.name_from = payload.buyer_name, "the licence"
    for payload in accounts:
        if isinstance(payload, AccountIdentityVerified):
            party = found.get(payload.account_id)
            if party is not None:
                party.identities.append(
                    Identity(payload.kind, payload.value, payload.verified_at, payload.verified_by)
                )
        elif isinstance(payload, AccountRegistered | AccountRoleGranted):
            party = found.get(payload.account_id)
            if party is not None:
                party.name, party.name_from = payload.name, "its account entries"
                roles = payload.roles if isinstance(payload, AccountRegistered) else [payload.role]
                party.roles += [role for role in roles if role not in party.roles]
    return list(found.values())


# -- the keys an export carries ------------------------------------------------------------

_KEYS = TypeAdapter(list[PublicKeyRead])


def carried_keys(document: object) -> list[PublicKeyRead]:
    """The keys a chain export carries (none for an export made before it carried any);
    raises VerificationError for an export whose keys are not published keys."""
    if not isinstance(document, dict) or document.get("type") != CHAIN_EXPORT_TYPE:
        return []
    if document.get("keys") is None:
        return []
    try:
        return _KEYS.validate_python(document["keys"])
    except ValidationError as exc:
        raise VerificationError(
            f"keys: not a list of published keys: {first_error(exc)}", kind=CHAIN_KIND
        ) from exc


def pinned_problems(carried: Sequence[PublicKeyRead], pinned: Sequence[PublicKeyRead]) -> list[str]:
    """A carried key that differs from the pinned key of the same id: the export claims
    another key, or another interval, than the one the auditor trusts. A key the export
    carries as still signing and the pinned set shows retired since is no difference:
    the export was made before the rotation."""
    by_id = {key.key_id: key for key in pinned}
    problems = []
    for key in carried:
        trusted = by_id.get(key.key_id)
        if trusted is None:
            continue
        differs = [
            name
            for name, same in (
                ("purpose", key.purpose == trusted.purpose),
                ("public key", key.public_key == trusted.public_key),
                ("start of validity", key.valid_from == trusted.valid_from),
                (
                    "end of validity",
                    key.valid_until is None or key.valid_until == trusted.valid_until,
                ),
            )
            if not same
        ]
        if differs:
            problems.append(
                f"the export carries key {key.key_id} with another {' and '.join(differs)} "
                "than the pinned key of that id"
            )
    return problems


def interval(key: PublicKeyRead) -> str:
    """A key's validity interval, in words."""
    start = key.valid_from.isoformat() if key.valid_from else "the start"
    end = key.valid_until.isoformat() if key.valid_until else "now"
    return f"valid from {start} until {end}"


def key_facts(keys: Sequence[PublicKeyRead]) -> list[tuple[str, str]]:
    """One fact per key: its id, purpose and interval."""
    return [(f"key {key.key_id}", f"{key.purpose}, {interval(key)}") for key in keys]


def party_facts(events: Sequence[ChainEvent]) -> list[tuple[str, str]]:
    """One fact per party: its name, verified identity, what it did, and its account."""
    return [
        (
            f"party {number}",
            f"{party.name or '(no name in the chain)'}: {party.verified}; "
            f"{', '.join(party.parts)} (account {party.account_id})",
        )
        for number, party in enumerate(parties(events), start=1)
    ]
