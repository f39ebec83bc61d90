"""Labs' bank references: the ISO 11649 creditor reference ("RF…") a lab quotes when it
pays by bank transfer, by which the imported statement credits its balance.

One per lab, made the first time it asks, from its account id: the check digits (with
python-stdnum's ISO 7064 mod 97-10) catch a mistyped reference before it is matched.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from services.contracts.licensing import BankReferenceRead
from services.contracts.roles import Role
from services.kit.internal_token import Caller, require_role
from services.licensing.errors import PayoutsOff
from services.licensing.payout.models import BankReference
from services.licensing.payout.sepa import Debtor
from services.licensing.rules import require_account


def creditor_reference(buyer_id: uuid.UUID) -> str:
    body = buyer_id.hex[:16].upper()
    reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
    return str(iso11649.validate(reference))


class BankReferences:
    def __init__(self, account: Debtor | None) -> None:
        self._account = account

    async def mine(self, session: AsyncSession, caller: Caller) -> BankReferenceRead:
        """The caller's reference (buyers), and the account to pay into."""
        require_role(caller, Role.BUYER)
        buyer_id = require_account(caller)
        if self._account is None:
            raise PayoutsOff("no platform bank account is configured: top up by card")
        reference = await session.scalar(
            select(BankReference.reference).where(BankReference.buyer_id == buyer_id)
        )
        if reference is None:
            reference = creditor_reference(buyer_id)
            try:
                async with session.begin_nested():
                    session.add(BankReference(buyer_id=buyer_id, reference=reference))
            except IntegrityError:
                pass  # the same lab asked twice at once: the reference is the same
        return BankReferenceRead(
            buyer_id=buyer_id,
            reference=reference,
            iban=self._account.iban,
            bic=self._account.bic,
            holder=self._account.holder,
        )
