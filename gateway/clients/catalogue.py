"""The catalogue service, as the gateway calls it: typed in, typed out, errors mapped."""

import uuid
from collections.abc import Sequence

from pydantic import TypeAdapter
from pydantic_core import to_json

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi, query_params
from gateway.clients.errors import raise_for_error
from services.contracts.catalogue import (
    AddressClaim,
    AddressInvite,
    ConsentIn,
    ConsentRead,
    ConsentWithdrawIn,
    CreatorRead,
    FileIn,
    InvitationRead,
    KitQuery,
    OfferIn,
    OfferRead,
    OwnSiteKit,
    PartsIn,
    PresignedPart,
    PreviewUrl,
    ReviewDecision,
    ReviewPage,
    ReviewQuery,
    SharesChange,
    StatementRead,
    StatementTextRead,
    TermsSignals,
    UploadCompleted,
    UploadTarget,
    WorkCreate,
    WorkCreated,
    WorkHistory,
    WorkPage,
    WorkRead,
    WorkSearch,
    WorkUpdate,
)
from services.contracts.roles import Role

_WORKS = TypeAdapter(list[WorkRead])
_CREATORS = TypeAdapter(list[CreatorRead])
_PARTS = TypeAdapter(list[PresignedPart])
_PAGE = TypeAdapter(WorkPage)
_INVITATIONS = TypeAdapter(list[InvitationRead])
_STATEMENTS = TypeAdapter(list[StatementRead])
_STATEMENT_TEXTS = TypeAdapter(list[StatementTextRead])
_HISTORIES = TypeAdapter(list[WorkHistory])
_PREVIEWS = TypeAdapter(list[PreviewUrl])


