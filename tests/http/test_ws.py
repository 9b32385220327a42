"""lavad.http.ws: the /ws/ event relay, over loopback with a real autobahn client."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import pytest_twisted
import treq
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.task import deferLater
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from lavad import devices, jobs, users
from lavad.events import Event, EventBus
from lavad.events import lava_frames
from lavad.http.ws import EventRelay, Viewer, _Client, _Verdict
from lavad.lab import Lab
from lavad.models import DeviceHealth, JobState
from lavad.users import ANONYMOUS

WAIT = 10  # seconds: every wait is bounded


class Client(WebSocketClientProtocol):
    """Collects text frames; ``opened`` and ``lost`` fire on open and disconnect."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: DeferredQueue = DeferredQueue()
        self.opened: Deferred = Deferred()
        self.lost: Deferred = Deferred()

    def onOpen(self) -> None:
        self.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.put(json.loads(payload))

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)
        if not self.lost.called:
            self.lost.callback(None)

    async def next(self) -> Any:
        return await self.messages.get().addTimeout(WAIT, reactor)

    async def frames(self, count: int) -> list[Any]:
        return [await self.next() for _ in range(count)]


class Server:
    """A Site with the relay at /ws/ on a loopback port 0, and its clients."""

    def __init__(self, relay: EventRelay) -> None:
        self.relay = relay
        self.clients: list[Client] = []
        self.port: Any = None

    async def start(self) -> "Server":
        root = Resource()
        root.putChild(b"ws", self.relay.resource())
        self.relay.startService()
        self.port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Site(root))
        return self

    async def connect(self, headers: dict[str, str] | None = None) -> Client:
        port = self.port.getHost().port
        factory = WebSocketClientFactory("ws://127.0.0.1:%d/ws/" % port, headers=headers or {},
                                         reactor=reactor)
        factory.protocol = Client
        client = await TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        self.clients.append(client)
        await client.opened.addTimeout(WAIT, reactor)
        return client

    async def attached(self, count: int) -> None:
        """Wait until ``count`` connections have authenticated (attached to the relay)."""
        for _ in range(1000):
            if len(self.relay.clients) >= count:
                return
            await deferLater0()
        raise AssertionError("only %d client(s) attached" % len(self.relay.clients))

    async def stop(self) -> None:
        for client in self.clients:
            if not client.lost.called:
                client.sendClose()
        for client in self.clients:
            await client.lost.addTimeout(WAIT, reactor)
        await self.relay.stopService()
        await self.port.stopListening()


def deferLater0() -> Deferred:
    return deferLater(reactor, 0.001, lambda: None)


def event(n: int, kind: str = "testjob", **data: Any) -> Event:
    return Event(kind=kind, data={"job": n, **data}, username="alice",
                 time="2026-07-01T10:00:05.000321")


# -- frames -----------------------------------------------------------------------------
def test_lava_frames_format():
    """Frames are topic, uuid, ISO time with +00:00, username and the data as default JSON."""
    e = Event(kind="device", data={"health": "Good", "state": "Idle", "device": "d1"},
              username="lavaserver", time="2026-07-01T10:00:00.000000", uuid="u-1")
    assert lava_frames(e, "org.example") == [
        "org.example.device", "u-1", "2026-07-01T10:00:00+00:00", "lavaserver",
        '{"health": "Good", "state": "Idle", "device": "d1"}']
    assert lava_frames(event(1))[2] == "2026-07-01T10:00:05.000321+00:00"


# -- the per-client queue (no network) ------------------------------------------------------
class FakeProtocol:
    peer = "tcp:fake"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendMessage(self, payload: bytes, isBinary: bool = False) -> None:
        self.sent.append(payload)


def make_client(limit: int) -> tuple[_Client, FakeProtocol]:
    relay = EventRelay(EventBus(), lambda p, e: True, reactor, queue_limit=limit)
    protocol = FakeProtocol()
    return _Client(relay, protocol, Viewer()), protocol  # type: ignore[arg-type]


def visible(answer: bool = True) -> _Verdict:
    d: Deferred = Deferred()
    verdict = _Verdict(d)
    d.callback(answer)
    return verdict


def test_paused_client_drops_oldest_and_counts():
    """A paused client keeps the newest queue_limit events, counts drops, then sends in order."""
    client, protocol = make_client(limit=3)
    client.pauseProducing()
    for n in range(5):
        client.offer(event(n), visible())
    assert client.dropped == 2 and protocol.sent == []
    client.resumeProducing()
    assert [json.loads(json.loads(p)[4])["job"] for p in protocol.sent] == [2, 3, 4]


