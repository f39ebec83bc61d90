"""Two runs of different models racing for a work's last slot under its models cap, each
request in its own committing transaction on PostgreSQL: exactly one is recorded."""

import asyncio
import uuid
from datetime import timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assent.protocol import b64encode, sign_statement
from services.contracts.catalogue import Use
from services.contracts.licensing import TrainingLicenceUse, TrainingStatement
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.licensing.training.models import TrainingRun
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import (
    headers,
    make_quote,
    quote_line,
    top_up,
)


def _body(key: Ed25519PrivateKey, lab: Actor, licence: dict[str, object], model: str) -> object:
    now = utcnow()
    lines = licence["lines"]
    assert isinstance(lines, list)
    statement = TrainingStatement(
        run_id=uuid.uuid4(),
        buyer_id=lab.id,
        model_name=model,
        model_version="1",
        declared_use=Use.TRAINING,
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=1),
        licences=[
            TrainingLicenceUse(
                licence_id=uuid.UUID(str(licence["id"])),
                work_ids=[uuid.UUID(line["work_id"]) for line in lines],
            )
        ],
    )
    key_id, signature = sign_statement(key, statement)
    return {
        "statement": statement.model_dump(mode="json"),
        "key_id": key_id,
        "signature": signature,
    }


async def test_two_models_racing_for_the_last_slot_record_exactly_one(
    racing_app: FastAPI,
) -> None:
    lab = Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Racing Lab")
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    async with sessions() as session:
        line = quote_line(100, [(uuid.uuid4(), 10_000)], max_models=1)
        quote_id = await make_quote(session, lab.id, [line])
        await top_up(session, lab.id, 100)
        await session.commit()
    key = Ed25519PrivateKey.generate()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=racing_app), base_url="http://licensing.internal"
    ) as http:
        public_key = b64encode(key.public_key().public_bytes_raw())
        registered = await http.post(
            "/v1/training/keys", json={"public_key": public_key}, headers=headers(lab)
        )
        assert registered.status_code == 200, registered.text
        bought = await http.post(
            "/v1/purchases",
            json={"quote_id": str(quote_id), "idempotency_key": "race"},
            headers=headers(lab),
        )
        licence = bought.json()["licence"]
        answers = await asyncio.gather(
            *(
                http.post(
                    "/v1/training/runs", json=_body(key, lab, licence, model), headers=headers(lab)
                )
                for model in ("Alpha", "Beta")
            )
        )

    assert sorted(answer.status_code for answer in answers) == [200, 409], [
        answer.text for answer in answers
    ]
    async with sessions() as session:
        runs = await session.scalar(
            select(func.count()).select_from(TrainingRun).where(TrainingRun.buyer_id == lab.id)
        )
    assert runs == 1
