"""WebDataset tar shards and their Parquet index, written record by record.

A record is two tar members sharing its key (the entry's fingerprint, which has no dot,
as WebDataset groups members by the name before the first dot): `<key>.<extension>`,
the licensed bytes, and `<key>.assent.json`, what it was licensed under. The tar is
written here block by block rather than through `tarfile.addfile`, so that the bytes can
arrive a chunk at a time from the object store and be hashed on the way; the headers
are `tarfile.TarInfo`'s own, so any tar reader reads the shards.
"""

import hashlib
import io
import re
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from services.contracts.shards import shard_name

BLOCK = tarfile.BLOCKSIZE
METADATA_SUFFIX = "assent.json"
_EXTENSION = re.compile(r"^[a-z0-9]{1,16}$")

INDEX_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("work_id", pa.string()),
        ("version_id", pa.string()),
        ("file_name", pa.string()),
        ("media_type", pa.string()),
        ("shard", pa.string()),
        ("member", pa.string()),
        ("offset", pa.int64()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("licence_id", pa.string()),
        ("uses", pa.list_(pa.string())),
        ("terms_id", pa.string()),
        ("attribution", pa.string()),
    ]
)
"""One row per record: `offset` is where its bytes start in `shard`, `size` how many."""


class RecordMismatch(Exception):
    """The stored bytes are not the ones sold (size or sha256): the build fails."""


@dataclass(frozen=True)
class ShardRecord:
    key: str
    work_id: uuid.UUID
    version_id: uuid.UUID
    file_name: str
    media_type: str
    size: int
    sha256: str
    licence_id: uuid.UUID
    uses: list[str]
    terms_id: str
    attribution: str
    delivered_key: str | None = None
    """The buyer's own copy (provenance embedded) to read; None: the file as uploaded."""


@dataclass(frozen=True)
class ClosedShard:
    """A finished shard on disk (the caller stores it, then closes `file`)."""

    position: int
    name: str
    file: BinaryIO
    size: int
    sha256: str
    records: int


def extension_of(file_name: str) -> str:
    """The member's extension, which WebDataset decoders go by: the file's own when it
    is a plain one, else `bin`."""
    _stem, dot, extension = file_name.rpartition(".")
    extension = extension.lower()
    return extension if dot and _EXTENSION.match(extension) else "bin"


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class ShardWriter:
    """Cuts records into shards of about `shard_bytes` (a record never spans two; one
    larger than that has a shard to itself) and collects the index rows."""

    def __init__(self, *, shard_bytes: int, mtime: datetime) -> None:
        self._shard_bytes = shard_bytes
        self._mtime = int(mtime.timestamp())
        self._rows: list[dict[str, Any]] = []
        self._position = -1
        self._file: BinaryIO | None = None
        self._records = 0
        self._record: ShardRecord | None = None
        self._digest = hashlib.sha256()
        self._received = 0
        self._shard_digest = hashlib.sha256()

    def record_fits(self, record: ShardRecord) -> bool:
        """Whether `record` still fits in the open shard (or none is open, or it is empty)."""
        if self._file is None or self._records == 0:
            return True
        return self._file.tell() + self._record_bytes(record) <= self._shard_bytes

    def begin(self, record: ShardRecord) -> None:
        """Write the record's metadata member and the header of its bytes; the bytes
        follow through `write`, then `end`."""
        if self._file is None:
            self._position += 1
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
            self._records = 0
            self._shard_digest = hashlib.sha256()
        metadata = orjson.dumps(
            {
                "work_id": str(record.work_id),
                "version_id": str(record.version_id),
                "file_name": record.file_name,
                "media_type": record.media_type,
                "sha256": record.sha256,
                "licence_id": str(record.licence_id),
                "uses": record.uses,
                "terms_id": record.terms_id,
                "attribution": record.attribution,
            }
        )
        self._out(self._header(f"{record.key}.{METADATA_SUFFIX}", len(metadata)))
        self._out(metadata + _padding(len(metadata)))
        member = f"{record.key}.{extension_of(record.file_name)}"
        self._out(self._header(member, record.size))
        self._rows.append(
            {
                "key": record.key,
                "work_id": str(record.work_id),
                "version_id": str(record.version_id),
                "file_name": record.file_name,
                "media_type": record.media_type,
                "shard": shard_name(self._position),
                "member": member,
                "offset": self._file.tell(),
                "size": record.size,
                "sha256": record.sha256,
                "licence_id": str(record.licence_id),
                "uses": record.uses,
                "terms_id": record.terms_id,
                "attribution": record.attribution,
            }
        )
        self._record, self._digest, self._received = record, hashlib.sha256(), 0

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        assert self._record is not None
        self._received += len(chunk)
        if self._received > self._record.size:
            raise RecordMismatch(f"work {self._record.work_id} has more bytes than were sold")
        self._digest.update(chunk)
        self._out(chunk)

    def end(self) -> None:
        record = self._record
        assert self._file is not None
        assert record is not None
        if self._received != record.size or self._digest.hexdigest() != record.sha256:
            raise RecordMismatch(f"the stored bytes of work {record.work_id} are not those sold")
        self._out(_padding(record.size))
        self._records += 1
        self._record = None

    def close_shard(self) -> ClosedShard | None:
        """End the open shard (the tar's two zero blocks) and hand it over, hashed."""
        if self._file is None:
            return None
        shard, self._file = self._file, None
        self._out(b"\0" * (2 * BLOCK), shard)
        size = shard.tell()
        shard.seek(0)
        return ClosedShard(
            position=self._position,
            name=shard_name(self._position),
            file=shard,
            size=size,
            sha256=self._shard_digest.hexdigest(),
            records=self._records,
        )

    def index(self) -> bytes:
        """The Parquet index of every record written."""
        table = pa.Table.from_pylist(self._rows, schema=INDEX_SCHEMA)
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()

    @property
    def record_count(self) -> int:
        return len(self._rows)

    def _out(self, data: bytes, shard: BinaryIO | None = None) -> None:
        # The shard is hashed as it is written: no second pass over a gigabyte.
        target = shard or self._file
        assert target is not None
        target.write(data)
        self._shard_digest.update(data)

    def _header(self, name: str, size: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, self._mtime, 0o644
        return info.tobuf(tarfile.PAX_FORMAT)

    def _record_bytes(self, record: ShardRecord) -> int:
        # Two headers, two blocks of room for the metadata, and the padded bytes.
        return 4 * BLOCK + record.size + len(_padding(record.size))
