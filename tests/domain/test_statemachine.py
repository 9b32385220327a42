"""The job/device state machine (lavad/statemachine.py): transitions and their events.

Runs on the synchronous db of tests/domain/conftest.py; ``db.events``
returns what one transaction emitted.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from lavad import devices, jobs, statemachine, users
from lavad.errors import Conflict, Invalid, NotFound, PermissionDenied
from lavad.lab import Lab
from lavad.models import DeviceHealth, DeviceState, JobHealth, JobState, WorkerState
from lavad.users import ANONYMOUS

NOW = "2026-07-01T10:00:00.000000"
NOW_EVENT = "2026-07-01T10:00:00+00:00"


def summary(events: list[Any]) -> list[tuple[Any, ...]]:
    """Events as short tuples: (kind, id, state, health[, job])."""
    out: list[tuple[Any, ...]] = []
    for e in events:
        d = e.data
        if e.kind == "device":
            out.append(("device", d["device"], d["state"], d["health"], d.get("job")))
        elif e.kind == "testjob":
            out.append(("testjob", d["job"], d["state"], d["health"]))
        else:
            out.append((e.kind, d))
    return out


def job_row(db: Any, job_id: int) -> dict[str, Any]:
    return dict(db.conn.execute("SELECT * FROM test_jobs WHERE id = ?", (job_id,)).fetchone())


def device_row(db: Any, hostname: str) -> dict[str, Any]:
    return dict(db.conn.execute("SELECT * FROM devices WHERE hostname = ?",
                                   (hostname,)).fetchone())


@pytest.fixture
def lab(db: Any) -> Any:
    """alice submits, bob is another user, root is a superuser; qemu01/qemu02 (Good) on w1."""
    ns = SimpleNamespace(db=db)
    for name in ("alice", "bob", "carol"):
        setattr(ns, name, db.run(users.thd_principal, db.run(
            users.thd_add_user, name)["id"]))
    ns.root = db.run(users.thd_principal, db.run(
        users.thd_add_user, "root", is_superuser=True)["id"])
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_worker, "w1")
    db.run(devices.thd_set_worker_state, "w1", WorkerState.ONLINE)
    for host in ("qemu01", "qemu02"):
        db.run(devices.thd_add_device, host, "qemu", worker_host="w1", health="Good")

    def submit(submitter: Any = None, **kwargs: Any) -> int:
        kwargs.setdefault("requested_device_type", "qemu")
        kwargs.setdefault("description", "smoke")
        definition = kwargs.pop("definition", "job_name: smoke\n")
        return db.run(jobs.thd_insert_job, (submitter or ns.alice).id, definition, **kwargs)

    def multinode(roles: dict[str, dict[str, Any]]) -> list[int]:
        """A multinode group, one sub-job per role (``{role: extra definition keys}``)."""
        ids = []
        for role, extra in roles.items():
            definition = {"job_name": "mn", "protocols": {"lava-multinode": {
                "role": role, "target_group": "grp"}}}
            definition.update(extra)
            if "essential" in extra:
                definition["protocols"]["lava-multinode"]["essential"] = extra["essential"]
                del definition["essential"]
            dynamic = "connection" in extra
            ids.append(db.run(jobs.thd_insert_job, ns.alice.id, yaml.safe_dump(definition),
                                 requested_device_type=None if dynamic else "qemu",
                                 target_group="grp", description="mn"))
        for i, job_id in enumerate(ids):
            db.conn.execute("UPDATE test_jobs SET sub_id = ? WHERE id = ?",
                               ("%d.%d" % (ids[0], i), job_id))
        return ids

    def scheduled(host: str = "qemu01", **kwargs: Any) -> int:
        job_id = submit(**kwargs)
        db.run(statemachine.thd_schedule_job, job_id, host)
        return job_id

    def running(host: str = "qemu01", **kwargs: Any) -> int:
        job_id = scheduled(host, **kwargs)
        db.run(statemachine.thd_job_running, job_id)
        return job_id

    ns.submit, ns.multinode, ns.scheduled, ns.running = submit, multinode, scheduled, running
    return ns


# -- scheduling ---------------------------------------------------------------------------------
def test_schedule_reserves_the_device_then_schedules_the_job(lab: Any, db: Any) -> None:
    """Submitted → Scheduled: one device event (Reserved) then one testjob event, LAVA's order."""
    job_id = lab.submit()
    events = db.events(statemachine.thd_schedule_job, job_id, "qemu01")
    assert summary(events) == [("device", "qemu01", "Reserved", "Good", None),
                               ("testjob", job_id, "Scheduled", "Unknown")]
    assert events[0].data == {"health": "Good", "state": "Reserved", "device": "qemu01",
                              "device_type": "qemu", "worker": "w1"}
    assert events[0].username == "lavaserver"
    assert events[1].data == {
        "health": "Unknown", "state": "Scheduled", "job": job_id, "description": "smoke",
        "priority": 50, "submit_time": NOW_EVENT, "submitter": "alice", "health_check": False,
        "device": "qemu01", "worker": "w1", "device_type": "qemu"}
    assert events[1].username == "alice"
    row = job_row(db, job_id)
    assert (row["actual_device"], row["worker_host"], row["state"]) == \
        ("qemu01", "w1", JobState.SCHEDULED)
    assert device_row(db, "qemu01")["state"] == DeviceState.RESERVED


