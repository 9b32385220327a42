"""lavad.publisher: LAVA's five-frame ZMQ messages on a real PUB socket, read by real SUB sockets.

Every publisher binds ``tcp://127.0.0.1:*`` and the tests read the real port
from ``LAST_ENDPOINT``.  A SUB socket only gets what is published after its
subscription reaches the publisher (ZMQ's "slow joiner"), so each test first
publishes probe events until its subscriber has seen one, and then ignores
the probes.  Every wait is a Deferred bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid as uuidlib
from typing import Any, Callable

import pytest
import pytest_twisted
import zmq
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import formatEvent, globalLogPublisher
from txzmq import ZmqEndpoint, ZmqEndpointType, ZmqFactory
from txzmq.connection import ZmqConnection

from lavad import devices, jobs, statemachine, users
from lavad.config import load_settings
from lavad.events import Event, EventBus
from lavad.lab import Lab
from lavad.publisher import PublisherError, ZMQPublisher, client_address
from lavad.service import LavadService
from lavad.store.thread import StoreThread

WAIT = 10  # seconds: the bound on every wait for a message
LISTENER = os.path.join(os.path.dirname(__file__), "zmq_listener.py")
PROBE_WORKER = "probe-worker"


# -- SUB and PULL sockets on the test's reactor ------------------------------------------------------
class Recorder(ZmqConnection):
    """A txzmq connection that records decoded messages (minus the probes) and can be waited on."""

    def __init__(self, factory: ZmqFactory) -> None:
        self.messages: list[list[str]] = []
        self.probes: set[str] = set()  # uuids of probe events, never recorded
        self.probe_seen = False
        self._waiters: list[tuple[Callable[[], bool], Deferred]] = []
        super().__init__(factory)

    def messageReceived(self, message: list[bytes]) -> None:
        frames = [part.decode("utf-8") for part in message]
        if len(frames) == 5 and frames[1] in self.probes:
            self.probe_seen = True
        else:
            self.messages.append(frames)
        for entry in list(self._waiters):
            if entry[0]():
                self._waiters.remove(entry)
                entry[1].callback(None)

    def wait_until(self, condition: Callable[[], bool]) -> Deferred:
        """Fires once ``condition()`` holds (checked at every message), within WAIT seconds."""
        if condition():
            return succeed(None)
        d: Deferred = Deferred()
        self._waiters.append((condition, d))
        return d.addTimeout(WAIT, reactor)

    def wait_for(self, count: int) -> Deferred:
        """Fires with the first ``count`` recorded messages."""
        return self.wait_until(lambda: len(self.messages) >= count).addCallback(
            lambda _: self.messages[:count])


class Subscriber(Recorder):
    """A SUB socket connected to ``address``, subscribed to ``prefix``."""

    socketType = zmq.SUB

    def __init__(self, factory: ZmqFactory, address: str, prefix: bytes = b"") -> None:
        super().__init__(factory)
        self.socket.set(zmq.SUBSCRIBE, prefix)
        self.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, address)])


class Puller(Recorder):
    """A PULL socket bound to a free loopback port (``address``)."""

    socketType = zmq.PULL

    def __init__(self, factory: ZmqFactory) -> None:
        super().__init__(factory)
        self.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")])
        self.address = self.socket.get(zmq.LAST_ENDPOINT).decode()


@pytest.fixture
def zmq_factory():
    """The test side's ZMQ context, on the test reactor; shut down after the test."""
    factory = ZmqFactory()
    factory.reactor = reactor
    factory.lingerPeriod = 0
    yield factory
    factory.shutdown()


def probe_event() -> Event:
    return Event("worker", {"hostname": PROBE_WORKER, "health": "Active", "state": "Offline"},
                 username="lavaserver")


async def synced(bus: EventBus, subscriber: Recorder, *others: Recorder) -> None:
    """Publish probe events on ``bus`` until ``subscriber`` gets one: its subscription is live.

    ``others`` (PULL sockets) are told to ignore the probes too.
    """
    subscriber.probe_seen = False

    def probe() -> None:
        event = probe_event()
        for recorder in (subscriber, *others):
            recorder.probes.add(event.uuid)
        bus.publish(event)

    loop = LoopingCall(probe)
    loop.clock = reactor
    loop.start(0.02)
    try:
        await subscriber.wait_until(lambda: subscriber.probe_seen)
    finally:
        loop.stop()


