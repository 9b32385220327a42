"""What the HTML pages show of a job: details, a page of its log, its results.

The links in LAVA's notification emails point at ``/scheduler/job/<id>`` and
``/results/<id>/<suite>``; :mod:`lavad.http.pages` renders these reads.  Every
function runs on the store thread and checks visibility through
:mod:`lavad.permissions`: NotFound for no such job (or suite, or case),
PermissionDenied for one the caller may not see (the results pages use the
results routes' rule, ``nested``).  Logs are read by line range from the
index (:mod:`lavad.logs`), never whole.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from lavad import permissions
from lavad.errors import NotFound, PermissionDenied
from lavad.logs import JobLog, job_dir
from lavad.models import JobHealth, JobState, TestResult
from lavad.notify.records import thd_job_notifications
from lavad.store.tx import Tx
from lavad.users import Principal

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

LOG_PAGE = 500
CASE_PAGE = 200


def _job(tx: Tx, principal: Principal, ref: str, nested: bool) -> Any:
    """The job row for ``N`` or ``N.M``, visible to ``principal``."""
    if "." in ref:
        row = tx.one("SELECT * FROM test_jobs WHERE sub_id = ?", (ref,))
    else:
        try:
            row = tx.one("SELECT * FROM test_jobs WHERE id = ?", (int(ref),))
        except ValueError:
            row = None
    if row is None:
        raise NotFound("Job '%s' was not found." % ref, model="TestJob")
    if not permissions.thd_can_view_job(tx, principal, row["id"], nested):
        raise PermissionDenied("Permission denied for user to job %s" % ref)
    return row


def _summary(tx: Tx, row: Any) -> dict[str, Any]:
    device = None
    if row["actual_device"]:
        device = row["actual_device"]
    return {
        "id": row["id"], "display_id": row["sub_id"] or row["id"],
        "description": row["description"] or "",
        "submitter": tx.scalar("SELECT username FROM users WHERE id = ?",
                               (row["submitter_id"],)),
        "device_type": row["requested_device_type"], "device": device,
        "state": JobState(row["state"]).display, "health": JobHealth(row["health"]).display,
        "priority": row["priority"], "submit_time": row["submit_time"],
        "start_time": row["start_time"], "end_time": row["end_time"],
        "failure_comment": row["failure_comment"], "health_check": bool(row["health_check"]),
        "metadata": json.loads(row["metadata"] or "{}"),
        "log_lines": int(row["log_lines"] or 0),
    }


def _log_line(text: str) -> dict[str, Any]:
    """One stored log line as (dt, lvl, msg); the raw text when it does not parse."""
    try:
        item = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        item = None
    record = item[0] if isinstance(item, list) and len(item) == 1 else None
    if not isinstance(record, dict):
        return {"dt": "", "lvl": "", "msg": text.removeprefix("- ")}
    msg = record.get("msg", "")
    if not isinstance(msg, str):
        msg = yaml.safe_dump(msg, default_flow_style=True, width=10 ** 6).strip()
    return {"dt": str(record.get("dt", "")), "lvl": str(record.get("lvl", "")), "msg": msg}


def thd_job_page(tx: Tx, principal: Principal, ref: str, data_dir: str | None,
                 start: int = 0, count: int = LOG_PAGE) -> dict[str, Any]:
    """The job's details and lines ``[start, start + count)`` of its log."""
    row = _job(tx, principal, ref, nested=False)
    job = _summary(tx, row)
    total = job["log_lines"]
    count = max(1, min(int(count), LOG_PAGE))
    start = max(0, min(int(start), max(0, total - 1)))
    lines: list[dict[str, Any]] = []
    if data_dir is not None and total:
        text = JobLog(job_dir(data_dir, row["id"])).read(start, start + count, total)
        for number, line in enumerate(text.splitlines(), start):
            lines.append(dict(_log_line(line), number=number))
    return {"job": job, "log": {"start": start, "count": count, "total": total,
                                "lines": lines}}


def _suites(tx: Tx, job_id: int) -> list[dict[str, Any]]:
    out = []
    for suite in tx.all("SELECT id, name FROM test_suites WHERE job_id = ? ORDER BY id",
                        (job_id,)):
        counts = {r.display: 0 for r in TestResult}
        for result, number in tx.all("SELECT result, count(*) FROM test_cases WHERE"
                                     " suite_id = ? GROUP BY result", (suite["id"],)):
            counts[TestResult(result).display] = number
        out.append({"name": suite["name"], "counts": counts, "total": sum(counts.values())})
    return out


def thd_results_page(tx: Tx, principal: Principal, ref: str) -> dict[str, Any]:
    """The job's suites with their result counts, and its notifications."""
    row = _job(tx, principal, ref, nested=True)
    return {"job": _summary(tx, row), "suites": _suites(tx, row["id"]),
            "notifications": thd_job_notifications(tx, principal, row["id"], nested=True)}


def _case(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "result": TestResult(row["result"]).display,
            "measurement": row["measurement"], "units": row["units"], "logged": row["logged"],
            "start_log_line": row["start_log_line"], "end_log_line": row["end_log_line"]}


def thd_suite_page(tx: Tx, principal: Principal, ref: str, suite: str, offset: int = 0,
                   limit: int = CASE_PAGE) -> dict[str, Any]:
    """One page of a suite's test cases (in the order they were recorded)."""
    row = _job(tx, principal, ref, nested=True)
    suite_row = tx.one("SELECT id FROM test_suites WHERE job_id = ? AND name = ?",
                       (row["id"], suite))
    if suite_row is None:
        raise NotFound("Specified test suite not found.", model="TestSuite")
    limit = max(1, min(int(limit), CASE_PAGE))
    offset = max(0, int(offset))
    total = tx.scalar("SELECT count(*) FROM test_cases WHERE suite_id = ?", (suite_row["id"],))
    cases = [_case(c) for c in tx.all(
        "SELECT * FROM test_cases WHERE suite_id = ? ORDER BY id LIMIT ? OFFSET ?",
        (suite_row["id"], limit, offset))]
    return {"job": _summary(tx, row), "suite": suite, "cases": cases,
            "page": {"offset": offset, "limit": limit, "total": total}}


def thd_testcase_page(tx: Tx, principal: Principal, case_id: int) -> dict[str, Any]:
    """One test case with its suite and job."""
    row = tx.one("SELECT c.*, s.name AS suite, s.job_id FROM test_cases c JOIN test_suites s"
                 " ON s.id = c.suite_id WHERE c.id = ?", (case_id,))
    if row is None:
        raise NotFound("Specified test case not found.", model="TestCase")
    job = _job(tx, principal, str(row["job_id"]), nested=True)
    case = _case(row)
    case["metadata"] = row["metadata"] or ""
    return {"job": _summary(tx, job), "suite": row["suite"], "case": case}
