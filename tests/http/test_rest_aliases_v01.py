"""Older spellings of the REST API, served by the same views: LAVA 2023.01's /api/v0.1/
(devices, devicetypes, jobs, workers; spec 1.1, 10.2) and the /restapi/v0.x/ prefix of
LAVA's documentation examples (spec 10.1)."""

from __future__ import annotations

import json

import pytest
from restlab import Client
from twisted.internet import reactor
from twisted.web.resource import Resource

from lavad.config import load_settings
from lavad.http.rest import build_rest
from lavad.http.rest.routes import ROUTES, V01_PATHS
from lavad.http.root import build_root
from lavad.lab import Lab

JSON = {"Content-Type": "application/json"}
JOB = """\
device_type: public_device_type1
job_name: v01
timeouts: {job: {minutes: 1}}
visibility: public
actions: [{boot: {method: qemu, media: tmpfs, prompts: ['# ']}}]
"""
V01_ROOT = {"devices": "http://testserver/api/v0.1/devices/",
            "devicetypes": "http://testserver/api/v0.1/devicetypes/",
            "jobs": "http://testserver/api/v0.1/jobs/",
            "workers": "http://testserver/api/v0.1/workers/"}


def test_v01_root(rest):
    """GET /api/v0.1/ lists LAVA 2023.01's four v0.1 collections, in its order."""
    answer = rest.get("/api/v0.1/")
    assert (answer.code, answer.json) == (200, V01_ROOT)
    assert list(answer.json) == list(V01_ROOT)


@pytest.mark.parametrize("path", [
    "jobs/", "jobs/1/", "jobs/1/suites/", "jobs/1/tests/", "jobs/1/tap13/", "devices/",
    "devices/public01/", "devicetypes/", "devicetypes/public_device_type1/", "workers/",
    "workers/worker1/", "jobs/?ordering=-id&limit=1", "devices/?all=1",
])
@pytest.mark.parametrize("as_", [None, "user1", "admin"])
def test_v01_reads_answer_as_v02(rest, path, as_):
    """Every v0.1 read answers exactly what v0.2 answers (links aside), for each caller."""
    old = rest.get("/api/v0.1/" + path, as_)
    new = rest.get("/api/v0.2/" + path, as_)
    assert old.code == new.code == 200
    assert old.body.replace(b"/api/v0.1/", b"/api/v0.2/") == new.body


@pytest.mark.parametrize("path", ["aliases/", "tags/", "users/", "system/version/",
                                  "jobs/1/metadata/", "devices/public01/dictionary/",
                                  "jobs/validate/", "nothing/"])
def test_v01_has_only_its_routes(rest, path):
    """Routes LAVA added after v0.1 are 404 under /api/v0.1/."""
    answer = rest.get("/api/v0.1/" + path, "admin")
    assert (answer.code, answer.json) == (404, {"detail": "Not found."})


def test_v01_devices_and_workers_are_read_only(rest):
    """v0.1 devices and workers answer 405 to writes, even for a superuser."""
    for path in ("devices/", "workers/"):
        answer = rest.request("POST", "/api/v0.1/" + path, "admin", headers=JSON,
                              data=json.dumps({"hostname": "x"}))
        assert (answer.code, answer.json) == (405, {"detail": 'Method "POST" not allowed.'})
        assert answer.header("Allow") == "GET, HEAD, OPTIONS"
    answer = rest.request("DELETE", "/api/v0.1/devices/public01/", "admin")
    assert answer.code == 405
    assert rest.get("/api/v0.2/devices/public01/").code == 200


def test_v01_job_submission_and_device_type_writes(rest):
    """v0.1 jobs/ takes submissions and v0.1 devicetypes/ superuser writes, as v0.2."""
    answer = rest.request("POST", "/api/v0.1/jobs/", "user1", headers=JSON,
                          data=json.dumps({"definition": JOB}))
    assert (answer.code, answer.json) == (
        201, {"message": "job(s) successfully submitted", "job_ids": [6]})
    answer = rest.request("POST", "/api/v0.1/devicetypes/", "admin", headers=JSON,
                          data=json.dumps({"name": "v01type", "aliases": []}))
    assert (answer.code, answer.json["name"]) == (201, "v01type")
    answer = rest.request("DELETE", "/api/v0.1/devicetypes/v01type/", "user1")
    assert answer.code == 403
    assert rest.request("DELETE", "/api/v0.1/devicetypes/v01type/", "admin").code == 204


def test_v01_token(rest):
    """POST /api/v0.1/token/ (the seed doc's example) returns the user's token."""
    answer = rest.request("POST", "/api/v0.1/token/", headers=JSON,
                          data=json.dumps({"username": "user1", "password": "pw-user1"}))
    assert (answer.code, answer.json) == (200, {"token": "user1token"})


def test_v01_routes_mirror_v02():
    """Each v0.1 route is a v0.2 route's copy (same views, same parameters)."""
    v02 = {r.path: r for r in ROUTES if r.version == "v0.2"}
    v01 = [r for r in ROUTES if r.version == "v0.1"]
    assert {r.path for r in v01} == set(V01_PATHS)
    for route in v01:
        if route.path:
            assert route.params == v02[route.path].params
            assert set(route.operations) <= set(v02[route.path].operations)


# -- /restapi/ -------------------------------------------------------------------------------------
@pytest.fixture
def both(rest_store):
    """The API mounted at /api/ and /restapi/, as the server's root mounts it."""
    app = build_rest(Lab(rest_store), load_settings({}))
    root = Resource()
    root.putChild(b"api", app.resource())
    root.putChild(b"restapi", app.resource())
    return Client(root)


@pytest.mark.parametrize("version", ["v0.1", "v0.2"])
def test_restapi_prefix(both, version):
    """/restapi/v0.x/... answers as /api/v0.x/..., with links under /restapi/."""
    answer = both.get("/restapi/%s/jobs/?ordering=start_time&limit=1" % version, "admin")
    assert answer.code == 200
    assert answer.json["next"] == (
        "http://testserver/restapi/%s/jobs/?limit=1&offset=1&ordering=start_time" % version)
    same = both.get("/api/%s/jobs/?ordering=start_time&limit=1" % version, "admin")
    assert answer.body.replace(b"/restapi/", b"/api/") == same.body


def test_restapi_root_and_writes(both):
    """The root lists /restapi/ URLs, and writes work there too."""
    assert both.get("/restapi/v0.2/").json["jobs"] == "http://testserver/restapi/v0.2/jobs/"
    assert both.get("/restapi/v0.3/").json == {}
    answer = both.request("POST", "/restapi/v0.2/tags/", "admin", headers=JSON,
                          data=json.dumps({"name": "viarestapi"}))
    assert (answer.code, answer.json["name"]) == (201, "viarestapi")
    answer = both.get("/restapi/v0.2/jobs", "admin")
    assert (answer.code, answer.header("Location")) == (301, "/restapi/v0.2/jobs/")
    assert both.get("/restapi/v0.2/nothing/").json == {"detail": "Not found."}


def test_site_root_mounts_restapi(rest_store):
    """The server's root resource serves /restapi/ beside /api/."""
    from types import SimpleNamespace

    owner = SimpleNamespace(settings=load_settings({}), lab=Lab(rest_store), files=None)
    client = Client(build_root(owner, reactor))
    answer = client.get("/restapi/v0.2/devices/public01/")
    assert (answer.code, answer.json["hostname"]) == (200, "public01")
    assert client.get("/api/v0.1/").json == V01_ROOT
