"""Who may see and do what: every visibility and permission rule, in one place.

REST, XML-RPC, the exports and the event relays all ask these functions, so
they can never disagree about a restricted job, device or device type.

Group object permissions form a ladder per object kind (``view < submit <
change``): holding a higher one grants the lower ones.  An object is
*restricted* for a codename when at least one group row with that codename
exists for it.  View and submit are open on an unrestricted object; change
never is.

Visibility is expressed as SQL conditions (so lists filter in the database and
stay fast) and single-object checks run the same SQL.
"""

from __future__ import annotations

from typing import Any

from lavad.models import (DEVICE_PERMISSIONS, DEVICE_TYPE_PERMISSIONS, WORKER_PERMISSIONS,
                          DeviceHealth)
from lavad.store.tx import Tx
from lavad.users import Principal

APP = "lava_scheduler_app"

# kind -> (permission table, object column, ladder, model name for global perms)
KINDS: dict[str, tuple[str, str, list[str], str]] = {
    "devicetype": ("group_device_type_permissions", "device_type", DEVICE_TYPE_PERMISSIONS,
                   "devicetype"),
    "device": ("group_device_permissions", "device", DEVICE_PERMISSIONS, "device"),
    "worker": ("group_worker_permissions", "worker", WORKER_PERMISSIONS, "worker"),
}


def _ladder_from(kind: str, level: str) -> list[str]:
    """The codenames granting ``level`` (``view``/``submit``/``change``) on ``kind``."""
    ladder = KINDS[kind][2]
    codes = [c for c in ladder if c.split("_")[0] == level]
    return ladder[ladder.index(codes[0]):]


def _codename(kind: str, level: str) -> str:
    return _ladder_from(kind, level)[0]


def _groups(principal: Principal) -> frozenset[int]:
    """The groups whose object permissions count: none for an inactive account."""
    return principal.groups if principal.is_authenticated else frozenset()


def _groups_sql(principal: Principal) -> str:
    return "(%s)" % ", ".join(str(int(g)) for g in sorted(_groups(principal))) \
        if _groups(principal) else "(NULL)"


def _quoted(codes: list[str]) -> str:
    return ", ".join("'%s'" % c for c in codes)


def object_perm_sql(principal: Principal, kind: str, level: str, column: str) -> str | None:
    """SQL condition on ``column`` (the object's key) granting ``level`` on ``kind``.

    Returns None when the principal holds the right on every object.
    """
    table, col, _ladder, model = KINDS[kind]
    if principal.has_perm("%s.%s_%s" % (APP, level if level != "submit" else "submit_to",
                                         model)):
        return None
    granted = ("%s IN (SELECT %s FROM %s WHERE group_id IN %s AND permission IN (%s))"
               % (column, col, table, _groups_sql(principal),
                  _quoted(_ladder_from(kind, level)))) if _groups(principal) else "0"
    if level == "change":
        return granted
    if level == "submit" and not principal.is_authenticated:
        return "0"
    unrestricted = "%s NOT IN (SELECT %s FROM %s WHERE permission = '%s')" % (
        column, col, table, _codename(kind, level))
    return "(%s OR %s)" % (unrestricted, granted)


def visible_device_types_sql(principal: Principal, column: str = "name") -> str:
    return object_perm_sql(principal, "devicetype", "view", column) or "1"


def visible_devices_sql(principal: Principal, alias: str = "d") -> str:
    """Devices ``alias`` may be shown: own restriction, else the device type's."""
    if principal.has_perm("%s.view_device" % APP):
        return "1"
    table, col, _l, _m = KINDS["device"]
    hostname = "%s.hostname" % alias
    dtype = visible_device_types_sql(principal, "%s.device_type" % alias)
    granted = ("%s IN (SELECT %s FROM %s WHERE group_id IN %s AND permission IN (%s))"
               % (hostname, col, table, _groups_sql(principal),
                  _quoted(_ladder_from("device", "view")))) if _groups(principal) else "0"
    return ("((%s NOT IN (SELECT device FROM %s WHERE permission = 'view_device') AND %s)"
            " OR %s)" % (hostname, table, dtype, granted))


def visible_workers_sql(principal: Principal, column: str = "hostname") -> str:
    return object_perm_sql(principal, "worker", "view", column) or "1"


def visible_jobs_sql(principal: Principal, alias: str = "j", nested: bool = False) -> str:
    """The job visibility rule (LAVA's, REST list/detail form; ``nested`` for results routes).

    A job is visible to superusers; to its submitter when it is not public
    (always, for the nested results routes); to members of every one of its
    viewing groups; and, when public with no viewing groups, to whoever can
    see its device (or its requested device type while it has none).
    """
    if principal.is_superuser and principal.is_authenticated:
        return "1"
    j = alias
    has_groups = "EXISTS (SELECT 1 FROM test_job_viewing_groups vg WHERE vg.job_id = %s.id)" % j
    clauses = []
    if principal.is_authenticated:
        own = "%s.submitter_id = %d" % (j, principal.id)
        clauses.append(own if nested else "(%s.is_public = 0 AND %s)" % (j, own))
        if _groups(principal):
            # Only with groups: ``x NOT IN (NULL)`` is NULL, which would make every
            # group-restricted job visible to a user in no group at all.
            clauses.append(
                "(%s AND NOT EXISTS (SELECT 1 FROM test_job_viewing_groups vg WHERE vg.job_id ="
                " %s.id AND vg.group_id NOT IN %s))" % (has_groups, j, _groups_sql(principal)))
    # One list of the visible devices for the whole query (SQLite builds it once), not a
    # device lookup per job: counting every visible job is the cost of each job list.
    device_ok = ("(%s.actual_device IS NOT NULL AND %s.actual_device IN (SELECT d.hostname "
                 "FROM devices d WHERE %s))" % (j, j, visible_devices_sql(principal, "d")))
    type_ok = ("(%s.actual_device IS NULL AND %s.requested_device_type IS NOT NULL AND %s)"
               % (j, j, visible_device_types_sql(principal, "%s.requested_device_type" % j)))
    clauses.append("(%s.is_public = 1 AND NOT %s AND (%s OR %s))"
                   % (j, has_groups, device_ok, type_ok))
    return "(%s)" % " OR ".join(clauses)


