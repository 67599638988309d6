"""Everything the service imports is installed without the dev group.

The image installs `uv sync --no-dev`: a module the service imports that only a dev
dependency brings in (httpx did, through the test group) works in every test and fails
in production. Each third-party import under src/ must come from a distribution in the
closure of the project's own dependencies in uv.lock.
"""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "campaign_dispatch"


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def runtime_closure(lock: dict[str, object]) -> set[str]:
    """The distributions `uv sync --no-dev` installs: the project's dependencies (with
    the extras asked for), and theirs, transitively."""
    packages = {p["name"]: p for p in lock["package"]}  # type: ignore[attr-defined]
    wanted: list[tuple[str, tuple[str, ...]]] = [("campaign-dispatch", ())]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    names: set[str] = set()
    while wanted:
        name, extras = wanted.pop()
        if (name, extras) in seen or name not in packages:
            continue
        seen.add((name, extras))
        names.add(name)
        package = packages[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        wanted += [(d["name"], tuple(d.get("extra", ()))) for d in deps]
    return names


def imported_modules(root: Path) -> set[str]:
    found: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    closure = runtime_closure(tomllib.loads((ROOT / "uv.lock").read_text()))
    distributions = packages_distributions()
    third_party = imported_modules(SOURCE) - set(sys.stdlib_module_names) - {"campaign_dispatch"}
    assert third_party, "no imports found: the walk is broken"
    outside = {
        module: distributions.get(module)
        for module in third_party
        if not {_normal(d) for d in distributions.get(module, [module])} & closure
    }
    assert not outside, f"imported by the service but installed only for development: {outside}"


def test_the_closure_leaves_the_dev_group_out() -> None:
    closure = runtime_closure(tomllib.loads((ROOT / "uv.lock").read_text()))
    assert {"fastapi", "httptools", "phonenumbers", "starlette"} <= closure
    assert not {"pytest", "mypy", "hypothesis", "playwright"} & closure
