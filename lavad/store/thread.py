"""The store thread: the only thread that ever touches the server's SQLite connection.

Every call into SQLite goes through :meth:`StoreThread.run`, which queues a
function for the dedicated thread and returns a Deferred fired on the reactor
thread (via ``callFromThread``).  Functions that run there are named ``thd_*``
and take a :class:`~lavad.store.tx.Tx` as their first argument; they turn rows
into plain values before returning so nothing lazy escapes the thread.

Each call is one transaction.  The events it emitted are published on the bus
after the commit and before the caller's Deferred fires.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from lavad.events import Event, EventBus
from lavad.store.schema import open_database
from lavad.store.tx import Clock, Tx, run_in_transaction, wall_clock

_STOP = object()


class StoreThread:
    """Own one SQLite connection on one thread and run queued work on it."""

    def __init__(self, reactor: Any, path: str, bus: EventBus | None = None,
                 clock: Clock = wall_clock) -> None:
        self._reactor = reactor
        self._path = path
        self.bus = bus if bus is not None else EventBus()
        self._clock = clock
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopped: Deferred | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> Deferred:
        """Start the thread and open (and migrate) the database there.

        Fires with the schema version once the database is usable, or fails
        with the error that prevented opening it.
        """
        self._thread = threading.Thread(target=self._main, name="lavad-store", daemon=True)
        self._thread.start()
        return self.run(lambda tx: tx.conn.execute("PRAGMA user_version").fetchone()[0])

    def stop(self) -> Deferred:
        """Finish the queued work, close the connection, join the thread."""
        if self._thread is None:
            return succeed(None)
        if self._stopped is None:
            self._stopped = Deferred()
            self._queue.put(_STOP)
        return self._stopped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._stopped is None

    # -- work ------------------------------------------------------------
    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred:
        """Run ``fn(tx, *args, **kwargs)`` in one transaction on the store thread."""
        if self._stopped is not None:
            raise RuntimeError("the store is stopping")
        d: Deferred = Deferred()
        self._queue.put((d, fn, args, kwargs))
        return d

    def _main(self) -> None:
        conn = None
        open_error: BaseException | None = None
        try:
            conn = open_database(self._path)
        except BaseException as exc:  # reported to every caller below
            open_error = exc
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            self._run_one(conn, open_error, *item)
            # Nothing of the call stays referenced here while the thread waits for the
            # next one (a 3 MiB result would stay resident until then).
            del item
        if conn is not None:
            conn.close()
        self._reactor.callFromThread(self._finished)

    def _run_one(self, conn: Any, open_error: BaseException | None, d: Deferred,
                 fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> None:
        if open_error is not None:
            self._reactor.callFromThread(d.errback, Failure(open_error))
            return
        tx = Tx(conn, self._clock)
        try:
            result = run_in_transaction(tx, fn, *args, **kwargs)
        except BaseException:
            self._reactor.callFromThread(d.errback, Failure())
        else:
            self._reactor.callFromThread(self._deliver, d, result, tx.events)

    def _deliver(self, d: Deferred, result: Any, events: list[Event]) -> None:
        for event in events:
            self.bus.publish(event)
        d.callback(result)

    def _finished(self) -> None:
        if self._thread is not None:
            self._thread.join()
        assert self._stopped is not None
        self._stopped.callback(None)
