"""A licence chain as one self-contained HTML page an auditor can hand on.

The page needs nothing but a browser: inline CSS, the picture an inline SVG, no script and
no external asset. Every value shown comes from the export, whose payloads hold text that
creators and buyers wrote (titles, names, reasons), so everything is escaped on the way
out (`_e`); the page is built from escaped pieces only.
"""

import html
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from assent.chain import ChainCheck, ChainEvent
from services.contracts.audit import ChainEntry, ChainStep
from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
    ConsentKind,
    ConsentRecorded,
    OfferPublished,
    WorkWithdrawn,
)
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import AccountRegistered, AccountRoleGranted
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
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

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #111827; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d1d5db; }
code, .id { font-family: ui-monospace, monospace; font-size: .85em; word-break: break-all; }
.verdict { border: 2px solid; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
.verdict.valid { border-color: #15803d; background: #f0fdf4; }
.verdict.invalid { border-color: #b91c1c; background: #fef2f2; }
.verdict strong { font-size: 1.1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem;
         border-bottom: 1px solid #e5e7eb; }
th { background: #f3f4f6; }
tr.flagged td { background: #fef2f2; }
td ul { margin: .25rem 0 0; padding-left: 1.1rem; }
.problem { color: #b91c1c; }
.step { display: inline-block; color: #fff; border-radius: 3px; padding: 0 .4rem;
        font-size: .8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
svg { max-width: 100%; height: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


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
    return type(payload).__name__, []


def _consent(payload: ConsentRecorded, names: _Names) -> tuple[str, list[str]]:
    who = names(payload.given_by)
    details = [f"statement {payload.statement_version}, sha256 {payload.statement_sha256}"]
    if payload.kind is ConsentKind.WITHDRAWN:
        return f"{who} withdrew consent for work {payload.work_id}", details
    verb = "consented" if payload.kind is ConsentKind.GIVEN else "revised consent"
    uses = ", ".join(payload.uses)
    return f"{who} {verb} to the use of work {payload.work_id} for {uses}", details


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
        return "unreadable entry"
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
    if isinstance(payload, LicenceRefunded):
        return money(payload.amount_minor, payload.currency)
    return entry.topic


def picture(check: ChainCheck, names: _Names) -> str:
    """The chain as a flow: one lane per step, in the order a sale goes through them, and
    the entries in log order down the page, joined in that order."""
    entries = check.chain.entries[:MAX_PICTURED]
    events = {event.position: event for event in check.events}
    used = {entry.step for entry in entries}
    lanes = [step for step in ChainStep if step in used]
    column = {step: number for number, step in enumerate(lanes)}
    width = max(len(lanes), 1) * _LANE_WIDTH + 20
    height = _TOP + len(entries) * _ROW_HEIGHT + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="system-ui, sans-serif" font-size="11">',
        "<title>The licence chain, step by step, in log order</title>",
    ]
    for step, number in column.items():
        x = 10 + number * _LANE_WIDTH
        parts.append(
            f'<rect x="{x}" y="0" width="{_BOX_WIDTH}" height="{height}" fill="#f9fafb"/>'
            f'<text x="{x + _BOX_WIDTH / 2}" y="22" text-anchor="middle" font-size="13" '
            f'font-weight="600" fill="{_COLOURS[step]}">{_e(step)}</text>'
        )
    centres = [
        (10 + column[entry.step] * _LANE_WIDTH + _BOX_WIDTH / 2, _TOP + n * _ROW_HEIGHT + 23)
        for n, entry in enumerate(entries)
    ]
    if len(centres) > 1:
        points = " ".join(f"{x:.0f},{y:.0f}" for x, y in centres)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#9ca3af" stroke-width="2"/>')
    for n, entry in enumerate(entries):
        position = n + 1
        x = 10 + column[entry.step] * _LANE_WIDTH
        y = _TOP + n * _ROW_HEIGHT
        flagged = bool(check.problems_at(position))
        stroke = "#b91c1c" if flagged else _COLOURS[entry.step]
        parts.append(
            f"<g><title>{_e(f'entry {position}, log index {entry.index}: {entry.topic}')}</title>"
            f'<rect x="{x}" y="{y}" width="{_BOX_WIDTH}" height="{_BOX_HEIGHT}" rx="6" '
            f'fill="#fff" stroke="{stroke}" stroke-width="{3 if flagged else 1.5}"/>'
            f'<text x="{x + 8}" y="{y + 15}" font-weight="600" fill="{_COLOURS[entry.step]}">'
            f"{_e(_clip(f'#{entry.index} {entry.topic}'))}</text>"
            f'<text x="{x + 8}" y="{y + 29}">'
            f"{_e(_clip(_label(entry, events.get(position), names)))}</text>"
            f'<text x="{x + 8}" y="{y + 41}" fill="#6b7280">'
            f"{_e(entry.occurred_at.strftime('%Y-%m-%d %H:%M'))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


# -- the page -----------------------------------------------------------------------------


def _list(items: Sequence[str], css: str = "") -> str:
    if not items:
        return ""
    attribute = f' class="{css}"' if css else ""
    return f"<ul{attribute}>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def _definitions(pairs: Sequence[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in pairs) + "</dl>"


def _row(
    position: int, entry: ChainEntry, event: ChainEvent | None, check: ChainCheck, names: _Names
) -> str:
    problems = check.problems_at(position)
    flagged = ' class="flagged"' if problems else ""
    details: list[str] = []
    if event is None:
        headline = "(the entry could not be read)"
    else:
        headline, details = describe(event.payload, names)
    colour = _COLOURS[entry.step]
    return (
        f'<tr id="entry-{position}"{flagged}>'
        f"<td>{position}</td><td>{entry.index}</td>"
        f"<td>{_e(_when(entry.occurred_at))}</td>"
        f'<td><span class="step" style="background:{colour}">{_e(entry.step)}</span><br>'
        f"<code>{_e(entry.topic)}</code></td>"
        f"<td>{_e(headline)}{_list(details)}{_list(problems, 'problem')}</td>"
        f'<td class="id">{_e(entry.event_id)}</td></tr>'
    )


def render(check: ChainCheck, *, exported_at: datetime, source: str, json_name: str) -> str:
    chain = check.chain
    subject = f"{chain.subject_kind} {chain.subject_id}"
    names = _Names(check.events)
    events = {event.position: event for event in check.events}
    verdict = (
        '<div class="verdict valid"><strong>Verified.</strong> Every entry is proven in the '
        "audit log by the signed checkpoint below, and every check passed."
        + _definitions(check.facts)
        + "</div>"
        if check.ok
        else '<div class="verdict invalid"><strong>Not verified.</strong> '
        f"{len(check.problems)} check(s) failed; do not rely on this chain."
        + _list([problem.message for problem in check.problems], "problem")
        + "</div>"
    )
    rows = "".join(
        _row(position, entry, events.get(position), check, names)
        for position, entry in enumerate(chain.entries, start=1)
    )
    pictured = (
        "<p>Each box is an entry of the log (#index), in its step's column, in log order from "
        "top to bottom; a red outline marks an entry a check failed on."
        + (
            f" The first {MAX_PICTURED} of {len(chain.entries)} entries are drawn; the table "
            "lists all."
            if len(chain.entries) > MAX_PICTURED
            else ""
        )
        + "</p>"
    )
    shown = chain.checkpoint
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
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(f'Licence chain of {subject}')}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Licence chain of {_e(chain.subject_kind)} <code>{_e(chain.subject_id)}</code></h1>"
        f"<p>Exported {_e(_when(exported_at))} from {_e(source)}: {len(chain.entries)} entries "
        f"of the Assent audit log, proven against its checkpoint of tree size "
        f"{check.checkpoint.tree_size}. Verification was run at export time with the "
        "marketplace's published keys.</p>"
        f"{verdict}"
        f"<h2>The chain</h2>{pictured}{picture(check, names)}"
        "<h2>Entries</h2><table><thead><tr><th>#</th><th>Log index</th><th>Time</th>"
        "<th>Step</th><th>What it records</th><th>Event</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<h2>Checkpoint</h2>{_definitions(checkpoint)}"
        "<h2>Check it yourself</h2><p>Anyone can check the chain again, offline, with only "
        "the marketplace's published keys:</p>"
        f"<pre><code>assent verify {_e(json_name)} --keys KEYS.json "
        "[--checkpoint A-CHECKPOINT-YOU-KEPT.json]</code></pre>"
        "</body></html>\n"
    )
