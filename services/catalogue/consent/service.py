"""A work's consent: the creator's explicit opt-in, revised or withdrawn by a new record
each time, never edited."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import consenting_member, require_account, require_not_withdrawn
from services.catalogue.consent.repository import ConsentRepository
from services.catalogue.errors import ConsentNotInForce
from services.catalogue.listing import newest_consents, refresh_listing, uses_consented_together
from services.catalogue.models import Work
from services.catalogue.statements.published import PublishedStatement
from services.catalogue.statements.service import statement_service
from services.contracts.catalogue import (
    ConsentIn,
    ConsentKind,
    ConsentRead,
    ConsentRecorded,
    ConsentWithdrawIn,
    RightsAttestation,
    StatementScope,
    Use,
)
from services.contracts.events import Topic
from services.kit.internal_token import Caller
from services.kit.outbox import emit

CONSENT_TOPICS = {
    ConsentKind.GIVEN: Topic.CONSENT_GIVEN,
    ConsentKind.REVISED: Topic.CONSENT_REVISED,
    ConsentKind.WITHDRAWN: Topic.CONSENT_WITHDRAWN,
}


class ConsentService:
    async def give_consent(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, consent_in: ConsentIn
    ) -> ConsentRead:
        work = await consenting_member(session, caller, work_id)
        require_not_withdrawn(work)
        statement = statement_service.chosen(StatementScope.OPT_IN, consent_in)
        previous = newest_consents(work).get(require_account(caller))
        kind = (
            ConsentKind.REVISED if previous is not None and previous.in_force else ConsentKind.GIVEN
        )
        return await self._record(
            session,
            caller,
            work,
            kind=kind,
            uses=sorted(set(consent_in.uses)),
            statement=statement,
            attestation=consent_in.attestation,
        )

    async def withdraw_consent(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        withdrawal: ConsentWithdrawIn,
    ) -> ConsentRead:
        # Allowed on a withdrawn work too: a creator may always put the withdrawal on record.
        work = await consenting_member(session, caller, work_id)
        statement = statement_service.chosen(StatementScope.WITHDRAWAL, withdrawal)
        previous = newest_consents(work).get(require_account(caller))
        if previous is None or not previous.in_force:
            raise ConsentNotInForce("this work has no consent in force to withdraw")
        return await self._record(
            session,
            caller,
            work,
            kind=ConsentKind.WITHDRAWN,
            uses=[],
            statement=statement,
            attestation=None,
        )

    async def _record(
        self,
        session: AsyncSession,
        caller: Caller,
        work: Work,
        *,
        kind: ConsentKind,
        uses: list[Use],
        statement: PublishedStatement,
        attestation: RightsAttestation | None,
    ) -> ConsentRead:
        await statement_service.store_words(session, statement)
        record = await ConsentRepository(session).record(
            work,
            kind=kind,
            uses=uses,
            statement=statement,
            attestation=attestation,
            given_by=require_account(caller),
        )
        refresh_listing(work)
        await session.flush()
        emit(
            session,
            CONSENT_TOPICS[kind],
            ConsentRecorded(
                consent_id=record.id,
                work_id=work.id,
                kind=kind,
                uses=uses,
                statement_id=record.statement_id,
                statement_version=record.statement_version,
                statement_sha256=record.statement_sha256,
                # The words themselves, so that the chain shows what was agreed to.
                statement_text=statement.text,
                attestation=attestation,
                given_by=record.given_by,
                given_at=record.given_at,
                sale_uses=uses_consented_together(work),
            ),
        )
        return ConsentRead.model_validate(record)


consent_service = ConsentService()
