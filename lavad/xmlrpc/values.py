"""Turning domain values into the XML-RPC values LAVA's clients read."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from lavad.errors import Invalid


def datetime_value(stored: str | None) -> xmlrpc.client.DateTime | None:
    """A stored timestamp (``2026-07-01T10:00:00.123456``) as ``20260701T10:00:00``."""
    if not stored:
        return None
    date, _, time = stored.partition("T")
    return xmlrpc.client.DateTime("%sT%s" % (date.replace("-", ""), time[:8]))


def binary(text: str) -> xmlrpc.client.Binary:
    """Text sent as ``<base64>``."""
    return xmlrpc.client.Binary(text.encode("utf-8"))


def text_argument(value: Any) -> str:
    """A text argument that clients may send as ``<string>`` or ``<base64>``; nil is ""."""
    if value is None:
        return ""
    if isinstance(value, xmlrpc.client.Binary):
        return value.data.decode("utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise Invalid("Bad request: expected a string, got %s" % type(value).__name__)
    return value
