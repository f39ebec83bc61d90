"""`assent up` as an operator runs it: the embedded default, SQLite and a local store."""

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from assent.stack import OBJECT_SERVER
from tests.fixtures.stack import free_port_block

pytestmark = pytest.mark.stack

ME = {"query": "{ me { __typename ... on Account { name roles } } }"}
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

    def output(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "\n".join(self.seen)


def start(data_dir: Path, port: int) -> Running:
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
        env={"PATH": "/usr/bin:/bin", "ASSENT_OUTBOX_POLL_SECONDS": "0.2"},
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


@pytest.fixture
def port() -> int:
    return free_port_block(OBJECT_SERVER.port_offset + 1)


@pytest.fixture
def first_run(tmp_path: Path, port: int) -> Iterator[Running]:
    running = start(tmp_path / "var", port)
    yield running
    if running.process.poll() is None:
        running.process.kill()


def graphql(port: int, body: Mapping[str, object], key: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_data_survives_a_restart(first_run: Running, tmp_path: Path, port: int) -> None:
    admin_key = first_run.wait_for(ADMIN_KEY_LINE.pattern).group(1)
    first_run.wait_for("Assent is ready")
    register = {
        "query": """mutation { register(input: {name: "Lab", email: "lab@example.org", role: BUYER}) {
          ... on Registered { apiKey { secret } } } }"""
    }
    buyer_key = graphql(port, register, admin_key).json()["data"]["register"]["apiKey"]["secret"]

    assert graphql(port, ME, admin_key).json()["data"]["me"]["roles"] == ["ADMIN"]
    assert stop(first_run) == 0

    second_run = start(tmp_path / "var", port)
    try:
        second_run.wait_for("Assent is ready")
        me = graphql(port, ME, buyer_key).json()["data"]["me"]
        admin = graphql(port, ME, admin_key).json()["data"]["me"]
    finally:
        assert stop(second_run) == 0
    assert me == {"__typename": "Account", "name": "Lab", "roles": ["BUYER"]}
    assert admin["roles"] == ["ADMIN"]
    # The admin key is shown once, on the first start only.
    assert ADMIN_KEY_LINE.search(second_run.output()) is None


def test_a_port_already_taken_is_a_clear_refusal(
    first_run: Running, tmp_path: Path, port: int
) -> None:
    first_run.wait_for("Assent is ready")

    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "assent.cli",
            "up",
            "--data-dir",
            str(tmp_path / "other"),
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )

    assert second.returncode == 2
    assert (
        f"port already in use: {port} (gateway)" in second.stderr
        or "port already in use" in second.stderr
    )
    assert "Traceback" not in second.stderr
    assert stop(first_run) == 0
