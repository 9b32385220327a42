"""Job submission: parse, check and store a job definition (or a MultiNode group).

The checks run in LAVA's order, so the same definition fails with the same
text: YAML, the submission schema (:mod:`lavad.jobschema`), the extra
submission checks, the notify block, then the lab (device type, devices the
submitter may use, tags), then priority and visibility.  Errors are
:class:`SubmissionError`; its ``message`` is the REST text and
:meth:`SubmissionError.xmlrpc_fault` the XML-RPC fault.

Also here: the validators behind ``jobs/validate/``, ``jobs/validate_testdef/``
and ``scheduler.jobs.validate``, resubmission, and health-check jobs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml
from voluptuous import Invalid as SchemaInvalid

from lavad import dates, jobschema, multinode, notifyblock, users
from lavad.devices import thd_resolve_device_type
from lavad.errors import Invalid, NotAuthenticated, NotFound
from lavad.jobs import thd_insert_job, thd_set_job_state
from lavad.models import PRIORITY_NAMES, DeviceHealth, HealthDenominator, JobState
from lavad.permissions import (thd_can_submit_to_device, thd_can_view_device_type,
                               thd_can_view_job)
from lavad.store.tx import Tx
from lavad.users import Principal

HEALTH_USER = "lava-health"

# libyaml when present, as LAVA: its error texts are the ones clients see.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)


class SubmissionError(Invalid):
    """A rejected submission or an invalid definition.

    ``kind`` says which family of LAVA error it is, ``detail`` the inner text:

    * ``problem`` — ``Problem with submitted job data: <detail>`` (schema and
      semantic errors);
    * ``load`` — unparsable YAML, ``detail`` the parser's text: ``Problem with
      submitted job data: Loading job submission failed: <detail>.`` (XML-RPC
      ``validate_yaml`` says ``Decoding job submission failed: <detail>.``);
    * ``key`` — a missing key found late (``'device_type'``):
      ``job submission failed: <detail>.``;
    * ``tag`` — an unknown device tag: ``job submission failed: <detail>.``;
    * ``unavailable`` — ``Devices unavailable: <detail>``;
    * ``invalid`` — the validators' texts (``Job invalid: ...``), given whole.
    """

    def __init__(self, kind: str, detail: str, message: str | None = None) -> None:
        if message is None:
            if kind == "problem":
                message = "Problem with submitted job data: %s" % detail
            elif kind == "load":
                message = ("Problem with submitted job data: Loading job submission failed: "
                           "%s." % detail)
            elif kind in ("key", "tag"):
                message = "job submission failed: %s." % detail
            elif kind == "unavailable":
                message = "Devices unavailable: %s" % detail
            else:
                message = detail
        super().__init__(message)
        self.kind = kind
        self.detail = detail

    def xmlrpc_fault(self) -> tuple[int, str]:
        """The (code, text) of ``scheduler.jobs.submit``'s fault for this error."""
        if self.kind == "key":
            return (-32603, "Internal Server Error (contact server administrator for "
                            "details): %s" % self.detail)
        if self.kind == "tag":
            return 400, "Invalid job definition: %s." % self.detail
        if self.kind == "unavailable":
            return 400, "Device unavailable: %s" % self.detail
        return 400, self.message


class JobNotVisible(NotFound):
    """The job exists but the caller may not see it (REST: 404; XML-RPC: 403)."""

    def __init__(self, job_id: Any, username: str) -> None:
        super().__init__("Job '%s' was not found." % job_id, model="TestJob")
        self.xmlrpc_message = "Job '%s' not available to user '%s'." % (job_id, username)


# -- parsing and the checks that need no database -----------------------------------------------
def load_definition(text: str) -> Any:
    """``yaml.safe_load`` with LAVA's error text."""
    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        raise SubmissionError("load", str(exc)) from None


def check_submission(text: str, extra_context: tuple[str, ...] = ()) -> dict[str, Any]:
    """Parse ``text`` and check it against the submission schema; the job as a dict.

    This is what XML-RPC ``scheduler.validate_yaml`` checks (its faults:
    ``Decoding job submission failed: <detail>.`` for kind ``load``, else
    ``Invalid YAML submission: <detail>``).
    """
    job = load_definition(text)
    try:
        jobschema.submission_schema(extra_context)(job)
    except SchemaInvalid as exc:
        raise SubmissionError("problem", str(exc)) from None
    try:
        problem = jobschema.check_submission_extras(job, extra_context)
    except KeyError as exc:
        raise SubmissionError("key", str(exc)) from None
    except SchemaInvalid as exc:
        raise SubmissionError("problem", str(exc)) from None
    if problem:
        raise SubmissionError("problem", problem)
    return job


