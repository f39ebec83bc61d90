"""Each record as a row of plain columns: where its file is, what it is, and the licence
it may be used under. The same columns appear in records.jsonl, in the Hugging Face
layout and in croissant.json's record set."""

from pathlib import Path
from typing import Any

from assent.records import Record

RECORDS_FILE = "records.jsonl"

COLUMNS: dict[str, str] = {
    "file_name": "the file, relative to the bundle",
    "work_id": "the work",
    "title": "the work's title",
    "media_type": "text, image, audio, video or other",
    "size": "bytes",
    "sha256": "of the file, as the signed manifest lists it",
    "creators": "the work's creators, to credit where the terms require it",
    "licence_id": "the licence the work was bought under",
    "licence_uses": "the uses the licence allows",
    "licence_status": "active, excluded or refunded, as of the download",
    "licence_starts_at": "from when the work may be used",
    "licence_ends_at": "until when the work may be used",
    "terms_id": "sha256 of the terms' canonical JSON (terms/<terms_id>.json)",
    "commercial_use": "whether the terms allow commercial use",
    "attribution_required": "whether the terms require crediting the creators",
    "territory": "where the work may be used",
}
"""Every column and what it holds; the order is the rows' order."""

INTEGER_COLUMNS = frozenset({"size"})
BOOLEAN_COLUMNS = frozenset({"commercial_use", "attribution_required"})
DATE_TIME_COLUMNS = frozenset({"licence_starts_at", "licence_ends_at"})
LIST_COLUMNS = frozenset({"licence_uses", "territory"})


def relative_name(directory: Path, record: Record) -> str:
    return record.path.relative_to(directory).as_posix()


def row_of(directory: Path, record: Record) -> dict[str, Any]:
    terms = record.terms
    row: dict[str, Any] = {
        "file_name": relative_name(directory, record),
        "work_id": record.work_id,
        "title": record.title,
        "media_type": record.media_type.value,
        "size": record.size,
        "sha256": record.sha256,
        "creators": record.attribution,
        "licence_id": record.licence_id,
        "licence_uses": [use.value for use in record.uses],
        "licence_status": record.status.value,
        "licence_starts_at": record.starts_at.isoformat(),
        "licence_ends_at": record.ends_at.isoformat(),
        "terms_id": record.terms_id,
        "commercial_use": terms.commercial_use,
        "attribution_required": terms.attribution_required,
        "territory": list(terms.territory),
    }
    return row
