"""A downloaded bundle read back as records: each file with the terms it is licensed on.

`assent download` keeps the signed manifest beside the files (`manifest.dsse.json`) and
lays them out as `<work id>/<file name>`. The manifest names each file's terms only by
their hash (`terms_id`); the terms themselves come from the licence the manifest was
issued for, and each is accepted only when its canonical hash is the `terms_id` the
signed manifest names, so the terms attached to a record are the ones that were sold.
"""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from assent.download import plan_targets
from assent.errors import BundleInvalid
from assent.models import Licence, LicenceLine, LineStatus, MediaTypeName, Model, Terms, UseName
from assent.verify import VerifiedManifest
from services.contracts.delivery import ManifestEntry


class Record(Model):
    """One file of a downloaded bundle, with its provenance and licence terms."""

    work_id: str
    version_id: str
    title: str
    path: Path
    file_name: str
    size: int
    sha256: str
    """As the signed manifest lists it; `assent download` checked the file against it."""
    media_type: MediaTypeName
    attribution: str
    """The work's creators, to credit where the terms require it."""
    terms_id: str
    terms: Terms
    licence_id: str
    delivery_id: str
    buyer_name: str
    uses: list[UseName]
    """The uses the licence was bought for."""
    starts_at: datetime
    ends_at: datetime
    """Until when this work may be used under the licence."""
    status: LineStatus

    def open(self) -> IO[bytes]:
        return self.path.open("rb")

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def records_of(directory: Path, manifest: VerifiedManifest, licence: Licence) -> Iterator[Record]:
    """The records of a verified manifest, in manifest order. Raises BundleInvalid at once
    if a file is missing or not the listed size, or the licence does not hold the terms
    the manifest names; the records themselves are made as they are iterated."""
    header = manifest.header
    if str(header.licence_id) != licence.id:
        raise BundleInvalid(f"the manifest is for licence {header.licence_id}, not {licence.id}")
    terms: dict[str, Terms] = {}
    for line in licence.lines:
        if line.terms.terms_id != line.terms_id:
            raise BundleInvalid(
                f"licence {licence.id}: the terms of work {line.work_id} hash to "
                f"{line.terms.terms_id}, not {line.terms_id}"
            )
        terms[line.terms_id] = line.terms
    lines = {line.work_id: line for line in licence.lines}
    placed = [(target.entry, target.path) for target in plan_targets(directory, manifest)]
    problems = []
    for entry, path in placed:
        if str(entry.work_id) not in lines:
            problems.append(f"work {entry.work_id} is not a line of licence {licence.id}")
        elif entry.terms_id not in terms:
            problems.append(f"work {entry.work_id}: the licence holds no terms {entry.terms_id}")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"{path} is missing: run assent download again")
            continue
        if size != entry.size:
            problems.append(
                f"{path} holds {size} bytes, the manifest {entry.size}: run assent download again"
            )
    if problems:
        raise BundleInvalid("; ".join(problems))
    return _records(placed, manifest, licence, lines, terms)


def _records(
    placed: list[tuple[ManifestEntry, Path]],
    manifest: VerifiedManifest,
    licence: Licence,
    lines: dict[str, LicenceLine],
    terms: dict[str, Terms],
) -> Iterator[Record]:
    header = manifest.header
    for entry, path in placed:
        line = lines[str(entry.work_id)]
        yield Record(
            work_id=str(entry.work_id),
            version_id=str(entry.version_id),
            title=line.title,
            path=path,
            file_name=entry.file_name,
            size=entry.size,
            sha256=entry.sha256,
            media_type=entry.media_type,
            attribution=entry.attribution,
            terms_id=entry.terms_id,
            terms=terms[entry.terms_id],
            licence_id=licence.id,
            delivery_id=str(header.delivery_id),
            buyer_name=header.buyer_name,
            uses=licence.uses,
            starts_at=line.starts_at,
            ends_at=line.ends_at,
            status=line.status,
        )
