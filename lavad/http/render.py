"""Helpers shared by lavad's HTTP handlers."""

from __future__ import annotations

import json
from typing import Any

from twisted.web.iweb import IRequest


def json_body(request: IRequest, value: Any, code: int = 200) -> bytes:
    """Set ``code`` and the JSON content type on ``request``; return compact JSON bytes."""
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
