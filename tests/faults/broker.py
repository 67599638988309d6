"""RabbitMQ as the fault tests handle it: stop and start the broker's application with
`rabbitmqctl`, wait until it accepts AMQP connections again, remove a run's queues."""

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress

import aio_pika


def rabbitmqctl_path() -> str | None:
    found = shutil.which("rabbitmqctl")
    if found is None and os.path.exists("/usr/sbin/rabbitmqctl"):
        return "/usr/sbin/rabbitmqctl"
    return found


async def rabbitmqctl(*arguments: str, timeout: float = 60) -> None:
    command = rabbitmqctl_path()
    if command is None:
        raise RuntimeError("rabbitmqctl not found")
    process = await asyncio.create_subprocess_exec(
        command, *arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(arguments)}: {output.decode(errors='replace')}")


async def wait_until_accepting(amqp_url: str, timeout: float = 60) -> float:
    """Seconds until an AMQP connection (and a channel) succeeds."""
    started = time.monotonic()
    while True:
        try:
            connection = await aio_pika.connect(amqp_url, timeout=2)
            async with connection:
                await connection.channel()
            return time.monotonic() - started
        except Exception:
            if time.monotonic() - started > timeout:
                raise
            await asyncio.sleep(0.2)


@asynccontextmanager
async def broker_stopped(amqp_url: str) -> AsyncIterator[None]:
    """`rabbitmqctl stop_app` for the body of the block; afterwards, whatever happened
    inside (an assertion, a cancellation), `start_app` and wait until it accepts
    connections: other test runs share this broker."""
    try:
        await rabbitmqctl("stop_app")
        yield
    finally:
        await ensure_running(amqp_url)


async def refuses_connections(amqp_url: str) -> bool:
    """True if no AMQP connection can be made now (the broker is really down)."""
    try:
        connection = await aio_pika.connect(amqp_url, timeout=2)
    except Exception:
        return True
    await connection.close()
    return False


async def ensure_running(amqp_url: str, attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await rabbitmqctl("start_app")  # a no-op for a running application
            break
        except (RuntimeError, TimeoutError):
            if attempt == attempts:
                raise
            await asyncio.sleep(2)
    await wait_until_accepting(amqp_url)


def queue_names(queue: str, retry_delays_ms: Iterable[int]) -> list[str]:
    return [queue, f"{queue}.dlq", *(f"{queue}.retry.{ms}ms" for ms in retry_delays_ms)]


async def message_count(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def delete_queues(amqp_url: str, names: Iterable[str]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in names:
            channel = await connection.channel()
            with suppress(Exception):
                await channel.queue_delete(name)
