from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSENT_AUDIT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/audit.db"
    # Ed25519 seed (base64) that signs checkpoints.
    signing_key: SecretStr = SecretStr("")
    # A checkpoint commits to everything logged before it; signing at most this often
    # keeps the checkpoint table and the store small under a steady stream of events.
    checkpoint_interval_seconds: float = Field(default=1.0, ge=0)
    sequencer_batch_size: int = Field(default=1_000, ge=1, le=10_000)
    # A commit in this process wakes the sequencer at once; the poll picks up events
    # another replica received, and checkpoints that came due.
    sequencer_poll_seconds: float = Field(default=0.5, gt=0)
    # A pass that failed (the database away) is retried with backoff, at most this late.
    sequencer_max_backoff_seconds: float = Field(default=5.0, gt=0)
    # A LICENCE_GRANTED event of a 1,000-work bundle runs past the kit's 1 MiB default.
    max_request_bytes: int = 4 * 1024 * 1024
