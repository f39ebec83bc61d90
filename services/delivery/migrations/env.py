# Imported for its tables, which join Base.metadata when the module loads.
import services.delivery.shards.models
import services.delivery.webhook.models  # noqa: F401
from services.delivery.models import Base
from services.kit.keyring import KEYRING_METADATA
from services.kit.migrations import run_env
from services.kit.outbox import KIT_METADATA

run_env([KIT_METADATA, KEYRING_METADATA, Base.metadata])
