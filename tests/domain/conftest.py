"""``db``: a fresh lavad database per test, driven synchronously (no reactor, no store thread).

Named ``db`` so it does not shadow the StoreThread ``store`` fixture of tests/conftest.py.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

from lavad.store.schema import open_database
from lavad.store.tx import SyncStore, Tx, run_in_transaction


class Clock:
    """A settable wall clock, so timestamps (and token expiry) are deterministic."""

    def __init__(self, now: float = 1782900000.0) -> None:  # 2026-07-01T10:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now


class SyncDB:
    """Run ``thd_*`` functions in one transaction each, like the store thread does."""

    def __init__(self, conn: Any, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self.sync = SyncStore(conn, clock)

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Outbox mode, as ``lavad manage`` runs: events go to the event_outbox table."""
        return self.sync.run(fn, *args, **kwargs)

    def run_tx(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Tx]:
        """Server mode: the result and the Tx whose ``events`` the transaction emitted."""
        tx = Tx(self.conn, self.clock)
        return run_in_transaction(tx, fn, *args, **kwargs), tx

    def events(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """The events one call emits."""
        return self.run_tx(fn, *args, **kwargs)[1].events

    def q(self, sql: str, params: Any = ()) -> list[Any]:
        """Rows of a direct query, as tuples."""
        return [tuple(r) for r in self.conn.execute(sql, params).fetchall()]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Any, clock: Clock) -> Any:
    conn = open_database(os.path.join(str(tmp_path), "lavad.sqlite3"))
    yield SyncDB(conn, clock)
    conn.close()
