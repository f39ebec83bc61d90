from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSENT_AUDIT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/audit.db"
    # A LICENCE_GRANTED event of a 1,000-work bundle runs past the kit's 1 MiB default.
    max_request_bytes: int = 4 * 1024 * 1024
