"""AMF0 encoding and decoding (Adobe "Action Message Format -- AMF 0", 2006).

Python mapping:

=================  ===============================================
AMF0               Python
=================  ===============================================
number             ``float`` (``int`` is accepted when encoding)
boolean            ``bool``
string/long string ``str`` (encoded as long string above 65535 bytes)
object             ``dict[str, AmfValue]``
null               ``None``
undefined          :data:`UNDEFINED`
ECMA array         :class:`EcmaArray` (a ``dict`` subclass)
strict array       ``list``
date               :class:`AmfDate`
=================  ===============================================

Decoding never trusts lengths or counts: anything malformed raises :class:`ProtocolError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, TypeAlias, Union

from vsrc.ingest.rtmp.errors import ProtocolError

NUMBER: Final = 0x00
BOOLEAN: Final = 0x01
STRING: Final = 0x02
OBJECT: Final = 0x03
NULL: Final = 0x05
UNDEFINED_MARKER: Final = 0x06
ECMA_ARRAY: Final = 0x08
OBJECT_END: Final = 0x09
STRICT_ARRAY: Final = 0x0A
DATE: Final = 0x0B
LONG_STRING: Final = 0x0C

MAX_DEPTH: Final = 32
_OBJECT_END_BYTES: Final = b"\x00\x00\x09"


class Undefined:
    """The AMF0 ``undefined`` value (a singleton: use :data:`UNDEFINED`)."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = Undefined()


@dataclass(frozen=True)
class AmfDate:
    """An AMF0 date: milliseconds since the Unix epoch and a (reserved) time-zone field."""

    milliseconds: float
    timezone: int = 0


AmfValue: TypeAlias = Union[
    float, int, bool, str, Undefined, AmfDate, "dict[str, AmfValue]", "list[AmfValue]", None
]


class EcmaArray(dict[str, "AmfValue"]):
    """An AMF0 ECMA (associative) array; behaves like a ``dict`` but encodes with marker 0x08."""


# --------------------------------------------------------------------------- encoding


def encode(*values: AmfValue) -> bytes:
    """Encode the values one after another (a command message body, for instance)."""
    out = bytearray()
    for value in values:
        _encode_into(out, value, 0)
    return bytes(out)


def _encode_key(out: bytearray, key: str) -> None:
    raw = key.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("AMF0 property names are limited to 65535 bytes")
    out += struct.pack(">H", len(raw))
    out += raw


def _encode_pairs(out: bytearray, mapping: dict[str, AmfValue], depth: int) -> None:
    for key, item in mapping.items():
        if not key:
            raise ValueError("AMF0 property names must not be empty")
        _encode_key(out, key)
        _encode_into(out, item, depth + 1)
    out += _OBJECT_END_BYTES


def _encode_into(out: bytearray, value: AmfValue, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("AMF0 value nested too deeply")
    if value is None:
        out.append(NULL)
    elif isinstance(value, Undefined):
        out.append(UNDEFINED_MARKER)
    elif isinstance(value, bool):
        out += bytes((BOOLEAN, 1 if value else 0))
    elif isinstance(value, int | float):
        out.append(NUMBER)
        out += struct.pack(">d", float(value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) <= 0xFFFF:
            out += struct.pack(">BH", STRING, len(raw))
        else:
            out += struct.pack(">BI", LONG_STRING, len(raw))
        out += raw
    elif isinstance(value, AmfDate):
        out += struct.pack(">Bdh", DATE, value.milliseconds, value.timezone)
    elif isinstance(value, EcmaArray):
        out += struct.pack(">BI", ECMA_ARRAY, len(value))
        _encode_pairs(out, value, depth)
    elif isinstance(value, dict):
        out.append(OBJECT)
        _encode_pairs(out, value, depth)
    elif isinstance(value, list):
        out += struct.pack(">BI", STRICT_ARRAY, len(value))
        for item in value:
            _encode_into(out, item, depth + 1)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as AMF0")


# --------------------------------------------------------------------------- decoding


def decode(data: bytes) -> list[AmfValue]:
    """Decode every value in ``data``; trailing partial values raise :class:`ProtocolError`."""
    values: list[AmfValue] = []
    offset = 0
    while offset < len(data):
        value, offset = decode_value(data, offset)
        values.append(value)
    return values


def decode_value(data: bytes, offset: int = 0) -> tuple[AmfValue, int]:
    """Decode one value at ``offset``; return it and the offset just after it."""
    return _Decoder(data).value(offset, 0)


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)

    def _need(self, offset: int, size: int) -> None:
        if offset + size > len(self.data):
            raise ProtocolError(f"AMF0: truncated value at offset {offset}")

    def _utf8(self, start: int, size: int) -> str:
        self._need(start, size)
        try:
            return str(self.data[start : start + size], "utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"AMF0: invalid UTF-8 string at offset {start}") from exc

    def _short_string(self, offset: int) -> tuple[str, int]:
        self._need(offset, 2)
        (size,) = struct.unpack_from(">H", self.data, offset)
        return self._utf8(offset + 2, size), offset + 2 + size

    def _pairs(self, offset: int, depth: int) -> tuple[dict[str, AmfValue], int]:
        result: dict[str, AmfValue] = {}
        while True:
            key, offset = self._short_string(offset)
            if not key:
                self._need(offset, 1)
                if self.data[offset] != OBJECT_END:
                    raise ProtocolError("AMF0: empty property name without object-end marker")
                return result, offset + 1
            result[key], offset = self.value(offset, depth + 1)

    def value(self, offset: int, depth: int) -> tuple[AmfValue, int]:
        if depth > MAX_DEPTH:
            raise ProtocolError("AMF0: value nested too deeply")
        self._need(offset, 1)
        marker = self.data[offset]
        offset += 1
        if marker == NUMBER:
            self._need(offset, 8)
            return struct.unpack_from(">d", self.data, offset)[0], offset + 8
        if marker == BOOLEAN:
            self._need(offset, 1)
            return self.data[offset] != 0, offset + 1
        if marker == STRING:
            return self._short_string(offset)
        if marker == LONG_STRING:
            self._need(offset, 4)
            (size,) = struct.unpack_from(">I", self.data, offset)
            return self._utf8(offset + 4, size), offset + 4 + size
        if marker == NULL:
            return None, offset
        if marker == UNDEFINED_MARKER:
            return UNDEFINED, offset
        if marker == OBJECT:
            return self._pairs(offset, depth)
        if marker == ECMA_ARRAY:
            self._need(offset, 4)  # the count is only a hint; the end marker terminates
            pairs, offset = self._pairs(offset + 4, depth)
            return EcmaArray(pairs), offset
        if marker == STRICT_ARRAY:
            self._need(offset, 4)
            (count,) = struct.unpack_from(">I", self.data, offset)
            offset += 4
            if count > len(self.data) - offset:  # every value takes at least one byte
                raise ProtocolError(f"AMF0: strict array count {count} exceeds the data")
            items: list[AmfValue] = []
            for _ in range(count):
                item, offset = self.value(offset, depth + 1)
                items.append(item)
            return items, offset
        if marker == DATE:
            self._need(offset, 10)
            millis, tz = struct.unpack_from(">dh", self.data, offset)
            return AmfDate(millis, tz), offset + 10
        if marker == OBJECT_END:
            raise ProtocolError(f"AMF0: object-end marker outside an object at offset {offset - 1}")
        raise ProtocolError(f"AMF0: unsupported type marker 0x{marker:02x} at offset {offset - 1}")