# -- the store, with a clock the test sets ---------------------------------------------------------
class Clock:
    def __init__(self, now: float = 1782900000.0) -> None:  # 2026-07-01T10:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_twisted.async_yield_fixture
async def lab(tmp_path, clock):
    """A Lab on a fresh store (clock ``clock``) holding the probe worker."""
    store = StoreThread(reactor, str(tmp_path / "lavad.sqlite3"), EventBus(), clock=clock)
    await store.start()
    the_lab = Lab(store)
    await the_lab.run(devices.thd_add_worker, PROBE_WORKER)
    yield the_lab
    await store.stop()


def make_settings(tmp_path, **overrides: Any):
    values = {"data_dir": str(tmp_path / "data"), "event_socket": "tcp://127.0.0.1:*"}
    values.update(overrides)
    return load_settings(values)


@pytest.fixture
def publishers():
    """Start ZMQPublishers with ``publishers(bus, settings, may_see, **kw)``; stopped after."""
    started: list[ZMQPublisher] = []

    def start(bus: EventBus, settings: Any, may_see: Any, **kwargs: Any) -> ZMQPublisher:
        publisher = ZMQPublisher(bus, settings, reactor, may_see, **kwargs)
        publisher.startService()
        started.append(publisher)
        return publisher

    yield start
    for publisher in started:
        publisher.stopService()


@pytest.fixture
def log_events():
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def decoded(message: list[str]) -> tuple[str, str, str, Any]:
    """(topic, datetime, username, data) of a message, after checking its uuid frame."""
    topic, uuid, when, username, payload = message
    assert uuidlib.UUID(uuid).version == 1
    return topic, when, username, json.loads(payload)


async def _setup_lab(lab: Lab) -> dict[str, Any]:
    """alice, a qemu device type, worker1 and the Good device qemu01 on it."""
    alice = await lab.run(users.thd_add_user, "alice")
    await lab.run(devices.thd_add_device_type, "qemu")
    await lab.run(devices.thd_add_worker, "worker1")
    await lab.run(devices.thd_add_device, "qemu01", "qemu", health="Good",
                  worker_host="worker1")
    return alice


# -- the frames -----------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_job_life_is_published_as_lava_frames(tmp_path, lab, clock, publishers,
                                                    zmq_factory):
    """A job's life (and its device's) arrives as LAVA's exact 5 frames, in order."""
    alice = await _setup_lab(lab)
    publisher = publishers(lab.bus, make_settings(tmp_path), lab.event_visible_to_anonymous)
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", publisher.last_endpoint)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(lab.bus, sub)

    clock.now = 1782900000.0
    job = await lab.run(jobs.thd_insert_job, alice["id"], "job_name: qemu smoke\n",
                        description="qemu smoke", requested_device_type="qemu")
    clock.now = 1782900005.5
    await lab.run(statemachine.thd_schedule_job, job, "qemu01")
    clock.now = 1782900010.25
    await lab.run(statemachine.thd_job_running, job)
    clock.now = 1782900070.0
    await lab.run(statemachine.thd_job_finished, job, "pass")
    messages = await sub.wait_for(7)

    submitted = messages[0]
    assert submitted[0] == "org.lavasoftware.testjob"
    assert submitted[2:] == [
        "2026-07-01T10:00:00+00:00", "alice",
        '{"health": "Unknown", "state": "Submitted", "job": %d, "description": "qemu smoke",'
        ' "priority": 50, "submit_time": "2026-07-01T10:00:00+00:00", "submitter": "alice",'
        ' "health_check": false, "device_type": "qemu"}' % job]
    base = {"job": job, "description": "qemu smoke", "priority": 50,
            "submit_time": "2026-07-01T10:00:00+00:00", "submitter": "alice",
            "health_check": False}
    device = {"device": "qemu01", "device_type": "qemu", "worker": "worker1"}
    expected = [
        ("org.lavasoftware.device", "2026-07-01T10:00:05.500000+00:00", "lavaserver",
         {"health": "Good", "state": "Reserved", **device}),
        ("org.lavasoftware.testjob", "2026-07-01T10:00:05.500000+00:00", "alice",
         {"health": "Unknown", "state": "Scheduled", **base, "device": "qemu01",
          "worker": "worker1", "device_type": "qemu"}),
        ("org.lavasoftware.device", "2026-07-01T10:00:10.250000+00:00", "lavaserver",
         {"health": "Good", "state": "Running", **device, "job": job}),
        ("org.lavasoftware.testjob", "2026-07-01T10:00:10.250000+00:00", "alice",
         {"health": "Unknown", "state": "Running", **base, "device": "qemu01",
          "worker": "worker1", "device_type": "qemu",
          "start_time": "2026-07-01T10:00:10.250000+00:00"}),
        ("org.lavasoftware.device", "2026-07-01T10:01:10+00:00", "lavaserver",
         {"health": "Good", "state": "Idle", **device, "job": job}),
        ("org.lavasoftware.testjob", "2026-07-01T10:01:10+00:00", "alice",
         {"health": "Complete", "state": "Finished", **base, "device": "qemu01",
          "worker": "worker1", "device_type": "qemu",
          "start_time": "2026-07-01T10:00:10.250000+00:00",
          "end_time": "2026-07-01T10:01:10+00:00"}),
    ]
    for message, (topic, when, username, data) in zip(messages[1:], expected):
        assert message[0] == topic and message[2] == when and message[3] == username
        assert message[4] == json.dumps(data)  # LAVA's separators and key order, ASCII
    assert len({m[1] for m in messages}) == 7
    for message in messages:
        decoded(message)


