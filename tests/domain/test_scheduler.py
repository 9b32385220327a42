"""The scheduler (lavad/scheduler.py): one pass on the synchronous store, then the service
on a real StoreThread whose time (and the scheduler's timer) is a ``Clock``.
"""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from lavad import devices, jobs, scheduler, statemachine, users
from lavad.events import Event, EventBus
from lavad.models import DeviceHealth, DeviceState, JobState, WorkerHealth, WorkerState
from lavad.scheduler import Scheduler, thd_schedule
from lavad.store.thread import StoreThread

T0 = 1782900000.0  # 2026-07-01T10:00:00Z, the clock of tests/domain/conftest.py


def job_row(db: Any, job_id: int) -> dict[str, Any]:
    return dict(db.conn.execute("SELECT * FROM test_jobs WHERE id = ?", (job_id,)).fetchone())


def placed(result: dict[str, Any]) -> list[tuple[int, str]]:
    return [(item["job"], item["device"]) for item in result["scheduled"]]


class FakeHealthChecks:
    """A stand-in for lavad.submission: a health check is due on the devices in ``due``."""

    def __init__(self, submitter_id: int) -> None:
        self.due: set[str] = set()
        self.broken: set[str] = set()
        self.asked: list[tuple[str, float]] = []
        self.submitter_id = submitter_id

    def module(self) -> ModuleType:
        mod = ModuleType("lavad.submission")
        mod.thd_health_check_due = self.thd_health_check_due  # type: ignore[attr-defined]
        mod.thd_create_health_check = self.thd_create_health_check  # type: ignore[attr-defined]
        return mod

    def thd_health_check_due(self, tx: Any, hostname: str, now: float) -> bool:
        self.asked.append((hostname, now))
        return hostname in self.due

    def thd_create_health_check(self, tx: Any, hostname: str) -> int:
        dtype = tx.scalar("SELECT device_type FROM devices WHERE hostname = ?", (hostname,))
        job_id = jobs.thd_insert_job(tx, self.submitter_id, "job_name: hc\n",
                                     requested_device_type=dtype, requested_device=hostname,
                                     health_check=True, description="hc")
        if hostname in self.broken:
            raise ValueError("bad health check definition")
        return job_id


@pytest.fixture
def lab(db: Any) -> Any:
    """alice submits; device type qemu; worker w1 Online/Active with qemu01, qemu02 (Good)."""
    ns = SimpleNamespace(db=db)
    ns.alice = db.run(users.thd_principal, db.run(users.thd_add_user, "alice")["id"])
    ns.health_user = db.run(users.thd_add_user, "lava-health")["id"]
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_worker, "w1")
    db.run(devices.thd_set_worker_state, "w1", WorkerState.ONLINE)
    for host in ("qemu01", "qemu02"):
        db.run(devices.thd_add_device, host, "qemu", worker_host="w1", health="Good")

    def submit(**kwargs: Any) -> int:
        kwargs.setdefault("requested_device_type", "qemu")
        return db.run(jobs.thd_insert_job, kwargs.pop("submitter", ns.alice).id,
                      kwargs.pop("definition", "job_name: j\n"), **kwargs)

    def health(host: str, value: str) -> None:
        db.conn.execute("UPDATE devices SET health = ? WHERE hostname = ?",
                        (DeviceHealth.from_display(value), host))

    def schedule(now: float | None = None, **kwargs: Any) -> dict[str, Any]:
        return db.run(thd_schedule, T0 if now is None else now, **kwargs)

    ns.submit, ns.health, ns.schedule = submit, health, schedule
    return ns


@pytest.fixture
def no_health_checks(monkeypatch: Any) -> None:
    """Run the pass as if lavad.submission did not exist (yet)."""
    monkeypatch.setitem(sys.modules, "lavad.submission", None)  # import raises ImportError


@pytest.fixture
def hc(lab: Any, monkeypatch: Any) -> FakeHealthChecks:
    fake = FakeHealthChecks(lab.health_user)
    monkeypatch.setitem(sys.modules, "lavad.submission", fake.module())
    return fake


