"""The own-site kits' download routes: the files a creator publishes on their own site.

The files are the catalogue's (`services/catalogue/ownsite`); served here, on the
gateway's public URL, they also stand as the live copy the files point to: robots.txt's
`License:` line names the RSL licence here, and tdmrep.json each work's policy here, so
a crawler reads a withdrawal as soon as it happens. A listed work's kit, and a creator's
(their listed works only), are public; an API key is needed only for a work's kit while
it is not listed, and only its owner's or an accepted co-creator's is honoured.
"""

import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from gateway.accounts.service import Principal
from gateway.clients.catalogue import CatalogueClient
from gateway.downloads import Authenticate
from gateway.rate_limits import RateLimited
from services.contracts.catalogue import OWN_SITE_PATH, RSL_MEDIA_TYPE, OwnSiteFile, OwnSiteKit
from services.kit import errors

CREATOR_FILES = frozenset({OwnSiteFile.RSL, OwnSiteFile.TDMREP, OwnSiteFile.ROBOTS})
# Crawlers and creators fetch these again at will; the RSL file's own max-age says how
# long a crawler may rely on it.
REVALIDATE = {"cache-control": "no-cache"}


def _error(error: errors.AssentError) -> JSONResponse:
    return JSONResponse(
        {"error": error.code, "detail": error.detail},
        status_code=error.status_code,
        headers=error.headers if isinstance(error, RateLimited) else None,
    )


def _file(kit: OwnSiteKit, file: OwnSiteFile) -> Response:
    if file == OwnSiteFile.RSL:
        return Response(kit.rsl, media_type=RSL_MEDIA_TYPE, headers=REVALIDATE)
    if file == OwnSiteFile.ROBOTS:
        return PlainTextResponse(kit.robots, headers=REVALIDATE)
    if file == OwnSiteFile.TDMREP:
        rules = [
            rule.model_dump(mode="json", by_alias=True, exclude_none=True) for rule in kit.tdmrep
        ]
        return JSONResponse(rules, headers=REVALIDATE)
    if kit.tdm_policy is None:
        return _error(errors.NotFound("nothing of this work can be licensed now"))
    return JSONResponse(kit.tdm_policy, media_type="application/ld+json", headers=REVALIDATE)


def _parsed(
    raw_id: str, raw_file: str, allowed: frozenset[OwnSiteFile]
) -> tuple[uuid.UUID, OwnSiteFile]:
    try:
        parsed, file = uuid.UUID(raw_id), OwnSiteFile(raw_file)
    except ValueError:
        raise errors.NotFound("no such file") from None
    if file not in allowed:
        raise errors.NotFound("no such file")
    return parsed, file


def own_site_router(
    authenticate: Authenticate,
    *,
    catalogue: CatalogueClient,
    public_url: Callable[[Request], str],
) -> APIRouter:
    router = APIRouter(prefix=OWN_SITE_PATH, tags=["own-site kit"])

    def kit_url(request: Request) -> str:
        return public_url(request).rstrip("/") + OWN_SITE_PATH

    async def served(
        request: Request,
        fetch: Callable[[Principal | None, str], Awaitable[OwnSiteKit]],
        file: OwnSiteFile,
    ) -> Response:
        try:
            # Counts the request against the caller's rate limit too.
            principal = await authenticate(request)
            kit = await fetch(principal, kit_url(request))
        except errors.AssentError as error:
            return _error(error)
        return _file(kit, file)

    @router.get("/works/{work_id}/{file_name}", response_model=None)
    async def work_file(work_id: str, file_name: str, request: Request) -> Response:
        """A work's licence.xml, tdmrep.json, tdm-policy.json or robots.txt."""
        try:
            parsed, file = _parsed(work_id, file_name, frozenset(OwnSiteFile))
        except errors.NotFound as error:
            return _error(error)
        return await served(
            request,
            lambda principal, url: catalogue.work_kit(principal, parsed, kit_url=url),
            file,
        )

    @router.get("/creators/{creator_id}/{file_name}", response_model=None)
    async def creator_file(creator_id: str, file_name: str, request: Request) -> Response:
        """A creator's licence.xml, tdmrep.json or robots.txt, for all their listed works."""
        try:
            parsed, file = _parsed(creator_id, file_name, CREATOR_FILES)
        except errors.NotFound as error:
            return _error(error)
        return await served(
            request,
            lambda principal, url: catalogue.creator_kit(principal, parsed, kit_url=url),
            file,
        )

    return router
