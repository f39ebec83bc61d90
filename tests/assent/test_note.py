"""C2SP signed notes, checkpoints and cosignatures, checked against the specs' own examples
(c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature, tlog-witness) and round trips."""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assent.protocol import (
    COSIGNATURE_V1,
    ED25519,
    AddCheckpoint,
    NoteError,
    NoteSigner,
    TreeHead,
    open_checkpoint,
    parse_add_checkpoint,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    verify_note,
)

# signed-note, "Example": this vkey verifies this note.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# tlog-cosignature's example checkpoint and its witness line (whose key the spec omits).
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SPEC_COSIGNATURE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def _signer(name: str, kind: int) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.generate(), kind)


def test_the_spec_example_note_verifies_with_the_spec_vkey() -> None:
    verifier = parse_vkey(SPEC_VKEY)
    note = parse_note(SPEC_NOTE)

    [verified] = verify_note(note, [verifier])

    assert verified.verifier.vkey == SPEC_VKEY
    assert note.text == "This is an example message.\n"
    assert note.format() == SPEC_NOTE
    # The key ID is SHA-256(name || 0x0A || 0x01 || key)[:4].
    raw = base64.b64decode(SPEC_VKEY.split("+")[2])
    assert hashlib.sha256(b"example.com/foo\n" + raw).digest()[:4].hex() == "530d903a"


def test_one_changed_character_fails_and_a_stranger_is_ignored() -> None:
    verifier = parse_vkey(SPEC_VKEY)
    altered = parse_note(SPEC_NOTE.replace("example message", "example massage"))
    with pytest.raises(NoteError, match="does not verify"):
        verify_note(altered, [verifier])
    stranger = _signer("example.com/bar", ED25519)
    with pytest.raises(NoteError, match="no signature on the note is from a known key"):
        verify_note(parse_note(SPEC_NOTE), [stranger.verifier])


def test_the_spec_cosignature_line_reads_as_a_timestamped_signature() -> None:
    note = parse_note(SPEC_CHECKPOINT + "\n" + SPEC_COSIGNATURE)
    head = parse_checkpoint(note.text)
    [cosignature] = note.signatures

    assert (head.origin, head.size) == ("example.com/behind-the-sofa", 20852163)
    assert head.text() == SPEC_CHECKPOINT
    assert len(cosignature.signature) == 8 + 64
    # 0x64 0x18 0x50 0xcb: the spec's "time 1679315147".
    assert int.from_bytes(cosignature.signature[:8], "big") == 1679315147


