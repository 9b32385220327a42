"""Test jobs as LAVA's scheduler API (XML-RPC ``scheduler.jobs.*`` and the legacy
``scheduler.*`` job methods) presents them.

Read models (a job's summary with tag names, visibility wording and the
``lava``/``job`` test case's error; windows of the job list and the queue;
recent jobs; pending counts) and the checked operations behind them.  A job
is named by its id or, for a MultiNode sub-job, its ``"N.M"`` sub_id
(:func:`lavad.submission.thd_find_job`); one the caller may not see raises
:class:`lavad.submission.JobNotVisible`.  Everything runs on the store thread.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import yaml

from lavad import dates, jobs, statemachine
from lavad.errors import Invalid, NotFound, PermissionDenied
from lavad.logs import JobLog, job_dir
from lavad.models import DeviceHealth, JobHealth, JobState
from lavad.permissions import (
    thd_can_view_device,
    visible_device_types_sql,
    visible_jobs_sql,
)
from lavad.store.tx import Tx
from lavad.submission import thd_find_job
from lavad.users import Principal

#: The files a started job keeps in its directory (what the worker got).
CONFIGURATION_FILES = ("job.yaml", "device.yaml", "dispatcher.yaml", "env.yaml",
                       "env-dut.yaml")
MAX_WINDOW = 100

_SELECT = ("SELECT j.*, u.username AS submitter, u.email AS submitter_email FROM test_jobs j"
           " JOIN users u ON u.id = j.submitter_id")


def legacy_status(state: int, health: int) -> str:
    """LAVA's one-word job status of old: Submitted, Running, Canceling, then by health
    Complete, Incomplete (also for Unknown) or Canceled."""
    if state in (JobState.SUBMITTED, JobState.SCHEDULING, JobState.SCHEDULED):
        return "Submitted"
    if state == JobState.RUNNING:
        return "Running"
    if state == JobState.CANCELING:
        return "Canceling"
    if health == JobHealth.COMPLETE:
        return "Complete"
    return "Canceled" if health == JobHealth.CANCELED else "Incomplete"


def aware_text(stored: str | None) -> str | None:
    """A stored time as Python prints an aware datetime: ``2026-07-01 10:01:00.123456+00:00``."""
    return None if not stored else str(dates.parse_stored(stored))


def thd_job_error(tx: Tx, job_id: int) -> dict[str, Any]:
    """``error_msg`` and ``error_type`` of the job's ``lava``/``job`` test case (or None)."""
    text = tx.scalar("SELECT tc.metadata FROM test_cases tc JOIN test_suites ts"
                     " ON ts.id = tc.suite_id WHERE ts.job_id = ? AND ts.name = 'lava'"
                     " AND tc.name = 'job' ORDER BY tc.id DESC LIMIT 1", (job_id,))
    try:
        metadata = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        metadata = None
    if not isinstance(metadata, dict):
        metadata = {}
    return {"error_msg": metadata.get("error_msg"), "error_type": metadata.get("error_type")}


def _visibility(tx: Tx, row: Any) -> str:
    if row["is_public"]:
        return "Public"
    groups = [r[0] for r in tx.all(
        "SELECT g.name FROM test_job_viewing_groups vg JOIN groups g ON g.id = vg.group_id"
        " WHERE vg.job_id = ? ORDER BY g.name", (row["id"],))]
    return "Group (%s)" % ", ".join(groups) if groups else "Personal"


def _summary(tx: Tx, row: Any) -> dict[str, Any]:
    """The job with names resolved; times stay in the stored form."""
    data = {
        "id": jobs.display_id(row), "pk": row["id"], "sub_id": row["sub_id"] or "",
        "multinode": bool(row["target_group"]),
        "description": row["description"], "device": row["actual_device"],
        "device_type": row["requested_device_type"],
        "health_check": bool(row["health_check"]),
        "state": JobState(row["state"]).display, "health": JobHealth(row["health"]).display,
        "status": legacy_status(row["state"], row["health"]),
        "submitter": row["submitter"], "submitter_email": row["submitter_email"],
        "submit_time": row["submit_time"], "start_time": row["start_time"],
        "end_time": row["end_time"],
        "tags": [r[0] for r in tx.all(
            "SELECT t.name FROM test_job_tags jt JOIN tags t ON t.id = jt.tag_id"
            " WHERE jt.job_id = ? ORDER BY t.name", (row["id"],))],
        "visibility": _visibility(tx, row),
        "failure_comment": row["failure_comment"],
    }
    data.update(thd_job_error(tx, row["id"]))
    return data


def _row(tx: Tx, job_id: Any, principal: Principal) -> Any:
    pk = thd_find_job(tx, job_id, principal)["id"]
    return tx.one(_SELECT + " WHERE j.id = ?", (pk,))


def thd_job(tx: Tx, principal: Principal, job_id: Any) -> dict[str, Any]:
    """One visible job's summary."""
    return _summary(tx, _row(tx, job_id, principal))


