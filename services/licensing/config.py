from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.mail import Mailing
from services.kit.settings import ServiceSettings


class Settings(ServiceSettings, Mailing):
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
    # The platform's own bank account: payouts are paid from it (the pain.001 debtor) and
    # labs' bank transfers are paid into it. Payout runs are off while the IBAN is unset.
    bank_holder: str = "Assent"
    bank_iban: str = ""
    bank_bic: str = ""
    # A creator is paid once their available balance reaches this, per currency (minor).
    payout_minimums: dict[str, int] = Field(default_factory=lambda: {"EUR": 1_000})
    # Hours between scheduled payout runs; 0 leaves runs to an admin.
    payout_every_hours: float = Field(default=0, ge=0)
    payout_poll_seconds: float = Field(default=1.0, gt=0)
    # Creators paid per committed step of a run: a crash loses at most one step's work,
    # which the run then does again.
    payout_batch: int = Field(default=500, gt=0, le=10_000)
    # Transfers per pain.001 file: banks cap a file's size, and each is validated whole.
    payout_file_transfers: int = Field(default=10_000, gt=0, le=50_000)
    # Invoices: the seller's details printed on them, and VAT (README, "Invoices and
    # VAT"). A rate of 0 charges no VAT anywhere.
    seller_name: str = "Assent Marketplace"
    seller_address: str = "Address not configured"
    seller_country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    seller_vat_id: str = ""
    vat_rate_bps: int = Field(default=1_900, ge=0, le=10_000)
    # An invoice per purchase, or one per lab and month, made when the month is over.
    invoice_period: Literal["purchase", "month"] = "purchase"
    invoice_poll_seconds: float = Field(default=1.0, gt=0)
