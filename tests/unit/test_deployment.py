"""The deployment files agree with the code: docker-compose.yml, .env.example, Dockerfile,
.dockerignore (product.md §1 distributed mode, §3 configuration).

`config` runs with whichever Compose CLI is present: `docker compose` (v2) if it works,
else `docker-compose` (v1, Debian's 1.29.2 in CI); without either that test skips, or
fails under REQUIRE_SERVICES=1 (as CI sets it).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaign_dispatch.config import Settings
from campaign_dispatch.db import migrate
from tests.services import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = ("api", "worker", "scheduler")
SCALED_SERVICES = ("worker", "scheduler")
ENV_PREFIX = str(Settings.model_config.get("env_prefix") or "").upper()
SETTINGS_VARS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
# Fixed by docker-compose.yml: inside the stack they point at its own services.
STACK_VARS = {
    ENV_PREFIX + name for name in ("DATABASE_URL", "AMQP_URL", "HOST", "PORT", "WEB_DIST_DIR")
}
# Settings whose compose default deliberately differs from config.py's.
STACK_DEFAULTS = {ENV_PREFIX + "LOG_FORMAT": "json"}

# --- docker-compose.yml, as written -------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _conditions(service: dict[str, Any]) -> dict[str, str]:
    depends_on = service.get("depends_on") or {}
    assert isinstance(depends_on, dict), "depends_on needs the long syntax, with conditions"
    return {name: spec.get("condition", "service_started") for name, spec in depends_on.items()}


def _container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        target = port["target"] if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
        ports.add(int(str(target).split("/")[0]))
    return ports


def _command(service: dict[str, Any]) -> str:
    command = service.get("command")
    return command if isinstance(command, str) else " ".join(command or [])


def test_compose_has_the_whole_stack(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"postgres", "rabbitmq", "migrate", *APP_SERVICES}


def test_postgres_is_healthchecked_on_a_named_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volumes = {str(v).split(":", 1)[0] for v in postgres["volumes"]}
    assert volumes & set(compose.get("volumes") or {}), "PostgreSQL data needs a named volume"


def test_rabbitmq_is_healthchecked_with_both_ports(services: dict[str, dict[str, Any]]) -> None:
    rabbitmq = services["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:3-management"
    assert _container_ports(rabbitmq) == {5672, 15672}
    assert rabbitmq["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]


def test_migrate_runs_once_after_postgres(services: dict[str, dict[str, Any]]) -> None:
    migrate_service = services["migrate"]
    assert _conditions(migrate_service) == {"postgres": "service_healthy"}
    command = _command(migrate_service)
    assert "campaign-dispatch migrate" in command
    assert "campaign-dispatch seed --if-empty" in command
    assert command.index("migrate &&") < command.index("seed --if-empty")
    assert migrate_service.get("restart", "no") == "no"
    assert not migrate_service.get("ports")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_migrations_and_broker(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    conditions = _conditions(service)
    assert conditions["migrate"] == "service_completed_successfully"
    assert conditions["rabbitmq"] == "service_healthy"
    assert _command(service) == f"campaign-dispatch {name}"


def test_compose_file_suits_docker_compose_v1(compose: dict[str, Any]) -> None:
    """Debian's docker-compose 1.29.2 rejects a top-level name and the long env_file."""
    assert "name" not in compose
    assert "version" not in compose
    for name, service in compose["services"].items():
        assert "env_file" not in service, f"{name}: pass settings through `environment`"


_SETTING = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-([^}$]*)\}")


def test_x_app_passes_every_setting_with_its_default(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment: dict[str, Any] = compose["x-app"]["environment"]
    assert sorted(SETTINGS_VARS - set(environment)) == [], "Settings missing from x-app"
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None).model_dump()
    for name in sorted(SETTINGS_VARS - STACK_VARS):
        match = _SETTING.fullmatch(str(environment[name]))
        assert match, f"{name}: write `{name}: ${{{name}:-<default>}}`"
        assert match.group(1) == name, f"{name} interpolates {match.group(1)}"
        default = match.group(2)
        field = name.removeprefix(ENV_PREFIX).lower()
        if name in STACK_DEFAULTS:
            assert default == STACK_DEFAULTS[name], name
        elif default:
            monkeypatch.setenv(name, default)
        else:  # `${NAME:-}`: empty, so the setting must default to unset
            assert Settings.model_fields[field].default is None, name
    shown = Settings(_env_file=None).model_dump()
    wrong = {k: f"compose {shown[k]!r}, default {v!r}" for k, v in defaults.items()}
    assert {k: v for k, v in wrong.items() if shown[k] != defaults[k]} == {}


