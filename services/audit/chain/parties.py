"""The parties of a chain: the account entries of every account its entries name.

A chain export names each party (the creators who consented, their co-creators, the
buyers, the creators paid, whoever refunded or withdrew) by the account's own entries in
the log: `account.registered` with the display name it registered under,
`account.role_granted`, and `account.identity_verified` (an organisation name an admin
confirmed, an email address verified). With them in the export, a verifier names people
offline from proven entries rather than from a bare account id.

Which accounts are parties is the protocol's rule (`assent.protocol.parties_of`), the
same one `check_chain` accepts account entries by, so an export never carries an account
entry its verifier would refuse as not about the chain. Only the entries the reader is
shown name parties: a buyer whose sale is withheld from a creator stays unnamed.
"""

import uuid
from collections.abc import Collection

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import PAYLOADS, LoggedEvent, parties_of
from services.audit.chain.repository import ChainRepository
from services.audit.chain.subjects import SubjectKind
from services.audit.log.repository import in_chunks
from services.audit.models import LogEntry
from services.contracts.events import Topic

log = structlog.get_logger()

ACCOUNT_TOPICS = (
    Topic.ACCOUNT_IDENTITY_VERIFIED.value,
    Topic.ACCOUNT_REGISTERED.value,
    Topic.ACCOUNT_ROLE_GRANTED.value,
)

# The topics whose entries name a party no other entry of the chain names. A delivery's
# or a download's buyer is its licence's, and a chain holds the licence's grant whenever
# it holds its deliveries and downloads (both shown or both withheld), so the many
# download entries of a large chain are not read twice for names the grant gives.
_NAMING_TOPICS = frozenset(
    {
        Topic.CONSENT_GIVEN,
        Topic.CONSENT_REVISED,
        Topic.CONSENT_WITHDRAWN,
        Topic.INVITATION_SENT,
        Topic.INVITATION_ACCEPTED,
        Topic.INVITATION_DECLINED,
        Topic.WORK_WITHDRAWN,
        Topic.LICENCE_GRANTED,
        Topic.LICENCE_REFUNDED,
        Topic.LEDGER_RECORDED,
    }
)


class PartyRepository(ChainRepository):
    async def naming(self, leaves: Collection[int]) -> list[tuple[int, bytes]]:
        """The logged bytes of those of the entries whose topic names parties."""
        found: list[tuple[int, bytes]] = []
        for chunk in in_chunks(leaves):
            statement = (
                select(LogEntry.leaf_index, LogEntry.entry)
                .where(LogEntry.leaf_index.in_(chunk))
                .where(LogEntry.topic.in_(sorted(_NAMING_TOPICS)))
            )
            found.extend(
                (int(leaf), entry) for leaf, entry in await self.session.execute(statement)
            )
        return found


async def with_parties(
    session: AsyncSession, leaves: Collection[int], *, withheld: Collection[int] = ()
) -> set[int]:
    """`leaves` and the account entries of every party that the shown ones name."""
    repository = PartyRepository(session)
    parties: set[uuid.UUID] = set()
    for leaf, entry in await repository.naming([leaf for leaf in leaves if leaf not in withheld]):
        try:
            event = LoggedEvent.model_validate_json(entry)
            parties |= parties_of(PAYLOADS[Topic(event.topic)].model_validate(event.payload))
        except (ValidationError, ValueError, KeyError):
            # Logged as received and indexed by topic, yet unreadable: it joined no chain
            # by its payload either (subjects.py); its verifier will say so, not this.
            log.warning("audit.parties.unreadable", leaf_index=leaf)
    accounts = await repository.leaves_of(SubjectKind.ACCOUNT, parties, topics=ACCOUNT_TOPICS)
    return {*leaves, *accounts}
