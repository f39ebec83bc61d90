"""A creator's statement for a period as a PDF, for the portal's *Download PDF*.

The gateway runs the lab client's own code: the same `earnings` query the SDK sends
(`assent.statements.EARNINGS`, through this gateway's schema with the caller's context),
the same `Statement` model and the same template and layout. The portal's PDF and the one
`write_statement_pdf` writes from `client.statements.fetch` therefore never differ.

The caller is authenticated as GraphQL authenticates them: an API key, or the session
cookie with its CSRF token, which the portal's page sends with the download as it does
with every call. The request changes nothing.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from strawberry import Schema

from assent.pdf import PdfUnavailable
from assent.statements import EARNINGS, Statement, statement_of, statement_pdf, statement_variables
from gateway.context import Context
from gateway.portal.router import PORTAL_PATH
from services.contracts.roles import Role
from services.kit import errors

log = structlog.get_logger()

STATEMENT_PDF_PATH = f"{PORTAL_PATH}/statement.pdf"
EXAMPLE = "2025-01-01T00:00:00+01:00"
# Each way `earnings` can refuse, as the HTTP error that says the same.
_REFUSED: dict[str, type[errors.AssentError]] = {
    "Unauthenticated": errors.Unauthenticated,
    "Forbidden": errors.Forbidden,
    "ServiceUnavailable": errors.ServiceUnavailable,
}


def _moment(value: str | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidRequest(
            f"{field}: {value!r} is not a date and time; give one like {EXAMPLE}",
            fields=[errors.FieldError(field, f"give a date and time like {EXAMPLE}", "invalid")],
        ) from None
    if moment.tzinfo is None:
        raise errors.InvalidRequest(
            f"{field}: give the time zone, as in {EXAMPLE}",
            fields=[errors.FieldError(field, "give a timezone (e.g. Z)", "naive_datetime")],
        )
    return moment


def pdf_filename(since: datetime | None, until: datetime | None) -> str:
    """The period's days as the creator chose them: in the offset they were given in."""
    start = since.date().isoformat() if since else "start"
    end = until.date().isoformat() if until else "now"
    return f"assent-statement-{start}-{end}.pdf"


async def _earnings(
    schema: Schema, context: Context, since: datetime | None, until: datetime | None
) -> Statement:
    answer = await schema.execute(
        EARNINGS,
        variable_values=statement_variables(since=since, until=until),
        context_value=context,
        operation_name="Statement",
    )
    if answer.errors or answer.data is None:
        # The schema logged each error; the download says only that it failed.
        raise errors.ServiceUnavailable(
            "the statement could not be read just now; try again", service="gateway"
        )
    node: dict[str, Any] = answer.data["earnings"]
    typename = node["__typename"]
    if typename == "ValidationFailed":
        raise errors.InvalidRequest(
            node["message"],
            fields=[errors.FieldError(f["field"], f["message"], f["code"]) for f in node["fields"]],
        )
    if typename != "Earnings":
        raise _REFUSED[typename](node["message"])
    return statement_of(node, since=since, until=until)


def statement_router(schema: Schema, context: Callable[[Request], Awaitable[Context]]) -> APIRouter:
    """`context`: GraphQL's, so the caller is authenticated and counted as it would be."""
    # WeasyPrint logs each of its seven layout steps at INFO: ten lines a download, which
    # say nothing an operator needs beside the request's own line. Its warnings stay.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    router = APIRouter(include_in_schema=False)

    @router.get(STATEMENT_PDF_PATH)
    async def statement_pdf_download(
        request: Request, since: str | None = None, until: str | None = None
    ) -> Response:
        ctx = await context(request)
        caller = ctx.require_principal()
        opens, closes = _moment(since, "since"), _moment(until, "until")
        if opens is not None and closes is not None and closes <= opens:
            raise errors.InvalidRequest(
                "the period must end after it begins",
                fields=[errors.FieldError("until", "must be after since", "empty_period")],
            )
        if Role.CREATOR not in caller.roles:
            raise errors.Forbidden("statements are for creators: sign in as one")
        statement = await _earnings(schema, ctx, opens, closes)
        # Only the caller's own: an answer about anyone else is never laid out.
        if statement.creator_id != str(caller.account_id):
            log.error("statement.pdf.not_the_callers", account_id=str(caller.account_id))
            raise errors.Forbidden("a creator sees only their own earnings")
        try:
            # WeasyPrint lays out for a good part of a second, holding the loop if run on it.
            body = await asyncio.to_thread(statement_pdf, statement)
        except PdfUnavailable as exc:
            raise errors.ServiceUnavailable(str(exc), service="gateway") from exc
        disposition = f'attachment; filename="{pdf_filename(opens, closes)}"'
        return Response(
            body,
            media_type="application/pdf",
            headers={
                "Content-Disposition": disposition,
                # A statement is private: no shared cache keeps it.
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
