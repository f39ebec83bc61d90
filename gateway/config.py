from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.mail import Mailing
from services.kit.settings import ServiceSettings


class Settings(ServiceSettings, Mailing):
    model_config = SettingsConfigDict(env_prefix="ASSENT_GATEWAY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    # The bootstrap admin key; when unset and no admin exists, one is generated and
    # printed once at start.
    admin_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ASSENT_ADMIN_KEY")
    )
    graphiql: bool = True
    introspection: bool = True
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    # Refused before parsing; values belong in variables, which this does not count.
    max_document_length: int = Field(default=32_768, ge=1024)
    # The static cost a query may reach (gateway/document_limits/): the SDK's page of 100
    # licences with their lines and deliveries costs about 18,600.
    max_query_cost: int = Field(default=25_000, ge=1)
    # How stale an API key's last-used time may be: saves a write on every request.
    last_used_resolution_seconds: int = 60
    # How long an authenticated key is trusted without reading the database again; a key
    # revoked (or a role granted) through another replica takes effect within this. 0: off.
    principal_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Per API key, and per client address for requests without a valid key. Generous: a
    # lab downloading a bundle of many small files spends one request per file, in
    # parallel; the limit is for a runaway or abusive client, not for fair use.
    rate_limit_per_second: float = Field(default=1000.0, gt=0)
    rate_limit_burst: int = Field(default=2000, ge=1)
    # The address clients reach the gateway by, for download links; unset: the address
    # of each request (right unless a proxy rewrites the host).
    public_url: str | None = None
    # Accounts for people (gateway/people/): the secret their mailed links and CSRF tokens
    # are derived from; people cannot sign up or in while it is unset (`assent up` makes
    # one). Sessions last this long, and a mailed link this long.
    session_secret: SecretStr = SecretStr("")
    session_days: float = Field(default=14, gt=0)
    link_hours: float = Field(default=24, gt=0)
    # Sign-ins, sign-ups and resets allowed per address and per email: a burst, then one
    # every so many seconds.
    sign_in_burst: int = Field(default=10, ge=1)
    sign_in_every_seconds: float = Field(default=6.0, gt=0)
    # People's mail goes by the Mailing settings (SMTP, or .eml files in `mail_folder`).
    mail_poll_seconds: float = Field(default=1.0, gt=0)
