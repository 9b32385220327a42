"""One transaction's view of the store: the connection, the clock and the events it emits."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from lavad.events import Event

Clock = Callable[[], float]


def wall_clock() -> float:
    return time.time()


def iso(ts: float) -> str:
    """The stored form of a timestamp: ISO 8601, UTC, microseconds, no zone."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


class Tx:
    """Handed to every ``thd_*`` function.

    ``emit`` collects events; they reach the bus only if the transaction
    commits.  With ``outbox=True`` (a process other than the server, such as
    ``lavad manage``) they are written to the ``event_outbox`` table instead,
    which the server drains onto its bus.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock = wall_clock,
                 outbox: bool = False) -> None:
        self.conn = conn
        self._clock = clock
        self.outbox = outbox
        self.events: list[Event] = []
        self._now: str | None = None

    def now(self) -> str:
        """The transaction's timestamp (the same for every write of this transaction)."""
        if self._now is None:
            self._now = iso(self._clock())
        return self._now

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def tuples(self, sql: str,
               params: Iterable[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Like :meth:`all`, as plain tuples (quicker to make, for many rows read by
        position)."""
        cursor = self.conn.execute(sql, params)
        cursor.row_factory = None  # type: ignore[assignment]  # read when fetching
        return cursor.fetchall()

    def scalar(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def emit(self, kind: str, data: dict[str, Any], username: str = "lava",
             restrict: dict[str, Any] | None = None) -> Event:
        event = Event(kind=kind, data=data, username=username or "lava", time=self.now(),
                      restrict=restrict or {})
        if self.outbox:
            self.conn.execute(
                "INSERT INTO event_outbox (created, kind, payload) VALUES (?, ?, ?)",
                (self.now(), kind, json.dumps(event.to_json())))
        else:
            self.events.append(event)
        return event


def run_in_transaction(tx: Tx, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(tx, ...)`` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when it raises)."""
    tx.conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(tx, *args, **kwargs)
        tx.conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (an interrupted or failed statement, a
        # failed COMMIT): a second ROLLBACK would hide the real error behind
        # "cannot rollback - no transaction is active".
        if tx.conn.in_transaction:
            tx.conn.execute("ROLLBACK")
        tx.events.clear()
        raise
    return result


class SyncStore:
    """The store used outside the server (``lavad manage``): same functions, this thread.

    Events go to the outbox so a running server publishes them.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock = wall_clock) -> None:
        self.conn = conn
        self._clock = clock

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return run_in_transaction(Tx(self.conn, self._clock, outbox=True), fn, *args, **kwargs)

    def close(self) -> None:
        self.conn.close()


def thd_drain_outbox(tx: Tx) -> list[Event]:
    """Take the events other processes left in the outbox (called by the server)."""
    rows = tx.all("SELECT id, payload FROM event_outbox ORDER BY id")
    if rows:
        tx.execute("DELETE FROM event_outbox WHERE id <= ?", (rows[-1]["id"],))
    events = [Event.from_json(json.loads(r["payload"])) for r in rows]
    tx.events.extend(events)
    return events
