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

Access levels: ``any`` (anonymous allowed), ``authenticated``, ``superuser``.
A method a route does not list answers 405 after the access check of the
route's first operation, as DRF does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PATTERNS = {"int": r"[^/.]+", "pk": r"[^/.]+", "name": r"[^\x00/]+"}

# The order of the API root (spec 1.2).
ROOT_ENTRIES = ("aliases", "devices", "devicetypes", "jobs", "permissions/devicetypes",
                "permissions/devices", "system", "tags", "workers", "remote-artifact-tokens",
                "groups", "users")


@dataclass(frozen=True)
class Operation:
    method: str
    view: str           # a key of lavad.http.rest.views.VIEWS
    access: str         # "any", "authenticated" or "superuser"
    summary: str


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


def _collection(path: str, model: str, resource: str, param: str, kind: str,
                access: str = "any", description: str = "") -> list[Route]:
    """A list route and its detail route over one query resource."""
    return [
        Route(path, "%s List" % model, _get("list", access, "List %s" % path.rstrip("/")),
              resource=resource, many=True, description=description),
        Route("%s{%s}/" % (path, param), "%s Instance" % model,
              _get("detail", access, "Retrieve one of %s" % path.rstrip("/")),
              params={param: kind}, resource=resource, key=param, description=description),
    ]


ROUTES: tuple[Route, ...] = (
    Route("", "Api Root", _get("root", "any", "The API's top-level routes"),
          description="The top-level routes of the API, as absolute URLs."),
    Route("token/", "Obtain Auth Token",
          (Operation("POST", "token", "any", "Exchange a username and password for a token"),),
          suffix=False, open_end=True,
          description="POST the web credentials, get the user's first API token."),
    # -- jobs and their results --------------------------------------------------------------
    *_collection("jobs/", "Test Job", "jobs", "id", "int"),
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
    *_collection("devicetypes/", "Device Type", "devicetypes", "name", "name"),
    *_collection("devices/", "Device", "devices", "hostname", "name",
                 description="Retired devices are listed only with ?all=<anything>."),
    Route("devices/{hostname}/dictionary/", "Device Dictionary",
          _get("device_dictionary", "any",
               "The device dictionary (Jinja2), or rendered as YAML with ?render=1"),
          params={"hostname": "name"}, resource="devices", key="hostname",
          produces="text/plain"),
    *_collection("workers/", "Worker", "workers", "hostname", "name"),
    *_collection("aliases/", "Alias", "aliases", "name", "pk", access="authenticated"),
    *_collection("tags/", "Tag", "tags", "id", "int", access="authenticated"),
    # -- permissions, accounts ----------------------------------------------------------------
    *_collection("permissions/devicetypes/", "Group Device Type Permission",
                 "permissions/devicetypes", "id", "int", access="superuser"),
    *_collection("permissions/devices/", "Group Device Permission", "permissions/devices",
                 "id", "int", access="superuser"),
    *_collection("remote-artifact-tokens/", "Remote Artifact Token", "remote-artifact-tokens",
                 "name", "pk", access="authenticated"),
    *_collection("groups/", "Group", "groups", "id", "int", access="superuser"),
    *_collection("users/", "User", "users", "id", "int", access="superuser"),
    # -- system -------------------------------------------------------------------------
    Route("system/", "System", _get("system", "any", "Nothing (an empty answer)")),
    Route("system/version/", "System Version",
          _get("version", "any", "The LAVA version this server speaks")),
    Route("system/whoami/", "System Whoami", _get("whoami", "any", "The caller's username")),
    Route("system/master_config/", "System Master Config",
          _get("master_config", "any", "The event publisher and log settings")),
    # -- v0.3: only the root and the token endpoint -----------------------------------------
    Route("", "Api Root", _get("empty_root", "any", "Nothing yet"), version="v0.3"),
    Route("token/", "Obtain Auth Token",
          (Operation("POST", "token", "any", "Exchange a username and password for a token"),),
          version="v0.3", suffix=False, open_end=True),
)
