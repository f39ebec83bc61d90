"""Schemathesis in process, on the test's event loop: every operation of a service's
OpenAPI, or every query and mutation of the gateway's GraphQL schema.

Hypothesis drives each operation from a worker thread; every request it makes is run on
the loop that owns the apps' database connections and awaited there. Each run is
derandomised (the same cases every time) and counts the requests it actually sent.
"""

import asyncio
import re
import traceback
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.services.catalogue.helpers import SIGNER, Actor

T = TypeVar("T")
OPENAPI_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
REQUEST_TIMEOUT_SECONDS = 60
# Cases sent in this run, per target, for the summary at the end of the run.
FUZZ_CASES: Counter[str] = Counter()
# What the gateway answers in place of an exception a resolver did not expect.
MASKED_ERROR = "Unexpected error."


@dataclass(frozen=True)
class Target:
    """One service under fuzzing: its app, who calls it, and ids of objects that exist,
    so that a share of the cases reaches real rows instead of a 404."""

    service: str
    app: FastAPI
    actors: Sequence[Actor]
    known: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphQLTarget:
    """The gateway with the services behind it, and API keys of real accounts by role."""

    app: FastAPI
    sdl: str
    keys: Mapping[str, str]


@dataclass
class Outcome:
    cases: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())


class UnexpectedGraphQLError(AssertionError):
    pass


def _token_headers(actor: Actor, audience: str) -> dict[str, str]:
    token = SIGNER.sign(
        subject=actor.subject, roles=actor.roles, audience=audience, name=actor.name
    )
    return {"authorization": f"Bearer {token}"}


async def _send(
    http: httpx.AsyncClient, case: Case[Any], headers: dict[str, str], *, path: str = ""
) -> httpx.Response:
    sent = case.as_transport_kwargs(base_url=f"{http.base_url}{path}", headers=headers)
    body: dict[str, Any] = {}
    if "json" in sent:
        body["json"] = sent["json"]
    elif sent.get("data") is not None:
        body["content"] = sent["data"]
    return await http.request(
        sent["method"],
        sent["url"],
        params=sent.get("params"),
        headers=sent.get("headers"),
        **body,
    )


def _openapi_strategy(
    operation: APIOperation[Any, Any, Any, Any], known: Mapping[str, str]
) -> st.SearchStrategy[Case[Any]]:
    # Valid input aimed at objects that exist (first: Hypothesis favours it), valid
    # input, and invalid input.
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    names = re.findall(r"{(\w+)}", operation.path)
    if names and all(name in known for name in names):
        fixed = {name: known[name] for name in names}
        strategies.insert(0, operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
    return st.one_of(strategies)


def _check_graphql(case: Case[Any], response: httpx.Response) -> None:
    """No 5xx, and no error the gateway did not expect: expected outcomes are union
    members, so a resolver's exception (masked) is a failure."""
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code != 200:
        raise UnexpectedGraphQLError(f"{case.body!r} answered {response.status_code}")
    errors = response.json().get("errors") or []
    masked = [error for error in errors if error.get("message") == MASKED_ERROR]
    if masked:
        raise UnexpectedGraphQLError(f"{case.body!r} answered {errors!r}")


def _run_operation(
    label: str,
    strategy: st.SearchStrategy[Case[Any]],
    send: Callable[[Case[Any], int], httpx.Response],
    check: Callable[[Case[Any], httpx.Response], None],
    *,
    callers: int,
    examples: int,
    outcome: Outcome,
) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    # The caller is drawn with the case, so a replayed case (Hypothesis replays one
    # that failed) is sent by the same caller.
    @given(case=strategy, caller=st.integers(min_value=0, max_value=callers - 1))
    def run(case: Case[Any], caller: int) -> None:
        outcome.cases[label] += 1
        check(case, send(case, caller))

    try:
        run()
    except (Exception, FailureGroup) as exc:
        # The whole report: a flaky failure keeps the first error only in a sub-exception.
        outcome.failures.append(f"{label}: {''.join(traceback.format_exception(exc))}")


def _on_loop(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(REQUEST_TIMEOUT_SECONDS)


def _operations(schema: BaseSchema) -> Iterator[APIOperation[Any, Any, Any, Any]]:
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()
        yield result.ok()


def fuzz_openapi(target: Target, loop: asyncio.AbstractEventLoop, *, examples: int) -> Outcome:
    """Every operation of the target's OpenAPI, up to `examples` cases each, each from
    one of the target's callers; runs in a worker thread while `loop` serves the requests."""
    schema = schemathesis.openapi.from_dict(target.app.openapi())
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=target.app), base_url=f"http://{target.service}.internal"
    )

    def send(case: Case[Any], caller: int) -> httpx.Response:
        actor = target.actors[caller]
        return _on_loop(loop, _send(http, case, _token_headers(actor, target.service)))

    def check(case: Case[Any], response: httpx.Response) -> None:
        case.validate_response(response, checks=OPENAPI_CHECKS)

    outcome = Outcome()
    try:
        for operation in _operations(schema):
            _run_operation(
                f"{target.service} {operation.method.upper()} {operation.path}",
                _openapi_strategy(operation, target.known),
                send,
                check,
                callers=len(target.actors),
                examples=examples,
                outcome=outcome,
            )
    finally:
        _on_loop(loop, http.aclose())
    return outcome


def fuzz_graphql(
    target: GraphQLTarget, loop: asyncio.AbstractEventLoop, *, examples: int
) -> Outcome:
    """Every query and mutation field, up to `examples` generated operations each, each
    with one of the keys; runs in a worker thread while `loop` serves the requests."""
    schema = schemathesis.graphql.from_file(target.sdl)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=target.app), base_url="http://gateway.internal"
    )

    keys = list(target.keys.values())

    def send(case: Case[Any], caller: int) -> httpx.Response:
        key = keys[caller]
        headers = {"authorization": f"Bearer {key}"}
        return _on_loop(loop, _send(http, case, headers, path="/graphql"))

    outcome = Outcome()
    try:
        for operation in _operations(schema):
            _run_operation(
                f"graphql {operation.label}",
                operation.as_strategy(),
                send,
                _check_graphql,
                callers=len(keys),
                examples=examples,
                outcome=outcome,
            )
    finally:
        _on_loop(loop, http.aclose())
    return outcome
