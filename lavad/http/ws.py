"""``GET /ws/``: the websocket relay of job, device and worker events.

Every testjob, device, worker and test-shell (``event``) event of the bus
goes to each connected client that may see it, as one text frame holding the
JSON array ``[topic, uuid, datetime, username, "<data as a JSON string>"]``
(LAVA's lava-publisher relay).  Test-shell events are relayed as LAVA 2023.01's
relay does (it forwards every message; 2026's leaves them out), with their
job's visibility.  Debian's lava-worker 2023.01 listens here to ping at once
when a job of its own is Scheduled or Canceling; ``lavacli events listen``
prints what it gets.

Who may see what is asked of one predicate, ``may_see(principal, event)``
(the Lab's :meth:`~lavad.lab.Lab.event_visible`), so the relay and the REST
API never disagree.  Connections authenticate from the upgrade request's
headers, as LAVA's relay does:

- none: anonymous (what an anonymous user may see; the 2023.01 worker);
- ``Authorization: Basic base64(user:token)`` (lavacli) or, a lavad
  extension, ``Authorization: Token <token>``: that user's view;
- ``LAVA-Token`` + ``LAVA-Host`` (the 2026 worker): a worker connection,
  which gets the testjob events naming that worker.

Failures get ``{"error": "..."}`` and the connection is closed.

A slow client never holds up the others: each has a bounded queue (the oldest
events are dropped and counted when it is full), and a client whose socket
buffer is full is paused through Twisted's producer/consumer flow control
until the buffer drains.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from zope.interface import implementer

from lavad.events import DEVICE, EVENT, TESTJOB, WORKER, Event, EventBus, lava_frames
from lavad.users import ANONYMOUS, Principal

if TYPE_CHECKING:
    from lavad.http.wsproto import RelayProtocol

RELAYED_KINDS = (TESTJOB, DEVICE, WORKER, EVENT)
DEFAULT_TOPIC = "org.lavasoftware"

#: ``may_see(principal, event)`` -> bool or Deferred[bool]
MaySee = Callable[[Principal, Event], Any]
#: ``authenticate_user(secret, username or None)`` -> Principal/None or a Deferred of it
AuthenticateUser = Callable[[str, "str | None"], Any]
#: ``authenticate_worker(hostname, token)`` -> True (ok), False (bad token), None (no worker)
AuthenticateWorker = Callable[[str, str], Any]


@dataclass(frozen=True)
class Viewer:
    """Who is at the other end of a connection: a user (maybe anonymous) or a worker."""

    principal: Principal = ANONYMOUS
    worker: str | None = None

    @property
    def key(self) -> Any:
        return ("worker", self.worker) if self.worker is not None else \
            ("user", self.principal.id)


class AuthError(Exception):
    """The upgrade request's credentials are refused; ``str()`` is the error sent."""


class _Verdict:
    """One visibility answer (for one event and one viewer), shared by the clients waiting on it."""

    def __init__(self, answer: Deferred) -> None:
        self.done = False
        self.visible = False
        self._waiters: list[Deferred] = []
        answer.addBoth(self._fire)

    def _fire(self, result: Any) -> None:
        if isinstance(result, Failure):
            EventRelay.log.failure("deciding who may see an event failed", result)
            result = False
        self.done, self.visible = True, bool(result)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    def wait(self) -> Deferred:
        if self.done:
            return succeed(None)
        d: Deferred = Deferred()
        self._waiters.append(d)
        return d


@implementer(IPushProducer)
class _Client:
    """The relay's state for one connection: its viewer, queue and flow control."""

    def __init__(self, relay: "EventRelay", protocol: "RelayProtocol", viewer: Viewer) -> None:
        self.relay = relay
        self.protocol = protocol
        self.viewer = viewer
        self.queue: deque[tuple[Event, _Verdict]] = deque()
        self.dropped = 0
        self.sent = 0
        self.paused = False
        self.closed = False
        self._waiting = False

    def offer(self, event: Event, verdict: _Verdict) -> None:
        if self.closed:
            return
        if len(self.queue) >= self.relay.queue_limit:
            self.queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                self.relay.log.warn("websocket client {peer} is too slow: {count} event(s) "
                                    "dropped so far", peer=self.protocol.peer,
                                    count=self.dropped)
        self.queue.append((event, verdict))
        self.pump()

    def pump(self) -> None:
        """Send what can be sent, in order, until paused or waiting for a verdict."""
        while self.queue and not (self.paused or self.closed or self._waiting):
            event, verdict = self.queue[0]
            if not verdict.done:
                self._waiting = True
                verdict.wait().addCallback(self._verdict_ready)
                return
            self.queue.popleft()
            if verdict.visible:
                self.sent += 1
                self.protocol.sendMessage(self.relay.frame(event), isBinary=False)

    def _verdict_ready(self, _: Any) -> None:
        self._waiting = False
        self.pump()

    # -- IPushProducer: the transport tells when its buffer is full or drained -----------
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.pump()

    def stopProducing(self) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self.queue.clear()


class _LazyResource(Resource):
    """``/ws``: hands each request to the relay's websocket resource, which is made (and
    autobahn imported, a few MiB) when the first client connects."""

    isLeaf = True

    def __init__(self, relay: "EventRelay") -> None:
        super().__init__()
        self._relay = relay

    def render(self, request: Any) -> Any:
        return self._relay.websocket_resource().render(request)


