"""The REST records' fields, declared: name, type, nullability, enum, who sees them.

:mod:`lavad.query.render` builds the records; this module says what they hold,
in the same order (REST spec, section 3), so documentation (the OpenAPI
document of :mod:`lavad.http.rest.openapi`) is generated from data.  A test
renders every resource and compares it with these declarations, so the two
cannot drift apart.

Kinds: ``int``, ``str``, ``bool``, ``datetime`` (ISO 8601 UTC string),
``decimal`` (a string with ten decimals), ``uri`` (an absolute URL),
``object`` (a JSON object), ``[int]`` and ``[str]`` (lists).  What request
bodies carry is declared with the writes (:mod:`lavad.http.rest.writes`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lavad.models import (
    DeviceHealth,
    DeviceState,
    DisplayEnum,
    HealthDenominator,
    JobHealth,
    JobState,
    TestResult,
    WorkerHealth,
    WorkerState,
)


@dataclass(frozen=True)
class Out:
    """One field of a REST record."""

    name: str
    kind: str
    nullable: bool = False
    enum: type[DisplayEnum] | None = None   # rendered as its display strings
    superuser: bool = False                 # present only when a superuser asks
    note: str = ""


RECORDS: dict[str, tuple[Out, ...]] = {
    "jobs": (
        Out("id", "int"),
        Out("submitter", "str", note="username"),
        Out("viewing_groups", "[int]", note="group ids"),
        Out("description", "str", True, note="the job_name"),
        Out("health_check", "bool"),
        Out("requested_device_type", "str", True, note="device-type name"),
        Out("tags", "[int]", note="tag ids"),
        Out("actual_device", "str", True, note="hostname, once scheduled"),
        Out("submit_time", "datetime"),
        Out("start_time", "datetime", True),
        Out("end_time", "datetime", True),
        Out("state", "str", enum=JobState),
        Out("health", "str", enum=JobHealth),
        Out("priority", "int"),
        Out("definition", "str", note="the stored (re-serialised) definition"),
        Out("metadata", "object", note="the definition's metadata, scalars as strings"),
        Out("original_definition", "str", note="the submitted text"),
        Out("multinode_definition", "str", note='"" for single-node jobs'),
        Out("failure_tags", "[int]", note="failure tag ids"),
        Out("failure_comment", "str", True),
        Out("token", "str", superuser=True),
    ),
    "devices": (
        Out("hostname", "str", note="create only"),
        Out("device_type", "str", note="device-type name"),
        Out("device_version", "str", True),
        Out("physical_owner", "int", True, note="user id"),
        Out("physical_group", "int", True, note="group id"),
        Out("description", "str", True),
        Out("tags", "[int]", note="tag ids"),
        Out("state", "str", enum=DeviceState),
        Out("health", "str", enum=DeviceHealth),
        Out("last_health_report_job", "int", True, note="job id"),
        Out("worker_host", "str", True, note="worker hostname"),
        Out("is_synced", "bool"),
    ),
    "devicetypes": (
        Out("name", "str"),
        Out("architecture", "str", True),
        Out("processor", "str", True),
        Out("cpu_model", "str", True),
        Out("aliases", "[str]", note="alias names"),
        Out("bits", "int", True, note="bit width"),
        Out("cores", "[str]", note="core names"),
        Out("core_count", "int", True),
        Out("description", "str", True),
        Out("health_frequency", "int"),
        Out("disable_health_check", "bool"),
        Out("health_denominator", "str", enum=HealthDenominator),
        Out("display", "bool"),
    ),
    "workers": (
        Out("hostname", "str"),
        Out("state", "str", enum=WorkerState),
        Out("health", "str", enum=WorkerHealth),
        Out("description", "str", True),
        Out("last_ping", "datetime"),
        Out("job_limit", "int"),
        Out("version", "str", True, note="dispatcher version"),
        Out("token", "str", superuser=True),
    ),
    "aliases": (Out("name", "str"), Out("device_type", "str", True)),
    "tags": (Out("id", "int"), Out("name", "str", note="a slug"), Out("description", "str", True)),
    "suites": (
        Out("id", "int"),
        Out("resource_uri", "uri"),
        Out("name", "str"),
        Out("job", "int", note="job id"),
    ),
    "tests": (
        Out("id", "int"),
        Out("result", "str", enum=TestResult),
        Out("resource_uri", "uri", note="always the suite-nested URL"),
        Out("unit", "str"),
        Out("name", "str"),
        Out("measurement", "decimal", True),
        Out("metadata", "str", True, note="the raw YAML text"),
        Out("start_log_line", "int", True),
        Out("end_log_line", "int", True),
        Out("logged", "datetime"),
        Out("suite", "int", note="suite id"),
        Out("test_set", "int", True, note="test set id"),
    ),
    "permissions/devicetypes": (
        Out("id", "int"),
        Out("group", "str", note="group name"),
        Out("permission", "str", note="codename"),
        Out("devicetype", "str", note="device-type name"),
    ),
    "permissions/devices": (
        Out("id", "int"),
        Out("group", "str", note="group name"),
        Out("permission", "str", note="codename"),
        Out("device", "str", note="hostname"),
    ),
    "groups": (Out("id", "int"), Out("name", "str")),
    "users": (
        Out("id", "int"),
        Out("username", "str"),
        Out("first_name", "str"),
        Out("last_name", "str"),
        Out("email", "str"),
        Out("is_active", "bool"),
        Out("is_staff", "bool"),
        Out("is_superuser", "bool"),
        Out("groups", "[str]", note="group names"),
        Out("last_login", "datetime", True),
        Out("date_joined", "datetime"),
    ),
    "remote-artifact-tokens": (Out("name", "str"), Out("token", "str")),
}
