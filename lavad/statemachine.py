"""The job and device state machine, as LAVA runs it.

Every function here runs on the store thread.  A job's state or health only
changes through :func:`lavad.jobs.thd_set_job_state` and a device's state or
health through :func:`_move_device` (which writes both in one update), so each
change emits exactly one event.  When a transition touches the device and the
job, the device event comes first, then the job event, as in LAVA (the device
is saved from inside the job's transition, before the job itself).  One
consequence that LAVA shares: the device's ``Reserved`` event has no ``job``
key (the job does not hold the device yet), while its ``Idle`` event at the
end still names the job that just finished.

Job life: Submitted → [Scheduling, multinode] → Scheduled → Running →
[Canceling] → Finished.  Device life for one job: Idle → Reserved → Running →
Idle.
"""

from __future__ import annotations

from typing import Any

import yaml

from lavad import jobs, permissions, users
from lavad.devices import _log, emit_device
from lavad.errors import Conflict, Invalid, NotFound, PermissionDenied
from lavad.models import DeviceHealth, DeviceState, JobHealth, JobState
from lavad.store.tx import Tx
from lavad.users import ANONYMOUS, Principal

#: ``error_type`` values (from lava-run's result.yaml) that blame the lab, not the job.
INFRASTRUCTURE_ERRORS = frozenset({"Bug", "Configuration", "Infrastructure"})

try:
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # PyYAML built without libyaml
    _Loader, _Dumper = yaml.SafeLoader, yaml.SafeDumper


# -- reading ------------------------------------------------------------------------------
def _job(tx: Tx, job_id: int | str) -> Any:
    """The stored job: ``N``, ``"N"`` or a multinode ``"N.M"`` sub-id."""
    if isinstance(job_id, str) and "." in job_id:
        row = tx.one("SELECT * FROM test_jobs WHERE sub_id = ?", (job_id,))
    else:
        try:
            row = tx.one("SELECT * FROM test_jobs WHERE id = ?", (int(job_id),))
        except (TypeError, ValueError):
            row = None
    if row is None:
        raise NotFound("Job '%s' was not found." % job_id, model="TestJob")
    return row


def _definition(row: Any) -> dict[str, Any]:
    try:
        data = yaml.load(row["definition"] or "", Loader=_Loader)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _multinode_protocol(row: Any) -> dict[str, Any]:
    proto = _definition(row).get("protocols")
    proto = proto.get("lava-multinode") if isinstance(proto, dict) else None
    return proto if isinstance(proto, dict) else {}


def is_dynamic_connection(row: Any) -> bool:
    """A multinode sub-job that connects to another role instead of using a device."""
    return bool(row["target_group"]) and "connection" in _definition(row)


def _is_essential(row: Any) -> bool:
    if not row["target_group"]:
        return False
    proto = _multinode_protocol(row)
    return "role" in proto and bool(proto.get("essential"))


def _group(tx: Tx, target_group: str) -> list[Any]:
    return tx.all("SELECT * FROM test_jobs WHERE target_group = ? ORDER BY id", (target_group,))


# -- the device side ---------------------------------------------------------------------------
def _move_device(tx: Tx, hostname: str, state: DeviceState | None = None,
                 health: DeviceHealth | None = None, reason: str | None = None,
                 **columns: Any) -> bool:
    """Set a device's state and/or health (and other columns) in one write.

    Emits one device event when state or health changed; a health change is
    logged ``Old → New (reason)``.  Returns whether state or health changed.
    """
    row = tx.one("SELECT state, health FROM devices WHERE hostname = ?", (hostname,))
    if row is None:
        return False
    sets: dict[str, Any] = dict(columns)
    if state is not None and state != row["state"]:
        sets["state"] = int(state)
    if health is not None and health != row["health"]:
        sets["health"] = int(health)
    if sets:
        tx.execute("UPDATE devices SET %s WHERE hostname = ?"
                   % ", ".join("%s = ?" % k for k in sets), (*sets.values(), hostname))
    if "health" in sets:
        _log(tx, "device", hostname, "%s → %s%s" % (
            DeviceHealth(row["health"]).display, DeviceHealth(sets["health"]).display,
            " (%s)" % reason if reason else ""))
    changed = "state" in sets or "health" in sets
    if changed:
        emit_device(tx, hostname)
    return changed


