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
    # A wake-up after each commit starts a build at once; the poll picks up retries and
    # deliveries a crashed or busy replica left behind.
    build_poll_seconds: float = Field(default=2.0, gt=0)
    build_max_backoff_seconds: float = Field(default=300.0, gt=0)
    # A build still running after this long is taken to have died, and another builder
    # takes the delivery over: well beyond the build of a 100,000-work bundle.
    build_lease_seconds: float = Field(default=600.0, gt=0)
    # A WebDataset shard holds records up to about this many bytes (one larger record
    # has a shard to itself); tests make it small to get several shards.
    shard_bytes: int = Field(default=1024**3, gt=0)
    # A LICENCE_GRANTED event of a 1,000-work bundle, or a leaked manifest pasted whole
    # into a trace (JSON-escaped), runs past the kit's 1 MiB default.
    max_request_bytes: int = 4 * 1024 * 1024
    # C2PA provenance in delivered JPEG, PNG and WebP files (services/delivery/provenance).
    embed_provenance: bool = True
    # The certificates the manifests are signed under, PEM: either a chain whose leaf
    # certifies the delivery key, or a CA (Ed25519) that issues a leaf for each delivery
    # key; neither: a test CA made at start, trusted by this process alone (tests, a
    # local stack). The trust anchors a trace checks against default to the chain's root.
    c2pa_certificate_chain: str = ""
    c2pa_ca_certificate: str = ""
    c2pa_ca_key: SecretStr = SecretStr("")
    c2pa_trust_anchors: str = ""
    # How long a signed status list may be relied on before a loader reads it again.
    status_list_valid_seconds: int = Field(default=300, gt=0, le=86_400)
    # Webhooks to labs (services/delivery/webhook/). An endpoint on loopback or a private
    # network is refused unless this is on (a lab's receiver beside a local stack, tests).
    webhook_allow_private_urls: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Attempts before a message is given up, spaced by jittered doubling from the first
    # delay up to the longest: about a day and a half in all by default.
    webhook_max_attempts: int = Field(default=12, ge=1, le=50)
    webhook_backoff_seconds: float = Field(default=30.0, gt=0)
    webhook_max_backoff_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # `licence.expiring` is sent once a line of the licence ends within this many days.
    webhook_expiring_days: int = Field(default=7, ge=1, le=365)
