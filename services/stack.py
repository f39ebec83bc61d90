"""Every process of the marketplace, how each is configured, migrated and started.

`assent up` and the whole-stack tests both start the stack through `Stack`, so the
tests exercise exactly what an operator runs. It is the platform's, not the lab client's:
the CLI imports it only when a platform command runs, and in a client-only install this
import is what fails (alembic and SQLAlchemy are missing).
"""

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from assent.protocol import generate_seed
from gateway.accounts.keys import key_from_secret
from services.kit.internal_token import load_private_key, public_key_text
from services.kit.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Component:
    name: str
    factory: str
    port_offset: int
    migrations: Path | None
    # The secret settings this process reads; it is started without any other.
    secrets: frozenset[str]
    ready_path: str = "/readyz"

    @property
    def env_prefix(self) -> str:
        return f"ASSENT_{self.name.upper()}_"

    def command(self, *, host: str, port: int, python: str = sys.executable) -> list[str]:
        """The command line that runs this component: `assent up` starts each process with
        it, and every container in infra/ runs the same (checked by tests/infra)."""
        return [
            python,
            "-m",
            "uvicorn",
            "--factory",
            self.factory,
            "--host",
            host,
            "--port",
            str(port),
            "--no-access-log",
        ]


ADMIN_KEY = "ASSENT_ADMIN_KEY"
# Settings that are credentials, by name: a process gets one only when its component
# lists it. A secret setting added later is withheld from every process until it is.
SECRET_SETTING = re.compile(r"^ASSENT_\w*(SECRET|SIGNING_KEY|ADMIN_KEY|PASSWORD)")
# The public keys of every issuer of internal tokens: not a secret, every process reads it.
INTERNAL_PUBLIC_KEYS = "ASSENT_INTERNAL_PUBLIC_KEYS"


def internal_signing_key(component: str) -> str:
    """The setting of the key one component signs the tokens of its calls with: each
    process holds its own and no other, so one taken over cannot speak as another."""
    return f"ASSENT_{component.upper()}_INTERNAL_SIGNING_KEY"


# What writes objects to S3 ...
STORE_WRITES = frozenset({"ASSENT_STORAGE_S3_SECRET_ACCESS_KEY"})
# ... and what, besides, signs URLs for browsers and labs to upload and download by.
URL_SIGNING = frozenset({"ASSENT_STORAGE_SIGNING_SECRET"})

GATEWAY = Component(
    "gateway",
    "gateway.app:create_app",
    0,
    ROOT / "gateway/accounts/migrations",
    # People's sign-in: the secret their links and CSRF tokens derive from; their mail.
    frozenset(
        {
            internal_signing_key("gateway"),
            ADMIN_KEY,
            "ASSENT_GATEWAY_SESSION_SECRET",
            "ASSENT_GATEWAY_SMTP_PASSWORD",
        }
    ),
)
SERVICES = (
    Component(
        "catalogue",
        "services.catalogue.app:create_app",
        1,
        ROOT / "services/catalogue/migrations",
        # Presigns creators' uploads.
        STORE_WRITES | URL_SIGNING | {internal_signing_key("catalogue")},
    ),
    Component(
        "licensing",
        "services.licensing.app:create_app",
        2,
        ROOT / "services/licensing/migrations",
        # Signs certificates; takes card payments (Stripe's key and webhook secret); mails
        # payout account confirmations.
        frozenset(
            {
                internal_signing_key("licensing"),
                "ASSENT_LICENSING_SIGNING_KEY",
                "ASSENT_LICENSING_STRIPE_SECRET_KEY",
                "ASSENT_LICENSING_STRIPE_WEBHOOK_SECRET",
                "ASSENT_LICENSING_SMTP_PASSWORD",
            }
        ),
    ),
    Component(
        "delivery",
        "services.delivery.app:create_app",
        3,
        ROOT / "services/delivery/migrations",
        # Presigns buyers' downloads.
        STORE_WRITES
        | URL_SIGNING
        | {
            internal_signing_key("delivery"),
            "ASSENT_DELIVERY_SIGNING_KEY",
            "ASSENT_DELIVERY_WATERMARK_SECRET",
        },
    ),
    Component(
        "audit",
        "services.audit.app:create_app",
        4,
        ROOT / "services/audit/migrations",
        # Writes checkpoints to the store, never presigns.
        STORE_WRITES | {internal_signing_key("audit"), "ASSENT_AUDIT_SIGNING_KEY"},
    ),
)
OBJECT_SERVER = Component(
    "objects",
    "storage.local_server:create_app",
    5,
    None,
    URL_SIGNING,
    ready_path="/healthz",
)
DATABASE_COMPONENTS = (GATEWAY, *SERVICES)


