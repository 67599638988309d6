"""Rules of the code base that no linter states: checked on the source tree itself."""

import ast
from pathlib import Path

from campaign_dispatch.statuses import CampaignStatus, Channel, MessageStatus

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "campaign_dispatch"
SQL_HOMES = ("repositories", "models", "db")
# What a module outside the SQL homes may take from SQLAlchemy: sessions and their
# factories (to hold a transaction), the driver's errors (to map them), URL handling.
NOT_SQL = ("sqlalchemy.ext.asyncio", "sqlalchemy.exc", "sqlalchemy.engine")


def modules(*, outside: tuple[str, ...] = ()) -> list[tuple[Path, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in outside:
            continue
        found.append((relative, ast.parse(path.read_text(), str(path))))
    return found


def test_sql_is_written_only_in_repositories_models_and_db():
    offenders = []
    for path, tree in modules(outside=SQL_HOMES):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "sqlalchemy" and not name.startswith(NOT_SQL):
                    offenders.append(f"{path}:{node.lineno} imports {name}")
    assert offenders == []


def test_status_and_channel_values_are_written_only_in_statuses():
    values = {s.value for s in (*CampaignStatus, *MessageStatus, *Channel)}
    offenders = []
    for path, tree in modules():
        if path == Path("statuses.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in values:
                offenders.append(f"{path}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_the_rules_see_the_whole_package():
    # Guards the two checks above against scanning an empty or wrong tree.
    paths = {path for path, _ in modules()}
    assert Path("repositories/outcomes.py") in paths
    assert Path("api/campaigns.py") in paths
    assert len(paths) > 50
