"""The RTMP server end to end: real ffmpeg publishers, and a raw-socket client for the edges."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from pathlib import Path

import pytest

from tests.helpers import aeventually
from tests.ingest.conftest import (
    FFMPEG,
    GOOD_KEY,
    Harness,
    RawClient,
    RecordingAuthorizer,
    async_test,
    probe_flv,
    publish,
    running_server,
    start_publisher,
)
from vsrc.ingest import FileSink, ProcessSink, PublishGrant, RtmpServer, StreamSink, TeeSink
from vsrc.ingest.rtmp import amf0, flv
from vsrc.ingest.rtmp import messages as msg
from vsrc.ingest.rtmp.chunks import Message
from vsrc.ingest.rtmp.handshake import HANDSHAKE_SIZE

pytestmark = pytest.mark.slow


async def wait_done(harness: Harness, timeout: float = 5) -> None:
    await asyncio.wait_for(harness.authorizer.done_event.wait(), timeout)


@async_test
async def test_ffmpeg_publish_is_recorded_without_drift(tmp_path: Path, clip5: Path) -> None:
    async with running_server(tmp_path) as harness:
        rc, err = await publish(clip5, harness.url(GOOD_KEY))
        assert rc == 0, err
        await wait_done(harness)
        assert harness.authorizer.requests == [("live", GOOD_KEY, "127.0.0.1")]
        [grant] = harness.authorizer.done
        assert grant.stream_key == GOOD_KEY and grant.stream_id == "live_4567"
        [sink] = harness.factory.sinks
        assert sink.closed
    probe = probe_flv(sink.path)
    assert probe.codecs == {"video": "h264", "audio": "aac"}
    assert 4.8 <= probe.duration <= 5.2, probe
    assert abs(probe.last["audio"] - probe.last["video"]) < 0.1, probe  # no audio/video drift
    assert probe.max_audio_gap < 0.03, probe  # AAC frames are 23.2 ms apart, none lost
    assert probe.packets["audio"] >= 210 and probe.video_frames >= 124, probe
    assert min(probe.first.values()) < 0.05


@async_test
async def test_wrong_key_is_refused(tmp_path: Path, clip2: Path) -> None:
    async with running_server(tmp_path) as harness:
        rc, err = await publish(clip2, harness.url("srv1_deadbeef"), timeout=15)
        assert rc != 0
        assert "invalid stream key" in err
        assert harness.authorizer.requests == [("live", "srv1_deadbeef", "127.0.0.1")]
        assert harness.factory.sinks == [] and harness.authorizer.done == []


@async_test
async def test_extended_timestamps_from_output_ts_offset(tmp_path: Path, clip2: Path) -> None:
    # 17000 s = 17,000,000 ms > 0xFFFFFF: every chunk carries an extended timestamp.
    async with running_server(tmp_path, rebase_timestamps=False) as harness:
        rc, err = await publish(clip2, harness.url(GOOD_KEY), "-output_ts_offset", "17000")
        assert rc == 0, err
        await wait_done(harness)
    probe = probe_flv(harness.factory.sinks[0].path)
    assert 16999 < min(probe.first.values()) < 17001, probe
    assert 1.8 <= probe.duration <= 2.2, probe
    assert abs(probe.last["audio"] - probe.last["video"]) < 0.1, probe
    assert probe.max_audio_gap < 0.03, probe


@async_test
async def test_killed_publisher_closes_sink_and_reports_done(tmp_path: Path, clip5: Path) -> None:
    async with running_server(tmp_path) as harness:
        proc = await start_publisher(clip5, harness.url(GOOD_KEY))
        await asyncio.wait_for(harness.factory.created.wait(), 10)
        await asyncio.wait_for(harness.factory.sinks[0].first_write.wait(), 5)
        await asyncio.sleep(1.0)
        proc.kill()
        await proc.wait()
        await wait_done(harness)
        sink = harness.factory.sinks[0]
        assert sink.closed and sink.bytes_written > 0
        await aeventually(lambda: harness.server.active_sessions == 0, timeout=10, what="no sessions")
    assert probe_flv(sink.path).video_frames > 10


async def expect_closed(client: RawClient, timeout: float = 4) -> None:
    """The server closes the connection within ``timeout`` seconds (EOF or reset)."""
    try:
        await client.read_until_eof(timeout=timeout)
    except ConnectionResetError:
        pass
    client.close()


@async_test
async def test_garbage_never_crashes_the_server(
    tmp_path: Path, clip2: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vsrc.ingest")
    config = {"handshake_timeout": 1.0, "idle_timeout": 1.5, "preauth_max_message_size": 64 * 1024}
    async with running_server(tmp_path, **config) as harness:
        port = harness.server.port

        async def http_request() -> None:
            client = await RawClient.connect(port)
            client.writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(3000))
            await expect_closed(client)

        async def truncated_then_hangup() -> None:
            client = await RawClient.connect(port)
            client.writer.write(b"\x03" + os.urandom(100))
            client.writer.close()

        async def truncated_then_silent() -> None:  # handshake timeout
            client = await RawClient.connect(port)
            client.writer.write(b"\x03" + os.urandom(HANDSHAKE_SIZE - 1))
            await expect_closed(client)

        async def garbage_chunks() -> None:
            client = await RawClient.connect(port)
            await client.handshake()
            client.writer.write(b"\xc5" + os.urandom(5000))  # fmt 3 on an unknown chunk stream
            await expect_closed(client)

        async def oversize_message() -> None:
            client = await RawClient.connect(port)
            await client.handshake()
            client.writer.write(bytes.fromhex("03 000000 ffffff 14 00000000"))
            await expect_closed(client)

        async def garbage_amf() -> None:
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send(Message(3, 20, 0, 0, b"\x02\x00\x07connect\x00\x3f\xf0\xff\xff"))
            await expect_closed(client)

        async def idle_after_handshake() -> None:
            client = await RawClient.connect(port)
            await client.handshake()
            await expect_closed(client)

        await asyncio.gather(
            http_request(),
            truncated_then_hangup(),
            truncated_then_silent(),
            garbage_chunks(),
            oversize_message(),
            garbage_amf(),
            idle_after_handshake(),
        )
        rc, err = await publish(clip2, harness.url(GOOD_KEY))
        assert rc == 0, err
        await wait_done(harness)
        # on_publish_done fires before the connection's task is dropped: wait for that too.
        await aeventually(lambda: harness.server.active_sessions == 0, timeout=10, what="no sessions")
    assert probe_flv(harness.factory.sinks[0].path).video_frames >= 49
    text = caplog.text
    assert "unsupported RTMP version" in text
    assert "exceeds the 65536 cap" in text
    assert "AMF0" in text
    assert "handshake timeout" in text
    assert "idle timeout" in text


def command_names(messages: list[Message]) -> list[str]:
    return [str(amf0.decode(m.payload)[0]) for m in messages if m.type_id == 20]


def status_info(messages: list[Message]) -> dict[str, object]:
    for m in messages:
        values = amf0.decode(m.payload) if m.type_id == 20 else []
        if values and values[0] == "onStatus" and isinstance(values[3], dict):
            return dict(values[3])
    raise AssertionError(f"no onStatus in {messages}")


async def connect_and_create_stream(client: RawClient) -> None:
    await client.handshake()
    await client.send(
        msg.window_ack_size(1000),
        msg.command_message("connect", 1, {"app": "live", "tcUrl": "rtmp://127.0.0.1/live"}),
    )
    replies = await client.receive()
    assert [m.type_id for m in replies] == [5, 6, 1, 20]
    assert command_names(replies) == ["_result"]
    assert client.chunks.chunk_size == 4096
    await client.send(msg.command_message("createStream", 2, None))
    [created] = await client.receive()
    assert amf0.decode(created.payload) == ["_result", 2.0, None, 1.0]


@async_test
async def test_raw_client_bad_key_gets_bad_name(tmp_path: Path) -> None:
    async with running_server(tmp_path) as harness:
        client = await RawClient.connect(harness.server.port)
        await connect_and_create_stream(client)
        await client.send(msg.command_message("publish", 3, None, "nope?token=1", "live", stream_id=1))
        info = status_info(await client.receive())
        assert info["code"] == "NetStream.Publish.BadName" and info["level"] == "error"
        assert "invalid stream key" in str(info["description"])
        await expect_closed(client)
        assert harness.authorizer.requests == [("live", "nope", "127.0.0.1")]


@async_test
async def test_raw_client_publish_flow_and_acks(tmp_path: Path) -> None:
    async with running_server(tmp_path) as harness:
        client = await RawClient.connect(harness.server.port)
        await connect_and_create_stream(client)
        await client.send(msg.command_message("publish", 3, None, GOOD_KEY, "live", stream_id=1))
        info = status_info(await client.receive())
        assert info["code"] == "NetStream.Publish.Start"
        meta = amf0.encode("onMetaData", {"videocodecid": 7.0, "audiocodecid": 10.0})
        sent = [Message(4, 18, 1, 0, amf0.encode("@setDataFrame") + meta)]
        sent += [Message(6, 9, 1, 0, b"\x17\x00cfg"), Message(4, 8, 1, 0, b"\xaf\x00\x12\x10")]
        for i in range(40):  # equal spacing: the writer uses type-3 chunks for new messages
            sent.append(Message(4, 8, 1, 1000 + i * 23, b"\xaf\x01" + bytes(300)))
        await client.send(*sent)
        acks = [m for m in await client.receive() if m.type_id == 3]
        assert acks and struct.unpack(">I", acks[-1].payload)[0] >= 10_000
        await client.send(msg.command_message("deleteStream", 4, None, 1.0))
        await wait_done(harness)
        client.close()
    data = harness.factory.sinks[0].path.read_bytes()
    assert data[:13] == flv.file_header()
    tags, pos = [], 13
    while pos < len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(data[pos + 4 : pos + 7], "big") | data[pos + 7] << 24
        tags.append((data[pos], ts, data[pos + 11 : pos + 11 + size]))
        pos += 11 + size + 4
    assert tags[0] == (18, 0, meta)
    assert [(t, ts) for t, ts, _ in tags[3:]] == [(8, i * 23) for i in range(40)]


@async_test
async def test_stop_ends_active_publish(tmp_path: Path) -> None:
    async with running_server(tmp_path) as harness:
        client = await RawClient.connect(harness.server.port)
        await connect_and_create_stream(client)
        await client.send(msg.command_message("publish", 3, None, GOOD_KEY, "live", stream_id=1))
        await client.receive()
        await harness.server.stop()
        assert harness.factory.sinks[0].closed and len(harness.authorizer.done) == 1
        await expect_closed(client)


@async_test
async def test_flv_pipes_into_ffmpeg_and_tees_to_a_recording(tmp_path: Path, clip2: Path) -> None:
    authorizer = RecordingAuthorizer({GOOD_KEY})
    packaged, recording = tmp_path / "live.ts", tmp_path / "rec.flv"
    sinks: list[TeeSink] = []

    async def factory(grant: PublishGrant, /) -> StreamSink:
        ffmpeg = await asyncio.create_subprocess_exec(
            *(FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "flv", "-i", "pipe:0"),
            *("-c", "copy", "-f", "mpegts", str(packaged)),
            stdin=asyncio.subprocess.PIPE,
        )
        sinks.append(TeeSink(ProcessSink(ffmpeg), FileSink(recording)))
        return sinks[-1]

    async with RtmpServer(authorizer, factory, host="127.0.0.1", port=0) as server:
        rc, err = await publish(clip2, f"rtmp://127.0.0.1:{server.port}/live/{GOOD_KEY}")
        assert rc == 0, err
        await asyncio.wait_for(authorizer.done_event.wait(), 10)
    process_sink = sinks[0].sinks[0]
    assert isinstance(process_sink, ProcessSink) and process_sink.process.returncode == 0
    for path in (packaged, recording):
        probe = probe_flv(path)
        assert set(probe.codecs) == {"video", "audio"} and 1.8 <= probe.duration <= 2.2, (path, probe)
