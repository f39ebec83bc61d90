"""A licence chain's entries told in words, for the evidence report (`assent.report`).

Every function returns plain text: the report's template escapes it where it shows it.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from assent.evidence import Party
from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
    ConsentKind,
    ConsentRecorded,
    InvitationEvent,
    OfferPublished,
    RightsAttestation,
    WorkVersionPublished,
    WorkWithdrawn,
)
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import (
    AccountIdentityVerified,
    AccountRegistered,
    AccountRoleGranted,
)
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
    LicenceRevoked,
    SaleScopeRecorded,
    TrainingRecorded,
    TrainingRefused,
    TransactionKind,
)


def money(amount_minor: int, currency: str) -> str:
    digits = CURRENCY_MINOR_DIGITS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**digits)
    return (
        f"{sign}{whole:,}.{part:0{digits}d} {currency}" if digits else f"{sign}{whole:,} {currency}"
    )


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


class Names:
    """The chain's parties by the names and identities its own entries give, for saying
    who did what; the parties' table beside gives each one's account id."""

    def __init__(self, named: Sequence[Party]) -> None:
        self._parties = {party.account_id: party for party in named}

    def __call__(self, account: UUID | None) -> str:
        if account is None:
            return "the marketplace"
        party = self._parties.get(account)
        return party.label if party else f"account {account}"

    def name(self, account: UUID) -> str:
        """The account's name alone, for where a full label does not fit."""
        party = self._parties.get(account)
        return party.name if party and party.name else f"account {account}"


def describe(payload: BaseModel, names: Names) -> tuple[str, list[str]]:
    """What an entry records, in words: a headline and its details (unescaped)."""
    if isinstance(payload, AccountRegistered):
        return f"Account registered: {names(payload.account_id)}", [
            f"roles: {', '.join(payload.roles) or 'none'}"
        ]
    if isinstance(payload, AccountRoleGranted):
        return f"Role {payload.role} granted to {names(payload.account_id)}", [
            f"granted by {names(payload.granted_by)}"
        ]
    if isinstance(payload, AccountIdentityVerified):
        by = "an admin" if payload.verified_by else "the marketplace"
        if payload.verified_by:
            by = f"an admin, {names(payload.verified_by)}"
        return f"Identity of {names(payload.account_id)} verified", [
            f"{payload.kind}: {payload.value}",
            f"confirmed by {by}, {when(payload.verified_at)}",
        ]
    if isinstance(payload, InvitationEvent):
        share = f"{payload.basis_points / 100:g}%"
        return (
            f"Co-creator invitation of {names(payload.creator_id)} for work "
            f"{payload.work_id}: {payload.status}",
            [f"share {share}, invited by {names(payload.invited_by)}"],
        )
    if isinstance(payload, ConsentRecorded):
        return _consent(payload, names)
    if isinstance(payload, OfferPublished):
        terms = payload.terms
        return (
            f"Work {payload.work_id} offered at {money(payload.price_minor, payload.currency)}",
            [
                f"uses: {', '.join(terms.uses)}",
                ("commercial use allowed" if terms.commercial_use else "no commercial use")
                + ("; attribution required" if terms.attribution_required else ""),
                f"territory: {', '.join(terms.territory)}; {terms.duration_days} days",
                f"terms {payload.terms_id}",
            ],
        )
    if isinstance(payload, WorkWithdrawn):
        return f"Work {payload.work_id} withdrawn from sale by {names(payload.withdrawn_by)}", []
    if isinstance(payload, WorkVersionPublished):
        return f"New file published for work {payload.work_id}", [
            f"version {payload.version_id}, sha256 {payload.sha256}, {payload.size} bytes",
            f"replaces version {payload.previous_version_id}"
            if payload.previous_version_id
            else "the work's first file",
        ]
    if isinstance(payload, LicenceGranted):
        return (
            f"Licence {payload.licence_id} granted to {names(payload.buyer_id)} "
            f"for {', '.join(payload.uses)}: "
            f"{money(payload.total_minor, payload.currency)}",
            [
                f"{line.title} (work {line.work_id}): {money(line.price_minor, payload.currency)}, "
                f"{when(line.starts_at)} to {when(line.ends_at)}; credited to {line.attribution}"
                for line in payload.lines
            ],
        )
    if isinstance(payload, LedgerRecorded):
        return _ledger(payload, names)
    if isinstance(payload, LicenceRefunded):
        return (
            f"Licence {payload.licence_id} refunded: "
            f"{money(payload.amount_minor, payload.currency)}",
            [f"by {names(payload.refunded_by)}", f"reason: {payload.reason}"],
        )
    if isinstance(payload, LicenceRevoked):
        return (
            f"Licence {payload.licence_id} revoked, without a refund",
            [f"by {names(payload.revoked_by)}", f"reason: {payload.reason}"],
        )
    if isinstance(payload, DeliveryIssued):
        files = "1 file" if payload.entry_count == 1 else f"{payload.entry_count} files"
        return (
            f"Delivery {payload.delivery_id} issued for licence {payload.licence_id}: {files} "
            f"({payload.status})",
            [
                *(f"left out: work {x.work_id} ({x.reason}: {x.detail})" for x in payload.excluded),
                f"manifest signed by key {payload.key_id}",
                f"watermark commitment {payload.watermark_commitment}",
            ],
        )
    if isinstance(payload, FileDownloaded):
        return (
            f"{names(payload.buyer_id)} downloaded work {payload.work_id}",
            [f"delivery {payload.delivery_id}, licence {payload.licence_id}"],
        )
    if isinstance(payload, TrainingRecorded):
        run = payload.run
        return (
            f"{names(run.buyer_id)} trained {run.model_name} {run.model_version} "
            f"for {run.declared_use} on {run.record_count} licensed records",
            [
                f"from {when(run.started_at)} to {when(run.ended_at)}",
                *(f"licence {use.licence_id}: {len(use.work_ids)} records" for use in run.licences),
                f"signed by the lab's key {run.lab_key_id} and the platform's key "
                f"{run.platform_key_id}",
            ],
        )
    if isinstance(payload, TrainingRefused):
        return (
            f"Training of {payload.model_name} {payload.model_version} by "
            f"{names(payload.buyer_id)} refused for work {payload.work_id}",
            [
                f"the licence's terms allow at most {payload.max_models} models "
                f"(licence {payload.licence_id})",
                f"refused {when(payload.refused_at)}",
            ],
        )
    if isinstance(payload, SaleScopeRecorded):
        return _sale_scope(payload)
    return type(payload).__name__, []


