from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSENT_CATALOGUE_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/catalogue.db"
