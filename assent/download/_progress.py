"""The progress bar of a download: bytes as they arrive, and files as they finish."""

import threading
from collections.abc import Sequence

from rich.progress import Progress, TaskID

from assent.download._layout import Target
from assent.download._results import FileResult


class DownloadProgress:
    """Shared by the worker threads; does nothing without a `Progress` to show."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._lock = threading.Lock()
        self._done = 0
        self._total_files = 0

    def start(self, targets: Sequence[Target]) -> None:
        self._total_files = len(targets)
        if self._progress is not None:
            total = sum(target.entry.size for target in targets)
            self._task = self._progress.add_task(self._files_text(), total=total)

    def _files_text(self) -> str:
        return f"{self._done}/{self._total_files} files"

    def advance(self, size: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, size)

    def finished(self, result: FileResult) -> FileResult:
        with self._lock:
            self._done += 1
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, description=self._files_text())
        return result
