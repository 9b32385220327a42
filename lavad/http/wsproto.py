"""The autobahn side of the /ws/ relay (:mod:`lavad.http.ws`): the websocket protocol,
its factory and resource.  Imported when the first client connects."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from lavad.http.ws import EventRelay, _Client


class RelayProtocol(WebSocketServerProtocol):
    """One websocket connection: it authenticates, then the relay feeds it."""

    relay: "EventRelay"

    def __init__(self) -> None:
        super().__init__()
        self.client: _Client | None = None
        self.headers: dict[str, str] = {}
        self.lost: Deferred = Deferred()

    def onConnect(self, request: Any) -> None:
        self.headers = dict(request.headers)
        return None

    def onOpen(self) -> None:
        self.relay.opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        """Messages from clients are read and ignored."""

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        self.relay.closed(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        if not self.lost.called:
            self.lost.callback(None)

    def send_error(self, message: str) -> None:
        self.sendMessage(json.dumps({"error": message}).encode(), isBinary=False)
        self.sendClose()


class _RelayFactory(WebSocketServerFactory):
    protocol = RelayProtocol

    def __init__(self, relay: "EventRelay", reactor: Any) -> None:
        super().__init__(reactor=reactor)
        self.relay = relay

    def buildProtocol(self, addr: Any) -> RelayProtocol:
        protocol = cast(RelayProtocol, super().buildProtocol(addr))
        protocol.relay = self.relay
        return protocol


class _Resource(WebSocketResource):
    def render(self, request: Any) -> Any:
        # The HTTP channel gives its connection to the websocket: stop its idle timer, or it
        # would fire (on a channel without transport) long after the upgrade.
        request.channel.setTimeout(None)
        return super().render(request)


def websocket_resource(relay: "EventRelay", reactor: Any, ping_interval: float) -> Any:
    """The resource that upgrades ``/ws`` requests to connections fed by ``relay``."""
    factory = _RelayFactory(relay, reactor)
    factory.setProtocolOptions(
        webStatus=False, autoPingInterval=ping_interval,
        autoPingTimeout=ping_interval, openHandshakeTimeout=10, closeHandshakeTimeout=2)
    return _Resource(factory)
