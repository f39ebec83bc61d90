"""The newest note submitted to every witness that has not cosigned it (tlog-witness
add-checkpoint), each with a consistency proof from the size it last cosigned.

The size each witness holds is remembered from its answers; a witness that holds another
size says so with 409 and its size, and the submission is made again, once, with a proof
from there. The calls run side by side, outside any transaction.
"""

import asyncio
import time
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assent.protocol import (
    AddCheckpoint,
    Note,
    NoteError,
    parse_note,
    parse_signature_lines,
    verify_note,
)
from services.audit.witnessing.config import WitnessSettings
from services.audit.witnessing.service import Cosigned, NoteToWitness, witnessing_service
from services.kit.client import Transport, TransportFailed
from services.kit.db import utcnow

log = structlog.get_logger()


@dataclass(frozen=True)
class Witnessing:
    """The witnesses the log submits to and the quorum that publishes a checkpoint."""

    witnesses: tuple[WitnessSettings, ...] = ()
    quorum: int = 0
    transport: Transport | None = None
    # How soon a witness that did not cosign the newest checkpoint is asked again.
    retry_seconds: float = 5.0


@dataclass
class WitnessPass:
    """What one round of submissions did."""

    tree_size: int | None = None
    cosigned: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    round_trip_ms: dict[str, float] = field(default_factory=dict)
    published: bool = False


@dataclass
class _Outcome:
    witness: WitnessSettings
    view: int | None = None
    cosigned: Cosigned | None = None
    refused: str | None = None
    round_trip_ms: float = 0.0
    retry_from: int | None = None


async def witness_newest(
    sessionmaker: async_sessionmaker[AsyncSession], witnessing: Witnessing
) -> WitnessPass:
    done = WitnessPass()
    if not witnessing.witnesses or witnessing.transport is None:
        return done
    vkeys = [w.vkey for w in witnessing.witnesses]
    async with sessionmaker() as session, session.begin():
        todo = await witnessing_service.to_witness(session, vkeys)
    if todo is None:
        return done
    done.tree_size = todo.tree_size
    newest = todo.tree_size
    proofs: dict[int, list[bytes]] = {}
    by_vkey = {w.vkey: w for w in witnessing.witnesses}
    asking = dict(todo.views)
    outcomes: list[_Outcome] = []
    # A witness that answers 409 holds another size than we thought: it is asked once
    # more, from the size it named. Proofs are read in one transaction per round, before
    # the calls, which then run side by side.
    for attempt in range(2):
        needed = {size for size in asking.values() if size <= newest} - set(proofs)
        if needed:
            async with sessionmaker() as session, session.begin():
                for size in needed:
                    proofs[size] = await witnessing_service.consistency(session, size, newest)
        answers = await asyncio.gather(
            *(
                _submit(witnessing.transport, by_vkey[vkey], todo, old, proofs.get(old))
                for vkey, old in asking.items()
            )
        )
        asking = {}
        for outcome in answers:
            if outcome.retry_from is not None and not attempt:
                asking[outcome.witness.vkey] = outcome.retry_from
            else:
                if outcome.retry_from is not None:
                    outcome.refused = f"409 twice: the witness holds size {outcome.retry_from}"
                _log(outcome.witness, newest, outcome)
                outcomes.append(outcome)
        if not asking:
            break
    async with sessionmaker() as session, session.begin():
        done.published = await witnessing_service.record(
            session,
            todo.tree_size,
            [o.cosigned for o in outcomes if o.cosigned is not None],
            {o.witness.vkey: o.view for o in outcomes if o.view is not None},
            witnesses=vkeys,
            quorum=witnessing.quorum,
            now=utcnow(),
        )
    for outcome in outcomes:
        name = outcome.witness.verifier.name
        done.round_trip_ms[name] = outcome.round_trip_ms
        if outcome.cosigned is not None:
            done.cosigned.append(name)
        elif outcome.refused is not None:
            done.refused[name] = outcome.refused
    return done


async def _submit(
    transport: Transport,
    witness: WitnessSettings,
    todo: NoteToWitness,
    old: int,
    proof: list[bytes] | None,
) -> _Outcome:
    outcome = _Outcome(witness)
    if proof is None:
        outcome.refused = (
            f"the witness holds size {old}, past the log's newest checkpoint "
            f"{todo.tree_size}: it has seen another history of this log"
        )
        return outcome
    body = AddCheckpoint(old, proof, todo.note).body()
    started = time.perf_counter()
    try:
        response = await transport.send(
            "POST",
            f"{witness.url}/add-checkpoint",
            content=body,
            headers={"content-type": "text/plain; charset=utf-8"},
        )
    except TransportFailed as exc:
        outcome.refused = f"unreachable: {exc}"
        return outcome
    finally:
        outcome.round_trip_ms = (time.perf_counter() - started) * 1000
    if response.status_code == 409 and response.text.strip().isdigit():
        outcome.retry_from = outcome.view = int(response.text.strip())
    elif response.status_code == 200:
        outcome.cosigned = _cosignature(response.text, todo, witness)
        if outcome.cosigned is None:
            outcome.refused = "answered with no valid cosignature by its key"
        else:
            outcome.view = todo.tree_size
    else:
        outcome.refused = f"{response.status_code}: {response.text.strip()[:300]}"
    return outcome


def _cosignature(answer: str, todo: NoteToWitness, witness: WitnessSettings) -> Cosigned | None:
    """The witness's own cosignature among the lines it returned, once it verifies over
    this note's text (tlog-witness: ignore cosignatures from unknown keys). The log's
    signature is ours, made with the key valid when the checkpoint was signed."""
    key = witness.verifier
    try:
        lines = [s for s in parse_signature_lines(answer) if key.matches(s)]
        text = parse_note(todo.note).text
        [verified] = verify_note(Note(text, tuple(lines[:1])), [key])
    except (NoteError, ValueError):
        return None
    return Cosigned(witness.vkey, lines[0].line(), verified.timestamp or 0)


def _log(witness: WitnessSettings, tree_size: int, outcome: _Outcome) -> None:
    name = witness.verifier.name
    elapsed = round(outcome.round_trip_ms, 1)
    if outcome.cosigned is not None:
        log.info("audit.witness.cosigned", witness=name, tree_size=tree_size, ms=elapsed)
    elif outcome.refused is not None and outcome.refused.startswith(("422", "403")):
        # A witness that refuses our own signed checkpoint has seen another history.
        log.error(
            "audit.witness.refused", witness=name, tree_size=tree_size, reason=outcome.refused
        )
    else:
        log.warning(
            "audit.witness.unavailable", witness=name, tree_size=tree_size, reason=outcome.refused
        )
