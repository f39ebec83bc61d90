import services.licensing.invoice.models
import services.licensing.payout.models
import services.licensing.training.models  # noqa: F401
from services.kit.keyring import KEYRING_METADATA
from services.kit.migrations import run_env
from services.kit.outbox import KIT_METADATA
from services.licensing.models import Base

run_env([KIT_METADATA, KEYRING_METADATA, Base.metadata])
