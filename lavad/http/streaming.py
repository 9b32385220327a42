"""Stream a :class:`~lavad.exports.document.Document` to an HTTP request.

The response body is pulled from the store thread one piece at a time
(:meth:`Document.thd_next`) and the next piece is asked for only once the
previous one has been handed to the transport and the transport is not
pausing us: the request gets a push producer, so a slow client pauses the
export (memory stays at about one piece plus the socket buffer) and a client
that goes away stops it (the document is closed on the store thread; nothing
more is read).  The reactor is free between pieces, so other requests are
served while an export runs.

Headers (code, ``Content-Type``...) must be set before :func:`stream` starts
writing (the REST app does; :func:`send` does it for other resources).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request
from zope.interface import implementer

from lavad.exports.document import Document

log = Logger()


@implementer(IPushProducer)
class _Flow:
    """The request's producer: remembers whether the transport wants more and whether the
    client is still there."""

    def __init__(self) -> None:
        self.paused = False
        self.stopped = False
        self._waiting: Deferred | None = None

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._wake()

    def stopProducing(self) -> None:
        self.stopped = True
        self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.callback(None)

    def ready(self) -> Deferred:
        """Fires once the transport wants data (or the client has gone)."""
        if not self.paused or self.stopped:
            return succeed(None)
        if self._waiting is None:
            self._waiting = Deferred()
        return self._waiting


async def stream(request: Request, lab: Any, document: Document) -> bool:
    """Write ``document``'s body to ``request`` as it is produced (headers already set).

    Returns True when the whole body was written, False when the client went away
    (or the body failed, which is logged: the connection is then dropped so the client
    sees a truncated response, never a complete-looking one).  Does not finish the
    request.
    """
    flow = _Flow()

    def lost(reason: Failure) -> None:
        flow.stopProducing()

    request.notifyFinish().addErrback(lost)
    if _gone(request):
        flow.stopProducing()  # gone before we started: notifyFinish will never fire
    if request.method == b"HEAD":
        _close(lab, document)
        return True
    registered = False
    complete = failed = False
    try:
        if not _gone(request):
            request.registerProducer(flow, True)
            registered = True
        while not flow.stopped:
            await flow.ready()
            if flow.stopped:
                break
            piece = await lab.run(document.thd_next)
            if flow.stopped:
                break
            if piece is None:
                complete = True
                break
            if piece:
                request.write(piece)
    except CancelledError:  # the web framework gave up on the request: the client is gone
        flow.stopped = True
    except Exception:  # noqa: BLE001 - logged; the client sees a truncated body
        failed = True
        log.failure("export {name} failed after {chunks} pieces", name=document.name,
                    chunks=document.chunks)
        _drop(request)
    finally:
        if registered and not _gone(request):
            request.unregisterProducer()
        if not complete:
            _close(lab, document)
    if flow.stopped and not complete and not failed:
        log.info("export {name} stopped after {chunks} pieces: the client went away",
                 name=document.name, chunks=document.chunks, document=document)
    return complete


async def send(request: Request, lab: Any, document: Document, code: int = 200) -> bool:
    """Set the status and the document's headers, then :func:`stream` its body."""
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", document.content_type.encode("utf-8"))
    if document.disposition:
        request.setHeader(b"Content-Disposition", document.disposition.encode("utf-8"))
    if document.size is not None:
        request.setHeader(b"Content-Length", b"%d" % document.size)
    return await stream(request, lab, document)


def _gone(request: Request) -> bool:
    """Whether the client has disconnected (the request no longer has a channel)."""
    return bool(getattr(request, "_disconnected", False))


def _close(lab: Any, document: Document) -> None:
    """Close the document on the store thread (after any piece still being made)."""
    try:
        closing = lab.run(document.thd_close)
    except RuntimeError:  # the store is stopping: nothing more will run anyway
        return
    closing.addErrback(lambda failure: log.failure("closing export {name} failed", failure,
                                                   name=document.name))


def _drop(request: Request) -> None:
    channel = getattr(request, "channel", None)
    transport = getattr(channel, "transport", None)
    if transport is not None:
        transport.abortConnection()
