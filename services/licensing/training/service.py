"""Training receipts: a lab's signed statement of a run, checked against its licences
and each work's models cap, countersigned, and logged.

The cap counts models as (name, version): a new version of a model is trained again on
the work, so it takes a slot of its own. Creators who allow their work in two models
mean two trainings, not two product names; counting versions errs on their side.

A run is checked under locks on every licence it names (in id order, so two runs never
deadlock): two runs racing for a work's last slot are decided one after the other.
"""

import uuid
from collections.abc import Sequence

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    Signer,
    VerificationError,
    b64encode,
    countersignature_bytes,
    key_id,
    lab_public_key,
    statement_sha256,
    verify_lab_signature,
)
from services.contracts.catalogue import Terms
from services.contracts.events import Topic
from services.contracts.licensing import (
    LicenceLineStatus,
    LicenceStatus,
    PlatformCountersignature,
    RefusalReason,
    TrainedModel,
    TrainingKeyIn,
    TrainingKeyRead,
    TrainingRecorded,
    TrainingRefused,
    TrainingRunIn,
    TrainingRunRead,
    TrainingStatement,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, Forbidden, InvalidRequest, NotFound
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from services.licensing.errors import (
    LicenceNotUsable,
    RunIdReused,
    TrainingKeyRejected,
)
from services.licensing.licence.repository import LicenceRepository
from services.licensing.models import Licence
from services.licensing.rules import require_account
from services.licensing.training.models import TrainingKey, TrainingRun
from services.licensing.training.repository import (
    Line,
    TrainingKeyRepository,
    TrainingRunRepository,
)

log = structlog.get_logger()

MAX_RUNS_LISTED = 100


def run_read(run: TrainingRun, lab_public_key_b64: str) -> TrainingRunRead:
    statement = TrainingStatement.model_validate(run.statement)
    return TrainingRunRead(
        id=run.id,
        buyer_id=run.buyer_id,
        buyer_name=run.buyer_name,
        model_name=run.model_name,
        model_version=run.model_version,
        declared_use=statement.declared_use,
        started_at=run.started_at,
        ended_at=run.ended_at,
        licences=statement.licences,
        record_count=run.record_count,
        recorded_at=run.recorded_at,
        statement=statement,
        statement_sha256=run.statement_sha256,
        lab_key_id=run.lab_key_id,
        lab_public_key=lab_public_key_b64,
        lab_signature=run.lab_signature,
        platform_key_id=run.platform_key_id,
        platform_signature=run.platform_signature,
    )


def _invalid(field: str, problem: str) -> InvalidRequest:
    return InvalidRequest(problem, fields=[FieldError(field, problem, "not_licensed")])


class TrainingService:
    async def register_key(
        self, session: AsyncSession, caller: Caller, key_in: TrainingKeyIn
    ) -> TrainingKeyRead:
        """Registering the same key again answers the key as it is."""
        buyer_id = require_account(caller)
        try:
            public_key = lab_public_key(key_in.public_key)
        except (VerificationError, ValueError) as exc:
            problem = "must be 32 raw Ed25519 bytes in base64"
            raise InvalidRequest(
                f"the public key {problem}",
                fields=[FieldError("public_key", problem, "invalid_key")],
            ) from exc
        repository = TrainingKeyRepository(session)
        found = await repository.get(key_id(public_key))
        if found is not None:
            if found.buyer_id != buyer_id:
                raise TrainingKeyRejected("this key is registered to another account")
            return TrainingKeyRead.model_validate(found)
        key = TrainingKey(
            key_id=key_id(public_key),
            buyer_id=buyer_id,
            public_key=key_in.public_key,
            created_at=utcnow(),
            revoked_at=None,
        )
        session.add(key)
        await session.flush()
        log.info("training.key.registered", key_id=key.key_id)
        return TrainingKeyRead.model_validate(key)

    async def keys(self, session: AsyncSession, caller: Caller) -> list[TrainingKeyRead]:
        keys = await TrainingKeyRepository(session).of_buyer(require_account(caller))
        return [TrainingKeyRead.model_validate(key) for key in keys]

    async def revoke_key(
        self, session: AsyncSession, caller: Caller, key_id: str
    ) -> TrainingKeyRead:
        """Receipts signed before stay valid; no new one is accepted with the key."""
        key = await TrainingKeyRepository(session).get(key_id)
        if key is None or key.buyer_id != require_account(caller):
            raise NotFound("no such key")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await session.flush()
        return TrainingKeyRead.model_validate(key)

    async def record(
        self, session: AsyncSession, caller: Caller, run_in: TrainingRunIn, *, signer: Signer
    ) -> TrainingRunRead | TrainingRefused:
        """The receipt, or the refusal that was logged instead when a work's models cap
        is reached. Anything else wrong is raised, and nothing is recorded."""
        buyer_id = require_account(caller)
        statement = run_in.statement
        if statement.buyer_id != buyer_id:
            raise Forbidden("a lab records only its own runs")
        runs = TrainingRunRepository(session)
        digest = statement_sha256(statement)
        existing = await runs.get(statement.run_id)
        if existing is not None:
            if existing.buyer_id != buyer_id or existing.statement_sha256 != digest:
                raise RunIdReused("this run id already recorded another statement")
            key = await TrainingKeyRepository(session).get(existing.lab_key_id)
            assert key is not None
            return run_read(existing, key.public_key)
        key = await self._signing_key(session, buyer_id, run_in)
        licences = await self._locked_licences(session, buyer_id, statement)
        lines = self._usable_lines(licences, statement)
        refused = await self._over_cap(session, statement, licences, lines)
        if refused is not None:
            emit(session, Topic.TRAINING_REFUSED, refused)
            log.info("training.run.refused", run_id=str(statement.run_id), reason=refused.reason)
            return refused
        now = utcnow()
        countersignature = PlatformCountersignature(
            statement_sha256=digest,
            lab_key_id=key.key_id,
            lab_signature=run_in.signature,
            recorded_at=now,
        )
        run = TrainingRun(
            id=statement.run_id,
            buyer_id=buyer_id,
            buyer_name=next(iter(licences.values())).buyer_name,
            model_name=statement.model_name,
            model_version=statement.model_version,
            declared_use=statement.declared_use,
            started_at=statement.started_at,
            ended_at=statement.ended_at,
            record_count=len(lines),
            statement=statement.model_dump(mode="json"),
            statement_sha256=digest,
            lab_key_id=key.key_id,
            lab_signature=run_in.signature,
            platform_key_id=signer.key_id,
            platform_signature=b64encode(
                signer.sign_message(countersignature_bytes(countersignature))
            ),
            recorded_at=now,
        )
        session.add(run)
        await session.flush()
        await runs.add_records(run, lines)
        read = run_read(run, key.public_key)
        emit(session, Topic.TRAINING_RECORDED, TrainingRecorded(run=read))
        log.info("training.run.recorded", run_id=str(run.id), records=len(lines))
        return read

    async def _signing_key(
        self, session: AsyncSession, buyer_id: uuid.UUID, run_in: TrainingRunIn
    ) -> TrainingKey:
        key = await TrainingKeyRepository(session).get(run_in.key_id)
        if key is None or key.buyer_id != buyer_id or key.revoked_at is not None:
            raise TrainingKeyRejected(
                f"key {run_in.key_id} is not one of this lab's registered, unrevoked keys"
            )
        public_key: Ed25519PublicKey = lab_public_key(key.public_key)
        try:
            verify_lab_signature(public_key, run_in.statement, run_in.signature)
        except VerificationError as exc:
            raise TrainingKeyRejected(
                f"the signature does not match the statement under key {key.key_id}"
            ) from exc
        return key

    async def _locked_licences(
        self, session: AsyncSession, buyer_id: uuid.UUID, statement: TrainingStatement
    ) -> dict[uuid.UUID, Licence]:
        repository = LicenceRepository(session)
        licences: dict[uuid.UUID, Licence] = {}
        for licence_id in sorted(use.licence_id for use in statement.licences):
            licence = await repository.lock(licence_id)
            # Another lab's licence is answered as one that does not exist.
            if licence is None or licence.buyer_id != buyer_id:
                raise NotFound(f"no such licence {licence_id}")
            if licence.status != LicenceStatus.ACTIVE:
                raise LicenceNotUsable(f"licence {licence_id} was {licence.status}")
            licences[licence_id] = licence
        return licences

    def _usable_lines(
        self, licences: dict[uuid.UUID, Licence], statement: TrainingStatement
    ) -> list[Line]:
        use = statement.declared_use
        lines: list[Line] = []
        for licence_use in statement.licences:
            licence = licences[licence_use.licence_id]
            if use not in licence.uses:
                raise _invalid("declared_use", f"licence {licence.id} does not license {use}")
            by_work = {line.work_id: line for line in licence.lines}
            for work_id in licence_use.work_ids:
                line = by_work.get(work_id)
                if line is None or line.status != LicenceLineStatus.ACTIVE:
                    raise _invalid(
                        "licences",
                        f"work {work_id} is not a licensed record of licence {licence.id}",
                    )
                if use not in Terms.model_validate(line.terms).uses:
                    raise _invalid(
                        "declared_use", f"the terms of work {work_id} do not allow {use}"
                    )
                lines.append((licence.id, work_id))
        return lines

    async def _over_cap(
        self,
        session: AsyncSession,
        statement: TrainingStatement,
        licences: dict[uuid.UUID, Licence],
        lines: Sequence[Line],
    ) -> TrainingRefused | None:
        """The refusal for the first line whose cap this model would exceed."""
        capped = {
            (licence.id, line.work_id): cap
            for licence in licences.values()
            for line in licence.lines
            if (cap := Terms.model_validate(line.terms).max_models) is not None
        }
        wanted = [line for line in lines if line in capped]
        trained = await TrainingRunRepository(session).models_by_line(wanted)
        model = (statement.model_name, statement.model_version)
        for licence_id, work_id in wanted:
            models = trained.get((licence_id, work_id), set())
            cap = capped[(licence_id, work_id)]
            if model not in models and len(models) >= cap:
                return TrainingRefused(
                    run_id=statement.run_id,
                    buyer_id=statement.buyer_id,
                    model_name=statement.model_name,
                    model_version=statement.model_version,
                    licence_id=licence_id,
                    work_id=work_id,
                    reason=RefusalReason.MODELS_CAP_REACHED,
                    max_models=cap,
                    refused_at=utcnow(),
                )
        return None

    async def runs(
        self, session: AsyncSession, caller: Caller, *, model_name: str | None
    ) -> list[TrainingRunRead]:
        """A lab's own runs; every lab's for admins and auditors."""
        oversees = caller.has(Role.ADMIN, Role.AUDITOR)
        buyer_id = None if oversees else require_account(caller)
        found = await TrainingRunRepository(session).of_buyer(
            buyer_id, model_name=model_name, limit=MAX_RUNS_LISTED
        )
        return await self._reads(session, found)

    async def run(
        self, session: AsyncSession, caller: Caller, run_id: uuid.UUID
    ) -> TrainingRunRead:
        found = await TrainingRunRepository(session).get(run_id)
        if found is None or not (
            caller.has(Role.ADMIN, Role.AUDITOR) or found.buyer_id == caller.account_id
        ):
            raise NotFound("no such training run")
        [read] = await self._reads(session, [found])
        return read

    async def trained_models(
        self, session: AsyncSession, caller: Caller, work_ids: Sequence[uuid.UUID]
    ) -> list[TrainedModel]:
        """For a creator: which lab trained which model on each of their works (works
        that are not theirs are left out); for admins and auditors, on any work."""
        runs = TrainingRunRepository(session)
        allowed = set(work_ids)
        if not caller.has(Role.ADMIN, Role.AUDITOR):
            me = str(require_account(caller))
            creators = await runs.creators_of(work_ids)
            allowed = {work for work, named in creators.items() if me in named}
        if not allowed:
            return []
        return [
            TrainedModel(
                work_id=work_id,
                run_id=run.id,
                lab_name=run.buyer_name,
                model_name=run.model_name,
                model_version=run.model_version,
                declared_use=run.declared_use,
                recorded_at=run.recorded_at,
            )
            for work_id, run in await runs.on_works(allowed)
        ]

    async def _reads(
        self, session: AsyncSession, found: Sequence[TrainingRun]
    ) -> list[TrainingRunRead]:
        keys = TrainingKeyRepository(session)
        public: dict[str, str] = {}
        for run in found:
            if run.lab_key_id not in public:
                key = await keys.get(run.lab_key_id)
                assert key is not None
                public[run.lab_key_id] = key.public_key
        return [run_read(run, public[run.lab_key_id]) for run in found]


training_service = TrainingService()
