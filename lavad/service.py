"""The lavad server: one service that owns the store, the event bus and the listeners.

:class:`LavadService` is built synchronously (by ``lavad.tap.makeService``) and
starts asynchronously once the reactor runs: it prepares the data directory,
opens the store on its thread, binds the ZMQ event publisher, then listens
for HTTP.  A start-up failure is logged as one paragraph an administrator
can act on, and the reactor is stopped with :attr:`LavadService.exit_status`
set.  Stopping undoes the steps
in reverse: no new requests, then the children, then the store thread (which
finishes its queued work first, so nothing is left half-written).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError, ReactorNotRunning
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Site

from lavad import __version__
from lavad.config import Settings
from lavad.events import EventBus
from lavad.files import SYSTEM_TEMPLATE_DIR, LabFiles
from lavad.http.internal import internal_resource, mount_internal
from lavad.http.root import build_root
from lavad.notify import NotificationService
from lavad.http.ws import EventRelay
from lavad.publisher import PublisherError, ZMQPublisher
from lavad.scheduler import Scheduler
from lavad.store.schema import SchemaError
from lavad.store.thread import StoreThread
from lavad.store.tx import thd_drain_outbox

DATABASE_NAME = "lavad.sqlite3"
#: Where scripts/ci-system-deps.sh unpacks LAVA's templates (from the lava-server .deb).
UNPACKED_TEMPLATE_DIR = "/opt/lava-server-templates" + SYSTEM_TEMPLATE_DIR


def template_dirs(data_dir: str) -> list[str]:
    """Device-type template search path: overrides in the data directory, Debian's
    lava-server directory, then the unpacked copy when there is one."""
    dirs = [os.path.join(data_dir, "device-types"), SYSTEM_TEMPLATE_DIR]
    if os.path.isdir(UNPACKED_TEMPLATE_DIR):
        dirs.append(UNPACKED_TEMPLATE_DIR)
    return dirs


class StartupError(Exception):
    """A start-up step failed for a reason the administrator can fix; ``str()`` says how."""


def describe_address(address: Any) -> str:
    """``host:port`` for an IP address (``[host]:port`` for IPv6), the path for UNIX."""
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    if host is not None and port is not None:
        return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
    name = getattr(address, "name", None)
    if name is not None:
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    return str(address)


class LavadService(MultiService):
    """The whole server.  ``store``, ``bus``, ``lab`` and ``port`` are set while it runs."""

    log = Logger()
    drain_interval = 1.0  # seconds between two looks at the event outbox

    def __init__(self, settings: Settings, reactor: Any) -> None:
        super().__init__()
        self.settings = settings
        self._reactor = reactor
        self.bus = EventBus()
        self.store: StoreThread | None = None
        self.lab: Any = None
        #: The ZMQ event publisher while it runs (None when events are disabled).
        self.publisher: ZMQPublisher | None = None
        self.files: LabFiles | None = None
        self.scheduler: Scheduler | None = None
        self.relay: EventRelay | None = None
        self.port: Any = None
        self.notifications: NotificationService | None = None
        #: None while all is well; 1 once start-up has failed.
        self.exit_status: int | None = None
        self._drain: LoopingCall | None = None
        self._starting: Deferred | None = None
        self._stopping = False
        self._started_waiters: list[Deferred] = []
        self._start_finished = False

    # -- start -------------------------------------------------------------------------
    def startService(self) -> None:
        super().startService()
        self._stopping = False
        self._reactor.callWhenRunning(self._begin)

    def when_started(self) -> Deferred:
        """Fires (with None) once start-up has finished, successfully or not."""
        d: Deferred = Deferred()
        if self._start_finished:
            d.callback(None)
        else:
            self._started_waiters.append(d)
        return d

    def _begin(self) -> None:
        self._starting = ensureDeferred(self._start())

    async def _start(self) -> None:
        try:
            data_dir = self._prepare_data_dir()
            path = os.path.join(data_dir, DATABASE_NAME)
            self.log.info("lavad {version} starting with data directory {data_dir}",
                          version=__version__, data_dir=data_dir)
            self.store = StoreThread(self._reactor, path, self.bus)
            version = await self._open_store(path)
            if self._stopping:
                return
            self.log.info("lavad store {path} open at schema version {schema}",
                          path=path, schema=version)
            self.lab = self._make_lab(self.store)
            self._start_notifications()
            self.publisher = self._start_publisher()
            self.files = LabFiles(data_dir, template_dirs(data_dir))
            self._start_children()
            self.port = await self._listen()
            if self._stopping:
                return
            self.log.info("lavad HTTP listening on {address}",
                          address=describe_address(self.port.getHost()))
            self._drain = LoopingCall(self._drain_outbox)
            self._drain.clock = self._reactor
            self._drain.start(self.drain_interval, now=True).addErrback(
                lambda f: self.log.failure("the event outbox loop stopped", f))
        except StartupError as exc:
            self._fail(str(exc))
        except Exception:
            self._fail("lavad could not start because of an unexpected error (a bug in lavad: "
                       "please report it with the traceback that follows).", Failure())
        finally:
            self._start_finished = True
            waiters, self._started_waiters = self._started_waiters, []
            for d in waiters:
                d.callback(None)

    def _prepare_data_dir(self) -> str:
        path = os.path.abspath(self.settings.data_dir)
        hint = "Choose another directory with --data-dir or data_dir in the configuration file."
        if os.path.exists(path) and not os.path.isdir(path):
            raise StartupError("lavad could not start: the data directory %s is not a "
                               "directory. %s" % (path, hint))
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise StartupError("lavad could not start: the data directory %s cannot be "
                               "created (%s). %s" % (path, _os_reason(exc), hint)) from None
        try:
            with tempfile.TemporaryFile(dir=path, prefix=".lavad-write-check-"):
                pass
        except OSError as exc:
            raise StartupError("lavad could not start: the data directory %s is not "
                               "writable (%s). %s" % (path, _os_reason(exc), hint)) from None
        return path

    async def _open_store(self, path: str) -> int:
        assert self.store is not None
        try:
            return await self.store.start()
        except SchemaError as exc:
            raise StartupError("lavad could not start: the database %s cannot be used: %s"
                               % (path, exc)) from None
        except sqlite3.Error as exc:
            raise StartupError("lavad could not start: the database %s cannot be opened "
                               "(%s). Check that it is a lavad database and that the data "
                               "directory's disk is healthy." % (path, exc)) from None

    def _start_children(self) -> None:
        """The scheduler and the /ws/ relay, children of this service (stopped with it)."""
        assert self.store is not None and self.lab is not None
        self.scheduler = Scheduler(self.store, self._reactor)
        self.scheduler.setServiceParent(self)
        lab = self.lab
        self.relay = EventRelay(
            self.bus, lab.event_visible, self._reactor,
            authenticate_user=lambda secret, username: lab.authenticate_token(secret, username),
            authenticate_worker=lab.check_worker_token, topic_prefix=self.settings.event_topic)
        if self.settings.events_enabled:  # EVENT_NOTIFICATION off: /ws/ relays nothing
            self.relay.setServiceParent(self)

    def _root(self) -> Any:
        """``/api/`` (REST), ``/scheduler/internal/v1/`` (workers) and ``/ws/`` (events)."""
        root = build_root(self, self._reactor)
        assert self.files is not None and self.relay is not None
        mount_internal(root, internal_resource(self.lab, self.files, self.files.data_dir))
        root.putChild(b"ws", self.relay.resource())
        return root

    async def _listen(self) -> Any:
        site = Site(self._root())
        site.displayTracebacks = False
        endpoint = serverFromString(self._reactor, self.settings.http)
        try:
            return await endpoint.listen(site)
        except CannotListenError as exc:
            reason = exc.socketError
            if isinstance(reason, OSError):
                reason = _os_reason(reason)
            raise StartupError(
                "lavad could not start: it cannot listen for HTTP on %s (%s). Stop the "
                "program that uses this address, or choose another endpoint with --http or "
                "http in the configuration file." % (self.settings.http, reason)) from None

    def _make_lab(self, store: StoreThread) -> Any:
        """The domain API over ``store`` (``lavad.lab.Lab``), or None where it is absent."""
        try:
            from lavad.lab import Lab
        except ModuleNotFoundError as exc:
            if exc.name == "lavad.lab":
                return None
            raise
        return Lab(store)

    def _start_publisher(self) -> ZMQPublisher | None:
        """Bind the ZMQ publisher as a child service (None when events are disabled)."""
        if not self.settings.events_enabled:
            self.log.info("lavad events are not published (events_enabled is false)")
            return None
        publisher = ZMQPublisher(self.bus, self.settings, self._reactor,
                                 self.lab.event_visible_to_anonymous)
        try:
            publisher.setServiceParent(self)
        except PublisherError as exc:
            publisher.disownServiceParent()
            if exc.bind:
                fix = ("stop the program that uses this address or choose another one with "
                       "--event-socket or event_socket (EVENT_SOCKET) in the configuration file")
            else:
                fix = ("correct event_additional_sockets (EVENT_ADDITIONAL_SOCKETS) in the "
                       "configuration file")
            raise StartupError(
                "lavad could not start: it cannot publish events: it %s. To fix this, %s, or "
                "turn events off with --no-events or events_enabled (EVENT_NOTIFICATION) "
                "false." % (exc, fix)) from None
        self.log.info("lavad events published on {address}", address=publisher.last_endpoint)
        return publisher

    def event_socket_address(self) -> str:
        """The ZMQ address event clients should connect to, with the real port
        (``scheduler.get_publisher_event_socket``); ``settings.event_socket``
        itself while nothing is bound."""
        if self.publisher is not None:
            return self.publisher.client_address()
        return self.settings.event_socket

    def _start_notifications(self) -> None:
        """The job notifier (emails, IRC, callbacks), a child service fed by the bus."""
        assert self.store is not None
        self.notifications = NotificationService(self.store, self.bus, self.settings,
                                                 self._reactor)
        self.notifications.setServiceParent(self)

    def _fail(self, message: str, failure: Failure | None = None) -> None:
        self.exit_status = 1
        if failure is None:
            self.log.critical("{message}", message=message)
        else:
            self.log.failure("{message}", failure, message=message)
        try:
            self._reactor.stop()
        except ReactorNotRunning:
            pass

    def _drain_outbox(self) -> Deferred:
        """Publish the events other processes (``lavad manage``) left in the outbox."""
        assert self.store is not None
        d = self.store.run(thd_drain_outbox)
        d.addErrback(lambda f: self.log.failure("draining the event outbox failed", f))
        return d

    # -- stop --------------------------------------------------------------------------
    def stopService(self) -> Deferred:
        self._stopping = True
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self._starting is not None:
            await self._starting
        if self._drain is not None and self._drain.running:
            self._drain.stop()
        self._drain = None
        if self.port is not None:
            port, self.port = self.port, None
            await port.stopListening()
            self.log.info("lavad HTTP stopped listening")
        await super().stopService()
        if self.publisher is not None:
            publisher, self.publisher = self.publisher, None
            publisher.disownServiceParent()
        if self.store is not None:
            store, self.store = self.store, None
            await store.stop()
            self.log.info("lavad store closed")
        self.lab = None
        if self.notifications is not None and self.notifications.parent is self:
            self.notifications.disownServiceParent()
        self.notifications = None
        for child in (self.scheduler, self.relay):
            if child is not None and child.parent is self:
                child.disownServiceParent()
        self.scheduler = self.relay = None
        self.log.info("lavad stopped")


def _os_reason(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return "%s: %s" % (exc.strerror, exc.filename)
    return exc.strerror or str(exc)
