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
    # Card top-ups through Stripe (services/licensing/card/): off while the secret key is
    # unset. The webhook secret checks the provider's signature on each event it sends.
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    # Where the provider's API answers: its own unless a test serves recorded answers.
    stripe_api_base: str = ""
    # Where the lab's browser returns to after paying, or giving up.
    stripe_success_url: str = "http://127.0.0.1:8000/portal/#paid"
    stripe_cancel_url: str = "http://127.0.0.1:8000/portal/#not-paid"
