"""Settings every service shares; each service subclasses with its own env prefix."""

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def shared(name: str) -> AliasChoices:
    """Read a setting common to every process from `ASSENT_<NAME>`."""
    return AliasChoices(f"ASSENT_{name.upper()}")


class ServiceSettings(BaseSettings):
    """Subclasses set `env_prefix` (e.g. `ASSENT_CATALOGUE_`) and a default database file."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = "sqlite+aiosqlite:///var/service.db"
    # On PostgreSQL each service owns one schema in the shared database.
    database_schema: str | None = None
    # Connections kept open; a request finding them all busy waits for one (up to 30 s).
    # No overflow by default: a connection opened for a burst and closed when returned
    # costs a TLS handshake and a backend start, and under a steady load above the pool
    # that churn took more CPU than the work (bench/purchase.py at 64 purchases in
    # flight: 102/s with 4 overflow connections, 160/s without). Five processes of 16
    # stay under PostgreSQL's default of 100 connections.
    database_pool_size: int = 16
    database_pool_overflow: int = 0
    # Off: the check is three round trips (BEGIN, SELECT 1, ROLLBACK) on every checkout,
    # about a third of a purchase's first statement. Without it, the first request on
    # each stale connection after a database restart fails, and that failure empties the
    # process's pool, so the next request reconnects. On where connections die often
    # (a proxy that cuts idle ones).
    database_pool_pre_ping: bool = False
    # A service is not ready while the filesystem of its SQLite file has less free: SQLite
    # reports a full disk only when a write needs a new page, often mid-request.
    database_min_free_bytes: int = 64 * 1024 * 1024
    # One PostgreSQL database for every component (`ASSENT_DATABASE_URL`): used when the
    # component's own URL is not set, in a schema named after the component.
    shared_database_url: str | None = Field(default=None, validation_alias=shared("database_url"))
    # This process's own Ed25519 key for the tokens of its calls to services
    # (`ASSENT_<COMPONENT>_INTERNAL_SIGNING_KEY`: PEM or the base64 of the 32-byte seed),
    # and every issuer's public key (`ASSENT_INTERNAL_PUBLIC_KEYS`, JSON: issuer -> PEM or
    # base64), of which a process loads only those of the issuers it accepts.
    internal_signing_key: SecretStr = SecretStr("")
    internal_public_keys: dict[str, str] = Field(
        default_factory=dict, validation_alias=shared("internal_public_keys")
    )
    catalogue_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias=shared("catalogue_url")
    )
    licensing_url: str = Field(
        default="http://127.0.0.1:8002", validation_alias=shared("licensing_url")
    )
    delivery_url: str = Field(
        default="http://127.0.0.1:8003", validation_alias=shared("delivery_url")
    )
    audit_url: str = Field(default="http://127.0.0.1:8004", validation_alias=shared("audit_url"))
    log_level: str = Field(default="INFO", validation_alias=shared("log_level"))
    max_request_bytes: int = 1024 * 1024
    outbox_poll_seconds: float = Field(default=0.5, validation_alias=shared("outbox_poll_seconds"))
    outbox_max_backoff_seconds: float = 300.0
    # Prometheus metrics on a port of their own (services/kit/metrics.py); 0: off. Loopback
    # unless an operator names another address for the scraper to reach.
    metrics_port: int = Field(default=0, ge=0, le=65_535)
    metrics_host: str = "127.0.0.1"
    metrics_sample_seconds: float = Field(default=10.0, gt=0)

    def database(self, component: str) -> tuple[str, str | None]:
        """The URL and schema this component's process uses."""
        if "database_url" not in self.model_fields_set and self.shared_database_url:
            return self.shared_database_url, self.database_schema or component
        return self.database_url, self.database_schema

    def service_urls(self) -> dict[str, str]:
        return {
            "catalogue": self.catalogue_url,
            "licensing": self.licensing_url,
            "delivery": self.delivery_url,
            "audit": self.audit_url,
        }
