"""The audit log's own figures for the metrics port: how many received events wait to be
sequenced and for how long (the sequencer's lag), and the age of the newest checkpoint."""

from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import PendingEntry
from services.audit.witnessing.models import CheckpointNote
from services.kit.metrics import ProcessMetrics, Sampler


def audit_sampler(metrics: ProcessMetrics) -> Sampler:
    pending = Gauge(
        "assent_audit_pending_entries",
        "Events received and not yet given their place in the log",
        registry=metrics.registry,
    )
    lag = Gauge(
        "assent_audit_sequencer_lag_seconds",
        "Age of the oldest event waiting for its place in the log",
        registry=metrics.registry,
    )
    checkpoint_age = Gauge(
        "assent_audit_checkpoint_age_seconds",
        "Age of the newest signed checkpoint",
        registry=metrics.registry,
    )

    async def sample(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        count, oldest = (
            await session.execute(select(func.count(), func.min(PendingEntry.received_at)))
        ).one()
        pending.set(count)
        lag.set((now - oldest).total_seconds() if oldest is not None else 0.0)
        newest = await session.scalar(select(func.max(CheckpointNote.signed_at)))
        checkpoint_age.set((now - newest).total_seconds() if newest is not None else 0.0)

    return sample