# -- single-object checks (the same SQL) ---------------------------------------------------------
def thd_can_view_device_type(tx: Tx, principal: Principal, name: str) -> bool:
    return tx.one("SELECT 1 FROM device_types WHERE name = ? AND %s"
                  % visible_device_types_sql(principal), (name,)) is not None


def thd_can_view_device(tx: Tx, principal: Principal, hostname: str) -> bool:
    return tx.one("SELECT 1 FROM devices d WHERE d.hostname = ? AND %s"
                  % visible_devices_sql(principal), (hostname,)) is not None


def thd_can_view_worker(tx: Tx, principal: Principal, hostname: str) -> bool:
    return tx.one("SELECT 1 FROM workers WHERE hostname = ? AND %s"
                  % visible_workers_sql(principal), (hostname,)) is not None


def thd_can_view_job(tx: Tx, principal: Principal, job_id: int, nested: bool = False) -> bool:
    return tx.one("SELECT 1 FROM test_jobs j WHERE j.id = ? AND %s"
                  % visible_jobs_sql(principal, nested=nested), (job_id,)) is not None


def thd_can_submit_to_device_type(tx: Tx, principal: Principal, name: str) -> bool:
    if not principal.is_authenticated or not thd_can_view_device_type(tx, principal, name):
        return False
    cond = object_perm_sql(principal, "devicetype", "submit", "name") or "1"
    return tx.one("SELECT 1 FROM device_types WHERE name = ? AND %s" % cond,
                  (name,)) is not None


def thd_can_submit_to_device(tx: Tx, principal: Principal, hostname: str) -> bool:
    """Submit right on a device: its own restriction if it has one, else its type's.

    Nobody may submit to a retired device.
    """
    if not principal.is_authenticated or not thd_can_view_device(tx, principal, hostname):
        return False
    row = tx.one("SELECT device_type, health FROM devices WHERE hostname = ?", (hostname,))
    assert row is not None
    if row["health"] == DeviceHealth.RETIRED:
        return False
    restricted = tx.one("SELECT 1 FROM group_device_permissions WHERE device = ? AND "
                        "permission = 'submit_to_device'", (hostname,))
    if restricted is None:
        return thd_can_submit_to_device_type(tx, principal, row["device_type"])
    cond = object_perm_sql(principal, "device", "submit", "hostname") or "1"
    return tx.one("SELECT 1 FROM devices WHERE hostname = ? AND %s" % cond,
                  (hostname,)) is not None


def thd_can_change(tx: Tx, principal: Principal, kind: str, key: str) -> bool:
    """Change right on a device type, device (or its type, if the device has no
    restriction of its own) or worker."""
    if not principal.is_authenticated:
        return False
    table, keycol = {"devicetype": ("device_types", "name"), "device": ("devices", "hostname"),
                     "worker": ("workers", "hostname")}[kind]
    cond = object_perm_sql(principal, kind, "change", keycol)
    if cond is None:
        return True
    if tx.one("SELECT 1 FROM %s WHERE %s = ? AND %s" % (table, keycol, cond), (key,)):
        return True
    if kind == "device":
        # "Its own restriction" is a change_device row: view/submit rows do not count.
        own = tx.one("SELECT 1 FROM group_device_permissions WHERE device = ? AND"
                     " permission = 'change_device'", (key,))
        if own is None:
            dtype = tx.scalar("SELECT device_type FROM devices WHERE hostname = ?", (key,))
            return dtype is not None and thd_can_change(tx, principal, "devicetype", dtype)
    return False


def thd_can_cancel_job(tx: Tx, principal: Principal, job: dict[str, Any]) -> bool:
    """LAVA's can_cancel: superuser, the submitter, the global ``change_testjob``
    (or lavad's ``cancel_resubmit_testjob``) permission, or change rights on the
    job's device (on its requested device type while it has no device).

    ``job`` is a job dict (``jobs.job_dict``) or a stored row as a dict.  The
    state check (only unfinished jobs are cancelled) is the caller's.
    """
    if not principal.is_authenticated:
        return False
    if principal.is_superuser:
        return True
    # A stored row carries ``submitter_id``; the job dict (``jobs.job_dict``) the username.
    if "submitter_id" in job:
        if job["submitter_id"] == principal.id:
            return True
    elif job.get("submitter") == principal.username:
        return True
    if principal.has_perm("%s.change_testjob" % APP) or \
            principal.has_perm("%s.cancel_resubmit_testjob" % APP):
        return True
    device = job.get("actual_device")
    if device:
        return thd_can_change(tx, principal, "device", device)
    dtype = job.get("requested_device_type")
    return bool(dtype) and thd_can_change(tx, principal, "devicetype", dtype)
