"""Every REST read route: exact JSON (keys in the spec's order), pagination, efficiency."""

from __future__ import annotations

import json

import pytest

from lavad.files import LabFiles

DEFINITION = "device_type: x\njob_name: test\n"

JOB1 = {
    "id": 1, "submitter": "user1", "viewing_groups": [], "description": "test",
    "health_check": False, "requested_device_type": "public_device_type1", "tags": [1],
    "actual_device": "public01", "submit_time": "2026-07-01T11:59:00.123456Z",
    "start_time": "2026-07-01T12:00:00.123456Z", "end_time": "2026-07-01T12:03:00Z",
    "state": "Finished", "health": "Incomplete", "priority": 50, "definition": DEFINITION,
    "metadata": {"branch": "main", "nested": {"k": "v"}, "build_id": "1234"},
    "original_definition": DEFINITION, "multinode_definition": "", "failure_tags": [],
    "failure_comment": "oops",
}
JOB3 = {
    "id": 3, "submitter": "user2", "viewing_groups": [1], "description": "group job",
    "health_check": False, "requested_device_type": "public_device_type1", "tags": [],
    "actual_device": None, "submit_time": "2026-07-01T10:00:00Z", "start_time": None,
    "end_time": None, "state": "Submitted", "health": "Unknown", "priority": 50,
    "definition": DEFINITION, "metadata": {"branch": "dev"}, "original_definition": DEFINITION,
    "multinode_definition": "", "failure_tags": [], "failure_comment": None,
}
PUBLIC_DT = {
    "name": "public_device_type1", "architecture": "ARMv8", "processor": "Kirin",
    "cpu_model": "k960", "aliases": ["alias1"], "bits": 64, "cores": ["Cortex-A53"],
    "core_count": 8, "description": "dt desc", "health_frequency": 24,
    "disable_health_check": False, "health_denominator": "hours", "display": True,
}
HIDDEN_DT = {
    "name": "hidden_device_type", "architecture": None, "processor": None, "cpu_model": None,
    "aliases": ["alias3"], "bits": None, "cores": [], "core_count": None, "description": None,
    "health_frequency": 24, "disable_health_check": False, "health_denominator": "jobs",
    "display": False,
}
PUBLIC01 = {
    "hostname": "public01", "device_type": "public_device_type1", "device_version": None,
    "physical_owner": 2, "physical_group": 1, "description": "d desc", "tags": [1],
    "state": "Idle", "health": "Good", "last_health_report_job": None, "worker_host": "worker1",
    "is_synced": False,
}
RESTRICTED01 = {
    "hostname": "restricted01", "device_type": "restricted_device_type1",
    "device_version": None, "physical_owner": None, "physical_group": None,
    "description": None, "tags": [], "state": "Idle", "health": "Maintenance",
    "last_health_report_job": 4, "worker_host": "worker2", "is_synced": False,
}
WORKER1 = {"hostname": "worker1", "state": "Offline", "health": "Active", "description": "desc",
           "last_ping": "2026-07-01T10:00:00Z", "job_limit": 0, "version": None}
SUITE2 = {"id": 2, "resource_uri": "http://testserver/api/v0.2/jobs/1/suites/2/",
          "name": "0_smoke", "job": 1}
CASE2 = {
    "id": 2, "result": "pass",
    "resource_uri": "http://testserver/api/v0.2/jobs/1/suites/2/tests/2/", "unit": "ms",
    "name": "c1", "measurement": "12.5000000000",
    "metadata": "case: c1\ndefinition: 0_smoke\nresult: pass\nmeasurement: 12.5\nunits: ms\n",
    "start_log_line": 3, "end_log_line": 4, "logged": "2026-07-01T12:01:00Z", "suite": 2,
    "test_set": None,
}
CASE3 = {
    "id": 3, "result": "fail",
    "resource_uri": "http://testserver/api/v0.2/jobs/1/suites/2/tests/3/", "unit": "s",
    "name": "c2", "measurement": "-3.0000000000", "metadata": None, "start_log_line": 5,
    "end_log_line": 6, "logged": "2026-07-01T12:02:00Z", "suite": 2, "test_set": 1,
}
USER1 = {"id": 2, "username": "user1", "first_name": "", "last_name": "",
         "email": "user1@example.com", "is_active": True, "is_staff": False,
         "is_superuser": False, "groups": ["group1"], "last_login": None,
         "date_joined": "2026-07-01T10:00:00Z"}


def same(actual, expected):
    """Equal, with the same key order at every level."""
    assert actual == expected
    assert json.dumps(actual) == json.dumps(expected)


def page(results, count=None, next=None, previous=None):
    return {"count": len(results) if count is None else count, "next": next,
            "previous": previous, "results": results}


