from fastapi import FastAPI

from services.kit.app import create_service_app
from services.licensing.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app("licensing", settings or Settings())
