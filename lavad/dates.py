"""Stored timestamps (``YYYY-MM-DDTHH:MM:SS.ffffff``, UTC) and the forms each interface shows."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_stored(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)


def rest(value: str | None) -> str | None:
    """REST: ISO 8601 with ``Z``; microseconds omitted when zero."""
    if value is None:
        return None
    return value[:-7] + "Z" if value.endswith(".000000") else value + "Z"


def event(value: str | None) -> str | None:
    """Events: Python's ``isoformat()`` of an aware UTC datetime (``+00:00``)."""
    if value is None:
        return None
    return (value[:-7] if value.endswith(".000000") else value) + "+00:00"