def test_client_keeps_order_while_verdicts_are_pending():
    """An event whose visibility is still being decided holds back the later ones."""
    client, protocol = make_client(limit=10)
    pending: Deferred = Deferred()
    client.offer(event(1), _Verdict(pending))
    client.offer(event(2), visible())
    client.offer(event(3), visible(False))
    assert protocol.sent == []
    pending.callback(True)
    assert [json.loads(json.loads(p)[4])["job"] for p in protocol.sent] == [1, 2]


def test_failed_verdict_hides_the_event():
    """A predicate that fails hides the event (and is logged), later events still flow."""
    client, protocol = make_client(limit=10)
    broken: Deferred = Deferred()
    client.offer(event(1), _Verdict(broken))
    client.offer(event(2), visible())
    broken.errback(RuntimeError("boom"))
    assert [json.loads(json.loads(p)[4])["job"] for p in protocol.sent] == [2]


# -- over loopback ----------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_relays_events_to_every_client_in_order():
    """Each client gets testjob, test-shell, device and worker events in order; lab ones never."""
    bus = EventBus()
    server = await Server(EventRelay(bus, lambda p, e: True, reactor,
                                     topic_prefix="org.lavasoftware")).start()
    try:
        first, second = await server.connect(), await server.connect()
        await server.attached(2)
        bus.publish(event(1))
        bus.publish(Event(kind="lab", data={"object": "user"}))
        bus.publish(Event(kind="event", data={"message": "m", "job": 1}))
        bus.publish(Event(kind="device", data={"device": "d1"}, username="lavaserver"))
        bus.publish(Event(kind="worker", data={"hostname": "w1"}, username="lavaserver"))
        for client in (first, second):
            frames = await client.frames(4)
            assert [f[0] for f in frames] == ["org.lavasoftware.testjob",
                                              "org.lavasoftware.event",
                                              "org.lavasoftware.device",
                                              "org.lavasoftware.worker"]
            assert frames[1][4] == '{"message": "m", "job": 1}'
            assert frames[0][2:] == ["2026-07-01T10:00:05.000321+00:00", "alice",
                                     '{"job": 1}']
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_non_websocket_get_is_refused():
    """A plain GET /ws/ (no upgrade) is an HTTP error, not a hang."""
    server = await Server(EventRelay(EventBus(), lambda p, e: True, reactor)).start()
    try:
        pool = HTTPConnectionPool(reactor, persistent=False)
        response = await treq.get("http://127.0.0.1:%d/ws/" % server.port.getHost().port,
                                  pool=pool)
        assert response.code >= 400
        await response.content()
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_slow_client_is_paused_and_never_blocks_others():
    """A client that stops reading is paused and drops its oldest events; the others get all."""
    bus = EventBus()
    server = await Server(EventRelay(bus, lambda p, e: True, reactor, queue_limit=5)).start()
    try:
        slow, fast = await server.connect(), await server.connect()
        await server.attached(2)
        slow.transport.pauseProducing()  # stop reading: the server's send buffer fills up
        big = "x" * 65536
        count = 300
        for n in range(count):  # at the pace of the fast client
            bus.publish(event(n, blob=big))
            assert json.loads((await fast.next())[4])["job"] == n
        state = next(c for c in server.relay.clients.values() if c.sent < count)
        assert state.paused and state.dropped > 0
        assert [c.dropped for c in server.relay.clients.values() if c is not state] == [0]
        slow.transport.resumeProducing()
        last = None
        while last != count - 1:
            last = json.loads((await slow.next())[4])["job"]
        assert state.sent + state.dropped == count
    finally:
        await server.stop()


# -- authentication and visibility, with the real store -------------------------------------
@pytest_twisted.async_yield_fixture
async def lab(store):
    """A lab with a public and a group-restricted device type, users and a worker."""
    lab = Lab(store)
    alice = await store.run(users.thd_add_user, "alice")
    await store.run(users.thd_add_user, "bob")
    await store.run(users.thd_add_group, "g1", ["alice"])
    await store.run(users.thd_add_token, "alice", secret="alicesecret")
    await store.run(users.thd_add_token, "bob", secret="bobsecret")
    for name in ("public", "secret"):
        await store.run(devices.thd_add_device_type, name)
    await store.run(devices.thd_add_object_permission, "devicetype", "g1", "view_devicetype",
                    "secret")
    await store.run(devices.thd_add_worker, "worker-01", token="workertoken")
    lab.alice_id = alice["id"]
    yield lab


def relay_for(lab: Lab) -> EventRelay:
    return EventRelay(lab.bus, lab.event_visible, reactor,
                      authenticate_user=lambda s, u: lab.authenticate_token(s, u),
                      authenticate_worker=lab.check_worker_token)


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, secret)).encode()).decode()}