class CatalogueClient(ServiceApi):
    async def create_work(self, principal: Principal, work: WorkCreate) -> WorkCreated:
        return await self._model(WorkCreated, principal, "POST", "/v1/works", body=work)

    async def upload_target(self, principal: Principal, work_id: uuid.UUID) -> UploadTarget:
        return await self._model(UploadTarget, principal, "GET", f"/v1/works/{work_id}/upload")

    async def presign_parts(
        self, principal: Principal, work_id: uuid.UUID, parts: PartsIn
    ) -> list[PresignedPart]:
        content = await self._call(
            principal, "POST", f"/v1/works/{work_id}/upload/parts", body=parts
        )
        return _PARTS.validate_json(content)

    async def complete_upload(self, principal: Principal, work_id: uuid.UUID) -> UploadCompleted:
        return await self._model(
            UploadCompleted, principal, "POST", f"/v1/works/{work_id}/upload/complete"
        )

    async def new_version(
        self, principal: Principal, work_id: uuid.UUID, file: FileIn
    ) -> UploadTarget:
        return await self._model(
            UploadTarget, principal, "POST", f"/v1/works/{work_id}/versions", body=file
        )

    async def give_consent(
        self, principal: Principal, work_id: uuid.UUID, consent: ConsentIn
    ) -> ConsentRead:
        return await self._model(
            ConsentRead, principal, "POST", f"/v1/works/{work_id}/consents", body=consent
        )

    async def withdraw_consent(
        self, principal: Principal, work_id: uuid.UUID, withdrawal: ConsentWithdrawIn
    ) -> ConsentRead:
        return await self._model(
            ConsentRead,
            principal,
            "POST",
            f"/v1/works/{work_id}/consents/withdraw",
            body=withdrawal,
        )

    async def set_offer(
        self, principal: Principal, work_id: uuid.UUID, offer: OfferIn
    ) -> OfferRead:
        return await self._model(
            OfferRead, principal, "PUT", f"/v1/works/{work_id}/offer", body=offer
        )

    async def update_work(
        self, principal: Principal, work_id: uuid.UUID, update: WorkUpdate
    ) -> WorkRead:
        return await self._model(WorkRead, principal, "PATCH", f"/v1/works/{work_id}", body=update)

    async def histories(
        self, principal: Principal | None, work_ids: Sequence[uuid.UUID]
    ) -> list[WorkHistory]:
        content = await self._call(
            principal, "GET", "/v1/works/history", params=[("id", str(i)) for i in work_ids]
        )
        return _HISTORIES.validate_json(content)

    async def previews(
        self, principal: Principal | None, version_ids: Sequence[uuid.UUID]
    ) -> list[PreviewUrl]:
        content = await self._call(
            principal, "GET", "/v1/previews", params=[("id", str(i)) for i in version_ids]
        )
        return _PREVIEWS.validate_json(content)

    async def withdraw_work(self, principal: Principal, work_id: uuid.UUID) -> WorkRead:
        return await self._model(WorkRead, principal, "POST", f"/v1/works/{work_id}/withdraw")

    async def review_work(
        self, principal: Principal, work_id: uuid.UUID, decision: ReviewDecision
    ) -> WorkRead:
        return await self._model(
            WorkRead, principal, "POST", f"/v1/works/{work_id}/review", body=decision
        )

    async def review_queue(self, principal: Principal, query: ReviewQuery) -> ReviewPage:
        return await self._model(
            ReviewPage, principal, "GET", "/v1/reviews", params=query_params(query)
        )

    async def change_shares(
        self, principal: Principal, work_id: uuid.UUID, change: SharesChange
    ) -> WorkRead:
        return await self._model(
            WorkRead, principal, "PUT", f"/v1/works/{work_id}/shares", body=change
        )

    async def invite_by_address(
        self, principal: Principal, work_id: uuid.UUID, invite: AddressInvite
    ) -> WorkRead:
        return await self._model(
            WorkRead, principal, "POST", f"/v1/works/{work_id}/address-invitations", body=invite
        )

    async def claim_address_invitations(self, claim: AddressClaim) -> list[InvitationRead]:
        """Called by the gateway as itself, for an account that verified the address."""
        response = await self._client.request(
            "POST",
            "/v1/address-invitations/claim",
            subject="service:gateway",
            roles=frozenset({Role.SERVICE}),
            content=to_json(claim),
        )
        raise_for_error(self._client.name, response)
        return _INVITATIONS.validate_json(response.content)

    async def invitations(self, principal: Principal) -> list[InvitationRead]:
        return _INVITATIONS.validate_json(await self._call(principal, "GET", "/v1/invitations"))

    async def answer_invitation(
        self, principal: Principal, invitation_id: uuid.UUID, *, accept: bool
    ) -> InvitationRead:
        answer = "accept" if accept else "decline"
        return await self._model(
            InvitationRead, principal, "POST", f"/v1/invitations/{invitation_id}/{answer}"
        )

    async def signals(self, principal: Principal | None, work_id: uuid.UUID) -> TermsSignals:
        return await self._model(TermsSignals, principal, "GET", f"/v1/works/{work_id}/signals")

    async def work_kit(
        self, principal: Principal | None, work_id: uuid.UUID, *, kit_url: str
    ) -> OwnSiteKit:
        params = query_params(KitQuery(kit_url=kit_url))
        return await self._model(
            OwnSiteKit, principal, "GET", f"/v1/works/{work_id}/own-site", params=params
        )

    async def creator_kit(
        self, principal: Principal | None, creator_id: uuid.UUID, *, kit_url: str
    ) -> OwnSiteKit:
        params = query_params(KitQuery(kit_url=kit_url))
        return await self._model(
            OwnSiteKit, principal, "GET", f"/v1/creators/{creator_id}/own-site", params=params
        )

    async def works(self, principal: Principal | None, ids: Sequence[uuid.UUID]) -> list[WorkRead]:
        content = await self._call(
            principal, "GET", "/v1/works", params=[("id", str(work_id)) for work_id in ids]
        )
        return _WORKS.validate_json(content)

    async def creators(
        self, principal: Principal | None, ids: Sequence[uuid.UUID]
    ) -> list[CreatorRead]:
        content = await self._call(
            principal, "GET", "/v1/creators", params=[("id", str(creator_id)) for creator_id in ids]
        )
        return _CREATORS.validate_json(content)

    async def statements(self, principal: Principal | None) -> list[StatementRead]:
        return _STATEMENTS.validate_json(await self._call(principal, "GET", "/v1/statements"))

    async def statement_texts(
        self, principal: Principal | None, sha256s: Sequence[str]
    ) -> list[StatementTextRead]:
        content = await self._call(
            principal,
            "GET",
            "/v1/statements/texts",
            params=[("sha256", sha256) for sha256 in sha256s],
        )
        return _STATEMENT_TEXTS.validate_json(content)

    async def search(self, principal: Principal | None, search: WorkSearch) -> WorkPage:
        content = await self._call(
            principal, "GET", "/v1/works/search", params=query_params(search)
        )
        return _PAGE.validate_json(content)
