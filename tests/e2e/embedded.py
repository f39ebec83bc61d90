"""`assent up` run as an operator runs it, in its own process, its output read line by line."""

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.stack import GATEWAY, OBJECT_SERVER, SERVICES

ALL_COMPONENTS = (GATEWAY, *SERVICES, OBJECT_SERVER)

ADMIN_KEY_LINE = re.compile(r"Admin API key \(shown once, keep it safe\): (\S+)")


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: "queue.Queue[str]" = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.seen)
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"{pattern!r} not seen:\n" + "\n".join(self.seen))

    def components(self) -> dict[str, int]:
        """The process id of each component `assent up` started, by component name."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        factories = {component.factory: component.name for component in ALL_COMPONENTS}
        found = {}
        for child in children:
            arguments = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
            [name] = [factories[argument] for argument in arguments if argument in factories]
            found[name] = int(child)
        return found

    def output(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "\n".join(self.seen)


@dataclass
class EmbeddedStack:
    """`assent up` on the embedded default: SQLite files and the local object store."""

    running: Running
    port: int
    admin_key: str

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


def start(data_dir: Path, port: int, settings: Mapping[str, str] | None = None) -> Running:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assent.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "ASSENT_OUTBOX_POLL_SECONDS": "0.2", **(settings or {})},
    )
    running = Running(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return running


def stop(running: Running) -> int:
    running.process.send_signal(signal.SIGINT)
    return running.process.wait(timeout=30)


def graphql(port: int, body: Mapping[str, object], key: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )
