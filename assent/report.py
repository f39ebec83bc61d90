"""A licence chain as one self-contained HTML page an auditor can hand on.

The page needs nothing but a browser: inline CSS, the picture an inline SVG, no script and
no external asset. Every value shown comes from the export, whose payloads hold text that
creators and buyers wrote (titles, names, reasons), so the page is rendered from a
template (`templates/report.html`) that escapes every value it is given; this module
only works out what to say and where to draw it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel

from assent.protocol import ChainCheck, ChainEvent
from services.contracts.audit import ChainEntry, ChainStep
from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
    ConsentKind,
    ConsentRecorded,
    OfferPublished,
    RightsAttestation,
    WorkWithdrawn,
)
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import AccountRegistered, AccountRoleGranted
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
    SaleScopeRecorded,
    TransactionKind,
)

MAX_PICTURED = 300
"""Entries drawn in the picture; the table lists every one."""

_COLOURS = {
    ChainStep.ACCOUNT: "#6b7280",
    ChainStep.CONSENT: "#15803d",
    ChainStep.OFFER: "#0e7490",
    ChainStep.LICENCE: "#1d4ed8",
    ChainStep.PAYMENT: "#7c3aed",
    ChainStep.REFUND: "#a16207",
    ChainStep.DELIVERY: "#c2410c",
    ChainStep.DOWNLOAD: "#be185d",
    ChainStep.WITHDRAWAL: "#b91c1c",
}
_LANE_WIDTH, _BOX_WIDTH, _BOX_HEIGHT, _ROW_HEIGHT, _TOP = 170, 158, 46, 58, 44
_LABEL_CHARS = 25

_TEMPLATES = Environment(
    loader=PackageLoader("assent", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def money(amount_minor: int, currency: str) -> str:
    digits = CURRENCY_MINOR_DIGITS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**digits)
    return (
        f"{sign}{whole:,}.{part:0{digits}d} {currency}" if digits else f"{sign}{whole:,} {currency}"
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


class _Names:
    """Account names the chain's own entries give, for saying who did what."""

    def __init__(self, events: Sequence[ChainEvent]) -> None:
        self._names: dict[UUID, str] = {}
        for event in events:
            if isinstance(event.payload, AccountRegistered | AccountRoleGranted):
                self._names[event.payload.account_id] = event.payload.name
            elif isinstance(event.payload, LicenceGranted):
                self._names.setdefault(event.payload.buyer_id, event.payload.buyer_name)

    def __call__(self, account: UUID | None) -> str:
        if account is None:
            return "the marketplace"
        name = self._names.get(account)
        return f"{name} ({account})" if name else f"account {account}"


