"""The witnesses the log submits its checkpoints to, as the audit settings hold them:

ASSENT_AUDIT_WITNESSES='[{"url": "http://127.0.0.1:7380", "vkey": "w1.example+..."}]'
ASSENT_AUDIT_WITNESS_QUORUM=2      (default: every configured witness)
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assent.protocol import COSIGNATURE_V1, NoteError, NoteVerifier, parse_vkey


class WitnessSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str = Field(description="the witness's submission prefix; POST <url>/add-checkpoint")
    vkey: str = Field(description="the witness's cosignature/v1 vkey, <name>+<id>+<key>")

    @field_validator("vkey")
    @classmethod
    def _a_witness_key(cls, vkey: str) -> str:
        try:
            key = parse_vkey(vkey)
        except NoteError as exc:
            raise ValueError(exc.problem) from exc
        if key.signature_type != COSIGNATURE_V1:
            raise ValueError(f"{key.name} is not a witness key (cosignature/v1, type 0x04)")
        return key.vkey

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a witness URL starts with http:// or https://")
        return url.rstrip("/")

    @property
    def verifier(self) -> NoteVerifier:
        return parse_vkey(self.vkey)


def quorum_of(witnesses: list[WitnessSettings], quorum: int | None) -> int:
    """N of the M witnesses; raises ValueError for a quorum no configuration can reach."""
    if len({w.verifier.name for w in witnesses}) != len(witnesses):
        raise ValueError("two configured witnesses share a key name")
    if quorum is None:
        return len(witnesses)
    if not 0 <= quorum <= len(witnesses):
        raise ValueError(
            f"the witness quorum {quorum} is not between 0 and the {len(witnesses)} witnesses"
        )
    return quorum
