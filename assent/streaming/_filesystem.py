"""`assent://DELIVERY/PATH`: a delivery's objects as an fsspec filesystem, so pandas,
pyarrow and `datasets` read them with no Assent code but the URL.

    DELIVERY/<work id>/<file name>     each file, laid out as `assent download` lays it
    DELIVERY/shards/<shard or index>   the WebDataset shards and their Parquet index,
                                       once the shard set is issued

What lies where comes from the delivery's signed manifest (and the signed shard
manifest), verified with the published keys before anything is listed; each object's
size and sha256 are the signed ones, and every read is checked against them
(`StreamedFile`). Credentials come from the storage options `gateway_url` and `api_key`,
or as the client finds them (ASSENT_GATEWAY_URL, ASSENT_API_KEY, `assent login`).
"""

import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.compression import compr
from fsspec.utils import infer_compression

from assent.download import plan_targets
from assent.errors import Unauthenticated
from assent.options import API_KEY_ENV
from assent.options import api_key as default_api_key
from assent.options import gateway_url as default_gateway_url
from assent.protocol import (
    StatusList,
    VerificationError,
    verify_envelope,
    verify_manifest,
    verify_status_list,
)
from assent.streaming._errors import StreamError
from assent.streaming._file import StreamedFile
from assent.streaming._gateway import DeliveryNode, GatewayClient
from assent.verify import VerifiedManifest
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE, ManifestEntry
from services.contracts.shards import ShardSetStatus
from services.contracts.signing import PublicKeyRead

PROTOCOL = "assent"
SHARDS_DIR = "shards"
_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class DeliveryObject:
    """One object of a delivery: where the gateway links it from, and its signed digest."""

    path: str
    """Relative to the delivery: `<work id>/<file name>` or `shards/<name>`."""
    gateway_path: str
    size: int
    sha256: str
    entry: ManifestEntry | None
    """The manifest's entry of a file; None for a shard or the index."""


@dataclass(frozen=True)
class DeliveryListing:
    delivery_id: str
    manifest: VerifiedManifest
    objects: dict[str, DeliveryObject]


def split_path(path: str) -> tuple[str, str]:
    """The delivery and the path within it, from `assent://D/P`, `D/P` or `D`."""
    bare = path.removeprefix(f"{PROTOCOL}://").strip("/")
    delivery, _, rest = bare.partition("/")
    return delivery, rest