@pytest_twisted.ensureDeferred
async def test_visibility_anonymous_user_and_worker(lab):
    """Anonymous sees public jobs only, a group member also restricted ones, a worker its own."""
    server = await Server(relay_for(lab)).start()
    try:
        anonymous = await server.connect()
        alice = await server.connect(basic("alice", "alicesecret"))
        bob = await server.connect({"Authorization": "Token bobsecret"})
        worker = await server.connect({"LAVA-Token": "workertoken", "LAVA-Host": "worker-01"})
        await server.attached(4)
        secret_job = await lab.run(jobs.thd_insert_job, lab.alice_id, "x",
                                   requested_device_type="secret")
        public_job = await lab.run(jobs.thd_insert_job, lab.alice_id, "x",
                                   requested_device_type="public")
        await lab.run(devices.thd_add_device, "pub-01", "public", worker_host="worker-01",
                      health=DeviceHealth.GOOD)
        await lab.run(jobs.thd_set_job_state, public_job, JobState.SCHEDULED,
                      actual_device="pub-01")

        def summary(frame):
            data = json.loads(frame[4])
            return frame[0].rsplit(".", 1)[1], data.get("job", data.get("device")), \
                data.get("state")
        expected_public = [("testjob", public_job, "Submitted"), ("device", "pub-01", "Idle"),
                           ("testjob", public_job, "Scheduled")]
        assert [summary(f) for f in await alice.frames(4)] == \
            [("testjob", secret_job, "Submitted")] + expected_public
        assert [summary(f) for f in await anonymous.frames(3)] == expected_public
        assert [summary(f) for f in await bob.frames(3)] == expected_public
        scheduled = json.loads((await worker.next())[4])
        assert (scheduled["job"], scheduled["state"], scheduled["worker"]) == \
            (public_job, "Scheduled", "worker-01")
        # Nothing else is queued for them: one more public event arrives next.
        await lab.run(devices.thd_update_worker, "worker-01", health="Maintenance")
        assert summary(await anonymous.next())[0] == "worker"
        assert worker.messages.pending == []
    finally:
        await server.stop()


@pytest.mark.parametrize("headers, error", [
    ({"Authorization": "Bearer abc"}, "Only Basic authentication is supported"),
    ({"Authorization": "Basic !!!"}, "Invalid basic authentication"),
    ({"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
     "Invalid basic authentication"),
    (basic("alice", "wrong"), "Unknown user"),
    (basic("bob", "alicesecret"), "Unknown user"),
    ({"Authorization": "Token wrong"}, "Unknown user"),
    ({"LAVA-Token": "workertoken", "LAVA-Host": "worker-99"}, "Unknown worker"),
    ({"LAVA-Token": "workertoken"}, "Unknown worker"),
    ({"LAVA-Token": "bad", "LAVA-Host": "worker-01"}, "Invalid worker token"),
])
@pytest_twisted.ensureDeferred
async def test_bad_credentials_get_an_error_and_are_closed(lab, headers, error):
    """Refused credentials get LAVA's {"error": ...} message, then the server closes."""
    server = await Server(relay_for(lab)).start()
    try:
        client = await server.connect(headers)
        assert await client.next() == {"error": error}
        await client.lost.addTimeout(WAIT, reactor)
        assert server.relay.clients == {}
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_event_visible_rules(lab):
    """Lab.event_visible: job and test-shell events by the job, devices/workers by theirs."""
    job = await lab.run(jobs.thd_insert_job, lab.alice_id, "x", requested_device_type="secret")
    alice = await lab.authenticate_token("alicesecret")
    for principal, expected in ((ANONYMOUS, False), (alice, True)):
        assert await lab.event_visible(principal, Event("testjob", {"job": job},
                                                        restrict={"job": job})) is expected
    assert await lab.event_visible(ANONYMOUS, Event("worker", {"hostname": "worker-01"}))
    assert not await lab.event_visible(ANONYMOUS, Event("worker", {"hostname": "nope"}))
    for principal, expected in ((ANONYMOUS, False), (alice, True)):
        assert await lab.event_visible(principal, Event("event", {"message": "m", "job": job},
                                                        restrict={"job": job})) is expected
    assert not await lab.event_visible(alice, Event("lab", {"object": "user"}))
    assert await lab.check_worker_token("worker-01", "workertoken") is True
    assert await lab.check_worker_token("worker-01", "x") is False
    assert await lab.check_worker_token("nope", "x") is None


@pytest_twisted.ensureDeferred
async def test_stop_closes_open_connections():
    """Stopping the relay closes every connection and stops relaying."""
    bus = EventBus()
    server = await Server(EventRelay(bus, lambda p, e: True, reactor)).start()
    client = await server.connect()
    await server.attached(1)
    await server.relay.stopService()
    await client.lost.addTimeout(WAIT, reactor)
    bus.publish(event(1))
    assert client.messages.pending == []
    await server.port.stopListening()