@pytest.mark.parametrize("name", ["migrate", *APP_SERVICES])
def test_app_services_use_the_stack_and_get_every_setting(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    assert "build" in service
    environment = service["environment"]
    assert sorted(SETTINGS_VARS - set(environment)) == []
    assert re.fullmatch(r"postgresql://[^@]+@postgres:5432/\S+", environment["DATABASE_URL"])
    assert re.fullmatch(r"amqp://[^@]+@rabbitmq:5672/", environment["AMQP_URL"])
    assert environment["HOST"] == "0.0.0.0"
    assert environment["WEB_DIST_DIR"] == "/app/web/dist"


def test_api_publishes_8000_and_checks_health(services: dict[str, dict[str, Any]]) -> None:
    api = services["api"]
    assert _container_ports(api) == {8000}
    healthcheck = api["healthcheck"]
    assert not healthcheck.get("disable")
    assert "/health" in " ".join(healthcheck["test"])


@pytest.mark.parametrize("name", SCALED_SERVICES)
def test_background_services_scale(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    assert "container_name" not in service, f"`--scale {name}=3` needs no container_name"
    assert not service.get("ports"), f"`--scale {name}=3` needs no published ports"
    # The image's HEALTHCHECK probes HTTP /health, which only the API serves.
    assert service["healthcheck"] == {"disable": True}


def test_every_interpolation_has_a_default() -> None:
    """So `docker compose config` works with no .env and no exported variables."""
    text = COMPOSE_FILE.read_text()
    references = re.findall(r"(?<!\$)\$\{([^}]*)\}", text)
    assert references
    assert [r for r in references if ":-" not in r] == []
    assert re.search(r"(?<!\$)\$[A-Za-z_]", text) is None, "use ${VAR:-default}, or $$ for $"


# --- .env.example <-> Settings --------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def _env_example() -> dict[str, str]:
    """Every `NAME=value` line, commented out (`# NAME=value`) or not."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            name, value = match.groups()
            assert name not in found, f"{name} appears twice in .env.example"
            found[name] = value.strip()
    return found


def test_env_example_lists_exactly_the_settings() -> None:
    documented = set(_env_example())
    assert sorted(documented - SETTINGS_VARS) == [], "in .env.example but not in Settings"
    assert sorted(SETTINGS_VARS - documented) == [], "in Settings but not in .env.example"


def test_env_example_shows_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)
    for name, value in _env_example().items():
        field = name.removeprefix(ENV_PREFIX).lower()
        if value:
            monkeypatch.setenv(name, value)
        else:  # shown empty: unset by default, or computed (WEB_DIST_DIR)
            assert Settings.model_fields[field].default is None or field == "web_dist_dir", name
    documented = Settings(_env_file=None).model_dump()
    expected = defaults.model_dump()
    wrong = {k: f"shows {documented[k]!r}, default {v!r}" for k, v in expected.items()}
    assert {k: v for k, v in wrong.items() if documented[k] != expected[k]} == {}


def test_env_example_holds_no_secrets() -> None:
    for name, value in _env_example().items():
        if name in ("DATABASE_URL", "AMQP_URL"):
            assert "@" not in value, f"{name} in .env.example must carry no credentials"
        if name == "API_KEYS":
            assert value == ""


# --- Dockerfile and .dockerignore ------------------------------------------------------------


def test_alembic_ini_sits_where_the_image_puts_it() -> None:
    """migrate.py finds alembic.ini at parents[3] of itself: the src layout beside it."""
    assert Path(migrate.__file__).resolve() == ROOT / "src/campaign_dispatch/db/migrate.py"
    assert migrate.ALEMBIC_INI == ROOT / "alembic.ini"
    dockerfile = DOCKERFILE.read_text()
    runtime = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert "WORKDIR /app\n" in runtime
    for line in ("COPY alembic.ini ./", "COPY migrations/ migrations/", "COPY src/ src/"):
        assert line in runtime
    # Installed into site-packages, parents[3] would point into the venv: stay editable.
    assert "--no-editable" not in dockerfile


def test_dockerfile_runtime_stage() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert "ARG NODE_IMAGE=node:20-slim" in dockerfile
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert "npm ci" in dockerfile and "npm run build" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    runtime = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert runtime.startswith("\nFROM ${PYTHON_IMAGE} AS runtime")
    user = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    for setting in (
        "WEB_DIST_DIR=/app/web/dist",
        "HOST=0.0.0.0",
        "LOG_FORMAT=json",
        "PYTHONUNBUFFERED=1",
    ):
        assert setting in runtime
    assert "EXPOSE 8000" in runtime
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", runtime, re.MULTILINE)
    assert runtime.rstrip().endswith('CMD ["campaign-dispatch", "api"]')


def _dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, near enough: the last matching pattern wins; a parent folder counts."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = re.escape(pattern.strip("/")).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        out = re.sub(r"\\\[(.*?)\\\]", r"[\1]", out).replace(r"\?", "[^/]")
        return re.compile(out + "$")

    parts = path.split("/")
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        compiled = regex(pattern.lstrip("!"))
        if any(compiled.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_the_build_inputs_and_drops_local_state() -> None:
    patterns = _dockerignore_patterns()
    needed = [
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "alembic.ini",
        "src/campaign_dispatch/cli.py",
        "migrations/env.py",
        "web/package.json",
        "web/package-lock.json",
        "web/index.html",
        "web/src/main.tsx",
        "web/vite.config.ts",
        "web/tsconfig.json",
    ]
    assert [p for p in needed if _ignored(p, patterns)] == []
    dropped = [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "web/node_modules/vite/package.json",
        "web/dist/index.html",
        "campaign_dispatch.db",
        "src/campaign_dispatch/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/x",
    ]
    assert [p for p in dropped if not _ignored(p, patterns)] == []


# --- docker compose config --------------------------------------------------------------------

_INVALID_COMPOSE = (
    "services:\n  probe:\n    image: busybox\n    depends_on: {x: {condition: nope}}\n"
)


def _run(cli: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [*cli, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _compose_cli() -> tuple[list[str] | None, str]:
    """`docker compose` (v2) if it works, else `docker-compose` (v1); or why neither."""
    reasons = []
    for cli in ([shutil.which("docker"), "compose"], [shutil.which("docker-compose")]):
        label = "docker compose" if len(cli) == 2 else "docker-compose"
        if cli[0] is None:
            reasons.append(f"no `{label.split()[0]}` on PATH")
            continue
        command = [str(part) for part in cli]
        try:
            version = _run(command, "version", cwd=ROOT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"`{label} version`: {exc}")
            continue
        if version.returncode == 0:
            return command, label
        said = (version.stderr or version.stdout).strip().splitlines()[:1]
        reasons.append(f"`{label} version` fails ({''.join(said) or 'no output'})")
    return None, "; ".join(reasons)


def _example_dotenv() -> str:
    """.env.example with every setting uncommented: the defaults, written out."""
    return "".join(f"{name}={value}\n" for name, value in _env_example().items())


@pytest.mark.parametrize("where", ["repository", "copy-without-dotenv", "copy-with-dotenv"])
def test_docker_compose_config_accepts_the_file(tmp_path: Path, where: str) -> None:
    cli, label = _compose_cli()
    if cli is None:
        message = f"no Compose CLI for `config` ({label})"
        if REQUIRED:
            pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(f"{message} (set REQUIRE_SERVICES=1 to fail instead)")
    # First prove that this CLI validates at all: a broken file must fail.
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "docker-compose.yml").write_text(_INVALID_COMPOSE)
    probe = _run(cli, "-f", "docker-compose.yml", "config", "-q", cwd=canary)
    assert probe.returncode != 0, f"`{label} config -q` accepts a broken file: it proves nothing"

    cwd = ROOT
    if where != "repository":
        cwd = tmp_path / "project"
        cwd.mkdir()
        shutil.copy(COMPOSE_FILE, cwd / COMPOSE_FILE.name)
        if where == "copy-with-dotenv":
            (cwd / ".env").write_text(_example_dotenv())
    result = _run(cli, "-f", COMPOSE_FILE.name, "config", "-q", cwd=cwd)
    assert result.returncode == 0, f"`{label} config -q`: {result.stderr}"

    # What the CLI resolved: the x-app merge reached every app service, whole.
    resolved = _run(cli, "-f", COMPOSE_FILE.name, "config", cwd=cwd)
    assert resolved.returncode == 0, resolved.stderr
    services = yaml.safe_load(resolved.stdout)["services"]
    for name in ("migrate", *APP_SERVICES):
        environment = services[name]["environment"]
        assert sorted(SETTINGS_VARS - set(environment)) == [], name
        assert environment["HOST"] == "0.0.0.0", name
        assert str(environment["MAX_RETRIES"]) == "3", name
    for name in APP_SERVICES:
        assert _command(services[name]) == f"campaign-dispatch {name}"
