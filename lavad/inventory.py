"""The lab as LAVA's scheduler API (XML-RPC ``scheduler.*``) presents it.

Read models (a device with its tag names, current job and group
permissions; a device type with its visible devices; a worker with its
devices and file defaults) and the checked operations behind the
``scheduler.devices``, ``scheduler.device_types``, ``scheduler.workers``,
``scheduler.tags`` and ``scheduler.aliases`` methods.  Each function is one
transaction on the store thread and asks :mod:`lavad.permissions` who may see
or change what.

Errors: :class:`~lavad.errors.NotFound` (with ``model``) for a missing
object, :class:`~lavad.errors.PermissionDenied` for an object that exists but
that the caller may not see or change (LAVA's scheduler API tells the two
apart), :class:`~lavad.errors.Invalid` and ``Conflict`` for bad input.
Adapters word them.

Functions that read or write configuration files take the instance's
:class:`lavad.files.LabFiles` (small, blocking I/O, fine on the store thread).
"""

from __future__ import annotations

from typing import Any

import yaml

from lavad import devices, healthchecks, permissions, users
from lavad.errors import Conflict, Invalid, NotFound, PermissionDenied
from lavad.models import (
    DeviceHealth,
    DeviceState,
    HealthDenominator,
    JobState,
    WorkerHealth,
    WorkerState,
)
from lavad.permissions import (
    visible_device_types_sql,
    visible_devices_sql,
    visible_workers_sql,
)
from lavad.store.tx import Tx
from lavad.users import Principal

# -- helpers ----------------------------------------------------------------------------------


_device_row = devices.device_row
_device_type_row = devices.device_type_row
_worker_row = devices.worker_row
_group_id = users.group_id


def _require_view(tx: Tx, principal: Principal, kind: str, key: str) -> None:
    check = {"device": permissions.thd_can_view_device,
             "devicetype": permissions.thd_can_view_device_type,
             "worker": permissions.thd_can_view_worker}[kind]
    if not check(tx, principal, key):
        raise PermissionDenied("%s '%s' is not visible to this user." % (kind, key))


def _require_change(tx: Tx, principal: Principal, kind: str, key: str) -> None:
    if not permissions.thd_can_change(tx, principal, kind, key):
        raise PermissionDenied("No change permission on %s '%s'." % (kind, key))


def current_job(tx: Tx, hostname: str) -> int | None:
    """The id of the job the device runs (or is reserved for), or None."""
    return tx.scalar("SELECT id FROM test_jobs WHERE actual_device = ? AND state != ?"
                     " ORDER BY id LIMIT 1", (hostname, JobState.FINISHED))


def status_display(state: int, health: int) -> str:
    """LAVA's legacy one-word device status: idle, offline, retired, reserved, running."""
    if state == DeviceState.IDLE:
        if health in (DeviceHealth.GOOD, DeviceHealth.UNKNOWN):
            return "idle"
        return "retired" if health == DeviceHealth.RETIRED else "offline"
    return "reserved" if state == DeviceState.RESERVED else "running"


def _object_permissions(tx: Tx, kind: str, key: str) -> list[dict[str, str]]:
    return [{"name": p["permission"], "group": p["group"]}
            for p in devices.thd_list_object_permissions(tx, kind, key)]


def parse_context(text: Any) -> dict[str, Any] | None:
    """A job context given as YAML text (None for none)."""
    if text is None:
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid("Job Context '%s' is not valid: %s" % (text, exc)) from None
    if value is not None and not isinstance(value, dict):
        raise Invalid("Job Context '%s' is not valid: not a mapping" % text)
    return value


# -- devices -----------------------------------------------------------------------------------
def thd_devices(tx: Tx, principal: Principal, show_all: bool = False) -> list[dict[str, Any]]:
    """Visible devices by hostname (retired ones only with ``show_all``)."""
    cond = visible_devices_sql(principal)
    if not show_all:
        cond += " AND d.health != %d" % DeviceHealth.RETIRED
    rows = tx.all("SELECT d.hostname, d.device_type, d.state, d.health, d.worker_host"
                  " FROM devices d WHERE %s ORDER BY d.hostname" % cond)
    return [{"hostname": r["hostname"], "device_type": r["device_type"],
             "state": DeviceState(r["state"]).display,
             "health": DeviceHealth(r["health"]).display,
             "status": status_display(r["state"], r["health"]),
             "worker": r["worker_host"],
             "current_job": current_job(tx, r["hostname"])} for r in rows]