def describe(payload: BaseModel, names: _Names) -> tuple[str, list[str]]:
    """What an entry records, in words: a headline and its details (unescaped)."""
    if isinstance(payload, AccountRegistered):
        return f"Account registered: {names(payload.account_id)}", [
            f"roles: {', '.join(payload.roles) or 'none'}"
        ]
    if isinstance(payload, AccountRoleGranted):
        return f"Role {payload.role} granted to {names(payload.account_id)}", [
            f"granted by {names(payload.granted_by)}"
        ]
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
    if isinstance(payload, LicenceGranted):
        return (
            f"Licence {payload.licence_id} granted to {payload.buyer_name} "
            f"({payload.buyer_id}) for {', '.join(payload.uses)}: "
            f"{money(payload.total_minor, payload.currency)}",
            [
                f"{line.title} (work {line.work_id}): {money(line.price_minor, payload.currency)}, "
                f"{_when(line.starts_at)} to {_when(line.ends_at)}; credited to {line.attribution}"
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
    if isinstance(payload, SaleScopeRecorded):
        return _sale_scope(payload)
    return type(payload).__name__, []


def _sale_scope(payload: SaleScopeRecorded) -> tuple[str, list[str]]:
    if payload.open_uses:
        sold = f"licensing may sell it from then on for {', '.join(payload.open_uses)} only"
    else:
        sold = "licensing may not sell it from then on, for any use"
    return f"Sale scope of work {payload.work_id} recorded: {sold}", [
        f"recorded {_when(payload.recorded_at)}, after {payload.cause_topic} "
        f"(event {payload.cause_event_id})"
    ]


def _consent(payload: ConsentRecorded, names: _Names) -> tuple[str, list[str]]:
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


def _ledger(payload: LedgerRecorded, names: _Names) -> tuple[str, list[str]]:
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


# -- the picture --------------------------------------------------------------------------


def _clip(text: str, length: int = _LABEL_CHARS) -> str:
    return text if len(text) <= length else text[: length - 1] + "\u2026"


def _label(entry: ChainEntry, event: ChainEvent | None, names: _Names) -> str:
    """A box's middle line: the one fact that tells the step apart from its neighbours."""
    if event is None:
        return "withheld" if entry.entry is None else "unreadable entry"
    payload = event.payload
    if isinstance(payload, AccountRegistered | AccountRoleGranted):
        return payload.name
    if isinstance(payload, ConsentRecorded):
        if payload.kind is ConsentKind.WITHDRAWN:
            return "consent withdrawn"
        return f"{payload.kind}: {', '.join(payload.uses)}"
    if isinstance(payload, OfferPublished):
        return money(payload.price_minor, payload.currency)
    if isinstance(payload, LicenceGranted):
        return f"{money(payload.total_minor, payload.currency)}, {payload.buyer_name}"
    if isinstance(payload, LedgerRecorded):
        postings = payload.transaction.postings
        creators = {
            p.owner_id for p in postings if p.account_kind is LedgerAccountKind.CREATOR_PAYABLE
        }
        paid = -sum(p.amount_minor for p in postings if p.amount_minor < 0)
        split = f" \u2192 {len(creators)} creator{'' if len(creators) == 1 else 's'}"
        return money(paid, payload.transaction.currency) + (split if creators else "")
    if isinstance(payload, DeliveryIssued):
        files = f"{payload.entry_count} file{'' if payload.entry_count == 1 else 's'}"
        return files + (f", {len(payload.excluded)} left out" if payload.excluded else "")
    if isinstance(payload, FileDownloaded):
        return f"work {str(payload.work_id)[:8]}\u2026"
    if isinstance(payload, WorkWithdrawn):
        return f"work {str(payload.work_id)[:8]}\u2026"
    if isinstance(payload, SaleScopeRecorded):
        return f"sells {', '.join(payload.open_uses)}" if payload.open_uses else "not for sale"
    if isinstance(payload, LicenceRefunded):
        return money(payload.amount_minor, payload.currency)
    return entry.topic


@dataclass(frozen=True)
class Lane:
    step: ChainStep
    x: int
    colour: str


@dataclass(frozen=True)
class Box:
    title: str
    heading: str
    label: str
    time: str
    x: int
    y: int
    colour: str
    flagged: bool


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    lanes: list[Lane]
    boxes: list[Box]
    line: str
    """The polyline's points joining the boxes in log order; empty for fewer than two."""
    box_width: int = _BOX_WIDTH
    box_height: int = _BOX_HEIGHT


def picture(check: ChainCheck, names: _Names) -> Picture:
    """The chain as a flow: one lane per step, in the order a sale goes through them, and
    the entries in log order down the page, joined in that order."""
    entries = check.chain.entries[:MAX_PICTURED]
    events = {event.position: event for event in check.events}
    used = {entry.step for entry in entries}
    lanes = [
        Lane(step, 10 + number * _LANE_WIDTH, _COLOURS[step])
        for number, step in enumerate(step for step in ChainStep if step in used)
    ]
    column = {lane.step: lane.x for lane in lanes}
    boxes = [
        Box(
            title=f"entry {position}, log index {entry.index}: {entry.topic}",
            heading=_clip(f"#{entry.index} {entry.topic}"),
            label=_clip(_label(entry, events.get(position), names)),
            time=entry.occurred_at.strftime("%Y-%m-%d %H:%M"),
            x=column[entry.step],
            y=_TOP + (position - 1) * _ROW_HEIGHT,
            colour=_COLOURS[entry.step],
            flagged=bool(check.problems_at(position)),
        )
        for position, entry in enumerate(entries, start=1)
    ]
    centres = [(box.x + _BOX_WIDTH / 2, box.y + 23) for box in boxes]
    return Picture(
        width=max(len(lanes), 1) * _LANE_WIDTH + 20,
        height=_TOP + len(entries) * _ROW_HEIGHT + 10,
        lanes=lanes,
        boxes=boxes,
        line=" ".join(f"{x:.0f},{y:.0f}" for x, y in centres) if len(centres) > 1 else "",
    )


# -- the page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One entry of the table."""

    position: int
    entry: ChainEntry
    colour: str
    time: str
    headline: str
    details: list[str]
    words: str | None
    """A consent's statement, verbatim."""
    problems: list[str]


def _row(
    position: int, entry: ChainEntry, event: ChainEvent | None, check: ChainCheck, names: _Names
) -> Row:
    details: list[str] = []
    if entry.entry is None:
        # Another party's entry (a creator is not shown a buyer's sale): its leaf hash and
        # inclusion proof show that the log holds it here, and nothing says what it is.
        headline = "withheld (another party's), proven by its leaf hash"
        details = [f"leaf hash {entry.leaf_hash}"]
    elif event is None:
        headline = "(the entry could not be read)"
    else:
        headline, details = describe(event.payload, names)
    return Row(
        position=position,
        entry=entry,
        colour=_COLOURS[entry.step],
        time=_when(entry.occurred_at),
        headline=headline,
        details=details,
        words=words(event.payload if event else None),
        problems=check.problems_at(position),
    )


def _checkpoint(check: ChainCheck) -> list[tuple[str, str]]:
    chain, shown = check.chain, check.chain.checkpoint
    signer = ", ".join(signature.keyid for signature in shown.envelope.signatures)
    checkpoint = [
        ("tree size", str(check.checkpoint.tree_size)),
        ("root hash", check.checkpoint.root_hash),
        ("issued at", _when(check.checkpoint.issued_at)),
        ("signed by key", signer + (f" ({check.key.purpose})" if check.key else " (not verified)")),
        ("log", check.checkpoint.origin),
        ("published as", shown.object_key),
    ]
    if check.kept is not None:
        checkpoint.append(
            ("kept checkpoint", f"tree size {check.kept.tree_size}, root {check.kept.root_hash}")
        )
    if chain.pending_entries:
        checkpoint.append(("logged since", f"{chain.pending_entries} more entries, not yet proven"))
    return checkpoint


def render(check: ChainCheck, *, exported_at: datetime, source: str, json_name: str) -> str:
    names = _Names(check.events)
    events = {event.position: event for event in check.events}
    rows = [
        _row(position, entry, events.get(position), check, names)
        for position, entry in enumerate(check.chain.entries, start=1)
    ]
    return _TEMPLATES.get_template("report.html").render(
        check=check,
        chain=check.chain,
        exported_at=_when(exported_at),
        source=source,
        json_name=json_name,
        picture=picture(check, names),
        max_pictured=MAX_PICTURED,
        rows=rows,
        checkpoint=_checkpoint(check),
    )
