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


def jsonb_order(value: Any) -> Any:
    """Objects with PostgreSQL jsonb's key order (shorter keys first, then bytewise)."""
    if isinstance(value, dict):
        return {k: jsonb_order(value[k])
                for k in sorted(value, key=lambda k: (len(k.encode()), k.encode()))}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def job_metadata(row: Row) -> dict[str, Any]:
    try:
        value = json.loads(row["metadata"] or "{}")
    except ValueError:
        return {}
    return jsonb_order(value) if isinstance(value, dict) else {}


def jobs(tx: Tx, rows: list[Row], principal: Principal) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    groups = many(tx, "test_job_viewing_groups", "job_id", "group_id", ids)
    tags = many(tx, "test_job_tags", "job_id", "tag_id", ids)
    failure_tags = many(tx, "test_job_failure_tags", "job_id", "tag_id", ids)
    with_token = principal.is_authenticated and principal.is_superuser
    out = []
    for r in rows:
        jid = r["id"]
        d = {
            "id": jid, "submitter": r["submitter"], "viewing_groups": groups.get(jid, []),
            "description": r["description"], "health_check": bool(r["health_check"]),
            "requested_device_type": r["requested_device_type"], "tags": tags.get(jid, []),
            "actual_device": r["actual_device"], "submit_time": dates.rest(r["submit_time"]),
            "start_time": dates.rest(r["start_time"]), "end_time": dates.rest(r["end_time"]),
            "state": JobState(r["state"]).display, "health": JobHealth(r["health"]).display,
            "priority": r["priority"], "definition": r["definition"],
            "metadata": job_metadata(r), "original_definition": r["original_definition"],
            "multinode_definition": r["multinode_definition"],
            "failure_tags": failure_tags.get(jid, []), "failure_comment": r["failure_comment"],
        }
        if with_token:
            d["token"] = r["token"]
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
