"""Changes to the API description FastAPI publishes, made once, when it is first built."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def amend_openapi(app: FastAPI, amend: Callable[[dict[str, Any]], None]) -> None:
    """Run `amend` on the description the first time it is built. Amendments stack: each
    wraps the builder the app had when it was added."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        amend(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
