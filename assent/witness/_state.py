"""A witness's data directory: its key, and per log origin the last checkpoint it cosigned.

    DIR/witness.json   {"name": ..., "seed": base64 Ed25519 seed}  (mode 0600)
    DIR/state.json     {origin: {"size": n, "root": base64, "note": cosigned checkpoint}}
    DIR/lock           held (flock) by the one process serving DIR

state.json is replaced whole, never edited: written to a temporary file in DIR, flushed to
disk, renamed over the old one (atomic on POSIX), then the directory flushed, so a crash
leaves either the old state or the new one. tlog-witness requires the witness to persist
a checkpoint before answering with its cosignature: a witness that forgot what it signed
could be walked back onto a shorter, forked tree.
"""

import base64
import fcntl
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assent.protocol import COSIGNATURE_V1, NoteSigner

KEY_FILE = "witness.json"
STATE_FILE = "state.json"
LOCK_FILE = "lock"


class WitnessSetupError(Exception):
    """The data directory is missing, unreadable, or served by another process."""


@dataclass(frozen=True)
class Kept:
    """The latest checkpoint a witness cosigned for one log."""

    size: int
    root: bytes
    note: str


def _write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def default_name() -> str:
    """A key name no other witness is likely to hold (signed-note: no spaces, no plus)."""
    return f"assent-witness/{secrets.token_hex(4)}"


def init_witness(data_dir: Path, name: str | None = None) -> NoteSigner:
    """A new witness key in `data_dir`, or the one already there (never replaced: its
    cosignatures are what auditors pinned)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / KEY_FILE
    if key_file.exists():
        existing = load_signer(data_dir)
        if name is not None and name != existing.verifier.name:
            raise WitnessSetupError(
                f"{data_dir} already holds witness {existing.verifier.name!r}; a new name "
                "needs a new data directory"
            )
        return existing
    key = Ed25519PrivateKey.generate()
    signer = NoteSigner(name or default_name(), key, COSIGNATURE_V1)
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    document = {"name": signer.verifier.name, "seed": seed}
    _write_atomically(key_file, json.dumps(document, indent=2).encode() + b"\n")
    return signer


def load_signer(data_dir: Path) -> NoteSigner:
    try:
        document = json.loads((data_dir / KEY_FILE).read_bytes())
        seed = base64.b64decode(document["seed"], validate=True)
        return NoteSigner(
            document["name"], Ed25519PrivateKey.from_private_bytes(seed), COSIGNATURE_V1
        )
    except FileNotFoundError as exc:
        raise WitnessSetupError(
            f"{data_dir} holds no witness key: run `assent witness init --data-dir {data_dir}`"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WitnessSetupError(f"{data_dir / KEY_FILE} is not a witness key: {exc}") from exc


class WitnessState:
    """The kept checkpoints, read once at start and rewritten whole at each cosignature.
    The caller serialises `keep` with the check before it (tlog-witness: check and
    persist atomically, or two racing requests could roll the witness back)."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / STATE_FILE
        self._lock: IO[bytes] | None = None
        self._data_dir = data_dir
        self._kept: dict[str, Kept] = {}
        try:
            document: dict[str, Any] = json.loads(self._path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise WitnessSetupError(f"{self._path} is unreadable: {exc}") from exc
        for origin, kept in document.items():
            self._kept[origin] = Kept(kept["size"], base64.b64decode(kept["root"]), kept["note"])

    def hold(self) -> None:
        """Refuse to serve a directory another process serves: two witnesses on one state
        would each cosign from a view the other has moved past."""
        lock = (self._data_dir / LOCK_FILE).open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise WitnessSetupError(f"another witness process serves {self._data_dir}") from exc
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def get(self, origin: str) -> Kept | None:
        return self._kept.get(origin)

    def origins(self) -> list[str]:
        return list(self._kept)

    def keep(self, origin: str, kept: Kept) -> None:
        updated = {**self._kept, origin: kept}
        document = {
            name: {"size": k.size, "root": base64.b64encode(k.root).decode(), "note": k.note}
            for name, k in updated.items()
        }
        _write_atomically(self._path, json.dumps(document, indent=2).encode() + b"\n")
        self._kept = updated
