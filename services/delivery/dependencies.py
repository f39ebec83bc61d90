"""What delivery's routers take from the request: the session, the object store, the
keys and the link lifetime."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.delivery.config import Settings
from services.delivery.manifest import DeliveryKeys
from services.kit.db import get_session
from storage.object_store import ObjectStore


def _store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.object_store
    return store


def _keys(request: Request) -> DeliveryKeys:
    keys: DeliveryKeys = request.app.state.delivery_keys
    return keys


def _link_ttl(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(seconds=settings.link_ttl_seconds)


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Store = Annotated[ObjectStore, Depends(_store)]
Keys = Annotated[DeliveryKeys, Depends(_keys)]
LinkTtl = Annotated[timedelta, Depends(_link_ttl)]
