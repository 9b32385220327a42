"""Test jobs: the stored record, its REST/XML-RPC representation and its state changes.

Submission (parsing and validating a definition) and the scheduler build on
these functions; every state or health change goes through
:func:`thd_set_job_state` so it emits exactly one ``testjob`` event.
"""

from __future__ import annotations

import json
from typing import Any

from lavad import dates
from lavad.errors import Invalid, NotFound
from lavad.models import JobHealth, JobState
from lavad.permissions import visible_jobs_sql
from lavad.store.tx import Tx
from lavad.users import Principal, new_short_token


#: The admin log message that records a deleted job (its id is never given out again).
DELETED = "Deleted"


def display_id(row: Any) -> int | str:
    """``N`` for a single-node job, ``"N.M"`` for a multinode sub-job."""
    return row["sub_id"] or row["id"]


def thd_insert_job(tx: Tx, submitter_id: int, definition: str, *,
                   original_definition: str = "", multinode_definition: str = "",
                   description: str | None = None, requested_device_type: str | None = None,
                   requested_device: str | None = None, health_check: bool = False,
                   priority: int = 50, is_public: bool = True, viewing_groups: list[int] = (),  # type: ignore[assignment]
                   tags: list[int] = (), target_group: str | None = None,  # type: ignore[assignment]
                   sub_id: str = "", metadata: dict[str, Any] | None = None,
                   emit: bool = True) -> int:
    """Store a new Submitted job (already validated) and emit its creation event."""
    if not 0 <= int(priority) <= 100:
        raise Invalid("Invalid job priority: %s. Should be in [0, 100]" % priority)
    submitter = tx.scalar("SELECT username FROM users WHERE id = ?", (submitter_id,))
    if submitter is None:
        raise NotFound("User %s was not found." % submitter_id, model="User")
    job_id = tx.execute(
        "INSERT INTO test_jobs (id, sub_id, target_group, submitter_id, is_public, description,"
        " health_check, requested_device_type, requested_device, submit_time, state, health,"
        " priority, definition, original_definition, multinode_definition, token, metadata)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (_next_id(tx), sub_id, target_group, submitter_id, int(is_public), description,
         int(health_check),
         requested_device_type, requested_device, tx.now(), JobState.SUBMITTED,
         JobHealth.UNKNOWN, int(priority), definition, original_definition,
         multinode_definition, new_short_token(), json.dumps(metadata or {}))).lastrowid
    for gid in viewing_groups:
        tx.execute("INSERT INTO test_job_viewing_groups VALUES (?, ?)", (job_id, gid))
    for tid in tags:
        tx.execute("INSERT INTO test_job_tags VALUES (?, ?)", (job_id, tid))
    if emit:
        emit_job(tx, job_id)
    return job_id


def _next_id(tx: Tx) -> int:
    """The id of the next job: one more than the largest, skipping the ids of deleted
    jobs (SQLite would give the id of a deleted last job again; LAVA never reuses one,
    and its logs, results and notifications are keyed by it)."""
    job_id = (tx.scalar("SELECT max(id) FROM test_jobs") or 0) + 1
    while tx.one("SELECT 1 FROM log_entries WHERE object_type = 'testjob' AND object_id = ?"
                 " AND message = ?", (str(job_id), DELETED)):
        job_id += 1
    return job_id


def _job_row(tx: Tx, job_id: int, principal: Principal | None = None,
             nested: bool = False) -> Any:
    cond = "1" if principal is None else visible_jobs_sql(principal, nested=nested)
    row = tx.one("SELECT j.*, u.username AS submitter FROM test_jobs j JOIN users u"
                 " ON u.id = j.submitter_id WHERE j.id = ? AND %s" % cond, (job_id,))
    if row is None:
        raise NotFound("Job '%s' was not found." % job_id, model="TestJob")
    return row


def job_dict(tx: Tx, row: Any, with_token: bool = False) -> dict[str, Any]:
    """The job in the REST field order (3.1)."""
    jid = row["id"]
    d = {
        "id": jid, "submitter": row["submitter"],
        "viewing_groups": [r[0] for r in tx.all(
            "SELECT group_id FROM test_job_viewing_groups WHERE job_id = ? ORDER BY group_id",
            (jid,))],
        "description": row["description"], "health_check": bool(row["health_check"]),
        "requested_device_type": row["requested_device_type"],
        "tags": [r[0] for r in tx.all(
            "SELECT tag_id FROM test_job_tags WHERE job_id = ? ORDER BY tag_id", (jid,))],
        "actual_device": row["actual_device"], "submit_time": row["submit_time"],
        "start_time": row["start_time"], "end_time": row["end_time"],
        "state": JobState(row["state"]).display, "health": JobHealth(row["health"]).display,
        "priority": row["priority"], "definition": row["definition"],
        "metadata": json.loads(row["metadata"] or "{}"),
        "original_definition": row["original_definition"],
        "multinode_definition": row["multinode_definition"],
        "failure_tags": [r[0] for r in tx.all(
            "SELECT tag_id FROM test_job_failure_tags WHERE job_id = ? ORDER BY tag_id",
            (jid,))],
        "failure_comment": row["failure_comment"],
    }
    if with_token:
        d["token"] = row["token"]
    return d


