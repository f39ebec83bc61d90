"""C2SP signed notes, tlog checkpoints, Ed25519 cosignatures and the witness's request body.

The formats, byte for byte:
- c2sp.org/signed-note: a text ending in a newline, a blank line, then lines
  `— <name> base64(key ID || signature)`; the key ID is
  SHA-256(name || 0x0A || type || public key)[:4]; a verifier key (vkey) is
  `<name>+<hex key ID>+base64(type || public key)`.
- c2sp.org/tlog-checkpoint: the text is `<origin>\\n<tree size>\\n<base64 root>\\n`. This log
  writes no extension lines (the spec does not recommend them: monitors cannot audit them).
- c2sp.org/tlog-cosignature, cosignature/v1: type 0x04; the signature is
  u64 big-endian timestamp || Ed25519 over `cosignature/v1\\ntime <t>\\n<checkpoint text>`.
- c2sp.org/tlog-witness, add-checkpoint: `old <size>\\n`, up to 63 base64 proof lines, a blank
  line, then the signed checkpoint.

Written here rather than installed: these are a few lines of text around Ed25519, which
`cryptography` already gives the lab client; the Python packages that implement them are
months old and single-maintainer, while the specs are short and exact, and their examples
are the tests' vectors (tests/assent/test_note.py).
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.contracts.audit import Checkpoint
from services.contracts.signing import PublicKeyRead

from ._errors import VerificationError
from ._merkle import HASH_SIZE
from ._signing import public_key_from

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SignatureType = Literal[0x01, 0x04]
_TYPES: dict[int, str] = {ED25519: "Ed25519 note key", COSIGNATURE_V1: "cosignature/v1 key"}

DASH = "\u2014"
# signed-note: verifiers MUST accept at least 16 signatures; beyond that a note is refused.
MAX_SIGNATURES = 64
# tlog-witness: a client MUST NOT send more than 63 consistency proof lines.
MAX_PROOF_LINES = 63
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_TIMESTAMP_LIMIT = 2**63 - 1


class NoteError(VerificationError):
    """A note, vkey, checkpoint or witness request is not well formed."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} is empty or holds a space or a plus sign")
    return name


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], as signed-note recommends and
    tlog-cosignature requires."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes
    """What follows the key ID: the Ed25519 signature, or timestamp || signature."""

    def line(self) -> str:
        return f"{DASH} {self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    text: str
    """Up to and including its final newline, without the blank line."""
    signatures: tuple[NoteSignature, ...]

    def format(self) -> str:
        return self.text + "\n" + "".join(signature.line() for signature in self.signatures)

    def with_signatures(self, signatures: Iterable[NoteSignature]) -> "Note":
        return Note(self.text, (*self.signatures, *signatures))


