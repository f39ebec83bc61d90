"""Documents built to stall the gateway are refused before they run, each within the
CPU budget the hardening issue sets (50 ms), while /healthz keeps answering."""

import asyncio
import contextlib
import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.config import Settings
from gateway.schema import build_schema
from tests.gateway.conftest import UNREACHABLE, unattached_settings

CPU_BUDGET_SECONDS = 0.05


def fragment_fan_out(n: int) -> str:
    """Each fragment spreads the next twice, with no cycle: 2**n paths to one field."""
    spreads = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
    return f"query {{ ...F0 }} {spreads} fragment F{n} on Query {{ me {{ __typename }} }}"


def cpu_seconds_to_execute(schema: Any, document: str) -> tuple[float, list[Any]]:
    started = time.thread_time()
    result = asyncio.run(schema.execute(document))
    return time.thread_time() - started, result.errors or []


@pytest.fixture(scope="module")
def schema() -> Iterator[Any]:
    built = build_schema(Settings())
    # The first operations pay for imports and first-use caches.
    for warm_up in ("{ __typename }", fragment_fan_out(3), "{ " + "a " * 3000 + "}"):
        asyncio.run(built.execute(warm_up))
    # As the gateway does once started (services/kit/app.py): what is built stays out of
    # the collector, so a full collection is not charged to one document.
    gc.collect()
    gc.freeze()
    yield built
    gc.unfreeze()


@pytest.mark.parametrize("n", range(18, 61))
def test_fragment_fan_out_is_refused_within_the_cpu_budget(schema: Any, n: int) -> None:
    spent, errors = cpu_seconds_to_execute(schema, fragment_fan_out(n))

    # Its 2**n copies of one field are also too many to compare for merging.
    assert {error.extensions["code"] for error in errors} == {
        "QUERY_TOO_COSTLY",
        "QUERY_TOO_REPETITIVE",
    }
    assert spent < CPU_BUDGET_SECONDS


def test_a_300_kb_document_is_refused_before_parsing(schema: Any) -> None:
    document = "{ " + "a " * 150_000 + "}"

    spent, errors = cpu_seconds_to_execute(schema, document)

    assert len(document) > 300_000
    assert [error.extensions for error in errors] == [
        {"code": "DOCUMENT_TOO_LARGE", "limit": 32_768}
    ]
    assert spent < CPU_BUDGET_SECONDS / 10


def test_tokens_beyond_the_limit_stop_the_parser(schema: Any) -> None:
    document = "{ " + "a " * 15_000 + "}"

    spent, errors = cpu_seconds_to_execute(schema, document)

    assert [error.extensions for error in errors] == [{"code": "DOCUMENT_TOO_LARGE", "limit": 2000}]
    assert spent < CPU_BUDGET_SECONDS / 10


@pytest.mark.parametrize(
    "document",
    [
        # Fields of one name are compared pairwise when merged: 400 took 0.6 s.
        "{ " + " ".join("me { __typename }" for _ in range(400)) + " }",
        "{ " + " ".join(f"a{i}: me {{ __typename }}" for i in range(300)) + " }",
        # So are the fragments one selection spreads.
        "{ "
        + " ".join(f"...F{i}" for i in range(150))
        + " } "
        + " ".join(f"fragment F{i} on Query {{ me {{ __typename }} }}" for i in range(150)),
    ],
    ids=["same-field", "aliased", "many-fragments"],
)
def test_repetitive_documents_are_refused_within_the_cpu_budget(schema: Any, document: str) -> None:
    spent, errors = cpu_seconds_to_execute(schema, document)

    assert errors
    assert spent < CPU_BUDGET_SECONDS


def nineteen_by_nineteen() -> str:
    """One selection spreads 19 fragments of 19 `me` each: few tokens and a low cost, but
    361 fields of one name to compare pairwise once spread."""
    fields = " ".join("me { __typename }" for _ in range(19))
    spreads = " ".join(f"...F{i}" for i in range(19))
    fragments = " ".join(f"fragment F{i} on Query {{ {fields} }}" for i in range(19))
    return f"{{ {spreads} }} {fragments}"


