"""AMF0: known byte vectors, round trips, and garbage."""

from __future__ import annotations

import random

import pytest

from vsrc.ingest.rtmp import amf0
from vsrc.ingest.rtmp.amf0 import UNDEFINED, AmfDate, AmfValue, EcmaArray
from vsrc.ingest.rtmp.errors import ProtocolError

VECTORS: list[tuple[AmfValue, str]] = [
    (1.0, "00 3ff0000000000000"),
    (0.0, "00 0000000000000000"),
    (-2.5, "00 c004000000000000"),
    (True, "01 01"),
    (False, "01 00"),
    ("ab", "02 0002 6162"),
    ("", "02 0000"),
    ("é", "02 0002 c3a9"),
    (None, "05"),
    (UNDEFINED, "06"),
    ({"a": 1.0}, "03 0001 61 00 3ff0000000000000 000009"),
    ({}, "03 000009"),
    (EcmaArray({"b": True}), "08 00000001 0001 62 01 01 000009"),
    ([1.0, "x"], "0a 00000002 00 3ff0000000000000 02 0001 78"),
    ([], "0a 00000000"),
    (AmfDate(1.0, 0), "0b 3ff0000000000000 0000"),
]


@pytest.mark.parametrize(("value", "hexbytes"), VECTORS)
def test_known_vectors(value: AmfValue, hexbytes: str) -> None:
    raw = bytes.fromhex(hexbytes)
    assert amf0.encode(value) == raw
    decoded = amf0.decode(raw)
    assert decoded == [value]
    assert type(decoded[0]) is type(value)


def test_int_encodes_as_number() -> None:
    assert amf0.encode(3) == amf0.encode(3.0)


def test_long_string() -> None:
    text = "x" * 70000
    raw = amf0.encode(text)
    assert raw[:5] == b"\x0c" + (70000).to_bytes(4, "big")
    assert amf0.decode(raw) == [text]
    assert amf0.decode(b"\x0c\x00\x00\x00\x02hi") == ["hi"]


def test_ecma_array_count_is_only_a_hint() -> None:
    # ffmpeg-style onMetaData with a count that does not match the pairs.
    raw = bytes.fromhex("08 00000000 0001 62 05 000009")
    assert amf0.decode(raw) == [EcmaArray({"b": None})]


def test_connect_command_round_trip() -> None:
    body = amf0.encode(
        "connect",
        1,
        {"app": "live", "type": "nonprivate", "tcUrl": "rtmp://h/live", "fpad": False, "audioCodecs": 4071},
    )
    name, tid, obj = amf0.decode(body)
    assert (name, tid) == ("connect", 1.0)
    assert obj == {
        "app": "live",
        "type": "nonprivate",
        "tcUrl": "rtmp://h/live",
        "fpad": False,
        "audioCodecs": 4071,
    }


def test_nested_round_trip() -> None:
    value: AmfValue = {
        "list": [1.0, [2.0, {"deep": EcmaArray({"k": "v", "n": None, "u": UNDEFINED})}]],
        "date": AmfDate(1_700_000_000_000.0, 0),
        "flag": True,
        "unicode": "日本語",
    }
    assert amf0.decode(amf0.encode(value, "tail")) == [value, "tail"]


def test_decode_value_offsets() -> None:
    raw = amf0.encode("a", 2.0)
    value, offset = amf0.decode_value(raw)
    assert (value, offset) == ("a", 4)
    assert amf0.decode_value(raw, offset) == (2.0, len(raw))


GARBAGE = [
    b"\xff",  # unknown marker
    b"\x07\x00\x01",  # reference: unsupported
    b"\x09",  # object-end outside an object
    b"\x00\x3f\xf0",  # truncated number
    b"\x01",  # truncated boolean
    b"\x02\x00\x05ab",  # string shorter than its length
    b"\x02\x00\x02\xff\xfe",  # invalid UTF-8
    b"\x03\x00\x01a\x05",  # object without end marker
    b"\x03\x00\x00\x05",  # empty key without object-end marker
    b"\x0a\xff\xff\xff\xff\x05",  # strict array count larger than the data
    b"\x0b\x00\x00",  # truncated date
    b"\x0c\x7f\xff\xff\xff",  # long string longer than the data
    b"\x08\x00\x00",  # truncated ECMA array count
]


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_raises_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        amf0.decode(raw)


def test_deep_nesting_is_refused() -> None:
    raw = b"\x0a\x00\x00\x00\x01" * 1000 + b"\x05"
    with pytest.raises(ProtocolError):
        amf0.decode(raw)


def test_random_bytes_never_crash_differently() -> None:
    rng = random.Random(1234)
    for _ in range(3000):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        try:
            amf0.decode(raw)
        except ProtocolError:
            pass


def test_encode_rejects_unknown_types() -> None:
    with pytest.raises(TypeError):
        amf0.encode(object())  # type: ignore[arg-type]
