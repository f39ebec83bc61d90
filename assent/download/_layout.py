"""Where a delivery's files land: `DIR/<work id>/<file name>`, beside the kept manifest.

Entries are signed by the marketplace, but their file names are written by creators, so a
name is reduced to one safe path segment and can never choose a directory.
"""

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from assent.download._results import ManifestRefused
from assent.verify import VerifiedManifest
from services.contracts.delivery import ManifestEntry
from services.contracts.signing import Envelope

MANIFEST_FILE = "manifest.dsse.json"
PART_SUFFIX = ".part"
# Room for `.part` within the 255-byte name limit of common file systems.
_MAX_NAME_BYTES = 200
# Characters Windows refuses in names, besides controls; a dataset is often copied there.
_RESERVED = frozenset('<>:"/\\|?*')


def safe_file_name(name: str) -> str:
    """One path segment for an untrusted file name: the last segment of any path in it,
    without controls, reserved characters, or leading and trailing dots and spaces (no
    `..`, no hidden files), at most `_MAX_NAME_BYTES` bytes with its extension kept."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        "_" if char in _RESERVED or unicodedata.category(char)[0] == "C" else char
        for char in unicodedata.normalize("NFC", last)
    ).strip(". ")
    if not cleaned:
        return "file"
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = cleaned, ""
    budget = _MAX_NAME_BYTES - len(extension.encode()) - len(dot)
    stem = stem.encode()[:budget].decode(errors="ignore").rstrip(". ")
    return f"{stem}{dot}{extension}" if stem else "file"


@dataclass(frozen=True)
class Target:
    entry: ManifestEntry
    path: Path

    @property
    def part(self) -> Path:
        return self.path.with_name(self.path.name + PART_SUFFIX)


def plan_targets(directory: Path, manifest: VerifiedManifest) -> list[Target]:
    targets = [
        Target(entry, directory / str(entry.work_id) / safe_file_name(entry.file_name))
        for entry in manifest.entries
    ]
    # Case-folded, as on macOS and Windows; a `.part` counts, as it shares the directory.
    claimed: dict[str, int] = {}
    for number, target in enumerate(targets, start=1):
        for path in (target.path, target.part):
            previous = claimed.setdefault(str(path).casefold(), number)
            if previous != number:
                raise ManifestRefused(
                    f"entries {previous} and {number} would both be written to {path}"
                )
    return targets


def write_manifest(directory: Path, envelope: Envelope) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MANIFEST_FILE
    partial = path.with_name(path.name + PART_SUFFIX)
    partial.write_text(envelope.model_dump_json(indent=2) + "\n")
    os.replace(partial, path)
    return path
