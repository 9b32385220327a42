"""The API's description: openapi.json (valid, generated from the route table, no drift in
either direction, record schemas that match what the server renders) and the HTML page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from lavad import query
from lavad.http.rest import openapi
from lavad.http.rest.app import allowed_methods
from lavad.http.rest.routes import ROOT_ENTRIES, ROUTES
from lavad.models import JobState
from lavad.query.records import RECORDS

DOC = openapi.document()


def test_document_is_valid_openapi():
    """The generated document passes the OpenAPI 3.0 validator."""
    assert DOC["openapi"].startswith("3.0")
    validate(DOC)


def test_served_document_is_the_generated_one(rest):
    """GET openapi.json answers the document of the route table, for anyone."""
    answer = rest.get("/api/v0.2/openapi.json")
    assert answer.code == 200
    assert answer.header("Content-Type") == "application/json"
    assert answer.json == DOC


def test_every_route_is_documented_with_its_methods():
    """Each route of the table is a documented path whose methods are its Allow header's."""
    first: dict[str, Any] = {}
    for route in ROUTES:
        first.setdefault(openapi.path_of(route), route)
    assert set(DOC["paths"]) == set(first)
    for path, route in first.items():
        assert list(DOC["paths"][path]) == [m.lower() for m in allowed_methods(route)], path


