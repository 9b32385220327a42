"""The scheduler: which job runs on which device, and when to look again.

One pass (:func:`thd_schedule`, one store transaction) does what LAVA's
lava-scheduler does every 20 seconds:

1. workers silent for longer than the ping timeout go Offline;
2. health checks first: an Idle device (Good, Unknown or Looping) on an
   Online, Active worker under its job limit gets a health check when one is
   due (``lavad.submission``) and then takes nothing else in this pass;
3. then the queue of Submitted jobs, health checks first, then by priority,
   submit time and id: each gets an Idle device of its type (or the device it
   asked for) whose tags include the job's, that its submitter may submit to,
   on an Online, Active worker under its job limit.  A multinode group gets
   devices for all its sub-jobs in the same pass, or waits.

Only Good devices take ordinary jobs; an Unknown one does too when no health
check is due for it (a device type without health checks), as in LAVA; a
Looping one only ever runs health checks.

:class:`Scheduler` runs passes on a timer and whenever an event says there may
be new work, never two at a time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from lavad import dates, devices, permissions, statemachine, users
from lavad.events import DEVICE, LAB, TESTJOB, WORKER, Event
from lavad.models import DeviceHealth, DeviceState, JobState, WorkerHealth, WorkerState
from lavad.store.tx import Tx, iso

PING_TIMEOUT = 3 * 20.0  # seconds, LAVA's 3 × the worker's ping interval
INTERVAL = 20.0
MAX_MATCH_STEPS = 10000  # bound on the multinode device search

log = Logger()


# -- health checks (lavad.submission, written separately) -------------------------------------
def _health_check_api() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """``(thd_health_check_due, thd_create_health_check)``, or None while they do not exist."""
    try:
        module = importlib.import_module("lavad.submission")
    except ImportError:
        return None
    due = getattr(module, "thd_health_check_due", None)
    create = getattr(module, "thd_create_health_check", None)
    if due is None or create is None:
        return None
    return due, create


# -- one pass -------------------------------------------------------------------------------------
@dataclass
class _Worker:
    limit: int
    busy: int

    def overused(self) -> bool:
        return self.limit > 0 and self.busy >= self.limit


@dataclass
class _Device:
    hostname: str
    device_type: str
    worker: str
    health: int
    tags: frozenset[int] = field(default_factory=frozenset)


def _now_seconds(tx: Tx, now: float | None) -> float:
    return now if now is not None else dates.parse_stored(tx.now()).timestamp()


def thd_check_workers(tx: Tx, now: float, ping_timeout: float = PING_TIMEOUT) -> list[str]:
    """Online workers whose last ping is older than ``ping_timeout`` go Offline."""
    cutoff = iso(now - ping_timeout)
    rows = tx.all("SELECT hostname FROM workers WHERE state = ? AND last_ping < ?"
                  " ORDER BY hostname", (WorkerState.ONLINE, cutoff))
    for row in rows:
        devices.thd_set_worker_state(tx, row["hostname"], WorkerState.OFFLINE)
    return [r["hostname"] for r in rows]


def _workers(tx: Tx) -> dict[str, _Worker]:
    """Online, Active workers with their job limit and the devices they keep busy."""
    rows = tx.all(
        "SELECT w.hostname, w.job_limit, (SELECT count(*) FROM devices d WHERE"
        " d.worker_host = w.hostname AND d.state != ?) AS busy FROM workers w"
        " WHERE w.state = ? AND w.health = ?",
        (DeviceState.IDLE, WorkerState.ONLINE, WorkerHealth.ACTIVE))
    return {r["hostname"]: _Worker(r["job_limit"], r["busy"]) for r in rows}


def _idle_devices(tx: Tx, workers: dict[str, _Worker]) -> list[_Device]:
    """Idle devices that may run something, on usable workers, of displayed types."""
    if not workers:  # no worker online: nothing can run (and no need to sort devices)
        return []
    hosts = sorted(workers)
    rows = tx.all(
        "SELECT d.hostname, d.device_type, d.worker_host, d.health FROM devices d"
        " JOIN device_types t ON t.name = d.device_type"
        " WHERE t.display = 1 AND d.state = ? AND d.health IN (?, ?, ?)"
        " AND d.worker_host IN (%s)"
        # Least recently used first, so work spreads over the devices.
        " ORDER BY d.device_type, (SELECT max(coalesce(j.end_time, j.start_time,"
        " j.submit_time)) FROM test_jobs j WHERE j.actual_device = d.hostname), d.hostname"
        % ", ".join("?" * len(hosts)),
        (DeviceState.IDLE, DeviceHealth.GOOD, DeviceHealth.UNKNOWN, DeviceHealth.LOOPING,
         *hosts))
    out = []
    for r in rows:
        if r["worker_host"] not in workers:
            continue
        tags = frozenset(t[0] for t in tx.all(
            "SELECT tag_id FROM device_tags WHERE device = ?", (r["hostname"],)))
        out.append(_Device(r["hostname"], r["device_type"], r["worker_host"], r["health"],
                           tags))
    return out


def _create_health_check(tx: Tx, create: Callable[..., Any],
                         hostname: str) -> tuple[int | None, bool]:
    """Create the device's health check: ``(job id or None when it has none, failed)``.

    A definition that cannot be submitted puts the device in Bad (LAVA's
    "Invalid health check"), leaving nothing else of the attempt behind.
    """
    mark = len(tx.events)
    tx.execute("SAVEPOINT health_check")
    try:
        created = create(tx, hostname)
    except Exception as exc:
        tx.execute("ROLLBACK TO health_check")
        tx.execute("RELEASE health_check")
        del tx.events[mark:]
        log.warn("health check for {device} cannot be scheduled: {error}", device=hostname,
                 error=getattr(exc, "message", None) or repr(exc))
        devices.thd_set_device_health(tx, hostname, DeviceHealth.BAD,
                                      reason="Invalid health check")
        return None, True
    tx.execute("RELEASE health_check")
    if isinstance(created, dict):
        created = created.get("id")
    return (None if created is None else int(created)), False


def _schedule_health_checks(tx: Tx, now: float, workers: dict[str, _Worker],
                            candidates: list[_Device],
                            scheduled: list[dict[str, Any]]) -> list[_Device]:
    """Schedule the due health checks; return the devices left for ordinary jobs."""
    api = _health_check_api()
    available = []
    for dev in candidates:
        worker = workers[dev.worker]
        if worker.overused():
            continue
        job_id = None
        if api is not None and api[0](tx, dev.hostname, now):
            job_id, failed = _create_health_check(tx, api[1], dev.hostname)
            if failed:
                continue
        if job_id is not None:
            statemachine.thd_schedule_job(tx, job_id, dev.hostname)
            worker.busy += 1
            scheduled.append({"job": job_id, "device": dev.hostname, "health_check": True})
        elif dev.health in (DeviceHealth.GOOD, DeviceHealth.UNKNOWN):
            available.append(dev)
    return available


class _Matcher:
    """Which available device may run which queued job (with per-pass caches)."""

    def __init__(self, tx: Tx, available: list[_Device], workers: dict[str, _Worker]) -> None:
        self.tx = tx
        self.available = available
        self.workers = workers
        self.taken: set[str] = set()
        self._principals: dict[int, Any] = {}
        self._allowed: dict[tuple[int, str], bool] = {}

    def job_tags(self, job_id: int) -> frozenset[int]:
        return frozenset(t[0] for t in self.tx.all(
            "SELECT tag_id FROM test_job_tags WHERE job_id = ?", (job_id,)))

    def may_submit(self, job: Any, hostname: str) -> bool:
        if job["health_check"]:
            return True  # the server's own job
        key = (job["submitter_id"], hostname)
        if key not in self._allowed:
            uid = job["submitter_id"]
            if uid not in self._principals:
                self._principals[uid] = users.thd_principal(self.tx, uid)
            self._allowed[key] = permissions.thd_can_submit_to_device(
                self.tx, self._principals[uid], hostname)
        return self._allowed[key]

    def candidates(self, job: Any) -> list[_Device]:
        """Free devices this job may use, best first (ignoring job limits)."""
        dtype, wanted = job["requested_device_type"], job["requested_device"]
        if dtype is None and wanted is None:
            return []
        tags = self.job_tags(job["id"])
        return [d for d in self.available
                if d.hostname not in self.taken
                and (dtype is None or d.device_type == dtype)
                and (wanted is None or d.hostname == wanted)
                and tags <= d.tags
                and self.may_submit(job, d.hostname)]

    def take(self, dev: _Device) -> None:
        self.taken.add(dev.hostname)
        self.workers[dev.worker].busy += 1

    def single(self, job: Any) -> _Device | None:
        for dev in self.candidates(job):
            if not self.workers[dev.worker].overused():
                return dev
        return None

    def group(self, subs: list[Any]) -> dict[int, _Device] | None:
        """One device per sub-job, all at once (a small backtracking search), or None."""
        options = [(sub["id"], self.candidates(sub)) for sub in subs]
        if any(not devs for _id, devs in options):
            return None
        options.sort(key=lambda o: len(o[1]))  # the most constrained first
        chosen: dict[int, _Device] = {}
        used: set[str] = set()
        busy: dict[str, int] = {}
        steps = [0]

        def fits(dev: _Device) -> bool:
            w = self.workers[dev.worker]
            return dev.hostname not in used and (
                w.limit == 0 or w.busy + busy.get(dev.worker, 0) < w.limit)

        def search(i: int) -> bool:
            if i == len(options):
                return True
            job_id, devs = options[i]
            for dev in devs:
                steps[0] += 1
                if steps[0] > MAX_MATCH_STEPS:
                    return False
                if not fits(dev):
                    continue
                chosen[job_id] = dev
                used.add(dev.hostname)
                busy[dev.worker] = busy.get(dev.worker, 0) + 1
                if search(i + 1):
                    return True
                del chosen[job_id]
                used.discard(dev.hostname)
                busy[dev.worker] -= 1
            return False

        return dict(chosen) if search(0) else None


def _schedule_queue(tx: Tx, available: list[_Device], workers: dict[str, _Worker],
                    scheduled: list[dict[str, Any]]) -> None:
    if not available:  # no idle device: nothing in the queue can start
        return
    matcher = _Matcher(tx, available, workers)
    queue = tx.all("SELECT * FROM test_jobs WHERE state = ? AND actual_device IS NULL"
                   " ORDER BY health_check DESC, priority DESC, submit_time, id",
                   (JobState.SUBMITTED,))
    groups_seen: set[str] = set()
    for job in queue:
        if len(matcher.taken) == len(available):
            break
        if not job["target_group"]:
            dev = matcher.single(job)
            if dev is None:
                continue
            statemachine.thd_schedule_job(tx, job["id"], dev.hostname)
            matcher.take(dev)
            scheduled.append({"job": job["id"], "device": dev.hostname,
                              "health_check": bool(job["health_check"])})
            continue
        group_name = job["target_group"]
        if group_name in groups_seen:
            continue
        groups_seen.add(group_name)
        group = tx.all("SELECT * FROM test_jobs WHERE target_group = ? ORDER BY id",
                       (group_name,))
        if any(s["state"] != JobState.SUBMITTED or s["actual_device"] for s in group):
            continue
        needing = [s for s in group if not statemachine.is_dynamic_connection(s)]
        if not needing:
            continue
        chosen = matcher.group(needing)
        if chosen is None:
            continue
        for sub in needing:
            dev = chosen[sub["id"]]
            statemachine.thd_schedule_job(tx, sub["id"], dev.hostname)
            matcher.take(dev)
            scheduled.append({"job": sub["id"], "device": dev.hostname,
                              "health_check": bool(sub["health_check"])})


def thd_schedule(tx: Tx, now: float | None = None,
                 ping_timeout: float = PING_TIMEOUT) -> dict[str, Any]:
    """One scheduling pass at ``now`` (seconds since the epoch; the store's clock if None).

    Returns ``{"offline": [worker hostnames], "scheduled": [{"job", "device",
    "health_check"}...]}`` in the order things were done.
    """
    now = _now_seconds(tx, now)
    offline = thd_check_workers(tx, now, ping_timeout)
    workers = _workers(tx)
    scheduled: list[dict[str, Any]] = []
    candidates = _idle_devices(tx, workers)
    available = _schedule_health_checks(tx, now, workers, candidates, scheduled)
    _schedule_queue(tx, available, workers, scheduled)
    return {"offline": offline, "scheduled": scheduled}


# -- the service ---------------------------------------------------------------------------------
def wants_pass(event: Event) -> bool:
    """Whether an event may mean new work for the scheduler."""
    data = event.data
    if event.kind == TESTJOB:
        return data.get("state") == JobState.SUBMITTED.display
    if event.kind == DEVICE:
        return data.get("state") == DeviceState.IDLE.display and data.get("health") in (
            DeviceHealth.GOOD.display, DeviceHealth.UNKNOWN.display,
            DeviceHealth.LOOPING.display)
    if event.kind == WORKER:
        return data.get("state") == WorkerState.ONLINE.display and \
            data.get("health") == WorkerHealth.ACTIVE.display
    return False


class Scheduler(Service):
    """Run :func:`thd_schedule` every ``interval`` seconds and when events call for it.

    ``store`` is anything with ``run(fn, *args) -> Deferred`` and ``bus``;
    ``reactor`` provides the time and the timer (a ``Clock`` in tests).  At
    most one pass is in flight: wakes during a pass are folded into one more
    pass after it.  The service also carries out the cancellations that
    retiring a device asks for (``lab`` events ``testjob``/``cancel``).
    """

    name = "scheduler"  # type: ignore[assignment]  # Service declares it as None

    def __init__(self, store: Any, reactor: Any, interval: float = INTERVAL,
                 ping_timeout: float = PING_TIMEOUT) -> None:
        self.store = store
        self.reactor = reactor
        self.interval = interval
        self.ping_timeout = ping_timeout
        self.passes = 0  # passes completed
        self.last_result: dict[str, Any] | None = None
        self._loop: LoopingCall | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._pass: Deferred | None = None
        self._again = False
        self._pending: set[Deferred] = set()
        self._idle_waiters: list[Deferred] = []

    # -- lifecycle --------------------------------------------------------------------------
    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self.store.bus.subscribe(self._on_event)
        self._loop = LoopingCall(self.wake)
        self._loop.clock = self.reactor
        self._loop.start(self.interval, now=True).addErrback(
            lambda f: log.failure("the scheduler timer failed", f))

    def stopService(self) -> Deferred:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._again = False
        busy = list(self._pending) + ([self._pass] if self._pass is not None else [])
        if not busy:
            return succeed(None)
        return DeferredList(busy, consumeErrors=True).addCallback(lambda _: None)

    # -- passes -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Ask for a pass: now if none runs, else once more after the current one."""
        if not self.running:
            return
        if self._pass is not None:
            self._again = True
            return
        self._start_pass()

    def when_idle(self) -> Deferred:
        """Fires once no pass is running or asked for."""
        if self._pass is None:
            return succeed(None)
        d: Deferred = Deferred()
        self._idle_waiters.append(d)
        return d

    def _start_pass(self) -> None:
        self._again = False
        try:
            d = self.store.run(thd_schedule, self.reactor.seconds(), self.ping_timeout)
        except RuntimeError:  # the store is stopping
            self._settle()
            return
        self._pass = d
        d.addCallbacks(self._passed, self._failed)
        d.addBoth(self._after_pass)

    def _passed(self, result: dict[str, Any]) -> None:
        self.passes += 1
        self.last_result = result
        for name in result["offline"]:
            log.info("worker {worker} is now Offline (no ping for {timeout} s)",
                     worker=name, timeout=self.ping_timeout)
        for item in result["scheduled"]:
            log.info("job {job} scheduled on {device}", job=item["job"], device=item["device"])

    def _failed(self, failure: Any) -> None:
        self.passes += 1
        log.failure("scheduling pass failed", failure)

    def _after_pass(self, _: Any) -> None:
        self._pass = None
        if self._again and self.running:
            self._start_pass()
        else:
            self._settle()

    def _settle(self) -> None:
        self._again = False
        waiters, self._idle_waiters = self._idle_waiters, []
        for d in waiters:
            d.callback(None)

    # -- events -----------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.kind == LAB:
            if event.data.get("object") == "testjob" and event.data.get("action") == "cancel":
                self._cancel(event.data.get("job"))
            return
        if wants_pass(event):
            self.wake()

    def _cancel(self, job_id: Any) -> None:
        if job_id is None or not self.running:
            return
        try:
            d = self.store.run(statemachine.thd_cancel_job_as_submitter, job_id)
        except RuntimeError:
            return
        self._pending.add(d)

        def done(result: Any) -> Any:
            self._pending.discard(d)
            return result

        d.addErrback(lambda f: log.failure("cancelling job {job} failed", f, job=job_id))
        d.addBoth(done)

