"""`assent witness serve` as a log meets it over HTTP (c2sp.org/tlog-witness): it cosigns
a checkpoint only once it is proven to extend the last one it cosigned, keeps that one
across a restart, and refuses everything else with the spec's status and a reason."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assent.protocol import (
    ED25519,
    AddCheckpoint,
    NoteSigner,
    open_checkpoint,
    parse_note,
    parse_signature_lines,
    parse_vkey,
)
from tests.fixtures.witness import TinyLog, WitnessProcess, assent, start_witness

ORIGIN = "audit.example/log"


def _entries(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix} entry {i}".encode() for i in range(count)]


@pytest.fixture
def log_key() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.generate(), ED25519)


@pytest.fixture
def log(log_key: NoteSigner) -> TinyLog:
    return TinyLog.with_key(log_key).append(*_entries("honest", 9))


@pytest.fixture
def witness(tmp_path: Path, log_key: NoteSigner) -> Iterator[WitnessProcess]:
    running = start_witness(tmp_path / "w1", "w1.example", [log_key.verifier.vkey])
    yield running
    running.stop()


def _add(witness: WitnessProcess, old: int, proof: list[bytes], note: str) -> httpx.Response:
    body = AddCheckpoint(old, proof, note).body()
    return httpx.post(f"{witness.url}/add-checkpoint", content=body, timeout=10)


def _kept(witness: WitnessProcess) -> httpx.Response:
    origin = hashlib.sha256(ORIGIN.encode()).hexdigest()
    return httpx.get(f"{witness.url}/{origin}/checkpoint", timeout=10)


def test_it_cosigns_checkpoints_that_extend_the_one_it_kept(
    witness: WitnessProcess, log: TinyLog, log_key: NoteSigner
) -> None:
    first = _add(witness, 0, [], log.note(5))
    second = _add(witness, 5, log.proof(5, 9), log.note(9))

    assert (first.status_code, second.status_code) == (200, 200)
    lines = parse_signature_lines(second.text)
    cosigned = parse_note(log.note(9)).with_signatures(lines)
    checked = open_checkpoint(cosigned, [log_key.verifier], [parse_vkey(witness.vkey)])
    assert checked.head.size == 9
    # The spec's monitor view: the latest cosigned checkpoint, with both signatures.
    kept = open_checkpoint(_kept(witness).text, [log_key.verifier], [parse_vkey(witness.vkey)])
    assert kept.head.root == log.root(9)


def test_a_split_view_is_refused_and_the_witness_keeps_its_view(
    witness: WitnessProcess, log: TinyLog, log_key: NoteSigner
) -> None:
    assert _add(witness, 0, [], log.note(5)).status_code == 200
    # A second log under the same origin and key, whose history differs from entry 3 on.
    fork = TinyLog.with_key(log_key).append(*log.leaves[:3], *_entries("forked", 6))

    refused = _add(witness, 5, fork.proof(5, 9), fork.note(9))

    assert refused.status_code == 422
    assert "is not proven to extend the one cosigned at size 5" in refused.text
    assert parse_note(_kept(witness).text).text == parse_note(log.note(5)).text
    # The honest log goes on being cosigned from the view the witness kept.
    assert _add(witness, 5, log.proof(5, 9), log.note(9)).status_code == 200


def test_a_truncated_proof_is_refused(witness: WitnessProcess, log: TinyLog) -> None:
    assert _add(witness, 0, [], log.note(5)).status_code == 200

    refused = _add(witness, 5, log.proof(5, 9)[:-1], log.note(9))

    assert refused.status_code == 422
    assert "the consistency proof from 5 to 9 is too short" in refused.text
    assert parse_note(_kept(witness).text).text == parse_note(log.note(5)).text


def test_a_checkpoint_older_than_the_one_kept_is_refused(
    witness: WitnessProcess, log: TinyLog
) -> None:
    assert _add(witness, 0, [], log.note(9)).status_code == 200

    older = _add(witness, 9, [], log.note(5))
    behind = _add(witness, 5, [], log.note(5))

    assert older.status_code == 400
    assert "old size 9 is past the checkpoint's size 5" in older.text
    # A log that thinks the witness is elsewhere learns the size it holds.
    assert (behind.status_code, behind.text) == (409, "9\n")
    assert behind.headers["content-type"] == "text/x.tlog.size"


def test_unknown_logs_bad_signatures_and_malformed_requests_are_refused(
    witness: WitnessProcess, log: TinyLog, log_key: NoteSigner
) -> None:
    stranger = NoteSigner("other.example/log", Ed25519PrivateKey.generate(), ED25519)
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate(), ED25519)
    other = TinyLog.with_key(stranger).append(b"x")
    forged = TinyLog.with_key(impostor).append(*log.leaves)
    # The witness's key signs the right name, but with a key ID it does not trust.
    tampered = log.note(5).replace(str(5), "6", 1)

    unknown = _add(witness, 0, [], other.note(1))
    unsigned = _add(witness, 0, [], forged.note(5))
    bad = _add(witness, 0, [], tampered)
    malformed = httpx.post(f"{witness.url}/add-checkpoint", content=b"old five\n\n", timeout=10)

    assert unknown.status_code == 404
    assert "no log key is configured for 'other.example/log'" in unknown.text
    assert unsigned.status_code == 403
    assert "no signature on the note is from a known key" in unsigned.text
    assert bad.status_code == 403
    assert "does not verify" in bad.text
    assert malformed.status_code == 400
    assert "'old <size>'" in malformed.text
    assert _kept(witness).status_code == 404


def test_the_kept_checkpoint_survives_a_restart_and_one_directory_has_one_server(
    witness: WitnessProcess, log: TinyLog, log_key: NoteSigner
) -> None:
    assert _add(witness, 0, [], log.note(7)).status_code == 200
    second = assent(
        "witness",
        "serve",
        "--data-dir",
        str(witness.data_dir),
        "--log-vkey",
        log_key.verifier.vkey,
        "--port",
        "0",
    )
    assert second.returncode == 2
    assert "another witness process serves" in second.stderr

    assert witness.stop() == 0
    again = start_witness(witness.data_dir, "w1.example", [log_key.verifier.vkey])
    try:
        assert again.vkey == witness.vkey
        answer = _add(again, 0, [], log.note(9))
        assert (answer.status_code, answer.text) == (409, "7\n")
        assert _add(again, 7, log.proof(7, 9), log.note(9)).status_code == 200
    finally:
        again.stop()
