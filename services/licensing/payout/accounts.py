"""Creators' payout accounts: checked with schwifty, confirmed from a mail, logged.

A change is asked for while signed in, and counts only once the code mailed to the
account's address comes back, from the same creator: a stolen session alone cannot send
a creator's money elsewhere. The code is derived, not stored (HMAC of the account's id
under a key derived from licensing's own signing seed), so the table holds nothing that
would confirm a change if it leaked. Both steps are logged in the creator's account chain.
"""

import base64
import hashlib
import hmac
import uuid
from datetime import datetime

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import ACCOUNTS_ISSUER
from services.contracts.events import Topic
from services.contracts.licensing import (
    PayoutAccountConfirmIn,
    PayoutAccountIn,
    PayoutAccountRead,
    PayoutAccountRecorded,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest, NotFound
from services.kit.internal_token import Caller, require_role
from services.kit.outbox import emit
from services.licensing.payout.models import PayoutAccount
from services.licensing.rules import require_account

CODE_BYTES = 10


def masked(iban: str) -> str:
    """Country, check digits and the last four: enough to recognise, not to reuse."""
    return f"{iban[:4]} •••• {iban[-4:]}"


def read(account: PayoutAccount) -> PayoutAccountRead:
    return PayoutAccountRead(
        id=account.id,
        creator_id=account.creator_id,
        holder=account.holder,
        iban=masked(account.iban),
        bic=account.bic,
        bank_country=account.bank_country,
        state=account.state,
        requested_at=account.requested_at,
        confirmed_at=account.confirmed_at,
    )


class ConfirmationCodes:
    def __init__(self, seed: SecretStr) -> None:
        self._key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"assent payout-account code v1"
        ).derive(seed.get_secret_value().encode())

    def code(self, account_id: uuid.UUID) -> str:
        digest = hmac.new(self._key, account_id.bytes, hashlib.sha256).digest()
        return base64.b32encode(digest[:CODE_BYTES]).decode()

    def matches(self, account_id: uuid.UUID, code: str) -> bool:
        given = code.strip().upper().replace(" ", "").replace("-", "")
        return hmac.compare_digest(given.encode(), self.code(account_id).encode())


def checked_bank_account(iban_text: str, bic_text: str) -> tuple[str, str, str]:
    """The IBAN and BIC in their compact forms and the bank's country, or a typed error
    naming each field that is wrong."""
    problems: list[FieldError] = []
    iban: IBAN | None = None
    bic: BIC | None = None
    try:
        iban = IBAN(iban_text)
    except SchwiftyException as exc:
        problems.append(FieldError("iban", f"not a valid IBAN: {exc}", "invalid_iban"))
    try:
        bic = BIC(bic_text.strip().upper())
    except SchwiftyException as exc:
        problems.append(FieldError("bic", f"not a valid BIC: {exc}", "invalid_bic"))
    if bic is not None and not bic.exists:
        problems.append(FieldError("bic", "no bank is known by this BIC", "unknown_bic"))
    if iban is not None and bic is not None and bic.country_code != iban.country_code:
        problems.append(
            FieldError(
                "bic",
                f"the BIC is of a bank in {bic.country_code}, the IBAN of an account "
                f"in {iban.country_code}",
                "bic_country_mismatch",
            )
        )
    if problems or iban is None or bic is None:
        raise InvalidRequest("the bank account does not check out", fields=problems)
    return iban.compact, str(bic.compact), iban.country_code


class PayoutAccountService:
    def __init__(self, codes: ConfirmationCodes) -> None:
        self.codes = codes

    async def request(
        self, session: AsyncSession, caller: Caller, change: PayoutAccountIn
    ) -> PayoutAccountRead:
        """Ask for payouts to go to an account; a mail with its code goes out next."""
        require_role(caller, Role.CREATOR)
        creator_id = require_account(caller)
        if caller.issuer != ACCOUNTS_ISSUER or not change.email:
            raise InvalidRequest(
                "there is no address to send the confirmation to",
                fields=[FieldError("email", "required, from the accounts' owner", "required")],
            )
        iban, bic, country = checked_bank_account(change.iban, change.bic)
        now = utcnow()
        # A newer request replaces any still waiting: only the latest can be confirmed.
        await session.execute(
            update(PayoutAccount)
            .where(
                PayoutAccount.creator_id == creator_id,
                PayoutAccount.confirmed_at.is_(None),
                PayoutAccount.superseded_at.is_(None),
            )
            .values(superseded_at=now, mail_due_at=None)
        )
        account = PayoutAccount(
            id=uuid.uuid4(),
            creator_id=creator_id,
            holder=change.holder,
            iban=iban,
            bic=bic,
            bank_country=country,
            requested_at=now,
            email=change.email,
            mail_due_at=now,
            mail_attempts=0,
        )
        session.add(account)
        await session.flush()
        answer = read(account)
        emit(session, Topic.PAYOUT_ACCOUNT_REQUESTED, PayoutAccountRecorded(account=answer))
        return answer

    async def confirm(
        self, session: AsyncSession, caller: Caller, confirmation: PayoutAccountConfirmIn
    ) -> PayoutAccountRead:
        """The code from the mail: the account counts for runs started from now on."""
        require_role(caller, Role.CREATOR)
        creator_id = require_account(caller)
        account = await session.scalar(
            select(PayoutAccount)
            .where(
                PayoutAccount.id == confirmation.account_id,
                PayoutAccount.creator_id == creator_id,
            )
            .with_for_update()
        )
        if account is None:
            raise NotFound("no such payout account of yours")
        if account.confirmed_at is not None:
            return read(account)
        if account.superseded_at is not None or not self.codes.matches(
            account.id, confirmation.code
        ):
            raise InvalidRequest(
                "the code does not confirm this account: use the code of the newest mail",
                fields=[FieldError("code", "does not match", "wrong_code")],
            )
        now = utcnow()
        await self._supersede_confirmed(session, creator_id, now)
        account.confirmed_at = now
        account.mail_due_at = None
        await session.flush()
        answer = read(account)
        emit(session, Topic.PAYOUT_ACCOUNT_CONFIRMED, PayoutAccountRecorded(account=answer))
        return answer

    async def _supersede_confirmed(
        self, session: AsyncSession, creator_id: uuid.UUID, now: datetime
    ) -> None:
        await session.execute(
            update(PayoutAccount)
            .where(
                PayoutAccount.creator_id == creator_id,
                PayoutAccount.confirmed_at.is_not(None),
                PayoutAccount.superseded_at.is_(None),
            )
            .values(superseded_at=now)
        )

    async def mine(self, session: AsyncSession, caller: Caller) -> list[PayoutAccountRead]:
        """The creator's accounts, newest first: the one in use, and any waiting."""
        require_role(caller, Role.CREATOR)
        creator_id = require_account(caller)
        accounts = await session.scalars(
            select(PayoutAccount)
            .where(PayoutAccount.creator_id == creator_id, PayoutAccount.superseded_at.is_(None))
            .order_by(PayoutAccount.requested_at.desc())
        )
        return [read(account) for account in accounts]
