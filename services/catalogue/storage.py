"""The object store the catalogue's files go to, as the routes receive it."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from storage.object_store import ObjectStore, StorageSettings


@dataclass(frozen=True)
class Storage:
    """The object store the catalogue's files go to, with its upload sizes."""

    store: ObjectStore
    settings: StorageSettings


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.catalogue_storage
    return storage


CatalogueStorage = Annotated[Storage, Depends(_storage)]