def validation_error(text: str, strict: bool = False,
                     extra_context: tuple[str, ...] = ()) -> dict[str, str]:
    """``scheduler.jobs.validate``: ``{}`` when valid, else ``{"path", "msg"}``.

    Unparsable YAML raises ``yaml.YAMLError`` (LAVA answers with an internal error).
    """
    try:
        jobschema.check_job(safe_load(text), strict, extra_context)
    except SchemaInvalid as exc:
        return {"path": str(exc.path), "msg": exc.msg}
    return {}


def validate_definition(text: str, strict: bool = False,
                        extra_context: tuple[str, ...] = ()) -> None:
    """``jobs/validate/``: raises ``Job invalid: <msg> @ <path>`` (yaml.YAMLError as is)."""
    error = validation_error(text, strict, extra_context)
    if error:
        raise SubmissionError("invalid", "Job invalid: %s @ %s" % (error["msg"], error["path"]))


def validate_testdef(text: str) -> None:
    """``jobs/validate_testdef/``: raises ``Test definition invalid: ...``."""
    try:
        jobschema.check_testdef(safe_load(text))
    except SchemaInvalid as exc:
        raise SubmissionError("invalid", "Test definition invalid: %s" % exc) from None


# -- stored forms ------------------------------------------------------------------------------
def dump_definition(job: Any) -> str:
    """The stored definition: block-style YAML, keys in their submitted order."""
    return yaml.dump(job, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def _jsonb_order(value: dict[str, Any]) -> dict[str, Any]:
    # PostgreSQL's jsonb key order (shorter keys first, then bytewise), which
    # LAVA's API shows: kept so lavad renders metadata the same way.
    return dict(sorted(value.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode())))