def thd_device(tx: Tx, principal: Principal, hostname: str) -> dict[str, Any]:
    """One device with its names resolved: NotFound, or PermissionDenied when hidden."""
    row = _device_row(tx, hostname)
    _require_view(tx, principal, "device", hostname)
    dtype = tx.one("SELECT health_check FROM device_types WHERE name = ?",
                   (row["device_type"],))
    return {
        "hostname": row["hostname"], "device_type": row["device_type"],
        "health": DeviceHealth(row["health"]).display,
        "state": DeviceState(row["state"]).display,
        "status": status_display(row["state"], row["health"]),
        "health_job": bool(dtype is not None and dtype["health_check"]),
        "description": row["description"],
        "has_device_dict": bool(row["dictionary"]),
        "worker": row["worker_host"],
        "current_job": current_job(tx, hostname),
        "tags": [r[0] for r in tx.all(
            "SELECT t.name FROM device_tags dt JOIN tags t ON t.id = dt.tag_id"
            " WHERE dt.device = ? ORDER BY t.name", (hostname,))],
        "permissions": _object_permissions(tx, "device", hostname),
    }


def thd_device_dictionary(tx: Tx, principal: Principal, hostname: str, files: Any,
                          render: bool = False, context: dict[str, Any] | None = None,
                          level: str = "view") -> str:
    """The device dictionary (jinja2), or with ``render`` the device configuration (YAML).

    ``level`` is the right the caller needs on the device (``view`` or ``change``).
    NotFound when the device has no dictionary.
    """
    row = _device_row(tx, hostname)
    if level == "change":
        _require_change(tx, principal, "device", hostname)
    else:
        _require_view(tx, principal, "device", hostname)
    if not row["dictionary"]:
        raise NotFound("Device '%s' does not have a configuration" % hostname,
                       model="DeviceDictionary")
    if not render:
        return row["dictionary"]
    return files.render_device(row["dictionary"], context, hostname, row["device_type"])


def thd_set_device_dictionary(tx: Tx, principal: Principal, hostname: str,
                              dictionary: str) -> None:
    """Replace the device dictionary ("" removes it); needs change rights on the device."""
    _device_row(tx, hostname)
    _require_change(tx, principal, "device", hostname)
    devices.thd_set_device_dictionary(tx, hostname, dictionary)


def thd_update_device(tx: Tx, principal: Principal, hostname: str, reason: str | None,
                      **fields: Any) -> None:
    """Change a device's fields (None values are left alone); needs change rights."""
    _device_row(tx, hostname)
    _require_change(tx, principal, "device", hostname)
    devices.thd_update_device(tx, hostname, principal, reason,
                              **{k: v for k, v in fields.items() if v is not None})


def thd_set_device_health(tx: Tx, principal: Principal, hostname: str, health: DeviceHealth,
                          reason: str | None = None) -> None:
    """Put a device into a health (maintenance, unknown...); needs change rights."""
    _device_row(tx, hostname)
    _require_change(tx, principal, "device", hostname)
    devices.thd_set_device_health(tx, hostname, health, principal, reason)


def thd_device_tags(tx: Tx, principal: Principal, hostname: str) -> list[str]:
    """The device's tag names; a hidden device is NotFound."""
    _device_row(tx, hostname)
    if not permissions.thd_can_view_device(tx, principal, hostname):
        raise NotFound("Device '%s' was not found." % hostname, model="Device")
    return [r[0] for r in tx.all("SELECT t.name FROM device_tags dt JOIN tags t"
                                 " ON t.id = dt.tag_id WHERE dt.device = ? ORDER BY t.name",
                                 (hostname,))]


def thd_tag_device(tx: Tx, principal: Principal, hostname: str, tag: str) -> None:
    """Add a tag (created when missing) to a device; needs change rights on it."""
    _device_row(tx, hostname)
    _require_change(tx, principal, "device", hostname)
    tid = tx.scalar("SELECT id FROM tags WHERE name = ?", (tag,))
    if tid is None:
        tid = devices.thd_add_tag(tx, tag)["id"]
    tx.execute("INSERT OR IGNORE INTO device_tags (device, tag_id) VALUES (?, ?)",
               (hostname, tid))


