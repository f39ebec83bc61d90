"""Whether a record may be used now for a declared use, and if not, why: the rules the
loader enforces, and the summary of what it left out."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from assent.models import Use
from assent.streaming._gateway import LicenceLineState, LicenceState
from services.contracts.licensing import LicenceLineStatus, LicenceStatus


class SkipReason(StrEnum):
    LICENCE_REFUNDED = "licence_refunded"
    """The licence was refunded, which revokes it: none of its records may be used."""
    LICENCE_REVOKED = "licence_revoked"
    """Revoked without a refund: none of its records may be used."""
    STATUS_LIST = "status_list"
    """The delivery's signed status list says the record may no longer be used."""
    LINE_REFUNDED = "line_refunded"
    LINE_EXCLUDED = "line_excluded"
    """Never sold, or left out of the delivery and refunded."""
    NOT_IN_LICENCE = "not_in_licence"
    USE_NOT_LICENSED = "use_not_licensed"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    LINK_REFUSED = "link_refused"
    """The gateway refused the record's bytes though the licence looked usable."""


@dataclass(frozen=True)
class Skipped:
    url: str
    work_id: str
    licence_id: str
    reason: SkipReason
    detail: str


def skip_reason(
    licence: LicenceState, line: LicenceLineState | None, use: Use, now: datetime
) -> tuple[SkipReason, str] | None:
    """Why a record of `licence` (its `line`) may not be used for `use` at `now`; None
    when it may."""
    if licence.status is LicenceStatus.REFUNDED:
        when = f" on {licence.refunded_at:%Y-%m-%d %H:%M} UTC" if licence.refunded_at else ""
        return SkipReason.LICENCE_REFUNDED, f"licence {licence.id} was refunded{when}"
    if licence.status is LicenceStatus.REVOKED:
        return SkipReason.LICENCE_REVOKED, f"licence {licence.id} was revoked"
    if line is None:
        return SkipReason.NOT_IN_LICENCE, f"licence {licence.id} has no line for this work"
    if line.status is LicenceLineStatus.REFUNDED:
        return SkipReason.LINE_REFUNDED, f"work {line.work_id} was refunded"
    if line.status is LicenceLineStatus.EXCLUDED:
        return SkipReason.LINE_EXCLUDED, line.excluded_reason or "left out of the licence"
    # The licence names the uses bought; each line's terms, the uses its creators allow.
    for allowed_uses, whose in (
        (licence.uses, "the licence allows"),
        (line.terms.uses, "its terms allow"),
    ):
        if use not in allowed_uses:
            allowed = ", ".join(sorted(u.value for u in allowed_uses)) or "nothing"
            return SkipReason.USE_NOT_LICENSED, f"{whose} {allowed}, not {use.value}"
    if now < line.starts_at:
        return SkipReason.NOT_STARTED, f"usable from {line.starts_at.isoformat()}"
    if line.expired or now >= line.ends_at:
        return SkipReason.EXPIRED, f"its licence ended {line.ends_at.isoformat()}"
    return None


@dataclass
class LoaderReport:
    """What one pass of the loader yielded and what it left out, each with its reason."""

    use: Use
    started_at: datetime
    yielded: int = 0
    yielded_bytes: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[SkipReason, int]:
        return dict(Counter(item.reason for item in self.skipped))

    def summary(self) -> str:
        counts = ", ".join(
            f"{count} {reason.value}" for reason, count in sorted(self.skipped_by_reason().items())
        )
        left_out = f"; skipped {len(self.skipped)} ({counts})" if self.skipped else ""
        records = "record" if self.yielded == 1 else "records"
        return f"{self.yielded} {records} for {self.use.value}{left_out}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, to keep beside a training run's other records."""
        return {
            "use": self.use.value,
            "started_at": self.started_at.isoformat(),
            "yielded": self.yielded,
            "yielded_bytes": self.yielded_bytes,
            "skipped_by_reason": {k.value: v for k, v in self.skipped_by_reason().items()},
            "skipped": [
                {
                    "url": item.url,
                    "work_id": item.work_id,
                    "licence_id": item.licence_id,
                    "reason": item.reason.value,
                    "detail": item.detail,
                }
                for item in self.skipped
            ],
        }
