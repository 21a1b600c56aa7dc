"""UTC time helpers; the API's timestamps are ISO-8601 UTC with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what the database stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso_ms(value: datetime) -> str:
    """``2024-01-15T10:30:00.000Z`` for a naive-UTC or aware datetime."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
