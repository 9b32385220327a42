"""Fixtures for the notification tests: a small lab on a real store, and real peers on
loopback (an SMTP server, ngircd, an HTTP server for callbacks).

- ``nlab``: users alice (names, email, IRC profile), bob, carol (no email), root
  (superuser); device type qemu, worker w1, qemu01 (owner bob) and qemu02 (no owner);
  helpers to submit a job with a notify block and drive it through its states.
- ``smtp_server``: an ESMTP server on 127.0.0.1:0 that keeps the messages it receives.
- ``ngircd``: Debian's ngircd on a free loopback port (the test fails when it is absent).
- ``http_sink``: a twisted.web server on 127.0.0.1:0 that keeps the requests it receives.
- ``make_notifier(**settings)``: a started NotificationService on ``nlab``'s store.

Plain helpers (``wait_for``, ``job_definition``, ``notify_settings``, ``free_port``) are
in ``notifylab.py``.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from types import SimpleNamespace
from typing import Any, Callable

import pytest
import pytest_twisted
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.mail import imap4, smtp
from twisted.web.resource import Resource
from twisted.web.server import Site
from zope.interface import implementer

from lavad import devices, statemachine, submission, users
from lavad.models import WorkerState
from notifylab import free_port, job_definition, notify_settings, wait_for


@pytest_twisted.async_yield_fixture
async def nlab(store: Any, tmp_path: Any) -> Any:
    """The lab of these tests on the ``store`` fixture (see the module docstring)."""
    run = store.run
    ns = SimpleNamespace(store=store, data_dir=str(tmp_path / "data"))
    os.makedirs(ns.data_dir, exist_ok=True)

    async def user(name: str, **fields: Any) -> Any:
        uid = (await run(users.thd_add_user, name, **fields))["id"]
        return await run(users.thd_principal, uid)

    ns.alice = await user("alice", email="alice@example.com", first_name="Alice",
                          last_name="Doe", irc_handle="alice-irc", irc_server="")
    ns.bob = await user("bob", email="bob@example.com")
    ns.carol = await user("carol")
    ns.root = await user("root", is_superuser=True)
    await run(devices.thd_add_device_type, "qemu")
    await run(devices.thd_add_worker, "w1")
    await run(devices.thd_set_worker_state, "w1", WorkerState.ONLINE)
    await run(devices.thd_add_device, "qemu01", "qemu", worker_host="w1", health="Good",
              physical_owner="bob")
    await run(devices.thd_add_device, "qemu02", "qemu", worker_host="w1", health="Good")

    async def submit(notify: dict[str, Any] | None, submitter: Any = None,
                     **changes: Any) -> int:
        [job_id] = await run(submission.thd_submit, submitter or ns.alice,
                             job_definition(notify, **changes))
        return int(job_id)

    async def start(job_id: int, device: str = "qemu01") -> None:
        await run(statemachine.thd_schedule_job, job_id, device)
        await run(statemachine.thd_job_running, job_id)

    async def finish(job_id: int, result: str = "pass") -> None:
        await run(statemachine.thd_job_finished, job_id, result)

    ns.user, ns.submit, ns.start, ns.finish = user, submit, start, finish
    yield ns


# -- SMTP ------------------------------------------------------------------------------------
class _Message:
    def __init__(self, box: "Mailbox", sender: bytes, recipient: bytes) -> None:
        self.box = box
        self.lines: list[bytes] = []
        self.sender, self.recipient = sender, recipient

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def eomReceived(self) -> defer.Deferred:
        raw = b"\n".join(self.lines) + b"\n"
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.box.received(SimpleNamespace(sender=self.sender, recipient=self.recipient,
                                          raw=raw, message=parsed,
                                          body=parsed.get_content()))
        return defer.succeed(b"queued")

    def connectionLost(self) -> None:
        pass


@implementer(smtp.IMessageDelivery)
class Mailbox:
    """An IMessageDelivery that keeps every message; ``wait(n)`` fires at the n-th."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._waiters: list[tuple[int, defer.Deferred]] = []
        self.sender = b""

    def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> bytes:
        return b"Received: by the lavad test server"

    def validateFrom(self, helo: Any, origin: Any) -> Any:
        self.sender = bytes(origin)
        return origin

    def validateTo(self, user: Any) -> Callable[[], _Message]:
        sender, recipient = self.sender, bytes(user.dest)
        return lambda: _Message(self, sender, recipient)

    def received(self, message: Any) -> None:
        self.messages.append(message)
        ready = [(n, d) for n, d in self._waiters if len(self.messages) >= n]
        self._waiters = [(n, d) for n, d in self._waiters if len(self.messages) < n]
        for n, d in ready:
            d.callback(self.messages[:n])

    def wait(self, count: int = 1, seconds: float = 10.0) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        if len(self.messages) >= count:
            d.callback(self.messages[:count])
        else:
            self._waiters.append((count, d))
        return wait_for(d, seconds)


@implementer(IRealm)
class _Realm:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    def requestAvatar(self, avatar_id: Any, mind: Any, *interfaces: Any) -> Any:
        self.box.logins = getattr(self.box, "logins", []) + [avatar_id]
        return smtp.IMessageDelivery, self.box, lambda: None


