"""lavad.store.thread: the one thread that owns the server's SQLite connection."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import pytest_twisted
from twisted.internet import reactor

from lavad.events import EventBus
from lavad.store.schema import SCHEMA_VERSION, SchemaError
from lavad.store.thread import StoreThread


class Boom(Exception):
    pass


def thd_add_tag(tx, name, emit=True):
    tx.execute("INSERT INTO tags (name, description) VALUES (?, '')", (name,))
    if emit:
        tx.emit("lab", {"tag": name})
    return tx.scalar("SELECT id FROM tags WHERE name = ?", (name,))


def thd_tag_names(tx):
    return [row["name"] for row in tx.all("SELECT name FROM tags ORDER BY name")]


def committed_tag_names(path):
    """The tags another connection sees: only what was committed."""
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM tags ORDER BY name")]
    finally:
        conn.close()


def db_path(store):
    return store._path


@pytest_twisted.ensureDeferred
async def test_work_runs_off_the_reactor_thread(store):
    """Store functions run on the store thread, never on the reactor's."""
    ident = await store.run(lambda tx: threading.get_ident())
    assert ident != threading.get_ident()
    assert await store.run(lambda tx: threading.current_thread().name) == "lavad-store"


@pytest_twisted.ensureDeferred
async def test_start_fires_with_the_schema_version(tmp_path):
    """start() opens and migrates the database and fires with its schema version."""
    thread = StoreThread(reactor, str(tmp_path / "new.sqlite3"))
    try:
        assert await thread.start() == SCHEMA_VERSION
    finally:
        await thread.stop()


@pytest_twisted.ensureDeferred
async def test_commits(store):
    """A function that returns commits its writes; other connections see them."""
    tag_id = await store.run(thd_add_tag, "t1")
    assert isinstance(tag_id, int)
    assert await store.run(thd_tag_names) == ["t1"]
    assert committed_tag_names(db_path(store)) == ["t1"]


@pytest_twisted.ensureDeferred
async def test_rolls_back_on_exception(store):
    """A function that raises leaves nothing written and fails the caller's Deferred."""
    seen = []
    store.bus.subscribe(seen.append)

    def thd_add_then_fail(tx):
        thd_add_tag(tx, "half")
        raise Boom("no")

    with pytest.raises(Boom):
        await store.run(thd_add_then_fail)
    assert await store.run(thd_tag_names) == []
    assert committed_tag_names(db_path(store)) == []
    assert seen == []


@pytest_twisted.ensureDeferred
async def test_events_published_after_commit(store):
    """Events reach the bus on the reactor thread, after the commit, before the caller."""
    observed = []

    def subscriber(event):
        observed.append((event.data, threading.get_ident(),
                         committed_tag_names(db_path(store))))

    store.bus.subscribe(subscriber)
    d = store.run(thd_add_tag, "t2")
    d.addCallback(lambda result: (result, list(observed)))
    _, seen_by_caller = await d
    assert seen_by_caller == [({"tag": "t2"}, threading.get_ident(), ["t2"])]


@pytest_twisted.ensureDeferred
async def test_refuses_a_newer_schema(tmp_path):
    """A database written by a newer lavad is refused with a SchemaError saying so."""
    path = str(tmp_path / "newer.sqlite3")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = %d" % (SCHEMA_VERSION + 1))
    conn.close()
    thread = StoreThread(reactor, path, EventBus())
    try:
        with pytest.raises(SchemaError) as info:
            await thread.start()
        assert "newer lavad" in str(info.value)
        assert "version %d" % (SCHEMA_VERSION + 1) in str(info.value)
    finally:
        await thread.stop()


@pytest_twisted.ensureDeferred
async def test_stop_finishes_queued_work(tmp_path):
    """stop() fires only after queued work has committed and the thread has ended."""
    path = str(tmp_path / "stop.sqlite3")
    thread = StoreThread(reactor, path)
    await thread.start()
    pending = [thread.run(thd_add_tag, "t%d" % i, False) for i in range(20)]
    await thread.stop()
    assert all(d.called for d in pending)
    assert not thread._thread.is_alive()
    assert len(committed_tag_names(path)) == 20
    with pytest.raises(RuntimeError):
        thread.run(thd_tag_names)


class _Result:
    """A call's result that can be watched with a weak reference."""


@pytest_twisted.ensureDeferred
async def test_thread_keeps_nothing_of_a_finished_call(store):
    """Once a call's result is delivered the thread holds no reference to it (nor to its
    arguments): checked by the next call, on the thread itself."""
    import gc
    import weakref

    argument = _Result()
    watched = {"argument": weakref.ref(argument)}

    def thd_make(tx, arg):
        result = _Result()
        watched["result"] = weakref.ref(result)
        return result

    result = await store.run(thd_make, argument)
    assert isinstance(result, _Result)
    del result, argument

    def thd_alive(tx):
        gc.collect()
        return sorted(name for name, ref in watched.items() if ref() is not None)

    assert await store.run(thd_alive) == []
