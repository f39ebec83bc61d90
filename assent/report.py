"""A licence chain as one self-contained HTML page an auditor can hand on.

The page needs nothing but a browser: inline CSS, the picture an inline SVG, no script and
no external asset. Every value shown comes from the export, whose payloads hold text that
creators and buyers wrote (titles, names, reasons), so the page is rendered from a
template (`templates/report.html`) that escapes every value it is given; this module
only works out what to say and where to draw it.
"""

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined

from assent.evidence import Party, interval, parties
from assent.protocol import ChainCheck, ChainEvent
from assent.report_words import Names, describe, money, when, words
from services.contracts.audit import ChainEntry, ChainStep
from services.contracts.catalogue import (
    ConsentKind,
    ConsentRecorded,
    OfferPublished,
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
    SaleScopeRecorded,
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
_OTHER_COLOUR = "#374151"
"""A step this report has no colour of its own for."""
_LANE_WIDTH, _BOX_WIDTH, _BOX_HEIGHT, _ROW_HEIGHT, _TOP = 170, 158, 46, 58, 44
_LABEL_CHARS = 25

_TEMPLATES = Environment(
    loader=PackageLoader("assent", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# -- the picture --------------------------------------------------------------------------


def _clip(text: str, length: int = _LABEL_CHARS) -> str:
    return text if len(text) <= length else text[: length - 1] + "\u2026"


def _label(entry: ChainEntry, event: ChainEvent | None, names: Names) -> str:
    """A box's middle line: the one fact that tells the step apart from its neighbours."""
    if event is None:
        return "withheld" if entry.entry is None else "unreadable entry"
    payload = event.payload
    if isinstance(payload, AccountRegistered | AccountRoleGranted):
        return payload.name
    if isinstance(payload, AccountIdentityVerified):
        return f"{payload.kind}: {payload.value}"
    if isinstance(payload, ConsentRecorded):
        if payload.kind is ConsentKind.WITHDRAWN:
            return "consent withdrawn"
        return f"{payload.kind}: {', '.join(payload.uses)}"
    if isinstance(payload, OfferPublished):
        return money(payload.price_minor, payload.currency)
    if isinstance(payload, LicenceGranted):
        return f"{money(payload.total_minor, payload.currency)}, {names.name(payload.buyer_id)}"
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


def picture(check: ChainCheck, names: Names) -> Picture:
    """The chain as a flow: one lane per step, in the order a sale goes through them, and
    the entries in log order down the page, joined in that order."""
    entries = check.chain.entries[:MAX_PICTURED]
    events = {event.position: event for event in check.events}
    used = {entry.step for entry in entries}
    lanes = [
        Lane(step, 10 + number * _LANE_WIDTH, _COLOURS.get(step, _OTHER_COLOUR))
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
            colour=_COLOURS.get(entry.step, _OTHER_COLOUR),
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
    position: int, entry: ChainEntry, event: ChainEvent | None, check: ChainCheck, names: Names
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
        colour=_COLOURS.get(entry.step, _OTHER_COLOUR),
        time=when(entry.occurred_at),
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
        ("issued at", when(check.checkpoint.issued_at)),
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


@dataclass(frozen=True)
class Statement:
    """The words of one consent statement, and who agreed to them in this chain."""

    title: str
    sha256: str
    words: str | None
    """None: the chain's entries of it were logged before the words were."""
    agreed_by: list[str]


def _statements(check: ChainCheck, names: Names) -> list[Statement]:
    found: dict[str, Statement] = {}
    for event in check.events:
        consent = event.payload
        if not isinstance(consent, ConsentRecorded) or consent.kind is ConsentKind.WITHDRAWN:
            continue
        title = f"version {consent.statement_version}"
        if consent.statement_id is not None:
            title = f"{consent.statement_id}, {title}"
        statement = found.setdefault(
            consent.statement_sha256,
            Statement(title, consent.statement_sha256, consent.statement_text, []),
        )
        if statement.words is None and consent.statement_text is not None:
            found[consent.statement_sha256] = statement = Statement(
                title, statement.sha256, consent.statement_text, statement.agreed_by
            )
        who = names(consent.given_by)
        if who not in statement.agreed_by:
            statement.agreed_by.append(who)
    return list(found.values())


def _keys(check: ChainCheck) -> list[tuple[str, str, str]]:
    """The keys the export carries: id, purpose, interval."""
    return [(key.key_id, key.purpose, interval(key)) for key in check.chain.keys]


def render(
    check: ChainCheck,
    *,
    exported_at: datetime,
    source: str,
    json_name: str,
    keys_from: str = "the marketplace's published keys",
) -> str:
    """The report's HTML. `keys_from` says which keys the chain was checked with."""
    named: list[Party] = parties(check.events)
    names = Names(named)
    events = {event.position: event for event in check.events}
    rows = [
        _row(position, entry, events.get(position), check, names)
        for position, entry in enumerate(check.chain.entries, start=1)
    ]
    return _TEMPLATES.get_template("report.html").render(
        check=check,
        chain=check.chain,
        exported_at=when(exported_at),
        source=source,
        json_name=json_name,
        keys_from=keys_from,
        parties=named,
        statements=_statements(check, names),
        keys=_keys(check),
        picture=picture(check, names),
        max_pictured=MAX_PICTURED,
        rows=rows,
        checkpoint=_checkpoint(check),
    )
