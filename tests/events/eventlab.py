"""Helpers for tests/events: a small lab in a running lavad, and real event clients.

- :func:`setup_lab`: users alice (group ``team``) and bob, each with an API token;
  the public device type ``qemu`` with ``qemu01`` (Good) and the device type
  ``secret`` (only ``team`` may see it) with ``secret01``, both on worker ``w1``.
  The worker stays Offline, so the server's scheduler never takes a job: the
  tests move jobs through their states themselves.
- :class:`WsClient`: an autobahn websocket client of ``/ws/`` that keeps the frames.
- :class:`ZmqSub`: a txzmq SUB socket that keeps the messages, and :func:`synced`
  to wait until its subscription is live (ZMQ's "slow joiner").
- :class:`Child`: a child process whose output lines can be waited on.
- :func:`poll`: check a condition on reactor turns, a bounded number of times.

Every wait is bounded; nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import zmq
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from jobdefs import qemu_job
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall, deferLater
from txzmq import ZmqEndpoint, ZmqEndpointType, ZmqFactory
from txzmq.connection import ZmqConnection

from lavad import devices, users
from lavad.events import Event

WAIT = 15  # seconds: the bound on every wait for a message or a line
PROBE_WORKER = "probe-worker"
FIXTURE_LOG = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "worker",
                           "streams", "job-1-ssh-pass", "output.yaml")

JOB = qemu_job(job_name="live events")

#: One lava-run log line of a test-shell event (``% message``).
EVENT_LINE_TEMPLATE = '- {"dt": "2026-07-01T10:00:01.000000", "lvl": "event", "msg": "%s"}\n'


async def poll(check: Callable[[], Any], what: str, attempts: int = 300,
               interval: float = 0.05) -> Any:
    """``check()``'s first truthy value (it may return a Deferred or be a coroutine
    function); fails with ``what`` after ``attempts`` tries ``interval`` s apart."""
    for _ in range(attempts):
        value = check()
        if isinstance(value, (Deferred, Awaitable)):
            value = await value
        if value:
            return value
        await deferLater(reactor, interval, lambda: None)
    raise AssertionError("%s: not seen within %.1f s" % (what, attempts * interval))


async def setup_lab(service: Any) -> SimpleNamespace:
    """The lab described in the module docstring, in ``service``; returns names and tokens."""
    run = service.lab.run
    lab = SimpleNamespace(run=run)
    for name in ("alice", "bob"):
        await run(users.thd_add_user, name)
        token = await run(users.thd_add_token, name, "events")
        setattr(lab, name + "_token", token["secret"])
        setattr(lab, name, await run(users.thd_principal_by_name, name))
    await run(users.thd_add_group, "team", ["alice"])
    await run(devices.thd_add_worker, "w1")
    await run(devices.thd_add_worker, PROBE_WORKER)
    for device_type, device in (("qemu", "qemu01"), ("secret", "secret01")):
        await run(devices.thd_add_device_type, device_type)
        await run(devices.thd_add_device, device, device_type, worker_host="w1", health="Good")
    await run(devices.thd_add_object_permission, "devicetype", "team", "view_devicetype",
              "secret")
    return lab


def basic(username: str, secret: str) -> dict[str, str]:
    """The Authorization header lavacli sends for ``username:secret`` in its URL."""
    pair = ("%s:%s" % (username, secret)).encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def fixture_log() -> str:
    """The recorded lava-run log of a real ssh job (it has a ``lvl: event`` line)."""
    with open(FIXTURE_LOG, encoding="utf-8") as f:
        return f.read()


async def relay_attached(service: Any, count: int) -> None:
    """Wait until ``count`` websocket clients have authenticated with the /ws/ relay."""
    await poll(lambda: len(service.relay.clients) >= count,
               "%d websocket client(s) attached to /ws/" % count)


# -- websocket ---------------------------------------------------------------------------------
class WsClient(WebSocketClientProtocol):
    """Keeps every text frame (decoded JSON) in ``frames``; ``opened``/``lost`` fire."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Any] = []
        self.opened: Deferred = Deferred()
        self.lost: Deferred = Deferred()

    def onOpen(self) -> None:
        self.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.frames.append(json.loads(payload))

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)
        if not self.lost.called:
            self.lost.callback(None)

    def events(self, ignore: set[str] = frozenset()) -> list[list[str]]:  # type: ignore[assignment]
        """The event frames received, without those whose uuid is in ``ignore``."""
        return [f for f in self.frames if isinstance(f, list) and f[1] not in ignore]

    async def close(self) -> None:
        if not self.lost.called:
            self.sendClose()
        await self.lost.addTimeout(WAIT, reactor)


