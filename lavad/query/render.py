"""Rows → REST records, in the field order of the REST spec (section 3).

Each renderer takes a page of rows and loads the many-to-many values of the
whole page with one query per relation.  Datetimes are rendered with
:func:`lavad.dates.rest`, enums as display strings, decimals as strings with
ten decimals.  ``resource_uri`` values are paths relative to the API root; the
HTTP adapter makes them absolute.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from lavad import dates
from lavad.models import (
    DeviceHealth,
    DeviceState,
    HealthDenominator,
    JobHealth,
    JobState,
    TestResult,
    WorkerHealth,
    WorkerState,
)
from lavad.store.tx import Tx
from lavad.users import Principal

Row = Any
_CHUNK = 500
_TEN_PLACES = Decimal("0.0000000001")
_CONTEXT = Context(prec=80)


def many(tx: Tx, table: str, owner: str, value: str, keys: Sequence[Any],
         order: str | None = None) -> dict[Any, list[Any]]:
    """``{key: [value, ...]}`` from a link table, for all ``keys`` in few queries."""
    out: dict[Any, list[Any]] = {}
    keys = list(dict.fromkeys(keys))
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        for row in tx.all("SELECT %s, %s FROM %s WHERE %s IN (%s) ORDER BY %s, %s"
                          % (owner, value, table, owner, ", ".join("?" * len(chunk)), owner,
                             order or value), chunk):
            out.setdefault(row[0], []).append(row[1])
    return out


def decimal_text(value: Any) -> str | None:
    """A measurement as LAVA renders it: a string with exactly ten decimals."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
        return format(number.quantize(_TEN_PLACES, context=_CONTEXT), "f")
    except InvalidOperation:
        return None


def _jsonb_key(key: str) -> tuple[int, str]:
    # UTF-8 preserves code point order, so comparing the strings compares their bytes.
    return (len(key) if key.isascii() else len(key.encode()), key)


def jsonb_order(value: Any) -> Any:
    """Objects with PostgreSQL jsonb's key order (shorter keys first, then bytewise)."""
    if isinstance(value, dict):
        return {k: jsonb_order(value[k]) for k in sorted(value, key=_jsonb_key)}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def _flat_jsonb_order(value: dict[str, Any]) -> dict[str, Any]:
    """:func:`jsonb_order` of an object, quicker when no value is an object or a list
    (job metadata stores scalars as strings)."""
    for v in value.values():
        if isinstance(v, (dict, list)):
            return jsonb_order(value)
    keys = list(value)
    ordered = sorted(keys, key=_jsonb_key)
    return value if ordered == keys else {k: value[k] for k in ordered}


