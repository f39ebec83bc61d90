"""The object store the catalogue's files go to, as the routes receive it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.kit.errors import ServiceUnavailable
from storage.object_store import ObjectStore, StorageSettings, StorageUnavailable


@dataclass(frozen=True)
class Storage:
    """The object store the catalogue's files go to, with its upload sizes."""

    store: ObjectStore
    settings: StorageSettings


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.catalogue_storage
    return storage


CatalogueStorage = Annotated[Storage, Depends(_storage)]


@asynccontextmanager
async def storage_calls() -> AsyncIterator[None]:
    """An object store that does not answer is the client's 503, to try again."""
    try:
        yield
    except StorageUnavailable as exc:
        raise ServiceUnavailable("the object store is unavailable; try again") from exc
