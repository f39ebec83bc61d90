"""The catalogue as the delivery builder reads it: works by id, as they are now."""

import uuid
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError

from services.contracts.catalogue import MAX_PAGE_SIZE, WorkRead
from services.contracts.roles import Role
from services.kit.client import ServiceClient
from services.kit.errors import ServiceUnavailable

_WORKS = TypeAdapter(list[WorkRead])
SUBJECT = "delivery"


class CatalogueWorks:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WorkRead]:
        """The works found, by id; a missing work is left out, as the catalogue does."""
        found: dict[uuid.UUID, WorkRead] = {}
        for start in range(0, len(ids), MAX_PAGE_SIZE):
            batch = ids[start : start + MAX_PAGE_SIZE]
            response = await self._client.request(
                "GET",
                "/v1/works",
                subject=SUBJECT,
                roles=frozenset({Role.SERVICE}),
                params={"id": [str(work_id) for work_id in batch]},
            )
            if response.status_code != 200:
                raise ServiceUnavailable(
                    f"the catalogue answered {response.status_code} to a batch read",
                    service="catalogue",
                )
            try:
                works = _WORKS.validate_json(response.content)
            except ValidationError as exc:
                raise ServiceUnavailable(
                    "the catalogue's answer is not a list of works", service="catalogue"
                ) from exc
            found.update((work.id, work) for work in works)
        return found
