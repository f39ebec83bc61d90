"""Checkpoints of the audit service cosigned by two witnesses, each `assent witness serve`
in its own process: published only once the quorum cosigned, served with the cosigned
note, and verified by `assent verify --witness`; a split view shown to one witness is
refused, and a checkpoint without its cosignature fails verification."""

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    AddCheckpoint,
    NoteSignature,
    NoteSigner,
    Signer,
    VerificationError,
    open_checkpoint,
    parse_note,
    parse_vkey,
    verify_witnessed,
)
from services.audit.sequencer import Sequencer
from services.audit.witnessing.config import WitnessSettings
from services.audit.witnessing.service import log_verifier
from services.audit.witnessing.submit import Witnessing
from tests.fixtures.witness import TinyLog, WitnessProcess, assent, start_witness
from tests.services.audit.helpers import AuditApi, consent, offer, tree_size
from tests.services.catalogue.helpers import Actor


class _LogKey(NoteSigner):
    """The audit log's own key signing notes outside the log: what an operator showing a
    split view does."""

    def __init__(self, signer: Signer) -> None:
        self.verifier = log_verifier(signer)
        self._signer = signer

    def sign(self, text: str) -> NoteSignature:
        signature = self._signer.sign_message(text.encode())
        return NoteSignature(self.verifier.name, self.verifier.key_id, signature)


@pytest.fixture
def log_vkey(app: FastAPI) -> str:
    return log_verifier(app.state.checkpoint_signer).vkey


@pytest.fixture
async def witnesses(
    app: FastAPI, tmp_path: Path, log_vkey: str
) -> AsyncIterator[list[WitnessProcess]]:
    """Two witnesses, quorum 2, swapped into the running app's sequencer."""
    running = [start_witness(tmp_path / name, name, [log_vkey]) for name in ("w1.test", "w2.test")]
    before: Witnessing = app.state.witnessing
    app.state.witnessing = Witnessing(
        witnesses=tuple(WitnessSettings(url=w.url, vkey=w.vkey) for w in running),
        quorum=2,
        transport=app.state.http,
        retry_seconds=0,
    )
    yield running
    app.state.witnessing = before
    for witness in running:
        witness.stop()


async def test_two_witnesses_cosign_a_checkpoint_before_it_is_served(
    audit: AuditApi,
    sequencer: Sequencer,
    session: AsyncSession,
    witnesses: list[WitnessProcess],
    log_vkey: str,
    auditor: Actor,
    ines: Actor,
    tmp_path: Path,
) -> None:
    work = uuid.uuid4()
    await audit.post(consent(work, ines), offer(work))

    started = time.perf_counter()
    done = await sequencer.run_once()
    elapsed = time.perf_counter() - started

    assert done.witnessed is not None
    assert sorted(done.witnessed.cosigned) == ["w1.test", "w2.test"]
    assert done.witnessed.published
    served = (await audit.checkpoint(auditor)).checkpoint
    assert served.checkpoint.tree_size == done.signed[-1] == await tree_size(session)
    assert served.note is not None
    checked = open_checkpoint(
        served.note, [parse_vkey(log_vkey)], [parse_vkey(w.vkey) for w in witnesses]
    )
    assert checked.head.root.hex() == served.checkpoint.root_hash
    note_bytes = len(served.note.encode())
    print(
        f"\nnote: {len(parse_note(served.note).text.encode())} B text, {note_bytes} B with the "
        f"log's signature and 2 cosignatures; pass with 2 witnesses {elapsed * 1000:.0f} ms; "
        f"round trips {done.witnessed.round_trip_ms}"
    )
    # `assent verify --witness` on the checkpoint document, with the published keys.
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [k.model_dump() for k in await audit.keys(auditor)]}))
    document = tmp_path / "checkpoint.json"
    document.write_text(served.model_dump_json())
    args = ["verify", str(document), "--keys", str(keys)]
    verified = assent(*args, *(a for w in witnesses for a in ("--witness", w.vkey)))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "witnessed by: w1.test at" in verified.stdout
    # The work's chain export, checked offline with its own keys; then the same export with
    # w2's cosignature taken out of its note fails when w2 is required.
    chain = await audit.work_chain(auditor, work)
    export = tmp_path / "chain.json"
    export.write_text(chain.model_dump_json())
    required = ["--keys", str(keys), *(a for w in witnesses for a in ("--witness", w.vkey))]
    whole = assent("verify", str(export), *required)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert chain.checkpoint.note is not None
    without_w2 = "".join(
        line for line in chain.checkpoint.note.splitlines(keepends=True) if "w2.test" not in line
    )
    stripped = chain.model_copy(
        update={"checkpoint": chain.checkpoint.model_copy(update={"note": without_w2})}
    )
    export.write_text(stripped.model_dump_json())
    refused = assent("verify", str(export), *required)
    assert refused.returncode == 1
    assert "no valid cosignature from witness w2.test" in refused.stdout
    assert assent("verify", str(export), *required[:4]).returncode == 0


