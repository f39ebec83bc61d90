"""Building deliveries in the background: lease the due ones, write and sign each
manifest with no transaction open, issue them (see `assemble` and `worker`)."""

from services.delivery.builder.assemble import BuildTools
from services.delivery.builder.worker import BuildRuntime, DeliveryBuilder

__all__ = ["BuildRuntime", "BuildTools", "DeliveryBuilder"]