@pytest_twisted.ensureDeferred
async def test_device_and_worker_changes_are_published(tmp_path, lab, publishers, zmq_factory):
    """Adding and changing workers and devices publishes their events, as lavaserver."""
    publisher = publishers(lab.bus, make_settings(tmp_path), lab.event_visible_to_anonymous)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(lab.bus, sub)

    await lab.run(devices.thd_add_worker, "worker1")
    await lab.run(devices.thd_update_worker, "worker1", health="Maintenance")
    await lab.run(devices.thd_add_device_type, "bbb")
    await lab.run(devices.thd_add_device, "bbb01", "bbb", worker_host="worker1")
    await lab.run(devices.thd_update_device, "bbb01", health="Good")
    messages = await sub.wait_for(4)

    assert [decoded(m)[0::3] for m in messages] == [
        ("org.lavasoftware.worker", {"hostname": "worker1", "health": "Active",
                                     "state": "Offline"}),
        ("org.lavasoftware.worker", {"hostname": "worker1", "health": "Maintenance",
                                     "state": "Offline"}),
        ("org.lavasoftware.device", {"health": "Maintenance", "state": "Idle",
                                     "device": "bbb01", "device_type": "bbb",
                                     "worker": "worker1"}),
        ("org.lavasoftware.device", {"health": "Good", "state": "Idle", "device": "bbb01",
                                     "device_type": "bbb", "worker": "worker1"}),
    ]
    assert {m[3] for m in messages} == {"lavaserver"}
    assert list(json.loads(messages[2][4])) == ["health", "state", "device", "device_type",
                                                "worker"]


@pytest_twisted.ensureDeferred
async def test_test_shell_event_is_published(tmp_path, lab, publishers, zmq_factory):
    """A lava-test-event (kind ``event``) goes out as ``<topic>.event`` from lavaserver."""
    alice = await _setup_lab(lab)
    job = await lab.run(jobs.thd_insert_job, alice["id"], "x", requested_device_type="qemu")
    publisher = publishers(lab.bus, make_settings(tmp_path), lab.event_visible_to_anonymous)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(lab.bus, sub)

    # As lavad.results emits it for a log line with ``lvl: event``.
    await lab.run(lambda tx: tx.emit("event", {"message": "café ready", "job": job},
                                     username="lavaserver", restrict={"job": job}))
    [message] = await sub.wait_for(1)
    assert message[0] == "org.lavasoftware.event"
    assert message[3] == "lavaserver"
    assert message[4] == '{"message": "caf\\u00e9 ready", "job": %d}' % job


