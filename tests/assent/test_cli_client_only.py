"""The CLI where only the lab client is installed: `pip install .` brings no FastAPI,
SQLAlchemy, alembic, uvicorn or strawberry, and the platform's commands say what to install
rather than fail in a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Runs the CLI without some modules: one mapped to None in sys.modules cannot be imported
# (ModuleNotFoundError), as one never installed cannot.
WITHOUT_MODULES = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from assent.cli import main
sys.exit(main(sys.argv[2:]))
"""
# As a client-only install would be.
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "strawberry")


def run_without(
    modules: tuple[str, ...], *argv: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_MODULES, ",".join(modules), *argv],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_client_only(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_without(SERVER_MODULES, *argv, cwd=cwd)


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


def test_a_missing_module_of_the_client_is_not_blamed_on_the_platform(tmp_path: Path) -> None:
    # httpx is the client's own dependency: without it the install is broken, and the
    # platform's extra would not mend it.
    result = run_without(("httpx",), "up", "--data-dir", "var", cwd=tmp_path)

    assert result.returncode == 1
    assert "ModuleNotFoundError: import of httpx halted" in result.stderr
    assert "needs the platform" not in result.stderr


def test_with_the_server_extra_not_installed_a_platform_command_names_it(tmp_path: Path) -> None:
    # The installed distribution's metadata, standing first on the path (the working
    # directory), names a server extra with a distribution that is not installed: whatever
    # module the command then misses, it is the platform that is missing.
    metadata = tmp_path / "assent-0.1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: assent\nVersion: 0.1.0\nRequires-Dist: httpx\n"
        "Provides-Extra: server\n"
        'Requires-Dist: assent-test-never-installed; extra == "server"\n'
    )

    result = run_without(("httpx",), "up", "--data-dir", "var", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr == "assent up needs the platform: pip install 'assent[server]'\n"
    assert not (tmp_path / "var").exists()