def test_a_cosignature_signs_the_header_the_time_and_the_checkpoint() -> None:
    log = _signer("example.com/behind-the-sofa", ED25519)
    witness = _signer("witness.example.com/w1", COSIGNATURE_V1)
    note = parse_note(SPEC_CHECKPOINT + "\n" + log.sign(SPEC_CHECKPOINT).line())

    cosigned = note.with_signatures([witness.cosign(note.text, 1679315147)])
    checked = open_checkpoint(cosigned.format(), [log.verifier], [witness.verifier])

    assert checked.cosigned == {witness.verifier.vkey: 1679315147}
    timestamp, signature = (
        cosigned.signatures[1].signature[:8],
        cosigned.signatures[1].signature[8:],
    )
    assert int.from_bytes(timestamp, "big") == 1679315147
    message = (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    Ed25519PublicKey.from_public_bytes(witness.verifier.public_key).verify(signature, message)
    # The key ID of a cosigner is over type 0x04, never a note key's 0x01.
    assert (
        witness.verifier.key_id
        == hashlib.sha256(b"witness.example.com/w1\n\x04" + witness.verifier.public_key).digest()[
            :4
        ]
    )


def test_a_checkpoint_without_a_required_cosignature_is_refused() -> None:
    log = _signer("assent.example/log", ED25519)
    first, second = _signer("w1.example", COSIGNATURE_V1), _signer("w2.example", COSIGNATURE_V1)
    head = TreeHead("assent.example/log", 3, hashlib.sha256(b"root").digest())
    note = parse_note(head.text() + "\n" + log.sign(head.text()).line())
    note = note.with_signatures([first.cosign(note.text, 1_800_000_000)])

    open_checkpoint(note, [log.verifier], [first.verifier])
    with pytest.raises(NoteError, match=r"no valid cosignature from witness w2\.example"):
        open_checkpoint(note, [log.verifier], [first.verifier, second.verifier])
    # A witness's key passed as a log key, or a log key as a witness, proves nothing.
    with pytest.raises(NoteError, match="not a witness key"):
        open_checkpoint(note, [log.verifier], [log.verifier])
    with pytest.raises(NoteError, match="no known log key is named after"):
        open_checkpoint(note, [first.verifier])


def test_a_cosignature_moved_to_another_checkpoint_fails() -> None:
    log = _signer("assent.example/log", ED25519)
    witness = _signer("w1.example", COSIGNATURE_V1)
    one = TreeHead("assent.example/log", 3, hashlib.sha256(b"one").digest())
    two = TreeHead("assent.example/log", 3, hashlib.sha256(b"two").digest())
    stolen = witness.cosign(one.text(), 1_800_000_000)
    note = parse_note(two.text() + "\n" + log.sign(two.text()).line() + stolen.line())

    with pytest.raises(NoteError, match=r"the signature of w1\.example does not verify"):
        open_checkpoint(note, [log.verifier], [witness.verifier])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no blank line\n— a AAAAAAA=\n", "no blank line"),
        ("text\n\n— a AAAA\n", "too short"),
        ("text\n\n- a AAAAAAAA\n", "not a signature line"),
        ("text\n\n— a+b AAAAAAAA\n", "plus sign"),
        ("text\r\n\n— a AAAAAAAA\n", "control character"),
        ("text\n\n— a AAAAAAAA", "does not end in a newline"),
    ],
)
def test_malformed_notes_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        parse_note(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("origin\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "not a decimal"),
        ("origin\n12\nCsUYapGGPo4dkMgI\n", "not 32"),
        ("origin\n12\n", "three non-empty lines"),
    ],
)
def test_malformed_checkpoints_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        parse_checkpoint(text)


def test_the_spec_add_checkpoint_request_round_trips() -> None:
    body = (
        "old 20852014\n"
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
        "\n"
        "example.com/behind-the-sofa\n"
        "20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        "\n"
        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    ).encode()

    request = parse_add_checkpoint(body)

    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert parse_note(request.note).text == SPEC_CHECKPOINT
    assert AddCheckpoint(request.old_size, request.proof, request.note).body() == body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"old 5\nnot base64!\n\nnote", "not valid base64"),
        (b"old 05\n\nnote", "'old <size>'"),
        (b"old 5\nAAAA\n\nnote", "32-byte hash"),
        (b"old 5\n", "no blank line"),
        (b"old 1\n" + b"".join([base64.b64encode(bytes(32)) + b"\n"] * 64) + b"\nn", "63"),
    ],
)
def test_malformed_add_checkpoint_requests_say_what_is_wrong(body: bytes, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        parse_add_checkpoint(body)


def test_a_vkey_whose_base64_holds_plus_signs_reads_back() -> None:
    signer = _signer("w1.example", COSIGNATURE_V1)
    while signer.verifier.vkey.count("+") < 3:
        signer = _signer("w1.example", COSIGNATURE_V1)

    assert parse_vkey(signer.verifier.vkey) == signer.verifier


def test_a_cosignature_from_an_unknown_witness_counts_for_nothing() -> None:
    log = _signer("assent.example/log", ED25519)
    pinned, stranger = _signer("w1.example", COSIGNATURE_V1), _signer("w1.example", COSIGNATURE_V1)
    head = TreeHead("assent.example/log", 3, hashlib.sha256(b"root").digest())
    note = parse_note(head.text() + "\n" + log.sign(head.text()).line())
    # Same name as the pinned witness, another key: its line is not the pinned witness's.
    note = note.with_signatures([stranger.cosign(note.text, 1_800_000_000)])

    assert open_checkpoint(note, [log.verifier]).cosigned == {}
    with pytest.raises(NoteError, match=r"no valid cosignature from witness w1\.example"):
        open_checkpoint(note, [log.verifier], [pinned.verifier])
