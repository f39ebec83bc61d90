"""The manifest of a backup: what was taken, with each file's size and sha256.

Every file's path inside the backup is derived from what it holds (a component's name, a
validated object key), never read from the manifest, so a damaged or hostile manifest
cannot name a path outside the backup's directory.
"""

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from storage.keys import validate_key
from storage.object_store import CHUNK_SIZE

MANIFEST = "manifest.json"
# What a backup never holds, in the words the console and the manifest both use.
SECRETS_NOTICE = (
    "the signing secrets are NOT in this backup (delivery signing key, watermark secret, "
    "audit log key, licensing signing key, session secret, the components' internal "
    "signing keys): keep them apart, the data directory's secrets.json on the embedded "
    "default, the Kubernetes Secrets (or your environment's ASSENT_* secret settings) in "
    "production; a restore needs the same ones for its signatures, checkpoints and "
    "watermarks to verify"
)


# The secrets `assent up` generates into the data directory's secrets.json that what is
# stored depends on: without the same ones, the restored signatures, checkpoints,
# watermarks and sessions no longer verify against what the platform signs from then on.
# The internal signing keys are not among them: a token between processes lives seconds.
KEPT_SECRETS = (
    "ASSENT_LICENSING_SIGNING_KEY",
    "ASSENT_DELIVERY_SIGNING_KEY",
    "ASSENT_DELIVERY_WATERMARK_SECRET",
    "ASSENT_AUDIT_SIGNING_KEY",
    "ASSENT_GATEWAY_SESSION_SECRET",
)


def missing_secrets(data_dir: Path, environ: Mapping[str, str]) -> list[str]:
    """The kept secrets neither the environment nor the data directory's file gives."""
    if (data_dir / "secrets.json").is_file():
        return []
    return [name for name in KEPT_SECRETS if not environ.get(name)]


class DatabaseEntry(BaseModel):
    component: str
    engine: Literal["postgresql", "sqlite"]
    # The PostgreSQL schema the component lives in; None for a database of its own.
    schema_name: str | None
    revision: str | None
    size: int = Field(ge=0)
    sha256: str


class ObjectEntry(BaseModel):
    key: str
    content_type: str | None
    size: int = Field(ge=0)
    sha256: str


class BackupManifest(BaseModel):
    format: Literal[1] = 1
    created_at: datetime
    secrets: str = SECRETS_NOTICE
    databases: list[DatabaseEntry]
    objects: list[ObjectEntry]


def database_path(backup: Path, component: str, engine: str) -> Path:
    return backup / "databases" / f"{component}.{'dump' if engine == 'postgresql' else 'sqlite'}"


def object_path(backup: Path, key: str) -> Path:
    return backup / "objects" / validate_key(key)


def file_digest(path: Path) -> tuple[int, str]:
    """The size and sha256 of a file, read in bounded chunks."""
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            hasher.update(chunk)
            size += len(chunk)
    return size, hasher.hexdigest()
