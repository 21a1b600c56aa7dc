"""Chunk stream reader on hand-built byte sequences, and the writer against the reader."""

from __future__ import annotations

import random

import pytest

from vsrc.ingest.rtmp.chunks import ChunkReader, ChunkWriter, Message
from vsrc.ingest.rtmp.errors import ProtocolError


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def fmt0(csid: int, ts: int, length: int, type_id: int, stream_id: int) -> bytes:
    """Basic header (1-byte form) + type-0 message header; ``ts`` >= 0xFFFFFF adds the extended field."""
    field = min(ts, 0xFFFFFF)
    out = bytes([csid]) + field.to_bytes(3, "big") + length.to_bytes(3, "big") + bytes([type_id])
    out += stream_id.to_bytes(4, "little")
    return out + (ts.to_bytes(4, "big") if ts >= 0xFFFFFF else b"")


def feed_all(data: bytes, reader: ChunkReader | None = None) -> list[Message]:
    return (reader or ChunkReader()).feed(data)


def test_type0_single_chunk() -> None:
    data = h("03 000064 000005 14 01000000") + b"hello"
    assert feed_all(data) == [Message(3, 20, 1, 100, b"hello")]


def test_message_split_over_default_128_byte_chunks() -> None:
    payload = bytes(range(200))
    data = fmt0(4, 0, 200, 9, 1) + payload[:128] + h("c4") + payload[128:]
    assert feed_all(data) == [Message(4, 9, 1, 0, payload)]


def test_delta_rules_fmt1_fmt2_fmt3() -> None:
    data = (
        fmt0(4, 1000, 2, 8, 1)
        + b"a0"
        + h("44 000017 000003 08")  # fmt1: delta 23, length 3
        + b"a1x"
        + h("84 000018")  # fmt2: delta 24
        + b"a2x"
        + h("c4")  # fmt3 starting a new message: adds the previous delta (24)
        + b"a3x"
        + h("c4")
        + b"a4x"
    )
    got = feed_all(data)
    assert [(m.timestamp, m.payload) for m in got] == [
        (1000, b"a0"),
        (1023, b"a1x"),
        (1047, b"a2x"),
        (1071, b"a3x"),
        (1095, b"a4x"),
    ]
    assert all((m.csid, m.type_id, m.stream_id) == (4, 8, 1) for m in got)


def test_type3_after_type0_uses_the_type0_timestamp_as_delta() -> None:
    data = fmt0(6, 40, 1, 9, 1) + b"A" + h("c6") + b"B" + h("c6") + b"C"
    assert [m.timestamp for m in feed_all(data)] == [40, 80, 120]


def test_type3_continuation_does_not_add_delta() -> None:
    payload = b"x" * 300
    data = (
        fmt0(4, 10, 300, 8, 1)
        + payload[:128]
        + h("c4")
        + payload[128:256]
        + h("c4")
        + payload[256:]
        + h("c4")  # new message: 10 + 10
        + payload[:128]
        + h("c4")
        + payload[128:256]
        + h("c4")
        + payload[256:]
    )
    assert [(m.timestamp, len(m.payload)) for m in feed_all(data)] == [(10, 300), (20, 300)]


def test_extended_timestamp_repeated_on_type3_continuation() -> None:
    ts = 17_000_000  # > 0xFFFFFF
    payload = bytes(range(256)) * 2  # 512 bytes -> 4 chunks
    data = fmt0(4, ts, 512, 9, 1) + payload[:128]
    for start in (128, 256, 384):
        data += h("c4") + ts.to_bytes(4, "big") + payload[start : start + 128]
    assert feed_all(data) == [Message(4, 9, 1, ts, payload)]


def test_continuation_without_repeated_extended_timestamp_is_tolerated() -> None:
    ts = 17_000_000
    payload = b"\x00\x01" * 100  # does not start with the timestamp bytes
    data = fmt0(4, ts, 200, 9, 1) + payload[:128] + h("c4") + payload[128:]
    assert feed_all(data) == [Message(4, 9, 1, ts, payload)]


