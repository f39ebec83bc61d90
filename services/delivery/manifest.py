"""Per-buyer watermarks and the signed manifest, written entry by entry.

The watermark, keyed by the service's secret and derived from the licence:

- fingerprint = the first 32 hex digits of HMAC-SHA256(secret, "licence_id|work_id|version_id"),
  carried by the entry and its download path `/downloads/{delivery_id}/{fingerprint}`;
- entry order = ascending HMAC-SHA256(secret, "order|licence_id|work_id"), a keyed
  permutation, so two buyers of the same works get the entries in different orders;
- commitment = sha256 of the licence id followed by each fingerprint in manifest order,
  each preceded by a newline, i.e. sha256("\\n".join([licence_id, *fingerprints])),
  logged to the audit log when the delivery is issued.

The manifest is an in-toto v1 statement in a DSSE envelope. Its subjects come before its
predicate's entries, so one pass over the entries writes each to its own temporary file;
the statement, the DSSE message to sign and the envelope are then assembled on disk and
the message signed through a memory map. Memory holds one entry at a time, whatever the
size of the bundle; the disk holds about three copies of the manifest while it is built.
A manifest of up to `IN_MEMORY_BYTES` (a bundle of a few hundred works) never touches
the disk: it is assembled and signed in memory, which for the common small sale costs a
fraction of the files.
"""

import base64
import contextlib
import hashlib
import hmac
import io
import mmap
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import BinaryIO, cast

import orjson
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assent.protocol import Signer, b64encode
from services.contracts.delivery import (
    IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_TYPE,
    MANIFEST_PREDICATE_TYPE,
    ManifestHeader,
)
from services.contracts.signing import MANIFEST_KEY_PURPOSE, PublicKeyRead
from services.kit.keyring import Keyring

MIN_WATERMARK_SECRET_BYTES = 32
IN_MEMORY_BYTES = 256 * 1024
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
# A multiple of 3, so that base64 of consecutive chunks concatenates to base64 of the whole.
_BASE64_CHUNK = 3 * 256 * 1024


def download_path(delivery_id: uuid.UUID | str, fingerprint: str) -> str:
    """Where a file of a delivery is fetched, relative to the gateway."""
    return f"/downloads/{delivery_id}/{fingerprint}"


class Watermark:
    def __init__(self, secret: SecretStr) -> None:
        key = secret.get_secret_value().encode()
        if len(key) < MIN_WATERMARK_SECRET_BYTES:
            raise ValueError(
                f"the watermark secret must be at least {MIN_WATERMARK_SECRET_BYTES} bytes "
                "(ASSENT_DELIVERY_WATERMARK_SECRET)"
            )
        self._key = key

    # Ids in their canonical text form (`str(uuid)`), which is what is keyed; taking text
    # lets the writer format each id once for both the key and the manifest.

    def fingerprint(self, licence_id: str, work_id: str, version_id: str) -> str:
        message = f"{licence_id}|{work_id}|{version_id}".encode()
        return hmac.digest(self._key, message, "sha256").hex()[:32]

    def order_key(self, licence_id: str, work_id: str) -> str:
        return hmac.digest(self._key, f"order|{licence_id}|{work_id}".encode(), "sha256").hex()


class ManifestSigner:
    """The marketplace's manifest key (one generation of it: keys rotate).

    The kit's `Signer` gives its id and published half; its `sign` takes the payload as
    bytes and returns it base64-encoded inside the envelope, which for a large manifest
    means several copies in memory. Here the caller hands over the DSSE message it
    assembled itself (memory-mapped) and gets the signature alone.
    """

    def __init__(self, key: SecretStr | Signer) -> None:
        self._signer = key if isinstance(key, Signer) else Signer(key, purpose=MANIFEST_KEY_PURPOSE)
        self.key_id = self._signer.key_id

    def sign_message(self, message: memoryview) -> str:
        """The base64 Ed25519 signature over a complete DSSE pre-authentication encoding."""
        return b64encode(self._signer.sign_message(message))

    def published(self) -> PublicKeyRead:
        return self._signer.published()


