"""Transport details without a network: the SMTP connection the settings ask for, IRC
server addresses, and the IRC queue's bounded retries on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock as MemoryReactor
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from lavad.config import load_settings
from lavad.notify import irc, mail


def settings(**values: Any) -> Any:
    return load_settings(dict({"email_host": "smtp.example.com", "email_port": 587}, **values))


def test_plain_smtp_never_starts_tls() -> None:
    """EMAIL_USE_TLS off: a plain connection, no STARTTLS even if offered, no login."""
    reactor = MemoryReactor()
    mail.send_email(reactor, settings(), "a@example.com", b"Subject: x\n\nbody\n")
    [(host, port, factory, timeout, _)] = reactor.tcpClients
    assert (host, port, timeout) == ("smtp.example.com", 587, mail.DEFAULT_TIMEOUT)
    protocol = factory.buildProtocol(None)
    assert protocol.context is None and not protocol.requireTransportSecurity
    assert not protocol.requireAuthentication and str(factory.fromEmail) == "root@localhost"


def test_starttls_and_login() -> None:
    """EMAIL_USE_TLS: STARTTLS is required; user and password: the relay's AUTH."""
    reactor = MemoryReactor()
    mail.send_email(reactor, settings(email_use_tls=True, email_host_user="u",
                                      email_host_password="p", email_timeout=7),
                    "a@example.com", b"x")
    [(_, _, factory, timeout, _)] = reactor.tcpClients
    protocol = factory.buildProtocol(None)
    assert timeout == 7 and protocol.context is not None
    assert protocol.requireTransportSecurity and protocol.requireAuthentication
    assert (protocol.username, protocol.secret) == (b"u", b"p")


def test_implicit_tls() -> None:
    """EMAIL_USE_SSL: TLS from the first byte (connectSSL), no STARTTLS."""
    reactor = MemoryReactor()
    mail.send_email(reactor, settings(email_use_ssl=True, email_port=465), "a@example.com",
                    b"x")
    [(host, port, factory, context, _, _)] = reactor.sslClients
    assert (host, port) == ("smtp.example.com", 465) and context is not None
    assert factory.buildProtocol(None).context is None


def test_cancelling_a_send_drops_the_attempt() -> None:
    """A cancelled (or timed-out) send disconnects and fails."""
    reactor = MemoryReactor()
    sending = mail.send_email(reactor, settings(), "a@example.com", b"x")
    failures: list[Any] = []
    sending.addErrback(failures.append)
    sending.cancel()
    assert failures[0].check(CancelledError) and reactor.connectors[0]._disconnected
    assert reactor.getDelayedCalls() == []


@pytest.mark.parametrize("text, tls, expected", [
    ("irc.example.com", False, ("irc.example.com", 6667, False)),
    ("irc.example.com:7000", False, ("irc.example.com", 7000, False)),
    ("irc.example.com", True, ("irc.example.com", 6697, True)),
    ("ircs://irc.example.com", False, ("irc.example.com", 6697, True)),
    ("ircs://irc.example.com:7070/", False, ("irc.example.com", 7070, True)),
    ("irc://irc.example.com", True, ("irc.example.com", 6667, False)),
    ("[::1]:6668", False, ("::1", 6668, False)),
    ("::1", False, ("::1", 6667, False)),
])
def test_irc_server_addresses(text: str, tls: bool, expected: tuple[Any, ...]) -> None:
    """host, host:port, irc:// and ircs:// (TLS) forms; 6667 or 6697 by default."""
    address = irc.parse_server(text, tls)
    assert (address.host, address.port, address.tls) == expected


class _Refusing:
    def __init__(self) -> None:
        self.attempts = 0

    def connect(self, factory: Any) -> Deferred:
        self.attempts += 1
        return fail(ConnectionRefusedError())


def test_irc_queue_gives_up_after_bounded_backoff() -> None:
    """A refusing server is tried ``attempts`` times, waiting the back-off between tries,
    then every pending message is reported not sent."""
    clock = Clock()
    endpoint = _Refusing()
    queue = irc.ServerQueue(clock, irc.parse_server("irc.example.com"), "lava-bot",
                            attempts=3, backoff=lambda n: 10.0 * n,
                            endpoint_factory=lambda reactor, address, timeout: endpoint)
    outcomes: list[bool] = []
    queue.send("alice", "hello").addCallback(outcomes.append)
    queue.send("bob", "hello").addCallback(outcomes.append)
    assert endpoint.attempts == 1 and outcomes == []
    clock.advance(10)
    assert endpoint.attempts == 2
    clock.advance(19)
    assert endpoint.attempts == 2
    clock.advance(1)
    assert endpoint.attempts == 3 and outcomes == [False, False] and queue.idle
    assert clock.getDelayedCalls() == []


class _Connected:
    """An endpoint whose connection is a StringTransport."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.transport = StringTransport()

    def connect(self, factory: Any) -> Deferred:
        d: Deferred = Deferred()
        self.protocol = factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        d.callback(self.protocol)
        return d


def test_irc_protocol_registers_sends_confirms_and_quits() -> None:
    """NICK/USER, then after the welcome one PRIVMSG per message and a PING; the PONG
    confirms them (a 401 marks that handle not sent); then QUIT."""
    clock = Clock()
    endpoint = _Connected()
    queue = irc.ServerQueue(clock, irc.parse_server("irc.example.com"), "lava-bot",
                            endpoint_factory=lambda reactor, address, timeout: endpoint)
    outcomes: list[tuple[str, bool]] = []
    queue.send("alice", "job 1 done").addCallback(lambda ok: outcomes.append(("alice", ok)))
    queue.send("ghost", "job 1 done").addCallback(lambda ok: outcomes.append(("ghost", ok)))
    sent = endpoint.transport.value().decode()
    assert sent.startswith("NICK lava-bot\r\nUSER lava-bot ")
    endpoint.transport.clear()
    endpoint.protocol.dataReceived(b":irc.example.com 001 lava-bot :Welcome\r\n")
    assert endpoint.transport.value() == (b"PRIVMSG alice :job 1 done\r\n"
                                          b"PRIVMSG ghost :job 1 done\r\n"
                                          b"PING :lavad-1\r\n")
    endpoint.transport.clear()
    endpoint.protocol.dataReceived(b":irc.example.com 401 lava-bot ghost :No such nick\r\n"
                                   b":irc.example.com PONG irc.example.com :lavad-1\r\n")
    assert outcomes == [("alice", True), ("ghost", False)]
    assert endpoint.transport.value() == b"QUIT :\r\n"
    endpoint.protocol.connectionLost(Failure(ConnectionDone()))
    assert queue.idle and clock.getDelayedCalls() == []


def test_irc_silence_after_connect_times_out() -> None:
    """A server that never sends the welcome is dropped after the reply timeout."""
    clock = Clock()
    endpoint = _Connected()
    queue = irc.ServerQueue(clock, irc.parse_server("irc.example.com"), "lava-bot",
                            attempts=1, reply_timeout=30,
                            endpoint_factory=lambda reactor, address, timeout: endpoint)
    outcomes: list[bool] = []
    queue.send("alice", "x").addCallback(outcomes.append)
    clock.advance(29)
    assert outcomes == [] and not endpoint.transport.disconnecting
    clock.advance(1)
    assert endpoint.transport.disconnecting or endpoint.transport.disconnected
    endpoint.protocol.connectionLost(Failure(ConnectionDone()))
    assert outcomes == [False] and queue.idle
