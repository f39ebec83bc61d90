"""The licence-enforcing loader: a delivery's records for a declared use, read through
`assent://` in parallel and in manifest order, each verified, and only those the licence
allows for that use now.

Each pass asks the gateway for every licence's current state first, so a licence
refunded since the last epoch is left out of the next; a record whose bytes the gateway
refuses during a pass (a refund in the middle of it) is skipped with its reason, not
raised. What was left out, and why, is `report` (`LoaderReport`).
"""

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assent.models import Use, parse_uses
from assent.streaming._errors import LinkRefused
from assent.streaming._filesystem import PROTOCOL, AssentFileSystem, DeliveryObject
from assent.streaming._licence import LoaderReport, Skipped, SkipReason, skip_reason


@dataclass(frozen=True)
class LicensedRecord:
    """One file of a delivery with what it was licensed under, and its verified bytes."""

    url: str
    delivery_id: str
    licence_id: str
    work_id: str
    version_id: str
    file_name: str
    media_type: str
    sha256: str
    attribution: str
    terms_id: str
    licence_uses: list[str]
    data: bytes

    def as_row(self) -> dict[str, Any]:
        """The record as plain columns, as `datasets` and the bundle's records.jsonl have them."""
        return {
            "url": self.url,
            "work_id": self.work_id,
            "file_name": self.file_name,
            "media_type": self.media_type,
            "sha256": self.sha256,
            "creators": self.attribution,
            "licence_id": self.licence_id,
            "licence_uses": self.licence_uses,
            "terms_id": self.terms_id,
            "bytes": self.data,
        }


@dataclass(frozen=True)
class _Planned:
    url: str
    item: DeliveryObject
    delivery_id: str
    licence_id: str
    uses: list[str]


class LicensedLoader:
    """Iterate for one pass (an epoch) over the deliveries' records that `use` may take.

    loader = LicensedLoader([delivery_id], "training")
    for record in loader:
        train_on(record.data)
    print(loader.report.summary())
    """

    def __init__(
        self,
        deliveries: Sequence[str],
        use: Use | str,
        *,
        gateway_url: str | None = None,
        api_key: str | None = None,
        filesystem: AssentFileSystem | None = None,
        parallel: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        [self.use] = parse_uses([use])
        self.deliveries = [str(delivery) for delivery in deliveries]
        self.filesystem = filesystem or AssentFileSystem(gateway_url, api_key)
        self.parallel = parallel
        self._clock = clock
        self.report = LoaderReport(self.use, clock())

    def __iter__(self) -> Iterator[LicensedRecord]:
        return self.partition(0, 1)

    def partition(self, index: int, count: int) -> Iterator[LicensedRecord]:
        """Every `count`-th record the use may take, from the `index`-th: one worker's share
        (a torch DataLoader's, or a host's), so that the workers together read each once."""
        if not 0 <= index < count:
            raise ValueError(f"partition {index} of {count} does not exist")
        self.report = LoaderReport(self.use, self._clock())
        planned = itertools.islice(self._plan(), index, None, count)
        return self._read(planned)

    def _plan(self) -> Iterator[_Planned]:
        """The records the licences allow now, in manifest order; the rest reported."""
        now = self._clock()
        for delivery_id in self.deliveries:
            # Fresh each pass: a shard set issued, or a licence refunded, since the last.
            self.filesystem.invalidate_cache(delivery_id)
            listing = self.filesystem.listing(delivery_id)
            # The signed list is the word that counts; the licence's state says why.
            status = self.filesystem.status_list(delivery_id)
            index_of = {
                entry.fingerprint: index for index, entry in enumerate(listing.manifest.entries)
            }
            licence = self.filesystem.gateway.licence(str(listing.manifest.header.licence_id))
            lines = {line.work_id: line for line in licence.lines}
            uses = sorted(use.value for use in licence.uses)
            for item in listing.objects.values():
                if item.entry is None:
                    continue
                url = f"{PROTOCOL}://{delivery_id}/{item.path}"
                work_id = str(item.entry.work_id)
                refused = skip_reason(licence, lines.get(work_id), self.use, now)
                index = index_of[item.entry.fingerprint]
                if refused is None and status.revoked(index):
                    refused = (
                        SkipReason.STATUS_LIST,
                        f"record {index} is marked no longer usable in the signed status list",
                    )
                if refused is not None:
                    reason, detail = refused
                    self.report.skipped.append(Skipped(url, work_id, licence.id, reason, detail))
                    continue
                yield _Planned(url, item, delivery_id, licence.id, uses)

    def _read(self, planned: Iterator[_Planned]) -> Iterator[LicensedRecord]:
        # Twice as many threads as transfers: while `parallel` records stream from the
        # object store, as many more ask the gateway for their links, so its round trip
        # never leaves a transfer idle (as assent.download does). Yielded in order.
        transfers = threading.Semaphore(self.parallel)

        def fetch(url: str) -> bytes:
            with self.filesystem.open(url) as file, transfers:
                data: bytes = file.read()
            return data

        workers = 2 * self.parallel
        with ThreadPoolExecutor(workers, thread_name_prefix="assent-loader") as pool:
            window: deque[tuple[_Planned, Future[bytes]]] = deque()
            for record in planned:
                window.append((record, pool.submit(fetch, record.url)))
                if len(window) >= 2 * workers:
                    yield from self._settle(*window.popleft())
            while window:
                yield from self._settle(*window.popleft())

    def _settle(self, planned: _Planned, future: "Future[bytes]") -> Iterator[LicensedRecord]:
        entry = planned.item.entry
        assert entry is not None
        try:
            data = future.result()
        except LinkRefused as exc:
            self.report.skipped.append(
                Skipped(
                    planned.url,
                    str(entry.work_id),
                    planned.licence_id,
                    SkipReason.LINK_REFUSED,
                    str(exc),
                )
            )
            return
        self.report.yielded += 1
        self.report.yielded_bytes += len(data)
        yield LicensedRecord(
            url=planned.url,
            delivery_id=planned.delivery_id,
            licence_id=planned.licence_id,
            work_id=str(entry.work_id),
            version_id=str(entry.version_id),
            file_name=entry.file_name,
            media_type=entry.media_type.value,
            sha256=entry.sha256,
            attribution=entry.attribution,
            terms_id=entry.terms_id,
            licence_uses=planned.uses,
            data=data,
        )
