"""What a download ends in: its errors before any file, and each file's result."""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from assent.verify import VerifiedManifest
from services.contracts.delivery import ManifestEntry
from services.contracts.signing import PublicKeyRead


class DownloadError(Exception):
    """Nothing was downloaded: the delivery, its manifest or the keys could not be had."""


class ManifestRefused(DownloadError):
    """The manifest failed verification or would write outside its layout."""


class FileStatus(StrEnum):
    DOWNLOADED = "downloaded"
    RESUMED = "resumed"
    COMPLETE = "complete"
    """Already on disk with the right sha256; nothing fetched."""
    FAILED = "failed"


@dataclass(frozen=True)
class FileResult:
    entry: ManifestEntry
    path: Path
    status: FileStatus
    fetched: int
    """Bytes transferred by this run."""
    error: str | None = None


@dataclass(frozen=True)
class DownloadResult:
    manifest: VerifiedManifest
    directory: Path
    files: list[FileResult]
    keys: list[PublicKeyRead]
    """The keys the manifest was verified with, kept in the bundle."""

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.files if result.status is FileStatus.FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def fetched(self) -> int:
        return sum(result.fetched for result in self.files)

    def count(self, status: FileStatus) -> int:
        return sum(1 for result in self.files if result.status is status)
