"""The notifier's side of the store: what to send when a job changes, and what was sent.

Everything here runs on the store thread.  :func:`thd_plan` evaluates a job's
``notify`` criteria for one state change (xmlrpc-events-notify.md 4.3) and,
when they match, returns plain data: the email and IRC recipients still "not
sent", the callbacks with their request data, and what the messages need
(:mod:`lavad.notify.compose` renders them).  The service records each
outcome with :func:`thd_mark_recipient` / :func:`thd_mark_callback`.

What LAVA resolves on the first match is resolved here, once:

* a ``{LAVA_DEVICE_OWNER}`` recipient becomes the device's physical owner (and
  is dropped when the device has none, or when the owner is already a
  recipient by the same method);
* callback URL placeholders are substituted and the URL written back, so later
  matches send the values of the first one.  Substituted values have their
  braces percent-encoded (as an HTTP client sends them anyway), so a value can
  never look like a placeholder to a later match.

``type: regression|progression`` compares the job's health with the previous
finished (Complete or Incomplete) job with the same description, requested
device type and submitter.  LAVA compares with the job's own previous health,
which is always Unknown when it finishes, so its type-qualified criteria never
match; lavad gives them the meaning its documentation promises.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from twisted.logger import Logger

from lavad import dates, permissions
from lavad.errors import NotFound, PermissionDenied
from lavad.logs import JobLog, job_dir
from lavad.models import JobHealth, JobState, TestResult
from lavad.notify import query
from lavad.notifyblock import (CALLBACK_CONTENT_TYPE, CALLBACK_DATASET, CALLBACK_METHOD,
                               DEVICE_OWNER, RECIPIENT_METHOD, VERBOSITY)
from lavad.store.tx import Tx
from lavad.users import Principal

try:
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader, _Dumper = yaml.SafeLoader, yaml.SafeDumper

log = Logger()

SENT, NOT_SENT = 0, 1
EMAIL, IRC = RECIPIENT_METHOD["email"], RECIPIENT_METHOD["irc"]
VERBOSE, QUIET, STATUS_ONLY = VERBOSITY["verbose"], VERBOSITY["quiet"], VERBOSITY["status-only"]
_NAMES = {v: k for k, v in VERBOSITY.items()}
_METHODS = {v: k for k, v in RECIPIENT_METHOD.items()}
_CB_METHODS = {v: k for k, v in CALLBACK_METHOD.items()}
_DATASETS = {v: k for k, v in CALLBACK_DATASET.items()}
_CONTENT_TYPES = {v: k for k, v in CALLBACK_CONTENT_TYPE.items()}
DATASET_LOGS, DATASET_RESULTS = CALLBACK_DATASET["logs"], CALLBACK_DATASET["results"]
DATASET_ALL = CALLBACK_DATASET["all"]
JSON = CALLBACK_CONTENT_TYPE["json"]

STATUSES = ("running", "complete", "incomplete", "canceled", "finished", "all")
_HEALTH_STATUS = {"complete": JobHealth.COMPLETE, "incomplete": JobHealth.INCOMPLETE,
                  "canceled": JobHealth.CANCELED}
PLACEHOLDER = re.compile(r"{\s*[A-Z_-]*\s*}")

# LAVA's legacy job status (before state and health were split).
LEGACY_STATUS = ["submitted", "running", "complete", "incomplete", "canceled", "canceling"]


def legacy_status(state: int, health: int) -> int:
    if state == JobState.RUNNING:
        return 1
    if state == JobState.CANCELING:
        return 5
    if state == JobState.FINISHED:
        return {JobHealth.COMPLETE: 2, JobHealth.INCOMPLETE: 3,
                JobHealth.CANCELED: 4}.get(JobHealth(health), 3)
    return 0


# -- criteria (pure) ---------------------------------------------------------------------------
def criteria_match(criteria: dict[str, Any], state: int, health: int,
                   previous_health: int | None) -> bool:
    """Whether ``criteria`` (status and type) match a job now in ``state``/``health``.

    ``previous_health`` is the health of the job ``type`` compares with (None
    when there is none).
    """
    status = criteria.get("status")
    if status == "all":
        return state in (JobState.RUNNING, JobState.FINISHED)
    if status == "running":
        return state == JobState.RUNNING
    if status == "finished":
        return state == JobState.FINISHED
    if status not in _HEALTH_STATUS or state != JobState.FINISHED \
            or health != _HEALTH_STATUS[status]:
        return False
    kind = criteria.get("type")
    if kind == "regression":
        return previous_health == JobHealth.COMPLETE and health == JobHealth.INCOMPLETE
    if kind == "progression":
        return previous_health == JobHealth.INCOMPLETE and health == JobHealth.COMPLETE
    return True


def _dependency_met(status: str, row: Any) -> bool:
    if status == "all":
        return True
    if status == "running":
        return row["state"] == JobState.RUNNING
    if status == "finished":
        return row["state"] == JobState.FINISHED
    return status in _HEALTH_STATUS and row["health"] == _HEALTH_STATUS[status]


def _notify_block(row: Any) -> dict[str, Any]:
    try:
        definition = yaml.load(row["definition"] or "", Loader=_Loader)
    except yaml.YAMLError:
        return {}
    notify = definition.get("notify") if isinstance(definition, dict) else None
    return notify if isinstance(notify, dict) else {}


def thd_previous_health(tx: Tx, job: Any) -> int | None:
    """The health of the previous finished run of the same job (``type`` criteria)."""
    return tx.scalar(
        "SELECT health FROM test_jobs WHERE id < ? AND state = ? AND health IN (?, ?) AND"
        " submitter_id = ? AND description IS ? AND requested_device_type IS ?"
        " ORDER BY id DESC LIMIT 1",
        (job["id"], JobState.FINISHED, JobHealth.COMPLETE, JobHealth.INCOMPLETE,
         job["submitter_id"], job["description"], job["requested_device_type"]))


def thd_matches(tx: Tx, job: Any, criteria: dict[str, Any], state: int, health: int) -> bool:
    """The criteria with their dependency query (checked first)."""
    status = str(criteria.get("status"))
    dependency = criteria.get("dependency_query")
    if dependency:
        try:
            rows = query.thd_select_jobs(tx, str(dependency))
        except query.ConditionError as exc:
            log.warn("[{job}] notification dependency_query {q!r} cannot be run: {error}",
                     job=job["id"], q=dependency, error=exc.message)
            return False
        if not all(_dependency_met(status, r) for r in rows if r["id"] != job["id"]):
            return False
    previous = thd_previous_health(tx, job) if criteria.get("type") else None
    return criteria_match(criteria, state, health, previous)


# -- the job as the messages show it -------------------------------------------------------------
def _job_row(tx: Tx, job_id: int) -> Any:
    return tx.one("SELECT j.*, u.username AS submitter, u.email AS submitter_email"
                  " FROM test_jobs j JOIN users u ON u.id = j.submitter_id WHERE j.id = ?",
                  (job_id,))


def _device(tx: Tx, hostname: str | None) -> dict[str, Any] | None:
    if not hostname:
        return None
    row = tx.one("SELECT d.hostname, d.device_type, d.worker_host, u.username AS owner"
                 " FROM devices d LEFT JOIN users u ON u.id = d.physical_owner"
                 " WHERE d.hostname = ?", (hostname,))
    if row is None:
        return None
    return {"hostname": row["hostname"], "device_type": row["device_type"],
            "owner": row["owner"], "worker": row["worker_host"]}


def _metadata_mapping(text: str | None) -> Any:
    try:
        value = yaml.load(text or "", Loader=_Loader)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def thd_suites(tx: Tx, job_id: int) -> list[dict[str, Any]]:
    """The job's suites (by id) with their cases (by id): names, results, measurements."""
    suites: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, Any]] = {}
    for row in tx.all("SELECT id, name FROM test_suites WHERE job_id = ? ORDER BY id",
                      (job_id,)):
        suite = {"id": row["id"], "name": row["name"], "cases": []}
        suites.append(suite)
        by_id[row["id"]] = suite
    for row in tx.all("SELECT c.id, c.suite_id, c.name, c.result, c.measurement, c.units"
                      " FROM test_cases c JOIN test_suites s ON s.id = c.suite_id"
                      " WHERE s.job_id = ? ORDER BY c.id", (job_id,)):
        by_id[row["suite_id"]]["cases"].append({
            "id": row["id"], "name": row["name"], "result": TestResult(row["result"]).display,
            "measurement": row["measurement"], "units": row["units"]})
    return suites


