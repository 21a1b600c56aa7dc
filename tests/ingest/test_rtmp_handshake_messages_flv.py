"""Handshake state machine, command messages and FLV writing."""

from __future__ import annotations

import os
import struct

import pytest

from vsrc.ingest.rtmp import amf0, flv
from vsrc.ingest.rtmp import messages as msg
from vsrc.ingest.rtmp.chunks import Message
from vsrc.ingest.rtmp.errors import ProtocolError
from vsrc.ingest.rtmp.handshake import HANDSHAKE_SIZE, ServerHandshake

# --------------------------------------------------------------------------- handshake


def test_simple_handshake_in_pieces() -> None:
    hs = ServerHandshake(clock_ms=lambda: 1234, random_bytes=lambda n: b"\xab" * n)
    c1 = struct.pack(">II", 99, 0) + os.urandom(HANDSHAKE_SIZE - 8)
    c0c1 = b"\x03" + c1
    assert hs.feed(c0c1[:1]) == b""
    assert hs.feed(c0c1[1:700]) == b""
    out = hs.feed(c0c1[700:])
    assert len(out) == 1 + 2 * HANDSHAKE_SIZE
    assert out[0] == 3
    s1, s2 = out[1 : 1 + HANDSHAKE_SIZE], out[1 + HANDSHAKE_SIZE :]
    assert s1[:8] == struct.pack(">II", 1234, 0)  # zeros: no digest scheme, clients fall back
    assert s2 == c1
    assert not hs.done
    assert hs.feed(s1[:1000]) == b""
    assert hs.feed(s1[1000:] + b"\x03rest") == b""
    assert hs.done and hs.remainder == b"\x03rest"
    assert hs.client_time == 99


def test_digest_style_c1_is_echoed() -> None:
    hs = ServerHandshake()
    c1 = struct.pack(">I", 0) + bytes([9, 0, 124, 2]) + os.urandom(HANDSHAKE_SIZE - 8)  # FP9 version
    out = hs.feed(b"\x03" + c1 + b"C" * HANDSHAKE_SIZE)
    assert out[1 + HANDSHAKE_SIZE :] == c1 and hs.done and hs.remainder == b""
    assert hs.client_version == bytes([9, 0, 124, 2])


@pytest.mark.parametrize("c0", [b"\x06", b"\x00", b"G"])  # RTMPE, junk, "GET ..."
def test_wrong_version_rejected(c0: bytes) -> None:
    with pytest.raises(ProtocolError):
        ServerHandshake().feed(c0 + b"\x00" * 10)


def test_feed_after_done_is_an_error() -> None:
    hs = ServerHandshake()
    hs.feed(b"\x03" + b"\x00" * (2 * HANDSHAKE_SIZE))
    with pytest.raises(ProtocolError):
        hs.feed(b"x")


# --------------------------------------------------------------------------- messages


def test_parse_command_amf0_and_amf3() -> None:
    body = amf0.encode("publish", 5, None, "key?x=1", "live")
    command = msg.parse_command(Message(8, 20, 1, 0, body))
    assert (command.name, command.transaction_id, command.command_object) == ("publish", 5.0, None)
    assert command.arg_str(0) == "key?x=1" and command.arg_str(1) == "live" and command.arg_str(2) is None
    assert msg.parse_command(Message(8, 17, 1, 0, b"\x00" + body)) == command