@pytest_twisted.ensureDeferred
async def test_lab_events_are_not_published(tmp_path, lab, publishers, zmq_factory):
    """Kind ``lab`` (users, tags, device types...) stays inside lavad."""
    publisher = publishers(lab.bus, make_settings(tmp_path), lambda event: True)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(lab.bus, sub)
    await lab.run(users.thd_add_user, "bob")          # a lab event
    await lab.run(devices.thd_add_worker, "worker9")  # then a worker event
    [message] = await sub.wait_for(1)
    assert message[0] == "org.lavasoftware.worker"


@pytest_twisted.ensureDeferred
async def test_topic_prefix_is_configurable(tmp_path, publishers, zmq_factory):
    """event_topic (EVENT_TOPIC) prefixes frame 0, and SUB prefix filtering works on it."""
    bus = EventBus()
    publisher = publishers(bus, make_settings(tmp_path, event_topic="org.example.lab"),
                           lambda event: True)
    sub = Subscriber(zmq_factory, publisher.last_endpoint, prefix=b"org.example.lab.")
    await synced(bus, sub)
    bus.publish(Event("device", {"health": "Good"}, username="lavaserver",
                      time="2026-07-01T10:00:00.000001"))
    [message] = await sub.wait_for(1)
    assert message[0] == "org.example.lab.device"
    assert message[2] == "2026-07-01T10:00:00.000001+00:00"


# -- who gets what ----------------------------------------------------------------------------------
async def _restricted_lab(lab: Lab) -> tuple[int, int]:
    """A private job, and a public job on the device ``secret01`` that only group staff may see."""
    alice = await _setup_lab(lab)
    await lab.run(users.thd_add_group, "staff")
    await lab.run(devices.thd_add_device, "secret01", "qemu", health="Good",
                  worker_host="worker1")
    await lab.run(devices.thd_add_object_permission, "device", "staff", "view_device",
                  "secret01")
    private = await lab.run(jobs.thd_insert_job, alice["id"], "x",
                            requested_device_type="qemu", is_public=False, emit=False)
    on_secret = await lab.run(jobs.thd_insert_job, alice["id"], "x",
                              requested_device_type="qemu", emit=False)
    return private, on_secret


async def _publish_restricted_then_marker(lab: Lab, private: int, on_secret: int) -> None:
    await lab.run(jobs.thd_set_job_state, private, priority=60)   # Submitted: an event
    await lab.run(lambda tx: tx.emit("event", {"message": "hidden", "job": private},
                                     username="lavaserver", restrict={"job": private}))
    await lab.run(devices.thd_update_device, "secret01", health="Maintenance")
    await lab.run(statemachine.thd_schedule_job, on_secret, "secret01")
    await lab.run(devices.thd_add_worker, "marker")                # public


@pytest_twisted.ensureDeferred
async def test_restricted_events_are_not_published_by_default(tmp_path, lab, publishers,
                                                              zmq_factory):
    """Events about a private job or a restricted device stay private by default."""
    private, on_secret = await _restricted_lab(lab)
    publisher = publishers(lab.bus, make_settings(tmp_path), lab.event_visible_to_anonymous)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(lab.bus, sub)
    await _publish_restricted_then_marker(lab, private, on_secret)
    [message] = await sub.wait_for(1)
    assert decoded(message)[3] == {"hostname": "marker", "health": "Active", "state": "Offline"}


@pytest_twisted.ensureDeferred
async def test_restricted_events_are_published_when_included(tmp_path, lab, publishers,
                                                             zmq_factory):
    """events_include_restricted publishes everything, as LAVA does."""
    private, on_secret = await _restricted_lab(lab)
    publisher = publishers(lab.bus, make_settings(tmp_path, events_include_restricted=True),
                           lab.event_visible_to_anonymous)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(lab.bus, sub)
    await _publish_restricted_then_marker(lab, private, on_secret)
    messages = await sub.wait_for(6)
    assert [(m[0].rsplit(".", 1)[1], decoded(m)[3].get("job", decoded(m)[3].get("device")))
            for m in messages] == [
        ("testjob", private), ("event", private), ("device", "secret01"),
        ("device", "secret01"), ("testjob", on_secret), ("worker", None)]