def test_schedule_refuses_a_busy_device_and_ignores_a_scheduled_job(lab: Any,
                                                                    db: Any) -> None:
    """A device that is not Idle is a Conflict; scheduling a job twice changes nothing."""
    first = lab.scheduled("qemu01")
    with pytest.raises(Conflict, match="not Idle"):
        db.run(statemachine.thd_schedule_job, lab.submit(), "qemu01")
    assert db.events(statemachine.thd_schedule_job, first, "qemu02") == []
    assert device_row(db, "qemu02")["state"] == DeviceState.IDLE
    with pytest.raises(NotFound):
        db.run(statemachine.thd_schedule_job, 999, "qemu02")
    with pytest.raises(NotFound):
        db.run(statemachine.thd_schedule_job, lab.submit(), "nosuch")


def test_multinode_waits_in_scheduling_until_the_group_has_devices(lab: Any,
                                                                   db: Any) -> None:
    """Sub-jobs go Scheduling one by one; the last device moves the whole group to Scheduled."""
    server, client = lab.multinode({"server": {}, "client": {}})
    events = db.events(statemachine.thd_schedule_job, server, "qemu01")
    assert summary(events) == [("device", "qemu01", "Reserved", "Good", None),
                               ("testjob", server, "Scheduling", "Unknown")]
    assert events[1].data["sub_id"] == "%d.0" % server
    events = db.events(statemachine.thd_schedule_job, client, "qemu02")
    assert summary(events) == [("device", "qemu02", "Reserved", "Good", None),
                               ("testjob", client, "Scheduling", "Unknown"),
                               ("testjob", server, "Scheduled", "Unknown"),
                               ("testjob", client, "Scheduled", "Unknown")]
    for job_id in (server, client):
        definition = yaml.safe_load(job_row(db, job_id)["definition"])
        assert definition["protocols"]["lava-multinode"]["roles"] == {
            str(server): "server", str(client): "client"}


def test_multinode_dynamic_connection_needs_no_device(lab: Any, db: Any) -> None:
    """A sub-job with a ``connection`` goes Scheduled with its group, without a device."""
    host, guest = lab.multinode({"host": {}, "guest": {"connection": "ssh"}})
    events = db.events(statemachine.thd_schedule_job, host, "qemu01")
    assert summary(events)[-2:] == [("testjob", host, "Scheduled", "Unknown"),
                                    ("testjob", guest, "Scheduled", "Unknown")]
    assert job_row(db, guest)["actual_device"] is None
    roles = yaml.safe_load(job_row(db, guest)["definition"])
    assert roles["protocols"]["lava-multinode"]["roles"] == {str(host): "host"}


# -- running -------------------------------------------------------------------------------------
def test_running_moves_device_then_job(lab: Any, db: Any, clock: Any) -> None:
    """Scheduled → Running sets start_time; the device event (Running, with the job) comes first."""
    job_id = lab.scheduled()
    clock.now += 5
    events = db.events(statemachine.thd_job_running, job_id)
    assert summary(events) == [("device", "qemu01", "Running", "Good", job_id),
                               ("testjob", job_id, "Running", "Unknown")]
    assert events[1].data["start_time"] == "2026-07-01T10:00:05+00:00"
    assert job_row(db, job_id)["start_time"] == "2026-07-01T10:00:05.000000"


