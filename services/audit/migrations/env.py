# Imported for its tables, which it declares on the log's metadata (Base).
import services.audit.witnessing.models  # noqa: F401
from services.audit.models import Base
from services.kit.keyring import KEYRING_METADATA
from services.kit.migrations import run_env
from services.kit.outbox import KIT_METADATA

run_env([KIT_METADATA, KEYRING_METADATA, Base.metadata])