def _lava_job_result(tx: Tx, job_id: int) -> dict[str, Any] | None:
    row = tx.one("SELECT c.metadata FROM test_cases c JOIN test_suites s ON s.id = c.suite_id"
                 " WHERE s.job_id = ? AND s.name = 'lava' AND c.name = 'job'"
                 " ORDER BY c.id DESC LIMIT 1", (job_id,))
    return None if row is None else _metadata_mapping(row["metadata"])


def job_context(tx: Tx, row: Any, state: int, health: int) -> dict[str, Any]:
    """The job as the email and IRC templates see it (state and health as matched)."""
    return {
        "id": row["id"], "display_id": row["sub_id"] or row["id"],
        "state": JobState(state).display, "health": JobHealth(health).display,
        "finished": state == JobState.FINISHED,
        "submitter": row["submitter"], "description": row["description"] or "",
        "priority": row["priority"], "submit_time": row["submit_time"],
        "start_time": row["start_time"],
        "end_time": row["end_time"] if state == JobState.FINISHED else None,
        "device": _device(tx, row["actual_device"]),
        "metadata": json.loads(row["metadata"] or "{}"),
    }


# -- compare (4.8) ---------------------------------------------------------------------------------
def _counts(cases: list[dict[str, Any]]) -> tuple[int, int, int]:
    return tuple(sum(1 for c in cases if c["result"] == r)  # type: ignore[return-value]
                 for r in ("pass", "fail", "skip"))


