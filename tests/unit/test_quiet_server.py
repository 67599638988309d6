"""The API's uvicorn server ticks once a second (uvicorn's own ten a second cost an idle
process 0.19 % of a core), and still refreshes its Date header and stops on request."""

import asyncio

import uvicorn

from campaign_dispatch.cli import QuietServer


async def _app(scope, receive, send):  # never called: main_loop alone is driven here
    raise AssertionError("no request expected")


async def test_one_tick_a_second_each_refreshing_the_date_and_a_stop_within_one():
    config = uvicorn.Config(_app, log_config=None)
    config.load()
    server = QuietServer(config)
    ticks: list[int] = []
    on_tick = server.on_tick

    async def counting(counter: int) -> bool:
        ticks.append(counter)
        return await on_tick(counter)

    server.on_tick = counting  # type: ignore[method-assign]
    loop = asyncio.create_task(server.main_loop())
    await asyncio.sleep(2.5)
    server.should_exit = True
    await asyncio.wait_for(loop, 2.0)  # noticed at the next tick

    assert 2 <= len(ticks) <= 5  # uvicorn's own loop would have ticked about 25 times
    assert all(counter % 10 == 0 for counter in ticks)  # each one refreshes the Date header
    assert server.server_state.default_headers[0][0] == b"date"
