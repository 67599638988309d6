"""`campaign-dispatch serve | api | worker | scheduler | migrate | seed | openapi |
fake-provider`."""

import asyncio
import gc
import json
import signal
import sys
from collections.abc import Callable

import click
import uvicorn

from campaign_dispatch.background import Role
from campaign_dispatch.config import Settings, get_settings
from campaign_dispatch.db.migrate import upgrade
from campaign_dispatch.logging_setup import configure_logging

# Exit status of a process whose background service died: a supervisor (compose's
# `restart:`, systemd, Kubernetes) starts it again.
EXIT_BACKGROUND_FAILED = 3
MAX_CONNECTIONS = 1000
MAX_HEADER_BYTES = 64 * 1024


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


class QuietServer(uvicorn.Server):
    """uvicorn's server with its housekeeping tick once a second instead of ten times.

    uvicorn wakes every 0.1 s to refresh its Date header (once a second) and to look for
    a shutdown request; measured on an otherwise idle process, that alone costs 0.19 % of
    a core, against 0.03 % ticking once a second, and the idle target for every process
    together is 0.5 %. Each tick here stands for ten of uvicorn's, so `on_tick` still
    refreshes the Date header every second; SIGTERM is noticed within a second.
    """

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864_000  # uvicorn's own wrap (a day of ticks)
            await asyncio.sleep(1.0)
            should_exit = await self.on_tick(counter)


def _serve(settings: Settings, host: str | None, port: int | None, roles: frozenset[Role]) -> None:
    from campaign_dispatch.app import create_app

    refusal = settings.refuses_to_listen_on(host or settings.host)
    if refusal:
        raise click.ClickException(refusal)
    server: uvicorn.Server | None = None
    failed = False

    def stop_serving() -> None:
        nonlocal failed
        failed = True
        if server is not None:
            server.should_exit = True

    config = uvicorn.Config(
        create_app(settings, roles=roles, on_background_failure=stop_serving),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,  # request_context logs one line per request, with its id
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        # Bounds a flood of connections or oversized headers can push on the one event
        # loop the API (and, embedded, the worker) runs on: past them, 503 or a closed
        # connection instead of unbounded memory.
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=5,
    )
    server = QuietServer(config)
    server.run()
    if failed:
        sys.exit(EXIT_BACKGROUND_FAILED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Campaign Dispatch: personalized SMS/WhatsApp campaigns."""


@main.command()
@click.option("--host", default=None, help="Listen address (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default: PORT or 8000).")
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations first.")
def serve(host: str | None, port: int | None, no_migrate: bool) -> None:
    """Everything in one process: API, dashboard, relay, worker and scheduler."""
    settings = _settings()
    if not no_migrate:
        upgrade(settings.database_url)
    _serve(settings, host, port, frozenset(Role))


@main.command()
@click.option("--host", default=None, help="Listen address (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default: PORT or 8000).")
def api(host: str | None, port: int | None) -> None:
    """The HTTP API (and dashboard); run `migrate` first. Workers publish and send.

    Needs AMQP_URL: without a broker nothing would consume the jobs (use `serve`).
    """
    settings = _settings()
    if not settings.amqp_url:
        raise click.UsageError("`api` needs AMQP_URL; for the embedded mode use `serve`")
    _serve(settings, host, port, frozenset())


def _run_background(roles: frozenset[Role]) -> None:
    """Run background roles until SIGTERM/SIGINT, then drain and exit."""
    settings = _settings()
    if not settings.amqp_url:
        raise click.UsageError("this process needs AMQP_URL; for the embedded mode use `serve`")

    async def run() -> bool:
        from campaign_dispatch.background import BackgroundServices
        from campaign_dispatch.resources import Resources

        resources = Resources.create(settings)
        background = BackgroundServices(resources)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, background.supervisor.stop_requested.set)
        try:
            await background.start(roles)
            _tune_gc()
            await background.supervisor.wait()
        finally:
            await background.stop()
            await resources.close()
        return background.supervisor.failed.is_set()

    with asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
        if runner.run(run()):
            sys.exit(EXIT_BACKGROUND_FAILED)


def _tune_gc() -> None:
    """Fewer, cheaper collections: the hot path allocates many short-lived objects, and
    the default thresholds make the collector rescan the long-lived startup heap (ORM,
    models, libraries) over and over. Freezing moves that heap out of the collector's
    way; reference counting still frees everything acyclic at once."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard]): the background processes
    are CPU-bound on socket and task overhead, which uvloop does in C."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@main.command()
def worker() -> None:
    """Consume send jobs (plus the outbox relay and recovery). Scale by running more."""
    _run_background(frozenset({Role.WORKER, Role.RELAY, Role.RECOVERY}))


@main.command()
def scheduler() -> None:
    """Release scheduled campaigns when due (plus relay and recovery). Safe to run several."""
    _run_background(frozenset({Role.SCHEDULER, Role.RELAY, Role.RECOVERY}))


@main.command()
def migrate() -> None:
    """Apply database migrations (idempotent)."""
    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.command()
@click.option("--if-empty", is_flag=True, help="Only seed a database without customers.")
def seed(if_empty: bool) -> None:
    """Load sample customers and campaigns (idempotent)."""
    settings = _settings()

    async def run() -> dict[str, int]:
        from campaign_dispatch.db import Database
        from campaign_dispatch.services.seed import load_sample_data

        database = Database.connect(settings.database_url, pool_size=1)
        try:
            async with database.sessions.begin() as session:
                return await load_sample_data(session, if_empty)
        finally:
            await database.dispose()

    click.echo(json.dumps(asyncio.run(run())))


@main.command("fake-provider")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option("--port", type=int, default=9090, show_default=True, help="Listen port.")
@click.option(
    "--public-base-url",
    envvar="PUBLIC_BASE_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where receipts and inbound messages are sent (default: PUBLIC_BASE_URL).",
)
@click.option("--at-callback-token", envvar="AT_CALLBACK_TOKEN", default=None)
@click.option("--twilio-auth-token", envvar="TWILIO_AUTH_TOKEN", default=None)
@click.option("--whatsapp-app-secret", envvar="WHATSAPP_APP_SECRET", default=None)
@click.option("--webhook-secret", envvar="WEBHOOK_PROVIDER_SECRET", default=None)
@click.option("--seed", type=int, default=None, help="Seeds the outcome and delivery draws.")
def fake_provider(
    host: str,
    port: int,
    public_base_url: str,
    at_callback_token: str | None,
    twilio_auth_token: str | None,
    whatsapp_app_secret: str | None,
    webhook_secret: str | None,
    seed: int | None,
) -> None:
    """A local Africa's Talking, Twilio, WhatsApp Cloud and webhook gateway (docs/providers.md).

    Point AT_BASE_URL, TWILIO_BASE_URL at http://HOST:PORT, WHATSAPP_BASE_URL at
    http://HOST:PORT/v21.0 and WEBHOOK_PROVIDER_URL at http://HOST:PORT/webhook/messages.
    Secrets default to the variables the service reads, so both sign and check alike.
    """
    from campaign_dispatch.fake_provider import Secrets, serve

    configure_logging("INFO", "console")
    secrets = Secrets(at_callback_token, twilio_auth_token, whatsapp_app_secret, webhook_secret)
    serve(host, port, public_base_url, secrets, seed)


@main.command()
def openapi() -> None:
    """Print the OpenAPI document (the dashboard's client types are generated from it)."""
    from campaign_dispatch.app import create_app

    click.echo(json.dumps(create_app(get_settings()).openapi(), indent=2))


if __name__ == "__main__":
    main()
