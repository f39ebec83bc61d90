"""Training receipts: the bytes a lab signs for a run, and their offline check.

Both signatures are Ed25519 over DSSE's pre-authentication encoding, each with its own
payload type, so a lab's receipt signature can never be replayed as any other document
the same key might sign (and a platform countersignature never as a certificate). The
lab's key is its own, registered with the marketplace; the platform's is the licensing
key that signs licence certificates, checked against the published key history.
"""

import hashlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.contracts.licensing import (
    PlatformCountersignature,
    TrainingRunRead,
    TrainingStatement,
)
from services.contracts.signing import CERTIFICATE_KEY_PURPOSE, PublicKeyRead

from ._documents import check_interval
from ._errors import VerificationError
from ._signing import b64decode, b64encode, canonical_json, key_id, pae, public_key_from

TRAINING_STATEMENT_TYPE = "application/vnd.assent.training-statement+json"
TRAINING_COUNTERSIGNATURE_TYPE = "application/vnd.assent.training-countersignature+json"
KIND = "training receipt"


def statement_bytes(statement: TrainingStatement) -> bytes:
    return canonical_json(statement.model_dump(mode="json"))


def statement_sha256(statement: TrainingStatement) -> str:
    return hashlib.sha256(statement_bytes(statement)).hexdigest()


def sign_statement(private_key: Ed25519PrivateKey, statement: TrainingStatement) -> tuple[str, str]:
    """The lab's key id and its base64 signature of the statement."""
    signature = private_key.sign(pae(TRAINING_STATEMENT_TYPE, statement_bytes(statement)))
    return key_id(private_key.public_key()), b64encode(signature)


def countersignature_bytes(countersignature: PlatformCountersignature) -> bytes:
    return pae(
        TRAINING_COUNTERSIGNATURE_TYPE, canonical_json(countersignature.model_dump(mode="json"))
    )


def lab_public_key(public_key_b64: str) -> Ed25519PublicKey:
    raw = b64decode(public_key_b64)
    if len(raw) != 32:
        raise VerificationError("the lab's public key is not 32 bytes", kind=KIND)
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_lab_signature(
    public_key: Ed25519PublicKey, statement: TrainingStatement, signature: str
) -> None:
    signed = pae(TRAINING_STATEMENT_TYPE, statement_bytes(statement))
    try:
        public_key.verify(b64decode(signature), signed)
    except InvalidSignature as exc:
        problem = "the lab's signature does not match the statement"
        raise VerificationError(problem, kind=KIND) from exc


def verify_training_receipt(run: TrainingRunRead, platform_keys: Sequence[PublicKeyRead]) -> None:
    """Checks a receipt from its own fields: the statement is the run's, the lab's key
    signed it, and a published licensing key countersigned it while valid. Raises
    `VerificationError` naming the first failed check."""
    statement = run.statement
    if statement.run_id != run.id or statement.buyer_id != run.buyer_id:
        raise VerificationError("the statement is not this run's", kind=KIND)
    if statement_sha256(statement) != run.statement_sha256:
        raise VerificationError("the statement's hash does not match", kind=KIND)
    public_key = lab_public_key(run.lab_public_key)
    if key_id(public_key) != run.lab_key_id:
        raise VerificationError("the lab's key id does not match its public key", kind=KIND)
    verify_lab_signature(public_key, statement, run.lab_signature)
    platform = next((key for key in platform_keys if key.key_id == run.platform_key_id), None)
    if platform is None or platform.purpose != CERTIFICATE_KEY_PURPOSE:
        raise VerificationError(
            f"no published licensing key {run.platform_key_id} to check the countersignature",
            kind=KIND,
        )
    check_interval(platform, run.recorded_at, kind=KIND)
    countersignature = PlatformCountersignature(
        statement_sha256=run.statement_sha256,
        lab_key_id=run.lab_key_id,
        lab_signature=run.lab_signature,
        recorded_at=run.recorded_at,
    )
    try:
        public_key_from(platform).verify(
            b64decode(run.platform_signature), countersignature_bytes(countersignature)
        )
    except InvalidSignature as exc:
        problem = "the platform's countersignature does not match"
        raise VerificationError(problem, kind=KIND) from exc
