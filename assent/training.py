"""Training receipts, from a lab's side: a key to sign them with, and runs recorded.

    from assent.client import AssentClient
    from assent.training import load_or_create_key

    key = load_or_create_key("receipt-key.b64")
    with AssentClient() as client:
        client.training.register_key(key)
        receipt = client.training.record(
            key,
            model_name="Northwind-7B",
            model_version="1.0",
            declared_use="training",
            started_at=start,
            ended_at=end,
            records={licence.id: [line.work_id for line in licence.lines]},
        )

The statement is signed here, with the lab's own key, which never leaves the machine;
the marketplace checks it against the lab's licences and each work's models cap,
countersigns it and logs it. `assent.protocol.verify_training_receipt` checks a receipt
offline, from its own fields and the marketplace's published keys.
"""

import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assent.operations import ME
from assent.protocol import b64decode, b64encode, canonical_json, sign_statement
from assent.wire import GraphQLWire
from services.contracts.catalogue import Use
from services.contracts.licensing import (
    TrainingKeyRead,
    TrainingLicenceUse,
    TrainingRunRead,
    TrainingStatement,
)

REGISTER_KEY = """mutation($key: String!) { registerTrainingKey(publicKey: $key) {
  __typename ... on TrainingKey { keyId publicKey createdAt revokedAt }
  ... on Error { message } ... on ValidationFailed { fields { field message code } } } }"""
RECORD = """mutation($statement: String!, $keyId: String!, $signature: String!) {
  recordTrainingRun(statement: $statement, keyId: $keyId, signature: $signature) {
  __typename ... on TrainingRun { receipt } ... on Error { message }
  ... on Conflict { code } ... on ValidationFailed { fields { field message code } } } }"""
RUNS = """query($model: String) { trainingRuns(model: $model) { __typename
  ... on TrainingRunList { items { receipt } } ... on Error { message } } }"""


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The lab's receipt key kept at `path` (the raw seed in base64, readable by its owner
    only), made there the first time."""
    file = Path(path)
    if file.exists():
        return Ed25519PrivateKey.from_private_bytes(b64decode(file.read_text().strip()))
    key = Ed25519PrivateKey.generate()
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(b64encode(key.private_bytes_raw()) + "\n")
    return key


class TrainingReceipts:
    """`AssentClient.training`: the lab's receipt keys and training runs."""

    def __init__(self, wire: GraphQLWire) -> None:
        self._wire = wire

    def register_key(self, key: Ed25519PrivateKey) -> TrainingKeyRead:
        """Registers the key's public half; registering it again answers it as it is."""
        public = b64encode(key.public_key().public_bytes_raw())
        node = self._wire.ask(
            REGISTER_KEY, {"key": public}, "registerTrainingKey", "TrainingKey", retry=True
        )
        return TrainingKeyRead(
            key_id=node["keyId"],
            public_key=node["publicKey"],
            created_at=node["createdAt"],
            revoked_at=node["revokedAt"],
        )

    def record(
        self,
        key: Ed25519PrivateKey,
        *,
        model_name: str,
        model_version: str,
        declared_use: str | Use,
        started_at: datetime,
        ended_at: datetime,
        records: Mapping[str | uuid.UUID, Sequence[str | uuid.UUID]],
        run_id: uuid.UUID | None = None,
        buyer_id: str | uuid.UUID | None = None,
    ) -> TrainingRunRead:
        """Signs and records one run: `records` maps each licence used to the works of it
        the run used. Sent again with the same `run_id`, it answers the same receipt, so
        it is retried safely. A work whose models cap is reached raises `ModelsCapReached`.
        `buyer_id` is the API key's account unless given."""
        if buyer_id is None:
            buyer_id = self._wire.ask(ME, {}, "me", "Account", retry=True)["id"]
        statement = TrainingStatement(
            run_id=run_id or uuid.uuid4(),
            buyer_id=uuid.UUID(str(buyer_id)),
            model_name=model_name,
            model_version=model_version,
            declared_use=Use(declared_use),
            started_at=started_at,
            ended_at=ended_at,
            licences=[
                TrainingLicenceUse(
                    licence_id=uuid.UUID(str(licence_id)),
                    work_ids=[uuid.UUID(str(work_id)) for work_id in work_ids],
                )
                for licence_id, work_ids in records.items()
            ],
        )
        key_id, signature = sign_statement(key, statement)
        variables = {
            "statement": canonical_json(statement.model_dump(mode="json")).decode(),
            "keyId": key_id,
            "signature": signature,
        }
        node = self._wire.ask(RECORD, variables, "recordTrainingRun", "TrainingRun", retry=True)
        return TrainingRunRead.model_validate(node["receipt"])

    def runs(self, *, model: str | None = None) -> list[TrainingRunRead]:
        """Your runs, newest first (of one model, if named)."""
        node = self._wire.ask(RUNS, {"model": model}, "trainingRuns", "TrainingRunList", retry=True)
        return [TrainingRunRead.model_validate(item["receipt"]) for item in node["items"]]