def thd_get_job(tx: Tx, job_id: int, principal: Principal | None = None,
                nested: bool = False) -> dict[str, Any]:
    """One job; with a principal, NotFound unless it may see it."""
    row = _job_row(tx, job_id, principal, nested)
    with_token = principal is not None and principal.is_superuser
    return job_dict(tx, row, with_token)


def thd_list_jobs(tx: Tx, principal: Principal | None = None, limit: int = 50,
                  offset: int = 0) -> list[dict[str, Any]]:
    cond = "1" if principal is None else visible_jobs_sql(principal)
    rows = tx.all("SELECT j.*, u.username AS submitter FROM test_jobs j JOIN users u"
                  " ON u.id = j.submitter_id WHERE %s ORDER BY j.id DESC LIMIT ? OFFSET ?"
                  % cond, (limit, offset))
    with_token = principal is not None and principal.is_superuser
    return [job_dict(tx, r, with_token) for r in rows]


def emit_job(tx: Tx, job_id: int) -> None:
    """The testjob event in LAVA's key order, sent as the submitter."""
    row = tx.one("SELECT j.*, u.username AS submitter, d.worker_host AS device_worker"
                 " FROM test_jobs j JOIN users u ON u.id = j.submitter_id"
                 " LEFT JOIN devices d ON d.hostname = j.actual_device WHERE j.id = ?",
                 (job_id,))
    data: dict[str, Any] = {
        "health": JobHealth(row["health"]).display, "state": JobState(row["state"]).display,
        "job": row["id"], "description": row["description"], "priority": row["priority"],
        "submit_time": dates.event(row["submit_time"]), "submitter": row["submitter"],
        "health_check": bool(row["health_check"]),
    }
    if row["target_group"]:
        data["sub_id"] = row["sub_id"]
    if row["actual_device"]:
        data["device"] = row["actual_device"]
        if row["device_worker"]:
            data["worker"] = row["device_worker"]
    if row["requested_device_type"]:
        data["device_type"] = row["requested_device_type"]
    if row["start_time"]:
        data["start_time"] = dates.event(row["start_time"])
    if row["end_time"]:
        data["end_time"] = dates.event(row["end_time"])
    tx.emit("testjob", data, username=row["submitter"], restrict={"job": row["id"]})


def thd_set_job_state(tx: Tx, job_id: int, state: JobState | None = None,
                      health: JobHealth | None = None, **columns: Any) -> bool:
    """Change a job's state and/or health (and other columns in the same write).

    Emits one ``testjob`` event when state or health changed (or, as in LAVA,
    on any save while Submitted).  Returns whether anything changed.
    """
    row = _job_row(tx, job_id)
    sets: dict[str, Any] = dict(columns)
    if state is not None and state != row["state"]:
        sets["state"] = int(state)
    if health is not None and health != row["health"]:
        sets["health"] = int(health)
    if not sets:
        return False
    tx.execute("UPDATE test_jobs SET %s WHERE id = ?" % ", ".join("%s = ?" % k for k in sets),
               (*sets.values(), job_id))
    if "state" in sets or "health" in sets or row["state"] == JobState.SUBMITTED:
        emit_job(tx, job_id)
    return True


def thd_update_job(tx: Tx, job_id: int, **changes: Any) -> None:
    """What an administrator may change in a stored job: its ``definition`` and its
    ``token`` (the keys given).  Saved like any job change (an event while Submitted)."""
    unknown = set(changes) - {"definition", "token"}
    if unknown:
        raise Invalid("Unknown job field(s): %s" % ", ".join(sorted(unknown)))
    for key, value in changes.items():
        if not isinstance(value, str) or not value.strip():
            raise Invalid("This field may not be blank.", field=key)
    if len(changes.get("token", "")) > 32:
        raise Invalid("Ensure this field has no more than 32 characters.", field="token")
    _job_row(tx, job_id)
    if changes:
        thd_set_job_state(tx, job_id, **changes)
