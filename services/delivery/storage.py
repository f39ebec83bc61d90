"""The object store as delivery's readers call it: an unavailable store is a 503 the
caller may retry, never a 500."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.kit.errors import ServiceUnavailable
from storage.object_store import StorageUnavailable


@asynccontextmanager
async def storage_calls() -> AsyncIterator[None]:
    try:
        yield
    except StorageUnavailable as exc:
        raise ServiceUnavailable("the object store is unavailable; try again") from exc
