from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSENT_DELIVERY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/delivery.db"
    # Ed25519 seed (base64) that signs manifests.
    signing_key: SecretStr = SecretStr("")
    # Keys the per-buyer fingerprints and entry order; never leaves the service.
    watermark_secret: SecretStr = SecretStr("")
    link_ttl_seconds: int = Field(default=300, gt=0, le=3_600)
