"""Where the gateway is and which key to use: the SDK's defaults and the CLI's options.

The key comes from `--key`, else `$ASSENT_API_KEY`, else the user's config file, where
`assent login` keeps it (`$ASSENT_CONFIG`, by default `~/.config/assent/config.json`),
readable by its owner alone.
"""

import argparse
import json
import os
from pathlib import Path

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
GATEWAY_URL_ENV = "ASSENT_GATEWAY_URL"
API_KEY_ENV = "ASSENT_API_KEY"
CONFIG_ENV = "ASSENT_CONFIG"
OWNER_ONLY = 0o600


def config_path() -> Path:
    if found := os.environ.get(CONFIG_ENV):
        return Path(found)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "assent" / "config.json"


def _config() -> dict[str, str]:
    try:
        kept = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return {name: value for name, value in kept.items() if isinstance(value, str)}


def save_login(api_key: str, gateway: str) -> Path:
    """The key and its gateway in the config file, created owner-only before any byte of
    the key is written, so no other user can ever read it."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
    # A file that existed keeps its old mode through os.open: narrow it first.
    os.fchmod(descriptor, OWNER_ONLY)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"api_key": api_key, "gateway": gateway}, file, indent=2)
    return path


def gateway_url() -> str:
    return os.environ.get(GATEWAY_URL_ENV) or _config().get("gateway") or DEFAULT_GATEWAY_URL


def api_key() -> str | None:
    return os.environ.get(API_KEY_ENV) or _config().get("api_key")


def connection_options(command: argparse.ArgumentParser) -> None:
    """`--gateway` and `--key`, defaulting to the environment, then the saved login."""
    command.add_argument(
        "--gateway",
        default=gateway_url(),
        metavar="URL",
        help=f"the gateway (default ${GATEWAY_URL_ENV}, the saved login's, or "
        f"{DEFAULT_GATEWAY_URL})",
    )
    command.add_argument(
        "--key",
        default=api_key(),
        help=f"the API key (default ${API_KEY_ENV}, or the one assent login saved; prefer "
        "them: a key given here shows in ps)",
    )
