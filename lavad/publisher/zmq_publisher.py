"""The ZMQ event publisher: LAVA's ``EVENT_SOCKET`` (and ``EVENT_ADDITIONAL_SOCKETS``).

:class:`ZMQPublisher` subscribes to the event bus and sends every testjob,
device, worker and test-shell (``event``) event as LAVA's five-frame multipart
message ``[topic, uuid, datetime, username, JSON]`` (:func:`lavad.events.lava_frames`)
on a PUB socket bound to ``settings.event_socket``, and pushes the same
frames to every address of ``settings.event_additional_sockets`` (PUSH
sockets that connect there, as lava-publisher does).

Who gets what:

- By default only what an anonymous user may see is published: the
  ``may_see(event)`` predicate (``Lab.event_visible_to_anonymous``) answers,
  possibly asynchronously.  Events are still sent in bus order: each waits in
  a queue until its own answer and every earlier one are in.
  ``settings.events_include_restricted`` publishes everything, as LAVA does.
- Nothing here ever blocks the reactor.  Every send is non-blocking and the
  sockets have a send high-water mark: ZMQ drops a PUB message for a
  subscriber whose queue is full (the others still get it), and a PUSH
  destination that is down or too slow loses events (logged once per outage)
  instead of holding up the publisher.  With no subscriber at all, PUB simply
  discards the messages.

The txzmq connections are given a factory that uses the reactor passed in,
and :meth:`ZMQPublisher.stopService` shuts them and the ZMQ context down.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

import zmq
from twisted.application.service import Service
from twisted.internet.defer import maybeDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from txzmq import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqPubConnection, ZmqPushConnection
from txzmq.connection import ZmqConnection

from lavad.config import Settings
from lavad.events import DEVICE, EVENT, TESTJOB, WORKER, Event, EventBus, lava_frames

#: The kinds LAVA publishes (its topic suffixes); ``lab`` events stay inside lavad.
PUBLISHED_KINDS = frozenset({TESTJOB, DEVICE, WORKER, EVENT})

#: Messages ZMQ may queue per peer before it drops (PUB) or refuses (PUSH) more:
#: lava-publisher's SNDHWM for its PUSH sockets.  txzmq's own default, 0, means no limit.
DEFAULT_HWM = 10000
#: lava-publisher's heartbeats (milliseconds), so dead peers are noticed.
HEARTBEATS = ((zmq.HEARTBEAT_IVL, 5000), (zmq.HEARTBEAT_TIMEOUT, 15000),
              (zmq.HEARTBEAT_TTL, 15000))
#: How long closing may wait for queued messages to leave (milliseconds): it blocks the reactor.
LINGER_MS = 100

#: ``may_see(event)`` -> bool, or a Deferred firing with one.
MaySee = Callable[[Event], Any]


class PublisherError(Exception):
    """A socket could not be bound or connected; ``address`` and ``reason`` say which and why."""

    def __init__(self, address: str, reason: str, bind: bool) -> None:
        super().__init__("cannot %s %s (%s)" % ("bind" if bind else "connect to", address,
                                               reason))
        self.address = address
        self.reason = reason
        self.bind = bind


class _Sender(ZmqConnection):
    """A send-only txzmq connection with a high-water mark and heartbeats.

    ``send(frames)`` writes one multipart message without blocking (raising
    ``zmq.ZMQError`` EAGAIN when ZMQ will not take it) and schedules the read
    txzmq needs after a write on the factory's reactor, not the global one.
    """

    def __init__(self, factory: ZmqFactory, hwm: int) -> None:
        self.highWaterMark = hwm  # read by ZmqConnection.__init__ (SNDHWM and RCVHWM)
        self.read_scheduled: Any = None
        super().__init__(factory)
        for option, value in HEARTBEATS:
            self.socket.set(option, value)

    def send(self, message: list[bytes]) -> None:
        self.socket.send_multipart(message, zmq.NOBLOCK)
        if self.read_scheduled is None:
            self.read_scheduled = self.factory.reactor.callLater(0, self.doRead)

    def messageReceived(self, message: list[bytes]) -> None:
        """PUB and PUSH sockets receive nothing."""


class _Pub(_Sender, ZmqPubConnection):
    pass


class _Push(_Sender, ZmqPushConnection):
    pass


class _Pending:
    """An event waiting for its visibility answer (and for the events before it)."""

    __slots__ = ("done", "event", "visible")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.done = False
        self.visible = False


def client_address(configured: str, last_endpoint: str | None) -> str:
    """The address to give clients (``scheduler.get_publisher_event_socket``).

    The configured address with the real port when it is a TCP address
    (``tcp://*:*`` bound on port 41234 gives ``tcp://*:41234``; ``tcp://*:5500``
    stays as it is, as LAVA returns it); for other transports the bound
    endpoint when the configured one has a wildcard, else the configured one.
    """
    if last_endpoint is None:
        return configured
    scheme, _, rest = configured.partition("://")
    if scheme == "tcp" and ":" in rest:
        return "tcp://%s:%s" % (rest.rsplit(":", 1)[0], last_endpoint.rsplit(":", 1)[1])
    return last_endpoint if "*" in configured else configured


class ZMQPublisher(Service):
    """Publish the bus's testjob, device, worker and test-shell events over ZMQ.

    ``last_endpoint`` is the PUB socket's bound address (with the real port)
    while it runs; :meth:`client_address` is what clients should connect to.
    ``hwm`` is the send high-water mark of every socket.
    """

    log = Logger()

    def __init__(self, bus: EventBus, settings: Settings, reactor: Any, may_see: MaySee,
                 hwm: int = DEFAULT_HWM) -> None:
        self.bus = bus
        self.settings = settings
        self._reactor = reactor
        self._may_see = may_see
        self.hwm = hwm
        self.last_endpoint: str | None = None
        self._factory: ZmqFactory | None = None
        self._pub: _Pub | None = None
        self._pushes: list[tuple[str, _Push]] = []
        self._dropped: dict[str, int] = {}
        self._queue: deque[_Pending] = deque()
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def startService(self) -> None:
        """Bind the PUB socket, connect the PUSH sockets, subscribe to the bus.

        Does nothing when events are disabled.  Raises :class:`PublisherError`
        (with every socket closed again) when an address cannot be used.
        """
        if not self.settings.events_enabled:
            super().startService()
            return
        factory = ZmqFactory()
        factory.reactor = self._reactor
        factory.lingerPeriod = LINGER_MS
        self._factory = factory
        try:
            self._pub = self._open(_Pub, ZmqEndpointType.bind, self.settings.event_socket)
            self.last_endpoint = self._pub.socket.get(zmq.LAST_ENDPOINT).decode("utf-8")
            for address in self.settings.event_additional_sockets:
                push = self._open(_Push, ZmqEndpointType.connect, address)
                self._pushes.append((address, push))
                self._dropped[address] = 0
                self.log.info("lavad events also pushed to {address}", address=address)
        except PublisherError:
            self._close()
            raise
        self._unsubscribe = self.bus.subscribe(self._on_event)
        super().startService()

    def _open(self, kind: type[_Sender], how: str, address: str) -> _Sender:
        assert self._factory is not None
        connection = kind(self._factory, self.hwm)
        if address.startswith(("tcp://[", "ws://[", "wss://[")):
            connection.socket.set(zmq.IPV6, 1)
        try:
            connection.addEndpoints([ZmqEndpoint(how, address)])
        except zmq.ZMQError as exc:
            raise PublisherError(address, exc.strerror or str(exc),
                                 how == ZmqEndpointType.bind) from None
        return connection

    def stopService(self) -> Any:
        """Unsubscribe, forget the events still waiting, close the sockets and the context."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._queue.clear()
        self._close()
        return super().stopService()

    def _close(self) -> None:
        factory, self._factory = self._factory, None
        self._pub, self._pushes, self.last_endpoint = None, [], None
        if factory is not None:
            factory.shutdown()

    def client_address(self) -> str:
        """The address clients should connect to (see :func:`client_address`)."""
        return client_address(self.settings.event_socket, self.last_endpoint)

    # -- events ------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.kind not in PUBLISHED_KINDS or self._pub is None:
            return
        pending = _Pending(event)
        self._queue.append(pending)
        if self.settings.events_include_restricted:
            pending.done = pending.visible = True
        else:
            maybeDeferred(self._may_see, event).addBoth(self._answered, pending)
        self._flush()

    def _answered(self, result: Any, pending: _Pending) -> None:
        if isinstance(result, Failure):
            self.log.failure("deciding whether to publish a {kind} event failed; it is not "
                             "published", result, kind=pending.event.kind)
            result = False
        pending.done, pending.visible = True, bool(result)
        self._flush()

    def _flush(self) -> None:
        """Send the events at the head of the queue whose answers are in, in order."""
        while self._queue and self._queue[0].done:
            pending = self._queue.popleft()
            if pending.visible:
                self._send(pending.event)

    def _send(self, event: Event) -> None:
        if self._pub is None:
            return
        frames = [part.encode("utf-8") for part in lava_frames(event, self.settings.event_topic)]
        try:
            self._pub.send(frames)
        except zmq.ZMQError as exc:
            self.log.error("the {kind} event could not be published ({reason})",
                           kind=event.kind, reason=exc.strerror or exc)
        for address, push in self._pushes:
            try:
                push.send(frames)
            except zmq.ZMQError as exc:
                if self._dropped[address] == 0:
                    self.log.warn("events cannot be pushed to {address} ({reason}): they are "
                                  "dropped until it takes them again", address=address,
                                  reason=exc.strerror or exc)
                self._dropped[address] += 1
            else:
                if self._dropped[address]:
                    self.log.info("events reach {address} again; {count} were dropped",
                                  address=address, count=self._dropped[address])
                    self._dropped[address] = 0
