"""Multipart uploads: one directory per upload, with upload.json and a file and sidecar a part.

Every method blocks; the store runs them off the event loop.
"""

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from storage.local._files import (
    AtomicFile,
    file_system_errors,
    load_json,
    matching_sidecar,
    write_json,
)
from storage.local._objects import ObjectFiles
from storage.object_store import (
    CHUNK_SIZE,
    MIN_PART_SIZE,
    ChecksumMismatch,
    InvalidPart,
    ObjectInfo,
    UploadedPart,
    UploadNotFound,
)

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class UploadFiles:
    def __init__(self, objects: ObjectFiles) -> None:
        self._objects = objects
        self._uploads = objects.directories.uploads
        self._tmp = objects.directories.tmp

    def create(self, key: str, content_type: str) -> str:
        upload_id = uuid.uuid4().hex
        directory = self._uploads / upload_id
        with file_system_errors(key):
            directory.mkdir()
            write_json(
                self._tmp, directory / "upload.json", {"key": key, "content_type": content_type}
            )
        return upload_id

    def find(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        """The upload's directory and its upload.json; UploadNotFound unless it is ``key``'s."""
        if _UPLOAD_ID.fullmatch(upload_id):
            directory = self._uploads / upload_id
            upload = load_json(directory / "upload.json")
            if upload is not None and upload.get("key") == key:
                return directory, upload
        raise UploadNotFound(f"no upload {upload_id!r} for key {key!r}")

    def commit_part(
        self, key: str, upload_id: str, part_number: int, target: AtomicFile
    ) -> UploadedPart:
        try:
            directory, _ = self.find(key, upload_id)
            result = target.finish()
            etag = f'"{target.sha256}"'
            sidecar = {"size": target.size, "sha256": target.sha256, "inode": result.st_ino}
            write_json(self._tmp, directory / f"{part_number}.json", {**sidecar, "etag": etag})
            os.replace(target.path, directory / f"{part_number}.part")
        except FileNotFoundError:
            target.discard()
            raise UploadNotFound(f"upload {upload_id!r} was aborted or completed") from None
        except BaseException:
            target.discard()
            raise
        return UploadedPart(part_number, target.size, target.sha256, etag)

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        directory, _ = self.find(key, upload_id)
        parts = []
        for path in directory.glob("*.part"):
            try:
                result = path.stat()
            except FileNotFoundError:
                continue
            # A part whose sidecar does not match is listed as missing, so it is sent again.
            sidecar = matching_sidecar(load_json(path.with_suffix(".json")), result)
            if sidecar:
                parts.append(
                    UploadedPart(int(path.stem), result.st_size, sidecar["sha256"], sidecar["etag"])
                )
        return sorted(parts, key=lambda part: part.part_number)

    def complete(
        self, key: str, upload_id: str, parts: list[UploadedPart], expected: str | None
    ) -> ObjectInfo:
        directory, upload = self.find(key, upload_id)
        stored = {part.part_number: part for part in self.list_parts(key, upload_id)}
        _check_parts(parts, stored)
        target = self._objects.new_file()
        try:
            for part in parts:
                with (directory / f"{part.part_number}.part").open("rb") as source:
                    while chunk := source.read(CHUNK_SIZE):
                        target.write(chunk)
        except BaseException:
            target.discard()
            raise
        if expected is not None and target.sha256 != expected:
            target.discard()
            _remove(directory)
            raise ChecksumMismatch(f"{key!r}: the parts hash to {target.sha256}, not {expected}")
        info = self._objects.commit(key, target, upload["content_type"])
        _remove(directory)
        return info

    def abort(self, key: str, upload_id: str) -> None:
        try:
            directory, _ = self.find(key, upload_id)
        except UploadNotFound:
            return
        _remove(directory)


def _remove(directory: Path) -> None:
    # Removing upload.json first ends the upload at once; a part racing the removal
    # can then only leave an orphan file behind, never revive the upload.
    (directory / "upload.json").unlink(missing_ok=True)
    shutil.rmtree(directory, ignore_errors=True)


def _check_parts(parts: list[UploadedPart], stored: dict[int, UploadedPart]) -> None:
    if not parts:
        raise InvalidPart("an upload needs at least one part")
    numbers = [part.part_number for part in parts]
    if numbers != sorted(set(numbers)):
        raise InvalidPart("parts must be listed once each, in ascending order")
    for index, part in enumerate(parts):
        found = stored.get(part.part_number)
        if found is None or found.etag != part.etag:
            raise InvalidPart(f"part {part.part_number} was not uploaded with that ETag")
        if index < len(parts) - 1 and found.size < MIN_PART_SIZE:
            raise InvalidPart(f"part {part.part_number} is smaller than {MIN_PART_SIZE} bytes")
