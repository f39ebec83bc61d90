"""Backup and restore of a whole marketplace: every component's database and the bucket,
with a manifest of sizes and sha256; the signing secrets stay out (see SECRETS_NOTICE)."""

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
