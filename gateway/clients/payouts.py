"""Payouts, as the gateway calls licensing for them: creators' accounts and transfers,
admins' runs and bank statements, labs' bank references."""

import uuid

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.licensing import (
    BankReferenceRead,
    BankStatementIn,
    BankStatementRead,
    PaymentState,
    PayoutAccountConfirmIn,
    PayoutAccountIn,
    PayoutAccountRead,
    PayoutPaymentRead,
    PayoutRunIn,
    PayoutRunRead,
)

_ACCOUNTS = TypeAdapter(list[PayoutAccountRead])
_PAYMENTS = TypeAdapter(list[PayoutPaymentRead])


class PayoutsClient(ServiceApi):
    async def request_account(
        self, principal: Principal, change: PayoutAccountIn
    ) -> PayoutAccountRead:
        # The confirmation goes to the address this gateway holds for the account.
        addressed = change.model_copy(update={"email": principal.account.email})
        return await self._model(
            PayoutAccountRead, principal, "POST", "/v1/payout-accounts", body=addressed
        )

    async def confirm_account(
        self, principal: Principal, confirmation: PayoutAccountConfirmIn
    ) -> PayoutAccountRead:
        return await self._model(
            PayoutAccountRead, principal, "POST", "/v1/payout-accounts/confirm", body=confirmation
        )

    async def accounts(self, principal: Principal) -> list[PayoutAccountRead]:
        return _ACCOUNTS.validate_json(await self._call(principal, "GET", "/v1/payout-accounts"))

    async def payments(
        self,
        principal: Principal,
        creator_id: uuid.UUID | None,
        state: PaymentState | None,
        first: int,
    ) -> list[PayoutPaymentRead]:
        params: dict[str, str] = {"first": str(first)}
        if creator_id is not None:
            params["creator_id"] = str(creator_id)
        if state is not None:
            params["state"] = state.value
        return _PAYMENTS.validate_json(
            await self._call(principal, "GET", "/v1/payouts", params=params)
        )

    async def start_run(self, principal: Principal, run: PayoutRunIn) -> PayoutRunRead:
        return await self._model(PayoutRunRead, principal, "POST", "/v1/payout-runs", body=run)

    async def run(self, principal: Principal, run_id: uuid.UUID) -> PayoutRunRead:
        return await self._model(PayoutRunRead, principal, "GET", f"/v1/payout-runs/{run_id}")

    async def run_file(self, principal: Principal, run_id: uuid.UUID, sequence: int) -> str:
        path = f"/v1/payout-runs/{run_id}/files/{sequence}"
        return (await self._call(principal, "GET", path)).decode()

    async def import_statement(
        self, principal: Principal, statement: BankStatementIn
    ) -> BankStatementRead:
        return await self._model(
            BankStatementRead, principal, "POST", "/v1/bank-statements", body=statement
        )

    async def bank_reference(self, principal: Principal) -> BankReferenceRead:
        return await self._model(BankReferenceRead, principal, "GET", "/v1/payments/bank/reference")
