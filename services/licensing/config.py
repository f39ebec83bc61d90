from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSENT_LICENSING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/licensing.db"
    # Ed25519 seed (base64) that signs licence certificates.
    signing_key: SecretStr = SecretStr("")
    platform_fee_bps: int = Field(default=1_500, ge=0, le=10_000)
    quote_ttl_seconds: int = Field(default=900, gt=0)