def compare_results(new: list[dict[str, Any]], old: list[dict[str, Any]],
                    blacklist: list[str]) -> dict[str, Any]:
    """What changed between two jobs' suites (blacklisted suite and case names ignored)."""
    ignored = set(blacklist)
    new_suites = {s["name"]: s for s in new if s["name"] not in ignored}
    old_suites = {s["name"]: s for s in old if s["name"] not in ignored}

    def cases(suites: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(c, suite=s["name"]) for s in suites.values() for c in s["cases"]
                if c["name"] not in ignored]

    new_cases, old_cases = cases(new_suites), cases(old_suites)
    new_names = {c["name"] for c in new_cases}
    old_names = {c["name"] for c in old_cases}
    counts, changed = [], []
    for name, suite in new_suites.items():
        if name not in old_suites:
            continue
        mine = [c for c in suite["cases"] if c["name"] not in ignored]
        theirs = [c for c in old_suites[name]["cases"] if c["name"] not in ignored]
        if _counts(mine) != _counts(theirs):
            counts.append({"suite": name, "new": _counts(mine), "old": _counts(theirs)})
        for case in mine:
            same = [c for c in theirs if c["name"] == case["name"]]
            if len(same) == 1 and same[0]["result"] != case["result"]:
                changed.append({"suite": name, "case": case["name"], "new": case["result"],
                                "old": same[0]["result"]})
    return {
        "suites_added": [n for n in new_suites if n not in old_suites],
        "suites_removed": [n for n in old_suites if n not in new_suites],
        "cases_added": [c["id"] for c in new_cases if c["name"] not in old_names],
        "cases_removed": [c["id"] for c in old_cases if c["name"] not in new_names],
        "counts": counts, "changed": changed,
    }


