"""Fixtures shared by lavad's tests.

- ``clean_reactor`` (autouse): fails a test that leaves delayed calls, listening
  ports, open connections or a store thread behind.
- ``store``: a started :class:`~lavad.store.thread.StoreThread` on a fresh
  database in ``tmp_path`` (its bus is ``store.bus``), stopped after the test.
- ``settings``: :class:`~lavad.config.Settings` for a server on free loopback
  ports (HTTP and the ZMQ event socket) with its data in ``tmp_path``.
- ``lavad_service``: a started :class:`~lavad.service.LavadService` built from
  ``settings``; ``lavad_service.base_url`` is its ``http://127.0.0.1:PORT``.
- ``no_stop_reactor``: the global reactor, except that ``stop()`` is only counted
  (``stop_calls``): give it to services whose failure path stops the reactor.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import deferLater

from lavad.config import Settings, load_settings
from lavad.events import EventBus
from lavad.service import LavadService
from lavad.store.thread import StoreThread


class NoStopReactor:
    """Delegate everything to ``wrapped``, except ``stop`` which is only counted."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped
        self.stop_calls = 0

    def stop(self) -> None:
        self.stop_calls += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def _store_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "lavad-store" and t.is_alive()}


def _leftovers(calls: set, selectables: set, threads: set) -> list[str]:
    found = ["delayed call %r" % c for c in reactor.getDelayedCalls() if c not in calls]
    found += ["selectable %r" % s for s in set(reactor.getReaders()) | set(reactor.getWriters())
              if s not in selectables]
    found += ["thread %r" % t for t in _store_threads() - threads]
    return found


async def _settle(calls: set, selectables: set, threads: set, grace: float) -> list[str]:
    """Turn the reactor until nothing is left over, or ``grace`` seconds have passed."""
    deadline = reactor.seconds() + grace
    while True:
        found = _leftovers(calls, selectables, threads)
        if not found or reactor.seconds() > deadline:
            return found
        await deferLater(reactor, 0, lambda: None)


def _clean_up(calls: set, selectables: set) -> None:
    for call in reactor.getDelayedCalls():
        if call not in calls and call.active():
            call.cancel()
    for selectable in set(reactor.getReaders()) | set(reactor.getWriters()):
        if selectable in selectables:
            continue
        reactor.removeReader(selectable)
        reactor.removeWriter(selectable)
        for name in ("stopListening", "abortConnection", "loseConnection"):
            if hasattr(selectable, name):
                getattr(selectable, name)()
                break


@pytest.fixture(autouse=True)
def clean_reactor():
    """Fail the test if it leaves delayed calls, ports, connections or store threads."""
    # The reactor runs from the first test on, with its own readers (waker, SIGCHLD).
    pytest_twisted.blockon(deferLater(reactor, 0, lambda: None))
    calls = set(reactor.getDelayedCalls())
    selectables = set(reactor.getReaders()) | set(reactor.getWriters())
    threads = _store_threads()
    yield
    # Connections closed at the end of a test need a few turns of the reactor to go.
    found = pytest_twisted.blockon(ensureDeferred(
        _settle(calls, selectables, threads, grace=2.0)))
    if found:
        _clean_up(calls, selectables)
        pytest.fail("the test left this on the reactor: %s" % "; ".join(found))


@pytest_twisted.async_yield_fixture
async def store(tmp_path):
    """A started StoreThread on ``tmp_path/lavad.sqlite3``; stopped after the test."""
    thread = StoreThread(reactor, str(tmp_path / "lavad.sqlite3"), EventBus())
    await thread.start()
    yield thread
    await thread.stop()


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings for a server on free loopback ports (HTTP and ZMQ events) with its data in
    ``tmp_path/data``."""
    return load_settings({"data_dir": str(tmp_path / "data"),
                          "http": "tcp:0:interface=127.0.0.1",
                          "event_socket": "tcp://127.0.0.1:*"})


@pytest.fixture
def no_stop_reactor() -> NoStopReactor:
    """The global reactor, except that ``stop()`` is only counted in ``stop_calls``."""
    return NoStopReactor(reactor)


@pytest_twisted.async_yield_fixture
async def lavad_service(settings, no_stop_reactor):
    """A started LavadService (on ``no_stop_reactor``); stopped after the test."""
    service = LavadService(settings, no_stop_reactor)
    service.startService()
    await service.when_started()
    if service.exit_status:
        await service.stopService()
        pytest.fail("lavad_service did not start (see the log)")
    service.base_url = "http://127.0.0.1:%d" % service.port.getHost().port
    yield service
    await service.stopService()
