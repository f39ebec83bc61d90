"""`pip install <the repository>` gives a lab the client alone.

The project is copied as it stands and installed, not editable, into a new virtual
environment from the package index, the way a lab installs it. Then the command and the
SDK work there, and none of the platform's dependencies is installed.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
# Every top-level package the wheel takes, so a package added there is installed here too.
PACKAGES = [
    pattern.removesuffix("*")
    for pattern in PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    if "." not in pattern
]
SERVER_ONLY = (
    "fastapi",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "boto3",
    "uvicorn",
    "strawberry",
)

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The repository must not be importable from the working directory or PYTHONPATH,
    # or the test would import the sources instead of what was installed.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def client_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding `pip install <the repository>`; its bin folder."""
    root = tmp_path_factory.mktemp("client-install")
    source = root / "assent"
    source.mkdir()
    for name in ("pyproject.toml", PROJECT["project"]["readme"]):
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    venv = root / "venv"
    created = _run(sys.executable, "-m", "venv", venv, cwd=root)
    assert created.returncode == 0, created.stderr
    installed = _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", source, cwd=root)
    if installed.returncode != 0:
        reachable = _run(venv / "bin" / "python", "-m", "pip", "index", "versions", "pip", cwd=root)
        if reachable.returncode != 0:
            pytest.skip(f"the package index cannot be reached: {reachable.stderr.strip()}")
        pytest.fail(f"pip install <the repository> failed:\n{installed.stderr}")
    return venv / "bin"


def test_the_command_runs(client_environment: Path, tmp_path: Path) -> None:
    helped = _run(client_environment / "assent", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("search", "quote", "buy", "licences", "download", "verify", "audit"):
        assert command in helped.stdout


def test_the_sdk_imports(client_environment: Path, tmp_path: Path) -> None:
    imported = _run(
        client_environment / "python",
        "-c",
        "from assent.client import AssentClient; print(AssentClient.__name__)",
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "AssentClient"


@pytest.mark.parametrize("module", SERVER_ONLY)
def test_no_server_dependency_is_installed(
    client_environment: Path, tmp_path: Path, module: str
) -> None:
    imported = _run(client_environment / "python", "-c", f"import {module}", cwd=tmp_path)
    assert imported.returncode != 0
    assert f"No module named '{module}'" in imported.stderr
