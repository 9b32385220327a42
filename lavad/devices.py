"""The lab's hardware model: device types (and their architecture, processor,
cores, bit width), aliases, tags, workers, devices, and the group object
permissions on them.  All functions run on the store thread.

Records are returned as plain dicts in LAVA's REST field order with enum
values as display strings, so every adapter renders the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from lavad.errors import Conflict, Duplicate, Invalid, NotFound
from lavad.models import (DEVICE_PERMISSIONS, DEVICE_TYPE_PERMISSIONS, WORKER_PERMISSIONS,
                          DeviceHealth, DeviceState, HealthDenominator, JobState,
                          WorkerHealth, WorkerState)
from lavad.permissions import (visible_device_types_sql, visible_devices_sql,
                               visible_workers_sql)
from lavad.store.tx import Tx
from lavad.users import ANONYMOUS, Principal, new_short_token

SERVER_USER = "lavaserver"  # the username LAVA puts on device and worker events
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


def _check_name(value: str, what: str, max_len: int, field: str) -> None:
    if not value or not isinstance(value, str):
        raise Invalid("A %s is required." % what, field=field)
    if "/" in value or "\0" in value:
        raise Invalid("A %s must not contain '/'." % what, field=field)
    if len(value) > max_len:
        raise Invalid("A %s is at most %d characters." % (what, max_len), field=field)


def _log(tx: Tx, object_type: str, object_id: str, message: str,
         principal: Principal = ANONYMOUS) -> None:
    tx.execute("INSERT INTO log_entries (action_time, user_id, object_type, object_id, message)"
               " VALUES (?, ?, ?, ?, ?)", (tx.now(), principal.id, object_type, object_id,
                                           message))


# -- architecture, processor, cores, bits ------------------------------------------------------
def _ensure(tx: Tx, table: str, column: str, value: Any) -> None:
    tx.execute("INSERT OR IGNORE INTO %s (%s) VALUES (?)" % (table, column), (value,))


# -- device types ----------------------------------------------------------------------------------
DEVICE_TYPE_FIELDS = ("architecture", "processor", "cpu_model", "bits", "cores", "core_count",
                      "description", "health_frequency", "disable_health_check",
                      "health_denominator", "display", "aliases")


def _device_type_dict(tx: Tx, row: Any) -> dict[str, Any]:
    name = row["name"]
    return {
        "name": name, "architecture": row["architecture"], "processor": row["processor"],
        "cpu_model": row["cpu_model"],
        "aliases": [r[0] for r in tx.all(
            "SELECT name FROM aliases WHERE device_type = ? ORDER BY name", (name,))],
        "bits": row["bits"],
        "cores": [r[0] for r in tx.all(
            "SELECT core FROM device_type_cores WHERE device_type = ? ORDER BY core", (name,))],
        "core_count": row["core_count"], "description": row["description"],
        "health_frequency": row["health_frequency"],
        "disable_health_check": bool(row["disable_health_check"]),
        "health_denominator": HealthDenominator(row["health_denominator"]).display,
        "display": bool(row["display"]),
    }


def _apply_device_type_fields(tx: Tx, name: str, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(DEVICE_TYPE_FIELDS)
    if unknown:
        raise Invalid("Unknown device-type field(s): %s" % ", ".join(sorted(unknown)))
    sets: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "architecture" and value is not None:
            _ensure(tx, "architectures", "name", value)
        elif key == "processor" and value is not None:
            _ensure(tx, "processor_families", "name", value)
        elif key == "bits" and value is not None:
            value = int(value)
            _ensure(tx, "bit_widths", "width", value)
        elif key == "health_denominator":
            try:
                value = HealthDenominator.from_display(value).value \
                    if isinstance(value, str) else HealthDenominator(value).value
            except ValueError:
                raise Invalid("health_denominator must be 'hours' or 'jobs'.",
                              field="health_denominator") from None
        elif key == "health_frequency":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise Invalid("health_frequency must be an integer.",
                              field="health_frequency") from None
            if value < 0:
                raise Invalid("health_frequency must not be negative.",
                              field="health_frequency")
        elif key in ("disable_health_check", "display"):
            value = int(bool(value))
        if key == "cores":
            tx.execute("DELETE FROM device_type_cores WHERE device_type = ?", (name,))
            for core in value or []:
                _ensure(tx, "cores", "name", core)
                tx.execute("INSERT INTO device_type_cores VALUES (?, ?)", (name, core))
        elif key == "aliases":
            tx.execute("UPDATE aliases SET device_type = NULL WHERE device_type = ?", (name,))
            for alias in value or []:
                try:
                    thd_add_alias(tx, alias, name, replace=True)
                except Invalid as exc:  # Conflict too: the error is about this field
                    raise type(exc)(exc.message, field="aliases") from None
        else:
            sets[key] = value
    if sets:
        tx.execute("UPDATE device_types SET %s WHERE name = ?"
                   % ", ".join("%s = ?" % k for k in sets), (*sets.values(), name))


def thd_add_device_type(tx: Tx, name: str, **fields: Any) -> dict[str, Any]:
    _check_name(name, "device-type name", 50, "name")
    if tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)):
        raise Duplicate("Device-type '%s' already exists." % name, field="name")
    if tx.one("SELECT 1 FROM aliases WHERE name = ?", (name,)):
        raise Conflict("'%s' is already an alias of a device type." % name, field="name")
    tx.execute("INSERT INTO device_types (name) VALUES (?)", (name,))
    _apply_device_type_fields(tx, name, fields)
    tx.emit("lab", {"object": "devicetype", "action": "add", "name": name})
    return thd_get_device_type(tx, name)


def _device_type_row(tx: Tx, name: str, principal: Principal | None = None) -> Any:
    cond = "1" if principal is None else visible_device_types_sql(principal)
    row = tx.one("SELECT * FROM device_types WHERE name = ? AND %s" % cond, (name,))
    if row is None:
        raise NotFound("Device-type '%s' was not found." % name, model="DeviceType", key=name)
    return row


def thd_get_device_type(tx: Tx, name: str, principal: Principal | None = None) -> dict[str, Any]:
    """One device type; with a principal, NotFound unless it may see it."""
    return _device_type_dict(tx, _device_type_row(tx, name, principal))


def thd_list_device_types(tx: Tx, principal: Principal | None = None) -> list[dict[str, Any]]:
    cond = "1" if principal is None else visible_device_types_sql(principal)
    return [_device_type_dict(tx, r)
            for r in tx.all("SELECT * FROM device_types WHERE %s ORDER BY name" % cond)]


def thd_update_device_type(tx: Tx, name: str, **fields: Any) -> dict[str, Any]:
    _device_type_row(tx, name, None)
    _apply_device_type_fields(tx, name, {k: v for k, v in fields.items()})
    tx.emit("lab", {"object": "devicetype", "action": "update", "name": name})
    return thd_get_device_type(tx, name)


def thd_delete_device_type(tx: Tx, name: str) -> None:
    _device_type_row(tx, name, None)
    if tx.one("SELECT 1 FROM devices WHERE device_type = ? LIMIT 1", (name,)):
        raise Conflict("Device-type '%s' still has devices." % name)
    if tx.one("SELECT 1 FROM test_jobs WHERE requested_device_type = ? LIMIT 1", (name,)):
        raise Conflict("Device-type '%s' has jobs: hide it (display=false) instead." % name)
    tx.execute("DELETE FROM device_type_cores WHERE device_type = ?", (name,))
    tx.execute("DELETE FROM aliases WHERE device_type = ?", (name,))
    tx.execute("DELETE FROM group_device_type_permissions WHERE device_type = ?", (name,))
    tx.execute("DELETE FROM device_types WHERE name = ?", (name,))
    tx.emit("lab", {"object": "devicetype", "action": "delete", "name": name})


def thd_resolve_device_type(tx: Tx, name: str) -> str | None:
    """A device-type name or an alias of one → the device-type name."""
    if tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)):
        return name
    return tx.scalar("SELECT device_type FROM aliases WHERE name = ?", (name,))


# -- aliases ------------------------------------------------------------------------------------
def thd_add_alias(tx: Tx, name: str, device_type: str | None,
                  replace: bool = False) -> dict[str, Any]:
    _check_name(name, "alias name", 200, "name")
    if device_type is not None:
        _device_type_row(tx, device_type, None)
    if tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)):
        raise Conflict("Alias or DeviceType name already exists.", field="name")
    if tx.one("SELECT 1 FROM aliases WHERE name = ?", (name,)):
        if not replace:
            raise Duplicate("Alias '%s' already exists." % name, field="name")
        tx.execute("UPDATE aliases SET device_type = ? WHERE name = ?", (device_type, name))
    else:
        tx.execute("INSERT INTO aliases (name, device_type) VALUES (?, ?)", (name, device_type))
    return {"name": name, "device_type": device_type}


def thd_list_aliases(tx: Tx, principal: Principal | None = None) -> list[dict[str, Any]]:
    """Aliases; with a principal, only those of displayed device types it may see."""
    if principal is None:
        rows = tx.all("SELECT name, device_type FROM aliases ORDER BY name")
    else:
        rows = tx.all("SELECT a.name, a.device_type FROM aliases a JOIN device_types t"
                      " ON t.name = a.device_type WHERE t.display = 1 AND %s ORDER BY a.name"
                      % visible_device_types_sql(principal, "t.name"))
    return [{"name": r[0], "device_type": r[1]} for r in rows]


def thd_delete_alias(tx: Tx, name: str) -> None:
    if tx.execute("DELETE FROM aliases WHERE name = ?", (name,)).rowcount == 0:
        raise NotFound("Alias '%s' was not found." % name, model="Alias")


# -- tags ------------------------------------------------------------------------------------
def thd_add_tag(tx: Tx, name: str, description: str | None = None) -> dict[str, Any]:
    if not name or len(name) > 100 or not SLUG.match(name):
        raise Invalid('Enter a valid "slug" consisting of letters, numbers, underscores or '
                      'hyphens.', field="name")
    if tx.one("SELECT 1 FROM tags WHERE name = ?", (name,)):
        raise Duplicate("Tag '%s' already exists." % name, field="name")
    tid = tx.execute("INSERT INTO tags (name, description) VALUES (?, ?)",
                     (name, description)).lastrowid
    return {"id": tid, "name": name, "description": description}


def thd_get_tag(tx: Tx, tag: int | str) -> dict[str, Any]:
    col = "id" if isinstance(tag, int) else "name"
    row = tx.one("SELECT id, name, description FROM tags WHERE %s = ?" % col, (tag,))
    if row is None:
        raise NotFound("Tag '%s' was not found." % tag, model="Tag")
    return dict(row)


def thd_list_tags(tx: Tx) -> list[dict[str, Any]]:
    return [dict(r) for r in tx.all("SELECT id, name, description FROM tags ORDER BY name")]


def thd_delete_tag(tx: Tx, tag: int | str) -> None:
    tid = thd_get_tag(tx, tag)["id"]
    tx.execute("DELETE FROM device_tags WHERE tag_id = ?", (tid,))
    tx.execute("DELETE FROM test_job_tags WHERE tag_id = ?", (tid,))
    tx.execute("DELETE FROM tags WHERE id = ?", (tid,))


def thd_update_tag(tx: Tx, tag_id: int, **changes: Any) -> dict[str, Any]:
    """Rename a tag or change its description (only the keys given; a None
    description clears it)."""
    tag = thd_get_tag(tx, tag_id)
    unknown = set(changes) - {"name", "description"}
    if unknown:
        raise Invalid("Unknown tag field(s): %s" % ", ".join(sorted(unknown)))
    name = changes.get("name", tag["name"])
    if name != tag["name"]:
        if not name or len(name) > 100 or not SLUG.match(name):
            raise Invalid('Enter a valid "slug" consisting of letters, numbers, underscores '
                          'or hyphens.', field="name")
        if tx.one("SELECT 1 FROM tags WHERE name = ?", (name,)):
            raise Duplicate("Tag '%s' already exists." % name, field="name")
    description = changes.get("description", tag["description"])
    tx.execute("UPDATE tags SET name = ?, description = ? WHERE id = ?",
               (name, description, tag["id"]))
    return {"id": tag["id"], "name": name, "description": description}


def _tag_ids(tx: Tx, tags: list[Any]) -> list[int]:
    ids = []
    for tag in tags:
        row = tx.one("SELECT id FROM tags WHERE %s = ?"
                     % ("id" if isinstance(tag, int) else "name"), (tag,))
        if row is None:
            raise NotFound("Tag '%s' was not found." % tag, model="Tag", key=tag)
        ids.append(row["id"])
    return ids


# -- workers ------------------------------------------------------------------------------------
def _worker_dict(row: Any, with_token: bool = False) -> dict[str, Any]:
    d = {"hostname": row["hostname"], "state": WorkerState(row["state"]).display,
         "health": WorkerHealth(row["health"]).display, "description": row["description"],
         "last_ping": row["last_ping"], "job_limit": row["job_limit"], "version": row["version"]}
    if with_token:
        d["token"] = row["token"]
    return d


def _emit_worker(tx: Tx, hostname: str) -> None:
    row = tx.one("SELECT health, state FROM workers WHERE hostname = ?", (hostname,))
    tx.emit("worker", {"hostname": hostname, "health": WorkerHealth(row["health"]).display,
                       "state": WorkerState(row["state"]).display}, username=SERVER_USER)


def _worker_row(tx: Tx, hostname: str, principal: Principal | None = None) -> Any:
    cond = "1" if principal is None else visible_workers_sql(principal)
    row = tx.one("SELECT * FROM workers WHERE hostname = ? AND %s" % cond, (hostname,))
    if row is None:
        raise NotFound("Worker '%s' was not found." % hostname, model="Worker", key=hostname)
    return row


def parse_worker_health(value: Any) -> WorkerHealth:
    if isinstance(value, WorkerHealth):
        return value
    try:
        return WorkerHealth.from_display(str(value), ignore_case=True)  # type: ignore[return-value]
    except ValueError:
        raise Invalid("Invalid worker health '%s': one of %s." % (
            value, ", ".join(WorkerHealth.displays())), field="health") from None


def thd_add_worker(tx: Tx, hostname: str, description: str | None = None, job_limit: int = 0,
                   health: Any = WorkerHealth.ACTIVE, token: str | None = None,
                   version: str | None = None) -> dict[str, Any]:
    _check_name(hostname, "worker hostname", 200, "hostname")
    if tx.one("SELECT 1 FROM workers WHERE hostname = ?", (hostname,)):
        raise Duplicate("Worker '%s' already exists." % hostname, field="hostname")
    if int(job_limit) < 0:
        raise Invalid("job_limit must be an integer >= 0.", field="job_limit")
    tx.execute("INSERT INTO workers (hostname, description, state, health, last_ping,"
               " job_limit, version, token) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (hostname, description, WorkerState.OFFLINE, parse_worker_health(health),
                tx.now(), int(job_limit), version, token or new_short_token()))
    _emit_worker(tx, hostname)
    return _worker_dict(_worker_row(tx, hostname), with_token=True)


def thd_get_worker(tx: Tx, hostname: str, principal: Principal | None = None,
                   with_token: bool = False) -> dict[str, Any]:
    return _worker_dict(_worker_row(tx, hostname, principal), with_token)


def thd_list_workers(tx: Tx, principal: Principal | None = None,
                     with_token: bool = False) -> list[dict[str, Any]]:
    cond = "1" if principal is None else visible_workers_sql(principal)
    return [_worker_dict(r, with_token)
            for r in tx.all("SELECT * FROM workers WHERE %s ORDER BY hostname" % cond)]


def thd_update_worker(tx: Tx, hostname: str, principal: Principal = ANONYMOUS,
                      reason: str | None = None, **fields: Any) -> dict[str, Any]:
    """Change description, job_limit, version, token, health.

    A health change runs LAVA's worker transition: going Active puts its Good
    devices into Unknown (so a health check proves them), going Retired
    retires its devices except the Bad ones.
    """
    row = _worker_row(tx, hostname)
    unknown = set(fields) - {"description", "job_limit", "version", "token", "health"}
    if unknown:
        raise Invalid("Unknown worker field(s): %s" % ", ".join(sorted(unknown)))
    sets = {k: v for k, v in fields.items() if k != "health" and v is not None}
    if "job_limit" in sets:
        try:
            sets["job_limit"] = int(sets["job_limit"])
        except (TypeError, ValueError):
            sets["job_limit"] = -1
        if sets["job_limit"] < 0:
            raise Invalid("Invalid job limit", field="job_limit")
    if sets:
        tx.execute("UPDATE workers SET %s WHERE hostname = ?"
                   % ", ".join("%s = ?" % k for k in sets), (*sets.values(), hostname))
    if fields.get("health") is not None:
        new = parse_worker_health(fields["health"])
        old = WorkerHealth(row["health"])
        if new != old:
            tx.execute("UPDATE workers SET health = ? WHERE hostname = ?", (new, hostname))
            _log(tx, "worker", hostname, "%s → %s%s" % (
                old.display, new.display, " (%s)" % reason if reason else ""), principal)
            _emit_worker(tx, hostname)
            if new == WorkerHealth.ACTIVE:
                for dev in tx.all("SELECT hostname FROM devices WHERE worker_host = ? AND"
                                  " health = ?", (hostname, DeviceHealth.GOOD)):
                    thd_set_device_health(tx, dev[0], DeviceHealth.UNKNOWN, principal,
                                          "worker %s is Active" % hostname)
            elif new == WorkerHealth.RETIRED:
                for dev in tx.all("SELECT hostname FROM devices WHERE worker_host = ? AND"
                                  " health NOT IN (?, ?)",
                                  (hostname, DeviceHealth.BAD, DeviceHealth.RETIRED)):
                    thd_set_device_health(tx, dev[0], DeviceHealth.RETIRED, principal,
                                          "worker %s is Retired" % hostname)
    return _worker_dict(_worker_row(tx, hostname), with_token=True)


def thd_set_worker_state(tx: Tx, hostname: str, state: WorkerState,
                         version: str | None = None) -> None:
    """A worker pinged (Online) or went silent (Offline)."""
    row = _worker_row(tx, hostname)
    if version is not None:
        tx.execute("UPDATE workers SET version = ? WHERE hostname = ?", (version, hostname))
    if state == WorkerState.ONLINE:
        tx.execute("UPDATE workers SET last_ping = ? WHERE hostname = ?", (tx.now(), hostname))
    if WorkerState(row["state"]) != state:
        tx.execute("UPDATE workers SET state = ? WHERE hostname = ?", (state, hostname))
        _emit_worker(tx, hostname)


def thd_delete_worker(tx: Tx, hostname: str) -> None:
    _worker_row(tx, hostname)
    if tx.one("SELECT 1 FROM devices WHERE worker_host = ? LIMIT 1", (hostname,)):
        raise Conflict("Worker '%s' still has devices: move or delete them first." % hostname)
    tx.execute("DELETE FROM group_worker_permissions WHERE worker = ?", (hostname,))
    tx.execute("DELETE FROM workers WHERE hostname = ?", (hostname,))


# -- devices ---------------------------------------------------------------------------------------
DEVICE_FIELDS = ("device_type", "device_version", "physical_owner", "physical_group",
                 "description", "tags", "health", "worker_host", "is_synced", "dictionary")


def _device_dict(tx: Tx, row: Any) -> dict[str, Any]:
    return {
        "hostname": row["hostname"], "device_type": row["device_type"],
        "device_version": row["device_version"], "physical_owner": row["physical_owner"],
        "physical_group": row["physical_group"], "description": row["description"],
        "tags": [r[0] for r in tx.all(
            "SELECT tag_id FROM device_tags WHERE device = ? ORDER BY tag_id",
            (row["hostname"],))],
        "state": DeviceState(row["state"]).display, "health": DeviceHealth(row["health"]).display,
        "last_health_report_job": row["last_health_report_job"],
        "worker_host": row["worker_host"], "is_synced": bool(row["is_synced"]),
    }


def _device_row(tx: Tx, hostname: str, principal: Principal | None = None) -> Any:
    cond = "1" if principal is None else visible_devices_sql(principal)
    row = tx.one("SELECT * FROM devices d WHERE d.hostname = ? AND %s" % cond, (hostname,))
    if row is None:
        raise NotFound("Device '%s' was not found." % hostname, model="Device")
    return row


def parse_device_health(value: Any) -> DeviceHealth:
    if isinstance(value, DeviceHealth):
        return value
    try:
        return DeviceHealth.from_display(str(value), ignore_case=True)  # type: ignore[return-value]
    except ValueError:
        raise Invalid("Invalid device health '%s': one of %s." % (
            value, ", ".join(DeviceHealth.displays())), field="health") from None


def _current_job(tx: Tx, hostname: str) -> Any:
    return tx.one("SELECT id, sub_id FROM test_jobs WHERE actual_device = ? AND state != ?"
                  " ORDER BY id LIMIT 1", (hostname, JobState.FINISHED))


def emit_device(tx: Tx, hostname: str) -> None:
    """The device event, in LAVA's key order."""
    row = tx.one("SELECT health, state, device_type, worker_host FROM devices"
                 " WHERE hostname = ?", (hostname,))
    data: dict[str, Any] = {"health": DeviceHealth(row["health"]).display,
                            "state": DeviceState(row["state"]).display, "device": hostname,
                            "device_type": row["device_type"], "worker": row["worker_host"]}
    job = _current_job(tx, hostname)
    if job is not None:
        data["job"] = job["sub_id"] or job["id"]
    tx.emit("device", data, username=SERVER_USER, restrict={"device": hostname})