async def test_a_checkpoint_waits_unpublished_until_the_quorum_cosigned(
    app: FastAPI,
    audit: AuditApi,
    sequencer: Sequencer,
    witnesses: list[WitnessProcess],
    auditor: Actor,
    ines: Actor,
) -> None:
    await audit.post(consent(uuid.uuid4(), ines))
    await sequencer.run_once()
    published = (await audit.checkpoint(auditor)).checkpoint.checkpoint.tree_size
    witnesses[1].stop()

    await audit.post(consent(uuid.uuid4(), ines))
    done = await sequencer.run_once()

    assert done.witnessed is not None
    assert done.witnessed.cosigned == ["w1.test"]
    assert "unreachable" in done.witnessed.refused["w2.test"]
    assert not done.witnessed.published
    # Signed but cosigned by one witness of two: the latest served is still the older one.
    assert (await audit.checkpoint(auditor)).checkpoint.checkpoint.tree_size == published
    assert done.signed
    assert done.signed[-1] > published


async def test_a_split_view_is_refused_and_fails_verification_without_its_cosignature(
    app: FastAPI,
    audit: AuditApi,
    sequencer: Sequencer,
    witnesses: list[WitnessProcess],
    log_vkey: str,
    auditor: Actor,
    ines: Actor,
) -> None:
    await audit.post(consent(uuid.uuid4(), ines), consent(uuid.uuid4(), ines))
    await sequencer.run_once()
    honest = (await audit.checkpoint(auditor)).checkpoint
    size = honest.checkpoint.tree_size
    # The operator signs a second history under the same origin and key: a log whose
    # entries are not the witnessed ones, grown past the witnessed size.
    fork = TinyLog.with_key(_LogKey(app.state.checkpoint_signer)).append(
        *(b"forged %d" % i for i in range(size + 3))
    )
    w2 = witnesses[1]
    body = AddCheckpoint(size, fork.proof(size, size + 3), fork.note(size + 3)).body()
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{w2.url}/add-checkpoint", content=body)

    assert refused.status_code == 422
    assert f"not proven to extend the one cosigned at size {size}" in refused.text
    # Verified as an auditor does, requiring both witnesses: the fork lacks w2's cosignature.
    keys = await audit.keys(auditor)
    fork_checkpoint = honest.checkpoint.model_copy(
        update={"tree_size": size + 3, "root_hash": fork.root(size + 3).hex()}
    )
    with pytest.raises(
        VerificationError, match=r"no valid cosignature from witness w1\.test, w2\.test"
    ):
        verify_witnessed(
            fork.note(size + 3),
            fork_checkpoint,
            keys[0],
            [parse_vkey(w.vkey) for w in witnesses],
            kind="audit checkpoint",
        )
    # w2 kept its view: the honest log's next checkpoint is still cosigned by both.
    await audit.post(consent(uuid.uuid4(), ines))
    done = await sequencer.run_once()
    assert done.witnessed is not None
    assert sorted(done.witnessed.cosigned) == ["w1.test", "w2.test"]
