"""The stacks the fault and timing tests share: one on PostgreSQL with its own database and
bucket, so stopping, freezing and killing its processes never disturbs another test's
stack, and one `assent up` on the embedded default."""

import contextlib
from collections.abc import Iterator

import pytest

from services.stack import OBJECT_SERVER
from tests.e2e.embedded import ADMIN_KEY_LINE, EmbeddedStack, start, stop
from tests.fixtures.database import fresh_database
from tests.fixtures.smtp import MailServer
from tests.fixtures.stack import RunningStack, launch_stack, payout_settings
from tests.fixtures.storage import S3Server, free_port_block

# Retries back off to at most 2 s here (300 s in production), so a restarted receiver
# is caught up with within seconds rather than minutes.
FAULT_SETTINGS = {
    **{
        f"ASSENT_{name}_OUTBOX_MAX_BACKOFF_SECONDS": "2"
        for name in ("GATEWAY", "CATALOGUE", "LICENSING", "DELIVERY", "AUDIT")
    },
    "ASSENT_DELIVERY_BUILD_POLL_SECONDS": "0.5",
    "ASSENT_DELIVERY_BUILD_MAX_BACKOFF_SECONDS": "2",
    # A killed builder's lease lapses in seconds (10 minutes in production), so its
    # delivery is built again while the test waits.
    "ASSENT_DELIVERY_BUILD_LEASE_SECONDS": "5",
    # Every request authenticates from the database and records the key's use, so a
    # fault in the gateway's database meets authentication at once, not minutes later.
    "ASSENT_GATEWAY_PRINCIPAL_CACHE_SECONDS": "0",
    "ASSENT_GATEWAY_LAST_USED_RESOLUTION_SECONDS": "0",
    # Two creators per committed step, so a run killed mid-way has steps behind it.
    "ASSENT_LICENSING_PAYOUT_BATCH": "2",
}


@pytest.fixture(scope="session")
def fault_stack(
    postgres_server: str,
    s3_server: S3Server,
    smtp_server: MailServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    with contextlib.contextmanager(fresh_database)(postgres_server, "faults") as url:
        # Its own bucket: the audit log's checkpoint objects are named by tree size.
        yield from launch_stack(
            url,
            s3_server,
            tmp_path_factory.mktemp("faults"),
            bucket="assent-faults",
            settings={**FAULT_SETTINGS, **payout_settings(smtp_server)},
        )


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    port = free_port_block(OBJECT_SERVER.port_offset + 1)
    running = start(tmp_path_factory.mktemp("embedded") / "var", port)
    try:
        admin_key = running.wait_for(ADMIN_KEY_LINE.pattern).group(1)
        running.wait_for("Assent is ready")
        yield EmbeddedStack(running, port, admin_key)
    finally:
        if running.process.poll() is None:
            stop(running)