def _sale_scope(payload: SaleScopeRecorded) -> tuple[str, list[str]]:
    if payload.open_uses:
        sold = f"licensing may sell it from then on for {', '.join(payload.open_uses)} only"
    else:
        sold = "licensing may not sell it from then on, for any use"
    return f"Sale scope of work {payload.work_id} recorded: {sold}", [
        f"recorded {when(payload.recorded_at)}, after {payload.cause_topic} "
        f"(event {payload.cause_event_id})"
    ]


def _consent(payload: ConsentRecorded, names: Names) -> tuple[str, list[str]]:
    who = names(payload.given_by)
    statement = f"version {payload.statement_version}"
    if payload.statement_id is not None:
        statement = f"{payload.statement_id} {statement}"
    details = [f"statement {statement}, sha256 {payload.statement_sha256}"]
    if payload.attestation is not None:
        details.append(_attested(payload.attestation))
    if payload.statement_text is None:
        details.append("the words are not in this entry: it was logged before they were")
    if payload.kind is ConsentKind.WITHDRAWN:
        return f"{who} withdrew consent for work {payload.work_id}", details
    verb = "consented" if payload.kind is ConsentKind.GIVEN else "revised consent"
    uses = ", ".join(payload.uses)
    return f"{who} {verb} to the use of work {payload.work_id} for {uses}", details


def _attested(attestation: RightsAttestation) -> str:
    rights = "attests to owning or controlling the rights"
    if not attestation.depicts_identifiable_people:
        return f"{rights}; the work depicts no identifiable people"
    return f"{rights}; the work depicts identifiable people, whose releases they hold"


def words(payload: BaseModel | None) -> str | None:
    """The exact words a consent was given in, as the chain records them."""
    return payload.statement_text if isinstance(payload, ConsentRecorded) else None


def _ledger(payload: LedgerRecorded, names: Names) -> tuple[str, list[str]]:
    transaction = payload.transaction
    currency = transaction.currency
    paid = -sum(p.amount_minor for p in transaction.postings if p.amount_minor < 0)
    what = {TransactionKind.SALE: "Payment", TransactionKind.REFUND: "Refund"}.get(
        transaction.kind, transaction.kind.capitalize()
    )
    licence = f" for licence {transaction.licence_id}" if transaction.licence_id else ""
    lines = []
    for posting in transaction.postings:
        amount = money(posting.amount_minor, currency)
        work = f" for work {posting.work_id}" if posting.work_id else ""
        if posting.account_kind is LedgerAccountKind.CREATOR_PAYABLE:
            lines.append(f"royalty to {names(posting.owner_id)}: {amount}{work}")
        elif posting.account_kind is LedgerAccountKind.PLATFORM_REVENUE:
            lines.append(f"platform fee: {amount}{work}")
        elif posting.account_kind is LedgerAccountKind.BUYER_BALANCE:
            lines.append(f"buyer {names(posting.owner_id)}: {amount}")
        else:
            lines.append(f"{posting.account_kind} {names(posting.owner_id)}: {amount}{work}")
    return f"{what} of {money(paid, currency)}{licence}", lines
