import gateway.people.models  # noqa: F401
from gateway.accounts.models import Base
from services.kit.migrations import run_env
from services.kit.outbox import KIT_METADATA

run_env([KIT_METADATA, Base.metadata])
