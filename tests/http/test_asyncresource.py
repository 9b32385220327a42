"""lavad.http.asyncresource: coroutine-answered leaf resources."""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from lavad.http.asyncresource import AsyncResource


def test_body_is_written_and_request_finished():
    """The handler's status, headers and body reach the client; the request is finished."""
    async def handler(request):
        request.setResponseCode(201)
        request.setHeader(b"Content-Type", b"application/json")
        return b'{"ok": true}'

    request = DummyRequest([b"a", b"b"])
    assert AsyncResource(handler).render(request) is NOT_DONE_YET
    assert request.responseCode == 201
    assert b"".join(request.written) == b'{"ok": true}' and request.finished == 1


def test_handler_waiting_is_answered_later():
    """A handler awaiting something answers when it fires, not before."""
    waiting: Deferred = Deferred()

    async def handler(request):
        return await waiting

    request = DummyRequest([b""])
    AsyncResource(handler).render(request)
    assert request.finished == 0 and request.written == []
    waiting.callback(b"late")
    assert request.written == [b"late"] and request.finished == 1


def test_client_gone_cancels_the_handler():
    """When the client goes away first the handler is cancelled and nothing is written."""
    waiting: Deferred = Deferred()
    seen = []

    async def handler(request):
        try:
            return await waiting
        except CancelledError:
            seen.append("cancelled")
            raise

    request = DummyRequest([b""])
    AsyncResource(handler).render(request)
    request.processingFailed(Failure(ConnectionDone()))
    assert seen == ["cancelled"]
    assert request.written == []


def test_handler_error_is_a_logged_500():
    """A handler that raises answers 500 with the resource's error body."""
    async def handler(request):
        raise ZeroDivisionError("boom")

    request = DummyRequest([b""])
    resource = AsyncResource(handler, (b"application/json", b'{"error": "x"}'))
    from twisted.logger import globalLogPublisher
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        resource.render(request)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert request.responseCode == 500
    assert request.responseHeaders.getRawHeaders(b"content-type") == [b"application/json"]
    assert b"".join(request.written) == b'{"error": "x"}' and request.finished == 1
    assert any(e.get("log_failure") and e["log_failure"].check(ZeroDivisionError)
               for e in events)
