"""Building deliveries in the background: lease the due ones, build them side by side,
writing and signing each manifest with no transaction open, and issue each as soon as
it is built (see `assemble` and `worker`)."""

from services.delivery.builder.assemble import BuildTools
from services.delivery.builder.worker import BuildRuntime, DeliveryBuilder

__all__ = ["BuildRuntime", "BuildTools", "DeliveryBuilder"]