def _person_id(tx: Tx, table: str, col: str, value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    row = tx.one("SELECT id FROM %s WHERE %s = ?" % (table, "id" if isinstance(value, int)
                                                     else col), (value,))
    if row is None:
        raise NotFound("%s '%s' was not found." % (what, value), model=what, key=value)
    return row["id"]


def _apply_device_fields(tx: Tx, hostname: str, fields: dict[str, Any],
                         principal: Principal, reason: str | None) -> None:
    unknown = set(fields) - set(DEVICE_FIELDS)
    if unknown:
        raise Invalid("Unknown device field(s): %s" % ", ".join(sorted(unknown)))
    sets: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "device_type":
            _device_type_row(tx, value, None)
            sets[key] = value
        elif key == "worker_host":
            if value is not None:
                _worker_row(tx, value)
            sets[key] = value
        elif key == "physical_owner":
            sets[key] = _person_id(tx, "users", "username", value, "User")
        elif key == "physical_group":
            sets[key] = _person_id(tx, "groups", "name", value, "Group")
        elif key == "tags":
            ids = _tag_ids(tx, list(value or []))
            tx.execute("DELETE FROM device_tags WHERE device = ?", (hostname,))
            for tid in ids:
                tx.execute("INSERT OR IGNORE INTO device_tags VALUES (?, ?)", (hostname, tid))
        elif key == "health":
            pass  # below, through the health transition
        elif key == "is_synced":
            sets[key] = int(bool(value))
        else:
            sets[key] = value
    if sets:
        tx.execute("UPDATE devices SET %s WHERE hostname = ?"
                   % ", ".join("%s = ?" % k for k in sets), (*sets.values(), hostname))
    if fields.get("health") is not None:
        thd_set_device_health(tx, hostname, parse_device_health(fields["health"]), principal,
                              reason)


def thd_add_device(tx: Tx, hostname: str, device_type: str, principal: Principal = ANONYMOUS,
                   **fields: Any) -> dict[str, Any]:
    _check_name(hostname, "device hostname", 200, "hostname")
    if tx.one("SELECT 1 FROM devices WHERE hostname = ?", (hostname,)):
        raise Duplicate("device with this Hostname already exists.", field="hostname")
    _device_type_row(tx, device_type, None)
    health = fields.pop("health", None)
    # Not ``or``: DeviceHealth.GOOD is 0, which is falsy.
    health = DeviceHealth.MAINTENANCE if health is None else parse_device_health(health)
    tx.execute("INSERT INTO devices (hostname, device_type, state, health) VALUES (?, ?, ?, ?)",
               (hostname, device_type, DeviceState.IDLE, health))
    _apply_device_fields(tx, hostname, fields, principal, None)
    emit_device(tx, hostname)
    return thd_get_device(tx, hostname)


def thd_get_device(tx: Tx, hostname: str, principal: Principal | None = None) -> dict[str, Any]:
    return _device_dict(tx, _device_row(tx, hostname, principal))


def thd_get_device_dictionary(tx: Tx, hostname: str,
                              principal: Principal | None = None) -> str | None:
    return _device_row(tx, hostname, principal)["dictionary"]


def thd_list_devices(tx: Tx, principal: Principal | None = None,
                     include_retired: bool = True) -> list[dict[str, Any]]:
    cond = "1" if principal is None else visible_devices_sql(principal)
    if not include_retired:
        cond += " AND d.health != %d" % DeviceHealth.RETIRED
    return [_device_dict(tx, r)
            for r in tx.all("SELECT * FROM devices d WHERE %s ORDER BY d.hostname" % cond)]


def thd_update_device(tx: Tx, hostname: str, principal: Principal = ANONYMOUS,
                      reason: str | None = None, **fields: Any) -> dict[str, Any]:
    _device_row(tx, hostname)
    before = tx.one("SELECT state, health FROM devices WHERE hostname = ?", (hostname,))
    _apply_device_fields(tx, hostname, fields, principal, reason)
    after = tx.one("SELECT state, health FROM devices WHERE hostname = ?", (hostname,))
    if "worker_host" in fields and tuple(before) == tuple(after):
        emit_device(tx, hostname)  # the worker moved: subscribers see the new one
    tx.emit("lab", {"object": "device", "action": "update", "hostname": hostname})
    return thd_get_device(tx, hostname)


def thd_set_device_health(tx: Tx, hostname: str, health: DeviceHealth,
                          principal: Principal = ANONYMOUS, reason: str | None = None) -> bool:
    """The device health transition, with an admin log line ``Old → New (reason)``.

    Returns whether the health changed.  Retiring a device that runs a job
    asks for that job to be canceled (``canceling`` event for the scheduler).
    """
    row = _device_row(tx, hostname)
    old = DeviceHealth(row["health"])
    if old == health:
        return False
    tx.execute("UPDATE devices SET health = ? WHERE hostname = ?", (health, hostname))
    _log(tx, "device", hostname, "%s → %s%s" % (old.display, health.display,
                                                " (%s)" % reason if reason else ""), principal)
    emit_device(tx, hostname)
    if health == DeviceHealth.RETIRED:
        job = _current_job(tx, hostname)
        if job is not None:
            tx.emit("lab", {"object": "testjob", "action": "cancel", "job": job["id"],
                            "reason": "device %s retired" % hostname})
    return True


def thd_set_device_dictionary(tx: Tx, hostname: str, dictionary: str | None) -> None:
    _device_row(tx, hostname)
    tx.execute("UPDATE devices SET dictionary = ? WHERE hostname = ?",
               (dictionary or None, hostname))


def thd_delete_device(tx: Tx, hostname: str) -> None:
    _device_row(tx, hostname)
    if tx.one("SELECT 1 FROM test_jobs WHERE actual_device = ? AND state != ? LIMIT 1",
              (hostname, JobState.FINISHED)):
        raise Conflict("Device '%s' is running a job." % hostname)
    tx.execute("UPDATE test_jobs SET actual_device = NULL WHERE actual_device = ?", (hostname,))
    tx.execute("DELETE FROM device_tags WHERE device = ?", (hostname,))
    tx.execute("DELETE FROM group_device_permissions WHERE device = ?", (hostname,))
    tx.execute("DELETE FROM devices WHERE hostname = ?", (hostname,))
    tx.emit("lab", {"object": "device", "action": "delete", "hostname": hostname})


# -- group object permissions -------------------------------------------------------------------
OBJECT_PERMISSION_TABLES = {
    "devicetype": ("group_device_type_permissions", "device_type", DEVICE_TYPE_PERMISSIONS,
                   "device_types", "name", "DeviceType"),
    "device": ("group_device_permissions", "device", DEVICE_PERMISSIONS, "devices", "hostname",
               "Device"),
    "worker": ("group_worker_permissions", "worker", WORKER_PERMISSIONS, "workers", "hostname",
               "Worker"),
}


def _check_object_permission(tx: Tx, kind: str, group: str, permission: str, obj: str,
                             same: int | None = None) -> int:
    """The group's id once the permission row ``(group, permission, obj)`` is known to be
    valid and new (``same``: the id of the row being changed, which may keep its values)."""
    table, col, allowed, target, key, model = OBJECT_PERMISSION_TABLES[kind]
    valid = allowed + ["add_%s" % kind, "delete_%s" % kind]
    if permission not in valid:
        raise Invalid("Object with codename=%s does not exist." % permission,
                      field="permission")
    gid = tx.scalar("SELECT id FROM groups WHERE name = ?", (group,))
    if gid is None:
        raise Invalid("Object with name=%s does not exist." % group, field="group")
    if tx.one("SELECT 1 FROM %s WHERE %s = ?" % (target, key), (obj,)) is None:
        raise NotFound("%s '%s' was not found." % (model.replace("DeviceType", "Device-type"),
                                                   obj), model=model, key=obj)
    if tx.one("SELECT 1 FROM %s WHERE %s = ? AND permission = ? AND group_id = ? AND id IS NOT ?"
              % (table, col), (obj, permission, gid, same)):
        raise Conflict("The fields %s, permission, group must make a unique set." % kind)
    return gid


def thd_add_object_permission(tx: Tx, kind: str, group: str, permission: str,
                              obj: str) -> dict[str, Any]:
    table, col = OBJECT_PERMISSION_TABLES[kind][:2]
    gid = _check_object_permission(tx, kind, group, permission, obj)
    pid = tx.execute("INSERT INTO %s (group_id, permission, %s) VALUES (?, ?, ?)"
                     % (table, col), (gid, permission, obj)).lastrowid
    tx.emit("lab", {"object": "permission", "action": "add", "kind": kind, "id": pid})
    return {"id": pid, "group": group, "permission": permission, kind: obj}


def _object_permission_row(tx: Tx, kind: str, pid: int) -> Any:
    table, col = OBJECT_PERMISSION_TABLES[kind][:2]
    row = tx.one("SELECT p.id, g.name AS grp, p.permission, p.%s AS obj FROM %s p"
                 " JOIN groups g ON g.id = p.group_id WHERE p.id = ?" % (col, table), (pid,))
    if row is None:
        model = "GroupDeviceTypePermission" if kind == "devicetype" else \
            "Group%sPermission" % kind.capitalize()
        raise NotFound("Permission %s was not found." % pid, model=model, key=pid)
    return row


def thd_update_object_permission(tx: Tx, kind: str, pid: int, **changes: Any) -> dict[str, Any]:
    """Change the group, permission codename or object (``kind``) of permission row ``pid``."""
    table, col = OBJECT_PERMISSION_TABLES[kind][:2]
    row = _object_permission_row(tx, kind, pid)
    unknown = set(changes) - {"group", "permission", kind}
    if unknown:
        raise Invalid("Unknown permission field(s): %s" % ", ".join(sorted(unknown)))
    group = changes.get("group", row["grp"])
    permission = changes.get("permission", row["permission"])
    obj = changes.get(kind, row["obj"])
    gid = _check_object_permission(tx, kind, group, permission, obj, same=pid)
    tx.execute("UPDATE %s SET group_id = ?, permission = ?, %s = ? WHERE id = ?"
               % (table, col), (gid, permission, obj, pid))
    tx.emit("lab", {"object": "permission", "action": "update", "kind": kind, "id": pid})
    return {"id": pid, "group": group, "permission": permission, kind: obj}


def thd_remove_object_permission(tx: Tx, kind: str, pid: int) -> None:
    """Delete permission row ``pid`` (NotFound when there is none)."""
    table = OBJECT_PERMISSION_TABLES[kind][0]
    _object_permission_row(tx, kind, pid)
    tx.execute("DELETE FROM %s WHERE id = ?" % table, (pid,))
    tx.emit("lab", {"object": "permission", "action": "delete", "kind": kind, "id": pid})


def thd_list_object_permissions(tx: Tx, kind: str, obj: str | None = None) -> list[dict[str, Any]]:
    table, col, _a, _t, _k, _m = OBJECT_PERMISSION_TABLES[kind]
    out_key = "devicetype" if kind == "devicetype" else kind
    sql = ("SELECT p.id, g.name, p.permission, p.%s FROM %s p JOIN groups g ON g.id = p.group_id"
           % (col, table))
    params: tuple[Any, ...] = ()
    if obj is not None:
        sql += " WHERE p.%s = ?" % col
        params = (obj,)
    return [{"id": r[0], "group": r[1], "permission": r[2], out_key: r[3]}
            for r in tx.all(sql + " ORDER BY p.id", params)]


def thd_delete_object_permission(tx: Tx, kind: str, group: str, permission: str,
                                 obj: str) -> None:
    table, col, _a, _t, _k, _m = OBJECT_PERMISSION_TABLES[kind]
    gid = tx.scalar("SELECT id FROM groups WHERE name = ?", (group,))
    if gid is None:
        raise NotFound("Group '%s' was not found." % group, model="Group")
    if tx.execute("DELETE FROM %s WHERE %s = ? AND permission = ? AND group_id = ?"
                  % (table, col), (obj, permission, gid)).rowcount == 0:
        raise NotFound("Permission '%s' for group '%s' on '%s' was not found."
                       % (permission, group, obj))
    tx.emit("lab", {"object": "permission", "action": "delete", "kind": kind})


# Public names for the lookups other domain modules share (NotFound when missing, or,
# given a principal, invisible to it).
device_row = _device_row
device_type_row = _device_type_row
worker_row = _worker_row
