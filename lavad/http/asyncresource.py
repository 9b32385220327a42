"""A leaf resource answered by a coroutine: what lavad's HTTP adapters are made of.

``AsyncResource(handler)`` serves every request reaching it (its whole subtree)
with ``await handler(request)``, which sets the status and headers and returns
the body (``b""`` when it wrote its answer itself, e.g. a streamed export).
The resource writes that body and finishes the request; when the client goes
away first, the handler's coroutine is cancelled.  A handler that raises
answers a logged 500 with ``error_body``.

Each adapter does its own routing from ``request.uri`` or ``request.postpath``
(the REST API from its route table, the worker protocol from its four paths),
so no router library is loaded or consulted per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

Handler = Callable[[Request], Awaitable[bytes]]


class AsyncResource(Resource):
    """Every request below this resource goes to ``handler``."""

    isLeaf = True
    log = Logger()

    def __init__(self, handler: Handler,
                 error_body: tuple[bytes, bytes] = (b"text/plain; charset=utf-8",
                                                    b"Internal server error")) -> None:
        super().__init__()
        self._handler = handler
        self._error_body = error_body

    def render(self, request: Request) -> Any:
        gone: list[Any] = []
        answer: Deferred = Deferred.fromCoroutine(self._call(request))

        def lost(reason: Failure) -> None:
            gone.append(reason)
            answer.cancel()

        request.notifyFinish().addErrback(lost)
        answer.addCallbacks(lambda body: self._finish(request, gone, body),
                            lambda failure: self._fail(request, gone, failure))
        return NOT_DONE_YET

    async def _call(self, request: Request) -> bytes:
        return await self._handler(request)

    def _finish(self, request: Request, gone: list[Any], body: bytes) -> None:
        if gone:
            return
        if body:
            request.write(body)
        request.finish()

    def _fail(self, request: Request, gone: list[Any], failure: Failure) -> None:
        if gone or failure.check(CancelledError):
            return
        self.log.failure("{method} {uri} failed", failure, method=request.method,
                         uri=request.uri)
        if getattr(request, "startedWriting", False):
            request.loseConnection()  # headers are out: the client sees a cut answer
            return
        content_type, body = self._error_body
        request.setResponseCode(500)
        request.setHeader(b"Content-Type", content_type)
        request.setHeader(b"Content-Length", b"%d" % len(body))
        request.write(body)
        request.finish()
