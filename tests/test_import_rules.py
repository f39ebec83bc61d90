"""The layering of STYLE.md, checked on every file's imports."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("catalogue", "licensing", "delivery", "audit")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved, and `from a import b`
    counted as both `a` and `a.b` (b may be a module)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
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
    allowed = set(sys.stdlib_module_names) | {"pydantic", "services"}
    for path, modules in imports_under(ROOT / "services" / "contracts").items():
        foreign = {m for m in modules if top(m, 1) not in allowed}
        inner = {
            m for m in modules if top(m, 1) == "services" and top(m, 2) != "services.contracts"
        }
        assert not foreign | inner, f"{path.relative_to(ROOT)} imports {foreign | inner}"
