"""``/events/``: a live page of the lab's events, read from the ``/ws/`` relay.

What LAVA's documentation sends people to a separate service for: a browser
opens ``/events/`` and watches job, device, worker and test-shell events arrive,
newest first, in a bounded list (``?limit=N``, default :data:`DEFAULT_LIMIT`),
filtered by topic and job id (``?job=N`` pre-fills the job filter).

The page is ``templates/events.html`` with a small script,
``templates/events.js``, served at ``/events/events.js``: plain JavaScript,
nothing fetched from elsewhere and nothing to build.  The script opens the
websocket at ``../ws/`` relative to the page, so it follows the site's mount
point, and reconnects with a growing delay when the connection drops.  A
browser cannot put credentials on a websocket upgrade, so the page shows what
an anonymous user may see: the relay filters, this resource knows nothing
about events.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request

from lavad.http.results import error_page
from lavad import TEMPLATE_DIR
from lavad.http import html

#: How many events the page keeps when the URL does not say (``?limit=``).
DEFAULT_LIMIT = 200
#: The topic suffixes the page offers as filters, in this order.
TOPICS = ("testjob", "device", "worker", "event")


class EventsPage(Resource):
    """``/events/`` (the page) and ``/events/events.js`` (its script); ``/events`` redirects."""

    isLeaf = True

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        super().__init__()
        self._limit = int(limit)
        self._rendered: tuple[bytes, bytes] | None = None

    def _documents(self) -> tuple[bytes, bytes]:
        """The page and its script, made at the first request (and kept)."""
        if self._rendered is None:
            page = html.environment().get_template("events.html").render(
                limit=self._limit, topics=TOPICS).encode("utf-8")
            with open(os.path.join(TEMPLATE_DIR, "events.js"), "rb") as f:
                self._rendered = (page, f.read())
        return self._rendered

    def render_GET(self, request: Request) -> bytes:
        path = request.postpath or []
        if not path:  # /events: relative links need the slash
            request.redirect(request.prePathURL() + b"/")
            return b""
        if path == [b""]:
            return self._send(request, b"text/html; charset=utf-8", self._documents()[0])
        if path == [b"events.js"]:
            return self._send(request, b"text/javascript; charset=utf-8",
                              self._documents()[1])
        return error_page(request, 404)

    def render_HEAD(self, request: Request) -> Any:
        return self.render_GET(request)

    @staticmethod
    def _send(request: Request, content_type: bytes, body: bytes) -> bytes:
        request.setHeader(b"Content-Type", content_type)
        request.setHeader(b"Cache-Control", b"no-cache")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        return body
