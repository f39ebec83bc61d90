"""Where the gateway is and which key to use: the SDK's defaults and the CLI's options."""

import argparse
import os

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
GATEWAY_URL_ENV = "ASSENT_GATEWAY_URL"
API_KEY_ENV = "ASSENT_API_KEY"


def gateway_url() -> str:
    return os.environ.get(GATEWAY_URL_ENV) or DEFAULT_GATEWAY_URL


def connection_options(command: argparse.ArgumentParser) -> None:
    """`--gateway` and `--key`, defaulting to the environment."""
    command.add_argument(
        "--gateway",
        default=gateway_url(),
        metavar="URL",
        help=f"the gateway (default ${GATEWAY_URL_ENV} or {DEFAULT_GATEWAY_URL})",
    )
    command.add_argument(
        "--key",
        default=os.environ.get(API_KEY_ENV),
        help=f"the API key (default ${API_KEY_ENV}; prefer it: a key given here shows in ps)",
    )
