"""lavad.service: start-up, the HTTP listener, the outbox drain, failures and stop, in process."""

from __future__ import annotations

import os
import sqlite3

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory
from twisted.logger import globalLogPublisher
from twisted.web.client import HTTPConnectionPool

from lavad.config import load_settings
from lavad.service import DATABASE_NAME, LavadService
from lavad.store.schema import SCHEMA_VERSION, open_database
from lavad.store.tx import SyncStore


@pytest.fixture
def log_events():
    """Every log event emitted during the test."""
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def lavad_messages(events):
    return [e for e in events if e.get("log_namespace", "").startswith("lavad.service")]


async def start_failing(settings, reactor):
    service = LavadService(settings, reactor)
    service.startService()
    await service.when_started()
    await service.stopService()
    return service


@pytest_twisted.ensureDeferred
async def test_serves_http_on_the_configured_endpoint(lavad_service):
    """A started service answers the REST API on its real port and logs that port."""
    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await treq.get(lavad_service.base_url + "/api/v0.2/system/version/", pool=pool)
    assert response.code == 200
    assert await response.json() == {"version": "2026.07"}
    assert lavad_service.port.getHost().port != 0
    assert lavad_service.port.factory.displayTracebacks is False


@pytest_twisted.ensureDeferred
async def test_start_creates_data_dir_and_store(lavad_service, settings):
    """Start-up creates the data directory and opens the store and the lab on it."""
    path = os.path.join(settings.data_dir, DATABASE_NAME)
    assert os.path.isfile(path)
    assert await lavad_service.store.run(
        lambda tx: tx.scalar("PRAGMA user_version")) == SCHEMA_VERSION
    assert lavad_service.store.bus is lavad_service.bus
    assert lavad_service.lab is not None
    assert lavad_service.lab.store is lavad_service.store
    assert lavad_service.exit_status is None
    assert lavad_service._reactor.stop_calls == 0


@pytest_twisted.ensureDeferred
async def test_outbox_events_reach_the_bus(lavad_service, settings):
    """Events another process (lavad manage) writes to the outbox are published on the bus."""
    arrived: Deferred = Deferred()
    lavad_service.bus.subscribe(
        lambda event: arrived.callback(event) if not arrived.called else None, kind="lab")
    conn = open_database(os.path.join(settings.data_dir, DATABASE_NAME))
    try:
        SyncStore(conn).run(lambda tx: tx.emit("lab", {"what": "from manage"}, "alice"))
    finally:
        conn.close()
    event = await arrived.addTimeout(10, reactor)
    assert (event.data, event.username) == ({"what": "from manage"}, "alice")


@pytest_twisted.ensureDeferred
async def test_stop_closes_port_then_store(settings, no_stop_reactor):
    """stopService stops listening and waits for the store thread to finish."""
    service = LavadService(settings, no_stop_reactor)
    service.startService()
    await service.when_started()
    store, port = service.store, service.port
    pending = store.run(lambda tx: tx.execute("INSERT INTO tags (name) VALUES ('late')"))
    await service.stopService()
    assert pending.called
    assert not store._thread.is_alive()
    assert not port.connected
    assert (service.store, service.port, service.lab) == (None, None, None)
    conn = sqlite3.connect(os.path.join(settings.data_dir, DATABASE_NAME))
    assert conn.execute("SELECT name FROM tags").fetchall() == [("late",)]
    conn.close()


@pytest_twisted.ensureDeferred
async def test_unusable_data_dir_stops_with_one_paragraph(tmp_path, log_events, no_stop_reactor):
    """A data directory under a regular file fails start-up with one clear message."""
    (tmp_path / "file").write_text("")
    settings = load_settings({"data_dir": str(tmp_path / "file" / "data"),
                              "http": "tcp:0:interface=127.0.0.1"})
    service = await start_failing(settings, no_stop_reactor)
    assert service.exit_status == 1
    assert no_stop_reactor.stop_calls == 1
    [critical] = [e for e in lavad_messages(log_events) if e["log_level"].name == "critical"]
    message = critical["message"]
    assert message.startswith("lavad could not start: the data directory")
    assert str(tmp_path / "file" / "data") in message and "\n" not in message
    assert "log_failure" not in critical
    assert service.port is None


@pytest_twisted.ensureDeferred
async def test_port_in_use_stops_with_one_paragraph(tmp_path, log_events, no_stop_reactor):
    """An HTTP port already in use fails start-up with one clear message; the store closes."""
    busy = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
    try:
        service = await start_failing(load_settings(
            {"data_dir": str(tmp_path / "data"), "event_socket": "tcp://127.0.0.1:*",
             "http": "tcp:%d:interface=127.0.0.1" % busy.getHost().port}), no_stop_reactor)
    finally:
        await busy.stopListening()
    assert service.exit_status == 1
    assert no_stop_reactor.stop_calls == 1
    [critical] = [e for e in lavad_messages(log_events) if e["log_level"].name == "critical"]
    assert critical["message"].startswith("lavad could not start: it cannot listen for HTTP")
    assert "address already in use" in critical["message"].lower()
    assert service.store is None


@pytest_twisted.ensureDeferred
async def test_newer_schema_stops_with_one_paragraph(tmp_path, log_events, no_stop_reactor):
    """A database from a newer lavad fails start-up with the SchemaError's explanation."""
    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(str(tmp_path / "data" / DATABASE_NAME))
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    service = await start_failing(load_settings(
        {"data_dir": str(tmp_path / "data"), "http": "tcp:0:interface=127.0.0.1"}),
        no_stop_reactor)
    assert service.exit_status == 1
    assert no_stop_reactor.stop_calls == 1
    [critical] = [e for e in lavad_messages(log_events) if e["log_level"].name == "critical"]
    assert critical["message"].startswith("lavad could not start: the database")
    assert "newer lavad" in critical["message"]