class StackError(Exception):
    """The stack cannot start; the message says why in an operator's words."""


def _new_secrets() -> dict[str, str]:
    return {
        **{
            f"{component.name}_internal_signing_key": generate_seed()
            for component in DATABASE_COMPONENTS
        },
        "storage_signing_secret": secrets.token_urlsafe(48),
        "licensing_signing_key": generate_seed(),
        "delivery_signing_key": generate_seed(),
        "delivery_watermark_secret": secrets.token_urlsafe(48),
        "audit_signing_key": generate_seed(),
        "gateway_session_secret": secrets.token_urlsafe(48),
    }


def _load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets of the embedded run mode, kept so that data, URLs and signatures survive a
    restart; a secret added by a newer version is generated once and kept with the rest."""
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: value for name, value in _new_secrets().items() if name not in stored}
    if not missing:
        return stored
    stored.update(missing)
    # Written whole or not at all: a crash must not leave an empty secrets file behind.
    partial = path.with_suffix(".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(stored))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return stored


def stack_environment(
    *, data_dir: Path, port: int, host: str = "127.0.0.1", base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment every process of the stack gets.

    Settings already present in `base` win; what is missing gets the embedded default
    (SQLite files and the local object store under `data_dir`). `ASSENT_DATABASE_URL`
    puts every component on one PostgreSQL database, each in its own schema.
    """
    env = dict(os.environ if base is None else base)
    # Only the operator reads the data: it holds key hashes, emails and the secrets.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored = _load_or_create_secrets(data_dir)
    public_keys: dict[str, str] = {}
    for component in DATABASE_COMPONENTS:
        setting = internal_signing_key(component.name)
        key = env.setdefault(setting, stored[f"{component.name}_internal_signing_key"])
        # A key that is no key is named by check_settings.
        with contextlib.suppress(ValueError):
            public_keys[component.name] = public_key_text(load_private_key(key, setting=setting))
    env.setdefault(INTERNAL_PUBLIC_KEYS, json.dumps(public_keys))
    env.setdefault("ASSENT_LICENSING_SIGNING_KEY", stored["licensing_signing_key"])
    env.setdefault("ASSENT_DELIVERY_SIGNING_KEY", stored["delivery_signing_key"])
    env.setdefault("ASSENT_DELIVERY_WATERMARK_SECRET", stored["delivery_watermark_secret"])
    env.setdefault("ASSENT_AUDIT_SIGNING_KEY", stored["audit_signing_key"])
    env.setdefault("ASSENT_GATEWAY_SESSION_SECRET", stored["gateway_session_secret"])
    for component in SERVICES:
        env.setdefault(
            f"ASSENT_{component.name.upper()}_URL", f"http://{host}:{port + component.port_offset}"
        )
    shared_database = env.get("ASSENT_DATABASE_URL")
    for component in DATABASE_COMPONENTS:
        url_key = component.env_prefix + "DATABASE_URL"
        if shared_database:
            env.setdefault(url_key, shared_database)
            env.setdefault(component.env_prefix + "DATABASE_SCHEMA", component.name)
        else:
            env.setdefault(url_key, f"sqlite+aiosqlite:///{data_dir.resolve()}/{component.name}.db")
    if env.setdefault("ASSENT_STORAGE_BACKEND", "local") == "local":
        env.setdefault("ASSENT_STORAGE_LOCAL_ROOT", str((data_dir / "objects").resolve()))
        env.setdefault(
            "ASSENT_STORAGE_PUBLIC_URL", f"http://{host}:{port + OBJECT_SERVER.port_offset}"
        )
        env.setdefault("ASSENT_STORAGE_SIGNING_SECRET", stored["storage_signing_secret"])
    # With no SMTP server, mail (sign-up links, payout account confirmations) waits in a
    # folder, and its links lead to this stack's portal.
    for mailing in ("GATEWAY", "LICENSING"):
        env.setdefault(f"ASSENT_{mailing}_MAIL_FOLDER", str((data_dir / "mail").resolve()))
        env.setdefault(f"ASSENT_{mailing}_PORTAL_URL", f"http://{host}:{port}/portal/")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def environment_for(component: Component, env: Mapping[str, str]) -> dict[str, str]:
    """What one process of the stack is started with: the stack's environment without the
    secrets it does not read, nor another component's database (its URL may hold a
    password). Each component's own database URL is set, so the shared one goes too."""
    others = {
        other.env_prefix + setting
        for other in DATABASE_COMPONENTS
        if other != component
        for setting in ("DATABASE_URL", "DATABASE_SCHEMA")
    }
    return {
        name: value
        for name, value in env.items()
        if not (SECRET_SETTING.match(name) and name not in component.secrets)
        and name not in others
        and name != "ASSENT_DATABASE_URL"
    }