def normalise_metadata_value(value: Any) -> Any:
    if isinstance(value, dict):
        return _jsonb_order({str(k): normalise_metadata_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return [normalise_metadata_value(v) for v in value]
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalise_metadata(job: dict[str, Any]) -> dict[str, Any]:
    """The ``metadata`` mapping with every scalar a string (``{}`` when none)."""
    metadata = job.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return normalise_metadata_value(metadata)


# -- the lab checks ----------------------------------------------------------------------------
class _Target:
    """Where one job (or one MultiNode role) may run."""

    def __init__(self, device_type: str | None, device: str | None = None,
                 tag_ids: list[int] | None = None) -> None:
        self.device_type = device_type
        self.device = device
        self.tag_ids = tag_ids or []


def _device_type(tx: Tx, principal: Principal, name: str) -> str:
    real = thd_resolve_device_type(tx, name)
    if real is None:
        raise SubmissionError("unavailable", "Device type '%s' is unavailable." % name)
    if not thd_can_view_device_type(tx, principal, real):
        raise SubmissionError("unavailable", "Device type '%s' is unavailable to user '%s'"
                              % (name, principal.username))
    return real


def _allowed_devices(tx: Tx, principal: Principal, device_type: str, device: str | None,
                     worker: str | None, count: int = 1) -> tuple[str | None, list[str]]:
    """The requested device (if any) and the devices the submitter may use."""
    rows = tx.all("SELECT hostname, worker_host FROM devices WHERE device_type = ? AND"
                  " health != ? ORDER BY hostname", (device_type, DeviceHealth.RETIRED))
    if worker is not None:
        if tx.one("SELECT 1 FROM workers WHERE hostname = ?", (worker,)) is None:
            raise SubmissionError("problem", "Worker '%s' does not exist." % worker)
        rows = [r for r in rows if r["worker_host"] == worker]
    candidates = [r["hostname"] for r in rows]
    if device is not None:
        row = tx.one("SELECT device_type, worker_host FROM devices WHERE hostname = ?",
                     (device,))
        if row is None:
            raise SubmissionError("problem", "Device '%s' does not exist." % device)
        if row["device_type"] != device_type:
            raise SubmissionError("problem", "Device '%s' is not of type '%s'."
                                  % (device, device_type))
        if count != 1:
            raise SubmissionError("problem", "Specific device '%s' cannot be used when count "
                                  "is greater than 1." % device)
        if worker is not None and row["worker_host"] != worker:
            raise SubmissionError("problem", "Device '%s' is not attached to worker '%s'."
                                  % (device, worker))
        candidates = [h for h in candidates if h == device]
    if not candidates:
        return device, []
    allowed = [h for h in candidates if thd_can_submit_to_device(tx, principal, h)]
    if not allowed:
        if device is not None:
            raise SubmissionError("problem", "You do not have permission to submit jobs to "
                                  "device '%s'." % device)
        raise SubmissionError("unavailable", "No devices from %s pool are currently available"
                              " to user %s" % (candidates, principal.username))
    return device, allowed


def _tag_ids(tx: Tx, names: list[str]) -> list[tuple[int, str]]:
    tags = []
    for name in names:
        tid = tx.scalar("SELECT id FROM tags WHERE name = ?", (name,))
        if tid is None:
            raise SubmissionError("tag", "Device tag '%s' does not exist in the database."
                                  % name)
        tags.append((tid, name))
    return tags


def _check_tags(tx: Tx, tags: list[tuple[int, str]], device_type: str, device: str | None,
                allowed: list[str], count: int = 1) -> None:
    if not tags:
        return
    wanted = {tid for tid, _name in tags}
    sql = "SELECT hostname FROM devices WHERE health != ? AND %s = ?" % (
        "hostname" if device else "device_type")
    tagged = []
    for row in tx.all(sql, (DeviceHealth.RETIRED, device or device_type)):
        have = {r[0] for r in tx.all("SELECT tag_id FROM device_tags WHERE device = ?",
                                     (row[0],))}
        if wanted <= have:
            tagged.append(row[0])
    listed = ", ".join(name for _tid, name in tags)
    if not tagged:
        if device:
            raise SubmissionError("unavailable", "Device %s does not support all of the tags "
                                  "'%s'." % (device, listed))
        raise SubmissionError("unavailable", "No devices of type %s are available which have "
                              "all of the tags '%s'." % (device_type, listed))
    if len(set(tagged) & set(allowed)) < count:
        raise SubmissionError("unavailable",
                              "Not enough devices available matching the requested tags.")


def _single_target(tx: Tx, principal: Principal, job: dict[str, Any]) -> _Target:
    if "device_type" not in job:
        raise SubmissionError("key", repr("device_type"))
    device_type = _device_type(tx, principal, job["device_type"])
    device, allowed = _allowed_devices(tx, principal, device_type, job.get("device"),
                                       job.get("worker"))
    if not allowed:
        raise SubmissionError("unavailable", "No devices of type %s are available."
                              % device_type)
    tags = _tag_ids(tx, job.get("tags") or [])
    _check_tags(tx, tags, device_type, device, allowed)
    return _Target(device_type, device, [tid for tid, _name in tags])


def _role_targets(tx: Tx, principal: Principal, job: dict[str, Any]) -> dict[str, _Target]:
    targets = {}
    for role, spec in job["protocols"]["lava-multinode"]["roles"].items():
        if "device_type" in spec and "connection" in spec:
            raise SubmissionError("problem", "lava-multinode protocol cannot support "
                                  "device_type and connection for a single role.")
        if "connection" in spec:
            if "host_role" not in spec:
                raise SubmissionError("problem", "connection specified without a host_role")
            targets[role] = _Target(None)
            continue
        if "device_type" not in spec:
            raise SubmissionError("key", repr("device_type"))
        device_type = _device_type(tx, principal, spec["device_type"])
        if "count" not in spec:
            raise SubmissionError("key", repr("count"))
        count = spec["count"]
        device, allowed = _allowed_devices(tx, principal, device_type, spec.get("device"),
                                           spec.get("worker"), count)
        if len(allowed) < count:
            raise SubmissionError("unavailable", "Not enough devices of type %s are currently "
                                  "available to user %s" % (device_type, principal.username))
        tags = _tag_ids(tx, spec.get("tags") or [])
        _check_tags(tx, tags, device_type, device, allowed, count)
        targets[role] = _Target(device_type, device, [tid for tid, _name in tags])
    return targets


# -- creating the jobs ---------------------------------------------------------------------------
def _priority(job: dict[str, Any]) -> int:
    value = job.get("priority", PRIORITY_NAMES["medium"])
    if isinstance(value, int):
        if not 0 <= value <= 100:
            raise SubmissionError("problem", "Invalid job priority: %s. Should be in [0, 100]"
                                  % value)
        return int(value)
    priority = PRIORITY_NAMES.get(str(value).lower())
    if priority is None:
        raise SubmissionError("problem", "Invalid job priority: %r" % value)
    return priority


def _visibility(tx: Tx, submitter: str, job: dict[str, Any]) -> tuple[bool, list[int]]:
    """``(is_public, viewing group ids)``; ``personal`` uses a group named after the user."""
    visibility = job.get("visibility")
    if visibility is None or visibility == "public":  # None: a health check without one
        return True, []
    if isinstance(visibility, str):
        gid = tx.scalar("SELECT id FROM groups WHERE name = ?", (submitter,))
        if gid is None:
            gid = tx.execute("INSERT INTO groups (name) VALUES (?)", (submitter,)).lastrowid
        return False, [gid]
    if not isinstance(visibility, dict) or "group" not in visibility:
        return False, []  # ``{}``: private to the submitter, as in LAVA
    names = list(visibility["group"] or [])
    gids = [r[0] for r in tx.all("SELECT id FROM groups WHERE name IN (%s) ORDER BY id"
                                 % ", ".join("?" * len(names)), names)] if names else []
    if not gids:
        raise SubmissionError("problem", "No known groups were found in the visibility list.")
    return False, gids


def _create(tx: Tx, submitter_id: int, submitter: str, job: dict[str, Any], target: _Target,
            original: str | None, health_check: bool = False,
            target_group: str | None = None, notify: bool = True) -> int:
    priority = _priority(job)
    is_public, groups = _visibility(tx, submitter, job)
    definition = dump_definition(job)
    job_id = thd_insert_job(
        tx, submitter_id, definition, original_definition=original or definition,
        description=job.get("job_name"), requested_device_type=target.device_type,
        requested_device=target.device, health_check=health_check, priority=priority,
        is_public=is_public, viewing_groups=groups, tags=target.tag_ids,
        target_group=target_group, metadata=normalise_metadata(job))
    if notify and job.get("notify") is not None:
        notifyblock.thd_store_notify(tx, job_id, submitter_id, job["notify"])
    return job_id


def thd_submit(tx: Tx, principal: Principal, text: str,
               extra_context: tuple[str, ...] = ()) -> list[int | str]:
    """Submit a job definition as ``principal``; the new job ids.

    A single-node job gives ``[id]``; a MultiNode job ``["N.0", "N.1", ...]``
    (N the first sub-job's id).
    """
    if not principal.is_authenticated:
        raise NotAuthenticated("Authentication credentials were not provided.")
    text = text.strip()
    job = check_submission(text, extra_context)
    if job.get("notify") is not None:
        problem = notifyblock.thd_check_notify(tx, job["notify"])
        if problem:
            raise SubmissionError("problem", problem)
    assert principal.id is not None
    if "lava-multinode" in (job.get("protocols") or {}):
        return _submit_multinode(tx, principal, job, text)
    target = _single_target(tx, principal, job)
    return [_create(tx, principal.id, principal.username, job, target, text)]


def _submit_multinode(tx: Tx, principal: Principal, job: dict[str, Any],
                      text: str) -> list[int | str]:
    assert principal.id is not None
    targets = _role_targets(tx, principal, job)
    target_group = str(uuid.uuid4())
    try:
        nodes = multinode.split(job, target_group)
    except multinode.SplitError as exc:
        raise SubmissionError("key" if exc.key is not None else "problem",
                              exc.message) from None
    if not nodes:
        raise SubmissionError("problem", "Unable to split multinode job submission.")
    ids: list[int | str] = []
    first = None
    for role, node in nodes:
        job_id = _create(tx, principal.id, principal.username, node, targets[role], None,
                         target_group=target_group)
        first = job_id if first is None else first
        sub_id = "%d.%d" % (first, node["protocols"]["lava-multinode"]["sub_id"])
        # As in LAVA: a second Submitted event, now carrying the sub_id.
        thd_set_job_state(tx, job_id, sub_id=sub_id, multinode_definition=text)
        ids.append(sub_id)
    return ids


# -- resubmission ---------------------------------------------------------------------------------
def thd_find_job(tx: Tx, job_id: int | str, principal: Principal | None = None) -> Any:
    """A job row by id or ``"N.M"`` sub_id; with a principal, it must be visible."""
    text = str(job_id)
    if "." in text:
        row = tx.one("SELECT * FROM test_jobs WHERE sub_id = ?", (text,))
    else:
        try:
            row = tx.one("SELECT * FROM test_jobs WHERE id = ?", (int(text),))
        except ValueError:
            row = None
    if row is None:
        raise NotFound("Job '%s' was not found." % job_id, model="TestJob")
    if principal is not None and not thd_can_view_job(tx, principal, row["id"]):
        raise JobNotVisible(job_id, principal.username)
    return row


def thd_resubmit(tx: Tx, principal: Principal, job_id: int | str,
                 extra_context: tuple[str, ...] = ()) -> list[int | str]:
    """Submit a job's stored definition again, as ``principal`` (who must see the job).

    MultiNode jobs resubmit their whole group (``multinode_definition``).
    """
    if not principal.is_authenticated:
        raise NotAuthenticated("Authentication credentials were not provided.")
    row = thd_find_job(tx, job_id, principal)
    text = row["multinode_definition"] if row["target_group"] else row["definition"]
    return thd_submit(tx, principal, text, extra_context)


# -- health checks -------------------------------------------------------------------------------
def _health_user(tx: Tx) -> int:
    uid = tx.scalar("SELECT id FROM users WHERE username = ?", (HEALTH_USER,))
    if uid is None:
        uid = users.thd_add_user(tx, HEALTH_USER, is_active=False)["id"]
    return uid


def _device_and_type(tx: Tx, hostname: str) -> Any:
    row = tx.one("SELECT d.hostname, d.health, d.last_health_report_job, t.name AS device_type,"
                 " t.health_check, t.disable_health_check, t.health_frequency,"
                 " t.health_denominator FROM devices d JOIN device_types t"
                 " ON t.name = d.device_type WHERE d.hostname = ?", (hostname,))
    if row is None:
        raise NotFound("Device '%s' was not found." % hostname, model="Device")
    return row


def thd_create_health_check(tx: Tx, hostname: str) -> int | None:
    """A Submitted health-check job for ``hostname``, from its type's definition.

    None when the type has no definition or has health checks disabled.  A
    definition that cannot be used raises :class:`SubmissionError` (the
    scheduler then marks the device Bad, as LAVA does).
    """
    row = _device_and_type(tx, hostname)
    if row["disable_health_check"] or not row["health_check"]:
        return None
    job = load_definition(row["health_check"])
    if not isinstance(job, dict):
        raise SubmissionError("problem", "expected a dictionary")
    # Health checks skip the submission checks; a notify block is kept only if it is sound.
    notify = job.get("notify")
    try:
        notify = jobschema.notify_schema()(notify)
        sound = notifyblock.thd_check_notify(tx, notify) is None
    except SchemaInvalid:
        sound = False
    return _create(tx, _health_user(tx), HEALTH_USER, job,
                   _Target(row["device_type"], hostname), row["health_check"],
                   health_check=True, notify=sound)


def _as_datetime(now: float | str | datetime) -> datetime:
    if isinstance(now, datetime):
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if isinstance(now, str):
        return dates.parse_stored(now)
    return datetime.fromtimestamp(now, timezone.utc)


def thd_health_check_due(tx: Tx, hostname: str, now: float | str | datetime) -> bool:
    """Whether ``hostname`` needs a health check before its next job.

    Never when its type has no definition or has them disabled, when the
    device is not Good/Unknown/Looping, or while a health check for it is
    unfinished.  Always when it is Unknown or Looping, or never had one.
    Otherwise by the type's frequency: ``hours`` since the last health check
    was submitted, or ``jobs`` started on the device since then.  ``now`` is
    a timestamp, an aware datetime or a stored time string.
    """
    row = _device_and_type(tx, hostname)
    if row["disable_health_check"] or not row["health_check"]:
        return False
    if row["health"] not in (DeviceHealth.GOOD, DeviceHealth.UNKNOWN, DeviceHealth.LOOPING):
        return False
    if tx.one("SELECT 1 FROM test_jobs WHERE health_check = 1 AND state != ? AND"
              " (requested_device = ? OR actual_device = ?) LIMIT 1",
              (JobState.FINISHED, hostname, hostname)):
        return False
    if row["health"] in (DeviceHealth.UNKNOWN, DeviceHealth.LOOPING):
        return True
    last = None
    if row["last_health_report_job"] is not None:
        last = tx.scalar("SELECT submit_time FROM test_jobs WHERE id = ?",
                         (row["last_health_report_job"],))
    if last is None:
        last = tx.scalar("SELECT submit_time FROM test_jobs WHERE health_check = 1 AND"
                         " actual_device = ? AND state = ? ORDER BY submit_time DESC LIMIT 1",
                         (hostname, JobState.FINISHED))
    if last is None:
        return True
    if row["health_denominator"] == HealthDenominator.jobs:
        count = tx.scalar("SELECT count(*) FROM test_jobs WHERE actual_device = ? AND"
                          " health_check = 0 AND start_time >= ?", (hostname, last))
        return bool(count >= row["health_frequency"])
    return dates.parse_stored(last) + timedelta(hours=row["health_frequency"]) \
        < _as_datetime(now)


__all__ = ["SubmissionError", "JobNotVisible", "check_submission", "load_definition",
           "validation_error", "validate_definition", "validate_testdef", "dump_definition",
           "normalise_metadata", "thd_submit", "thd_resubmit", "thd_find_job",
           "thd_create_health_check", "thd_health_check_due"]