# -- details ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path,as_,expected", [
    ("jobs/1/", None, JOB1),
    ("jobs/3/", "user1", JOB3),
    ("devicetypes/public_device_type1/", None, PUBLIC_DT),
    ("devicetypes/hidden_device_type/", None, HIDDEN_DT),
    ("devices/public01/", None, PUBLIC01),
    ("devices/restricted01/", "user1", RESTRICTED01),
    ("workers/worker1/", None, WORKER1),
    ("aliases/alias1/", "user3", {"name": "alias1", "device_type": "public_device_type1"}),
    ("tags/1/", "user3", {"id": 1, "name": "tag1", "description": "description1"}),
    ("tags/2/", "user3", {"id": 2, "name": "tag2", "description": None}),
    ("permissions/devicetypes/1/", "admin", {"id": 1, "group": "group1",
                                              "permission": "view_devicetype",
                                              "devicetype": "restricted_device_type1"}),
    ("permissions/devices/1/", "admin", {"id": 1, "group": "group2",
                                          "permission": "view_device", "device": "private01"}),
    ("groups/1/", "admin", {"id": 1, "name": "group1"}),
    ("users/2/", "admin", USER1),
    ("remote-artifact-tokens/token1/", "user1", {"name": "token1", "token": "value1"}),
    ("jobs/1/suites/2/", None, SUITE2),
    ("jobs/1/suites/2/tests/2/", None, CASE2),
    ("jobs/1/suites/2/tests/3/", None, CASE3),
    ("jobs/1/tests/3/", None, CASE3),
])
def test_detail(rest, path, as_, expected):
    """Each detail route renders its object exactly, keys in the spec's order."""
    answer = rest.get("/api/v0.2/" + path, as_)
    assert answer.code == 200, answer.body
    same(answer.json, expected)


def test_job_token_only_for_superusers(rest):
    """jobs/ and workers/ add ``token`` (last key) for superusers only."""
    job = rest.get("/api/v0.2/jobs/1/", "admin").json
    assert list(job) == list(JOB1) + ["token"]
    assert len(job["token"]) == 32
    assert "token" not in rest.get("/api/v0.2/jobs/1/", "user1").json
    assert [list(j)[-1] for j in rest.get("/api/v0.2/jobs/", "admin").json["results"]] == \
        ["token"] * 5
    worker = rest.get("/api/v0.2/workers/worker1/", "admin").json
    same(worker, {**WORKER1, "token": "w" * 32})
    assert "token" not in rest.get("/api/v0.2/workers/worker1/", "user1").json


def test_job_metadata(rest):
    """jobs/{id}/metadata/ lists one-key objects, values as Python str(), jsonb key order."""
    same(rest.get("/api/v0.2/jobs/1/metadata/").json, {"metadata": [
        {"branch": "main"}, {"nested": "{'k': 'v'}"}, {"build_id": "1234"}]})
    same(rest.get("/api/v0.2/jobs/4/metadata/", "user1").json, {"metadata": []})
    assert rest.get("/api/v0.2/jobs/4/metadata/").json == {
        "detail": "No TestJob matches the given query."}


# -- lists ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,as_,expected", [
    ("devicetypes/", None, page([HIDDEN_DT, PUBLIC_DT])),
    ("workers/", "user1", page([WORKER1, {**WORKER1, "hostname": "worker2",
                                          "description": None}])),
    ("aliases/", "user1", page([{"name": "alias1", "device_type": "public_device_type1"},
                                {"name": "alias2", "device_type": "restricted_device_type1"}])),
    ("tags/", "user2", page([{"id": 1, "name": "tag1", "description": "description1"},
                             {"id": 2, "name": "tag2", "description": None}])),
    ("groups/", "admin", page([{"id": 1, "name": "group1"}, {"id": 2, "name": "group2"}])),
    ("remote-artifact-tokens/", "user1", page([{"name": "token0", "token": "value0"},
                                               {"name": "token1", "token": "value1"}])),
    ("jobs/1/suites/", None, page([{**SUITE2, "id": 1, "name": "lava",
                                    "resource_uri": SUITE2["resource_uri"][:-2] + "1/"},
                                   SUITE2])),
    ("jobs/1/suites/2/tests/", None, page([CASE2, CASE3, {
        **CASE2, "id": 4, "result": "skip", "name": "c3", "unit": "", "measurement": None,
        "metadata": None, "start_log_line": None, "end_log_line": None,
        "logged": "2026-07-01T12:02:30Z",
        "resource_uri": "http://testserver/api/v0.2/jobs/1/suites/2/tests/4/"}])),
])
def test_list(rest, path, as_, expected):
    """Each list route renders count, next, previous and its records exactly."""
    answer = rest.get("/api/v0.2/" + path, as_)
    assert answer.code == 200, answer.body
    same(answer.json, expected)