# -- one pass ------------------------------------------------------------------------------------
def test_pass_schedules_a_job_on_an_idle_good_device(lab: Any, no_health_checks: None) -> None:
    """A Submitted job goes Scheduled on an Idle Good device of its type."""
    job_id = lab.submit()
    result = lab.schedule()
    assert result["offline"] == []
    assert result["scheduled"] == [{"job": job_id, "device": "qemu01", "health_check": False}]
    assert job_row(lab.db, job_id)["state"] == JobState.SCHEDULED
    assert lab.schedule()["scheduled"] == []  # nothing left to do


def test_pass_emits_reserved_and_scheduled_events(lab: Any, db: Any,
                                                  no_health_checks: None) -> None:
    """The pass emits exactly the transition's events: device Reserved, testjob Scheduled."""
    job_id = lab.submit()
    events = db.events(thd_schedule, T0)
    assert [(e.kind, e.data["state"]) for e in events] == [("device", "Reserved"),
                                                            ("testjob", "Scheduled")]
    assert events[1].data["job"] == job_id


@pytest.mark.parametrize("health", ["Retired", "Maintenance", "Bad", "Looping"])
def test_unavailable_device_health_takes_no_job(lab: Any, no_health_checks: None,
                                                health: str) -> None:
    """Retired, Maintenance, Bad (and Looping) devices never take ordinary jobs."""
    lab.health("qemu01", health)
    lab.health("qemu02", health)
    job_id = lab.submit()
    assert lab.schedule()["scheduled"] == []
    assert job_row(lab.db, job_id)["state"] == JobState.SUBMITTED
    lab.health("qemu02", "Good")
    assert placed(lab.schedule()) == [(job_id, "qemu02")]


def test_busy_device_takes_no_job(lab: Any, no_health_checks: None) -> None:
    """A device that is not Idle is skipped."""
    first, second, third = lab.submit(), lab.submit(), lab.submit()
    assert placed(lab.schedule()) == [(first, "qemu01"), (second, "qemu02")]
    assert job_row(lab.db, third)["state"] == JobState.SUBMITTED


def test_job_tags_must_all_be_on_the_device(lab: Any, db: Any, no_health_checks: None) -> None:
    """A job with tags only goes to a device carrying all of them (extra device tags are fine)."""
    usb = db.run(devices.thd_add_tag, "usb")["id"]
    net = db.run(devices.thd_add_tag, "net")["id"]
    extra = db.run(devices.thd_add_tag, "extra")["id"]
    db.run(devices.thd_update_device, "qemu01", tags=["usb"])
    db.run(devices.thd_update_device, "qemu02", tags=["usb", "net", "extra"])
    both = lab.submit(tags=[usb, net])
    missing = lab.submit(tags=[usb, extra, db.run(devices.thd_add_tag, "gpu")["id"]])
    assert placed(lab.schedule()) == [(both, "qemu02")]
    assert job_row(db, missing)["state"] == JobState.SUBMITTED


def test_priority_then_submit_time_then_id(lab: Any, db: Any, clock: Any,
                                           no_health_checks: None) -> None:
    """The queue runs by priority (high first), then submit time, then id."""
    db.conn.execute("UPDATE devices SET health = ? WHERE hostname = 'qemu02'",
                    (DeviceHealth.MAINTENANCE,))
    old_low = lab.submit(priority=10)
    clock.now += 10
    new_high = lab.submit(priority=100)
    clock.now += 10
    newer_high = lab.submit(priority=100)
    medium = lab.submit(priority=50)
    order = []
    for _ in range(4):
        order += [job for job, _dev in placed(lab.schedule())]
        for job in order[-1:]:
            db.run(statemachine.thd_job_running, job)
            db.run(statemachine.thd_job_finished, job, "pass")
    assert order == [new_high, newer_high, medium, old_low]


def test_requested_device_is_honoured(lab: Any, no_health_checks: None) -> None:
    """A job asking for qemu02 only goes there, even when qemu01 is free."""
    job_id = lab.submit(requested_device="qemu02")
    lab.health("qemu02", "Maintenance")
    assert lab.schedule()["scheduled"] == []
    lab.health("qemu02", "Good")
    assert placed(lab.schedule()) == [(job_id, "qemu02")]


def test_wrong_device_type_is_not_used(lab: Any, db: Any, no_health_checks: None) -> None:
    """Jobs only go to devices of their requested type."""
    db.run(devices.thd_add_device_type, "bbb")
    job_id = lab.submit(requested_device_type="bbb")
    assert lab.schedule()["scheduled"] == []
    db.run(devices.thd_add_device, "bbb01", "bbb", worker_host="w1", health="Good")
    assert placed(lab.schedule()) == [(job_id, "bbb01")]


