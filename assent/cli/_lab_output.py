"""What the lab's commands print for people: tables of works, quotes and licences."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from assent.models import Delivery, Licence, Quote, Work

ID_WIDTH = 36


def console() -> "Console":
    from rich.console import Console

    terminal = Console(highlight=False)
    # Piped, rich would assume 80 columns and fold the ids; a file has room for them.
    return terminal if terminal.is_terminal else Console(highlight=False, width=200)


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def uses_text(licence: "Licence") -> str:
    return ", ".join(use.value for use in licence.uses)


def delivery_cell(delivery: "Delivery | None") -> str:
    if delivery is None:
        return "not built yet"
    return f"{delivery.id} ({delivery.status.value})"


def works_table(works: "list[Work]") -> None:
    from rich.table import Table

    table = Table(title=count(len(works), "work"), title_justify="left")
    table.add_column("work id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("title")
    table.add_column("type")
    table.add_column("price", justify="right", no_wrap=True)
    table.add_column("uses offered")
    table.add_column("creator")
    for work in works:
        offer = work.offer
        table.add_row(
            work.id,
            work.title,
            work.media_type.value,
            str(offer.price) if offer else "-",
            ", ".join(use.value for use in offer.terms.uses) if offer else "-",
            work.owner.name if work.owner else "-",
        )
    console().print(table)


def quote_table(quote: "Quote") -> None:
    from rich.table import Table

    table = Table(
        title=f"quote {quote.id} (bundle {quote.bundle_id})",
        title_justify="left",
        caption=f"total {quote.total} (platform fee {quote.platform_fee} included); "
        f"the prices hold until {quote.expires_at:%Y-%m-%d %H:%M:%S %Z}",
        caption_justify="left",
    )
    table.add_column("work id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("title")
    table.add_column("price", justify="right", no_wrap=True)
    table.add_column("uses", no_wrap=False)
    table.add_column("days", justify="right")
    for line in quote.lines:
        table.add_row(
            line.work_id,
            line.title,
            str(line.price),
            ", ".join(use.value for use in line.terms.uses),
            str(line.terms.duration_days),
        )
    for excluded in quote.excluded:
        table.add_row(excluded.work_id, f"left out: {excluded.reason.value}", "-", "-", "-")
    console().print(table)


def licences_table(licences: "list[Licence]") -> None:
    from rich.table import Table

    shown = count(len(licences), "licence")
    table = Table(title=f"{shown}, newest first", title_justify="left")
    table.add_column("licence id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("granted", no_wrap=True)
    table.add_column("status")
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("works", justify="right")
    table.add_column("delivery id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("until", no_wrap=True)
    for licence in licences:
        table.add_row(
            licence.id,
            f"{licence.granted_at:%Y-%m-%d}",
            licence.status.value,
            str(licence.total),
            str(len(licence.lines)),
            delivery_cell(licence.delivery),
            f"{licence.ends_at:%Y-%m-%d}",
        )
    console().print(table)


def print_licence(licence: "Licence") -> None:
    from rich.table import Table

    print(f"licence {licence.id}: {licence.status.value}, bought by {licence.buyer_name}")
    print(f"  for {uses_text(licence)}; total {licence.total}, refunded {licence.refunded}")
    print(f"  granted {licence.granted_at:%Y-%m-%d %H:%M %Z}, until {licence.ends_at:%Y-%m-%d}")
    print(f"  delivery: {delivery_cell(licence.delivery)}")
    table = Table()
    table.add_column("work id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("title")
    table.add_column("status")
    table.add_column("price", justify="right", no_wrap=True)
    table.add_column("attribution")
    table.add_column("terms")
    for line in licence.lines:
        terms = line.terms
        table.add_row(
            line.work_id,
            line.title,
            line.status.value + (f" ({line.excluded_reason})" if line.excluded_reason else ""),
            str(line.price),
            line.attribution,
            f"{', '.join(use.value for use in terms.uses)}; "
            f"{'commercial' if terms.commercial_use else 'non-commercial'}; "
            f"{'credit required' if terms.attribution_required else 'no credit needed'}; "
            f"{terms.duration_days} days; {', '.join(terms.territory)}",
        )
    console().print(table)
