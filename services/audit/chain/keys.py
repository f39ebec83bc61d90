"""The signing keys every chain export carries: the log's `key.rotated` entries up to
the checkpoint, proven like any entry, and the keys they name with their intervals, so
an export is checked with no other source of keys (`assent verify` needs no `--keys`)."""

import uuid
from collections.abc import Collection, Sequence

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import LoggedEvent, key_history
from services.audit.chain.repository import ChainRepository, LoggedRow
from services.audit.chain.subjects import SubjectKind
from services.contracts.events import Topic
from services.contracts.signing import SIGNING_SERVICES, KeyRotated, PublicKeyRead, key_subject_id

log = structlog.get_logger()

_KEY_SUBJECTS: list[uuid.UUID] = [key_subject_id(purpose) for purpose in SIGNING_SERVICES.values()]


async def with_key_entries(
    session: AsyncSession, leaves: Collection[int], *, below: int
) -> set[int]:
    """The chain's leaves and every key entry of the log before `below` (the checkpoint's
    size): the keys are part of every chain."""
    keys = await ChainRepository(session).leaves_of(SubjectKind.KEY, _KEY_SUBJECTS)
    return {*leaves, *(leaf for leaf in keys if leaf < below)}


def carried_keys(rows: Sequence[LoggedRow]) -> list[PublicKeyRead]:
    """The keys the chain's key entries name, in log order, each with its interval."""
    rotations: list[KeyRotated] = []
    for row in sorted(rows, key=lambda row: int(row.leaf_index)):
        if row.topic != Topic.KEY_ROTATED:
            continue
        try:
            event = LoggedEvent.model_validate_json(row.entry)
            rotations.append(KeyRotated.model_validate(event.payload))
        except ValidationError:
            # Still in the export, proven; the verifier reports what it cannot read.
            log.error("audit.chain.key_entry_unreadable", leaf_index=row.leaf_index)
    return key_history(rotations)
