"""Notes signed beside checkpoints, cosignatures kept, and the quorum that publishes.

The note of a checkpoint is signed in the sequencer's transaction that signs the
checkpoint, with the same key, so every checkpoint has its note from the start; the
submissions to witnesses happen after commit (`submit.py`), and their answers are
recorded here in a transaction of their own.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    Note,
    NoteSignature,
    NoteVerifier,
    Signer,
    TreeHead,
    consistency_ranges,
    nodes_for,
    note_verifier,
    range_hash,
)
from services.audit.log.repository import LogRepository
from services.audit.models import SignedCheckpoint
from services.audit.witnessing.models import CheckpointNote, NoteCosignature
from services.audit.witnessing.repository import NoteRepository
from services.contracts.audit import LOG_ORIGIN, CheckpointRead


def log_verifier(signer: Signer) -> NoteVerifier:
    """The log's note key: the checkpoint key, named after the log's origin (tlog-checkpoint:
    the key name SHOULD match the origin line)."""
    return note_verifier(LOG_ORIGIN, signer.public_key)


@dataclass(frozen=True)
class NoteToWitness:
    """The newest note, and the witnesses (by vkey) that have not cosigned it yet, each
    with the size it last told us it holds."""

    tree_size: int
    note: str
    views: dict[str, int]


@dataclass(frozen=True)
class Cosigned:
    witness: str
    """The witness's vkey."""
    line: str
    timestamp: int


class WitnessingService:
    async def sign_note(
        self,
        session: AsyncSession,
        checkpoint: SignedCheckpoint,
        *,
        signer: Signer,
        quorum: int,
        now: datetime,
    ) -> CheckpointNote:
        """The checkpoint as a signed tlog-checkpoint note; published at once with no
        witnesses to wait for."""
        head = TreeHead(LOG_ORIGIN, checkpoint.tree_size, bytes.fromhex(checkpoint.root_hash))
        text = head.text()
        key = log_verifier(signer)
        signature = NoteSignature(key.name, key.key_id, signer.sign_message(text.encode()))
        note = CheckpointNote(
            tree_size=checkpoint.tree_size,
            note=Note(text, (signature,)).format(),
            signed_at=now,
            witnessed_at=now if quorum == 0 else None,
        )
        return await NoteRepository(session).create(note)

    async def to_witness(
        self, session: AsyncSession, witnesses: Sequence[str]
    ) -> NoteToWitness | None:
        """The newest note, if a configured witness has not cosigned it. An older note a
        witness missed is never sent: the witness cosigns only forward, and the newest
        checkpoint is the one worth publishing."""
        repository = NoteRepository(session)
        newest = await repository.newest()
        if newest is None:
            return None
        done = {c.witness for c in await repository.cosignatures(newest.tree_size)}
        views = await repository.views()
        waiting = {vkey: views.get(vkey, 0) for vkey in witnesses if vkey not in done}
        if not waiting:
            return None
        return NoteToWitness(newest.tree_size, newest.note, waiting)

    async def consistency(self, session: AsyncSession, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[new_size]) from the log's stored subtrees."""
        ranges = consistency_ranges(old_size, new_size)
        nodes = await LogRepository(session).stored_nodes(nodes_for(ranges))
        return [range_hash(start, end, nodes) for start, end in ranges]

    async def record(
        self,
        session: AsyncSession,
        tree_size: int,
        cosigned: Sequence[Cosigned],
        views: dict[str, int],
        *,
        witnesses: Sequence[str],
        quorum: int,
        now: datetime,
    ) -> bool:
        """Keep the cosignatures and what each witness said it holds; whether the note
        is now published."""
        repository = NoteRepository(session)
        for witness, size in views.items():
            await repository.set_view(witness, size, at=now)
        for cosignature in cosigned:
            await repository.add_cosignature(
                NoteCosignature(
                    tree_size=tree_size,
                    witness=cosignature.witness,
                    line=cosignature.line,
                    cosigned_at=datetime.fromtimestamp(cosignature.timestamp, UTC),
                )
            )
        note = await repository.get(tree_size)
        if note is None:
            return False
        if (
            note.witnessed_at is None
            and await repository.count_cosignatures(tree_size, witnesses) >= quorum
        ):
            note.witnessed_at = now
            await session.flush()
        return note.witnessed_at is not None

    async def latest_published(self, session: AsyncSession) -> SignedCheckpoint | None:
        return await NoteRepository(session).latest_published()

    async def with_note(self, session: AsyncSession, read: CheckpointRead) -> CheckpointRead:
        """The checkpoint with its note: the log's signature line and every cosignature
        kept (a checkpoint signed before notes existed has none)."""
        repository = NoteRepository(session)
        note = await repository.get(read.checkpoint.tree_size)
        if note is None:
            return read
        cosignatures = await repository.cosignatures(note.tree_size)
        lines = "".join(c.line for c in cosignatures)
        witnesses = [c.witness for c in cosignatures]
        return read.model_copy(update={"note": note.note + lines, "witnesses": witnesses})


witnessing_service = WitnessingService()