def test_running_again_or_after_cancel_is_a_no_op(lab: Any, db: Any) -> None:
    """A Running, Canceling or Finished job ignores a (resent) start; no event."""
    job_id = lab.running()
    assert db.events(statemachine.thd_job_running, job_id) == []
    other = lab.scheduled("qemu02")
    db.run(statemachine.thd_cancel_job, lab.alice, other)
    assert db.events(statemachine.thd_job_running, other) == []
    assert job_row(db, other)["state"] == JobState.CANCELING
    db.run(statemachine.thd_job_finished, job_id, "pass")
    assert db.events(statemachine.thd_job_running, job_id) == []


def test_running_needs_a_scheduled_job(lab: Any, db: Any) -> None:
    """A job still Submitted cannot start (Conflict)."""
    with pytest.raises(Conflict):
        db.run(statemachine.thd_job_running, lab.submit())


# -- finishing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("result, health", [("pass", "Complete"), ("fail", "Incomplete")])
def test_finished_sets_health_and_frees_the_device(lab: Any, db: Any, clock: Any,
                                                   result: str, health: str) -> None:
    """pass → Complete, fail → Incomplete; device Idle (event still names the job), then the job."""
    job_id = lab.running()
    clock.now += 60
    events = db.events(statemachine.thd_job_finished, job_id, result, "", "")
    assert summary(events) == [("device", "qemu01", "Idle", "Good", job_id),
                               ("testjob", job_id, "Finished", health)]
    assert events[1].data["end_time"] == "2026-07-01T10:01:00+00:00"
    row = job_row(db, job_id)
    assert row["failure_comment"] is None
    assert (row["start_time"], row["end_time"]) == (NOW, "2026-07-01T10:01:00.000000")


def test_finished_records_errors_as_failure_comment(lab: Any, db: Any) -> None:
    """A non-empty ``errors`` becomes the failure comment."""
    job_id = lab.running()
    db.run(statemachine.thd_job_finished, job_id, "fail", "Job", "lava-run crashed\n")
    assert job_row(db, job_id)["failure_comment"] == "lava-run crashed\n"


def test_finished_rejects_an_unknown_result(lab: Any, db: Any) -> None:
    """A result other than pass/fail is Invalid("Invalid health '<x>'") and changes nothing."""
    job_id = lab.running()
    with pytest.raises(Invalid) as exc:
        db.run(statemachine.thd_job_finished, job_id, "PASS")
    assert exc.value.message == "Invalid health 'PASS'"
    assert job_row(db, job_id)["state"] == JobState.RUNNING


def test_finished_twice_is_a_silent_no_op(lab: Any, db: Any) -> None:
    """The worker's resend of FINISHED returns without error or event."""
    job_id = lab.running()
    db.run(statemachine.thd_job_finished, job_id, "pass")
    assert db.events(statemachine.thd_job_finished, job_id, "fail", "Bug", "x") == []
    row = job_row(db, job_id)
    assert (row["health"], row["failure_comment"]) == (JobHealth.COMPLETE, None)


def test_finished_without_running_sets_start_time(lab: Any, db: Any) -> None:
    """A job that ends before it was seen running gets start_time = end_time."""
    job_id = lab.scheduled()
    db.run(statemachine.thd_job_finished, job_id, "fail", "Job")
    row = job_row(db, job_id)
    assert row["start_time"] == row["end_time"] == NOW


def test_finished_accepts_the_multinode_sub_id(lab: Any, db: Any) -> None:
    """Jobs may be named by their ``N.M`` sub-id."""
    server, client = lab.multinode({"server": {}, "client": {}})
    db.run(statemachine.thd_schedule_job, server, "qemu01")
    db.run(statemachine.thd_schedule_job, client, "qemu02")
    db.run(statemachine.thd_job_running, "%d.1" % server)
    assert job_row(db, client)["state"] == JobState.RUNNING
    with pytest.raises(NotFound):
        db.run(statemachine.thd_job_running, "%d.7" % server)


@pytest.mark.parametrize("result", ["pass", "fail"])
def test_canceling_job_ends_canceled_whatever_the_worker_says(lab: Any, db: Any,
                                                               result: str) -> None:
    """A job in Canceling finishes with health Canceled for pass and fail alike."""
    job_id = lab.running()
    db.run(statemachine.thd_cancel_job, lab.alice, job_id)
    events = db.events(statemachine.thd_job_finished, job_id, result, "Canceled")
    assert summary(events) == [("device", "qemu01", "Idle", "Good", job_id),
                               ("testjob", job_id, "Finished", "Canceled")]


