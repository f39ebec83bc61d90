"""The object store's bucket, copied object by object through the storage interface, so
it works the same on S3 and on the local directory, and streamed in bounded chunks so a
large work never sits in memory."""

import asyncio
import hashlib
from pathlib import Path

from services.backup._manifest import ObjectEntry, object_path
from services.backup.errors import BackupError
from storage import ObjectStore


async def copy_out(store: ObjectStore, backup: Path) -> list[ObjectEntry]:
    entries = []
    async for key in store.list_keys():
        info = await store.head(key)
        target = object_path(backup, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        size = 0
        with target.open("wb") as handle:
            async for chunk in store.stream(key):
                hasher.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(handle.write, chunk)
        sha256 = hasher.hexdigest()
        if info.sha256 is not None and info.sha256 != sha256:
            raise BackupError(f"object {key!r} changed while it was copied; back up again")
        entries.append(
            ObjectEntry(key=key, content_type=info.content_type, size=size, sha256=sha256)
        )
    return entries


async def is_empty(store: ObjectStore) -> bool:
    async for _ in store.list_keys():
        return False
    return True


async def copy_in(store: ObjectStore, backup: Path, entries: list[ObjectEntry]) -> None:
    for entry in entries:
        with object_path(backup, entry.key).open("rb") as handle:
            if entry.content_type:
                written = await store.put(entry.key, handle, content_type=entry.content_type)
            else:
                written = await store.put(entry.key, handle)
        if written.sha256 not in (None, entry.sha256):
            raise BackupError(f"object {entry.key!r} was stored with another sha256")
