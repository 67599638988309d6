"""A process serving beyond loopback without API keys refuses to start and says why."""

import pytest
import uvicorn
from click.testing import CliRunner

from campaign_dispatch import cli
from campaign_dispatch.config import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, amqp_url="amqp://guest:guest@127.0.0.1:1/", **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "api.example.com"])
def test_no_keys_beyond_loopback_is_refused(host: str) -> None:
    reason = settings(host=host).refuses_to_listen_on(host)
    assert reason is not None
    assert host in reason and "API_KEYS" in reason and "ALLOW_UNAUTHENTICATED" in reason


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_keys(host: str) -> None:
    assert settings().refuses_to_listen_on(host) is None


def test_keys_or_an_explicit_opt_out_allow_any_interface() -> None:
    assert settings(api_keys="k1").refuses_to_listen_on("0.0.0.0") is None
    assert settings(allow_unauthenticated=True).refuses_to_listen_on("0.0.0.0") is None


@pytest.mark.parametrize("command", ["api", "serve"])
def test_the_serving_commands_exit_before_listening(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.append(self))
    monkeypatch.setattr(cli, "upgrade", lambda url: None)
    monkeypatch.setattr(cli, "_settings", lambda: settings(host="0.0.0.0"))

    refused = CliRunner().invoke(
        cli.main, [command, "--no-migrate"] if command == "serve" else [command]
    )
    assert refused.exit_code != 0
    assert "refusing to serve on 0.0.0.0 without API_KEYS" in refused.output
    assert served == []

    monkeypatch.setattr(cli, "_settings", lambda: settings(host="0.0.0.0", api_keys="k1"))
    allowed = CliRunner().invoke(cli.main, [command])
    assert allowed.exit_code == 0, allowed.output
    assert len(served) == 1


def test_the_compose_stack_runs_only_with_the_key_make_up_writes(tmp_path) -> None:
    import shutil
    import subprocess
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    api = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]["api"]
    host = api["environment"]["HOST"]
    assert api["environment"]["API_KEYS"] == "${API_KEYS:-}"  # from the shell or .env
    assert settings(host=host).refuses_to_listen_on(host) is not None  # no .env: refused

    shutil.copy(root / "Makefile", tmp_path / "Makefile")
    subprocess.run(["make", "-s", ".env"], cwd=tmp_path, check=True, capture_output=True)
    written = dict(
        line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if line
    )
    assert len(written["API_KEYS"]) >= 32
    keyed = settings(host=host, api_keys=written["API_KEYS"])
    assert keyed.refuses_to_listen_on(host) is None


def test_the_server_bounds_connections_and_header_size(monkeypatch: pytest.MonkeyPatch) -> None:
    configs = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: configs.append(self.config))
    monkeypatch.setattr(cli, "_settings", lambda: settings())
    assert CliRunner().invoke(cli.main, ["api"]).exit_code == 0
    [config] = configs
    assert config.limit_concurrency == cli.MAX_CONNECTIONS
    assert config.h11_max_incomplete_event_size == cli.MAX_HEADER_BYTES
    assert config.timeout_keep_alive <= 10