def _release_device(tx: Tx, row: Any, health: JobHealth, infrastructure_error: bool) -> None:
    """The device side of a finished job: back to Idle, and the health the job proves."""
    hostname = row["actual_device"]
    device = tx.one("SELECT health FROM devices WHERE hostname = ?", (hostname,))
    if device is None:
        return
    others = tx.one("SELECT 1 FROM test_jobs WHERE actual_device = ? AND id != ? AND state NOT IN"
                    " (?, ?) LIMIT 1", (hostname, row["id"], JobState.FINISHED,
                                        JobState.SUBMITTED))
    state = None if others is not None else DeviceState.IDLE
    old = DeviceHealth(device["health"])
    new: DeviceHealth | None = None
    reason = None
    columns: dict[str, Any] = {}
    name = jobs.display_id(row)
    if row["health_check"]:
        columns["last_health_report_job"] = row["id"]
        # A Looping device stays Looping until an admin stops it; Maintenance
        # and Retired are admin decisions a health check does not undo.
        if old in (DeviceHealth.GOOD, DeviceHealth.UNKNOWN, DeviceHealth.BAD):
            new = DeviceHealth.GOOD if health == JobHealth.COMPLETE else DeviceHealth.BAD
            reason = "health-check %s %s" % (name, {
                JobHealth.COMPLETE: "completed", JobHealth.INCOMPLETE: "failed",
                JobHealth.CANCELED: "canceled"}[health])
        elif old == DeviceHealth.LOOPING and health == JobHealth.INCOMPLETE:
            _log(tx, "device", hostname, "Looping → Looping (Looping health-check %s failed)"
                 % name)
    elif infrastructure_error and old not in (DeviceHealth.MAINTENANCE, DeviceHealth.RETIRED):
        new = DeviceHealth.UNKNOWN
        reason = "Infrastructure error after job %s" % name
    _move_device(tx, hostname, state, new, reason, **columns)


# -- transitions ----------------------------------------------------------------------------------
def thd_schedule_job(tx: Tx, job_id: int | str, hostname: str) -> bool:
    """Give a Submitted job its device: Scheduled (a multinode sub-job: Scheduling
    until every sub-job of its group has a device, then the whole group goes
    Scheduled).  The device goes Idle → Reserved.

    Returns False when the job was already past Submitted; Conflict when the
    device is not Idle.
    """
    row = _job(tx, job_id)
    if row["state"] != JobState.SUBMITTED:
        return False
    device = tx.one("SELECT state, worker_host FROM devices WHERE hostname = ?", (hostname,))
    if device is None:
        raise NotFound("Device '%s' was not found." % hostname, model="Device")
    if device["state"] != DeviceState.IDLE:
        raise Conflict("Device '%s' is not Idle: %s." % (
            hostname, DeviceState(device["state"]).display))
    _move_device(tx, hostname, DeviceState.RESERVED)
    if not row["target_group"]:
        jobs.thd_set_job_state(tx, row["id"], JobState.SCHEDULED, actual_device=hostname,
                               worker_host=device["worker_host"])
        return True
    jobs.thd_set_job_state(tx, row["id"], JobState.SCHEDULING, actual_device=hostname,
                           worker_host=device["worker_host"])
    _transition_group(tx, row["target_group"])
    return True


def _transition_group(tx: Tx, target_group: str) -> bool:
    """All sub-jobs reserved: tell each its peers' roles and move them all to Scheduled."""
    group = _group(tx, target_group)
    if not all(j["state"] == JobState.SCHEDULING or is_dynamic_connection(j) for j in group):
        return False
    roles = {}
    for sub in group:
        role = _multinode_protocol(sub).get("role")
        if not is_dynamic_connection(sub) and role is not None:
            roles[str(sub["id"])] = role
    for sub in group:
        if sub["state"] >= JobState.SCHEDULED:
            continue
        columns: dict[str, Any] = {}
        data = _definition(sub)
        proto = (data.get("protocols") or {}).get("lava-multinode") \
            if isinstance(data.get("protocols"), dict) else None
        if isinstance(proto, dict):
            proto["roles"] = roles
            columns["definition"] = yaml.dump(data, Dumper=_Dumper, sort_keys=False)
        jobs.thd_set_job_state(tx, sub["id"], JobState.SCHEDULED, **columns)
    return True