def test_submitter_must_be_allowed_on_the_device(lab: Any, db: Any,
                                                 no_health_checks: None) -> None:
    """A device restricted to a group does not take the jobs of non-members."""
    db.run(users.thd_add_group, "team")
    for host in ("qemu01", "qemu02"):
        db.run(devices.thd_add_object_permission, "device", "team", "submit_to_device", host)
    job_id = lab.submit()
    assert lab.schedule()["scheduled"] == []
    db.run(users.thd_update_group, "team", add_members=["alice"])
    assert placed(lab.schedule()) == [(job_id, "qemu01")]


def test_devices_of_offline_or_inactive_workers_take_nothing(lab: Any, db: Any,
                                                             no_health_checks: None) -> None:
    """Only Online, Active workers' devices are used."""
    job_id = lab.submit()
    db.run(devices.thd_set_worker_state, "w1", WorkerState.OFFLINE)
    assert lab.schedule()["scheduled"] == []
    db.run(devices.thd_set_worker_state, "w1", WorkerState.ONLINE)
    db.conn.execute("UPDATE workers SET health = ?", (WorkerHealth.MAINTENANCE,))
    assert lab.schedule()["scheduled"] == []
    db.conn.execute("UPDATE workers SET health = ?", (WorkerHealth.ACTIVE,))
    assert placed(lab.schedule()) == [(job_id, "qemu01")]


def test_hidden_device_type_is_not_scheduled(lab: Any, db: Any, no_health_checks: None) -> None:
    """As in LAVA, devices of a device type with display=false take nothing."""
    job_id = lab.submit()
    db.run(devices.thd_update_device_type, "qemu", display=False)
    assert lab.schedule()["scheduled"] == []
    db.run(devices.thd_update_device_type, "qemu", display=True)
    assert placed(lab.schedule()) == [(job_id, "qemu01")]


def test_worker_goes_offline_after_the_ping_timeout(lab: Any, db: Any,
                                                    no_health_checks: None) -> None:
    """A worker silent for more than ping_timeout goes Offline (one worker event); its devices
    are then not used."""
    events = db.events(thd_schedule, T0 + 60)
    assert [e.kind for e in events] == []
    job_id = lab.submit()
    result, tx = db.run_tx(thd_schedule, T0 + 61)
    assert result == {"offline": ["w1"], "scheduled": []}
    assert [(e.kind, e.data) for e in tx.events] == [
        ("worker", {"hostname": "w1", "health": "Active", "state": "Offline"})]
    assert job_row(db, job_id)["state"] == JobState.SUBMITTED
    assert lab.schedule(T0 + 30, ping_timeout=10)["offline"] == []  # already offline


@pytest.mark.parametrize("limit, expected", [(1, 1), (2, 2), (0, 2)])
def test_worker_job_limit(lab: Any, db: Any, no_health_checks: None, limit: int,
                          expected: int) -> None:
    """A worker runs at most job_limit jobs at a time (0: no limit)."""
    db.run(devices.thd_update_worker, "w1", job_limit=limit)
    for _ in range(3):
        lab.submit()
    assert len(lab.schedule()["scheduled"]) == expected
    assert lab.schedule()["scheduled"] == []


def test_job_limit_counts_running_jobs(lab: Any, db: Any, no_health_checks: None) -> None:
    """A job already running on the worker uses its only slot."""
    db.run(devices.thd_update_worker, "w1", job_limit=1)
    first = lab.submit()
    lab.schedule()
    db.run(statemachine.thd_job_running, first)
    waiting = lab.submit()
    assert lab.schedule()["scheduled"] == []
    db.run(statemachine.thd_job_finished, first, "pass")
    assert placed(lab.schedule()) == [(waiting, "qemu02")]  # the least recently used


# -- multinode -------------------------------------------------------------------------------------
def multinode(lab: Any, roles: list[str], tags: dict[str, list[int]] | None = None) -> list[int]:
    ids = []
    for role in roles:
        definition = ("job_name: mn\nprotocols:\n  lava-multinode:\n    role: %s\n"
                      "    target_group: g\n" % role)
        ids.append(lab.submit(definition=definition, target_group="g",
                              tags=(tags or {}).get(role, [])))
    for i, job_id in enumerate(ids):
        lab.db.conn.execute("UPDATE test_jobs SET sub_id = ? WHERE id = ?",
                            ("%d.%d" % (ids[0], i), job_id))
    return ids