def thd_untag_device(tx: Tx, principal: Principal, hostname: str, tag: str) -> None:
    """Remove a tag from a device; needs change rights on it."""
    _device_row(tx, hostname)
    _require_change(tx, principal, "device", hostname)
    tid = tx.scalar("SELECT id FROM tags WHERE name = ?", (tag,))
    if tid is None:
        raise NotFound("Tag '%s' was not found." % tag, model="Tag")
    tx.execute("DELETE FROM device_tags WHERE device = ? AND tag_id = ?", (hostname, tid))


# -- group permissions on devices, device types and workers ---------------------------------------
_OBJECT_KEYS = {"device": _device_row, "devicetype": _device_type_row, "worker": _worker_row}


def thd_object_permissions(tx: Tx, kind: str, key: str) -> list[dict[str, str]]:
    """``[{name: codename, group}]`` on one device, device type or worker."""
    _OBJECT_KEYS[kind](tx, key)
    return _object_permissions(tx, kind, key)


def thd_grant_object_permission(tx: Tx, kind: str, key: str, group: str,
                                permission: str) -> None:
    """Give ``group`` the ``permission`` codename on an object (granting twice is fine)."""
    _OBJECT_KEYS[kind](tx, key)
    _group_id(tx, group)
    try:
        devices.thd_add_object_permission(tx, kind, group, permission, key)
    except Conflict:
        pass


def thd_revoke_object_permission(tx: Tx, kind: str, key: str, group: str,
                                 permission: str) -> None:
    """Take the ``permission`` codename on an object from ``group`` (absent is fine)."""
    _OBJECT_KEYS[kind](tx, key)
    _group_id(tx, group)
    try:
        devices.thd_delete_object_permission(tx, kind, group, permission, key)
    except NotFound:
        pass


# -- device types -----------------------------------------------------------------------------------
def template_names(files: Any) -> list[str]:
    """Device-type names with a template file (``base*`` templates are not types)."""
    return [n for n in files.list_templates() if not n.startswith("base")]


def thd_device_types(tx: Tx, principal: Principal, files: Any,
                     show_all: bool = False) -> list[dict[str, Any]]:
    """Visible device types with their device counts, then (``show_all``) the
    templates that have no device type yet."""
    templates = template_names(files)
    rows = tx.all("SELECT t.name, (SELECT count(*) FROM devices d WHERE d.device_type = t.name)"
                  " AS devices FROM device_types t WHERE %s ORDER BY t.name"
                  % visible_device_types_sql(principal, "t.name"))
    out = [{"name": r["name"], "devices": r["devices"], "installed": True,
            "template": r["name"] in templates} for r in rows]
    if show_all:
        known = {r[0] for r in tx.all("SELECT name FROM device_types")}
        out += [{"name": n, "devices": 0, "installed": False, "template": True}
                for n in templates if n not in known]
    return out


def _visible_type(tx: Tx, principal: Principal, name: str) -> Any:
    """The device type's row; NotFound when it is missing or hidden."""
    row = _device_type_row(tx, name)
    if not permissions.thd_can_view_device_type(tx, principal, name):
        raise NotFound("Device-type '%s' was not found." % name, model="DeviceType")
    return row


def thd_device_type(tx: Tx, principal: Principal, name: str, files: Any) -> dict[str, Any]:
    """One device type with its aliases, visible devices and group permissions."""
    row = _visible_type(tx, principal, name)
    hosts = tx.all("SELECT d.hostname FROM devices d WHERE d.device_type = ? AND %s"
                   " ORDER BY d.hostname" % visible_devices_sql(principal), (name,))
    try:
        default_template = files.template_is_default(name)
    except Invalid:
        default_template = True
    return {
        "name": row["name"], "description": row["description"], "display": bool(row["display"]),
        "health_disabled": bool(row["disable_health_check"]),
        "health_denominator": HealthDenominator(row["health_denominator"]).display,
        "health_frequency": row["health_frequency"],
        "aliases": [r[0] for r in tx.all(
            "SELECT name FROM aliases WHERE device_type = ? ORDER BY name", (name,))],
        "devices": [r[0] for r in hosts],
        "default_template": default_template,
        "permissions": _object_permissions(tx, "devicetype", name),
    }