class _ESMTPFactory(smtp.SMTPFactory):
    protocol = smtp.ESMTP

    def __init__(self, box: Mailbox, login: tuple[bytes, bytes] | None) -> None:
        super().__init__()
        self.box, self.login = box, login
        if login is not None:
            self.portal = Portal(_Realm(box), [InMemoryUsernamePasswordDatabaseDontUse(
                **{login[0].decode(): login[1]})])
        else:
            self.delivery = box

    def buildProtocol(self, addr: Any) -> Any:
        p = super().buildProtocol(addr)
        p.delivery = None if self.login is not None else self.box
        if self.login is not None:
            p.challengers = {b"LOGIN": imap4.LOGINCredentials}
        return p


async def _smtp(login: tuple[bytes, bytes] | None) -> Any:
    box = Mailbox()
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        _ESMTPFactory(box, login))
    box.port = port.getHost().port
    box.listening = port
    return box


@pytest_twisted.async_yield_fixture
async def smtp_server() -> Any:
    """An ESMTP server on loopback; ``.port``, ``.messages``, ``.wait(n)``."""
    box = await _smtp(None)
    yield box
    await box.listening.stopListening()


@pytest_twisted.async_yield_fixture
async def smtp_server_login() -> Any:
    """The same, requiring AUTH LOGIN as lava / s3cret."""
    box = await _smtp((b"lava", b"s3cret"))
    yield box
    await box.listening.stopListening()


# -- IRC -------------------------------------------------------------------------------------------
class _Ngircd(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.ready: defer.Deferred = defer.Deferred()
        self.ended: defer.Deferred = defer.Deferred()
        self.output = b""

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if not self.ready.called and b" ready." in self.output:
            self.ready.callback(None)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        if not self.ready.called:
            self.ready.errback(RuntimeError("ngircd ended before it was ready:\n%s"
                                            % self.output.decode("utf-8", "replace")))
        self.ended.callback(None)


NGIRCD_CONF = """\
[Global]
Name = irc.lavad.test
Info = lavad test server
AdminInfo1 = lavad tests
AdminInfo2 = loopback
AdminEMail = root@localhost
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = "lavad test"
{uid}
[Limits]
MaxConnectionsIP = 0
PingTimeout = 120
[Options]
Ident = no
DNS = no
PAM = no
"""


@pytest_twisted.async_yield_fixture
async def ngircd(tmp_path: Any) -> Any:
    """Debian's ngircd on a free loopback port: ``.port``, ``.address`` (host:port)."""
    binary = shutil.which("ngircd") or ("/usr/sbin/ngircd" if os.path.exists(
        "/usr/sbin/ngircd") else None)
    if binary is None:
        pytest.fail("ngircd is not installed: the IRC delivery tests need Debian's ngircd "
                    "(apt-get install ngircd, or run scripts/ci-system-deps.sh as root)")
    port = free_port()
    uid = "ServerUID = 65534\nServerGID = 65534" if os.getuid() == 0 else ""
    conf = tmp_path / "ngircd.conf"
    conf.write_text(NGIRCD_CONF.format(port=port, uid=uid))
    proc = _Ngircd()
    transport = reactor.spawnProcess(proc, binary, [binary, "--nodaemon", "--config",
                                                    str(conf)], env={"PATH": "/usr/bin"})
    try:
        await wait_for(proc.ready, 20)
    except BaseException:
        transport.signalProcess("KILL")
        await proc.ended
        raise
    yield SimpleNamespace(port=port, address="127.0.0.1:%d" % port, proc=proc)
    transport.signalProcess("TERM")
    await wait_for(proc.ended, 20)


# -- HTTP --------------------------------------------------------------------------------------
class _Sink(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []
        self._waiters: list[tuple[int, defer.Deferred]] = []
        self.code = 200

    def render(self, request: Any) -> bytes:
        self.requests.append(SimpleNamespace(
            method=request.method.decode(), path=request.uri.decode(),
            headers={k.decode().lower(): v[0].decode()
                     for k, v in request.requestHeaders.getAllRawHeaders()},
            body=request.content.read()))
        request.setResponseCode(self.code)
        ready = [(n, d) for n, d in self._waiters if len(self.requests) >= n]
        self._waiters = [(n, d) for n, d in self._waiters if len(self.requests) < n]
        for n, d in ready:
            reactor.callLater(0, d.callback, self.requests[:n])
        return b"ok"

    def wait(self, count: int = 1, seconds: float = 10.0) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        if len(self.requests) >= count:
            d.callback(self.requests[:count])
        else:
            self._waiters.append((count, d))
        return wait_for(d, seconds)


@pytest_twisted.async_yield_fixture
async def http_sink() -> Any:
    """A twisted.web server on loopback keeping every request: ``.url``, ``.requests``,
    ``.wait(n)``; ``.code`` is the status it answers."""
    sink = _Sink()
    site = Site(sink)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    sink.url = "http://127.0.0.1:%d" % port.getHost().port
    yield sink
    await port.stopListening()


# -- the service --------------------------------------------------------------------------------
@pytest_twisted.async_yield_fixture
async def make_notifier(nlab: Any, tmp_path: Any) -> Any:
    """``make_notifier(**settings)``: a started NotificationService on ``nlab``'s store
    (settings from :func:`notify_settings`), stopped after the test."""
    from lavad.notify import NotificationService

    started: list[Any] = []

    def make(http_client_factory: Any = None, **overrides: Any) -> Any:
        service = NotificationService(nlab.store, nlab.store.bus,
                                      notify_settings(tmp_path, **overrides), reactor,
                                      http_client_factory)
        service.startService()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stopService()
