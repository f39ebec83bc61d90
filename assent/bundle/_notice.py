"""NOTICE: every creator of the bundle's works, and whether the terms oblige crediting them."""

from collections.abc import Sequence

from assent.models import Licence
from assent.records import Record


def notice_text(licence: Licence, records: Sequence[Record]) -> str:
    credited = [record for record in records if record.terms.attribution_required]
    lines = [
        f"Licensed through Assent under licence {licence.id}, to {licence.buyer_name},",
        f"for {', '.join(use.value for use in licence.uses)}.",
        "",
        "Attribution the terms require: credit these creators wherever the works are used.",
    ]
    lines += [f'  "{r.title}" ({r.file_name}) by {r.attribution}' for r in credited] or ["  none"]
    lines += ["", "Every work in the bundle and its creators:"]
    lines += [
        f'  "{r.title}" by {r.attribution}: work {r.work_id}, {r.path.parent.name}/'
        f"{r.path.name}, terms {r.terms_id}"
        for r in records
    ]
    return "\n".join(lines) + "\n"
