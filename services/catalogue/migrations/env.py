from typing import Any

# Its tables join the catalogue's metadata when its models are imported.
import services.catalogue.likeness.models
import services.catalogue.notification.models  # noqa: F401
from services.catalogue.models import HAND_MADE_SEARCH_OBJECTS, Base
from services.kit.migrations import run_env
from services.kit.outbox import KIT_METADATA


def _include(_object: Any, name: str | None, _type: str, _reflected: bool, _other: Any) -> bool:
    return name not in HAND_MADE_SEARCH_OBJECTS


run_env([KIT_METADATA, Base.metadata], include_object=_include)