def thd_device_type_devices(tx: Tx, principal: Principal, name: str,
                            health: DeviceHealth | None = None) -> list[dict[str, Any]]:
    """The visible devices of a visible device type, optionally of one health."""
    _visible_type(tx, principal, name)
    sql = ("SELECT d.hostname, d.health, d.state FROM devices d WHERE d.device_type = ? AND %s"
           % visible_devices_sql(principal))
    params: list[Any] = [name]
    if health is not None:
        sql += " AND d.health = ?"
        params.append(int(health))
    return [{"hostname": r["hostname"], "health": DeviceHealth(r["health"]).display,
             "state": DeviceState(r["state"]).display}
            for r in tx.all(sql + " ORDER BY d.hostname", params)]


def thd_update_device_type(tx: Tx, principal: Principal, name: str, **fields: Any) -> None:
    """Change a device type's fields (None values are left alone); needs change rights."""
    _device_type_row(tx, name)
    _require_change(tx, principal, "devicetype", name)
    changes = {k: v for k, v in fields.items() if v is not None}
    if changes:
        devices.thd_update_device_type(tx, name, **changes)


def _check_type_name(name: Any) -> str:
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name
            or "\\" in name or "\0" in name):
        raise Invalid("Invalid device-type '%s'" % name, field="name")
    return name


def _readable_type(tx: Tx, principal: Principal, name: Any) -> bool:
    """Whether a device type (that may exist only as a template) may be read;
    True when it has a row."""
    _check_type_name(name)
    exists = tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)) is not None
    if exists and not permissions.thd_can_view_device_type(tx, principal, name):
        raise NotFound("Device-type '%s' was not found." % name, model="DeviceType")
    return exists


def thd_device_type_template(tx: Tx, principal: Principal, name: str, files: Any) -> str:
    """The ``<name>.jinja2`` template (it may exist without a device type)."""
    _readable_type(tx, principal, name)
    try:
        return files.get_template(name)
    except NotFound:
        raise NotFound("Device-type '%s' was not found." % name, model="DeviceType") from None


def _require_type_writer(tx: Tx, principal: Principal, name: str,
                         permission: str | None) -> None:
    """The change right on the device type, or (``permission``) that global permission."""
    _device_type_row(tx, name)
    if permission is None:
        _require_change(tx, principal, "devicetype", name)
    elif not principal.has_perm(permission):
        raise PermissionDenied("Insufficient permissions. Please contact system administrator.")


def thd_set_device_type_template(tx: Tx, principal: Principal, name: str, text: str,
                                 files: Any, permission: str | None = None) -> None:
    """Write (or with "" remove) the device type's template; needs change rights on
    the type, or the global ``permission`` when given (LAVA's REST API asks
    ``lava_scheduler_app.change_device``, its XML-RPC API the change right)."""
    _require_type_writer(tx, principal, name, permission)
    files.set_template(_check_type_name(name), text)


def thd_device_type_health_check(tx: Tx, principal: Principal, name: str) -> str:
    """The device type's health-check definition; NotFound when it has none."""
    text = healthchecks.thd_get_health_check(tx, name) \
        if _readable_type(tx, principal, name) else None
    if not text:
        raise NotFound("Device-type '%s' was not found." % name, model="DeviceType")
    return text


def thd_set_device_type_health_check(tx: Tx, principal: Principal, name: str,
                                     text: str, permission: str | None = None) -> None:
    """Set (or with "" remove) the device type's health check; needs change rights
    (or ``permission``, as :func:`thd_set_device_type_template`)."""
    _require_type_writer(tx, principal, name, permission)
    _check_type_name(name)
    healthchecks.thd_set_health_check(tx, name, text)


def thd_device_type_aliases(tx: Tx, principal: Principal, name: str) -> list[str]:
    _visible_type(tx, principal, name)
    return [r[0] for r in tx.all("SELECT name FROM aliases WHERE device_type = ? ORDER BY name",
                                 (name,))]


