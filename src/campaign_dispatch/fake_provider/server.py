"""Serving the fake provider: in-process for tests and benchmarks, or as its own
process (`campaign-dispatch fake-provider`)."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn

from campaign_dispatch.fake_provider.app import FakeProvider
from campaign_dispatch.fake_provider.wire import Secrets


def _config(app: FakeProvider, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )


@contextlib.asynccontextmanager
async def running_fake_provider(
    public_base_url: str | None = None,
    secrets: Secrets | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int | None = None,
) -> AsyncIterator[FakeProvider]:
    """Serve a FakeProvider on loopback (a free port by default) inside the running
    event loop. The yielded provider has `base_url` set; its `requests`, `callbacks`,
    `set_behaviour` and `send_inbound` are the in-process API.

        async with running_fake_provider("http://127.0.0.1:8000", Secrets(...)) as fake:
            settings = Settings(at_base_url=fake.base_url, ...)
    """
    fake = FakeProvider(public_base_url, secrets, seed=seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    fake.base_url = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(_config(fake, host, port))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the fake provider stopped while starting")
            await asyncio.sleep(0.005)
        yield fake
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


def serve(
    host: str,
    port: int,
    public_base_url: str | None,
    secrets: Secrets,
    seed: int | None = None,
) -> None:
    """Run the fake provider until interrupted (the CLI's `fake-provider`)."""
    fake = FakeProvider(public_base_url, secrets, seed=seed)
    fake.base_url = f"http://{host}:{port}"
    uvicorn.Server(_config(fake, host, port)).run()
