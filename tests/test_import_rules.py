"""The layering of STYLE.md, checked on every file's imports."""

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

from assent.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("catalogue", "licensing", "delivery", "audit")


def imported_modules(path: Path, nodes: Iterable[ast.AST] | None = None) -> set[str]:
    """Every module a file imports (or, given `nodes`, those parts of it), relative imports
    resolved, and `from a import b` counted as both `a` and `a.b` (b may be a module)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    modules: set[str] = set()
    for root in [ast.parse(path.read_text(), filename=str(path))] if nodes is None else nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
                modules.add(module)
                modules.update(f"{module}.{alias.name}" for alias in node.names)
    return modules


def imports_under(folder: Path) -> dict[Path, set[str]]:
    return {path: imported_modules(path) for path in folder.rglob("*.py")}


def top(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth])


def test_a_service_never_imports_another_service() -> None:
    for service in SERVICES:
        others = {f"services.{other}" for other in SERVICES if other != service}
        for path, modules in imports_under(ROOT / "services" / service).items():
            crossing = {m for m in modules if top(m, 2) in others}
            assert not crossing, f"{path.relative_to(ROOT)} imports {crossing}"


def test_the_gateway_uses_only_contracts_and_kit_of_the_services() -> None:
    for path, modules in imports_under(ROOT / "gateway").items():
        crossing = {m for m in modules if top(m, 2) in {f"services.{s}" for s in SERVICES}}
        assert not crossing, f"{path.relative_to(ROOT)} imports {crossing}"


def test_kit_and_storage_hold_no_service_code() -> None:
    for folder in (ROOT / "services" / "kit", ROOT / "storage"):
        for path, modules in imports_under(folder).items():
            business = {m for m in modules if top(m, 2) in {f"services.{s}" for s in SERVICES}}
            assert not business, f"{path.relative_to(ROOT)} imports {business}"
            assert not {m for m in modules if top(m, 1) == "gateway"}


def test_contracts_import_only_the_standard_library_and_pydantic() -> None:
    # pydantic_core is pydantic's own engine: its PydanticCustomError gives a refusal a code.
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "services"}
    for path, modules in imports_under(ROOT / "services" / "contracts").items():
        foreign = {m for m in modules if top(m, 1) not in allowed}
        inner = {
            m for m in modules if top(m, 1) == "services" and top(m, 2) != "services.contracts"
        }
        assert not foreign | inner, f"{path.relative_to(ROOT)} imports {foreign | inner}"


def test_the_protocol_does_no_io_and_needs_only_contracts() -> None:
    """The code both sides verify with: no network, no files, no database, no service."""
    allowed = {"pydantic", "cryptography", "rfc8785", "assent", "services"}
    io = {"socket", "ssl", "http", "urllib", "asyncio", "sqlite3", "pathlib", "io", "shutil"}
    for path, modules in imports_under(ROOT / "assent" / "protocol").items():
        foreign = {m for m in modules if top(m, 1) not in set(sys.stdlib_module_names) | allowed}
        inner = {
            m
            for m in modules
            if (top(m, 1) == "services" and top(m, 2) != "services.contracts")
            or (top(m, 1) == "assent" and top(m, 2) != "assent.protocol")
        }
        blocking = {m for m in modules if top(m, 1) in io}
        assert not foreign | inner | blocking, f"{path.relative_to(ROOT)} imports {foreign | inner}"


# What only `pip install '.[server]'` brings: the platform's packages and libraries.
PLATFORM = frozenset(
    {"gateway", "storage", "fastapi", "starlette", "uvicorn", "strawberry", "sqlalchemy", "alembic"}
    | {"asyncpg", "aiosqlite", "boto3"}
)
PLATFORM_COMMANDS = (
    ["up"],
    ["migrate"],
    ["backup", "out"],
    ["restore", "out"],
    ["keygen"],
    ["revision", "audit", "-m", "a change"],
)


def platform_modules(modules: set[str]) -> set[str]:
    return {
        m
        for m in modules
        if top(m, 1) in PLATFORM or (top(m, 1) == "services" and top(m, 2) != "services.contracts")
    }


def test_the_lab_client_imports_only_the_contracts_of_the_services() -> None:
    cli = ROOT / "assent" / "cli" / "_server.py"
    for path, modules in imports_under(ROOT / "assent").items():
        platform = platform_modules(modules)
        assert path == cli or not platform, f"{path.relative_to(ROOT)} imports {platform}"
    tree = ast.parse(cli.read_text())
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    at_load = [node for node in tree.body if node not in functions]
    assert not platform_modules(imported_modules(cli, at_load))
    # Only the platform's commands import the platform, and only when they run.
    handlers = {build_parser().parse_args(argv).handler.__name__ for argv in PLATFORM_COMMANDS}
    importing = {f.name for f in functions if platform_modules(imported_modules(cli, [f]))}
    assert importing == handlers


# One exception, named: the portal's statement PDF is laid out by the lab client's own
# statement code, so that it and the SDK's PDF never say different things.
SHARED_WITH_THE_CLIENT = {
    Path("gateway/portal/statement.py"): {"assent.protocol", "assent.statements", "assent.pdf"}
}


def test_services_and_the_gateway_share_only_the_protocol_of_the_client() -> None:
    for folder in (ROOT / "services", ROOT / "gateway"):
        for path, modules in imports_under(folder).items():
            shared = SHARED_WITH_THE_CLIENT.get(path.relative_to(ROOT), {"assent.protocol"})
            client = {m for m in modules if top(m, 1) == "assent" and top(m, 2) not in shared}
            assert not client, f"{path.relative_to(ROOT)} imports {client}"