@pytest_twisted.ensureDeferred
async def test_order_is_kept_when_answers_come_out_of_order(tmp_path, publishers, zmq_factory):
    """Events are sent in bus order even when their visibility answers arrive in another."""
    bus = EventBus()
    answers: dict[str, Deferred] = {}

    def may_see(event: Event) -> Any:
        if event.data.get("hostname") == PROBE_WORKER:
            return True
        answers[event.data["hostname"]] = Deferred()
        return answers[event.data["hostname"]]

    publisher = publishers(bus, make_settings(tmp_path), may_see)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(bus, sub)
    for name in ("a", "b", "c", "d"):
        bus.publish(Event("worker", {"hostname": name}, username="lavaserver"))
    answers["c"].callback(True)
    answers["b"].errback(RuntimeError("the store is gone"))  # logged, not published
    answers["d"].callback(True)
    assert sub.messages == []  # everything waits for "a"
    answers["a"].callback(True)
    messages = await sub.wait_for(3)
    assert [decoded(m)[3]["hostname"] for m in messages] == ["a", "c", "d"]


# -- never blocking -----------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_stuck_subscriber_stalls_nobody(tmp_path, publishers, zmq_factory):
    """A subscriber that never reads loses messages; the others and the reactor go on."""
    bus = EventBus()
    publisher = publishers(bus, make_settings(tmp_path, events_include_restricted=True),
                           lambda event: True, hwm=100)
    context = zmq.Context()
    stuck = context.socket(zmq.SUB)
    stuck.setsockopt(zmq.RCVHWM, 5)
    stuck.setsockopt(zmq.SUBSCRIBE, b"")
    stuck.setsockopt(zmq.LINGER, 0)
    stuck.connect(publisher.last_endpoint)
    try:
        sub = Subscriber(zmq_factory, publisher.last_endpoint)
        await synced(bus, sub)  # the stuck socket connected first: it is subscribed too
        # Also wait for the stuck socket's first probe, without reading any more.
        assert stuck.poll(WAIT * 1000)
        big = "x" * 65536
        batches, size = 40, 10  # 26 MB: more than the stuck socket's queues and buffers hold
        for batch in range(batches):
            for index in range(size):
                bus.publish(Event("device", {"n": batch * size + index, "pad": big},
                                  username="lavaserver"))
            # The reader shares the reactor with the publisher: it only gets there if the
            # publisher never blocked it.
            await sub.wait_for((batch + 1) * size)
        numbers = [json.loads(m[4])["n"] for m in sub.messages]
        assert numbers == list(range(batches * size))
        got = 0
        while stuck.poll(0):
            stuck.recv_multipart()
            got += 1
        assert got < batches * size
    finally:
        stuck.close()
        context.term()


@pytest_twisted.ensureDeferred
async def test_events_flow_with_nobody_listening(tmp_path, publishers, zmq_factory, log_events):
    """With no subscriber and a PUSH destination that is down, publishing never fails."""
    unused = zmq.Context()
    probe = unused.socket(zmq.PULL)  # find a free port, then leave it empty
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close()
    unused.term()
    bus = EventBus()
    publisher = publishers(
        bus, make_settings(tmp_path, event_additional_sockets=["tcp://127.0.0.1:%d" % port]),
        lambda event: True, hwm=5)
    for index in range(50):
        bus.publish(Event("worker", {"hostname": "w%d" % index}, username="lavaserver"))
    warnings = [e for e in log_events if e.get("log_namespace", "").startswith("lavad.publisher")
                and e["log_level"].name == "warn"]
    assert len(warnings) == 1  # one warning per outage, not one per event
    # Later subscribers still get new events.
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(bus, sub)
    bus.publish(Event("worker", {"hostname": "late"}, username="lavaserver"))
    [message] = await sub.wait_for(1)
    assert json.loads(message[4]) == {"hostname": "late"}


@pytest_twisted.ensureDeferred
async def test_additional_sockets_get_the_same_frames(tmp_path, publishers, zmq_factory):
    """Each event_additional_sockets address gets LAVA's 5 frames through a PUSH socket."""
    pullers = [Puller(zmq_factory), Puller(zmq_factory)]
    bus = EventBus()
    publisher = publishers(bus, make_settings(
        tmp_path, event_additional_sockets=[p.address for p in pullers]), lambda event: True)
    sub = Subscriber(zmq_factory, publisher.last_endpoint)
    await synced(bus, sub, *pullers)
    event = Event("worker", {"hostname": "w1", "health": "Active", "state": "Online"},
                  username="lavaserver", time="2026-07-01T10:00:00.000000")
    bus.publish(event)
    [published] = await sub.wait_for(1)
    assert published == ["org.lavasoftware.worker", event.uuid, "2026-07-01T10:00:00+00:00",
                         "lavaserver", '{"hostname": "w1", "health": "Active", "state": "Online"}']
    for puller in pullers:
        assert await puller.wait_for(1) == [published]


