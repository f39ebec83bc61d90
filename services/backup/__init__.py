"""Backup and restore of a whole marketplace: every component's database and the bucket,
with a manifest of sizes and sha256; the signing secrets stay out (see SECRETS_NOTICE).

Written here because no tool takes PostgreSQL schemas, SQLite files and an object
store's bucket as one set: the dumping itself is pg_dump's and SQLite's, the copying the
storage interface's; this package orders them, checks them and records what it took."""

from services.backup._manifest import SECRETS_NOTICE, BackupManifest, missing_secrets
from services.backup._run import backup, restore
from services.backup.errors import BackupError

__all__ = [
    "SECRETS_NOTICE",
    "BackupError",
    "BackupManifest",
    "backup",
    "missing_secrets",
    "restore",
]