def thd_alias_device_type(tx: Tx, principal: Principal, name: str, alias: str) -> None:
    """Make ``alias`` name device type ``name`` (moving it if it named another)."""
    _device_type_row(tx, name)
    _require_change(tx, principal, "devicetype", name)
    devices.thd_add_alias(tx, alias, name, replace=True)


def thd_unalias_device_type(tx: Tx, principal: Principal, name: str, alias: str) -> None:
    _device_type_row(tx, name)
    _require_change(tx, principal, "devicetype", name)
    if tx.execute("DELETE FROM aliases WHERE name = ? AND device_type = ?",
                  (alias, name)).rowcount == 0:
        raise NotFound("Alias '%s' was not found." % alias, model="Alias")


def thd_active_device_types(tx: Tx, principal: Principal,
                            all_types: bool = False) -> list[str]:
    """Visible device types; unless ``all_types``, only displayed ones with a device that
    is not retired."""
    cond = visible_device_types_sql(principal, "t.name")
    if not all_types:
        cond += (" AND t.display = 1 AND EXISTS (SELECT 1 FROM devices d WHERE"
                 " d.device_type = t.name AND d.health != %d)" % DeviceHealth.RETIRED)
    return [r[0] for r in tx.all("SELECT t.name FROM device_types t WHERE %s ORDER BY t.name"
                                 % cond)]


def thd_device_type_summary(tx: Tx, principal: Principal) -> list[dict[str, Any]]:
    """Per visible device type with devices that are not retired: how many are busy,
    idle (on an online worker) and offline."""
    rows = tx.all(
        "SELECT d.device_type AS name,"
        " sum(d.state IN (%(reserved)d, %(running)d)) AS busy,"
        " sum(d.state = %(idle)d AND d.health IN (%(good)d, %(unknown)d)"
        "     AND w.state = %(online)d) AS idle,"
        " sum(d.state = %(idle)d AND d.health != %(maintenance)d AND"
        "     (w.state IS NULL OR w.state = %(offline)d OR"
        "      d.health NOT IN (%(good)d, %(unknown)d))) AS offline"
        " FROM devices d LEFT JOIN workers w ON w.hostname = d.worker_host"
        " WHERE d.health != %(retired)d AND %(visible)s"
        " GROUP BY d.device_type ORDER BY d.device_type"
        % {"reserved": DeviceState.RESERVED, "running": DeviceState.RUNNING,
           "idle": DeviceState.IDLE, "good": DeviceHealth.GOOD,
           "unknown": DeviceHealth.UNKNOWN, "online": WorkerState.ONLINE,
           "offline": WorkerState.OFFLINE, "maintenance": DeviceHealth.MAINTENANCE,
           "retired": DeviceHealth.RETIRED,
           "visible": visible_device_types_sql(principal, "d.device_type")})
    return [{"name": r["name"], "busy": r["busy"] or 0, "idle": r["idle"] or 0,
             "offline": r["offline"] or 0} for r in rows]


def thd_device_types_by_alias(tx: Tx, principal: Principal, text: str) -> list[str]:
    """Visible device types having an alias whose name contains ``text``."""
    return [r[0] for r in tx.all(
        "SELECT DISTINCT t.name FROM device_types t JOIN aliases a ON a.device_type = t.name"
        " WHERE instr(a.name, ?) > 0 AND %s ORDER BY t.name"
        % visible_device_types_sql(principal, "t.name"), (text,))]


def thd_validate_devices(tx: Tx, principal: Principal, files: Any,
                         name: str | None = None) -> dict[str, dict[str, Any]]:
    """Render the configuration of visible devices that are not retired (those of
    device type ``name``, else the device ``name``, else all) and say which fail."""
    base = ("SELECT d.hostname, d.device_type, d.dictionary FROM devices d WHERE d.health != %d"
            " AND %s" % (DeviceHealth.RETIRED, visible_devices_sql(principal)))
    if name:
        rows = tx.all(base + " AND d.device_type = ? ORDER BY d.hostname", (name,)) or \
            tx.all(base + " AND d.hostname = ? ORDER BY d.hostname", (name,))
        if not rows:
            raise NotFound("No devices found with hostname or device type name %s, visible "
                           "by the user" % name)
    else:
        rows = tx.all(base + " ORDER BY d.hostname")
        if not rows:
            raise NotFound("No pipeline devices visible by user were found on this instance.")
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["dictionary"]:
            out[row["hostname"]] = {"Invalid": "Missing device dictionary"}
            continue
        try:
            config = yaml.safe_load(files.render_device(row["dictionary"], None,
                                                        row["hostname"], row["device_type"]))
        except Invalid as exc:
            out[row["hostname"]] = {"Invalid": exc.message}
            continue
        except yaml.YAMLError as exc:
            out[row["hostname"]] = {"Invalid": str(exc)}
            continue
        if not isinstance(config, dict):
            out[row["hostname"]] = {"Invalid": "the device configuration is not a mapping"}
            continue
        out[row["hostname"]] = {"Valid": None}
    return out