@pytest.mark.parametrize("error_type", ["Bug", "Configuration", "Infrastructure"])
def test_infrastructure_error_sends_the_device_to_unknown(lab: Any, db: Any,
                                                          error_type: str) -> None:
    """Bug/Configuration/Infrastructure on a normal job: one device event, Idle and Unknown."""
    job_id = lab.running()
    events = db.events(statemachine.thd_job_finished, job_id, "fail", error_type)
    assert summary(events) == [("device", "qemu01", "Idle", "Unknown", job_id),
                               ("testjob", job_id, "Finished", "Incomplete")]
    log = db.q("SELECT message FROM log_entries WHERE object_type = 'device'"
                  " AND object_id = 'qemu01' ORDER BY id DESC LIMIT 1")
    assert log == [("Good → Unknown (Infrastructure error after job %d)" % job_id,)]


@pytest.mark.parametrize("error_type", ["", "Job", "Test", "Canceled", "LAVATimeout"])
def test_other_errors_leave_device_health_alone(lab: Any, db: Any, error_type: str) -> None:
    """Job-side errors do not touch the device's health."""
    job_id = lab.running()
    db.run(statemachine.thd_job_finished, job_id, "fail", error_type)
    assert device_row(db, "qemu01")["health"] == DeviceHealth.GOOD


def test_infrastructure_error_keeps_an_admin_maintenance(lab: Any, db: Any) -> None:
    """A device put in Maintenance while it ran stays there after an infra error."""
    job_id = lab.running()
    db.run(devices.thd_set_device_health, "qemu01", DeviceHealth.MAINTENANCE)
    db.run(statemachine.thd_job_finished, job_id, "fail", "Infrastructure")
    row = device_row(db, "qemu01")
    assert (row["state"], row["health"]) == (DeviceState.IDLE, DeviceHealth.MAINTENANCE)


@pytest.mark.parametrize("before, result, cancel, after", [
    ("Good", "pass", False, "Good"),
    ("Unknown", "pass", False, "Good"),
    ("Bad", "pass", False, "Good"),
    ("Good", "fail", False, "Bad"),
    ("Unknown", "fail", False, "Bad"),
    ("Unknown", "pass", True, "Bad"),     # a canceled health check: Bad, as in LAVA
    ("Looping", "fail", False, "Looping"),
    ("Looping", "pass", False, "Looping"),
    ("Maintenance", "pass", False, "Maintenance"),
    ("Retired", "fail", False, "Retired"),
])
def test_health_check_outcome_sets_device_health(lab: Any, db: Any, before: str,
                                                 result: str, cancel: bool,
                                                 after: str) -> None:
    """Health check: Complete → Good, Incomplete or Canceled → Bad; Looping, Maintenance and
    Retired stay; last_health_report_job is the health check."""
    job_id = lab.running(health_check=True)
    db.conn.execute("UPDATE devices SET health = ? WHERE hostname = 'qemu01'",
                       (DeviceHealth.from_display(before),))
    if cancel:
        db.run(statemachine.thd_cancel_job, lab.root, job_id)
    events = db.events(statemachine.thd_job_finished, job_id, result, "Infrastructure")
    assert [e.kind for e in events] == ["device", "testjob"]
    assert events[0].data["health"] == after
    row = device_row(db, "qemu01")
    assert row["last_health_report_job"] == job_id
    assert DeviceHealth(row["health"]).display == after


def test_device_stays_busy_while_another_job_holds_it(lab: Any, db: Any) -> None:
    """The device only returns to Idle when no other unfinished job holds it."""
    first = lab.running()
    other = lab.submit()
    db.conn.execute("UPDATE test_jobs SET state = ?, actual_device = 'qemu01' WHERE id = ?",
                       (JobState.SCHEDULED, other))
    events = db.events(statemachine.thd_job_finished, first, "pass")
    assert summary(events) == [("testjob", first, "Finished", "Complete")]
    assert device_row(db, "qemu01")["state"] == DeviceState.RUNNING


