"""The catalogue, as licensing reads it: works by id, and a buyer's search."""

import asyncio
import uuid
from collections.abc import Sequence
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from services.contracts.catalogue import MAX_PAGE_SIZE, WorkPage, WorkRead, WorkSearch
from services.contracts.licensing import MAX_BUNDLE_WORKS
from services.contracts.roles import Role
from services.kit.client import ServiceClient, ServiceResponse
from services.kit.errors import FieldError, InvalidRequest, ServiceUnavailable
from services.kit.internal_token import service_subject

# Licensing reads the catalogue as itself: no service's token may carry a user.
SERVICE_SUBJECT = service_subject("licensing")
SERVICE_ROLES = frozenset({Role.SERVICE})
T = TypeVar("T")
_WORKS = TypeAdapter(list[WorkRead])
_PAGE = TypeAdapter(WorkPage)


class CatalogueClient:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def works(self, ids: Sequence[uuid.UUID]) -> list[WorkRead]:
        """The works found, in the order asked; missing ones are left out.

        Read as the service, which sees every state: a quote must tell a withdrawn or
        unconsented work from one that does not exist.
        """
        chunks = [ids[start : start + MAX_PAGE_SIZE] for start in range(0, len(ids), MAX_PAGE_SIZE)]
        pages = await asyncio.gather(*(self._works(chunk) for chunk in chunks))
        return [work for page in pages for work in page]

    async def _works(self, ids: Sequence[uuid.UUID]) -> list[WorkRead]:
        response = await self._client.request(
            "GET",
            "/v1/works",
            subject=SERVICE_SUBJECT,
            roles=SERVICE_ROLES,
            params=[("id", str(work_id)) for work_id in ids],
        )
        self._require_success(response)
        return self._parse(response, _WORKS)

    async def search(self, search: WorkSearch) -> list[uuid.UUID]:
        """Every listed work the search finds, up to a bundle's limit.

        A buyer is shown listed works only, so the bundle holds exactly what they were
        shown (a search with `mine` is refused before it gets here).
        """
        params = _search_params(search)
        found: dict[uuid.UUID, None] = {}
        after: str | None = None
        while len(found) < MAX_BUNDLE_WORKS:
            page_params = [*params, ("first", str(MAX_PAGE_SIZE))]
            if after is not None:
                page_params.append(("after", after))
            response = await self._client.request(
                "GET",
                "/v1/works/search",
                subject=SERVICE_SUBJECT,
                roles=SERVICE_ROLES,
                params=page_params,
            )
            if response.status_code == 400:
                raise _refused_search(response)
            self._require_success(response)
            page = self._parse(response, _PAGE)
            found.update(dict.fromkeys(work.id for work in page.items))
            after = page.next_cursor
            if after is None:
                break
        return list(found)[:MAX_BUNDLE_WORKS]

    def _require_success(self, response: ServiceResponse) -> None:
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"the catalogue answered HTTP {response.status_code}", service="catalogue"
            )

    def _parse(self, response: ServiceResponse, adapter: TypeAdapter[T]) -> T:
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise ServiceUnavailable(
                "the catalogue answered with an unexpected body", service="catalogue"
            ) from exc


def _search_params(search: WorkSearch) -> list[tuple[str, str]]:
    """The search as the catalogue's query string, without its paging."""
    params: list[tuple[str, str]] = []
    values = search.model_dump(mode="json", exclude={"first", "after"}, exclude_none=True)
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            params.append((name, str(item).lower() if isinstance(item, bool) else str(item)))
    return params


def _refused_search(response: ServiceResponse) -> InvalidRequest:
    """The catalogue's refusal of the search, its fields named as in the bundle."""
    try:
        body = response.json()
        detail = str(body.get("detail", "the search is not valid"))
        fields = [
            FieldError(f"search.{field['field']}", str(field["message"]), str(field["code"]))
            for field in body.get("fields") or []
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        detail, fields = "the search is not valid", []
    return InvalidRequest(detail, fields=fields)
