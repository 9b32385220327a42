"""The event bus, transactional emission and the outbox (lavad/events.py, lavad/store/tx.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twisted.logger import Logger

from lavad import devices, users
from lavad.events import Event, EventBus
from lavad.store.tx import Tx, run_in_transaction, thd_drain_outbox


def event(n: int, kind: str = "lab") -> Event:
    return Event(kind=kind, data={"n": n})


def logging_bus() -> tuple[EventBus, list[dict[str, Any]]]:
    """A bus whose log events are captured in a list."""
    logged: list[dict[str, Any]] = []
    bus = EventBus()
    bus.log = Logger(namespace="test", observer=logged.append)
    return bus, logged


def test_bus_delivers_in_order_to_every_subscriber() -> None:
    """Each subscriber receives every event in publication order, subscribers in order."""
    bus = EventBus()
    seen: list[tuple[str, int]] = []
    bus.subscribe(lambda e: seen.append(("a", e.data["n"])))
    bus.subscribe(lambda e: seen.append(("b", e.data["n"])))
    for n in range(3):
        bus.publish(event(n))
    assert seen == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_bus_kind_filter_and_unsubscribe() -> None:
    """A subscription for one kind sees only that kind, and stops after unsubscribing."""
    bus = EventBus()
    seen: list[str] = []
    unsubscribe = bus.subscribe(lambda e: seen.append(e.kind), kind="device")
    bus.publish(event(0, "testjob"))
    bus.publish(event(1, "device"))
    unsubscribe()
    unsubscribe()  # twice is harmless
    bus.publish(event(2, "device"))
    assert seen == ["device"]


def test_failing_consumer_is_logged_and_others_still_run() -> None:
    """A consumer that raises is logged with its traceback; later consumers still get the event."""
    bus, logged = logging_bus()
    seen: list[tuple[str, int]] = []

    def broken(e: Event) -> None:
        raise ValueError("consumer bug")
    bus.subscribe(lambda e: seen.append(("before", e.data["n"])))
    bus.subscribe(broken)
    bus.subscribe(lambda e: seen.append(("after", e.data["n"])))
    bus.publish(event(7))  # does not raise
    assert seen == [("before", 7), ("after", 7)]
    (entry,) = logged
    assert entry["log_failure"].check(ValueError)
    assert entry["kind"] == "lab"


def test_unsubscribing_during_publish_is_safe() -> None:
    """A consumer may unsubscribe itself while an event is being delivered."""
    bus = EventBus()
    seen: list[str] = []

    def once(e: Event) -> None:
        seen.append("once")
        unsubscribe()
    unsubscribe = bus.subscribe(once)
    bus.subscribe(lambda e: seen.append("always"))
    bus.publish(event(0))
    bus.publish(event(1))
    assert seen == ["once", "always", "always"]


def test_event_json_round_trip_keeps_key_order() -> None:
    """Event.to_json/from_json preserve every field and the payload's key order."""
    original = Event(kind="device", data={"health": "Good", "state": "Idle", "device": "d"},
                     username="lavaserver", time="2026-07-01T10:00:00.000000",
                     restrict={"device": "d"})
    copy = Event.from_json(json.loads(json.dumps(original.to_json())))
    assert copy == original
    assert list(copy.data) == ["health", "state", "device"]


def test_events_carry_the_transaction_time(db, clock) -> None:
    """Every event of one transaction carries that transaction's timestamp."""
    db.run(devices.thd_add_worker, "w1", health="Maintenance")
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_device, "d1", "qemu", health="Good", worker_host="w1")
    clock.now += 60
    events = db.events(devices.thd_update_worker, "w1", health="Active")
    assert len(events) == 2
    assert {e.time for e in events} == {"2026-07-01T10:01:00.000000"}


def test_rolled_back_transaction_publishes_nothing(db) -> None:
    """Events emitted by a transaction that raises are dropped with its writes."""
    bus = EventBus()
    published: list[Event] = []
    bus.subscribe(published.append)

    def add_then_fail(tx: Tx) -> None:
        users.thd_add_user(tx, "alice")
        devices.thd_add_worker(tx, "w1")
        assert len(tx.events) == 2
        raise RuntimeError("abort")

    tx = Tx(db.conn, db.clock)
    with pytest.raises(RuntimeError):
        run_in_transaction(tx, add_then_fail)
    for e in tx.events:  # what a db would hand the bus after the call
        bus.publish(e)
    assert tx.events == [] and published == []
    assert db.run(users.thd_list_users) == []
    assert db.run(devices.thd_list_workers) == []


def test_rolled_back_transaction_leaves_outbox_empty(db) -> None:
    """In outbox mode a failing transaction writes no outbox rows either."""
    def add_then_fail(tx: Tx) -> None:
        devices.thd_add_worker(tx, "w1")
        raise RuntimeError("abort")
    with pytest.raises(RuntimeError):
        db.run(add_then_fail)
    assert db.q("SELECT count(*) FROM event_outbox") == [(0,)]


def test_sync_store_writes_events_to_outbox(db) -> None:
    """SyncStore (lavad manage) stores events in event_outbox instead of keeping them."""
    db.run(devices.thd_add_worker, "w1")
    rows = db.q("SELECT kind, payload FROM event_outbox ORDER BY id")
    assert [r[0] for r in rows] == ["worker"]
    payload = json.loads(rows[0][1])
    assert payload["data"] == {"hostname": "w1", "health": "Active", "state": "Offline"}
    assert payload["username"] == "lavaserver"


def test_drain_outbox_returns_and_removes_events(db) -> None:
    """thd_drain_outbox returns the outbox events in order, removes them, and emits them."""
    db.run(devices.thd_add_worker, "w1")
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_device, "d1", "qemu")
    drained, tx = db.run_tx(thd_drain_outbox)
    assert [e.kind for e in drained] == ["worker", "lab", "device"]
    assert list(drained[2].data) == ["health", "state", "device", "device_type", "worker"]
    assert tx.events == drained  # handed to the bus after the commit
    assert db.q("SELECT count(*) FROM event_outbox") == [(0,)]
    assert db.run_tx(thd_drain_outbox)[0] == []


def test_drain_keeps_events_added_after_its_read(db) -> None:
    """Draining removes only what it read: a later outbox row waits for the next drain."""
    db.run(devices.thd_add_worker, "w1")

    def drain_then_add(tx: Tx) -> list[Event]:
        drained = thd_drain_outbox(tx)
        tx.execute("INSERT INTO event_outbox (created, kind, payload) VALUES (?, ?, ?)",
                   (tx.now(), "lab", json.dumps(event(9).to_json())))
        return drained
    drained, _tx = db.run_tx(drain_then_add)
    assert [e.kind for e in drained] == ["worker"]
    later, _tx = db.run_tx(thd_drain_outbox)
    assert [e.data for e in later] == [{"n": 9}]


def test_statement_rolled_back_by_sqlite_keeps_its_own_error(db) -> None:
    """When SQLite itself aborts the transaction, the caller sees that error and no events."""
    def interrupted(tx: Tx) -> None:
        devices.thd_add_worker(tx, "w1")
        tx.conn.set_progress_handler(lambda: 1, 1)  # abort the next statement
        try:
            tx.execute("INSERT INTO tags (name) SELECT hostname FROM workers")
        finally:
            tx.conn.set_progress_handler(None, 1)

    tx = Tx(db.conn, db.clock)
    with pytest.raises(Exception, match="interrupted"):
        run_in_transaction(tx, interrupted)
    assert tx.events == []
    assert not db.conn.in_transaction
    assert db.run(devices.thd_list_workers) == []
