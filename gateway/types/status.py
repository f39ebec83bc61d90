from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.errors import Forbidden, Refusals, ServiceUnavailable
from services.contracts.health import ServiceStatus


@strawberry.type
class ServiceHealth:
    service: str
    schema_revision: str | None
    outbox_pending: int = strawberry.field(description="Events not yet delivered to a receiver.")
    outbox_oldest_pending_at: datetime | None

    @classmethod
    def of(cls, status: ServiceStatus) -> "ServiceHealth":
        return cls(
            service=status.service,
            schema_revision=status.schema_revision,
            outbox_pending=status.outbox_pending,
            outbox_oldest_pending_at=status.outbox_oldest_pending_at,
        )


ServiceHealthResult = Annotated[
    ServiceHealth | ServiceUnavailable, strawberry.union("ServiceHealthResult")
]


@strawberry.type
class SystemStatus:
    services: list[ServiceHealthResult]


SystemStatusResult = Annotated[
    SystemStatus | Forbidden | Refusals, strawberry.union("SystemStatusResult")
]