def test_multinode_group_is_scheduled_all_at_once(lab: Any, no_health_checks: None) -> None:
    """With a device for every sub-job, the whole group goes Scheduled in one pass."""
    server, client = multinode(lab, ["server", "client"])
    assert sorted(placed(lab.schedule())) == [(server, "qemu01"), (client, "qemu02")]
    assert {job_row(lab.db, j)["state"] for j in (server, client)} == {JobState.SCHEDULED}


def test_multinode_group_waits_when_a_device_is_missing(lab: Any, db: Any,
                                                        no_health_checks: None) -> None:
    """One free device for a group of two: nothing is reserved, a single job may use it."""
    lab.health("qemu02", "Maintenance")
    group = multinode(lab, ["server", "client"])
    single = lab.submit(priority=0)
    events = db.events(thd_schedule, T0)
    assert [(e.kind, e.data["state"], e.data.get("job")) for e in events] == [
        ("device", "Reserved", None), ("testjob", "Scheduled", single)]
    assert {job_row(db, j)["state"] for j in group} == {JobState.SUBMITTED}


def test_multinode_respects_tags_and_limits_in_the_search(lab: Any, db: Any,
                                                          no_health_checks: None) -> None:
    """Devices are matched to sub-jobs as a set: the tagged role gets the tagged device."""
    usb = db.run(devices.thd_add_tag, "usb")["id"]
    db.run(devices.thd_update_device, "qemu02", tags=["usb"])
    plain, tagged = multinode(lab, ["plain", "tagged"], {"tagged": [usb]})
    assert sorted(placed(lab.schedule())) == [(plain, "qemu01"), (tagged, "qemu02")]


def test_multinode_counts_against_the_job_limit(lab: Any, db: Any,
                                                no_health_checks: None) -> None:
    """A group of two does not fit a worker limited to one job."""
    db.run(devices.thd_update_worker, "w1", job_limit=1)
    multinode(lab, ["server", "client"])
    assert lab.schedule()["scheduled"] == []


# -- health checks ---------------------------------------------------------------------------------
def test_health_checks_come_first(lab: Any, db: Any, hc: FakeHealthChecks) -> None:
    """A due health check takes its device before any queued job, even a high-priority one."""
    job_id = lab.submit(priority=100)
    hc.due.add("qemu01")
    result = lab.schedule()
    assert result["scheduled"][0]["health_check"] is True
    hc_id = result["scheduled"][0]["job"]
    assert placed(result) == [(hc_id, "qemu01"), (job_id, "qemu02")]
    assert ("qemu01", T0) in hc.asked
    row = job_row(db, hc_id)
    assert (row["health_check"], row["state"], row["actual_device"]) == \
        (1, JobState.SCHEDULED, "qemu01")


def test_health_check_events(lab: Any, db: Any, hc: FakeHealthChecks) -> None:
    """Creating and scheduling a health check: Submitted, device Reserved, Scheduled."""
    hc.due.add("qemu01")
    events = db.events(thd_schedule, T0)
    assert [(e.kind, e.data["state"]) for e in events] == [
        ("testjob", "Submitted"), ("device", "Reserved"), ("testjob", "Scheduled")]
    assert events[2].data["health_check"] is True


@pytest.mark.parametrize("health", ["Unknown", "Looping"])
def test_unknown_or_looping_device_only_takes_its_health_check(lab: Any, db: Any,
                                                               hc: FakeHealthChecks,
                                                               health: str) -> None:
    """An Unknown/Looping device with a health check due runs it and nothing else."""
    lab.health("qemu02", "Maintenance")
    lab.health("qemu01", health)
    job_id = lab.submit(priority=100)
    hc.due.add("qemu01")
    result = lab.schedule()
    assert [item["health_check"] for item in result["scheduled"]] == [True]
    assert job_row(db, job_id)["state"] == JobState.SUBMITTED