def thd_job_record(tx: Tx, principal: Principal, job_id: Any) -> dict[str, Any]:
    """One visible job's stored columns (without its token) and its summary."""
    row = _row(tx, job_id, principal)
    hidden = ("token", "submitter", "submitter_email")
    # sqlite3.Row iterates over values: its keys() are the column names.
    record = {k: row[k] for k in row.keys() if k not in hidden}  # noqa: SIM118
    return {"columns": record, "summary": _summary(tx, row)}


def thd_definition(tx: Tx, principal: Principal, job_id: Any) -> str:
    """The definition as submitted (the whole MultiNode definition for a sub-job)."""
    row = _row(tx, job_id, principal)
    return row["multinode_definition"] if row["target_group"] else row["original_definition"]


def _state(value: Any, enum: Any, what: str) -> Any:
    try:
        return enum.from_display(value.capitalize())
    except (AttributeError, ValueError):
        raise Invalid("Invalid %s '%s'" % (what, value)) from None


def _window(start: Any, limit: Any) -> tuple[int, int]:
    return max(0, int(start or 0)), max(0, min(int(limit), MAX_WINDOW))


def thd_jobs(tx: Tx, principal: Principal, state: Any = None, health: Any = None,
             start: Any = 0, limit: Any = 25, since: Any = 0,
             duration_at_least: Any = None) -> list[dict[str, Any]]:
    """Visible jobs, newest first, in the window ``[start, start + limit)`` (limit at most
    100): of a state and health (any case), finished in the last ``since`` minutes, or
    that ran more than ``duration_at_least`` minutes."""
    cond: list[str] = [visible_jobs_sql(principal)]
    params: list[Any] = []
    if state:
        cond.append("j.state = %d" % _state(state, JobState, "state"))
    if health:
        cond.append("j.health = %d" % _state(health, JobHealth, "health"))
    now = dates.parse_stored(tx.now())
    if since:
        cond.append("j.end_time BETWEEN ? AND ?")
        params += [(now - timedelta(minutes=float(since))).strftime("%Y-%m-%dT%H:%M:%S.%f"),
                   tx.now()]
    if duration_at_least is not None:
        cond.append("(julianday(coalesce(j.end_time, ?)) - julianday(j.start_time)) * 1440 > ?")
        params += [tx.now(), float(duration_at_least)]
    first, count = _window(start, limit)
    rows = tx.all(_SELECT + " WHERE %s ORDER BY j.id DESC LIMIT ? OFFSET ?" % " AND ".join(cond),
                  (*params, count, first))
    return [_summary(tx, r) for r in rows]


def thd_queue(tx: Tx, principal: Principal, device_types: list[str] | None = None,
              start: Any = 0, limit: Any = 25) -> list[dict[str, Any]]:
    """Visible Submitted jobs, newest first, optionally only for some device types."""
    cond = ["j.state = %d" % JobState.SUBMITTED, visible_jobs_sql(principal)]
    params: list[Any] = []
    if device_types is not None:
        names = [str(n) for n in device_types]
        cond.append("j.requested_device_type IN (%s)" % ", ".join("?" * len(names))
                    if names else "0")
        params += names
    first, count = _window(start, limit)
    rows = tx.all(_SELECT + " WHERE %s ORDER BY j.id DESC LIMIT ? OFFSET ?" % " AND ".join(cond),
                  (*params, count, first))
    return [_summary(tx, r) for r in rows]


def thd_unfinished_jobs(tx: Tx, principal: Principal) -> list[dict[str, Any]]:
    """Visible jobs that are not finished, newest first, with their device and type rows."""
    rows = tx.all(_SELECT + " WHERE j.state != %d AND %s ORDER BY j.id DESC"
                  % (JobState.FINISHED, visible_jobs_sql(principal)))
    out = []
    for row in rows:
        summary = _summary(tx, row)
        device = tx.one("SELECT * FROM devices WHERE hostname = ?", (row["actual_device"],))
        dtype = tx.one("SELECT * FROM device_types WHERE name = ?",
                       (row["requested_device_type"],))
        summary["device_row"] = None if device is None else {
            k: device[k] for k in ("hostname", "device_type", "description", "state", "health",
                                   "worker_host")}
        summary["device_type_row"] = None if dtype is None else {
            k: dtype[k] for k in ("name", "description", "display", "health_frequency",
                                  "health_denominator", "disable_health_check")}
        out.append(summary)
    return out


