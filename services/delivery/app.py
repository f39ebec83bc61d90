from fastapi import FastAPI

from services.delivery.config import Settings
from services.kit.app import create_service_app
from storage import create_object_store
from storage.object_store import StorageSettings


def create_app(
    settings: Settings | None = None, storage_settings: StorageSettings | None = None
) -> FastAPI:
    return create_service_app(
        "delivery",
        settings or Settings(),
        object_store=create_object_store(storage_settings or StorageSettings()),
    )
