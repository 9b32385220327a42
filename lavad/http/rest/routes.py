"""The REST API's route table: one declarative list every other part reads.

The dispatcher (:mod:`lavad.http.rest.app`) compiles it into URL patterns; an
OpenAPI generator can read the same data: each :class:`Route` names its path
template, path parameters and their patterns, its operations (method, view,
who may call it, a summary), and for lists and details the
:mod:`lavad.query` resource whose FilterSet, ordering fields and pagination
apply (``lavad.query.RESOURCES[route.resource]``).

Paths are relative to the version root (``/api/v0.2/``).  Path parameter
kinds follow LAVA's URL patterns:

``int``
    ``[^/.]+`` that must be an integer (else 404 ``Not found.``): jobs, tags,
    permissions, groups, users, suites, tests.
``pk``
    ``[^/.]+``: aliases, remote-artifact-tokens (names without dots).
``name``
    ``[^\\0/]+``, percent-decoded: devices, device types, workers (hostnames
    and names with dots, colons, quotes...).

Access levels: ``any`` (anonymous allowed), ``authenticated``, ``superuser``;
an operation's ``perms`` are global permissions (``lava_scheduler_app.<codename>``)
an authenticated caller must also hold (superusers hold all), as DRF's
model-permission checks ask; without them the answer is 403 with the
operation's ``denied`` text (DRF's "You do not have permission..." by default).
A method a route does not list answers 405 after the access check of the
route's first operation, as DRF does.  ``status`` is an operation's success
status (201 created, 202 accepted, 204 no content).

Version ``v0.1`` routes (LAVA 2023.01's ``/api/v0.1/``: devices, device types,
jobs, workers) are derived from the v0.2 ones (:func:`legacy_v01`): the same
views under the older prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

PATTERNS = {"int": r"[^/.]+", "pk": r"[^/.]+", "name": r"[^\x00/]+"}

# The order of the API root (spec 1.2).
ROOT_ENTRIES = ("aliases", "devices", "devicetypes", "jobs", "permissions/devicetypes",
                "permissions/devices", "system", "tags", "workers", "remote-artifact-tokens",
                "groups", "users")
# LAVA 2023.01's v0.1 root (spec 10.2).
V01_ROOT_ENTRIES = ("devices", "devicetypes", "jobs", "workers")
# What request bodies may be: JSON, forms, multipart (DRF's parsers).
BODIES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
APP = "lava_scheduler_app"
# DRF's answer to an authenticated caller the access check refuses.
FORBIDDEN = "You do not have permission to perform this action."
ADMIN_ONLY = "Insufficient permissions. Please contact system administrator."


@dataclass(frozen=True)
class Operation:
    method: str
    view: str           # a key of lavad.http.rest.views.VIEWS
    access: str         # "any", "authenticated" or "superuser"
    summary: str
    status: int = 200                   # the success status
    perms: tuple[str, ...] = ()         # global permissions needed too ("app.codename")
    denied: str = FORBIDDEN             # the 403 text without them


@dataclass(frozen=True)
class Route:
    path: str                                   # template, e.g. "jobs/{id}/suites/"
    name: str                                   # the view name OPTIONS reports
    operations: tuple[Operation, ...]
    params: Mapping[str, str] = field(default_factory=dict)  # path parameter -> kind
    resource: str | None = None                 # lavad.query resource (lists and details)
    many: bool = False                          # a paginated list
    key: str | None = None                      # the path parameter a detail is looked up by
    scope: Mapping[str, str] = field(default_factory=dict)   # path parameter -> query scope
    version: str = "v0.2"
    suffix: bool = True                         # accepts a format suffix (".json")
    open_end: bool = False                      # matches anything below the path (token/)
    produces: str = "application/json"
    consumes: tuple[str, ...] = BODIES          # the request bodies it parses
    description: str = ""

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(op.method for op in self.operations)

    def operation(self, method: str) -> Operation | None:
        for op in self.operations:
            if op.method == method:
                return op
        return None


def _get(view: str, access: str, summary: str) -> tuple[Operation, ...]:
    return (Operation("GET", view, access, summary),)


def _perms(*codenames: str) -> tuple[str, ...]:
    return tuple("%s.%s" % (APP, c) for c in codenames)


def _by_perm(method: str, view: str, summary: str, *codenames: str, status: int = 200,
             denied: str = FORBIDDEN) -> Operation:
    """An operation for authenticated callers holding the global permissions ``codenames``."""
    return Operation(method, view, "authenticated", summary, status, _perms(*codenames),
                     denied)


@dataclass(frozen=True)
class Writes:
    """Who may create, change (PUT and PATCH) and delete objects of a collection: an
    access level, or ``perm:<codename>`` for a global model permission."""

    create: str | None = None
    change: str | None = None
    delete: str | None = None


def _write(method: str, view: str, rule: str, summary: str, status: int = 200) -> Operation:
    if rule.startswith("perm:"):
        return _by_perm(method, view, summary, rule[5:], status=status)
    return Operation(method, view, rule, summary, status)


def _collection(path: str, model: str, resource: str, param: str, kind: str,
                access: str = "any", description: str = "",
                writes: Writes = Writes()) -> list[Route]:
    """A list route and its detail route over one query resource, with the writes
    ``writes`` allows (views ``create``, ``update``, ``destroy``)."""
    noun = path.rstrip("/")
    listing = list(_get("list", access, "List %s" % noun))
    if writes.create:
        listing.append(_write("POST", "create", writes.create, "Create one of %s" % noun, 201))
    detail = list(_get("detail", access, "Retrieve one of %s" % noun))
    if writes.change:
        detail += [_write("PUT", "update", writes.change, "Update one of %s" % noun),
                   _write("PATCH", "update", writes.change,
                          "Update some fields of one of %s" % noun)]
    if writes.delete:
        detail.append(_write("DELETE", "destroy", writes.delete, "Delete one of %s" % noun,
                             204))
    return [
        Route(path, "%s List" % model, tuple(listing), resource=resource, many=True,
              description=description),
        Route("%s{%s}/" % (path, param), "%s Instance" % model, tuple(detail),
              params={param: kind}, resource=resource, key=param, description=description),
    ]


SUPERUSER = Writes("superuser", "superuser", "superuser")


ROUTES: tuple[Route, ...] = (
    Route("", "Api Root", _get("root", "any", "The API's top-level routes"),
          description="The top-level routes of the API, as absolute URLs."),
    Route("token/", "Obtain Auth Token",
          (Operation("POST", "token", "any", "Exchange a username and password for a token"),),
          suffix=False, open_end=True,
          description="POST the web credentials, get the user's first API token."),
    # -- jobs and their results --------------------------------------------------------------
    # (the actions first: "validate" would otherwise be taken for a job id)
    Route("jobs/validate/", "Test Job Validate",
          (Operation("POST", "job_validate", "any", "Check a job definition"),)),
    Route("jobs/validate_testdef/", "Test Job Validate Testdef",
          (Operation("POST", "job_validate_testdef", "any", "Check a test definition"),)),
    Route("jobs/batch_cancel/", "Test Job Batch Cancel",
          (Operation("POST", "job_batch_cancel", "authenticated", "Cancel several jobs"),)),
    Route("jobs/", "Test Job List",
          (*_get("list", "any", "List jobs"),
           Operation("POST", "job_submit", "authenticated", "Submit a job definition", 201)),
          resource="jobs", many=True),
    Route("jobs/{id}/", "Test Job Instance",
          (*_get("detail", "any", "Retrieve one of jobs"),
           Operation("PUT", "update", "superuser", "Change a job's definition"),
           Operation("PATCH", "update", "superuser", "Change a job's definition"),
           Operation("DELETE", "destroy", "superuser", "Delete a job", 204)),
          params={"id": "int"}, resource="jobs", key="id"),
    Route("jobs/{id}/resubmit/", "Test Job Resubmit",
          (Operation("POST", "job_resubmit", "authenticated", "Submit a job again", 201),),
          params={"id": "int"}, resource="jobs", key="id"),
    Route("jobs/{id}/cancel/", "Test Job Cancel",
          _get("job_cancel", "any", "Cancel a job (all of a multinode group)"),
          params={"id": "int"}),
    Route("jobs/{id}/metadata/", "Test Job Metadata",
          _get("job_metadata", "any", "The job's metadata as a list of one-key objects"),
          params={"id": "int"}, resource="jobs", key="id"),
    # the job log and the result exports, streamed (lavad.http.exports)
    Route("jobs/{id}/logs/", "Test Job Logs",
          _get("job_logs", "any", "Lines [start, end) of the job log"),
          params={"id": "int"}, produces="application/yaml"),
    Route("jobs/{id}/junit/", "Test Job Junit",
          _get("job_junit", "any", "The results as JUnit XML (?classname_prefix=)"),
          params={"id": "int"}, produces="application/xml"),
    Route("jobs/{id}/tap13/", "Test Job Tap13", _get("job_tap13", "any", "The results as TAP13"),
          params={"id": "int"}, produces="application/yaml"),
    Route("jobs/{id}/csv/", "Test Job Csv",
          _get("job_csv", "any", "The test cases as CSV (?limit=&offset=)"),
          params={"id": "int"}, produces="application/csv"),
    Route("jobs/{id}/yaml/", "Test Job Yaml",
          _get("job_yaml", "any", "The test cases as YAML (?limit=&offset=)"),
          params={"id": "int"}, produces="application/yaml"),
    Route("jobs/{id}/suites/{suite_id}/csv/", "Test Suite Csv",
          _get("suite_csv", "any", "A suite's test cases as CSV"),
          params={"id": "int", "suite_id": "int"}, produces="application/csv"),
    Route("jobs/{id}/suites/{suite_id}/yaml/", "Test Suite Yaml",
          _get("suite_yaml", "any", "A suite's test cases as YAML"),
          params={"id": "int", "suite_id": "int"}, produces="application/yaml"),
    Route("jobs/{id}/suites/", "Test Suite List", _get("list", "any", "A job's test suites"),
          params={"id": "int"}, resource="suites", many=True, scope={"id": "job"}),
    Route("jobs/{id}/suites/{suite_id}/", "Test Suite Instance",
          _get("detail", "any", "One test suite of a job"),
          params={"id": "int", "suite_id": "int"}, resource="suites", key="suite_id",
          scope={"id": "job"}),
    Route("jobs/{id}/suites/{suite_id}/tests/", "Test Case List",
          _get("list", "any", "The test cases of a suite"),
          params={"id": "int", "suite_id": "int"}, resource="tests", many=True,
          scope={"id": "job", "suite_id": "suite"}),
    Route("jobs/{id}/suites/{suite_id}/tests/{case_id}/", "Test Case Instance",
          _get("detail", "any", "One test case of a suite"),
          params={"id": "int", "suite_id": "int", "case_id": "int"}, resource="tests",
          key="case_id", scope={"id": "job", "suite_id": "suite"}),
    Route("jobs/{id}/tests/", "Test Case List", _get("list", "any", "A job's test cases"),
          params={"id": "int"}, resource="tests", many=True, scope={"id": "job"}),
    Route("jobs/{id}/tests/{case_id}/", "Test Case Instance",
          _get("detail", "any", "One test case of a job"),
          params={"id": "int", "case_id": "int"}, resource="tests", key="case_id",
          scope={"id": "job"}),
    # -- the device model ----------------------------------------------------------------
    *_collection("devicetypes/", "Device Type", "devicetypes", "name", "name",
                 writes=SUPERUSER),
    Route("devicetypes/{name}/template/", "Device Type Template",
          (*_get("device_type_template", "any", "The device-type template (Jinja2)"),
           _by_perm("POST", "device_type_template", "Replace the device-type template",
                    "change_device", status=204, denied=ADMIN_ONLY)),
          params={"name": "name"}, resource="devicetypes", key="name",
          produces="application/yaml"),
    Route("devicetypes/{name}/health_check/", "Device Type Health Check",
          (*_get("device_type_health_check", "any", "The health-check job definition"),
           _by_perm("POST", "device_type_health_check", "Replace the health-check definition",
                    "change_device", status=204, denied=ADMIN_ONLY)),
          params={"name": "name"}, resource="devicetypes", key="name",
          produces="application/yaml"),
    Route("devices/validate/", "Device Validate",
          (_by_perm("POST", "device_validate", "Check a device dictionary (text/plain body)",
                    "add_device"),),
          consumes=("text/plain",)),
    *_collection("devices/", "Device", "devices", "hostname", "name",
                 description="Retired devices are listed only with ?all=<anything>.",
                 writes=SUPERUSER),
    Route("devices/{hostname}/dictionary/", "Device Dictionary",
          (*_get("device_dictionary", "any",
                 "The device dictionary (Jinja2), or rendered as YAML with ?render=1"),
           _by_perm("POST", "device_dictionary_set", "Replace the device dictionary",
                    "add_device")),
          params={"hostname": "name"}, resource="devices", key="hostname",
          produces="text/plain"),
    Route("devices/{hostname}/set_health/", "Device Set Health",
          (_by_perm("POST", "device_set_health", "Change the device health", "add_device",
                    "change_device", status=202),),
          params={"hostname": "name"}, resource="devices", key="hostname"),
    *_collection("workers/", "Worker", "workers", "hostname", "name",
                 writes=Writes("perm:add_worker", "perm:change_worker", "perm:delete_worker")),
    Route("workers/{hostname}/env/", "Worker Env",
          (*_get("worker_env", "any", "The environment the worker gives its jobs"),
           _by_perm("POST", "worker_env", "Replace the worker's env.yaml", "add_worker",
                    "change_worker")),
          params={"hostname": "name"}, resource="workers", key="hostname",
          produces="application/yaml"),
    Route("workers/{hostname}/config/", "Worker Config",
          (*_get("worker_config", "any", "The worker's dispatcher configuration"),
           _by_perm("POST", "worker_config", "Replace the worker's dispatcher.yaml",
                    "add_worker", "change_worker")),
          params={"hostname": "name"}, resource="workers", key="hostname",
          produces="application/yaml"),
    Route("workers/{hostname}/set_health/", "Worker Set Health",
          (_by_perm("POST", "worker_set_health", "Change the worker health", "add_worker",
                    "change_worker", status=202),),
          params={"hostname": "name"}, resource="workers", key="hostname"),
    *_collection("aliases/", "Alias", "aliases", "name", "pk", access="authenticated",
                 writes=Writes("perm:add_alias", "perm:change_alias", "perm:delete_alias")),
    *_collection("tags/", "Tag", "tags", "id", "int", access="authenticated",
                 writes=Writes("perm:add_tag", "perm:change_tag", "perm:delete_tag")),
    # -- permissions, accounts ----------------------------------------------------------------
    *_collection("permissions/devicetypes/", "Group Device Type Permission",
                 "permissions/devicetypes", "id", "int", access="superuser",
                 writes=SUPERUSER),
    *_collection("permissions/devices/", "Group Device Permission", "permissions/devices",
                 "id", "int", access="superuser", writes=SUPERUSER),
    *_collection("remote-artifact-tokens/", "Remote Artifact Token", "remote-artifact-tokens",
                 "name", "pk", access="authenticated",
                 writes=Writes("authenticated", "authenticated", "authenticated")),
    *_collection("groups/", "Group", "groups", "id", "int", access="superuser",
                 writes=SUPERUSER),
    *_collection("users/", "User", "users", "id", "int", access="superuser",
                 writes=SUPERUSER),
    # -- system -------------------------------------------------------------------------
    Route("system/", "System", _get("system", "any", "Nothing (an empty answer)")),
    Route("system/version/", "System Version",
          _get("version", "any", "The LAVA version this server speaks")),
    Route("system/whoami/", "System Whoami", _get("whoami", "any", "The caller's username")),
    Route("system/master_config/", "System Master Config",
          _get("master_config", "any", "The event publisher and log settings")),
    # -- this API's description, generated from this table (lavad.http.rest.docs) ---------
    Route("openapi.json", "OpenAPI", _get("openapi", "any", "This API as an OpenAPI document"),
          suffix=False, description="OpenAPI 3.0, generated from the server's route table."),
    Route("docs/", "API Documentation", _get("docs", "any", "This API as an HTML page"),
          suffix=False, produces="text/html"),
    # -- v0.3: only the root and the token endpoint -----------------------------------------
    Route("", "Api Root", _get("empty_root", "any", "Nothing yet"), version="v0.3"),
    Route("token/", "Obtain Auth Token",
          (Operation("POST", "token", "any", "Exchange a username and password for a token"),),
          version="v0.3", suffix=False, open_end=True),
)

# -- v0.1: LAVA 2023.01's older prefix, on the same views -------------------------------------
V01_PATHS = ("", "token/", "jobs/", "jobs/{id}/", "jobs/{id}/logs/", "jobs/{id}/junit/",
             "jobs/{id}/tap13/", "jobs/{id}/suites/", "jobs/{id}/tests/", "devicetypes/",
             "devicetypes/{name}/", "devices/", "devices/{hostname}/", "workers/",
             "workers/{hostname}/")
V01_READ_ONLY = ("devices/", "devices/{hostname}/", "workers/", "workers/{hostname}/")


def legacy_v01(routes: Iterable[Route]) -> list[Route]:
    """The v0.1 routes: copies of the v0.2 ones LAVA 2023.01 also served there (its
    devices and workers read-only), with a root of their own."""
    out = []
    for route in routes:
        if route.version != "v0.2" or route.path not in V01_PATHS:
            continue
        operations = route.operations
        if route.path == "":
            operations = _get("root_v01", "any", "The v0.1 top-level routes")
        elif route.path in V01_READ_ONLY:
            operations = tuple(op for op in operations if op.method == "GET")
        out.append(replace(route, version="v0.1", operations=operations))
    return out


ROUTES = (*ROUTES, *legacy_v01(ROUTES))