def test_unknown_device_without_health_check_takes_jobs(lab: Any, hc: FakeHealthChecks) -> None:
    """As in LAVA, an Unknown device with no health check due (none defined) runs jobs;
    a Looping one does not."""
    lab.health("qemu01", "Looping")
    lab.health("qemu02", "Unknown")
    job_id = lab.submit()
    assert placed(lab.schedule()) == [(job_id, "qemu02")]


def test_health_checks_respect_the_job_limit(lab: Any, db: Any, hc: FakeHealthChecks) -> None:
    """Health checks take worker slots too and stop at the limit."""
    db.run(devices.thd_update_worker, "w1", job_limit=1)
    hc.due.update({"qemu01", "qemu02"})
    lab.submit()
    result = lab.schedule()
    assert [(i["device"], i["health_check"]) for i in result["scheduled"]] == [("qemu01", True)]


def test_health_check_that_cannot_be_created_makes_the_device_bad(lab: Any, db: Any,
                                                                 hc: FakeHealthChecks) -> None:
    """A broken health check leaves no job behind and puts the device in Bad."""
    hc.due.add("qemu01")
    hc.broken.add("qemu01")
    job_id = lab.submit()
    result, tx = db.run_tx(thd_schedule, T0)
    assert placed(result) == [(job_id, "qemu02")]
    assert db.q("SELECT count(*) FROM test_jobs WHERE health_check = 1") == [(0,)]
    assert db.q("SELECT health FROM devices WHERE hostname = 'qemu01'") == [(DeviceHealth.BAD,)]
    assert [(e.kind, e.data.get("device"), e.data["health"]) for e in tx.events][0] == \
        ("device", "qemu01", "Bad")


def test_missing_submission_module_skips_health_checks(lab: Any,
                                                       no_health_checks: None) -> None:
    """Without lavad.submission the pass schedules ordinary jobs only."""
    assert scheduler._health_check_api() is None
    lab.health("qemu01", "Looping")
    job_id = lab.submit()
    assert placed(lab.schedule()) == [(job_id, "qemu02")]


HEALTH_CHECK = """job_name: qemu health check
visibility: public
priority: medium
timeouts:
  job: {minutes: 10}
  action: {minutes: 5}
actions:
- boot: {method: qemu, media: tmpfs, timeout: {minutes: 2}}
"""


@pytest.fixture
def real_hc(lab: Any, db: Any) -> Any:
    """The real lavad.submission health checks, with a definition for qemu."""
    submission = pytest.importorskip("lavad.submission")
    healthchecks = pytest.importorskip("lavad.healthchecks")
    if scheduler._health_check_api() is None:
        pytest.skip("lavad.submission has no health-check functions yet")
    db.run(healthchecks.thd_set_health_check, "qemu", HEALTH_CHECK)
    return submission


def test_real_health_check_runs_first_on_a_never_checked_device(lab: Any, db: Any,
                                                                real_hc: Any) -> None:
    """With the real lavad.submission: never-checked devices get a health check, as lava-health,
    before the queue; the device's health follows the outcome."""
    job_id = lab.submit(priority=100)
    result = lab.schedule()
    assert [(i["device"], i["health_check"]) for i in result["scheduled"]] == [
        ("qemu01", True), ("qemu02", True)]
    hc_id = result["scheduled"][0]["job"]
    assert db.q("SELECT u.username, j.requested_device FROM test_jobs j JOIN users u"
                " ON u.id = j.submitter_id WHERE j.id = ?", (hc_id,)) == [
        ("lava-health", "qemu01")]
    assert job_row(db, job_id)["state"] == JobState.SUBMITTED
    db.run(statemachine.thd_job_running, hc_id)
    db.run(statemachine.thd_job_finished, hc_id, "pass")
    assert db.q("SELECT health, last_health_report_job FROM devices WHERE hostname ="
                " 'qemu01'") == [(DeviceHealth.GOOD, hc_id)]
    assert placed(lab.schedule()) == [(job_id, "qemu01")]  # not due again for 24 hours


