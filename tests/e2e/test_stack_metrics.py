"""Every process of the stack serves its metrics on its own loopback port, as an operator's
Prometheus scrapes them: the gateway its GraphQL operations, each service its answers and
its outbox per receiver, the audit log its sequencer lag and the age of its checkpoint;
none of it on the gateway's public port."""

import httpx
import pytest

from tests.e2e.marketplace import funded_buyer
from tests.fixtures.faults import eventually
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import METERED, RunningStack

pytestmark = pytest.mark.stack


async def _scraped(running_stack: RunningStack, name: str) -> str:
    port = running_stack.stack.env[f"ASSENT_{name.upper()}_METRICS_PORT"]
    async with httpx.AsyncClient() as http:
        answered = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert answered.status_code == 200
    return answered.text


async def test_each_process_serves_its_metrics_on_its_own_port(
    running_stack: RunningStack, gateway: GraphQLClient
) -> None:
    await funded_buyer(gateway, running_stack.admin_key, "Metered Lab", 1_000)

    async def checkpoint_sampled() -> str | None:
        audit = await _scraped(running_stack, "audit")
        return audit if "assent_audit_checkpoint_age_seconds " in audit else None

    audit = await eventually(checkpoint_sampled, what="the audit log's figures sampled")
    scraped = {name: await _scraped(running_stack, name) for name in METERED}
    async with httpx.AsyncClient() as http:
        public = await http.get(running_stack.stack.gateway_url + "/metrics")

    assert (
        'assent_graphql_operations_total{operation="mutation register",outcome="ok"}'
        in (scraped["gateway"])
    )
    assert 'assent_outbox_backlog{receiver="licensing",service="gateway"}' in scraped["gateway"]
    for name in METERED:
        assert f'service="{name}"' in scraped[name], name
    assert "assent_audit_sequencer_lag_seconds " in audit
    assert public.status_code == 404