def test_operation_ids_are_unique():
    """Every operation has its own operationId."""
    ids = [op["operationId"] for item in DOC["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_lists_document_filters_ordering_and_pages():
    """A list documents every filter and lookup of its resource, ordering, limit, offset and
    format; enum filters list the display names."""
    params = DOC["paths"]["/api/v0.2/jobs/"]["get"]["parameters"]
    names = {_param(p)["name"] for p in params}
    expected = {entry["name"] for entry in query.parameters("jobs")}
    assert expected <= names
    assert {"ordering", "limit", "offset", "format", "requested_device_type__name__in",
            "actual_device__worker_host__hostname"} <= names
    state = next(_param(p) for p in params if _param(p)["name"] == "state")
    assert state["schema"]["enum"] == JobState.displays()
    devices = {_param(p)["name"] for p in DOC["paths"]["/api/v0.2/devices/"]["get"]["parameters"]}
    assert "all" in devices


def test_writes_document_their_bodies_and_statuses():
    """Create, update and action operations carry their request bodies and success codes."""
    create = DOC["paths"]["/api/v0.2/devices/"]["post"]
    assert "201" in create["responses"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    schema = DOC["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert "hostname" in schema["required"]
    assert schema["properties"]["health"]["enum"][0] == "Good"
    delete = DOC["paths"]["/api/v0.2/devices/{hostname}/"]["delete"]
    assert "204" in delete["responses"]
    health = DOC["paths"]["/api/v0.2/devices/{hostname}/set_health/"]["post"]
    assert "202" in health["responses"]
    validate_body = DOC["paths"]["/api/v0.2/devices/validate/"]["post"]["requestBody"]
    assert list(validate_body["content"]) == ["text/plain"]


def _param(param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return DOC["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
    return param


# -- every documented path is served ------------------------------------------------------------
def _instances(ids: Any, store: Any) -> dict[tuple[str, str], Any]:
    """(collection, path parameter) -> an object of the test lab, visible to admin."""
    conn = store.conn
    return {
        ("jobs", "id"): ids.job1, ("jobs", "suite_id"): ids.suite_smoke,
        ("jobs", "case_id"): ids.cases[1], ("devicetypes", "name"): "public_device_type1",
        ("devices", "hostname"): "private01", ("workers", "hostname"): "worker1",
        ("aliases", "name"): "alias1", ("tags", "id"): ids.tag1,
        ("permissions/devicetypes", "id"): conn.execute(
            "SELECT min(id) FROM group_device_type_permissions").fetchone()[0],
        ("permissions/devices", "id"): conn.execute(
            "SELECT min(id) FROM group_device_permissions").fetchone()[0],
        ("remote-artifact-tokens", "name"): "token1", ("groups", "id"): ids.group1,
        ("users", "id"): ids.user1,
    }


def _collection(path: str) -> str:
    rest = re.sub(r"^/api/v0\.\d/", "", path)
    return "/".join(rest.split("/")[:2]) if rest.startswith("permissions/") \
        else rest.split("/")[0]


def _instance(path: str, instances: dict[tuple[str, str], Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(instances[(_collection(path), m.group(1))]),
                  path)


# Documented GETs that the test lab cannot answer with a 2xx: no log file for job 1.
NO_DATA = {"/api/v0.2/jobs/{id}/logs/", "/api/v0.1/jobs/{id}/logs/"}


def test_every_documented_path_is_served(rest):
    """Each documented path, with real objects in it, reaches its route: OPTIONS answers the
    route's name and the documented methods, GET answers a documented status other than 404
    (a superuser, or the token's owner for remote-artifact-tokens)."""
    instances = _instances(rest.ids, rest.store)
    names = {}
    for route in ROUTES:
        names.setdefault(openapi.path_of(route), route.name)
    for path, item in DOC["paths"].items():
        url = _instance(path, instances)
        who = "user1" if "remote-artifact-tokens" in path else "admin"
        allow = ", ".join(m.upper() for m in item)
        answer = rest.request("OPTIONS", url, as_=who)
        assert (answer.code, answer.json["name"]) == (200, names[path]), url
        assert answer.header("Allow") == allow, url
        if "get" not in item:
            continue
        answer = rest.get(url, as_=who)
        assert answer.header("Allow") == allow, url
        assert str(answer.code) in item["get"]["responses"], (url, answer.code, answer.body)
        if path not in NO_DATA:
            assert answer.code != 404, (url, answer.body)


# -- the records are what the schemas say --------------------------------------------------------
def _validator(schema: dict[str, Any]) -> OAS30Validator:
    return OAS30Validator({**schema, "components": DOC["components"]})


@pytest.mark.parametrize("who", ["admin", "user1"])
def test_records_match_their_schemas(rest, who):
    """Every record of every v0.2 list validates against its documented schema, with the
    declared fields in the declared order (superuser-only ones for superusers only)."""
    instances = _instances(rest.ids, rest.store)
    checked = 0
    for route in ROUTES:
        if route.version != "v0.2" or not route.many or route.resource is None:
            continue
        path = openapi.path_of(route)
        if who != "admin" and "superuser" in DOC["paths"][path]["get"]["x-lavad-access"]:
            continue
        answer = rest.get(_instance(path, instances) + "?limit=500&all=1", as_=who)
        assert answer.code == 200, (path, answer.body)
        schema = DOC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        _validator(schema["schema"]).validate(answer.json)
        declared = [f.name for f in RECORDS[route.resource]
                    if who == "admin" or not f.superuser]
        for record in answer.json["results"]:
            assert list(record) == declared, path
            checked += 1
    assert checked > 20


def test_records_are_declared_for_every_resource():
    """Each query resource has its record declared (the schemas' source)."""
    assert set(RECORDS) == set(query.RESOURCES)


# -- the HTML page -------------------------------------------------------------------------------
def test_html_page_lists_every_path_and_stays_offline(rest):
    """docs/ is one HTML page naming every documented path and operation, with examples,
    and nothing loaded from elsewhere (no script, no external link)."""
    answer = rest.get("/api/v0.2/docs/", headers={"Accept": "text/html"})
    assert answer.code == 200
    assert answer.header("Content-Type") == "text/html; charset=utf-8"
    html = answer.body.decode("utf-8")
    for path, item in DOC["paths"].items():
        assert 'id="%s"' % path in html, path
        for op in item.values():
            if op["operationId"].split("_")[0] in ("get", "post", "put", "patch", "delete"):
                assert 'id="%s"' % op["operationId"] in html
    assert "<script" not in html and "src=" not in html and "@import" not in html
    assert set(re.findall(r"https?://[^/\"' ]+", html)) == {"http://testserver"}
    assert 'href="../openapi.json"' in html
    assert "curl -H &#39;Authorization: Token $TOKEN&#39;" in html


def test_root_object_is_unchanged(rest):
    """The API root still lists exactly the spec's entries: the docs stay off it."""
    assert list(rest.get("/api/v0.2/").json) == list(ROOT_ENTRIES)
