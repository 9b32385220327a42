"""Every FilterSet of the REST API (spec 7.2), over lavad's schema.

Resource FilterSets are named after their route (``jobs``, ``devices``...);
FilterSets only reached through a relation have singular names (``user``,
``group``, ``architecture``...).  The groups and users resources filter on
fewer lookups than the ``group`` and ``user`` FilterSets other resources
traverse into, as in LAVA.
"""

from __future__ import annotations

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
from lavad.query.filters import NUMBER, SI, Field, FilterSet, Relation, S

_ID = ("exact", "lt", "gt")
_TIME = ("exact", "lt", "gt", "isnull")
_COMPARE = ("exact", "lt", "lte", "gt", "gte")


def _s(column: str) -> Field:
    return Field(column, "str", S)


def _name_only(table: str, column: str = "name") -> FilterSet:
    return FilterSet(table, column, "str", {"name": _s("{a}.%s" % column)})


_ENUM_INT = ("exact", "in", "iexact")

FILTERSETS: dict[str, FilterSet] = {
    # -- jobs ------------------------------------------------------------------------------
    "jobs": FilterSet("test_jobs", "id", "int", {
        "id": Field("{a}.id", "int", ("exact", "lt", "gt", "in")),
        "submit_time": Field("{a}.submit_time", "datetime", _TIME),
        "start_time": Field("{a}.start_time", "datetime", _TIME),
        "end_time": Field("{a}.end_time", "datetime", _TIME),
        "health_check": Field("{a}.health_check", "bool", ("exact",)),
        "target_group": Field("{a}.target_group", "str",
                              ("exact", "iexact", "in", "contains", "icontains", "startswith")),
        "state": Field("{a}.state", "enum", _ENUM_INT, JobState, names_in=True),
        "health": Field("{a}.health", "enum", _ENUM_INT, JobHealth, names_in=True),
        "priority": Field("{a}.priority", "int", NUMBER),
        "description": _s("{a}.description"),
        "definition": _s("{a}.definition"),
        "original_definition": _s("{a}.original_definition"),
        "multinode_definition": _s("{a}.multinode_definition"),
        "failure_comment": Field("{a}.failure_comment", "str", S + ("isnull",)),
    }, {
        "requested_device_type": Relation("devicetypes", "{a}.requested_device_type"),
        "actual_device": Relation("devices", "{a}.actual_device"),
        "tags": Relation("tags", "{a}.id", via=("test_job_tags", "job_id", "tag_id")),
        "viewing_groups": Relation("group", "{a}.id",
                                   via=("test_job_viewing_groups", "job_id", "group_id")),
        "submitter": Relation("user", "{a}.submitter_id"),
        "failure_tags": Relation("jobfailuretag", "{a}.id",
                                 via=("test_job_failure_tags", "job_id", "tag_id")),
    }),
    # -- the device model ----------------------------------------------------------------------
    "devices": FilterSet("devices", "hostname", "str", {
        "hostname": _s("{a}.hostname"),
        "device_version": _s("{a}.device_version"),
        "description": _s("{a}.description"),
        "state": Field("{a}.state", "enum", _ENUM_INT, DeviceState),
        "health": Field("{a}.health", "enum", _ENUM_INT, DeviceHealth, ignore_case=True),
        "is_synced": Field("{a}.is_synced", "bool", ("exact",)),
    }, {
        "device_type": Relation("devicetypes", "{a}.device_type"),
        "physical_owner": Relation("user", "{a}.physical_owner"),
        "physical_group": Relation("group", "{a}.physical_group"),
        "tags": Relation("tags", "{a}.hostname", via=("device_tags", "device", "tag_id")),
        # Only health-check jobs can be a device's last health report.
        "last_health_report_job": Relation("jobs", "{a}.last_health_report_job",
                                           choices="{a}.health_check = 1"),
        "worker_host": Relation("workers", "{a}.worker_host"),
    }),
    "devicetypes": FilterSet("device_types", "name", "str", {
        "name": _s("{a}.name"),
        "cpu_model": _s("{a}.cpu_model"),
        "description": _s("{a}.description"),
        "health_frequency": Field("{a}.health_frequency", "int", ("exact", "in")),
        "core_count": Field("{a}.core_count", "int", ("exact", "in")),
        "disable_health_check": Field("{a}.disable_health_check", "bool", ("exact", "in")),
        "display": Field("{a}.display", "bool", ("exact", "in")),
        "health_denominator": Field("{a}.health_denominator", "enum", ("exact",),
                                    HealthDenominator),
    }, {
        "architecture": Relation("architecture", "{a}.architecture"),
        "processor": Relation("processor", "{a}.processor"),
        # Singular, as LAVA names it; the alias row points at its device type.
        "alias": Relation("alias", "{a}.name", key="device_type"),
        "bits": Relation("bitwidth", "{a}.bits"),
        "cores": Relation("core", "{a}.name", via=("device_type_cores", "device_type", "core")),
    }),
    "workers": FilterSet("workers", "hostname", "str", {
        "hostname": _s("{a}.hostname"),
        "description": _s("{a}.description"),
        "last_ping": Field("{a}.last_ping", "datetime", ("exact", "lt", "gt")),
        "state": Field("{a}.state", "enum", _ENUM_INT, WorkerState),
        "health": Field("{a}.health", "enum", _ENUM_INT, WorkerHealth),
    }),
    "aliases": _name_only("aliases"),
    "tags": FilterSet("tags", "id", "int", {
        "name": Field("{a}.name", "str", SI),
        "description": _s("{a}.description"),
    }),
    "architecture": _name_only("architectures"),
    "processor": _name_only("processor_families"),
    "core": _name_only("cores"),
    "alias": _name_only("aliases"),
    "bitwidth": FilterSet("bit_widths", "width", "int", {
        "width": Field("{a}.width", "int", ("exact", "in")),
    }),
    "jobfailuretag": FilterSet("job_failure_tags", "id", "int", {
        "name": _s("{a}.name"),
        "description": _s("{a}.description"),
    }),
    # -- results ------------------------------------------------------------------------------
    "suites": FilterSet("test_suites", "id", "int", {
        "id": Field("{a}.id", "int", _ID),
        "name": _s("{a}.name"),
    }),
    "testset": FilterSet("test_sets", "id", "int", {
        "id": Field("{a}.id", "int", _ID),
        "name": _s("{a}.name"),
    }, {
        "suite": Relation("suites", "{a}.suite_id"),
    }),
    "tests": FilterSet("test_cases", "id", "int", {
        "id": Field("{a}.id", "int", ("exact", "lt", "gt", "in")),
        "start_log_line": Field("{a}.start_log_line", "int", _COMPARE),
        "end_log_line": Field("{a}.end_log_line", "int", _COMPARE),
        "logged": Field("{a}.logged", "datetime", _COMPARE),
        "measurement": Field("{a}.measurement", "decimal", _COMPARE),
        "metadata": _s("{a}.metadata"),
        "units": _s("{a}.units"),
        "name": _s("{a}.name"),
        "result": Field("{a}.result", "enum", ("exact",), TestResult, ignore_case=True),
    }, {
        "suite": Relation("suites", "{a}.suite_id"),
        "test_set": Relation("testset", "{a}.test_set_id"),
    }),
    # -- accounts and permissions ----------------------------------------------------------------
    "user": FilterSet("users", "id", "int", {
        "username": _s("{a}.username"),
        "email": _s("{a}.email"),
    }, {
        "group": Relation("group", "{a}.id", via=("user_groups", "user_id", "group_id")),
    }),
    "group": FilterSet("groups", "id", "int", {"name": _s("{a}.name")}),
    "groups": FilterSet("groups", "id", "int", {"name": Field("{a}.name", "str", ("exact",))}),
    "users": FilterSet("users", "id", "int", {
        "username": Field("{a}.username", "str", ("exact",)),
        "email": Field("{a}.email", "str", ("exact",)),
        "is_active": Field("{a}.is_active", "bool", ("exact",)),
        "is_staff": Field("{a}.is_staff", "bool", ("exact",)),
        "is_superuser": Field("{a}.is_superuser", "bool", ("exact",)),
    }),
    "permission": FilterSet("permissions", "id", "int", {"codename": _s("{a}.codename")}),
    "permissions/devicetypes": FilterSet("group_device_type_permissions", "id", "int", {
        "id": Field("{a}.id", "int", ("exact",)),
        "devicetype": Field("{a}.device_type", "str", ("exact",)),
    }, {
        "device_type": Relation("devicetypes", "{a}.device_type"),
        "group": Relation("group", "{a}.group_id"),
        "permission": Relation("permission", "{a}.permission", key="codename",
                               choices="{a}.model = 'devicetype'"),
    }),
    "permissions/devices": FilterSet("group_device_permissions", "id", "int", {
        "id": Field("{a}.id", "int", ("exact",)),
    }, {
        "device": Relation("devices", "{a}.device"),
        "group": Relation("group", "{a}.group_id"),
        "permission": Relation("permission", "{a}.permission", key="codename",
                               choices="{a}.model = 'device'"),
    }),
    "remote-artifact-tokens": FilterSet("remote_artifact_tokens", "id", "int"),
}
