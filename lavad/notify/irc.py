"""IRC delivery: a thin IRC client protocol and one delivery queue per server.

The protocol only registers, reports the welcome, sends ``PRIVMSG`` lines,
confirms them with a ``PING``/``PONG`` round trip (the server handles a
client's lines in order, so a ``401 No such nick`` for a handle arrives before
the ``PONG``) and quits.  The state (pending messages, attempts, back-off, the
current connection) lives in :class:`ServerQueue`, one per server, owned by the
notification service: messages for one server share a connection, and a server
that is down or silent is retried with bounded back-off without holding up any
other server, email or callback.

Servers are written ``host``, ``host:port`` (6667 by default), or with a
scheme: ``irc://host[:port]``, ``ircs://host[:port]`` (TLS, 6697 by default).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable

from twisted.application.internet import backoffPolicy
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred, succeed
from twisted.internet.defer import TimeoutError as ReplyTimeout
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import TimeoutError as ConnectTimeout
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols import irc

DEFAULT_PORT = 6667
DEFAULT_TLS_PORT = 6697


class IRCDeliveryError(Exception):
    """The server could not be reached, did not welcome us, or did not answer in time."""


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % ("ircs" if self.tls else "irc", host, self.port)


def parse_server(text: str, tls_default: bool = False) -> ServerAddress:
    """A server as users write it in a notify block or their profile."""
    value = text.strip()
    tls = tls_default
    for scheme, secure in (("ircs://", True), ("irc://", False)):
        if value.lower().startswith(scheme):
            value, tls = value[len(scheme):], secure
            break
    value = value.rstrip("/")
    port: int | None = None
    if value.startswith("["):  # [IPv6]:port
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif value.count(":") == 1:
        host, _, number = value.partition(":")
        if number.isdigit():
            port = int(number)
        else:
            host = value
    else:
        host = value
    if not host:
        raise ValueError("no IRC server host in %r" % text)
    return ServerAddress(host, port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT), tls)


class NotifierIRCClient(irc.IRCClient):
    """Register, then tell the owner; send messages; confirm; quit."""

    # Short-lived connections need no keep-alive PINGs; IRCClient reads None as "off"
    # (its annotations say int and None, the values it documents are None and str).
    heartbeatInterval = None  # type: ignore[assignment]
    realname = "LAVA notifications"  # type: ignore[assignment]

    def __init__(self, nickname: str) -> None:
        self.nickname = nickname
        self.registered: Deferred = Deferred()
        self.closed: Deferred = Deferred()
        self.unknown_nicks: set[str] = set()
        self._pongs: dict[str, Deferred] = {}
        self._tokens = itertools.count(1)

    def signedOn(self) -> None:
        if not self.registered.called:
            self.registered.callback(self)

    def irc_ERR_NOSUCHNICK(self, prefix: str, params: list[str]) -> None:
        if len(params) > 1:
            self.unknown_nicks.add(params[1].lower())

    def irc_PONG(self, prefix: str, params: list[str]) -> None:
        waiter = self._pongs.pop(params[-1] if params else "", None)
        if waiter is not None:
            waiter.callback(None)

    def confirm(self) -> Deferred:
        """Fires once the server has handled every line sent so far."""
        token = "lavad-%d" % next(self._tokens)
        waiter: Deferred = Deferred()
        self._pongs[token] = waiter
        self.sendLine("PING :%s" % token)
        return waiter

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        super().connectionLost(reason)
        error = Failure(IRCDeliveryError("the connection was closed: %s"
                                         % reason.getErrorMessage()))
        if not self.registered.called:
            self.registered.errback(error)
        pongs, self._pongs = self._pongs, {}
        for waiter in pongs.values():
            waiter.errback(error)
        if not self.closed.called:
            self.closed.callback(None)


class _ClientFactory(Factory):
    def __init__(self, nickname: str) -> None:
        self.nickname = nickname

    def buildProtocol(self, addr: Any) -> NotifierIRCClient:
        protocol = NotifierIRCClient(self.nickname)
        protocol.factory = self
        return protocol


@dataclass
class _Message:
    handle: str
    text: str
    result: Deferred


class ServerQueue:
    """Every message waiting for one IRC server, and the one delivery loop that sends them.

    :meth:`send` returns a Deferred firing True once the server accepted the
    ``PRIVMSG`` (and did not answer "No such nick"), False when it was refused
    or the server could not be reached after ``attempts`` tries.  It never fails.
    """

    log = Logger()

    def __init__(self, reactor: Any, address: ServerAddress, nickname: str, *,
                 attempts: int = 4, connect_timeout: float = 10.0,
                 reply_timeout: float = 30.0,
                 backoff: Callable[[int], float] | None = None,
                 endpoint_factory: Callable[[Any, ServerAddress, float], Any] | None = None
                 ) -> None:
        self._reactor = reactor
        self.address = address
        self.nickname = nickname
        self.attempts = attempts
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self._backoff = backoff or backoffPolicy(initialDelay=2.0, maxDelay=60.0, factor=2.0,
                                                 jitter=lambda: 0.0)
        self._endpoint_factory = endpoint_factory or client_endpoint
        self._pending: list[_Message] = []
        self._loop: Deferred | None = None
        self._current: Deferred | None = None
        self._protocol: NotifierIRCClient | None = None
        self._stopping = False
        #: Connections made so far (messages queued meanwhile share one).
        self.connections = 0

    @property
    def idle(self) -> bool:
        return self._loop is None

    def send(self, handle: str, text: str) -> Deferred:
        result: Deferred = Deferred()
        if self._stopping:
            result.callback(False)
            return result
        self._pending.append(_Message(handle, text, result))
        if self._loop is None:
            self._loop = ensureDeferred(self._run())
            self._loop.addErrback(lambda f: self.log.failure(
                "IRC delivery loop for {server} failed", f, server=str(self.address)))
            self._loop.addBoth(self._loop_done)
        return result

    def _loop_done(self, _: Any) -> None:
        self._loop = None
        self._give_up("the delivery loop ended")  # nothing should be left; never hang callers

    def stop(self) -> Deferred:
        """Give up: pending messages are reported not sent, the connection is aborted."""
        self._stopping = True
        if self._current is not None:
            self._current.cancel()
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.abortConnection()
        if self._loop is None:
            return succeed(None)
        done: Deferred = Deferred()
        self._loop.addBoth(lambda _: done.callback(None))
        return done

    # -- the loop --------------------------------------------------------------------------
    async def _run(self) -> None:
        failures = 0
        while self._pending and not self._stopping:
            if failures:
                if failures >= self.attempts:
                    self._give_up("%d attempts failed" % failures)
                    return
                await self._wait(deferLater(self._reactor, self._backoff(failures),
                                            lambda: None))
            try:
                await self._session()
                failures = 0
            except CancelledError:
                if self._stopping:
                    break
                raise
            except Exception as exc:
                failures += 1
                self.log.warn("IRC server {server}: {error} (attempt {n})",
                              server=str(self.address), error=_describe(exc), n=failures)
        self._give_up("lavad is stopping")

    def _give_up(self, why: str) -> None:
        pending, self._pending = self._pending, []
        for message in pending:
            self.log.warn("IRC notification to {handle} on {server} not sent: {why}",
                          handle=message.handle, server=str(self.address), why=why)
            message.result.callback(False)

    async def _wait(self, d: Deferred, timeout: float | None = None) -> Any:
        if timeout is not None:
            d.addTimeout(timeout, self._reactor)
        self._current = d
        try:
            return await d
        finally:
            self._current = None

    async def _session(self) -> None:
        endpoint = self._endpoint_factory(self._reactor, self.address, self.connect_timeout)
        protocol = await self._wait(endpoint.connect(_ClientFactory(self.nickname)),
                                    self.connect_timeout + 1)
        self._protocol = protocol
        self.connections += 1
        try:
            await self._wait(protocol.registered, self.reply_timeout)
            while self._pending and not self._stopping:
                batch, self._pending = self._pending, []
                try:
                    for message in batch:
                        protocol.msg(message.handle, message.text)
                    await self._wait(protocol.confirm(), self.reply_timeout)
                except BaseException:
                    self._pending[:0] = batch  # not confirmed: try them again
                    raise
                for message in batch:
                    delivered = message.handle.lower() not in protocol.unknown_nicks
                    if not delivered:
                        self.log.warn("IRC notification not sent: no such nick {handle} on "
                                      "{server}", handle=message.handle,
                                      server=str(self.address))
                    message.result.callback(delivered)
            protocol.quit("")
            try:
                await self._wait(protocol.closed, self.reply_timeout)
            except ReplyTimeout:
                pass  # the server kept the line open: we close it below
        finally:
            self._protocol = None
            if not protocol.closed.called and protocol.transport is not None:
                protocol.transport.abortConnection()
                await protocol.closed


def client_endpoint(reactor: Any, address: ServerAddress, timeout: float) -> Any:
    """A TCP (or TLS) client endpoint for ``address``."""
    endpoint = HostnameEndpoint(reactor, address.host, address.port, timeout=timeout)
    if address.tls:
        from twisted.internet.ssl import optionsForClientTLS
        endpoint = wrapClientTLS(optionsForClientTLS(address.host), endpoint)
    return endpoint


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, ReplyTimeout):
        return "no answer in time"
    return str(exc) or type(exc).__name__
