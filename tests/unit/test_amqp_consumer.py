"""The consume connection's frame reading, fed the bytes a broker sends (frames built by
pamqp, the codec aiormq uses), in whatever pieces the network delivers them."""

import asyncio

import pytest
from pamqp import body, commands, frame, header, heartbeat

from campaign_dispatch.queue.consumer import Address, ConsumeConnection


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def delivery(tag: int, payload: bytes, frame_max: int = 131072) -> bytes:
    out = frame.marshal(
        commands.Basic.Deliver(
            consumer_tag="ctag.1",
            delivery_tag=tag,
            redelivered=tag % 2 == 0,
            exchange="",
            routing_key="campaign_sends",
        ),
        1,
    )
    out += frame.marshal(
        header.ContentHeader(
            body_size=len(payload),
            properties=commands.Basic.Properties(content_type="application/json", delivery_mode=2),
        ),
        1,
    )
    chunk = frame_max - 8
    for at in range(0, len(payload), chunk):
        out += frame.marshal(body.ContentBody(payload[at : at + chunk]), 1)
    return out


def connection() -> tuple[ConsumeConnection, list, Transport]:
    received: list = []
    conn = ConsumeConnection(received.append, stuck_limit=4)
    transport = Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, received, transport


@pytest.mark.parametrize("piece", [1, 3, 7, 64, 10_000])
async def test_deliveries_are_read_whatever_pieces_the_bytes_arrive_in(piece):
    conn, received, _ = connection()
    jobs = [(n, b'{"outbound_message_id": %d, "attempt": 0}' % n) for n in range(1, 40)]
    stream = b"".join(delivery(tag, payload) for tag, payload in jobs)
    stream += frame.marshal(heartbeat.Heartbeat(), 0) + delivery(40, b"")
    for at in range(0, len(stream), piece):
        conn.data_received(stream[at : at + piece])
    assert [(d._tag, d.body) for d in received] == [*jobs, (40, b"")]


async def test_a_body_split_over_several_frames_is_joined():
    conn, received, _ = connection()
    payload = bytes(range(256)) * 40  # 10 240 bytes over frames of at most 4 096
    conn.data_received(delivery(7, payload, frame_max=4096))
    assert [(d._tag, d.body) for d in received] == [(7, payload)]


async def test_a_control_frame_between_deliveries_reaches_the_waiter():
    conn, received, _ = connection()
    stream = delivery(1, b"a") + frame.marshal(commands.Basic.CancelOk("ctag.1"), 1)
    stream += delivery(2, b"b")
    conn.data_received(stream)
    assert [d.body for d in received] == [b"a", b"b"]
    ok = await conn._expect(commands.Basic.CancelOk, within=1)
    assert ok.consumer_tag == "ctag.1"


async def test_acks_and_releases_are_the_frames_pamqp_would_write():
    conn, received, transport = connection()
    conn.data_received(delivery(1, b"a") + delivery(2, b"b") + delivery(3, b"c"))
    first, second, third = received
    await third.release()
    await first.ack()
    await second.ack()
    await asyncio.sleep(0.01)  # the coalesced ack goes out within a loop turn
    nack = frame.marshal(commands.Basic.Nack(delivery_tag=3, multiple=False, requeue=True), 1)
    ack = frame.marshal(commands.Basic.Ack(delivery_tag=2, multiple=True), 1)
    assert transport.written == [nack, ack]


async def test_the_broker_closing_the_channel_ends_the_connection_with_its_reason():
    conn, _, transport = connection()
    closing = commands.Channel.Close(
        reply_code=404, reply_text="NOT_FOUND - no queue 'x'", class_id=50, method_id=10
    )
    conn.data_received(frame.marshal(closing, 1))
    assert transport.written == [frame.marshal(commands.Channel.CloseOk(), 1)]
    assert transport.closed
    conn.connection_lost(None)
    with pytest.raises(Exception, match="404 NOT_FOUND"):
        await conn._expect(commands.Basic.ConsumeOk, within=1)
    assert conn.lost.done()


async def test_a_malformed_frame_drops_the_connection():
    conn, received, transport = connection()
    bad = bytearray(delivery(1, b"a"))
    bad[-1] = 0  # the last frame's end marker
    conn.data_received(bytes(bad))
    assert transport.closed and received == []
    assert "frame end" in str(conn.closed_by)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", ("127.0.0.1", 5672, "guest", "guest", "/", False)),
        ("amqp://u%40x:p%2Fw@rabbit/prod", ("rabbit", 5672, "u@x", "p/w", "prod", False)),
        ("amqps://u:p@rabbit:1234/%2F?heartbeat=10", ("rabbit", 1234, "u", "p", "/", True)),
        ("amqps://rabbit", ("rabbit", 5671, "guest", "guest", "/", True)),
    ],
)
def test_addresses_are_read_as_aio_pika_reads_them(url, expected):
    address = Address.parse(url)
    got = (address.host, address.port, address.username, address.password, address.vhost)
    assert (*got, address.tls) == expected


def test_the_heartbeat_comes_from_the_url():
    assert Address.parse("amqp://h/?heartbeat=10").heartbeat == 10
    assert Address.parse("amqp://h/").heartbeat == 60


async def test_heartbeats_go_out_and_a_silent_broker_is_dropped():
    conn, _, transport = connection()
    beating = asyncio.ensure_future(conn._beat(1))  # every second; silent for 2 s: dropped
    try:
        await asyncio.sleep(1.2)
        conn.data_received(frame.marshal(heartbeat.Heartbeat(), 0))  # heard: not dropped
        await asyncio.sleep(1.0)
        assert not transport.closed
        await asyncio.wait_for(beating, timeout=5)
    finally:
        beating.cancel()
    assert transport.closed and "no word from the broker" in str(conn.closed_by)
    assert transport.written.count(frame.marshal(heartbeat.Heartbeat(), 0)) >= 3