def thd_compare(tx: Tx, notification: Any, job_id: int,
                suites: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The comparison section's data; None when no query is set."""
    if notification["entity"] is None:
        return None
    conditions = notification["conditions"] or ""
    link = "/results/query/+custom?entity=%s&conditions=%s" % (notification["entity"],
                                                               conditions)
    try:
        rows = query.thd_select_jobs(tx, conditions, query.COMPARE_LIMIT)
    except query.ConditionError as exc:
        log.warn("[{job}] notification compare query cannot be run: {error}", job=job_id,
                 error=exc.message)
        rows = []
    jobs = [{"id": r["id"], "state": JobState(r["state"]).display,
             "health": JobHealth(r["health"]).display} for r in rows]
    target = next((r["id"] for r in rows
                   if r["health"] == JobHealth.COMPLETE and r["id"] != job_id), None)
    section: dict[str, Any] = {"query_link": link, "jobs": jobs, "job_id": job_id,
                               "compare_to": target}
    if target is not None:
        blacklist = json.loads(notification["blacklist"] or "[]")
        section["old_job_id"] = target
        section.update(compare_results(suites, thd_suites(tx, target), blacklist))
    return section


# -- first-match resolution ----------------------------------------------------------------------
def _resolve_device_owner(tx: Tx, notification_id: int, hostname: str | None) -> None:
    markers = tx.all("SELECT id, method FROM notification_recipients WHERE notification_id = ?"
                     " AND user_id IS NULL AND email = ?", (notification_id, DEVICE_OWNER))
    if not markers:
        return
    owner = tx.scalar("SELECT physical_owner FROM devices WHERE hostname = ?",
                      (hostname,)) if hostname else None
    for marker in markers:
        taken = owner is not None and tx.one(
            "SELECT 1 FROM notification_recipients WHERE notification_id = ? AND user_id = ?"
            " AND method = ?", (notification_id, owner, marker["method"]))
        if owner is None or taken:
            tx.execute("DELETE FROM notification_recipients WHERE id = ?", (marker["id"],))
        else:
            tx.execute("UPDATE notification_recipients SET user_id = ?, email = NULL"
                       " WHERE id = ?", (owner, marker["id"]))


def _str_time(value: str | None) -> str:
    return "None" if value is None else str(dates.parse_stored(value))


def placeholder_values(row: Any, state: int, health: int) -> dict[str, Any]:
    """What ``{NAME}`` placeholders in a callback URL become (lower-cased names)."""
    status = legacy_status(state, health)
    return {
        "id": row["id"], "sub_id": row["sub_id"], "submitter": row["submitter"],
        "description": row["description"], "health_check": bool(row["health_check"]),
        "is_public": bool(row["is_public"]), "target_group": row["target_group"],
        "requested_device_type": row["requested_device_type"],
        "actual_device": row["actual_device"], "priority": row["priority"],
        "state": int(state), "health": int(health), "status": status,
        "status_string": LEGACY_STATUS[status], "failure_comment": row["failure_comment"],
        "submit_time": _str_time(row["submit_time"]),
        "start_time": _str_time(row["start_time"]), "end_time": _str_time(row["end_time"]),
    }


def substitute(url: str, values: dict[str, Any]) -> str:
    """``url`` with its known placeholders replaced (braces in values percent-encoded)."""
    def one(match: re.Match[str]) -> str:
        name = match.group(0)[1:-1].strip().lower()
        if name not in values:
            return match.group(0)
        return str(values[name]).replace("{", "%7B").replace("}", "%7D")
    return PLACEHOLDER.sub(one, url)


# -- callback data (4.7) ------------------------------------------------------------------------
def case_export(case: Any, job_id: int, suite: str) -> dict[str, Any]:
    """A test case in the results export mapping (xmlrpc-events-notify.md 1.10)."""
    metadata = _metadata_mapping(case["metadata"])
    logged = case["logged"]
    return {
        "name": case["name"], "job": str(job_id), "suite": suite,
        "result": TestResult(case["result"]).display,
        "measurement": str(case["measurement"]), "unit": case["units"] or "",
        "level": str(metadata.get("level", "")) if isinstance(metadata, dict) else "",
        "url": "/results/testcase/%d" % case["id"], "id": str(case["id"]),
        "logged": str(dates.parse_stored(logged)) if logged else "",
        "log_start_line": "" if case["start_log_line"] is None
        else str(case["start_log_line"]),
        "log_end_line": "" if case["end_log_line"] is None else str(case["end_log_line"]),
        "metadata": metadata,
    }


def _results_data(tx: Tx, job_id: int) -> dict[str, str]:
    out = {}
    for suite in tx.all("SELECT id, name FROM test_suites WHERE job_id = ? ORDER BY id",
                        (job_id,)):
        cases = tx.all("SELECT * FROM test_cases WHERE suite_id = ? ORDER BY id",
                       (suite["id"],))
        out[suite["name"]] = yaml.dump([case_export(c, job_id, suite["name"]) for c in cases],
                                       Dumper=_Dumper, default_flow_style=False,
                                       sort_keys=False)
    return out


def callback_data(tx: Tx, row: Any, state: int, health: int, dataset: int, token: str | None,
                  data_dir: str | None) -> dict[str, Any]:
    """The POST body of a callback, in LAVA's key order."""
    status = legacy_status(state, health)
    metadata = json.loads(row["metadata"] or "{}")
    data: dict[str, Any] = {
        "id": row["id"], "status": status, "status_string": LEGACY_STATUS[status],
        "state": int(state), "state_string": JobState(state).display,
        "health": int(health), "health_string": JobHealth(health).display,
        "submit_time": _str_time(row["submit_time"]),
        "start_time": _str_time(row["start_time"]), "end_time": _str_time(row["end_time"]),
        "submitter_username": row["submitter"], "submitter_email": row["submitter_email"],
        "failure_comment": row["failure_comment"], "priority": row["priority"],
        "description": row["description"], "actual_device_id": row["actual_device"],
        "definition": row["definition"],
        "metadata": [{str(k): str(v)} for k, v in metadata.items()],
        "health_check": bool(row["health_check"]),
        # LAVA 2023.01 sends the token in the body too (spec 7.5): keep both kinds of
        # receiver working.
        "token": token,
    }
    if dataset in (DATASET_LOGS, DATASET_ALL):
        text = ""
        if data_dir is not None:
            text = JobLog(job_dir(data_dir, row["id"])).read(0, None, row["log_lines"] or 0)
        data["log"] = text
    if dataset in (DATASET_RESULTS, DATASET_ALL):
        data["results"] = _results_data(tx, row["id"])
    return data


# -- the plan ------------------------------------------------------------------------------------
def thd_plan(tx: Tx, job_id: int, state: int, health: int,
             data_dir: str | None = None) -> dict[str, Any] | None:
    """What to deliver for a job that just went ``state``/``health``; None when nothing.

    Returns ``{"job", "verbosity", "lava_job_result", "results", "compare",
    "blacklist", "recipients", "callbacks"}``; recipients are those still not
    sent, each with ``id``, ``method``, ``address`` (email), ``handle`` and
    ``server`` (IRC) and ``user`` (a dict, or None for a bare address).
    """
    notification = tx.one("SELECT * FROM notifications WHERE job_id = ?", (job_id,))
    if notification is None:
        return None
    row = _job_row(tx, job_id)
    if row is None:
        return None
    criteria = _notify_block(row).get("criteria")
    if not isinstance(criteria, dict) or criteria.get("status") not in STATUSES:
        return None
    if not thd_matches(tx, row, criteria, state, health):
        return None
    nid = notification["id"]
    _resolve_device_owner(tx, nid, row["actual_device"])
    values = placeholder_values(row, state, health)
    callbacks = []
    for cb in tx.all("SELECT * FROM notification_callbacks WHERE notification_id = ?"
                     " ORDER BY id", (nid,)):
        url = substitute(cb["url"], values)
        if url != cb["url"]:
            tx.execute("UPDATE notification_callbacks SET url = ? WHERE id = ?", (url, cb["id"]))
        callbacks.append({
            "id": cb["id"], "url": url, "method": _CB_METHODS[cb["method"]],
            "token": cb["token"], "header": cb["header"] or "Authorization",
            "json": cb["content_type"] == JSON,
            "data": None if cb["method"] == CALLBACK_METHOD["GET"] else callback_data(
                tx, row, state, health, cb["dataset"], cb["token"], data_dir),
        })
    recipients = []
    for r in tx.all(
            "SELECT r.*, u.username, u.first_name, u.last_name, u.email AS user_email,"
            " u.irc_handle AS user_handle, u.irc_server AS user_server"
            " FROM notification_recipients r LEFT JOIN users u ON u.id = r.user_id"
            " WHERE r.notification_id = ? AND r.status = ? ORDER BY r.id", (nid, NOT_SENT)):
        user = None if r["user_id"] is None else {
            "username": r["username"], "first_name": r["first_name"] or "",
            "last_name": r["last_name"] or ""}
        email = r["method"] == EMAIL
        recipients.append({
            "id": r["id"], "method": _METHODS[r["method"]], "user": user,
            "address": (r["email"] or r["user_email"] or None) if email else None,
            "handle": None if email else r["irc_handle"] or r["user_handle"] or None,
            "server": None if email else r["irc_server"] or r["user_server"] or None,
        })
    verbosity = notification["verbosity"]
    finished = state == JobState.FINISHED
    wants_details = finished and verbosity != STATUS_ONLY and any(
        r["method"] == "email" for r in recipients)
    suites = thd_suites(tx, job_id) if wants_details and verbosity == VERBOSE else []
    return {
        "job": job_context(tx, row, state, health),
        "verbosity": verbosity,
        "lava_job_result": _lava_job_result(tx, job_id) if wants_details else None,
        "results": suites,
        "blacklist": json.loads(notification["blacklist"] or "[]"),
        "compare": thd_compare(tx, notification, job_id, suites)
        if wants_details and verbosity == VERBOSE else None,
        "recipients": recipients,
        "callbacks": callbacks,
    }


# -- outcomes --------------------------------------------------------------------------------------
def thd_mark_recipient(tx: Tx, recipient_id: int, sent: bool) -> None:
    tx.execute("UPDATE notification_recipients SET status = ? WHERE id = ?",
               (SENT if sent else NOT_SENT, recipient_id))


def thd_mark_callback(tx: Tx, callback_id: int, sent: bool) -> None:
    tx.execute("UPDATE notification_callbacks SET status = ? WHERE id = ?",
               (SENT if sent else NOT_SENT, callback_id))


# -- the read side ---------------------------------------------------------------------------------
def _status(value: int) -> str:
    return "sent" if value == SENT else "not sent"


def thd_job_notifications(tx: Tx, principal: Principal, job_id: int,
                          nested: bool = False) -> dict[str, Any] | None:
    """A job's notification, recipients and callbacks with their status; None if the job
    has no notify block.

    NotFound for no such job, PermissionDenied for a job ``principal`` may not
    see (``nested``: the results pages' rule).  Addresses and callback URLs
    are shown to the submitter, superusers and (for their own row) the
    recipient; other viewers see the method and status only.
    """
    row = tx.one("SELECT id, submitter_id FROM test_jobs WHERE id = ?", (job_id,))
    if row is None:
        raise NotFound("Job '%s' was not found." % job_id, model="TestJob")
    if not permissions.thd_can_view_job(tx, principal, job_id, nested):
        raise PermissionDenied("Permission denied for user to job %s" % job_id)
    notification = tx.one("SELECT * FROM notifications WHERE job_id = ?", (job_id,))
    if notification is None:
        return None
    privileged = principal.is_authenticated and (
        principal.is_superuser or principal.id == row["submitter_id"])
    recipients = []
    for r in tx.all("SELECT r.*, u.username, u.email AS user_email, u.irc_handle AS"
                    " user_handle, u.irc_server AS user_server FROM notification_recipients r"
                    " LEFT JOIN users u ON u.id = r.user_id WHERE r.notification_id = ?"
                    " ORDER BY r.id", (notification["id"],)):
        if r["method"] == EMAIL:
            address = r["email"] or r["user_email"] or ""
        else:
            handle = r["irc_handle"] or r["user_handle"] or ""
            server = r["irc_server"] or r["user_server"] or ""
            address = "%s@%s" % (handle, server) if server else handle
        own = principal.is_authenticated and r["user_id"] == principal.id
        recipients.append({"method": _METHODS[r["method"]], "user": r["username"],
                           "address": address if privileged or own else None,
                           "status": _status(r["status"])})
    callbacks = [{"url": cb["url"] if privileged else None,
                  "method": _CB_METHODS[cb["method"]], "dataset": _DATASETS[cb["dataset"]],
                  "content_type": _CONTENT_TYPES[cb["content_type"]],
                  "status": _status(cb["status"])}
                 for cb in tx.all("SELECT * FROM notification_callbacks WHERE"
                                  " notification_id = ? ORDER BY id", (notification["id"],))]
    return {"verbosity": _NAMES.get(notification["verbosity"], "quiet"),
            "type": notification["type"], "recipients": recipients, "callbacks": callbacks}