def chained_fragments(n: int) -> str:
    """Each fragment spreads the next two."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 2} }}" for i in range(n))
    ends = " ".join(f"fragment F{i} on Query {{ me {{ __typename }} }}" for i in (n, n + 1))
    return f"query {{ ...F0 }} {chain} {ends}"


@pytest.mark.parametrize(
    "document", [nineteen_by_nineteen(), chained_fragments(80)], ids=["19x19", "chained"]
)
def test_fields_repeated_through_fragments_are_refused_within_the_cpu_budget(
    schema: Any, document: str
) -> None:
    spent, errors = cpu_seconds_to_execute(schema, document)

    assert "QUERY_TOO_REPETITIVE" in {error.extensions["code"] for error in errors}
    assert spent < CPU_BUDGET_SECONDS


def test_a_refused_document_is_not_kept(schema: Any) -> None:
    document = "{ " + "me " * 5_000 + "}"
    held_before = sys.getrefcount(document)

    codes = [error.extensions["code"] for error in cpu_seconds_to_execute(schema, document)[1]]
    gc.collect()

    assert codes == ["DOCUMENT_TOO_LARGE"]
    assert sys.getrefcount(document) == held_before


def test_fragment_cycles_are_refused(schema: Any) -> None:
    document = (
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A me { __typename } }"
    )

    _, errors = cpu_seconds_to_execute(schema, document)

    assert any("Cannot spread fragment" in error.message for error in errors)


# What the gateway's start-up does for the event loop (services/kit/app.py freezes what
# start-up built out of the collector), without its database work.
SERVE = """
import gc, sys, uvicorn
from gateway.app import create_app
app = create_app()
gc.collect()
gc.freeze()
uvicorn.run(app, port=int(sys.argv[1]), lifespan="off", log_level="warning")
"""


@pytest.fixture
def served_gateway(migrated_postgres: str) -> Iterator[tuple[str, int]]:
    """The gateway in a process of its own, as uvicorn serves it, without its start-up
    hooks: hostile documents are refused before any database work."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = unattached_settings(migrated_postgres)
    environment = {
        **os.environ,
        "ASSENT_GATEWAY_DATABASE_URL": migrated_postgres,
        "ASSENT_GATEWAY_DATABASE_SCHEMA": "gateway",
        "ASSENT_INTERNAL_TOKEN_SECRET": settings.internal_token_secret.get_secret_value(),
        "ASSENT_LOG_LEVEL": "WARNING",
        **{f"ASSENT_{name.upper()}_URL": UNREACHABLE for name in settings.service_urls()},
    }
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            time.sleep(0.05)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


def cpu_seconds_of(pid: int) -> float:
    """User and system CPU a process has spent (Linux), in ticks of 10 ms."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_healthz_answers_while_hostile_documents_are_posted(
    served_gateway: tuple[str, int],
) -> None:
    url, pid = served_gateway
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post("/graphql", json={"query": fragment_fan_out(3)})
        attacking = True
        waits: list[float] = []

        async def attack() -> None:
            for n in range(18, 61):
                response = await http.post("/graphql", json={"query": fragment_fan_out(n)})
                codes = {error["extensions"]["code"] for error in response.json()["errors"]}
                assert "QUERY_TOO_COSTLY" in codes

        async def probe() -> None:
            while attacking:
                before = cpu_seconds_of(pid)
                response = await http.get("/healthz")
                waits.append(cpu_seconds_of(pid) - before)
                assert response.status_code == 200

        prober = asyncio.create_task(probe())
        try:
            await attack()
        finally:
            attacking = False
            await prober
    assert len(waits) > 10
    # The bound of 100 ms, in the gateway's CPU while each health check waited:
    # on a machine shared with other work the wall clock measures the neighbours too.
    assert max(waits) < 0.1, str(waits)