# -- lifecycle ------------------------------------------------------------------------------------------
def test_disabled_events_bind_nothing(tmp_path):
    """events_enabled false: no socket, no subscription, the configured address is given out."""
    bus = EventBus()
    publisher = ZMQPublisher(bus, make_settings(tmp_path, events_enabled=False), reactor,
                             lambda event: True)
    publisher.startService()
    assert publisher.running
    assert publisher.last_endpoint is None and bus._subscribers == []
    assert publisher.client_address() == "tcp://127.0.0.1:*"
    publisher.stopService()


@pytest_twisted.ensureDeferred
async def test_stop_unsubscribes_and_drops_late_answers(tmp_path, zmq_factory):
    """stopService unsubscribes, closes the sockets and ignores answers that come later."""
    bus = EventBus()
    late: Deferred = Deferred()
    publisher = ZMQPublisher(bus, make_settings(tmp_path), reactor, lambda event: late)
    publisher.startService()
    bus.publish(Event("worker", {"hostname": "w"}))
    publisher.stopService()
    assert bus._subscribers == [] and publisher.last_endpoint is None
    late.callback(True)  # nothing to send it on, nothing raised
    bus.publish(Event("worker", {"hostname": "w"}))
    assert not publisher.running


def test_bind_failure_is_reported_and_cleaned_up(tmp_path):
    """An address in use raises PublisherError naming it, with no socket left open."""
    context = zmq.Context()
    busy = context.socket(zmq.PUB)
    address = "tcp://127.0.0.1:%d" % busy.bind_to_random_port("tcp://127.0.0.1")
    try:
        publisher = ZMQPublisher(EventBus(), make_settings(tmp_path, event_socket=address),
                                 reactor, lambda event: True)
        with pytest.raises(PublisherError) as info:
            publisher.startService()
        assert info.value.address == address and info.value.bind
        assert "Address already in use" in str(info.value)
        assert not publisher.running and publisher._factory is None
    finally:
        busy.close(linger=0)
        context.term()


@pytest.mark.parametrize("configured, bound, expected", [
    ("tcp://*:5500", "tcp://0.0.0.0:5500", "tcp://*:5500"),
    ("tcp://*:*", "tcp://0.0.0.0:41234", "tcp://*:41234"),
    ("tcp://127.0.0.1:*", "tcp://127.0.0.1:41234", "tcp://127.0.0.1:41234"),
    ("tcp://[::1]:*", "tcp://[::1]:41234", "tcp://[::1]:41234"),
    ("ipc:///run/lava.events", "ipc:///run/lava.events", "ipc:///run/lava.events"),
    ("ipc://*", "ipc:///tmp/tmpabc/0", "ipc:///tmp/tmpabc/0"),
    ("tcp://*:*", None, "tcp://*:*"),
])
def test_client_address(configured, bound, expected):
    """The address given to clients keeps the configured host and shows the real port."""
    assert client_address(configured, bound) == expected


# -- in the server ----------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_service_binds_and_logs_the_real_address(tmp_path, settings, no_stop_reactor,
                                                      log_events):
    """LavadService starts the publisher, logs its real address and gives it to clients."""
    service = LavadService(settings, no_stop_reactor)
    service.startService()
    await service.when_started()
    try:
        assert service.exit_status is None
        bound = service.publisher.last_endpoint
        assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", bound)
        assert service.event_socket_address() == bound
        assert ("lavad events published on %s" % bound) in [
            formatEvent(e) for e in log_events
            if e.get("log_namespace", "").startswith("lavad.service")]
    finally:
        await service.stopService()
    assert service.publisher is None
    assert service.event_socket_address() == "tcp://127.0.0.1:*"