def _metadata_from_text(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return _flat_jsonb_order(value) if isinstance(value, dict) else {}


def job_metadata(row: Row) -> dict[str, Any]:
    return _metadata_from_text(row["metadata"])


def _displays(enum: Any) -> dict[int, str]:
    return {member.value: member.display for member in enum}


_JOB_STATES = _displays(JobState)
_JOB_HEALTHS = _displays(JobHealth)


def jobs(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    groups = many(tx, "test_job_viewing_groups", "job_id", "group_id", ids)
    tags = many(tx, "test_job_tags", "job_id", "tag_id", ids)
    failure_tags = many(tx, "test_job_failure_tags", "job_id", "tag_id", ids)
    with_token = principal.is_authenticated and principal.is_superuser
    # Columns by position (looking a name up in a row compares it with every column's).
    at = {name: i for i, name in enumerate(rows[0].keys())}
    (i_id, i_submitter, i_description, i_health_check, i_type, i_device, i_submit,
     i_start, i_end, i_state, i_health, i_priority, i_definition, i_metadata, i_original,
     i_multinode, i_comment, i_token) = (
        at[name] for name in (
            "id", "submitter", "description", "health_check", "requested_device_type",
            "actual_device", "submit_time", "start_time", "end_time", "state", "health",
            "priority", "definition", "metadata", "original_definition",
            "multinode_definition", "failure_comment", "token"))
    rest = dates.rest
    out = []
    for row in rows:
        r = tuple(row)
        jid = r[i_id]
        d = {
            "id": jid, "submitter": r[i_submitter], "viewing_groups": groups.get(jid, []),
            "description": r[i_description], "health_check": bool(r[i_health_check]),
            "requested_device_type": r[i_type], "tags": tags.get(jid, []),
            "actual_device": r[i_device], "submit_time": rest(r[i_submit]),
            "start_time": rest(r[i_start]), "end_time": rest(r[i_end]),
            "state": _JOB_STATES[r[i_state]], "health": _JOB_HEALTHS[r[i_health]],
            "priority": r[i_priority], "definition": r[i_definition],
            "metadata": _metadata_from_text(r[i_metadata]),
            "original_definition": r[i_original], "multinode_definition": r[i_multinode],
            "failure_tags": failure_tags.get(jid, []), "failure_comment": r[i_comment],
        }
        if with_token:
            d["token"] = r[i_token]
        out.append(d)
    return out


def devices(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    tags = many(tx, "device_tags", "device", "tag_id", [r["hostname"] for r in rows])
    return [{
        "hostname": r["hostname"], "device_type": r["device_type"],
        "device_version": r["device_version"], "physical_owner": r["physical_owner"],
        "physical_group": r["physical_group"], "description": r["description"],
        "tags": tags.get(r["hostname"], []), "state": DeviceState(r["state"]).display,
        "health": DeviceHealth(r["health"]).display,
        "last_health_report_job": r["last_health_report_job"],
        "worker_host": r["worker_host"], "is_synced": bool(r["is_synced"]),
    } for r in rows]


def device_types(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    names = [r["name"] for r in rows]
    aliases = many(tx, "aliases", "device_type", "name", names)
    cores = many(tx, "device_type_cores", "device_type", "core", names)
    return [{
        "name": r["name"], "architecture": r["architecture"], "processor": r["processor"],
        "cpu_model": r["cpu_model"], "aliases": aliases.get(r["name"], []), "bits": r["bits"],
        "cores": cores.get(r["name"], []), "core_count": r["core_count"],
        "description": r["description"], "health_frequency": r["health_frequency"],
        "disable_health_check": bool(r["disable_health_check"]),
        "health_denominator": HealthDenominator(r["health_denominator"]).display,
        "display": bool(r["display"]),
    } for r in rows]


def workers(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    with_token = principal.is_authenticated and principal.is_superuser
    out = []
    for r in rows:
        d = {"hostname": r["hostname"], "state": WorkerState(r["state"]).display,
             "health": WorkerHealth(r["health"]).display, "description": r["description"],
             "last_ping": dates.rest(r["last_ping"]), "job_limit": r["job_limit"],
             "version": r["version"]}
        if with_token:
            d["token"] = r["token"]
        out.append(d)
    return out


def aliases(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    return [{"name": r["name"], "device_type": r["device_type"]} for r in rows]


def tags(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    return [{"id": r["id"], "name": r["name"], "description": r["description"]} for r in rows]


def suites(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    return [{"id": r["id"], "resource_uri": "jobs/%d/suites/%d/" % (r["job_id"], r["id"]),
             "name": r["name"], "job": r["job_id"]} for r in rows]


def tests(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    return [{
        "id": r["id"], "result": TestResult(r["result"]).display,
        "resource_uri": "jobs/%d/suites/%d/tests/%d/" % (r["job_id"], r["suite_id"], r["id"]),
        "unit": r["units"], "name": r["name"], "measurement": decimal_text(r["measurement"]),
        "metadata": r["metadata"], "start_log_line": r["start_log_line"],
        "end_log_line": r["end_log_line"], "logged": dates.rest(r["logged"]),
        "suite": r["suite_id"], "test_set": r["test_set_id"],
    } for r in rows]


def device_type_permissions(tx: Tx, rows: list[Row],
                            principal: Principal) -> list[dict[str, Any]]:
    return [{"id": r["id"], "group": r["group_name"], "permission": r["permission"],
             "devicetype": r["device_type"]} for r in rows]


def device_permissions(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    return [{"id": r["id"], "group": r["group_name"], "permission": r["permission"],
             "device": r["device"]} for r in rows]


def groups(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    return [{"id": r["id"], "name": r["name"]} for r in rows]


def users(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    names: dict[int, list[str]] = {}
    ids = [r["id"] for r in rows]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        for row in tx.all("SELECT ug.user_id, g.name FROM user_groups ug JOIN groups g"
                          " ON g.id = ug.group_id WHERE ug.user_id IN (%s) ORDER BY g.name"
                          % ", ".join("?" * len(chunk)), chunk):
            names.setdefault(row[0], []).append(row[1])
    return [{
        "id": r["id"], "username": r["username"], "first_name": r["first_name"],
        "last_name": r["last_name"], "email": r["email"], "is_active": bool(r["is_active"]),
        "is_staff": bool(r["is_staff"]), "is_superuser": bool(r["is_superuser"]),
        "groups": names.get(r["id"], []), "last_login": dates.rest(r["last_login"]),
        "date_joined": dates.rest(r["date_joined"]),
    } for r in rows]


def remote_artifact_tokens(tx: Tx, rows: list[Row],
                           principal: Principal) -> list[dict[str, Any]]:
    return [{"name": r["name"], "token": r["token"]} for r in rows]
