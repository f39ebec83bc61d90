"""Consent is given in the platform's words: a published statement chosen by id and
version, its exact words stored once by hash, with the creator's rights attestation."""

from datetime import date
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import Consent
from services.catalogue.statements import published
from services.catalogue.statements.models import StatementText
from services.catalogue.statements.published import PublishedStatement
from services.contracts.catalogue import StatementScope, Use
from tests.services.catalogue.helpers import (
    OPT_IN,
    WITHDRAWAL,
    Actor,
    Api,
    consent_payload,
    count,
)

DATA = b"a charcoal study of a fishing boat"


async def _consent_path(api: Api, actor: Actor) -> str:
    work_id = (await api.create_work(actor, DATA))["work"]["id"]
    return f"/v1/works/{work_id}/consents"


def _fields(response_body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(field["field"], field["code"]) for field in response_body["fields"]]


async def test_the_published_statements_are_served_with_their_words_and_hashes(
    api: Api, ines: Actor
) -> None:
    statements = await api.ok(ines, "GET", "/v1/statements")

    by_scope = {s["scope"]: s for s in statements if s["current"]}
    assert set(by_scope) == {"opt_in", "withdrawal"}
    opt_in = by_scope["opt_in"]
    assert (opt_in["id"], opt_in["version"], opt_in["sha256"]) == (
        OPT_IN.id,
        OPT_IN.version,
        OPT_IN.sha256,
    )
    # The plain words per use the portal shows, and the rights attestation, are in them.
    assert "Training new AI models: my work may be copied" in opt_in["text"]
    assert "I own or control the rights in this work" in opt_in["text"]


async def test_a_consent_stores_its_words_once_and_serves_them_by_hash(
    api: Api, ines: Actor, omar: Actor, session: AsyncSession
) -> None:
    for actor in (ines, omar):
        path = await _consent_path(api, actor)
        given = await api.ok(actor, "POST", path, json=consent_payload(), status=201)
        assert (given["statement_id"], given["statement_sha256"]) == (OPT_IN.id, OPT_IN.sha256)
        assert given["attestation"] == {
            "owns_rights": True,
            "depicts_identifiable_people": False,
            "holds_releases": False,
        }

    texts = await api.ok(
        ines,
        "GET",
        "/v1/statements/texts",
        params=[("sha256", OPT_IN.sha256), ("sha256", "0" * 64)],
    )

    assert texts == [{"sha256": OPT_IN.sha256, "text": OPT_IN.text}]
    assert await count(session, StatementText, sha256=OPT_IN.sha256) == 1


@pytest.mark.parametrize(
    ("choice", "field", "code"),
    [
        ({"statement_id": "i-agree"}, "statement_id", "unknown_statement"),
        ({"statement_version": "7"}, "statement_version", "unknown_statement_version"),
        ({"statement_id": "withdrawal"}, "statement_id", "wrong_statement_scope"),
    ],
)
async def test_a_statement_the_platform_did_not_publish_is_refused(
    api: Api, ines: Actor, session: AsyncSession, choice: dict[str, str], field: str, code: str
) -> None:
    path = await _consent_path(api, ines)

    refused = await api.call(ines, "POST", path, json={**consent_payload(), **choice})

    assert (refused.status_code, refused.json()["error"]) == (400, "InvalidRequest")
    assert _fields(refused.json()) == [(field, code)]
    assert await count(session, Consent) == 0


async def test_free_words_are_refused(api: Api, ines: Actor, session: AsyncSession) -> None:
    path = await _consent_path(api, ines)
    free = {"uses": ["training"], "statement_text": "ok", "statement_version": "1"}

    refused = await api.call(ines, "POST", path, json=free)

    assert refused.status_code == 422
    assert ("body.statement_id", "missing") in _fields(refused.json())
    assert await count(session, Consent) == 0


@pytest.mark.parametrize(
    ("attestation", "field", "code"),
    [
        (
            {"owns_rights": False, "depicts_identifiable_people": False},
            "body.attestation.owns_rights",
            "rights_not_attested",
        ),
        (
            {"owns_rights": True, "depicts_identifiable_people": True},
            "body.attestation.holds_releases",
            "releases_not_attested",
        ),
        (None, "body.attestation", "missing"),
    ],
)
async def test_consent_needs_the_rights_attested(
    api: Api,
    ines: Actor,
    session: AsyncSession,
    attestation: dict[str, bool] | None,
    field: str,
    code: str,
) -> None:
    path = await _consent_path(api, ines)
    payload = {**consent_payload(), "attestation": attestation}
    if attestation is None:
        del payload["attestation"]

    refused = await api.call(ines, "POST", path, json=payload)

    assert refused.status_code == 422
    assert _fields(refused.json()) == [(field, code)]
    assert await count(session, Consent) == 0


async def test_releases_for_identifiable_people_are_recorded_with_the_consent(
    api: Api, ines: Actor
) -> None:
    path = await _consent_path(api, ines)
    attestation = {"owns_rights": True, "depicts_identifiable_people": True, "holds_releases": True}

    given = await api.ok(
        ines, "POST", path, json={**consent_payload(), "attestation": attestation}, status=201
    )

    assert given["attestation"] == attestation


async def test_a_new_version_leaves_consents_already_given_as_they_were(
    api: Api, ines: Actor, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = await _consent_path(api, ines)
    first = await api.ok(ines, "POST", path, json=consent_payload(Use.TRAINING), status=201)
    newer = PublishedStatement(
        id=OPT_IN.id,
        version="2",
        scope=StatementScope.OPT_IN,
        published_on=date(2027, 6, 1),
        text=OPT_IN.text + "\nI may be asked to agree again when these words change.",
    )
    monkeypatch.setitem(published.PUBLISHED, (newer.id, newer.version), newer)
    monkeypatch.setitem(published.CURRENT, StatementScope.OPT_IN, newer)

    stale = await api.call(ines, "POST", path, json=consent_payload(Use.RETRIEVAL))
    again = await api.ok(
        ines,
        "POST",
        path,
        json={**consent_payload(Use.RETRIEVAL), "statement_version": "2"},
        status=201,
    )

    assert _fields(stale.json()) == [("statement_version", "statement_superseded")]
    assert again["statement_sha256"] == newer.sha256
    kept = await session.get(Consent, first["id"], populate_existing=True)
    assert kept is not None
    assert (kept.statement_version, kept.statement_sha256) == ("1", OPT_IN.sha256)
    for statement in (OPT_IN, newer):
        stored = await session.get(StatementText, statement.sha256)
        assert stored is not None
        assert stored.text == statement.text


async def test_withdrawal_records_the_platforms_withdrawal_words(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    path = await _consent_path(api, ines)
    await api.ok(ines, "POST", path, json=consent_payload(), status=201)

    opt_in_words = await api.call(
        ines,
        "POST",
        f"{path}/withdraw",
        json={"statement_id": OPT_IN.id, "statement_version": OPT_IN.version},
    )
    withdrawn = await api.ok(ines, "POST", f"{path}/withdraw", json=WITHDRAWAL.model_dump())

    assert _fields(opt_in_words.json()) == [("statement_id", "wrong_statement_scope")]
    assert (withdrawn["kind"], withdrawn["statement_id"]) == ("withdrawn", "withdrawal")
    assert await session.get(StatementText, withdrawn["statement_sha256"]) is not None
