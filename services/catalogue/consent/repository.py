import uuid

from services.catalogue.models import Consent, Work
from services.catalogue.statements.published import PublishedStatement
from services.contracts.catalogue import ConsentKind, RightsAttestation, Use
from services.kit.db import utcnow
from services.kit.repository import Repository


class ConsentRepository(Repository[Consent]):
    model = Consent

    async def record(
        self,
        work: Work,
        *,
        kind: ConsentKind,
        uses: list[Use],
        statement: PublishedStatement,
        attestation: RightsAttestation | None,
        given_by: uuid.UUID,
    ) -> Consent:
        """The work's next consent record, pointing at the statement's stored words; it
        becomes the work's newest consent."""
        previous = work.consent
        record = await self.create(
            Consent(
                id=uuid.uuid4(),
                work_id=work.id,
                sequence=previous.sequence + 1 if previous is not None else 1,
                kind=kind,
                uses=[use.value for use in uses],
                statement_id=statement.id,
                statement_version=statement.version,
                statement_sha256=statement.sha256,
                attestation=attestation.model_dump(mode="json") if attestation else None,
                given_by=given_by,
                given_at=utcnow(),
            )
        )
        work.consent = record
        return record