def thd_recent_jobs(tx: Tx, principal: Principal, count: int, restrict_to_user: bool,
                    device_type: str | None = None,
                    device: str | None = None) -> list[dict[str, Any]]:
    """The newest visible finished jobs requested for a (displayed) device type, or run on
    a device the caller may see; only the caller's own with ``restrict_to_user``."""
    cond = ["j.state = %d" % JobState.FINISHED, visible_jobs_sql(principal)]
    params: list[Any] = []
    if device_type is not None:
        if tx.one("SELECT 1 FROM device_types WHERE name = ? AND display = 1",
                  (device_type,)) is None:
            raise NotFound("DeviceType '%s' was not found." % device_type, model="DeviceType")
        cond.append("j.requested_device_type = ?")
        params.append(device_type)
    if device is not None:
        if tx.one("SELECT 1 FROM devices WHERE hostname = ?", (device,)) is None:
            raise NotFound("Device '%s' was not found." % device, model="Device")
        if not thd_can_view_device(tx, principal, device):
            raise PermissionDenied("Device '%s' is not visible to this user." % device)
        cond.append("j.actual_device = ?")
        params.append(device)
    if restrict_to_user:
        cond.append("j.submitter_id = ?")
        params.append(principal.id if principal.is_authenticated else -1)
    rows = tx.all(_SELECT + " WHERE %s ORDER BY j.id DESC LIMIT ?" % " AND ".join(cond),
                  (*params, int(count)))
    return [_summary(tx, r) for r in rows]


def thd_pending_by_device_type(tx: Tx, principal: Principal,
                               all_types: bool = False) -> dict[str, int]:
    """``{device_type: visible Submitted jobs}``, with 0 for every visible device type
    that is displayed and has a device that is not retired (every type with ``all_types``)."""
    counts = {r[0]: r[1] for r in tx.all(
        "SELECT j.requested_device_type, count(*) FROM test_jobs j WHERE j.state = %d AND"
        " j.requested_device_type IS NOT NULL AND %s GROUP BY j.requested_device_type"
        % (JobState.SUBMITTED, visible_jobs_sql(principal)))}
    cond = visible_device_types_sql(principal, "t.name")
    if not all_types:
        cond += (" AND t.display = 1 AND EXISTS (SELECT 1 FROM devices d WHERE"
                 " d.device_type = t.name AND d.health != %d)" % DeviceHealth.RETIRED)
    for (name,) in tx.all("SELECT t.name FROM device_types t WHERE %s ORDER BY t.name" % cond):
        counts.setdefault(name, 0)
    return counts


def thd_can_view_jobs(tx: Tx, principal: Principal, job_ids: list[Any]) -> dict[str, bool]:
    """``{str(id): visible}`` for the jobs of ``job_ids`` that exist."""
    out = {}
    for job_id in job_ids:
        try:
            thd_find_job(tx, job_id, principal)
        except NotFound as exc:
            if getattr(exc, "xmlrpc_message", None) is None:
                continue  # no such job
            out[str(job_id)] = False
        else:
            out[str(job_id)] = True
    return out


def thd_cancel(tx: Tx, principal: Principal, job_id: Any) -> bool:
    """Cancel a job the caller may see (PermissionDenied without the cancel right)."""
    row = thd_find_job(tx, job_id, principal)
    return statemachine.thd_cancel_job(tx, principal, row["id"])


# -- files of a job ----------------------------------------------------------------------
def thd_job_log(tx: Tx, principal: Principal, job_id: Any, data_dir: str, start: Any = 0,
                end: Any = None) -> tuple[bool, str]:
    """(finished, log lines ``[start, end)`` as YAML text); ``"[]"`` while the job has no
    log at all."""
    row = thd_find_job(tx, job_id, principal)
    finished = row["state"] == JobState.FINISHED
    log = JobLog.for_job(data_dir, row["id"])
    if not os.path.exists(log.log_path):
        return finished, "[]"
    count = int(row["log_lines"] or 0)
    return finished, log.read(max(0, int(start or 0)), None if end is None else int(end),
                              count)


def thd_job_output(tx: Tx, principal: Principal, job_id: Any, data_dir: str,
                   offset: Any = 0) -> str:
    """The raw ``output.yaml`` of a visible job from byte ``offset``."""
    row = thd_find_job(tx, job_id, principal)
    count = int(row["log_lines"] or 0)
    log = JobLog.for_job(data_dir, row["id"])
    if not os.path.exists(log.log_path):
        raise NotFound("Job output not found.", model="JobOutput")
    text = log.read(0, None, count)
    data = text.encode("utf-8")[max(0, int(offset or 0)):]
    return data.decode("utf-8", "replace")


def thd_configuration(tx: Tx, principal: Principal, job_id: Any,
                      data_dir: str) -> list[str | None]:
    """The five files a started job was given (job, device, dispatcher, env, env-dut),
    None for those it had not; NotFound before the job starts."""
    row = thd_find_job(tx, job_id, principal)
    if row["state"] not in (JobState.RUNNING, JobState.CANCELING, JobState.FINISHED):
        raise NotFound("Job '%s' has not started yet" % job_id, model="JobConfiguration")
    directory = job_dir(data_dir, row["id"])
    out: list[str | None] = []
    for name in CONFIGURATION_FILES:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as stream:
                out.append(stream.read())
        except OSError:
            out.append(None)
    return out
