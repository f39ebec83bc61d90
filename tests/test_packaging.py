"""What the repository installs: a lab's client alone, and the locks of everything else.

For the client, the project is copied as it stands and installed, not editable, into a
new virtual environment from the package index, the way a lab installs it. Then the
command and the SDK work there, and none of the platform's dependencies is installed.

The locks (`make lock` writes them, `make` and the image install them with hashes) must
pin every dependency pyproject.toml names, within its range, and name no package index.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
# Each lock and the pyproject.toml lists of requirements it must pin.
DEPENDENCIES = PROJECT["project"]["dependencies"]
EXTRAS = PROJECT["project"]["optional-dependencies"]
LOCKS = {
    "requirements.lock": [*DEPENDENCIES, *EXTRAS["server"], *EXTRAS["dev"]],
    "requirements-server.lock": [*DEPENDENCIES, *EXTRAS["server"]],
}
# A pinned package: its version and the hashes of its files.
Pin = tuple[str, frozenset[str]]


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


def read_lock(name: str) -> dict[tuple[str, str], Pin]:
    """The lock's pins by package name and marker (one package may be pinned per Python)."""
    text = re.sub(r"\\\n", " ", (REPO_ROOT / name).read_text())
    pins: dict[tuple[str, str], Pin] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement_text, *hashes = line.split(" --hash=")
        requirement = Requirement(requirement_text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{name} does not pin {requirement_text}"
        key = (canonicalize_name(requirement.name), str(requirement.marker or ""))
        pins[key] = (specifier.version, frozenset(hash_.strip() for hash_ in hashes))
    return pins


@pytest.mark.parametrize("name", LOCKS)
def test_the_lock_names_no_package_index(name: str) -> None:
    text = (REPO_ROOT / name).read_text()
    assert "://" not in text
    # An option line (--index-url, --extra-index-url, --find-links, -i) would name one.
    options = [line for line in text.splitlines() if line.startswith("-")]
    assert options == []


@pytest.mark.parametrize(("name", "required"), LOCKS.items(), ids=list(LOCKS))
def test_the_lock_pins_every_dependency_within_its_range(name: str, required: list[str]) -> None:
    pins = read_lock(name)
    assert all(hashes for _version, hashes in pins.values())
    for requirement in map(Requirement, required):
        package = canonicalize_name(requirement.name)
        if package == PROJECT["project"]["name"]:
            continue
        versions = [
            version for (locked, _marker), (version, _) in pins.items() if locked == package
        ]
        assert versions, f"{name} does not pin {package}"
        assert all(requirement.specifier.contains(version) for version in versions), (
            f"{name} pins {package} {versions}, outside {requirement.specifier}"
        )


def test_the_server_lock_pins_what_the_full_lock_pins() -> None:
    # The image runs the server with the versions and files make test installed.
    # Markers may differ: the dev tools need some packages on more platforms.
    full = {(package, pin) for (package, _marker), pin in read_lock("requirements.lock").items()}
    server = read_lock("requirements-server.lock")
    assert {(package, pin) for (package, _marker), pin in server.items()} <= full


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


@pytest.mark.slow
def test_the_command_runs(client_environment: Path, tmp_path: Path) -> None:
    helped = _run(client_environment / "assent", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("search", "quote", "buy", "licences", "download", "verify", "audit"):
        assert command in helped.stdout


@pytest.mark.slow
def test_the_sdk_imports(client_environment: Path, tmp_path: Path) -> None:
    imported = _run(
        client_environment / "python",
        "-c",
        "from assent.client import AssentClient; print(AssentClient.__name__)",
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "AssentClient"


@pytest.mark.slow
@pytest.mark.parametrize("module", SERVER_ONLY)
def test_no_server_dependency_is_installed(
    client_environment: Path, tmp_path: Path, module: str
) -> None:
    imported = _run(client_environment / "python", "-c", f"import {module}", cwd=tmp_path)
    assert imported.returncode != 0
    assert f"No module named '{module}'" in imported.stderr