def thd_job_running(tx: Tx, job_id: int | str) -> bool:
    """The worker started the job: Running with its start time; the device runs it.

    Nothing happens for a job already Running or later (Canceling included).
    A job without a device yet cannot run (Conflict).
    """
    row = _job(tx, job_id)
    if row["state"] >= JobState.RUNNING:
        return False
    if row["state"] != JobState.SCHEDULED:
        raise Conflict("Job %s is not scheduled yet." % jobs.display_id(row))
    if row["actual_device"]:
        _move_device(tx, row["actual_device"], DeviceState.RUNNING)
    jobs.thd_set_job_state(tx, row["id"], JobState.RUNNING, start_time=tx.now())
    return True


def _finish(tx: Tx, row: Any, health: JobHealth, infrastructure_error: bool = False,
            failure_comment: str | None = None) -> bool:
    """Finished with ``health`` (Canceled whenever the job was Canceling)."""
    if row["state"] == JobState.FINISHED:
        return False
    final = JobHealth.CANCELED if row["state"] == JobState.CANCELING else health
    if row["actual_device"]:
        _release_device(tx, row, final, infrastructure_error)
    columns: dict[str, Any] = {"end_time": tx.now()}
    if row["start_time"] is None:
        columns["start_time"] = tx.now()
    if failure_comment:
        columns["failure_comment"] = failure_comment
    jobs.thd_set_job_state(tx, row["id"], JobState.FINISHED, final, **columns)
    if health == JobHealth.INCOMPLETE and _is_essential(row):
        # An essential role failed: the rest of the group cannot succeed.
        for sub in _group(tx, row["target_group"]):
            if sub["id"] != row["id"]:
                _go_canceling(tx, sub)
    return True


def thd_job_finished(tx: Tx, job_id: int | str, result: str, error_type: str = "",
                     errors: str = "") -> bool:
    """The worker reports the end of a job (``result`` is ``pass`` or ``fail``).

    Health Complete or Incomplete, but Canceled whenever the job was
    Canceling.  ``error_type`` Bug, Configuration or Infrastructure on a job
    that is not a health check sends its device to Unknown; a health check
    sets its device's health.  Reporting an already finished job again does
    nothing (the worker resends until it gets a reply).
    """
    if result not in ("pass", "fail"):
        raise Invalid("Invalid health '%s'" % result, field="result")
    row = _job(tx, job_id)
    health = JobHealth.COMPLETE if result == "pass" else JobHealth.INCOMPLETE
    return _finish(tx, row, health, (error_type or "") in INFRASTRUCTURE_ERRORS,
                   errors or None)


def thd_fail_job(tx: Tx, job_id: int | str, reason: str) -> bool:
    """A failure seen by the server (the device or worker went away): Finished,
    Incomplete (Canceled if it was Canceling), ``reason`` as the failure comment."""
    return _finish(tx, _job(tx, job_id), JobHealth.INCOMPLETE, False, reason or None)


def _go_canceling(tx: Tx, row: Any) -> bool:
    if row["state"] >= JobState.CANCELING:
        return False
    if row["state"] == JobState.SUBMITTED:
        # Never scheduled: nothing to stop, it ends at once.
        return _finish(tx, row, JobHealth.CANCELED)
    # The device stays with the job until the worker reports the end.
    return jobs.thd_set_job_state(tx, row["id"], JobState.CANCELING)


def _cancel(tx: Tx, row: Any, principal: Principal) -> None:
    targets = _group(tx, row["target_group"]) if row["target_group"] else [row]
    for sub in targets:
        sub = _job(tx, sub["id"])  # an earlier sub-job's cancel may have moved it
        if _go_canceling(tx, sub):
            _log(tx, "testjob", str(sub["id"]), "Cancel requested", principal)


