"""Signing keys that rotate: each service's key history in its own database, keys derived
from the configured seed, and the routes that publish and rotate them.

Every key's start is logged as a `key.rotated` event by the `on_rotated` the service
gives: `emit_rotation` for a service that reaches the log through its outbox."""

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import Topic
from services.kit.keyring._keyring import (
    ROTATION_DELAY,
    Keyring,
    OnRotated,
    SigningKeyUnavailable,
)
from services.kit.keyring._tables import KEYRING_METADATA, SigningKey
from services.kit.keyring.api import keys_router
from services.kit.outbox import emit


async def emit_rotation(session: AsyncSession, rotated: BaseModel) -> None:
    """The rotation through the service's outbox, in the rotation's transaction."""
    emit(session, Topic.KEY_ROTATED, rotated)


__all__ = [
    "KEYRING_METADATA",
    "ROTATION_DELAY",
    "Keyring",
    "OnRotated",
    "SigningKey",
    "SigningKeyUnavailable",
    "emit_rotation",
    "keys_router",
]