class AssentFileSystem(AbstractFileSystem):  # type: ignore[misc]
    protocol = PROTOCOL
    root_marker = ""

    def __init__(
        self,
        gateway_url: str | None = None,
        api_key: str | None = None,
        *,
        keys: Sequence[PublicKeyRead] | None = None,
        connections: int = 16,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        key = api_key or default_api_key()
        if not key:
            raise Unauthenticated(f"no API key: pass api_key or set {API_KEY_ENV}")
        self.gateway = GatewayClient(
            gateway_url or default_gateway_url(), key, connections=connections
        )
        self._keys = list(keys) if keys is not None else None
        self._listings: dict[str, DeliveryListing] = {}
        self._lock = threading.Lock()

    # -- what a delivery holds -------------------------------------------------------------

    def listing(self, delivery_id: str) -> DeliveryListing:
        """The delivery's objects, from its verified manifests (asked once, then kept
        until `invalidate_cache`)."""
        with self._lock:
            found = self._listings.get(delivery_id)
            if found is None:
                found = self._listings[delivery_id] = self._list(delivery_id)
            return found

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget what was listed (of one delivery, or all): a shard set issued since
        then is seen at the next listing."""
        with self._lock:
            if path is None:
                self._listings.clear()
            else:
                self._listings.pop(split_path(path)[0], None)

    def status_list(self, delivery_id: str) -> StatusList:
        """The delivery's status list, verified with the published keys. A list that does
        not verify stops the reader: what may be used cannot be known without it."""
        envelope = self.gateway.status_list(delivery_id)
        try:
            found = verify_status_list(envelope, self._published_keys())
        except VerificationError as exc:
            raise StreamError(
                f"delivery {delivery_id}: the status list does not verify: {exc}"
            ) from exc
        if str(found.delivery_id) != delivery_id:
            raise StreamError(
                f"the status list is for delivery {found.delivery_id}, not {delivery_id}"
            )
        return found

    def _published_keys(self) -> list[PublicKeyRead]:
        if self._keys is None:
            self._keys = self.gateway.published_keys()
        return self._keys

    def _list(self, delivery_id: str) -> DeliveryListing:
        node = self.gateway.delivery(delivery_id)
        if node.manifest is None:
            raise FileNotFoundError(f"delivery {delivery_id} has no manifest yet ({node.status})")
        keys = self._published_keys()
        try:
            manifest = verify_manifest(node.manifest, keys)
        except VerificationError as exc:
            raise StreamError(
                f"delivery {delivery_id}: the manifest does not verify: {exc}"
            ) from exc
        if str(manifest.header.delivery_id) != delivery_id:
            raise StreamError(
                f"the manifest is for delivery {manifest.header.delivery_id}, not {delivery_id}"
            )
        objects: dict[str, DeliveryObject] = {}
        for target in plan_targets(Path(delivery_id), manifest):
            entry = target.entry
            path = f"{entry.work_id}/{target.path.name}"
            objects[path] = DeliveryObject(path, entry.path, entry.size, entry.sha256, entry)
        objects.update(self._shards(delivery_id, node, keys))
        return DeliveryListing(delivery_id, manifest, objects)

    def _shards(
        self, delivery_id: str, node: DeliveryNode, keys: list[PublicKeyRead]
    ) -> dict[str, DeliveryObject]:
        shard_set = node.shard_set()
        if shard_set is None or shard_set.status != ShardSetStatus.ISSUED:
            return {}
        if shard_set.manifest is None:
            raise StreamError(f"delivery {delivery_id}: the shard set is issued unsigned")
        try:
            payload, _ = verify_envelope(
                shard_set.manifest, keys, payload_type=IN_TOTO_PAYLOAD_TYPE
            )
        except VerificationError as exc:
            raise StreamError(f"delivery {delivery_id}: the shard manifest: {exc}") from exc
        statement = json.loads(payload)
        header = statement["predicate"]["header"]
        if header["delivery_id"] != delivery_id:
            raise StreamError(f"the shard manifest is for delivery {header['delivery_id']}")
        # The signed digests, not the listing's: only they are the marketplace's word.
        signed = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
        objects = {}
        for item in [*shard_set.shards, *([shard_set.index] if shard_set.index else [])]:
            if item.name not in signed:
                raise StreamError(f"delivery {delivery_id}: {item.name} is not signed")
            path = f"{SHARDS_DIR}/{item.name}"
            gateway_path = f"/downloads/{delivery_id}/shards/{item.name}"
            objects[path] = DeliveryObject(path, gateway_path, item.size, signed[item.name], None)
        return objects

    # -- fsspec's public surface -----------------------------------------------------------

    def object(self, path: str) -> DeliveryObject:
        delivery_id, rest = split_path(path)
        found = self.listing(delivery_id).objects.get(rest)
        if found is None:
            raise FileNotFoundError(f"{PROTOCOL}://{delivery_id}/{rest}")
        return found

    def ls(self, path: str, detail: bool = True, **_: Any) -> list[Any]:
        delivery_id, rest = split_path(path)
        listing = self.listing(delivery_id)
        if rest in listing.objects:
            entries = [self._info(delivery_id, listing.objects[rest])]
        else:
            prefix = f"{rest}/" if rest else ""
            children: dict[str, dict[str, Any]] = {}
            for name, item in listing.objects.items():
                if not name.startswith(prefix):
                    continue
                child, slash, _rest = name[len(prefix) :].partition("/")
                if slash:
                    full = f"{delivery_id}/{prefix}{child}"
                    children[child] = {"name": full, "size": 0, "type": "directory"}
                else:
                    children[child] = self._info(delivery_id, item)
            if not children:
                raise FileNotFoundError(f"{PROTOCOL}://{delivery_id}/{rest}")
            entries = sorted(children.values(), key=lambda info: str(info["name"]))
        return entries if detail else [info["name"] for info in entries]

    def info(self, path: str, **_: Any) -> dict[str, Any]:
        delivery_id, rest = split_path(path)
        listing = self.listing(delivery_id)
        if rest in listing.objects:
            return self._info(delivery_id, listing.objects[rest])
        if not rest or any(name.startswith(f"{rest}/") for name in listing.objects):
            return {"name": f"{delivery_id}/{rest}".rstrip("/"), "size": 0, "type": "directory"}
        raise FileNotFoundError(f"{PROTOCOL}://{delivery_id}/{rest}")

    def _info(self, delivery_id: str, item: DeliveryObject) -> dict[str, Any]:
        return {
            "name": f"{delivery_id}/{item.path}",
            "size": item.size,
            "type": "file",
            "sha256": item.sha256,
        }

    def open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **options: Any,
    ) -> Any:
        """A file to read: binary (`rb`) or text (`r`, with `encoding`), decompressed by
        `compression` ("infer" goes by the name)."""
        if set(mode) - {"r", "b", "t"}:
            raise PermissionError(f"{PROTOCOL}:// is read-only: cannot open in mode {mode!r}")
        item = self.object(path)
        raw = StreamedFile(
            self.gateway,
            name=f"{PROTOCOL}://{split_path(path)[0]}/{item.path}",
            gateway_path=item.gateway_path,
            size=item.size,
            sha256=item.sha256,
        )
        binary: Any = io.BufferedReader(raw, block_size or _BUFFER)
        if compression == "infer":
            compression = infer_compression(item.path)
        if compression is not None:
            binary = compr[compression](binary, mode="rb")
        if "b" in mode:
            return binary
        text = {k: options[k] for k in ("encoding", "errors", "newline") if k in options}
        return io.TextIOWrapper(binary, **text)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **_: Any
    ) -> bytes:
        with self.open(path) as file:
            if start is None and end is None:
                data: bytes = file.read()
                return data
            size = self.object(path).size
            first = 0 if start is None else (start if start >= 0 else size + start)
            last = size if end is None else (end if end >= 0 else size + end)
            file.seek(first)
            data = file.read(max(last - first, 0))
            return data
