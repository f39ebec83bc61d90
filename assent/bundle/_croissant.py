"""croissant.json: the bundle as a Croissant 1.1 dataset (JSON-LD). Its distribution is
every file with its sha256 and the records file; its record set is each record's file,
licence, uses and creators, read from records.jsonl; the Responsible-AI fields say how
the data was collected (with each creator's consent) and what is known of personal data
(what each creator attested on listing the work)."""

import hashlib
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assent.bundle._rows import (
    BOOLEAN_COLUMNS,
    COLUMNS,
    DATE_TIME_COLUMNS,
    INTEGER_COLUMNS,
    RECORDS_FILE,
    relative_name,
)
from assent.models import Licence
from assent.records import Record

CROISSANT_FILE = "croissant.json"
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RECORD_SET = "records"

# The standard context of Croissant 1.1, as its reference implementation writes it.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

DATA_COLLECTION = (
    "Each work was uploaded by its creator, who consented to its licensing for the uses "
    "listed in its terms; the marketplace sells a work only while that consent stands."
)
PERSONAL_DATA = (
    "As attested by each creator when listing the work: the creator holds the rights to "
    "the work and the consent of any person it identifies. The works were not screened "
    "for personal data beyond that attestation."
)


def _data_type(column: str) -> str:
    if column in INTEGER_COLUMNS:
        return "sc:Integer"
    if column in BOOLEAN_COLUMNS:
        return "sc:Boolean"
    if column in DATE_TIME_COLUMNS:
        return "sc:DateTime"
    return "sc:Text"


def _file_object(directory: Path, record: Record) -> dict[str, Any]:
    name = relative_name(directory, record)
    kind, _ = mimetypes.guess_type(record.file_name)
    return {
        "@type": "cr:FileObject",
        "@id": name,
        "name": name,
        "contentUrl": name,
        "contentSize": f"{record.size} B",
        "encodingFormat": kind or "application/octet-stream",
        "sha256": record.sha256,
    }


def croissant(directory: Path, licence: Licence, records: Sequence[Record]) -> dict[str, Any]:
    """The document; `records.jsonl` must already be written, since its sha256 is in it."""
    records_sha256 = hashlib.sha256((directory / RECORDS_FILE).read_bytes()).hexdigest()
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"{RECORD_SET}/{column}",
            "name": column,
            "description": meaning,
            "dataType": _data_type(column),
            "source": {"fileObject": {"@id": RECORDS_FILE}, "extract": {"column": column}},
        }
        for column, meaning in COLUMNS.items()
    ]
    creators = sorted({record.attribution for record in records})
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_1_1,
        "name": f"assent-licence-{licence.id}",
        "description": (
            f"{len(records)} works licensed through Assent to {licence.buyer_name} for "
            f"{', '.join(use.value for use in licence.uses)}; every record names its licence."
        ),
        "license": "NOTICE",
        "url": f"urn:uuid:{licence.id}",
        # A bundle never changes once delivered: a licence's delivery is built once.
        "version": "1.0.0",
        "citeAs": f"Assent licence {licence.id}; creators: {'; '.join(creators)}",
        "datePublished": licence.granted_at.date().isoformat(),
        "creator": [{"@type": "sc:Person", "name": name} for name in creators],
        "rai:dataCollection": DATA_COLLECTION,
        "rai:dataCollectionType": "Direct contribution by the creators",
        "rai:personalSensitiveInformation": PERSONAL_DATA,
        "rai:dataUseCases": ", ".join(use.value for use in licence.uses),
        "distribution": [
            *(_file_object(directory, record) for record in records),
            {
                "@type": "cr:FileObject",
                "@id": RECORDS_FILE,
                "name": RECORDS_FILE,
                "contentUrl": RECORDS_FILE,
                "encodingFormat": "application/jsonlines",
                "sha256": records_sha256,
            },
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": RECORD_SET,
                "name": RECORD_SET,
                "description": "One record per file, with the licence it may be used under.",
                "key": {"@id": f"{RECORD_SET}/file_name"},
                "field": fields,
            }
        ],
    }