def check_device_dictionary(files: Any, text: str) -> str | None:
    """Why a device dictionary does not render into a YAML mapping, or None when it does
    (no device needed: the dictionary names its device-type template itself)."""
    try:
        config = yaml.safe_load(files.render_text(text, {}))
    except Invalid as exc:
        return exc.message
    except yaml.YAMLError as exc:
        return str(exc)
    if not isinstance(config, dict):
        return "the device configuration is not a mapping"
    return None


# -- tags and aliases ---------------------------------------------------------------------------------
def thd_tag(tx: Tx, principal: Principal, name: str) -> dict[str, Any]:
    """A tag with the visible devices that carry it."""
    tag = devices.thd_get_tag(tx, name)
    hosts = tx.all("SELECT d.hostname FROM devices d JOIN device_tags dt ON dt.device ="
                   " d.hostname WHERE dt.tag_id = ? AND %s ORDER BY d.hostname"
                   % visible_devices_sql(principal), (tag["id"],))
    return {"name": tag["name"], "description": tag["description"],
            "devices": [r[0] for r in hosts]}


def thd_holds_view_permission(tx: Tx, principal: Principal, name: str) -> bool:
    """Whether ``principal`` *holds* the view right on a device type: superuser, the
    global permission, or a group permission on it (an unrestricted type does not count)."""
    if principal.has_perm("lava_scheduler_app.view_devicetype"):
        return True
    if not principal.is_authenticated or not principal.groups:
        return False
    return tx.one("SELECT 1 FROM group_device_type_permissions WHERE device_type = ? AND"
                  " group_id IN (%s)" % ", ".join(str(int(g)) for g in sorted(principal.groups)),
                  (name,)) is not None


def thd_add_alias(tx: Tx, principal: Principal, name: str, device_type: str) -> None:
    """A new alias of a device type the caller holds the view right on.

    NotFound (model DeviceType) for a missing type, PermissionDenied without the
    right, Conflict (with Django's validation text) for a name already used.
    """
    if tx.one("SELECT 1 FROM device_types WHERE name = ?", (device_type,)) is None:
        raise NotFound("Device-type '%s' was not found." % device_type, model="DeviceType")
    if not thd_holds_view_permission(tx, principal, device_type):
        raise PermissionDenied("Device-type '%s' was not found." % device_type)
    if tx.one("SELECT 1 FROM aliases WHERE name = ?", (name,)):
        raise Conflict("Alias with this Name already exists.", field="name")
    if tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)):
        raise Conflict("DeviceType with name '%s' already exists." % name, field="name")
    devices.thd_add_alias(tx, name, device_type)


def thd_alias(tx: Tx, principal: Principal, name: str) -> dict[str, str]:
    """An alias and its device type ("" unless the caller holds the view right on it)."""
    row = tx.one("SELECT name, device_type FROM aliases WHERE name = ?", (name,))
    if row is None:
        raise NotFound("Alias '%s' was not found." % name, model="Alias")
    dtype = row["device_type"]
    if dtype is None or not thd_holds_view_permission(tx, principal, dtype):
        dtype = ""
    return {"name": row["name"], "device_type": dtype}


# -- workers ------------------------------------------------------------------------------------------
def thd_workers(tx: Tx, principal: Principal, show_all: bool = False) -> list[str]:
    """Visible worker hostnames (retired ones only with ``show_all``)."""
    cond = visible_workers_sql(principal)
    if not show_all:
        cond += " AND health != %d" % WorkerHealth.RETIRED
    return [r[0] for r in tx.all("SELECT hostname FROM workers WHERE %s ORDER BY hostname"
                                 % cond)]