def test_real_health_check_on_unknown_device_only(lab: Any, db: Any, real_hc: Any) -> None:
    """With the real lavad.submission: an Unknown device takes its health check, not the job;
    a failed check makes it Bad and it then takes nothing."""
    lab.health("qemu02", "Maintenance")
    lab.health("qemu01", "Unknown")
    job_id = lab.submit(priority=100)
    result = lab.schedule()
    assert [i["health_check"] for i in result["scheduled"]] == [True]
    db.run(statemachine.thd_job_finished, result["scheduled"][0]["job"], "fail", "Job")
    assert db.q("SELECT health FROM devices WHERE hostname = 'qemu01'") == [(DeviceHealth.BAD,)]
    assert lab.schedule()["scheduled"] == []
    assert job_row(db, job_id)["state"] == JobState.SUBMITTED


def test_real_health_check_disabled_lets_unknown_device_run_jobs(lab: Any, db: Any,
                                                                 real_hc: Any) -> None:
    """With health checks disabled on the type, an Unknown device runs ordinary jobs (LAVA)."""
    db.run(devices.thd_update_device_type, "qemu", disable_health_check=True)
    lab.health("qemu01", "Unknown")
    lab.health("qemu02", "Maintenance")
    job_id = lab.submit()
    assert placed(lab.schedule()) == [(job_id, "qemu01")]


def test_real_invalid_health_check_makes_the_device_bad(lab: Any, db: Any,
                                                        real_hc: Any) -> None:
    """A health-check definition that is not a job puts the device in Bad, no job left behind."""
    from lavad import healthchecks
    db.run(healthchecks.thd_set_health_check, "qemu", "- not\n- a job\n")
    lab.health("qemu02", "Maintenance")
    assert lab.schedule()["scheduled"] == []
    assert db.q("SELECT health FROM devices WHERE hostname = 'qemu01'") == [(DeviceHealth.BAD,)]
    assert db.q("SELECT count(*) FROM test_jobs") == [(0,)]


# -- the service -------------------------------------------------------------------------------------
def wait_for(bus: EventBus, match: Any, timeout: float = 10.0) -> Deferred:
    """A Deferred fired with the first event for which ``match(event)`` is true."""
    d: Deferred = Deferred()

    def on_event(event: Event) -> None:
        if not d.called and match(event):
            unsubscribe()
            d.callback(event)

    unsubscribe = bus.subscribe(on_event)
    d.addTimeout(timeout, reactor, onTimeoutCancel=lambda *a: unsubscribe())
    return d


@pytest_twisted.async_yield_fixture
async def service_lab(tmp_path: Any, monkeypatch: Any) -> Any:
    """A StoreThread whose clock is a Clock, that Clock as the scheduler's reactor, a small lab."""
    monkeypatch.setitem(sys.modules, "lavad.submission", None)
    clock = Clock()
    clock.advance(T0)
    store = StoreThread(reactor, str(tmp_path / "lavad.sqlite3"), EventBus(), clock.seconds)
    await store.start()

    def thd_setup(tx: Any) -> int:
        uid = users.thd_add_user(tx, "alice")["id"]
        devices.thd_add_device_type(tx, "qemu")
        devices.thd_add_worker(tx, "w1")
        devices.thd_set_worker_state(tx, "w1", WorkerState.ONLINE)
        devices.thd_add_device(tx, "qemu01", "qemu", worker_host="w1", health="Good")
        return uid

    ns = SimpleNamespace(store=store, clock=clock, uid=await store.run(thd_setup))
    ns.scheduler = Scheduler(store, clock, interval=20.0, ping_timeout=60.0)
    yield ns
    if ns.scheduler.running:
        await ns.scheduler.stopService()
    await store.stop()


@pytest_twisted.ensureDeferred
async def test_service_runs_a_pass_at_start_and_on_the_timer(service_lab: Any) -> None:
    """startService runs a pass at once; the next comes when the Clock reaches the interval."""
    s = service_lab.scheduler
    s.startService()
    await s.when_idle()
    assert s.passes == 1
    service_lab.clock.advance(19)
    await s.when_idle()
    assert s.passes == 1
    service_lab.clock.advance(1)
    await s.when_idle()
    assert s.passes == 2


@pytest_twisted.ensureDeferred
async def test_service_wakes_on_a_submission_without_the_timer(service_lab: Any) -> None:
    """A Submitted event starts a pass at once: the job is Scheduled with the Clock unmoved."""
    s, store = service_lab.scheduler, service_lab.store
    s.startService()
    await s.when_idle()
    scheduled = wait_for(store.bus, lambda e: e.kind == "testjob"
                         and e.data["state"] == "Scheduled")
    job_id = await store.run(jobs.thd_insert_job, service_lab.uid, "job_name: j\n",
                             requested_device_type="qemu")
    event = await scheduled
    assert event.data["job"] == job_id and event.data["device"] == "qemu01"
    await s.when_idle()
    assert service_lab.clock.seconds() == T0


