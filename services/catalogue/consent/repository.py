import hashlib
import uuid

from services.catalogue.models import Consent, Work
from services.contracts.catalogue import ConsentKind, Use
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
        statement_text: str,
        statement_version: str,
        given_by: uuid.UUID,
    ) -> Consent:
        """The work's next consent record, with the statement's words and their hash; it
        becomes the work's newest consent."""
        previous = work.consent
        record = await self.create(
            Consent(
                id=uuid.uuid4(),
                work_id=work.id,
                sequence=previous.sequence + 1 if previous is not None else 1,
                kind=kind,
                uses=[use.value for use in uses],
                statement_text=statement_text,
                statement_version=statement_version,
                statement_sha256=hashlib.sha256(statement_text.encode()).hexdigest(),
                given_by=given_by,
                given_at=utcnow(),
            )
        )
        work.consent = record
        return record