def thd_worker(tx: Tx, principal: Principal, hostname: str, files: Any) -> dict[str, Any]:
    """One worker with its visible devices and whether its files are the defaults;
    the token for superusers."""
    row = _worker_row(tx, hostname)
    _require_view(tx, principal, "worker", hostname)
    hosts = tx.all("SELECT d.hostname FROM devices d WHERE d.worker_host = ? AND %s"
                   " ORDER BY d.hostname" % visible_devices_sql(principal), (hostname,))

    def default(kind: str) -> bool:
        try:
            return files.worker_file_is_default(hostname, kind)
        except Invalid:
            return True

    data = {
        "hostname": row["hostname"], "description": row["description"],
        "state": WorkerState(row["state"]).display, "health": WorkerHealth(row["health"]).display,
        "devices": [r[0] for r in hosts], "last_ping": row["last_ping"],
        "job_limit": row["job_limit"], "version": row["version"],
        "default_config": default("dispatcher"), "default_env": default("env"),
        "default_env_dut": default("env-dut"),
    }
    if principal.is_authenticated and principal.is_superuser:
        data["token"] = row["token"]
    return data


WORKER_FILE_TEXT = {"dispatcher": ("a dispatcher configuration", "config"),
                    "env": ("an env file", "env"), "env-dut": ("an env-dut file", "DUT env")}


def _check_worker_name(hostname: Any) -> str:
    if (not isinstance(hostname, str) or not hostname or hostname in (".", "..")
            or "/" in hostname or "\\" in hostname or "\0" in hostname):
        raise Invalid("Invalid worker name", field="hostname")
    return hostname


def thd_worker_file(tx: Tx, principal: Principal, hostname: str, kind: str,
                    files: Any) -> str:
    """A worker's ``dispatcher``, ``env`` or ``env-dut`` file (or the instance's fallback)."""
    _check_worker_name(hostname)
    _worker_row(tx, hostname)
    _require_view(tx, principal, "worker", hostname)
    text = files.worker_file(hostname, kind)
    if not text:
        raise NotFound("Worker '%s' does not have %s" % (hostname, WORKER_FILE_TEXT[kind][0]),
                       model="WorkerFile")
    return text


def thd_set_worker_file(tx: Tx, hostname: str, kind: str, text: str, files: Any,
                        report: bool = False) -> bool:
    """Write (or with "" remove) a worker's file after checking its YAML; False when
    the file system refused (with ``report``, Invalid saying why)."""
    _check_worker_name(hostname)
    _worker_row(tx, hostname)
    if text:
        try:
            yaml.safe_load(text)
        except yaml.YAMLError:
            raise Invalid("Invalid YAML syntax in '%s' %s: %s"
                          % (hostname, WORKER_FILE_TEXT[kind][1], text)) from None
    try:
        files.set_worker_file(hostname, kind, text)
    except Invalid:
        if report:
            raise
        return False
    return True


def thd_set_worker_health(tx: Tx, principal: Principal, hostname: str, health: WorkerHealth,
                          reason: str | None = None) -> None:
    """Put a worker into a health (the transition cascades to its devices); needs change
    rights on it."""
    _worker_row(tx, hostname)
    _require_change(tx, principal, "worker", hostname)
    devices.thd_update_worker(tx, hostname, principal, reason, health=health)


# -- who may see and submit to what (system.user_can_*) -----------------------------------------------
def thd_device_visibility(tx: Tx, principal: Principal,
                          hostnames: list[Any]) -> list[tuple[str, str, bool]]:
    """``(device_type, hostname, visible)`` for each existing device of ``hostnames``."""
    out = []
    for hostname in hostnames:
        row = tx.one("SELECT device_type FROM devices WHERE hostname = ?", (hostname,))
        if row is None:
            continue
        out.append((row["device_type"], hostname,
                    permissions.thd_can_view_device(tx, principal, hostname)))
    return out


def thd_submit_rights(tx: Tx, principal: Principal, names: list[Any]) -> dict[str, bool]:
    """``{device_type: may submit}`` for each existing device type of ``names``."""
    out = {}
    for name in names:
        if tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)) is None:
            continue
        out[name] = permissions.thd_can_submit_to_device_type(tx, principal, name)
    return out
