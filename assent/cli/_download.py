"""`assent download`: a delivery's files, in parallel, resumable, each sha256 verified."""

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from assent.options import API_KEY_ENV, connection_options

if TYPE_CHECKING:
    from assent.download import DownloadResult

MAX_PARALLEL = 64


def _download(args: argparse.Namespace) -> int:
    # Imported here so that `assent up` never pays for httpx clients, rich and pydantic
    # models it does not use.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from assent.client import AssentClient
    from assent.errors import AssentError
    from assent.verify import KeysUnavailable, load_keys

    if not args.key:
        print(f"assent download: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        keys = load_keys(args.keys) if args.keys else None
    except KeysUnavailable as error:
        print(f"assent download: {error}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet or not console.is_terminal,
    )
    started = time.monotonic()
    try:
        with progress, AssentClient(args.gateway, args.key) as client:
            result = client.download(
                args.delivery_id,
                Path(args.to),
                parallel=args.parallel,
                keys=keys,
                wait=args.wait,
                progress=progress,
            )
    except AssentError as error:
        print(f"assent download: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("assent download: interrupted; run it again to resume", file=sys.stderr)
        return 130
    _report_download(result, time.monotonic() - started)
    return 0 if result.ok else 1


def _report_download(result: "DownloadResult", elapsed: float) -> None:
    from rich.filesize import decimal

    from assent.bundle import CARD_FILE, CERTIFICATE_FILE, CROISSANT_FILE
    from assent.cli._lab_output import count
    from assent.download import MANIFEST_FILE, FileStatus

    header, key = result.manifest.header, result.manifest.key
    total = sum(entry.size for entry in result.manifest.entries)
    print(f"delivery {header.delivery_id}: {count(len(result.files), 'file')}, {decimal(total)}")
    print(
        f"  {result.count(FileStatus.DOWNLOADED)} downloaded, "
        f"{result.count(FileStatus.RESUMED)} resumed, "
        f"{result.count(FileStatus.COMPLETE)} already complete, "
        f"{len(result.failed)} failed; {decimal(result.fetched)} fetched in {elapsed:.1f} s"
    )
    print(f"  manifest verified: signed by key {key.key_id} ({key.purpose})")
    print(f"  saved in {result.directory}, manifest as {result.directory / MANIFEST_FILE}")
    if result.ok:
        print(
            f"  beside them: {CERTIFICATE_FILE}, the keys, the terms, NOTICE, {CARD_FILE} "
            f"(datasets.load_dataset) and {CROISSANT_FILE}; check offline with "
            f"assent verify {result.directory}"
        )
    else:
        print(f"{count(len(result.failed), 'file')} failed:", file=sys.stderr)
        for failure in result.failed:
            shown = failure.path.relative_to(result.directory)
            print(f"  {shown} ({failure.entry.work_id}): {failure.error}", file=sys.stderr)


def _parallelism(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PARALLEL}")
    return value


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent download` to the `assent` parser."""
    download = commands.add_parser(
        "download",
        help="download a delivery's files in parallel, resumably, verifying each sha256",
        description="Files land in DIR/<work id>/<file name>, with the signed manifest, the "
        "licence certificate, the keys, the terms, NOTICE, a dataset card and croissant.json "
        "beside them; a second run fetches only what is missing or wrong. Exit code 0: "
        "every file verified; 1: a file failed (listed) or "
        "the manifest was refused; 2: usage.",
    )
    download.add_argument("delivery_id", metavar="DELIVERY_ID", type=UUID, help="a delivery id")
    download.add_argument("--to", required=True, metavar="DIR", help="where the files go")
    connection_options(download)
    download.add_argument(
        "--parallel", type=_parallelism, default=8, metavar="N", help="files at once (default 8)"
    )
    download.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="verify the manifest with these published keys instead of the gateway's",
    )
    download.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for a delivery still being built (default 60)",
    )
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(handler=_download)