class EventRelay(Service):
    """Relays bus events to the websocket clients; a child service of the server.

    ``may_see`` decides for users (anonymous included); ``authenticate_user``
    and ``authenticate_worker`` check credentials (None: refuse them all).
    """

    log = Logger()

    def __init__(self, bus: EventBus, may_see: MaySee, reactor: Any,
                 authenticate_user: AuthenticateUser | None = None,
                 authenticate_worker: AuthenticateWorker | None = None,
                 topic_prefix: str = DEFAULT_TOPIC, queue_limit: int = 1000,
                 ping_interval: float = 30.0) -> None:
        self.bus = bus
        self.may_see = may_see
        self.authenticate_user = authenticate_user
        self.authenticate_worker = authenticate_worker
        self.topic_prefix = topic_prefix
        self.queue_limit = max(1, int(queue_limit))
        self.clients: dict[RelayProtocol, _Client] = {}
        self._connections: set[RelayProtocol] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._reactor = reactor
        self._ping_interval = ping_interval
        self._websocket: Any = None

    def websocket_resource(self) -> Any:
        """autobahn's websocket resource for this relay (made at the first call)."""
        if self._websocket is None:
            from lavad.http.wsproto import websocket_resource
            self._websocket = websocket_resource(self, self._reactor, self._ping_interval)
        return self._websocket

    def resource(self) -> Resource:
        """The resource to mount at ``/ws``."""
        return _LazyResource(self)

    # -- service ------------------------------------------------------------------------
    def startService(self) -> None:
        super().startService()
        self._unsubscribe = [self.bus.subscribe(self._on_event, kind) for kind in RELAYED_KINDS]

    def stopService(self) -> Deferred:
        """Stop relaying, close every connection and fire once they are gone."""
        super().stopService()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        waits = []
        for protocol in list(self._connections):
            waits.append(protocol.lost)
            protocol.sendClose(code=1000, reason="lavad is stopping")
        return DeferredList(waits).addCallback(lambda _: None)

    # -- connections --------------------------------------------------------------------
    def opened(self, protocol: RelayProtocol) -> None:
        self._connections.add(protocol)
        protocol.lost.addBoth(lambda _: self._connections.discard(protocol))
        d = Deferred.fromCoroutine(self._authenticate(protocol.headers))
        d.addCallbacks(lambda viewer: self._attach(protocol, viewer),
                       lambda f: self._refuse(protocol, f))

    def _attach(self, protocol: RelayProtocol, viewer: Viewer) -> None:
        if protocol.lost.called or not self.running:
            return
        client = _Client(self, protocol, viewer)
        protocol.client = client
        self.clients[protocol] = client
        try:
            # The transport was the HTTP channel's: take over its flow control.
            transport: Any = protocol.transport
            transport.unregisterProducer()
            transport.registerProducer(client, True)
        except Exception:  # a transport without flow control: the bounded queue still holds
            self.log.failure("websocket flow control unavailable for {peer}",
                             peer=protocol.peer)

    def _refuse(self, protocol: RelayProtocol, failure: Failure) -> None:
        if failure.check(AuthError):
            message = str(failure.value)
        else:
            self.log.failure("websocket authentication failed", failure)
            message = "Internal error"
        if not protocol.lost.called:
            protocol.send_error(message)

    def closed(self, protocol: RelayProtocol) -> None:
        client = self.clients.pop(protocol, None)
        if client is not None:
            client.close()

    async def _authenticate(self, headers: dict[str, str]) -> Viewer:
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, credentials = authorization.strip().partition(" ")
            username: str | None
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credentials.strip(), validate=True).decode()
                    username, sep, secret = decoded.partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    raise AuthError("Invalid basic authentication") from None
                if not sep:
                    raise AuthError("Invalid basic authentication")
            elif scheme.lower() == "token":
                username, secret = None, credentials.strip()
            else:
                raise AuthError("Only Basic authentication is supported")
            principal = None
            if self.authenticate_user is not None and secret:
                principal = await maybeDeferred(self.authenticate_user, secret, username)
            if principal is None:
                raise AuthError("Unknown user")
            return Viewer(principal=principal)
        token = headers.get("lava-token")
        if token is not None:
            hostname = headers.get("lava-host", "")
            known = None
            if self.authenticate_worker is not None and hostname:
                known = await maybeDeferred(self.authenticate_worker, hostname, token)
            if known is None:
                raise AuthError("Unknown worker")
            if not known:
                raise AuthError("Invalid worker token")
            return Viewer(worker=hostname)
        return Viewer()

    # -- events -------------------------------------------------------------------------
    def frame(self, event: Event) -> bytes:
        return json.dumps(lava_frames(event, self.topic_prefix)).encode()

    def _on_event(self, event: Event) -> None:
        verdicts: dict[Any, _Verdict] = {}
        for client in list(self.clients.values()):
            key = client.viewer.key
            if key not in verdicts:
                verdicts[key] = _Verdict(self._decide(client.viewer, event))
            client.offer(event, verdicts[key])

    def _decide(self, viewer: Viewer, event: Event) -> Deferred:
        if viewer.worker is not None:
            return succeed(event.kind == TESTJOB and event.data.get("worker") == viewer.worker)
        return maybeDeferred(self.may_see, viewer.principal, event)