def check_settings(env: Mapping[str, str]) -> None:
    """Refuses settings a process would only fail on once started, deep in a traceback."""
    # Empty is unset, as the gateway reads it.
    if admin_key := env.get(ADMIN_KEY):
        try:
            key_from_secret(admin_key)
        except ValueError as error:
            raise StackError(
                f"{ADMIN_KEY} is not an Assent API key ({error}); "
                "make one with `assent keygen`, or unset it to have one generated"
            ) from None
    for component in DATABASE_COMPONENTS:
        setting = internal_signing_key(component.name)
        try:
            load_private_key(env.get(setting, ""), setting=setting)
        except ValueError as error:
            raise StackError(f"{error}; unset it to have one generated") from None


def components_for(env: Mapping[str, str]) -> list[Component]:
    """The processes to run: the local object server only when objects stay on disk."""
    extra = [OBJECT_SERVER] if env.get("ASSENT_STORAGE_BACKEND", "local") == "local" else []
    return [*SERVICES, *extra, GATEWAY]


def migrate(env: Mapping[str, str]) -> None:
    """Bring every component's schema to its newest revision."""
    for component in DATABASE_COMPONENTS:
        assert component.migrations is not None
        url = env[component.env_prefix + "DATABASE_URL"]
        schema = env.get(component.env_prefix + "DATABASE_SCHEMA") or None
        upgrade(component.migrations, url, schema)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port whose last connections are still closing (TIME_WAIT,
        # for a minute after a stack stops) is free to listen on again.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Stack:
    env: dict[str, str]
    port: int
    host: str = "127.0.0.1"
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _log_files: list[IO[bytes]] = field(default_factory=list)

    def url(self, component: Component) -> str:
        return f"http://{self.host}:{self.port + component.port_offset}"

    @property
    def gateway_url(self) -> str:
        return self.url(GATEWAY)

    def check_ports(self) -> None:
        components = components_for(self.env)
        taken = [c for c in components if not _port_is_free(self.host, self.port + c.port_offset)]
        if taken:
            described = ", ".join(f"{self.port + c.port_offset} ({c.name})" for c in taken)
            raise StackError(
                f"port already in use: {described}; stop what holds it or pick another "
                "base port with --port"
            )

    def start(self, *, ready_timeout: float = 60.0) -> None:
        check_settings(self.env)
        self.check_ports()
        components = components_for(self.env)
        for component in components:
            self.start_component(component)
        self.wait_ready(components, timeout=ready_timeout)

    def start_component(self, component: Component) -> None:
        command = component.command(host=self.host, port=self.port + component.port_offset)
        output: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{component.name}.log").open("ab")
            self._log_files.append(output)
        # The command line is the registry's own (the interpreter and a factory path), never input.
        self.processes[component.name] = subprocess.Popen(  # noqa: S603
            command,
            env=environment_for(component, self.env),
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )

    def wait_ready(self, components: list[Component], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(components)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                component = pending[0]
                process = self.processes[component.name]
                if process.poll() is not None:
                    raise StackError(
                        f"{component.name} exited with code {process.returncode} while starting"
                    )
                try:
                    if client.get(self.url(component) + component.ready_path).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise StackError(f"{component.name} was not ready within {timeout:.0f} s")
                time.sleep(0.1)

    def stop_component(self, name: str, *, sig: signal.Signals = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        # The gateway first, so no new request reaches a service that is going away.
        for name in reversed(list(self.processes)):
            self.stop_component(name)
        for log_file in self._log_files:
            log_file.close()
        self._log_files.clear()