async def ws_connect(service: Any, headers: dict[str, str] | None = None) -> WsClient:
    """An open websocket client of ``service``'s ``/ws/``."""
    port = service.port.getHost().port
    factory = WebSocketClientFactory("ws://127.0.0.1:%d/ws/" % port, headers=headers or {},
                                     reactor=reactor)
    factory.protocol = WsClient
    client = await TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
    await client.opened.addTimeout(WAIT, reactor)
    return client


# -- ZMQ ---------------------------------------------------------------------------------------
class ZmqSub(ZmqConnection):
    """A SUB socket (all topics) connected to ``address``; decoded messages in ``messages``."""

    socketType = zmq.SUB

    def __init__(self, factory: ZmqFactory, address: str) -> None:
        self.messages: list[list[str]] = []
        super().__init__(factory)
        self.socket.set(zmq.SUBSCRIBE, b"")
        self.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, address)])

    def messageReceived(self, message: list[bytes]) -> None:
        self.messages.append([part.decode("utf-8") for part in message])


async def synced(service: Any, sub: ZmqSub) -> set[str]:
    """Publish probe worker events until ``sub`` gets one; the probes' uuids (to ignore)."""
    probes: set[str] = set()

    def probe() -> None:
        event = Event("worker", {"hostname": PROBE_WORKER, "health": "Active",
                                 "state": "Offline"}, username="lavaserver")
        probes.add(event.uuid)
        service.bus.publish(event)

    loop = LoopingCall(probe)
    loop.clock = reactor
    loop.start(0.05)
    try:
        await poll(lambda: any(m[1] in probes for m in sub.messages),
                   "a probe event on the ZMQ SUB socket")
    finally:
        loop.stop()
    return probes


# -- child processes ---------------------------------------------------------------------------
class Child(ProcessProtocol):
    """A child process: ``out``/``err`` so far, ``ended`` fires with its exit code."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.out = ""
        self.err = ""
        self.ended: Deferred = Deferred()
        self.exit_code: int | None = None

    def outReceived(self, data: bytes) -> None:
        self.out += data.decode("utf-8", "replace")

    def errReceived(self, data: bytes) -> None:
        self.err += data.decode("utf-8", "replace")

    def processEnded(self, reason: Any) -> None:
        self.exit_code = reason.value.exitCode
        self.ended.callback(self.exit_code)

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    async def wait_for(self, check: Callable[[str], bool], what: str) -> None:
        """Until ``check(out)`` holds; fails early (with the output) when the child ends."""
        def done() -> bool:
            if check(self.out):
                return True
            if self.ended.called:
                raise AssertionError("%s ended (exit %s) before %s:\n%s\n%s"
                                     % (self.name, self.exit_code, what, self.out, self.err))
            return False
        await poll(done, "%s: %s (output so far: %r %r)" % (self.name, what, self.out, self.err),
                   attempts=int(WAIT / 0.05))

    async def finished(self) -> int:
        """The exit code, once the child ends by itself (bounded)."""
        if self.ended.called:
            return self.exit_code  # type: ignore[return-value]
        return await self.ended.addTimeout(WAIT * 2, reactor)

    async def stop(self) -> None:
        """End the child (SIGTERM, then SIGKILL) and wait for it."""
        if self.ended.called:
            return
        self.transport.signalProcess("TERM")
        try:
            await _within(self.ended, 10)
        except Exception:
            if not self.ended.called:
                self.transport.signalProcess("KILL")
                await self.ended.addTimeout(WAIT, reactor)


def _within(d: Deferred, seconds: float) -> Deferred:
    """A Deferred that fires like ``d`` or fails after ``seconds``, leaving ``d`` untouched."""
    if d.called:
        return succeed(None)
    result: Deferred = Deferred()
    d.addBoth(lambda value: (result.callback(value) if not result.called else None) or value)
    return result.addTimeout(seconds, reactor)


def spawn(name: str, args: list[str], env: dict[str, str], cwd: str) -> Child:
    """Start ``args`` (``args[0]`` is the executable path) as a :class:`Child`."""
    child = Child(name)
    reactor.spawnProcess(child, args[0], args, env=env, path=cwd)
    return child
