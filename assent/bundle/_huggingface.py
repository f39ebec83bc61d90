"""The layout Hugging Face `datasets` reads with no Assent code, and the dataset card.

`datasets` picks one builder for a directory, so the card's config is the bundle's main
kind: images (`imagefolder`) or else audio (`audiofolder`), whose `metadata.jsonl` lists
those files with the licence columns; a bundle of texts only is read as JSON lines.
Texts are always in `texts.jsonl` (their content in `text`), and every record of every
kind in `records.jsonl`, both loadable with `load_dataset("json", data_files=...)`.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assent.bundle._rows import COLUMNS, RECORDS_FILE, row_of
from assent.models import Licence, MediaType
from assent.records import Record

METADATA_FILE = "metadata.jsonl"
TEXTS_FILE = "texts.jsonl"
CARD_FILE = "README.md"
# What each folder builder of `datasets` reads, by the media type it is for.
_FOLDER_BUILDERS = {MediaType.IMAGE: "imagefolder", MediaType.AUDIO: "audiofolder"}


def _lines(rows: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def folder_kind(records: Sequence[Record]) -> MediaType | None:
    kinds = {record.media_type for record in records}
    return next((kind for kind in _FOLDER_BUILDERS if kind in kinds), None)


def layout_files(directory: Path, records: Sequence[Record]) -> dict[str, str]:
    """Each layout file's name and text."""
    rows = [row_of(directory, record) for record in records]
    files = {RECORDS_FILE: _lines(rows)}
    kind = folder_kind(records)
    if kind is not None:
        files[METADATA_FILE] = _lines(
            [row for row, record in zip(rows, records, strict=True) if record.media_type is kind]
        )
    texts = [
        {"text": record.read_bytes().decode("utf-8", errors="replace"), **row}
        for row, record in zip(rows, records, strict=True)
        if record.media_type is MediaType.TEXT
    ]
    if texts:
        files[TEXTS_FILE] = _lines(texts)
    return files


def _config(directory: Path, records: Sequence[Record]) -> list[dict[str, Any]]:
    kind = folder_kind(records)
    if kind is None:
        data = TEXTS_FILE if any(r.media_type is MediaType.TEXT for r in records) else RECORDS_FILE
        return [{"config_name": "default", "data_files": [{"split": "train", "path": data}]}]
    # The files named one by one: a folder builder given the directory would also take
    # files of its kind that the bundle does not list.
    paths = [METADATA_FILE] + [
        record.path.relative_to(directory).as_posix()
        for record in records
        if record.media_type is kind
    ]
    return [{"config_name": "default", "data_files": [{"split": "train", "path": paths}]}]


def card_text(directory: Path, licence: Licence, records: Sequence[Record]) -> str:
    """README.md with YAML front matter, as the Hugging Face Hub and `datasets` read it."""
    front_matter = {
        "license": "other",
        "license_name": "assent-licence",
        "license_link": "NOTICE",
        "pretty_name": f"Assent licence {licence.id}",
        "tags": ["assent", "licensed", "consented"],
        "configs": _config(directory, records),
    }
    kind = folder_kind(records)
    builder = _FOLDER_BUILDERS[kind] if kind is not None else "json"
    kinds = sorted({record.media_type.value for record in records})
    columns = "\n".join(f"- `{name}`: {meaning}" for name, meaning in COLUMNS.items())
    body = f"""# Assent licence {licence.id}

{len(records)} works licensed to {licence.buyer_name} for
{", ".join(use.value for use in licence.uses)}, until {licence.ends_at:%Y-%m-%d} at the
latest (each work's own dates are in its row). Media: {", ".join(kinds)}.

The works may be used only as the licence allows: its terms are in `terms/`, the signed
certificate in `licence-certificate.json`, and the creators to credit in `NOTICE`.
Check the bundle offline with `assent verify {directory.name}`.

## Loading

```python
import datasets

bundle = datasets.load_dataset("path/to/{directory.name}", split="train")  # {builder}
texts = datasets.load_dataset("json", data_files="path/to/{directory.name}/{TEXTS_FILE}")
every = datasets.load_dataset("json", data_files="path/to/{directory.name}/{RECORDS_FILE}")
```

`croissant.json` describes the same records for `mlcroissant`.

## Columns

{columns}
"""
    return "---\n" + json_yaml(front_matter) + "---\n\n" + body


def json_yaml(value: dict[str, Any]) -> str:
    """YAML front matter written as JSON, which every YAML 1.2 reader takes: no YAML
    writer is needed, and no creator's text can change its structure."""
    return "".join(
        f"{name}: {json.dumps(item, ensure_ascii=False)}\n" for name, item in value.items()
    )
