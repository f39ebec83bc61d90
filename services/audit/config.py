from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.audit.witnessing.config import WitnessSettings, quorum_of
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
    # Witnesses that cosign each checkpoint (c2sp.org/tlog-witness), as JSON:
    # [{"url": "http://127.0.0.1:7380", "vkey": "<name>+<id>+<key>"}]. A checkpoint is
    # published, and served as the latest, once `witness_quorum` of them cosigned it
    # (default: all of them); with none, at once.
    witnesses: list[WitnessSettings] = Field(default_factory=list)
    witness_quorum: int | None = Field(default=None, ge=0)
    # A witness that did not cosign the newest checkpoint (down, or behind) is asked again
    # this often while no new checkpoint is signed.
    witness_retry_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _reachable_quorum(self) -> "Settings":
        quorum_of(self.witnesses, self.witness_quorum)
        return self

    @property
    def quorum(self) -> int:
        return quorum_of(self.witnesses, self.witness_quorum)