def parse_note(note: str | bytes) -> Note:
    """A signed note split into its text and signature lines; raises NoteError."""
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError as exc:
            raise NoteError("the note is not UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("the note holds a control character other than newline")
    if not note.endswith("\n"):
        raise NoteError("the note does not end in a newline")
    # The text is separated from the signatures by the last blank line.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line before its signatures")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    if not lines:
        raise NoteError("the note has no signature line")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def parse_signature_lines(lines: str) -> list[NoteSignature]:
    """Signature lines alone, as a witness answers add-checkpoint; raises NoteError."""
    if not lines.endswith("\n"):
        raise NoteError("signature lines must each end in a newline")
    return [_parse_signature(line) for line in lines.splitlines()]


def _parse_signature(line: str) -> NoteSignature:
    prefix = DASH + " "
    parts = line[len(prefix) :].split(" ")
    if not line.startswith(prefix) or len(parts) != 2:
        raise NoteError(f"{line[:60]!r} is not a signature line ('— <name> <base64>')")
    name, encoded = parts
    _check_name(name)
    raw = _b64decode(encoded, f"the signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"the signature of {name} is too short")
    return NoteSignature(name, raw[:4], raw[4:])


# --- keys ---


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted key: an Ed25519 note key (0x01) or an Ed25519 cosigner key (0x04)."""

    name: str
    key_id: bytes
    signature_type: int
    public_key: bytes

    @classmethod
    def of(cls, name: str, signature_type: int, public_key: bytes) -> "NoteVerifier":
        if signature_type not in _TYPES or len(public_key) != 32:
            raise NoteError(f"{name}: only 32-byte Ed25519 keys of type 0x01 or 0x04 are read")
        return cls(
            _check_name(name), key_id(name, signature_type, public_key), signature_type, public_key
        )

    @property
    def vkey(self) -> str:
        encoded = _b64(bytes([self.signature_type]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def matches(self, signature: NoteSignature) -> bool:
        return signature.name == self.name and signature.key_id == self.key_id

    def check(self, text: str, signature: NoteSignature) -> int | None:
        """Raises NoteError unless the signature verifies; a cosignature's timestamp."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        timestamp: int | None = None
        message, raw = text.encode(), signature.signature
        if self.signature_type == COSIGNATURE_V1:
            if len(raw) != 8 + 64:
                raise NoteError(f"the cosignature of {self.name} is not 72 bytes")
            timestamp = int.from_bytes(raw[:8], "big")
            if timestamp > _TIMESTAMP_LIMIT:
                raise NoteError(f"the cosignature of {self.name} has a timestamp past 2^63 - 1")
            message, raw = cosigned_message(text, timestamp), raw[8:]
        try:
            key.verify(raw, message)
        except InvalidSignature as exc:
            raise NoteError(f"the signature of {self.name} does not verify") from exc
        return timestamp


def parse_vkey(vkey: str) -> NoteVerifier:
    """`<name>+<hex key ID>+base64(type || public key)`; raises NoteError."""
    # The base64 key may itself hold plus signs; the name and the key ID never do.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise NoteError(f"{vkey[:60]!r} is not a vkey (<name>+<8 hex digits>+<base64 key>)")
    name, hex_id, encoded = parts
    raw = _b64decode(encoded, f"the key of vkey {name}")
    if not raw:
        raise NoteError(f"vkey {name} holds no key")
    verifier = NoteVerifier.of(name, raw[0], raw[1:])
    if verifier.key_id.hex() != hex_id:
        raise NoteError(f"vkey {name}: key ID {hex_id} is not that of its name and key")
    return verifier


class NoteSigner:
    """Signs notes (type 0x01) or cosigns checkpoints (type 0x04) with an Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, signature_type: int) -> None:
        self._key = private_key
        self.verifier = NoteVerifier.of(name, signature_type, _raw(private_key.public_key()))

    def sign(self, text: str) -> NoteSignature:
        """A log's signature over a note's text."""
        if self.verifier.signature_type != ED25519:
            raise ValueError("a cosigner signs with cosign()")
        return NoteSignature(
            self.verifier.name, self.verifier.key_id, self._key.sign(text.encode())
        )

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        if self.verifier.signature_type != COSIGNATURE_V1:
            raise ValueError("a note key signs with sign()")
        if not 0 < timestamp <= _TIMESTAMP_LIMIT:
            raise ValueError("a cosignature's timestamp is a positive POSIX time")
        signature = self._key.sign(cosigned_message(text, timestamp))
        return NoteSignature(
            self.verifier.name, self.verifier.key_id, timestamp.to_bytes(8, "big") + signature
        )


def note_verifier(name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
    """The verifier of a log's Ed25519 note key (the audit checkpoint key under the origin)."""
    return NoteVerifier.of(name, ED25519, _raw(public_key))


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Verified:
    verifier: NoteVerifier
    timestamp: int | None


def verify_note(note: Note, verifiers: Sequence[NoteVerifier]) -> list[Verified]:
    """The known keys whose signatures verify. Unknown keys are ignored; a known key whose
    signature fails, or no known key at all, raises NoteError (signed-note)."""
    found: list[Verified] = []
    for signature in note.signatures:
        for verifier in verifiers:
            if verifier.matches(signature):
                found.append(Verified(verifier, verifier.check(note.text, signature)))
    if not found:
        raise NoteError("no signature on the note is from a known key")
    return found


# --- checkpoints ---


@dataclass(frozen=True)
class TreeHead:
    """The body of a tlog-checkpoint: origin, size and RFC 6962 root. This log writes no
    extension lines (monitors cannot audit them); a witness keeps those of other logs."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> TreeHead:
    """A checkpoint's note text; raises NoteError."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or "" in lines[:-1]:
        raise NoteError("a checkpoint is three non-empty lines: origin, tree size, root hash")
    origin, size, root, *extensions = lines[:-1]
    if not _DECIMAL.fullmatch(size):
        raise NoteError(f"the checkpoint's tree size {size[:30]!r} is not a decimal number")
    digest = _b64decode(root, "the checkpoint's root hash")
    if len(digest) != HASH_SIZE:
        raise NoteError(f"the checkpoint's root hash is {len(digest)} bytes, not {HASH_SIZE}")
    return TreeHead(origin, int(size), digest, tuple(extensions))


@dataclass(frozen=True)
class CheckpointNote:
    head: TreeHead
    note: Note
    log_key: NoteVerifier
    cosigned: dict[str, int]
    """Each given witness's vkey, with the POSIX time it cosigned at."""


def open_checkpoint(
    note: str | bytes | Note,
    log_keys: Sequence[NoteVerifier],
    witnesses: Sequence[NoteVerifier] = (),
) -> CheckpointNote:
    """A checkpoint signed by a log key named after its origin, and cosigned by every
    witness given; raises NoteError (or VerificationError) naming what is missing."""
    parsed = note if isinstance(note, Note) else parse_note(note)
    head = parse_checkpoint(parsed.text)
    logs = [key for key in log_keys if key.signature_type == ED25519 and key.name == head.origin]
    if not logs:
        raise NoteError(f"no known log key is named after the checkpoint's origin {head.origin!r}")
    cosigners = list(witnesses)
    for key in cosigners:
        if key.signature_type != COSIGNATURE_V1:
            raise NoteError(f"{key.name} is not a witness key (a cosignature/v1 vkey, type 0x04)")
    try:
        verified = verify_note(parsed, [*logs, *cosigners])
    except NoteError as exc:
        raise NoteError(f"checkpoint of {head.origin!r} at size {head.size}: {exc}") from exc
    log_key = next((v.verifier for v in verified if v.verifier in logs), None)
    if log_key is None:
        raise NoteError(f"the checkpoint of {head.origin!r} carries no signature of its log")
    cosigned = {v.verifier.vkey: v.timestamp or 0 for v in verified if v.verifier in cosigners}
    missing = [key.name for key in cosigners if key.vkey not in cosigned]
    if missing:
        raise NoteError(
            f"the checkpoint of {head.origin!r} at size {head.size} has no valid cosignature "
            f"from witness {', '.join(missing)}"
        )
    return CheckpointNote(head, parsed, log_key, cosigned)


# --- tlog-witness add-checkpoint ---


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str
    """The signed checkpoint as sent."""

    def body(self) -> bytes:
        lines = [f"old {self.old_size}\n", *(_b64(h) + "\n" for h in self.proof), "\n"]
        return ("".join(lines) + self.note).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """An add-checkpoint request body; raises NoteError (the witness answers 400)."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise NoteError("the request is not UTF-8") from exc
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise NoteError("the request has no blank line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old ") or not _DECIMAL.fullmatch(lines[0][4:]):
        raise NoteError("the request's first line is not 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise NoteError(f"the consistency proof has more than {MAX_PROOF_LINES} lines")
    proof = [_b64decode(line, "a consistency proof line") for line in lines[1:]]
    if any(len(h) != HASH_SIZE for h in proof):
        raise NoteError(f"a consistency proof line is not a {HASH_SIZE}-byte hash")
    return AddCheckpoint(int(lines[0][4:]), proof, note)


# --- a checkpoint document's note ---


def verify_witnessed(
    note: str | None,
    checkpoint: Checkpoint,
    key: PublicKeyRead,
    witnesses: Sequence[NoteVerifier],
    *,
    kind: str,
) -> CheckpointNote | None:
    """A verified checkpoint's note, once it is signed by the key that signed the
    checkpoint, states the same tree head, and carries a valid cosignature of each witness
    given. None for a checkpoint with no note when no witness is asked for."""
    if note is None:
        if witnesses:
            raise VerificationError(
                "the checkpoint carries no signed note, so no witness cosigned it", kind=kind
            )
        return None
    log_key = note_verifier(checkpoint.origin, public_key_from(key))
    try:
        opened = open_checkpoint(note, [log_key], witnesses)
    except VerificationError as exc:
        raise VerificationError(f"signed note: {exc.problem}", kind=kind) from exc
    head = opened.head
    if (head.origin, head.size, head.root.hex()) != (
        checkpoint.origin,
        checkpoint.tree_size,
        checkpoint.root_hash,
    ):
        raise VerificationError(
            f"signed note: it states tree size {head.size} with root {head.root.hex()}, the "
            f"checkpoint tree size {checkpoint.tree_size} with root {checkpoint.root_hash}",
            kind=kind,
        )
    return opened
