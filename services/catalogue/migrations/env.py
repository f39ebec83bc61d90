from services.catalogue.models import Base
from services.kit.db import KitBase
from services.kit.migrations import run_env
from services.kit.outbox import OutboxDelivery

# OutboxDelivery is imported so that the kit tables are registered on KitBase.metadata.
assert OutboxDelivery.__table__.metadata is KitBase.metadata
run_env([KitBase.metadata, Base.metadata])