@pytest_twisted.ensureDeferred
async def test_service_without_events_binds_nothing(tmp_path, no_stop_reactor):
    """events_enabled false: the server runs without a publisher."""
    service = LavadService(make_settings(tmp_path, http="tcp:0:interface=127.0.0.1",
                                         events_enabled=False), no_stop_reactor)
    service.startService()
    await service.when_started()
    try:
        assert service.exit_status is None and service.publisher is None
        assert service.event_socket_address() == "tcp://127.0.0.1:*"
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_service_stops_when_the_event_socket_is_taken(tmp_path, no_stop_reactor,
                                                           log_events):
    """An event socket in use fails start-up with one paragraph naming the fix."""
    context = zmq.Context()
    busy = context.socket(zmq.PUB)
    address = "tcp://127.0.0.1:%d" % busy.bind_to_random_port("tcp://127.0.0.1")
    try:
        service = LavadService(make_settings(tmp_path, http="tcp:0:interface=127.0.0.1",
                                             event_socket=address), no_stop_reactor)
        service.startService()
        await service.when_started()
        await service.stopService()
    finally:
        busy.close(linger=0)
        context.term()
    assert service.exit_status == 1 and no_stop_reactor.stop_calls == 1
    [critical] = [e for e in log_events if e.get("log_namespace", "").startswith("lavad.service")
                  and e["log_level"].name == "critical"]
    message = critical["message"]
    assert message.startswith("lavad could not start: it cannot publish events")
    assert address in message and "--event-socket" in message and "\n" not in message
    assert service.port is None and service.publisher is None


# -- LAVA's documented client approach, in another process ---------------------------------------------------
class Listener(ProcessProtocol):
    """tests/publisher/zmq_listener.py as a child; waits on its output lines."""

    def __init__(self) -> None:
        self.out = ""
        self.err = ""
        self._waiting: list[tuple[str, Deferred]] = []
        self.ended: Deferred = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data.decode("utf-8", "replace")
        for entry in list(self._waiting):
            if entry[0] in self.out:
                self._waiting.remove(entry)
                entry[1].callback(None)

    def errReceived(self, data: bytes) -> None:
        self.err += data.decode("utf-8", "replace")

    def processEnded(self, reason: Any) -> None:
        for _, d in self._waiting:
            d.errback(AssertionError("the listener ended early: %s %s" % (self.out, self.err)))
        self._waiting = []
        self.ended.callback(reason.value.exitCode)

    def wait_for(self, text: str) -> Deferred:
        d: Deferred = Deferred()
        if text in self.out:
            d.callback(None)
        else:
            self._waiting.append((text, d))
        return d.addTimeout(WAIT * 3, reactor)


@pytest_twisted.ensureDeferred
async def test_docs_client_approach_sees_the_job_finish(lavad_service):
    """A process doing what LAVA's zmq_client.py does (socket from XML-RPC) sees the job end."""
    lab = lavad_service.lab
    alice = await _setup_lab(lab)
    await lab.run(devices.thd_add_worker, PROBE_WORKER)
    job = await lab.run(jobs.thd_insert_job, alice["id"], "job_name: smoke\n",
                        description="smoke", requested_device_type="qemu")
    listener = Listener()
    args = [sys.executable, LISTENER, "--job-id", str(job), "--hostname", "127.0.0.1",
            "--timeout", str(WAIT * 3), "--rpc-url", lavad_service.base_url + "/RPC2"]
    reactor.spawnProcess(listener, sys.executable, args, env=dict(os.environ))
    await listener.wait_for("connected")

    probes = []

    def probe() -> None:
        event = probe_event()
        probes.append(event)
        lavad_service.bus.publish(event)

    loop = LoopingCall(probe)
    loop.clock = reactor
    loop.start(0.05)
    try:
        await listener.wait_for("receiving")
    finally:
        loop.stop()

    await lab.run(statemachine.thd_schedule_job, job, "qemu01")
    await lab.run(statemachine.thd_job_running, job)
    await lab.run(statemachine.thd_job_finished, job, "pass")
    code = await listener.ended.addTimeout(WAIT * 3, reactor)
    assert code == 0, listener.err
    topic, _uuid, when, username, data = json.loads(listener.out.splitlines()[-1])
    assert (topic, username) == ("org.lavasoftware.testjob", "alice")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", when)
    assert data["job"] == job and data["state"] == "Finished" and data["health"] == "Complete"
    assert data["device"] == "qemu01" and "end_time" in data
