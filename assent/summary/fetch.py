"""The summary of a lab's own data, read through its client: licences, receipts and, for
up to `MAX_WORKS_LOOKED_UP` works, whether each was since withdrawn."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from assent.errors import NotFound
from assent.summary.build import build_summary
from assent.summary.model import TrainingDataSummary

if TYPE_CHECKING:
    from assent.client import AssentClient

MAX_WORKS_LOOKED_UP = 200
"""Each work is one question to the gateway; beyond this the withdrawals are not counted."""


def training_summary(client: "AssentClient", *, model: str | None = None) -> TrainingDataSummary:
    licences = list(client.licences(page_size=100))
    works = {line.work_id for licence in licences for line in licence.lines}
    withdrawn: set[str] | None = None
    if len(works) <= MAX_WORKS_LOOKED_UP:
        withdrawn = set()
        for work_id in sorted(works):
            try:
                if client.work(work_id).withdrawn_at is not None:
                    withdrawn.add(work_id)
            except NotFound:
                continue
    return build_summary(
        provider=client.me().name,
        licences=licences,
        runs=client.training.runs(model=model),
        model=model,
        chain_url=lambda licence_id: (
            f"assent audit export --licence {licence_id} (gateway {client.gateway_url})"
        ),
        generated_at=datetime.now(UTC),
        withdrawn=withdrawn,
    )