def test_fail_job_finishes_incomplete_with_the_reason(lab: Any, db: Any) -> None:
    """A server-side failure: Finished/Incomplete, the reason as failure comment, device Idle."""
    job_id = lab.running()
    events = db.events(statemachine.thd_fail_job, job_id, "worker w1 was deleted")
    assert summary(events) == [("device", "qemu01", "Idle", "Good", job_id),
                               ("testjob", job_id, "Finished", "Incomplete")]
    assert job_row(db, job_id)["failure_comment"] == "worker w1 was deleted"
    assert db.events(statemachine.thd_fail_job, job_id, "again") == []


# -- cancel ---------------------------------------------------------------------------------------
def test_cancel_missing_job_is_not_found(lab: Any, db: Any) -> None:
    """An unknown job id is NotFound."""
    with pytest.raises(NotFound):
        db.run(statemachine.thd_cancel_job, lab.root, 4242)


def test_cancel_submitted_job_finishes_it_at_once(lab: Any, db: Any) -> None:
    """Submitted → Finished/Canceled in one event, start_time = end_time = now, no device."""
    job_id = lab.submit()
    events = db.events(statemachine.thd_cancel_job, lab.alice, job_id)
    assert summary(events) == [("testjob", job_id, "Finished", "Canceled")]
    assert events[0].data["start_time"] == events[0].data["end_time"] == NOW_EVENT
    assert db.q("SELECT message FROM log_entries WHERE object_type = 'testjob'"
                   " AND object_id = ?", (str(job_id),)) == [("Cancel requested",)]


@pytest.mark.parametrize("start", ["scheduled", "running"])
def test_cancel_scheduled_or_running_goes_canceling(lab: Any, db: Any, start: str) -> None:
    """Scheduled/Running → Canceling (one event); the device stays with the job."""
    job_id = getattr(lab, start)()
    device_before = device_row(db, "qemu01")["state"]
    events = db.events(statemachine.thd_cancel_job, lab.alice, job_id)
    assert summary(events) == [("testjob", job_id, "Canceling", "Unknown")]
    assert device_row(db, "qemu01")["state"] == device_before


def test_cancel_before_start_then_worker_reports_bug(lab: Any, db: Any) -> None:
    """A Scheduled job canceled before it started: the worker reports fail/Bug, the job ends
    Canceled and, as in LAVA, the Bug counts as an infrastructure error (device Unknown)."""
    job_id = lab.scheduled()
    db.run(statemachine.thd_cancel_job, lab.alice, job_id)
    events = db.events(statemachine.thd_job_finished, job_id, "fail", "Bug")
    assert summary(events) == [("device", "qemu01", "Idle", "Unknown", job_id),
                               ("testjob", job_id, "Finished", "Canceled")]


@pytest.mark.parametrize("finish", ["canceling", "finished"])
def test_cancel_of_ended_job_is_silent_success_for_anyone(lab: Any, db: Any,
                                                          finish: str) -> None:
    """Already Canceling or Finished: True and no event, even for anonymous or a stranger."""
    job_id = lab.running()
    if finish == "canceling":
        db.run(statemachine.thd_cancel_job, lab.alice, job_id)
    else:
        db.run(statemachine.thd_job_finished, job_id, "pass")
    for who in (ANONYMOUS, lab.bob, lab.alice):
        result, tx = db.run_tx(statemachine.thd_cancel_job, who, job_id)
        assert result is True
        assert tx.events == []


def test_cancel_permissions(lab: Any, db: Any) -> None:
    """Submitter, superuser, change_testjob and device change rights may cancel; others get
    PermissionDenied("Insufficient permissions")."""
    db.run(users.thd_grant, "lava_scheduler_app.change_testjob", user="carol")
    carol = db.run(users.thd_principal_by_name, "carol")
    db.run(users.thd_add_group, "lab-admins", ["bob"])
    bob = db.run(users.thd_principal_by_name, "bob")
    dave = db.run(users.thd_principal, db.run(users.thd_add_user, "dave")["id"])
    for who in (ANONYMOUS, bob, dave):
        job_id = lab.submit()
        with pytest.raises(PermissionDenied) as exc:
            db.run(statemachine.thd_cancel_job, who, job_id)
        assert exc.value.message == "Insufficient permissions"
        assert job_row(db, job_id)["state"] == JobState.SUBMITTED
    for who in (lab.alice, lab.root, carol):
        job_id = lab.submit()
        assert db.run(statemachine.thd_cancel_job, who, job_id) is True
        assert job_row(db, job_id)["state"] == JobState.FINISHED
    # bob's group gets the change right on the device running the job
    job_id = lab.running("qemu02")
    db.run(devices.thd_add_object_permission, "device", "lab-admins", "change_device",
              "qemu02")
    assert db.run(statemachine.thd_cancel_job, bob, job_id) is True
    assert job_row(db, job_id)["state"] == JobState.CANCELING


