"""The notification service: job events in, emails, IRC messages and callbacks out.

It subscribes to the bus's ``testjob`` events.  When a job goes Running or
Finished it asks the store for a plan (:func:`lavad.notify.records.thd_plan`:
the criteria, then who still waits for a message) and starts one delivery per
recipient and callback; each outcome is written back (sent / not sent).
Nothing here runs inside the writer: the job's state change is committed
before its event reaches this service, and every delivery is bounded in time,
so a dead mail relay, IRC server or callback URL delays nothing else.

Messages for one IRC server share a connection (:class:`lavad.notify.irc.ServerQueue`).
A recipient already being delivered is not started again by a second match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import (CancelledError, Deferred, DeferredList, ensureDeferred,
                                    succeed)
from twisted.logger import Logger
from twisted.python.failure import Failure

from lavad.config import Settings
from lavad.events import TESTJOB, Event, EventBus
from lavad.models import JobHealth, JobState
from lavad.notify import callbacks, compose, records

if TYPE_CHECKING:
    from lavad.notify import irc


def default_http_client(reactor: Any) -> Any:
    """treq's client over an Agent that keeps no idle connections."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent, HTTPConnectionPool
    return HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))


class NotificationService(Service):
    """Deliver the notify blocks of jobs (xmlrpc-events-notify.md section 4)."""

    log = Logger()
    name = "notifications"  # type: ignore[assignment]  # Service annotates it as None

    def __init__(self, store: Any, bus: EventBus, settings: Settings, reactor: Any,
                 http_client_factory: Callable[[], Any] | None = None) -> None:
        self._store = store
        self._bus = bus
        self.settings = settings
        self._reactor = reactor
        self._http_client_factory = http_client_factory or (
            lambda: default_http_client(reactor))
        self._http: Any = None
        self.url_prefix = compose.url_prefix(settings.site_domain, settings.http)
        #: IRC delivery settings (tests shorten them).
        self.irc_options: dict[str, Any] = {}
        self.callback_attempts = callbacks.ATTEMPTS
        self.callback_retry_delay = callbacks.RETRY_DELAY
        self._unsubscribe: Callable[[], None] | None = None
        self._servers: dict[irc.ServerAddress, irc.ServerQueue] = {}
        self._busy: set[tuple[str, int]] = set()  # ("recipient"/"callback", id) in flight
        self._work: set[Deferred] = set()
        self._waiting: set[Deferred] = set()  # what deliveries wait on (cancelled on stop)
        self._idle_waiters: list[Deferred] = []

    # -- lifecycle ---------------------------------------------------------------------
    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self._bus.subscribe(self._on_event, TESTJOB)

    def stopService(self) -> Deferred:
        super().stopService()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        stops = [queue.stop() for queue in self._servers.values()]
        for d in list(self._waiting):
            d.cancel()
        d = DeferredList(stops + list(self._work), consumeErrors=True)
        d.addCallback(lambda _: self._servers.clear())
        return d

    def when_idle(self) -> Deferred:
        """Fires once no notification work is in flight (for tests and orderly shutdown)."""
        if not self._work:
            return succeed(None)
        d: Deferred = Deferred()
        self._idle_waiters.append(d)
        return d

    def _track(self, d: Deferred, what: str) -> Deferred:
        self._work.add(d)

        def done(result: Any) -> None:
            self._work.discard(d)
            if isinstance(result, Failure):
                self.log.failure("notification work failed: {what}", result, what=what)
            if not self._work:
                waiters, self._idle_waiters = self._idle_waiters, []
                for waiter in waiters:
                    waiter.callback(None)
        d.addBoth(done)
        return d

    def _watch(self, d: Deferred) -> None:
        """Cancel ``d`` when the service stops (at once, if it has stopped)."""
        self._waiting.add(d)

        def forget(result: Any) -> Any:
            self._waiting.discard(d)
            return result
        d.addBoth(forget)
        if not self.running:
            d.cancel()

    # -- events ------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if not self.running:
            return
        state = event.data.get("state")
        if state not in (JobState.RUNNING.display, JobState.FINISHED.display):
            return
        job = event.restrict.get("job", event.data.get("job"))
        if job is None:
            return
        try:
            health = int(JobHealth.from_display(event.data.get("health", "Unknown")))
        except ValueError:
            health = int(JobHealth.UNKNOWN)
        self._track(ensureDeferred(self._job_changed(
            int(job), int(JobState.from_display(state)), health)), "job %s %s" % (job, state))

    async def _job_changed(self, job_id: int, state: int, health: int) -> None:
        plan = await self._store.run(records.thd_plan, job_id, state, health,
                                     self.settings.data_dir)
        if plan is None or not self.running:
            return
        for callback in plan["callbacks"]:
            self._start(("callback", callback["id"]), self._callback(job_id, callback))
        for recipient in plan["recipients"]:
            key = ("recipient", recipient["id"])
            if recipient["method"] == "email":
                self._start(key, self._email(plan, recipient))
            else:
                self._start(key, self._irc(plan, recipient))

    def _start(self, key: tuple[str, int], work: Any) -> None:
        if key in self._busy:
            work.close()  # the same recipient is being delivered for an earlier match
            return
        self._busy.add(key)

        def done(result: Any) -> Any:
            self._busy.discard(key)
            return result
        self._track(ensureDeferred(work).addBoth(done), "%s %d" % key)

    async def _record(self, kind: str, row_id: int, sent: bool) -> None:
        fn = records.thd_mark_recipient if kind == "recipient" else records.thd_mark_callback
        await self._store.run(fn, row_id, sent)

    # -- deliveries ----------------------------------------------------------------------
    async def _email(self, plan: dict[str, Any], recipient: dict[str, Any]) -> None:
        job = plan["job"]
        address = recipient["address"]
        if not address:
            self.log.warn("[{job}] no email address for notification recipient {user}",
                          job=job["id"], user=(recipient["user"] or {}).get("username"))
            return
        from lavad.notify import mail  # twisted.mail: loaded when a lab first sends mail

        body = compose.email_body(plan, recipient["user"], self.url_prefix)
        message = compose.email_message(self.settings.server_email, address,
                                        compose.email_subject(job), body)
        sending = mail.send_email(self._reactor, self.settings, address, message)
        self._watch(sending)
        try:
            await sending
        except Exception as exc:
            self.log.warn("[{job}] failed to send email notification to {address}: {error}",
                          job=job["id"], address=address, error=str(exc) or type(exc).__name__)
            sent = False
        else:
            sent = True
        await self._record("recipient", recipient["id"], sent)

    async def _irc(self, plan: dict[str, Any], recipient: dict[str, Any]) -> None:
        job = plan["job"]
        if not recipient["server"] or not recipient["handle"]:
            return  # as LAVA: no server known, silently skipped (stays not sent)
        from lavad.notify import irc  # twisted.words: loaded at the first IRC message
        try:
            address = irc.parse_server(recipient["server"], self.settings.irc_use_tls)
        except ValueError as exc:
            self.log.warn("[{job}] IRC notification not sent: {error}", job=job["id"],
                          error=exc)
            return
        queue = self._servers.get(address)
        if queue is None:
            queue = irc.ServerQueue(self._reactor, address, self.settings.irc_nick,
                                    **self.irc_options)
            self._servers[address] = queue
        sent = await queue.send(recipient["handle"], compose.irc_message(job, self.url_prefix))
        await self._record("recipient", recipient["id"], sent)

    async def _callback(self, job_id: int, callback: dict[str, Any]) -> None:
        if self._http is None:
            self._http = self._http_client_factory()
        try:
            sent = await callbacks.deliver(
                self._http, self._reactor, callback, float(self.settings.callback_timeout),
                self.settings.callback_allowed_hosts, self.callback_attempts,
                self.callback_retry_delay, watch=self._watch)
        except CancelledError:
            return  # lavad is stopping
        await self._record("callback", callback["id"], sent)
