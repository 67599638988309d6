"""What the repository holds: no secrets, local databases, build outputs or binaries."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_secrets_databases_or_binaries_are_committed():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    forbidden = [
        path
        for path in tracked
        if Path(path).name == ".env"
        or path.endswith((".db", ".db-wal", ".sqlite", ".pyc", ".so", ".whl", ".pem", ".key"))
        or path.startswith(("web/dist/", "web/node_modules/", ".venv/", ".tools/"))
    ]
    assert forbidden == []
    binaries = [path for path in tracked if b"\x00" in (ROOT / path).read_bytes()[:8000]]
    assert binaries == []
