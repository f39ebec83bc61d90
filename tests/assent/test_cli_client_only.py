"""The CLI where only the lab client is installed: `pip install .` brings no FastAPI,
SQLAlchemy, alembic, uvicorn or strawberry, and the platform's commands say what to install
rather than fail in a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Runs the CLI as a client-only install would: a module mapped to None in sys.modules
# cannot be imported (ModuleNotFoundError), as one never installed cannot.
CLIENT_ONLY = """
import sys
for name in ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "strawberry"):
    sys.modules[name] = None
from assent.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_client_only(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLIENT_ONLY, *argv],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("up", ["up", "--data-dir", "var"]),
        ("migrate", ["migrate", "--data-dir", "var"]),
        ("revision", ["revision", "catalogue", "-m", "a change"]),
    ],
)
def test_a_platform_command_names_the_install_it_needs(
    command: str, argv: list[str], tmp_path: Path
) -> None:
    result = run_client_only(*argv, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"assent {command} needs the platform: pip install 'assent[server]'\n"
    # Nothing was set up before the command found the platform missing.
    assert not (tmp_path / "var").exists()


def test_help_lists_every_command_without_the_platform(tmp_path: Path) -> None:
    result = run_client_only("--help", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert {"up", "migrate", "revision", "download", "verify", "audit", "search"} <= set(listed)


def test_a_lab_command_runs_without_the_platform(tmp_path: Path) -> None:
    result = run_client_only("verify", "missing.json", "--keys", "keys.json", cwd=tmp_path)

    # The command itself ran: it read the arguments and found no file, as it would anywhere.
    assert result.returncode == 2
    assert result.stderr.startswith("assent verify: cannot read missing.json")