@pytest_twisted.ensureDeferred
async def test_service_takes_silent_workers_offline(service_lab: Any) -> None:
    """Advancing the Clock past the ping timeout: the next timed pass marks the worker Offline."""
    s, store = service_lab.scheduler, service_lab.store
    s.startService()
    await s.when_idle()
    offline = wait_for(store.bus, lambda e: e.kind == "worker" and e.data["state"] == "Offline")
    service_lab.clock.advance(20)
    await s.when_idle()
    service_lab.clock.advance(20)
    await s.when_idle()
    assert not offline.called
    service_lab.clock.advance(20)  # T0 + 60: not older than 60 s yet
    await s.when_idle()
    assert not offline.called
    service_lab.clock.advance(20)
    event = await offline
    assert event.data == {"hostname": "w1", "health": "Active", "state": "Offline"}
    assert s.last_result is not None
    await s.when_idle()
    assert s.last_result["offline"] == ["w1"]


@pytest_twisted.ensureDeferred
async def test_service_coalesces_wakes(service_lab: Any) -> None:
    """Wakes during a pass fold into one more pass afterwards."""
    s = service_lab.scheduler
    s.startService()  # pass 1 in flight
    s.wake()
    s.wake()
    s.wake()
    await s.when_idle()
    assert s.passes == 2


@pytest_twisted.ensureDeferred
async def test_service_cancels_the_job_of_a_retired_device(service_lab: Any) -> None:
    """Retiring a device that runs a job makes the scheduler cancel it as its submitter."""
    s, store = service_lab.scheduler, service_lab.store
    s.startService()
    await s.when_idle()
    job_id = await store.run(jobs.thd_insert_job, service_lab.uid, "job_name: j\n",
                             requested_device_type="qemu")
    await s.when_idle()
    await store.run(statemachine.thd_job_running, job_id)
    canceling = wait_for(store.bus, lambda e: e.kind == "testjob"
                         and e.data["state"] == "Canceling")
    await store.run(devices.thd_set_device_health, "qemu01", DeviceHealth.RETIRED)
    event = await canceling
    assert event.data["job"] == job_id and event.username == "alice"
    await s.stopService()  # waits for the cancel to be stored
    state = await store.run(lambda tx: tx.scalar("SELECT state FROM test_jobs WHERE id = ?",
                                                 (job_id,)))
    assert state == JobState.CANCELING


@pytest_twisted.ensureDeferred
async def test_service_stop_ends_timer_and_subscription(service_lab: Any) -> None:
    """After stopService neither the Clock nor events start a pass."""
    s, store = service_lab.scheduler, service_lab.store
    s.startService()
    await s.when_idle()
    await s.stopService()
    passes = s.passes
    service_lab.clock.advance(100)
    await store.run(jobs.thd_insert_job, service_lab.uid, "job_name: j\n",
                    requested_device_type="qemu")
    await s.when_idle()
    assert s.passes == passes
    assert service_lab.clock.getDelayedCalls() == []


def test_wants_pass() -> None:
    """Only submissions, devices back to Idle (Good/Unknown/Looping) and Online Active workers
    wake the scheduler."""
    def ev(kind: str, **data: Any) -> Event:
        return Event(kind=kind, data=data)
    assert scheduler.wants_pass(ev("testjob", state="Submitted"))
    assert not scheduler.wants_pass(ev("testjob", state="Scheduled"))
    assert scheduler.wants_pass(ev("device", state="Idle", health="Good"))
    assert scheduler.wants_pass(ev("device", state="Idle", health="Unknown"))
    assert not scheduler.wants_pass(ev("device", state="Idle", health="Maintenance"))
    assert not scheduler.wants_pass(ev("device", state="Reserved", health="Good"))
    assert scheduler.wants_pass(ev("worker", state="Online", health="Active"))
    assert not scheduler.wants_pass(ev("worker", state="Offline", health="Active"))
    assert not scheduler.wants_pass(ev("lab", object="user"))
    assert DeviceState.IDLE.display == "Idle"