@dataclass(frozen=True, slots=True)
class ManifestLine:
    """One licensed file, as the builder feeds it to the writer (in manifest order)."""

    work_id: uuid.UUID
    version_id: uuid.UUID
    file_name: str
    size: int
    sha256: str
    media_type: str
    attribution: str
    terms_id: str
    original_sha256: str | None = None
    """The file as uploaded, when `sha256` is of the buyer's copy (provenance embedded);
    None: the same as `sha256`."""


@dataclass(frozen=True)
class SignedManifest:
    """The envelope on disk, ready to store, with its size and sha256."""

    envelope: BinaryIO
    size: int
    sha256: str


class ManifestWriter:
    """Takes the entries one by one in manifest order, then signs the whole manifest.

    Use as a context manager: the temporary files go when it closes.
    """

    def __init__(
        self,
        *,
        delivery_id: uuid.UUID,
        licence_id: uuid.UUID,
        bundle_id: uuid.UUID,
        buyer_id: uuid.UUID,
        buyer_name: str,
        watermark: Watermark,
    ) -> None:
        self._delivery_id = delivery_id
        self._licence_id = licence_id
        self._bundle_id = bundle_id
        self._buyer_id = buyer_id
        self._buyer_name = buyer_name
        self._watermark = watermark
        self._files = contextlib.ExitStack()
        # In memory until they grow past IN_MEMORY_BYTES, then on disk.
        self._subjects = self._spool(IN_MEMORY_BYTES)
        self._entries = self._spool(IN_MEMORY_BYTES)
        self._licence_text, self._delivery_text = str(licence_id), str(delivery_id)
        self._commitment = hashlib.sha256(self._licence_text.encode())
        self._terms_ids: set[str] = set()
        self.count = 0

    def __enter__(self) -> "ManifestWriter":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._files.close()

    def add(self, line: ManifestLine) -> str:
        """Append the next entry; returns its fingerprint (its position is `count - 1`)."""
        work_id, version_id = str(line.work_id), str(line.version_id)
        fingerprint = self._watermark.fingerprint(self._licence_text, work_id, version_id)
        path = download_path(self._delivery_text, fingerprint)
        separator = b"," if self.count else b""
        self._subjects.write(
            separator + orjson.dumps({"name": path, "digest": {"sha256": line.sha256}})
        )
        # The keys of `ManifestEntry`, in its order.
        self._entries.write(
            separator
            + orjson.dumps(
                {
                    "work_id": work_id,
                    "version_id": version_id,
                    "file_name": line.file_name,
                    "size": line.size,
                    "sha256": line.sha256,
                    "original_sha256": line.original_sha256 or line.sha256,
                    "media_type": line.media_type,
                    "attribution": line.attribution,
                    "terms_id": line.terms_id,
                    "fingerprint": fingerprint,
                    "path": path,
                }
            )
        )
        self._commitment.update(b"\n" + fingerprint.encode())
        self._terms_ids.add(line.terms_id)
        self.count += 1
        return fingerprint

    @property
    def watermark_commitment(self) -> str:
        return self._commitment.hexdigest()

    @property
    def in_memory(self) -> bool:
        """Whether `sign` works in memory, quickly enough to run on the event loop."""
        return self._subjects.tell() + self._entries.tell() <= IN_MEMORY_BYTES

    def sign(self, signer: ManifestSigner, *, issued_at: datetime) -> SignedManifest:
        """Assemble the statement, sign it and write the envelope. Blocking: CPU, and
        disk unless `in_memory`."""
        header = ManifestHeader(
            delivery_id=self._delivery_id,
            licence_id=self._licence_id,
            bundle_id=self._bundle_id,
            buyer_id=self._buyer_id,
            buyer_name=self._buyer_name,
            issued_at=issued_at,
            terms_ids=sorted(self._terms_ids),
            key_id=signer.key_id,
            entry_count=self.count,
        )
        head = b'{"_type":' + orjson.dumps(IN_TOTO_STATEMENT_TYPE) + b',"subject":['
        middle = (
            b'],"predicateType":'
            + orjson.dumps(MANIFEST_PREDICATE_TYPE)
            + b',"predicate":{"header":'
            + orjson.dumps(header.model_dump(mode="json"))
            + b',"entries":['
        )
        tail = b"]}}"
        payload_size = (
            len(head) + self._subjects.tell() + len(middle) + self._entries.tell() + len(tail)
        )
        payload_type = IN_TOTO_PAYLOAD_TYPE.encode()
        # DSSE's PAE (`services.kit.signing.pae`) up to the payload, whose length is known
        # before a byte of it is copied.
        pae_prefix = b"DSSEv1 %d %s %d " % (len(payload_type), payload_type, payload_size)
        if self.in_memory:
            return self._sign_in_memory(signer, pae_prefix, (head, middle, tail))

        message = self._spool()
        message.write(pae_prefix + head)
        for part, spooled in ((middle, self._subjects), (tail, self._entries)):
            spooled.seek(0)
            shutil.copyfileobj(spooled, message)
            message.write(part)
        message.flush()

        envelope = self._spool()
        digest = hashlib.sha256()

        def write(chunk: bytes) -> None:
            envelope.write(chunk)
            digest.update(chunk)

        with (
            mmap.mmap(message.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
        ):
            signature = signer.sign_message(view)
            write(b'{"payloadType":' + orjson.dumps(IN_TOTO_PAYLOAD_TYPE) + b',"payload":"')
            for start in range(len(pae_prefix), len(view), _BASE64_CHUNK):
                write(base64.b64encode(view[start : start + _BASE64_CHUNK]))
            write(b'","signatures":[' + orjson.dumps({"keyid": signer.key_id, "sig": signature}))
            write(b"]}")
        size = envelope.tell()
        envelope.seek(0)
        return SignedManifest(
            envelope=envelope,
            size=size,
            sha256=digest.hexdigest(),
        )

    def _sign_in_memory(
        self, signer: ManifestSigner, pae_prefix: bytes, parts: tuple[bytes, bytes, bytes]
    ) -> SignedManifest:
        """The same bytes as the path through files, for a manifest that fits in memory."""
        head, middle, tail = parts
        spooled = []
        for part in (self._subjects, self._entries):
            part.seek(0)
            spooled.append(part.read())
        payload = head + spooled[0] + middle + spooled[1] + tail
        signature = signer.sign_message(memoryview(pae_prefix + payload))
        envelope = (
            b'{"payloadType":'
            + orjson.dumps(IN_TOTO_PAYLOAD_TYPE)
            + b',"payload":"'
            + base64.b64encode(payload)
            + b'","signatures":['
            + orjson.dumps({"keyid": signer.key_id, "sig": signature})
            + b"]}"
        )
        return SignedManifest(
            envelope=io.BytesIO(envelope),
            size=len(envelope),
            sha256=hashlib.sha256(envelope).hexdigest(),
        )

    def _spool(self, in_memory_up_to: int = 0) -> BinaryIO:
        if in_memory_up_to:
            return cast(
                BinaryIO,
                self._files.enter_context(tempfile.SpooledTemporaryFile(max_size=in_memory_up_to)),
            )
        return cast(BinaryIO, self._files.enter_context(tempfile.TemporaryFile()))


@dataclass(frozen=True)
class DeliveryKeys:
    """The service's secrets: the manifests' signing keys and the watermark's key.

    `transaction` opens a transaction to read the key history in; `bound` gives the keys
    a build uses (a batch of builds binds its own, so its transactions take turns)."""

    keyring: Keyring
    watermark: Watermark
    transaction: Transaction | None = None

    def bound(self, to: async_sessionmaker[AsyncSession] | Transaction) -> "DeliveryKeys":
        if isinstance(to, async_sessionmaker):
            sessionmaker = to

            @asynccontextmanager
            async def transaction() -> AsyncIterator[AsyncSession]:
                async with sessionmaker() as session, session.begin():
                    yield session

            return replace(self, transaction=transaction)
        return replace(self, transaction=to)

    async def signer_at(self, issued_at: datetime) -> ManifestSigner:
        """The key valid at a document's signing time: a build that began before a
        rotation signs with the key of its `issued_at`, which still verifies."""
        if self.transaction is None:
            raise RuntimeError("DeliveryKeys.bound(sessionmaker) first")
        async with self.transaction() as session:
            return ManifestSigner(await self.keyring.signer_at(session, issued_at))