def test_extended_delta_and_type3_new_message() -> None:
    delta = 0x1000000
    data = (
        fmt0(5, 5, 1, 8, 1)
        + b"a"
        + h("45 ffffff 000001 08")
        + delta.to_bytes(4, "big")
        + b"b"
        + h("c5")  # new message, extended field repeats the delta
        + delta.to_bytes(4, "big")
        + b"c"
        + h("85 000002")  # back to a small delta: no extended field any more
        + b"d"
        + h("c5")
        + b"e"
    )
    got = feed_all(data)
    assert [m.timestamp for m in got] == [5, 5 + delta, 5 + 2 * delta, 7 + 2 * delta, 9 + 2 * delta]
    assert b"".join(m.payload for m in got) == b"abcde"


def test_timestamps_wrap_modulo_2_32() -> None:
    data = fmt0(4, 0xFFFFFFF0, 1, 8, 1) + b"a" + h("84 000020") + b"b"
    assert [m.timestamp for m in feed_all(data)] == [0xFFFFFFF0, 0x10]


def test_two_and_three_byte_basic_headers() -> None:
    two = h("00 05") + fmt0(0, 7, 1, 8, 1)[1:] + b"x"  # csid 69
    three = h("01 5001") + fmt0(0, 8, 1, 8, 1)[1:] + b"y"  # csid 64 + 0x50 + 0x01 * 256 = 400
    cont = h("c0 05") + b"z"  # fmt3 on csid 69: new message, delta 7
    got = feed_all(two + three + cont)
    assert [(m.csid, m.timestamp, m.payload) for m in got] == [(69, 7, b"x"), (400, 8, b"y"), (69, 14, b"z")]


def test_interleaved_chunk_streams() -> None:
    audio, video = b"A" * 130, b"V" * 130
    data = (
        fmt0(4, 0, 130, 8, 1)
        + audio[:128]
        + fmt0(6, 0, 130, 9, 1)
        + video[:128]
        + h("c4")
        + audio[128:]
        + h("c6")
        + video[128:]
    )
    got = feed_all(data)
    assert [(m.csid, m.payload) for m in got] == [(4, audio), (6, video)]


def test_set_chunk_size_applies_to_following_chunks() -> None:
    payload = b"p" * 300
    data = fmt0(2, 0, 4, 1, 0) + h("00000200") + fmt0(4, 0, 300, 9, 1) + payload
    reader = ChunkReader()
    got = reader.feed(data)
    assert reader.chunk_size == 512
    assert [m.type_id for m in got] == [1, 9]
    assert got[1].payload == payload


def test_abort_discards_partial_message() -> None:
    data = (
        fmt0(4, 0, 200, 9, 1)
        + b"x" * 128
        + fmt0(2, 0, 4, 2, 0)
        + h("00000004")  # abort chunk stream 4
        + fmt0(4, 50, 3, 9, 1)
        + b"new"
    )
    got = feed_all(data)
    assert [(m.type_id, m.payload) for m in got] == [(2, h("00000004")), (9, b"new")]


def test_byte_by_byte_equals_one_feed() -> None:
    ts = 20_000_000
    payload = bytes(range(256))
    data = fmt0(4, ts, 256, 9, 1) + payload[:128] + h("c4") + ts.to_bytes(4, "big") + payload[128:]
    data += h("84 000021")  # fmt2, small delta: no extended field any more
    data += payload[:128] + h("c4") + payload[128:]
    reader = ChunkReader()
    got = [m for i in range(len(data)) for m in reader.feed(data[i : i + 1])]
    assert got == feed_all(data)
    assert [m.timestamp for m in got] == [ts, ts + 0x21]


def test_window_ack_size_and_ack_due() -> None:
    reader = ChunkReader()
    assert reader.ack_due() is None
    reader.feed(fmt0(2, 0, 4, 5, 0) + h("00000064"))  # window 100 bytes
    assert reader.window_ack_size == 100
    assert reader.ack_due() is None
    reader.feed(fmt0(4, 0, 100, 9, 1) + b"z" * 100)
    assert reader.ack_due() == reader.bytes_received
    assert reader.ack_due() is None


