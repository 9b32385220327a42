"""The REST resources over lavad's schema: table, visibility, ordering, rendering.

A :class:`Resource` says how to list and fetch one kind of object: what to
select, which FilterSet filters it, which ``ordering=`` fields it allows (and
its default order), which rows the caller may see (always from
:mod:`lavad.permissions`), how rows become REST records, and the scopes a
nested route narrows it with (``job``, ``suite``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lavad.errors import NotFound, PermissionDenied
from lavad.models import DeviceHealth
from lavad.permissions import (
    thd_can_view_job,
    visible_device_types_sql,
    visible_devices_sql,
    visible_jobs_sql,
    visible_workers_sql,
)
from lavad.query import render
from lavad.store.tx import Tx
from lavad.users import Principal

Renderer = Callable[[Tx, list[Any], Principal], list[dict[str, Any]]]


@dataclass(frozen=True)
class Order:
    """An ``ordering=`` field: its SQL and whether it may be NULL (NULLs sort as
    in PostgreSQL: last ascending, first descending)."""

    sql: str
    nullable: bool = False


@dataclass(frozen=True)
class Resource:
    name: str
    model: str                        # for "No <model> matches the given query."
    filterset: str
    source: str                       # FROM clause of the page query
    alias: str
    columns: str
    key: str                          # the lookup column (SQL)
    key_type: str                     # "int" or "str"
    ordering: Mapping[str, Order]
    default_order: tuple[str, ...]
    render: Renderer
    count_source: str = ""            # FROM clause of the count (defaults to ``source``)
    visible: Callable[[Principal], str] | None = None
    # query-string options that narrow the set: name -> (value or None) -> SQL
    options: Mapping[str, Callable[[str | None], str]] = field(default_factory=dict)
    # path scopes of nested routes: name -> SQL with one ``?``
    scopes: Mapping[str, str] = field(default_factory=dict)
    # checks run before listing/fetching within a scope (the parent job of results)
    guard: Callable[[Tx, Principal, Mapping[str, Any]], None] | None = None


def _plain(*names: str, nullable: tuple[str, ...] = (), alias: str) -> dict[str, Order]:
    return {n: Order("%s.%s" % (alias, n), n in nullable) for n in names}


def _guard_results(tx: Tx, principal: Principal, scope: Mapping[str, Any]) -> None:
    """The results of a job: 404 when it does not exist, 403 when it is hidden."""
    job = scope.get("job")
    if job is None:
        return
    if tx.one("SELECT 1 FROM test_jobs WHERE id = ?", (job,)) is None:
        raise NotFound("Not found.")
    if not thd_can_view_job(tx, principal, job, nested=True):
        raise PermissionDenied("You do not have permission to perform this action.")


def _own_tokens(principal: Principal) -> str:
    if principal.is_authenticated and principal.id is not None:
        return "r.user_id = %d" % principal.id
    return "0"


def _aliases_visible(principal: Principal) -> str:
    return ("a.device_type IN (SELECT t.name FROM device_types t WHERE t.display = 1 AND %s)"
            % visible_device_types_sql(principal, "t.name"))


def _retired(value: str | None) -> str:
    """Retired devices are listed only with ``all=<anything>``."""
    return "1" if value else "d.health != %d" % DeviceHealth.RETIRED


RESOURCES: dict[str, Resource] = {r.name: r for r in [
    Resource(
        "jobs", "TestJob", "jobs", "test_jobs j JOIN users u ON u.id = j.submitter_id", "j",
        "j.*, u.username AS submitter", "j.id", "int",
        {"id": Order("j.id"), "start_time": Order("j.start_time", True),
         "end_time": Order("j.end_time", True), "submit_time": Order("j.submit_time")},
        ("-id",), render.jobs, count_source="test_jobs j",
        visible=lambda p: visible_jobs_sql(p, "j")),
    Resource(
        "devices", "Device", "devices", "devices d", "d", "d.*", "d.hostname", "str",
        {**_plain("hostname", "device_type", "device_version", "physical_owner",
                  "physical_group", "description", "state", "health", "worker_host",
                  "is_synced", alias="d",
                  nullable=("device_version", "physical_owner", "physical_group",
                            "description", "worker_host")),
         "tags": Order("(SELECT min(tag_id) FROM device_tags WHERE device = d.hostname)",
                       True)},
        ("hostname",), render.devices,
        visible=lambda p: visible_devices_sql(p, "d"), options={"all": _retired}),
    Resource(
        "devicetypes", "DeviceType", "devicetypes", "device_types t", "t", "t.*", "t.name",
        "str",
        {**_plain("name", "architecture", "processor", "cpu_model", "bits", "core_count",
                  "description", "health_frequency", "disable_health_check", "display",
                  alias="t", nullable=("architecture", "processor", "cpu_model", "bits",
                                       "core_count", "description")),
         "aliases": Order("(SELECT min(name) FROM aliases WHERE device_type = t.name)", True),
         "cores": Order("(SELECT min(core) FROM device_type_cores WHERE device_type = t.name)",
                        True)},
        ("name",), render.device_types,
        visible=lambda p: visible_device_types_sql(p, "t.name")),
    Resource(
        "workers", "Worker", "workers", "workers w", "w", "w.*", "w.hostname", "str",
        _plain("hostname", "state", "health", "description", "last_ping", "job_limit",
               "version", "token", alias="w", nullable=("description", "version")),
        ("hostname",), render.workers,
        visible=lambda p: visible_workers_sql(p, "w.hostname")),
    Resource(
        "aliases", "Alias", "aliases", "aliases a", "a", "a.*", "a.name", "str",
        _plain("name", "device_type", alias="a", nullable=("device_type",)),
        ("name",), render.aliases, visible=_aliases_visible),
    Resource(
        "tags", "Tag", "tags", "tags g", "g", "g.*", "g.id", "int",
        _plain("id", "name", "description", alias="g", nullable=("description",)),
        ("id",), render.tags),
    Resource(
        "suites", "TestSuite", "suites", "test_suites s", "s", "s.*", "s.id", "int",
        {"id": Order("s.id"), "name": Order("s.name"), "job": Order("s.job_id")},
        ("id",), render.suites, scopes={"job": "s.job_id = ?"}, guard=_guard_results),
    Resource(
        "tests", "TestCase", "tests", "test_cases c JOIN test_suites s ON s.id = c.suite_id",
        "c", "c.*, s.job_id AS job_id", "c.id", "int",
        {"id": Order("c.id"), "units": Order("c.units"), "name": Order("c.name"),
         "measurement": Order("CAST(c.measurement AS REAL)", True),
         "metadata": Order("c.metadata", True), "start_log_line": Order("c.start_log_line", True),
         "end_log_line": Order("c.end_log_line", True), "logged": Order("c.logged"),
         "suite": Order("c.suite_id"), "test_set": Order("c.test_set_id", True)},
        ("id",), render.tests, count_source="test_cases c",
        scopes={"job": "c.suite_id IN (SELECT id FROM test_suites WHERE job_id = ?)",
                "suite": "c.suite_id = ?"},
        guard=_guard_results),
    Resource(
        "permissions/devicetypes", "GroupDeviceTypePermission", "permissions/devicetypes",
        "group_device_type_permissions p JOIN groups g ON g.id = p.group_id", "p",
        "p.*, g.name AS group_name", "p.id", "int",
        {"id": Order("p.id"), "permission": Order("p.permission"),
         "group": Order("p.group_id"), "devicetype": Order("p.device_type")},
        ("id",), render.device_type_permissions,
        count_source="group_device_type_permissions p"),
    Resource(
        "permissions/devices", "GroupDevicePermission", "permissions/devices",
        "group_device_permissions p JOIN groups g ON g.id = p.group_id", "p",
        "p.*, g.name AS group_name", "p.id", "int",
        {"id": Order("p.id"), "permission": Order("p.permission"),
         "group": Order("p.group_id"), "device": Order("p.device")},
        ("id",), render.device_permissions, count_source="group_device_permissions p"),
    Resource(
        "groups", "Group", "groups", "groups g", "g", "g.*", "g.id", "int",
        {"name": Order("g.name")}, ("name",), render.groups),
    Resource(
        "users", "User", "users", "users u", "u", "u.*", "u.id", "int",
        {"username": Order("u.username"), "date_joined": Order("u.date_joined"),
         "last_login": Order("u.last_login", True)},
        ("username",), render.users),
    Resource(
        "remote-artifact-tokens", "RemoteArtifactsAuth", "remote-artifact-tokens",
        "remote_artifact_tokens r", "r", "r.*", "r.name", "str",
        {"name": Order("r.name"), "token": Order("r.token")},
        ("name",), render.remote_artifact_tokens, visible=_own_tokens),
]}