def test_users_list(rest):
    """users/ (superuser) lists accounts by username with their group names."""
    answer = rest.get("/api/v0.2/users/", "admin").json
    assert [u["username"] for u in answer["results"]] == [
        "admin", "inactive", "user1", "user2", "user3"]
    same(answer["results"][2], USER1)


def test_jobs_list_is_newest_first(rest):
    """jobs/ defaults to -id; the anonymous list holds only public, visible jobs."""
    answer = rest.get("/api/v0.2/jobs/").json
    same(answer, page([JOB1]))
    assert [j["id"] for j in rest.get("/api/v0.2/jobs/", "admin").json["results"]] == \
        [5, 4, 3, 2, 1]


def test_devices_list_hides_retired(rest):
    """devices/ hides Retired devices unless ?all= is given (list and detail)."""
    assert [d["hostname"] for d in rest.get("/api/v0.2/devices/", "admin").json["results"]] == \
        ["private01", "public01", "restricted01"]
    assert [d["hostname"] for d in
            rest.get("/api/v0.2/devices/?all=1", "admin").json["results"]] == \
        ["private01", "public01", "public02", "restricted01"]
    assert rest.get("/api/v0.2/devices/public02/").json == {
        "detail": "No Device matches the given query."}
    assert rest.get("/api/v0.2/devices/public02/?all=true").json["health"] == "Retired"


def test_nested_tests_of_a_job(rest):
    """jobs/{id}/tests/ lists every case of the job; resource_uri is the suite-nested form."""
    answer = rest.get("/api/v0.2/jobs/1/tests/").json
    assert [c["id"] for c in answer["results"]] == [1, 2, 3, 4]
    assert answer["results"][0]["resource_uri"] == \
        "http://testserver/api/v0.2/jobs/1/suites/1/tests/1/"
    assert rest.get("/api/v0.2/jobs/1/suites/999/tests/").json == page([])


def test_nested_objects_of_another_parent(rest):
    """A suite or case outside the job (or suite) in the path is 404."""
    assert rest.get("/api/v0.2/jobs/1/suites/3/", "admin").json == {
        "detail": "No TestSuite matches the given query."}
    assert rest.get("/api/v0.2/jobs/1/tests/5/", "admin").json == {
        "detail": "No TestCase matches the given query."}
    assert rest.get("/api/v0.2/jobs/1/suites/1/tests/2/").json == {
        "detail": "No TestCase matches the given query."}


# -- pagination ---------------------------------------------------------------------------------
@pytest.mark.parametrize("query,ids,next,previous", [
    ("", [5, 4, 3, 2, 1], None, None),
    ("?limit=2", [5, 4], "?limit=2&offset=2", None),
    ("?limit=2&offset=2", [3, 2], "?limit=2&offset=4", "?limit=2"),
    ("?limit=2&offset=3", [2, 1], None, "?limit=2&offset=1"),
    ("?limit=1&offset=4", [1], None, "?limit=1&offset=3"),
    ("?offset=1", [4, 3, 2, 1], None, "?limit=50"),
    ("?limit=abc&offset=-3", [5, 4, 3, 2, 1], None, None),
    ("?limit=0", [5, 4, 3, 2, 1], None, None),
    ("?limit=-1&offset=x", [5, 4, 3, 2, 1], None, None),
    ("?offset=10", [], None, "?limit=50"),
    ("?state=Submitted&limit=1", [4], "?limit=1&offset=1&state=Submitted", None),
    ("?page=2&limit=4", [5, 4, 3, 2], "?limit=4&offset=4&page=2", None),
])
def test_pagination(rest, query, ids, next, previous):
    """limit/offset pagination: defaults, bad values, sorted absolute next/previous URLs."""
    answer = rest.get("/api/v0.2/jobs/" + query, "admin").json
    assert list(answer) == ["count", "next", "previous", "results"]
    assert [j["id"] for j in answer["results"]] == ids
    base = "http://testserver/api/v0.2/jobs/"
    assert answer["next"] == (base + next if next else None)
    assert answer["previous"] == (base + previous if previous else None)


def test_default_page_size_is_50(rest):
    """Without limit, a page holds 50 records and next asks for limit=50&offset=50."""
    rest.store.conn.executemany(
        "INSERT INTO tags (name) VALUES (?)", [("extra%02d" % i,) for i in range(60)])
    answer = rest.get("/api/v0.2/tags/", "user1").json
    assert (answer["count"], len(answer["results"])) == (62, 50)
    assert answer["next"] == "http://testserver/api/v0.2/tags/?limit=50&offset=50"