def thd_cancel_job(tx: Tx, principal: Principal, job_id: int | str) -> bool:
    """Cancel a job (every sub-job of a multinode group).

    A job already Canceling or Finished: nothing to do, for anyone.  Otherwise
    the caller needs the cancel right (PermissionDenied "Insufficient
    permissions").  A Submitted job ends at once as Finished/Canceled; a
    scheduled or running one goes Canceling until its worker reports the end.
    """
    row = _job(tx, job_id)
    if row["state"] in (JobState.CANCELING, JobState.FINISHED):
        return True
    if not permissions.thd_can_cancel_job(tx, principal, dict(row)):
        raise PermissionDenied("Insufficient permissions")
    _cancel(tx, row, principal)
    return True


def thd_cancel_job_as_submitter(tx: Tx, job_id: int | str) -> bool:
    """The server cancels a job on its submitter's behalf (its device was retired)."""
    try:
        row = _job(tx, job_id)
    except NotFound:
        return False
    principal = users.thd_principal(tx, row["submitter_id"]) if row["submitter_id"] \
        else ANONYMOUS
    _cancel(tx, row, principal)
    return True


def thd_cancel_jobs(tx: Tx, principal: Principal,
                    job_ids: list[int]) -> tuple[list[int], list[int]]:
    """Cancel several jobs: ``(the ids cancelled, the ids of no job)``.

    A job the caller may not see, or may not cancel, refuses the whole batch
    (PermissionDenied, and the transaction keeps nothing: unlike LAVA, which
    keeps the jobs cancelled before the refused one).
    """
    done: list[int] = []
    missing: list[int] = []
    for job_id in job_ids:
        if tx.one("SELECT 1 FROM test_jobs WHERE id = ?", (job_id,)) is None:
            missing.append(job_id)
            continue
        if not permissions.thd_can_view_job(tx, principal, job_id):
            raise PermissionDenied("You do not have permission to perform this action.")
        thd_cancel_job(tx, principal, job_id)
        done.append(job_id)
    return done, missing


# Rows that belong to a job, deleted with it (children first).
_JOB_ROWS = (
    ("test_cases", "suite_id IN (SELECT id FROM test_suites WHERE job_id = ?)"),
    ("test_sets", "suite_id IN (SELECT id FROM test_suites WHERE job_id = ?)"),
    ("test_suites", "job_id = ?"),
    ("notification_recipients",
     "notification_id IN (SELECT id FROM notifications WHERE job_id = ?)"),
    ("notification_callbacks",
     "notification_id IN (SELECT id FROM notifications WHERE job_id = ?)"),
    ("notifications", "job_id = ?"),
    ("test_job_viewing_groups", "job_id = ?"),
    ("test_job_tags", "job_id = ?"),
    ("test_job_failure_tags", "job_id = ?"),
)


def thd_delete_job(tx: Tx, principal: Principal, job_id: int) -> None:
    """Delete one job (one sub-job of a multinode group) with its results and notifications.

    As in LAVA, an unfinished job first runs the Canceled finish logic without
    being saved: its device is released (Idle; a health check's device goes
    Bad), which emits a device event, but no testjob event is sent.  The
    deletion is logged, and the id is never given to another job
    (:func:`lavad.jobs.thd_insert_job`).  Its log files stay on disk.
    """
    row = _job(tx, job_id)
    if row["state"] != JobState.FINISHED and row["actual_device"]:
        _release_device(tx, row, JobHealth.CANCELED, False)
    tx.execute("UPDATE devices SET last_health_report_job = NULL"
               " WHERE last_health_report_job = ?", (row["id"],))
    for table, where in _JOB_ROWS:
        tx.execute("DELETE FROM %s WHERE %s" % (table, where), (row["id"],))
    tx.execute("DELETE FROM test_jobs WHERE id = ?", (row["id"],))
    _log(tx, "testjob", str(row["id"]), jobs.DELETED, principal)