@pytest.mark.parametrize(
    "data",
    [
        h("43 000000 000001 08") + b"x",  # fmt1 on a chunk stream never seen
        h("c3") + b"x",  # fmt3 on a chunk stream never seen
        fmt0(2, 0, 4, 1, 0) + h("00000000"),  # chunk size 0
        fmt0(2, 0, 4, 1, 0) + h("80000000"),  # chunk size with the reserved bit set
        fmt0(2, 0, 2, 1, 0) + h("0001"),  # short control message
        fmt0(4, 0, 200, 9, 1) + b"x" * 128 + h("44 000000 000010 09"),  # new header mid-message
    ],
)
def test_protocol_violations(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        ChunkReader().feed(data)


def test_message_size_cap() -> None:
    reader = ChunkReader(max_message_size=1000)
    reader.feed(fmt0(4, 0, 1000, 9, 1))  # exactly the cap is fine (waits for payload)
    with pytest.raises(ProtocolError, match="cap"):
        ChunkReader(max_message_size=1000).feed(fmt0(4, 0, 1001, 9, 1))
    assert ChunkReader().feed(fmt0(4, 0, 0xFFFFFF, 9, 1)) == []  # the 16 MiB default allows it


def test_a_cap_raised_between_messages_applies_to_the_next() -> None:
    data = fmt0(3, 0, 5, 20, 0) + b"hello" + fmt0(4, 0, 120, 9, 1) + b"v" * 120
    with pytest.raises(ProtocolError, match="cap"):
        ChunkReader(max_message_size=100).feed(data)
    reader = ChunkReader(max_message_size=100)
    reader.push(data)
    messages = reader.messages()
    assert next(messages).payload == b"hello"
    reader.max_message_size = 1000  # e.g. the publish command was just authorized
    assert next(messages).payload == b"v" * 120
    assert list(messages) == []


def test_chunk_stream_cap() -> None:
    reader = ChunkReader(max_chunk_streams=10)
    data = b"".join(fmt0(csid, 0, 1, 8, 1) + b"x" for csid in range(3, 13))
    assert len(reader.feed(data)) == 10
    assert len(reader.feed(fmt0(12, 0, 1, 8, 1) + b"x")) == 1  # known streams stay usable
    with pytest.raises(ProtocolError, match="chunk streams"):
        reader.feed(fmt0(13, 0, 1, 8, 1) + b"x")


def test_incomplete_data_waits() -> None:
    reader = ChunkReader()
    data = fmt0(4, 17_000_000, 5, 9, 1) + b"hello"
    for cut in range(1, len(data)):
        reader = ChunkReader()
        assert reader.feed(data[:cut]) == []
        assert reader.feed(data[cut:]) == [Message(4, 9, 1, 17_000_000, b"hello")]


def test_writer_reader_round_trip_random() -> None:
    rng = random.Random(7)
    writer, reader = ChunkWriter(chunk_size=100), ChunkReader()
    reader.chunk_size = 100
    clocks = {4: 0, 6: 0}
    sent: list[Message] = []
    for i in range(500):
        csid = rng.choice((4, 6))
        clocks[csid] += rng.choice((0, 23, 23, 24, 40, 0xFFFFFF + 5)) if i % 50 else 17_000_000
        clocks[csid] &= 0xFFFFFFFF
        size = rng.choice((0, 1, 99, 100, 101, 250, rng.randrange(400)))
        sent.append(Message(csid, 8 if csid == 4 else 9, 1, clocks[csid], rng.randbytes(size)))
    stream = b"".join(writer.write(m) for m in sent)
    got: list[Message] = []
    for start in range(0, len(stream), 777):
        got += reader.feed(stream[start : start + 777])
    assert got == sent


def test_random_and_mutated_input_only_raises_protocol_error() -> None:
    rng = random.Random(99)
    writer = ChunkWriter(chunk_size=64)
    messages = [
        Message(rng.choice((3, 4, 70, 400)), rng.choice((8, 9, 20)), 1, i * 40, rng.randbytes(150))
        for i in range(30)
    ]
    valid = b"".join(writer.write(m) for m in messages)
    for trial in range(1500):
        if trial % 2:
            data = bytearray(rng.randbytes(rng.randrange(1, 400)))
        else:
            data = bytearray(valid)
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        reader = ChunkReader(max_message_size=4096, max_chunk_streams=8)
        reader.chunk_size = 64
        try:
            for start in range(0, len(data), 37):
                reader.feed(bytes(data[start : start + 37]))
        except ProtocolError:
            pass