@pytest.mark.parametrize("body", [b"", amf0.encode(1.0, 2.0), amf0.encode("x", "notanumber"), b"\x02\x00"])
def test_parse_command_garbage(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        msg.parse_command(Message(3, 20, 0, 0, body))


def test_reply_builders() -> None:
    name, tid, props, info = amf0.decode(msg.connect_result(1).payload)
    assert (name, tid) == ("_result", 1.0)
    assert isinstance(info, dict) and info["code"] == "NetConnection.Connect.Success"
    assert isinstance(props, dict) and "fmsVer" in props
    status = msg.on_status(1, "error", "NetStream.Publish.BadName", "invalid stream key")
    assert (status.stream_id, status.type_id) == (1, 20)
    assert amf0.decode(status.payload) == [
        "onStatus",
        0.0,
        None,
        {"level": "error", "code": "NetStream.Publish.BadName", "description": "invalid stream key"},
    ]


def test_control_messages() -> None:
    assert msg.set_chunk_size(4096).payload == bytes.fromhex("00001000")
    assert msg.window_ack_size(2_500_000).payload == (2_500_000).to_bytes(4, "big")
    assert msg.set_peer_bandwidth(2_500_000).payload == (2_500_000).to_bytes(4, "big") + b"\x02"
    assert msg.acknowledgement(2**32 + 5).payload == bytes.fromhex("00000005")
    ping = msg.user_control(msg.UserControl.PING_REQUEST, 77)
    assert msg.parse_user_control(ping.payload) == (6, 77)
    assert all(m.csid == 2 and m.stream_id == 0 for m in (ping, msg.abort(4)))


def test_data_message_body_strips_set_data_frame() -> None:
    meta = amf0.encode("onMetaData", amf0.EcmaArray({"width": 320.0}))
    wrapped = Message(4, 18, 1, 0, amf0.encode("@setDataFrame") + meta)
    assert msg.data_message_body(wrapped) == meta
    assert msg.data_message_body(Message(4, 18, 1, 0, meta)) == meta


# --------------------------------------------------------------------------- FLV


def test_flv_header_and_tag_bytes() -> None:
    assert flv.file_header() == b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    assert flv.file_header(audio=False)[4] == 0x01
    tag = flv.tag(flv.TAG_VIDEO, 0x12345678, b"abc")
    assert tag == bytes.fromhex("09 000003 345678 12 000000") + b"abc" + (14).to_bytes(4, "big")


AVC_SEQ = b"\x17\x00\x00\x00\x00cfg"
AVC_KEY = b"\x17\x01\x00\x00\x00frame"
AAC_SEQ = b"\xaf\x00\x12\x10"
AAC_RAW = b"\xaf\x01data"


def test_sequence_header_detection() -> None:
    assert flv.is_sequence_header(9, AVC_SEQ) and not flv.is_sequence_header(9, AVC_KEY)
    assert flv.is_sequence_header(8, AAC_SEQ) and not flv.is_sequence_header(8, AAC_RAW)
    assert flv.is_sequence_header(9, b"\x90hvc1") and not flv.is_sequence_header(9, b"\x91hvc1")  # E-RTMP
    assert not flv.is_sequence_header(8, b"\x2fmp3")


def test_muxer_rebases_on_first_frame_not_sequence_headers() -> None:
    muxer = flv.FlvMuxer()
    meta = amf0.encode("@setDataFrame", "onMetaData", {"videocodecid": 7.0})
    out = muxer.mux(Message(4, 18, 1, 0, meta))
    assert out[0] == flv.file_header(audio=False, video=True)
    assert out[1][0] == flv.TAG_SCRIPT and out[1][11:-4] == meta[16:]
    seq = muxer.mux(Message(6, 9, 1, 0, AVC_SEQ))
    frame = muxer.mux(Message(6, 9, 1, 17_000_040, AVC_KEY))
    early = muxer.mux(Message(4, 8, 1, 17_000_020, AAC_RAW))  # 20 ms before the first frame
    later = muxer.mux(Message(4, 8, 1, 17_000_063, AAC_RAW))
    stamps = [t[4:7] + t[7:8] for t in (seq[0], frame[0], early[0], later[0])]
    assert [int.from_bytes(s[3:] + s[:3], "big") for s in stamps] == [0, 0, 0, 23]
    assert muxer.mux(Message(2, 4, 0, 0, b"\x00\x00\x00\x00\x00\x00")) == []


def test_muxer_without_rebase_keeps_32_bit_timestamps() -> None:
    muxer = flv.FlvMuxer(rebase_timestamps=False)
    header, tag = muxer.mux(Message(6, 9, 1, 0x01020304, AVC_KEY))
    assert header == flv.file_header() and tag[4:8] == bytes.fromhex("020304 01")


def test_split_aggregate() -> None:
    def sub(type_id: int, ts: int, body: bytes) -> bytes:
        return flv.tag(type_id, ts, body)

    payload = sub(9, 1000, AVC_KEY) + sub(8, 1010, AAC_RAW)
    parts = flv.split_aggregate(Message(6, 22, 1, 5000, payload))
    assert [(p.type_id, p.timestamp, p.payload) for p in parts] == [(9, 5000, AVC_KEY), (8, 5010, AAC_RAW)]
    with pytest.raises(ProtocolError):
        flv.split_aggregate(Message(6, 22, 1, 0, payload[:-5]))
