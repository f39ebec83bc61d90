"""The witness's one decision: cosign a checkpoint, or refuse it with tlog-witness's status.

c2sp.org/tlog-witness, add-checkpoint, in the order the spec gives its checks: 400 for a
malformed request, 404 for an origin no configured log key is named after, 403 when no
trusted signature verifies (or a trusted key's fails), 400 when the old size is past the
checkpoint's, 409 (with the kept size, `text/x.tlog.size`) when the old size is not the
size last cosigned, 422 when the consistency proof does not prove the checkpoint extends
the kept one. Only then is the checkpoint kept and cosigned (cosignature/v1).
"""

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assent.protocol import (
    ED25519,
    EMPTY_ROOT,
    NoteError,
    NoteSigner,
    NoteVerifier,
    VerificationError,
    parse_add_checkpoint,
    parse_checkpoint,
    parse_note,
    verify_consistency,
    verify_note,
)

from ._state import Kept, WitnessState

SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def _refuse(status: int, reason: str) -> Answer:
    return Answer(status, reason + "\n")


class Witness:
    def __init__(
        self,
        signer: NoteSigner,
        state: WitnessState,
        log_keys: Sequence[NoteVerifier],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for key in log_keys:
            if key.signature_type != ED25519:
                raise NoteError(f"log key {key.name} is not an Ed25519 note key (type 0x01)")
        self.signer = signer
        self._state = state
        self._log_keys = list(log_keys)
        self._clock = clock
        # One checkpoint at a time: the check against the kept size and the write of the
        # new one must not interleave with another request's.
        self._lock = threading.Lock()

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            request = parse_add_checkpoint(body)
            note = parse_note(request.note)
            head = parse_checkpoint(note.text)
        except NoteError as malformed:
            return _refuse(400, f"malformed request: {malformed.problem}")
        keys = [key for key in self._log_keys if key.name == head.origin]
        if not keys:
            return _refuse(404, f"unknown log: no log key is configured for {head.origin!r}")
        try:
            verify_note(note, keys)
        except NoteError as unsigned:
            return _refuse(403, f"checkpoint of {head.origin!r}: {unsigned.problem}")
        if request.old_size > head.size:
            return _refuse(
                400, f"old size {request.old_size} is past the checkpoint's size {head.size}"
            )
        if head.size == 0 and head.root != EMPTY_ROOT:
            return _refuse(422, "a checkpoint of size 0 must have the root of the empty tree")
        with self._lock:
            kept = self._state.get(head.origin)
            kept_size = kept.size if kept is not None else 0
            if request.old_size != kept_size:
                return Answer(409, f"{kept_size}\n", SIZE_CONTENT_TYPE)
            if kept is None or request.old_size == 0:
                if request.proof:
                    return _refuse(422, "a proof from size 0 must be empty")
            else:
                try:
                    verify_consistency(kept.size, head.size, kept.root, head.root, request.proof)
                except VerificationError as inconsistent:
                    return _refuse(
                        422,
                        f"the checkpoint of size {head.size} is not proven to extend the one "
                        f"cosigned at size {kept.size}: {inconsistent.problem}",
                    )
            cosignature = self.signer.cosign(note.text, int(self._clock()))
            cosigned = note.with_signatures([cosignature])
            self._state.keep(head.origin, Kept(head.size, head.root, cosigned.format()))
        return Answer(200, cosignature.line())

    def checkpoint(self, origin_hash: str) -> Answer:
        """The latest cosigned checkpoint of the log whose origin hashes to `origin_hash`
        (tlog-witness, monitor retrieval)."""
        for origin in self._state.origins():
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                kept = self._state.get(origin)
                if kept is not None:
                    return Answer(200, kept.note)
        return _refuse(404, "this witness has cosigned no checkpoint of that log")
