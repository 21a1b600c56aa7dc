"""Hostile clients before a publish is authorized: floods from one address, oversized messages,
tricklers. Each must cost the server little and never lock out a real publisher."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.helpers import aeventually
from tests.ingest.conftest import (
    GOOD_KEY,
    RawClient,
    async_test,
    probe_flv,
    publish,
    running_server,
)
from tests.ingest.test_rtmp_server import connect_and_create_stream, expect_closed, status_info, wait_done
from vsrc.ingest import RtmpServerConfig
from vsrc.ingest.rtmp import messages as msg
from vsrc.ingest.rtmp.chunks import Message
from vsrc.ingest.server import address_group

pytestmark = pytest.mark.slow

HOSTILE = 500
HOSTILE_ADDR = "127.0.0.2"  # the whole of 127.0.0.0/8 is loopback on Linux


async def hold_open(port: int, gate: asyncio.Semaphore) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection from ``HOSTILE_ADDR`` that sends C0 and then nothing: it sits in the handshake."""
    async with gate:  # the listen backlog is 100: do not make the kernel drop SYNs
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(HOSTILE_ADDR, 0))
    writer.write(b"\x03")
    await writer.drain()
    return reader, writer


def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """The server closed (FIN) or aborted (RST) the connection."""
    return reader.at_eof() or reader.exception() is not None


@async_test
async def test_publish_succeeds_while_500_hostile_connections_are_held(tmp_path: Path, clip2: Path) -> None:
    # max_sessions equals the flood: without a per-address cap it would take every session.
    # Long timeouts, so the flood is still held when the publish runs.
    config = {"max_sessions": HOSTILE, "handshake_timeout": 600.0, "publish_timeout": 600.0}
    async with running_server(tmp_path, **config) as harness:
        server = harness.server
        gate = asyncio.Semaphore(50)
        flood = await asyncio.gather(*(hold_open(server.port, gate) for _ in range(HOSTILE)))
        # Every hostile connection was either accepted (and is held) or closed by the server.
        await aeventually(
            lambda: server.active_sessions + sum(closed_by_server(r) for r, _ in flood) >= HOSTILE,
            timeout=60,
            what="the server has seen every hostile connection",
        )
        rc, err = await publish(clip2, harness.url(GOOD_KEY), timeout=60)
        assert rc == 0, err
        await wait_done(harness, timeout=20)
        held = [w for r, w in flood if not closed_by_server(r)]
        assert len(held) == RtmpServerConfig().max_pending_per_ip
        # The publisher's own session ends a moment after on_publish_done: then only the flood is held.
        await aeventually(
            lambda: server.active_sessions == len(held), timeout=20, what="only the held connections left"
        )
        for _, writer in flood:
            writer.close()
    assert probe_flv(harness.factory.sinks[0].path).video_frames >= 49


@async_test
async def test_large_message_before_publish_closes_the_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vsrc.ingest")
    cap = RtmpServerConfig().preauth_max_message_size
    async with running_server(tmp_path) as harness:  # the default caps
        client = await RawClient.connect(harness.server.port)
        await client.handshake()
        # A 1 MiB command message: far below the cap of a publishing connection (16 MiB).
        client.writer.write(bytes.fromhex("03 000000 100000 14 00000000") + bytes(4096))
        await expect_closed(client)
    assert f"exceeds the {cap} cap" in caplog.text


@async_test
async def test_the_cap_is_raised_once_the_publish_is_authorized(tmp_path: Path) -> None:
    keyframe = b"\x17\x01\x00\x00\x00" + bytes(1024 * 1024)  # 1 MiB: a big but legal keyframe
    async with running_server(tmp_path) as harness:
        client = await RawClient.connect(harness.server.port)
        await connect_and_create_stream(client)
        await client.send(msg.command_message("publish", 3, None, GOOD_KEY, "live", stream_id=1))
        assert status_info(await client.receive())["code"] == "NetStream.Publish.Start"
        await client.send(Message(6, 9, 1, 0, b"\x17\x00cfg"), Message(6, 9, 1, 40, keyframe))
        await client.send(msg.command_message("deleteStream", 4, None, 1.0))
        await wait_done(harness)
        client.close()
    assert keyframe in harness.factory.sinks[0].path.read_bytes()


@async_test
async def test_trickling_clients_are_closed_at_the_publish_deadline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vsrc.ingest")
    # Idle and handshake timeouts far away: only the publish deadline can close these clients.
    config = {"publish_timeout": 1.0, "handshake_timeout": 600.0, "idle_timeout": 600.0}
    async with running_server(tmp_path, **config) as harness:
        port = harness.server.port

        async def trickle(client: RawClient, head: bytes) -> None:
            """Send ``head``, then a byte every 0.2 s, until the server hangs up."""
            client.writer.write(head)
            try:
                while True:
                    await asyncio.sleep(0.2)
                    client.writer.write(b"\x00")
                    await client.writer.drain()
            except ConnectionError:
                return

        async def in_the_handshake() -> None:
            client = await RawClient.connect(port)
            task = asyncio.create_task(trickle(client, b"\x03"))
            await expect_closed(client, timeout=30)
            task.cancel()

        async def after_connect() -> None:
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send(msg.command_message("connect", 1, {"app": "live"}))
            await client.receive()
            # The start of a 10,000-byte command that never completes.
            task = asyncio.create_task(trickle(client, bytes.fromhex("03 000000 002710 14 00000000")))
            await expect_closed(client, timeout=30)
            task.cancel()

        await asyncio.gather(in_the_handshake(), after_connect())
        await aeventually(lambda: harness.server.active_sessions == 0, timeout=10)
    assert caplog.text.count("no publish within 1 s") == 2


def test_address_groups() -> None:
    assert address_group("203.0.113.9") == "203.0.113.9"
    assert address_group("::ffff:203.0.113.9") == "203.0.113.9"
    assert (
        address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    )
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
