"""Waking relay streams when a commit wrote rows for their receivers."""

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.worker import PollingWorker

# Where a session carries the hub: `emit` has only the session in hand.
_SESSION_INFO_KEY = "assent.outbox.wakeups"


class RelayWakeups:
    """The running relay streams of one service, by receiver: a commit that wrote outbox
    rows wakes the streams of their receivers, so the rows go out at once instead of at
    the next poll. Sessions reach it through their sessionmaker (`serve`); a session from
    any other sessionmaker wakes nothing, and its rows wait for the poll."""

    def __init__(self) -> None:
        self._streams: defaultdict[str, set[PollingWorker]] = defaultdict(set)

    def serve(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Let every session `sessionmaker` opens from now on wake this hub's streams."""
        sessionmaker.configure(info={_SESSION_INFO_KEY: self})

    def listen(self, destination: str, stream: PollingWorker) -> None:
        self._streams[destination].add(stream)

    def forget(self, destination: str, stream: PollingWorker) -> None:
        self._streams[destination].discard(stream)

    def wake(self, destinations: Iterable[str]) -> None:
        for destination in destinations:
            for stream in self._streams.get(destination, ()):
                stream.wake()

    @staticmethod
    def of(session: AsyncSession) -> "RelayWakeups | None":
        """The hub `session`'s sessionmaker serves, if any."""
        hub = session.info.get(_SESSION_INFO_KEY)
        return hub if isinstance(hub, RelayWakeups) else None
