"""A real ``twistd -n lavad`` process: it serves, stops in order, and fails start-up clearly.

Waits are bounded by reading the process's log, never by sleeping.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import Factory, ProcessProtocol
from twisted.web.client import HTTPConnectionPool

from lavad.tap import STARTUP_FAILURE_SIGNAL

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
WAIT = 30  # seconds: the bound on every wait for the process


class Twistd(ProcessProtocol):
    """A twistd child whose output is searched as it arrives."""

    def __init__(self) -> None:
        self.output = ""
        self._waiting: list[tuple[re.Pattern, Deferred]] = []
        self._ended: Deferred = Deferred()
        self.reason = None

    def outReceived(self, data: bytes) -> None:
        self.output += data.decode("utf-8", "replace")
        for entry in list(self._waiting):
            match = entry[0].search(self.output)
            if match:
                self._waiting.remove(entry)
                entry[1].callback(match)

    errReceived = outReceived

    def processEnded(self, reason) -> None:
        self.reason = reason
        for _, d in self._waiting:
            d.errback(AssertionError("twistd ended before logging the expected line:\n"
                                     + self.output))
        self._waiting = []
        self._ended.callback(reason.value)

    def wait_for(self, pattern: str) -> Deferred:
        """Fires with the first match of ``pattern`` in the output (within WAIT seconds)."""
        regex = re.compile(pattern)
        match = regex.search(self.output)
        if match:
            d: Deferred = Deferred()
            d.callback(match)
            return d
        d = Deferred()
        self._waiting.append((regex, d))
        return d.addTimeout(WAIT, reactor, onTimeoutCancel=self._timed_out)

    def _timed_out(self, result, timeout):
        self.kill()
        raise AssertionError("no such line within %ss; twistd said:\n%s" % (timeout, self.output))

    def ended(self) -> Deferred:
        """Fires with the ProcessDone/ProcessTerminated of the child (within WAIT seconds)."""
        d: Deferred = Deferred()
        self._ended.addBoth(lambda value: (d.callback(value), value)[1])
        return d.addTimeout(WAIT, reactor, onTimeoutCancel=self._timed_out)

    def kill(self) -> None:
        if self.reason is None:
            try:
                self.transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass


def spawn(tmp_path, *args: str) -> Twistd:
    """Start ``twistd -n lavad ARGS`` in ``tmp_path`` with the test's environment
    (events on a free loopback port unless ARGS say otherwise)."""
    proto = Twistd()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    argv = [TWISTD, "-n", "--pidfile=", "lavad", "--event-socket", "tcp://127.0.0.1:*", *args]
    reactor.spawnProcess(proto, TWISTD, argv, env=env, path=str(tmp_path))
    return proto


@pytest.fixture
def processes():
    """Twistd children of the test; any still running at the end are killed and reaped."""
    started: list[Twistd] = []
    yield started
    for proto in started:
        if proto.reason is None:
            proto.kill()
            pytest_twisted.blockon(proto._ended)


def assert_failed_start_up(value, output: str) -> None:
    assert isinstance(value, ProcessTerminated), output
    assert value.exitCode not in (None, 0) or value.signal == STARTUP_FAILURE_SIGNAL, output
    assert "Traceback" not in output, output


def the_one_critical_paragraph(output: str) -> str:
    lines = [line for line in output.splitlines() if "#critical]" in line]
    assert len(lines) == 1, output
    return lines[0].split("#critical] ", 1)[1]


@pytest_twisted.ensureDeferred
async def test_serves_then_stops_in_order_on_sigterm(tmp_path, processes):
    """twistd -n lavad listens on its real port, answers the API and stops in order on SIGTERM."""
    proto = spawn(tmp_path, "--http", "tcp:0:interface=127.0.0.1",
                  "--data-dir", str(tmp_path / "data"))
    processes.append(proto)
    match = await proto.wait_for(r"lavad HTTP listening on 127\.0\.0\.1:(\d+)")
    port = int(match.group(1))
    assert port != 0
    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await treq.get("http://127.0.0.1:%d/api/v0.2/system/version/" % port, pool=pool)
    assert response.code == 200
    assert await response.text() == '{"version":"2026.07"}'
    assert (tmp_path / "data" / "lavad.sqlite3").is_file()

    proto.transport.signalProcess("TERM")
    value = await proto.ended()
    output = proto.output
    # Stock twistd re-raises SIGTERM after its orderly shutdown.
    assert isinstance(value, ProcessDone) or value.signal == signal.SIGTERM, output
    order = ["Received SIGTERM", "lavad HTTP stopped listening", "lavad store closed",
             "lavad stopped", "Main loop terminated.", "Server Shut Down."]
    positions = [output.find(line) for line in order]
    assert -1 not in positions and positions == sorted(positions), output
    assert "Traceback" not in output and "#critical]" not in output, output
    assert not (tmp_path / "twistd.pid").exists()


@pytest_twisted.ensureDeferred
async def test_port_in_use_fails_with_one_paragraph(tmp_path, processes):
    """An HTTP port in use ends twistd with a failure status and one clear paragraph."""
    busy = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
    try:
        endpoint = "tcp:%d:interface=127.0.0.1" % busy.getHost().port
        proto = spawn(tmp_path, "--http", endpoint, "--data-dir", str(tmp_path / "data"))
        processes.append(proto)
        value = await proto.ended()
    finally:
        await busy.stopListening()
    assert_failed_start_up(value, proto.output)
    message = the_one_critical_paragraph(proto.output)
    assert message.startswith("lavad could not start: it cannot listen for HTTP on %s"
                              % endpoint), message
    assert "Address already in use" in message and "--http" in message
    assert "lavad store closed" in proto.output


@pytest_twisted.ensureDeferred
async def test_unwritable_data_dir_fails_with_one_paragraph(tmp_path, processes):
    """A data directory that cannot be created ends twistd with a failure and a clear message."""
    (tmp_path / "plain-file").write_text("not a directory\n")
    data_dir = tmp_path / "plain-file" / "data"
    proto = spawn(tmp_path, "--http", "tcp:0:interface=127.0.0.1", "--data-dir", str(data_dir))
    processes.append(proto)
    value = await proto.ended()
    assert_failed_start_up(value, proto.output)
    message = the_one_critical_paragraph(proto.output)
    assert message.startswith("lavad could not start: the data directory %s" % data_dir)
    assert "--data-dir" in message
    assert "lavad HTTP listening" not in proto.output


@pytest_twisted.ensureDeferred
async def test_newer_database_fails_with_one_paragraph(tmp_path, processes):
    """A database written by a newer lavad ends twistd with a failure and says so."""
    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(str(tmp_path / "data" / "lavad.sqlite3"))
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    proto = spawn(tmp_path, "--http", "tcp:0:interface=127.0.0.1",
                  "--data-dir", str(tmp_path / "data"))
    processes.append(proto)
    value = await proto.ended()
    assert_failed_start_up(value, proto.output)
    message = the_one_critical_paragraph(proto.output)
    assert "newer lavad" in message


@pytest_twisted.ensureDeferred
async def test_bad_configuration_is_a_usage_error(tmp_path, processes):
    """Configuration errors stop twistd before start-up, all in one message, exit status 1."""
    config = tmp_path / "lavad.yml"
    config.write_text("ALLOWED_HOSTS: ['*']\nEMAIL_PORT: many\n")
    proto = spawn(tmp_path, "--config", str(config), "--http", "tcp:what")
    processes.append(proto)
    value = await proto.ended()
    assert isinstance(value, ProcessTerminated) and value.exitCode == 1, proto.output
    assert "lavad cannot use this configuration (3 errors): " in proto.output
    assert "Traceback" not in proto.output
    assert not (tmp_path / "lavad-data").exists()