def test_cancel_multinode_cancels_the_whole_group(lab: Any, db: Any) -> None:
    """Canceling one sub-job cancels every sub-job of its target group."""
    server, client = lab.multinode({"server": {}, "client": {}})
    events = db.events(statemachine.thd_cancel_job, lab.alice, client)
    assert summary(events) == [("testjob", server, "Finished", "Canceled"),
                               ("testjob", client, "Finished", "Canceled")]
    a, b = lab.multinode({"server": {}, "client": {}})
    db.run(statemachine.thd_schedule_job, a, "qemu01")  # a: Scheduling, b: Submitted
    events = db.events(statemachine.thd_cancel_job, lab.alice, "%d.0" % a)
    assert summary(events) == [("testjob", a, "Canceling", "Unknown"),
                               ("testjob", b, "Finished", "Canceled")]


def test_essential_role_failure_cancels_the_group(lab: Any, db: Any) -> None:
    """An essential sub-job ending Incomplete cancels the other sub-jobs."""
    server, client = lab.multinode({"server": {"essential": True}, "client": {}})
    db.run(statemachine.thd_schedule_job, server, "qemu01")
    db.run(statemachine.thd_schedule_job, client, "qemu02")
    for job_id in (server, client):
        db.run(statemachine.thd_job_running, job_id)
    events = db.events(statemachine.thd_job_finished, server, "fail", "Test")
    assert summary(events)[-1] == ("testjob", client, "Canceling", "Unknown")
    # a non-essential failure does not
    s2, c2 = lab.multinode({"server": {}, "client": {}})
    db.run(statemachine.thd_job_finished, client, "fail")
    db.run(statemachine.thd_job_finished, server, "fail")
    db.run(statemachine.thd_schedule_job, s2, "qemu01")
    db.run(statemachine.thd_schedule_job, c2, "qemu02")
    events = db.events(statemachine.thd_job_finished, s2, "fail", "Test")
    assert [e.data["job"] for e in events if e.kind == "testjob"] == [s2]


def test_retiring_a_busy_device_asks_to_cancel_and_cancel_as_submitter_does(
        lab: Any, db: Any) -> None:
    """Retiring qemu01 emits the lab cancel event; cancel-as-submitter then cancels the job."""
    job_id = lab.running()
    events = db.events(devices.thd_set_device_health, "qemu01", DeviceHealth.RETIRED)
    lab_events = [e.data for e in events if e.kind == "lab"]
    assert lab_events == [{"object": "testjob", "action": "cancel", "job": job_id,
                           "reason": "device qemu01 retired"}]
    events = db.events(statemachine.thd_cancel_job_as_submitter, job_id)
    assert summary(events) == [("testjob", job_id, "Canceling", "Unknown")]
    assert db.q("SELECT u.username FROM log_entries l JOIN users u ON u.id = l.user_id"
                   " WHERE l.object_type = 'testjob' AND l.object_id = ?",
                   (str(job_id),)) == [("alice",)]
    assert db.run(statemachine.thd_cancel_job_as_submitter, 9999) is False


# -- the internal API ------------------------------------------------------------------------------
def test_lab_methods_delegate_to_the_state_machine(lab: Any, db: Any) -> None:
    """Lab.job_running / job_finished / cancel_job run the state machine through the db."""
    api = Lab(db)
    job_id = lab.scheduled()
    assert api.job_running(job_id) is True
    assert api.job_finished(job_id, "fail", "Infrastructure", "boom") is True
    row = job_row(db, job_id)
    assert (row["state"], row["health"], row["failure_comment"]) == \
        (JobState.FINISHED, JobHealth.INCOMPLETE, "boom")
    other = lab.submit()
    with pytest.raises(PermissionDenied):
        api.cancel_job(lab.bob, other)
    assert api.cancel_job(lab.alice, other) is True
