"""The public entry point: GraphQL over HTTP, API-key authentication, and calls to the
services with a short-lived internal token."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import IntegrityError
from strawberry.fastapi import GraphQLRouter

from gateway.accounts.cache import PrincipalCache
from gateway.accounts.keys import hash_key
from gateway.accounts.service import Principal, account_service
from gateway.card_events import card_events_router
from gateway.clients.card import CardClient
from gateway.clients.catalogue import CatalogueClient
from gateway.clients.delivery import DeliveryClient
from gateway.clients.keys import KeysApi
from gateway.clients.services import ServiceClients
from gateway.config import Settings
from gateway.context import Context, commit_or_roll_back
from gateway.downloads import downloads_router
from gateway.graphiql import graphiql_page, graphiql_router
from gateway.notification_mail import NotificationMailer
from gateway.ownsite import own_site_router
from gateway.people.invitations import AddressInvitationMailer, CoCreatorInvitations
from gateway.people.mail import LinkMailer
from gateway.people.routes import CSRF_HEADER, SESSION_COOKIE, people_router
from gateway.people.secrets import PeopleSecrets
from gateway.people.service import People
from gateway.portal import landing_router, portal_router
from gateway.portal.statement import statement_router
from gateway.rate_limits import RateLimited, RateLimiter
from gateway.schema import build_schema
from services.contracts.signing import SIGNING_SERVICES
from services.kit import errors
from services.kit.app import create_service_app
from services.kit.db import short_session
from services.kit.mail import Mailer
from storage.object_store import StorageSettings

API_KEY_HEADER = "x-api-key"

log = structlog.get_logger()


def _presented_key(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return request.headers.get(API_KEY_HEADER) or None


async def _rate_limited(_request: Request, exc: Exception) -> JSONResponse:
    """Refused before any resolver runs: a GraphQL client sees the code and the wait in
    the error's extensions, any HTTP client the status and Retry-After."""
    assert isinstance(exc, RateLimited)
    extensions = {"code": "RateLimited", "retryAfter": exc.retry_after}
    body = {"errors": [{"message": exc.detail, "extensions": extensions}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _client_address(request: Request) -> str:
    # Behind a proxy this is the proxy's address unless uvicorn trusts its forwarded
    # headers (--forwarded-allow-ips).
    return f"address:{request.client.host if request.client else 'unknown'}"


class _GraphQLRouter(GraphQLRouter[Context, None]):
    """orjson both ways: a page of works is some 300 fields, and the standard library's
    encoder was a visible share of each request."""

    def decode_json(self, data: str | bytes) -> object:
        # orjson's decode error subclasses json's, which the router answers with a 400.
        return orjson.loads(data)

    def encode_json(self, data: Any) -> bytes:
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            # An integer beyond 64 bits, which only the standard library writes.
            return json.dumps(data, separators=(",", ":")).encode()

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # Strawberry's page loads React and GraphiQL from a CDN; ours from the gateway.
        return graphiql_page()


def create_app(settings: Settings | None = None, storage: StorageSettings | None = None) -> FastAPI:
    """`storage` only tells the portal's content policy where browsers upload to."""
    settings = settings or Settings()
    last_used_resolution = timedelta(seconds=settings.last_used_resolution_seconds)

    async def bootstrap_admin(app: FastAPI) -> None:
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
        try:
            async with app.state.sessionmaker() as session:
                generated = await account_service.ensure_bootstrap_admin(session, admin_key)
                await session.commit()
        except IntegrityError:
            # Another gateway replica bootstrapped at the same moment; its admin stands.
            log.info("admin.bootstrap_raced")
            return
        if generated is not None:
            # Printed, never logged: this is the one time the key is shown.
            print(f"\nAdmin API key (shown once, keep it safe): {generated}\n", flush=True)

    app = create_service_app("gateway", settings, on_startup=bootstrap_admin, public=True)
    services = ServiceClients(
        settings.service_urls(), signer=app.state.token_signer, http=app.state.http
    )

    limiter = RateLimiter(
        per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst
    )

    principals = app.state.principals = PrincipalCache(ttl_seconds=settings.principal_cache_seconds)
    people = People(
        PeopleSecrets(settings.session_secret),
        session_length=timedelta(days=settings.session_days),
        link_length=timedelta(hours=settings.link_hours),
    )
    link_mailer = LinkMailer(
        lambda: app.state.sessionmaker,
        Mailer(settings.mail()),
        people.secrets,
        portal_url=settings.portal_url,
        poll_seconds=settings.mail_poll_seconds,
    )
    app.state.link_mailer = link_mailer
    notification_mailer = NotificationMailer(
        lambda: app.state.sessionmaker,
        services.by_name["catalogue"],
        Mailer(settings.mail()),
        portal_url=settings.portal_url,
        poll_seconds=settings.mail_poll_seconds,
    )
    app.state.notification_mailer = notification_mailer
    co_creators = app.state.co_creator_invitations = CoCreatorInvitations(settings.session_secret)
    invitation_mailer = AddressInvitationMailer(
        lambda: app.state.sessionmaker,
        Mailer(settings.mail()),
        portal_url=settings.portal_url,
        poll_seconds=settings.mail_poll_seconds,
    )

    async def authenticate(request: Request) -> Principal | None:
        """The caller, once the request is counted against its key or its address: by an
        API key, else by a session cookie with its CSRF token."""
        if (secret := _presented_key(request)) is None:
            if (cookie := request.cookies.get(SESSION_COOKIE)) and people.secrets.configured:
                return await session_principal(request, cookie)
            limiter.take(_client_address(request))
            return None
        key_hash = hash_key(secret)
        if (principal := principals.get(key_hash)) is not None:
            limiter.take(f"key:{principal.key_id}")
            return principal
        generation = principals.generation
        try:
            async with short_session(app.state.sessionmaker, service="gateway") as session:
                principal = await account_service.authenticate(
                    session, secret, last_used_resolution=last_used_resolution
                )
        except errors.Unauthenticated:
            # A wrong key counts against the address, so guessing keys is no faster than
            # any anonymous request.
            limiter.take(_client_address(request))
            raise
        principals.put(key_hash, principal, read_in=generation)
        limiter.take(f"key:{principal.key_id}")
        if principal.last_use_stale:
            await record_use(principal)
        return principal

    async def session_principal(request: Request, cookie: str) -> Principal:
        try:
            async with short_session(app.state.sessionmaker, service="gateway") as session:
                principal = await people.principal(
                    session, cookie, request.headers.get(CSRF_HEADER)
                )
        except errors.Unauthenticated:
            limiter.take(_client_address(request))
            raise
        limiter.take(f"key:{principal.key_id}")
        return principal

    async def record_use(principal: Principal) -> None:
        """Best effort: a database that cannot write (a full disk) must not turn away a
        valid key; the stamp is tried again on the key's next request."""
        try:
            async with short_session(app.state.sessionmaker, service="gateway") as session:
                await account_service.record_use(session, principal.key_id)
                await commit_or_roll_back(session)
        except Exception:
            log.warning(
                "api_key.last_use_not_recorded", key_id=str(principal.key_id), exc_info=True
            )

    def public_url(request: Request) -> str:
        return settings.public_url or str(request.base_url)

    async def get_context(request: Request) -> Context:
        """A key that is unknown or revoked is answered as no key is: the operation
        runs, and each field that needs a caller answers the typed `Unauthenticated`,
        here with the reason the key was refused. A key that could not be checked (the
        database connection was lost) is answered the same way, with the typed,
        retryable `ServiceUnavailable`."""
        refusal: errors.Unauthenticated | errors.ServiceUnavailable | None
        try:
            principal, refusal = await authenticate(request), None
        except (errors.Unauthenticated, errors.ServiceUnavailable) as refused:
            principal, refusal = None, refused
        return Context(
            sessionmaker=app.state.sessionmaker,
            principal=principal,
            refusal=refusal,
            principals=principals,
            services=services,
            public_url=lambda: public_url(request),
        )

    schema = build_schema(settings, app.state.metrics)
    graphql = _GraphQLRouter(
        schema,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql else None,
    )
    app.include_router(graphql, prefix="/graphql")
    if settings.graphiql:
        app.include_router(graphiql_router())
    app.include_router(
        downloads_router(
            authenticate,
            delivery=DeliveryClient(services.by_name["delivery"]),
            signing={name: KeysApi(services.by_name[name]) for name in SIGNING_SERVICES},
        )
    )
    app.include_router(
        own_site_router(
            authenticate,
            catalogue=CatalogueClient(services.by_name["catalogue"]),
            public_url=public_url,
        )
    )
    app.include_router(card_events_router(CardClient(services.by_name["licensing"])))
    # Before the portal's files, whose catch-all path would take statement.pdf for one.
    app.include_router(statement_router(schema, get_context))
    app.include_router(portal_router(storage))
    app.include_router(landing_router())
    app.include_router(
        people_router(
            people,
            lambda: app.state.sessionmaker,
            authenticate,
            RateLimiter(
                per_second=1 / settings.sign_in_every_seconds, burst=settings.sign_in_burst
            ),
            session_seconds=int(settings.session_days * 86_400),
            portal_url=settings.portal_url,
            on_verified=lambda account_id: co_creators.claim(
                app.state.sessionmaker, CatalogueClient(services.by_name["catalogue"]), account_id
            ),
        )
    )
    app.add_exception_handler(RateLimited, _rate_limited)
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Inside the kit's lifespan, so the mailer stops before the database goes.
        async with service_lifespan(app):
            mailing = [
                asyncio.create_task(link_mailer.worker.run(), name="gateway-people-mail"),
                asyncio.create_task(
                    notification_mailer.worker.run(), name="gateway-notification-mail"
                ),
                asyncio.create_task(invitation_mailer.worker.run(), name="gateway-invitation-mail"),
            ]
            try:
                yield
            finally:
                for task in mailing:
                    task.cancel()
                await asyncio.gather(*mailing, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