# -- the device dictionary ---------------------------------------------------------------------
def test_device_dictionary_raw(rest):
    """GET devices/{h}/dictionary/ answers the Jinja2 text as an attachment."""
    answer = rest.get("/api/v0.2/devices/private01/dictionary/", "user2")
    assert answer.code == 200
    assert answer.body == b"{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n"
    assert answer.header("Content-Type") == "text/plain"
    assert answer.header("Content-Disposition") == "attachment; filename=private01.jinja2"


def test_device_dictionary_errors(rest):
    """No dictionary is 400; invisible or retired devices are 404 (retired: unless ?all)."""
    assert rest.get("/api/v0.2/devices/public01/dictionary/").json == {
        "detail": "Device 'public01' does not have a configuration"}
    assert rest.get("/api/v0.2/devices/private01/dictionary/").json == {
        "detail": "No Device matches the given query."}
    assert rest.get("/api/v0.2/devices/public02/dictionary/").code == 404
    assert rest.get("/api/v0.2/devices/public02/dictionary/?all=1").code == 200


def test_device_dictionary_rendered(rest, tmp_path):
    """?render= renders through the device-type templates (lavad.files); ?context= feeds it."""
    templates = tmp_path / "device-types"
    templates.mkdir()
    (templates / "qemu.jinja2").write_text(
        "device_type: qemu\narch: {{ arch }}\nname: {{ scheduled_device_name }}\n"
        "{% if memory %}memory: {{ memory }}\n{% endif %}")
    from restlab import Client, make_root

    from lavad.config import load_settings
    from lavad.http.rest import build_rest
    from lavad.lab import Lab

    files = LabFiles(str(tmp_path), [str(templates)])
    from twisted.web.resource import Resource

    root = Resource()
    root.putChild(b"api", build_rest(Lab(rest.store), load_settings({}), files).resource())
    client = Client(root)
    answer = client.get("/api/v0.2/devices/private01/dictionary/?render=1", "user2")
    assert answer.code == 200
    assert answer.body == b"device_type: qemu\narch: amd64\nname: private01\n"
    assert answer.header("Content-Type") == "application/yaml"
    assert answer.header("Content-Disposition") == "attachment; filename=private01.yaml"
    answer = client.get("/api/v0.2/devices/private01/dictionary/?render=1&context="
                        "%7Bmemory%3A%202048%7D", "user2")
    assert answer.body.endswith(b"memory: 2048\n")
    answer = client.get("/api/v0.2/devices/private01/dictionary/?render=1&context=%7Bx",
                        "user2")
    assert answer.code == 400 and answer.json["detail"].startswith("Job Context '{x' is not valid:")
    rest.store.conn.execute("UPDATE devices SET dictionary = ? WHERE hostname = 'private01'",
                           ("{% extends 'nope.jinja2' %}",))
    answer = client.get("/api/v0.2/devices/private01/dictionary/?render=1", "user2")
    assert answer.code == 400 and "'nope.jinja2' was not found" in answer.json["detail"]
    # Without LabFiles (make_root passes none) rendering is a clean 400.
    plain = Client(make_root(Lab(rest.store), load_settings({})))
    assert plain.get("/api/v0.2/devices/private01/dictionary/?render=1", "user2").code == 400


# -- efficiency ----------------------------------------------------------------------------------
def test_jobs_list_is_constant_queries(rest):
    """A jobs page costs the same few queries whatever its size (no per-row queries)."""
    conn = rest.store.conn
    conn.executemany(
        "INSERT INTO test_jobs (submitter_id, requested_device_type, actual_device,"
        " submit_time, definition, token, description) VALUES (?, ?, ?, ?, ?, 't', ?)",
        [(rest.ids.user1, "public_device_type1", "public01" if i % 2 else None,
          "2026-07-01T12:00:00.000000", "x" * 1000, "job %d" % i) for i in range(5000)])
    conn.execute("INSERT INTO test_job_tags SELECT id, 1 FROM test_jobs WHERE id > 5")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        for query in ("", "?limit=500", "?requested_device_type__name=public_device_type1",
                      "?tags__name=tag1&ordering=-submit_time&offset=4000"):
            statements.clear()
            answer = rest.get("/api/v0.2/jobs/" + query)
            assert answer.json["count"] == 5001
            # BEGIN, data_version (the count cache's check), page, viewing groups, tags,
            # failure tags, COMMIT; and the count, unless the cache has it (?limit=500
            # counts what "" counted)
            counts = [s for s in statements if s.startswith("SELECT count(*)")]
            assert len(statements) - len(counts) == 7, statements
            assert len(counts) == (0 if query == "?limit=500" else 1), statements
    finally:
        conn.set_trace_callback(None)
