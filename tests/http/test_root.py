"""lavad.http.root: the root resource and the /api/ routes it mounts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from treq.testing import StubTreq
from twisted.internet import reactor

from lavad.config import load_settings
from lavad.http.root import build_root


@pytest.fixture
def client():
    owner = SimpleNamespace(settings=load_settings({"event_socket": "tcp://*:5599"}), lab=None)
    return StubTreq(build_root(owner, reactor))


def get(client, path, method="GET"):
    response = client.request(method, "http://lavad.test" + path).result
    return response.code, response.headers.getRawHeaders(b"content-type"), \
        client.content(response).result


def test_version(client):
    """GET /api/v0.2/system/version/ answers LAVA's version as compact JSON."""
    assert get(client, "/api/v0.2/system/version/") == (
        200, [b"application/json"], b'{"version":"2026.07"}')


def test_whoami_anonymous(client):
    """GET /api/v0.2/system/whoami/ answers an empty user for an anonymous caller."""
    assert get(client, "/api/v0.2/system/whoami/") == (
        200, [b"application/json"], b'{"user":""}')


def test_master_config_comes_from_settings(client):
    """GET /api/v0.2/system/master_config/ reports the event and log settings."""
    code, _, body = get(client, "/api/v0.2/system/master_config/")
    assert code == 200
    assert json.loads(body) == {"EVENT_TOPIC": "org.lavasoftware",
                                "EVENT_SOCKET": "tcp://*:5599",
                                "EVENT_NOTIFICATION": True, "LOG_SIZE_LIMIT": 5}


def test_unknown_api_path_is_json_404(client):
    """An unknown path under /api/ is a JSON 404 like LAVA's REST API."""
    assert get(client, "/api/v0.2/nothing/here/") == (
        404, [b"application/json"], b'{"detail":"Not found."}')


def test_wrong_method_is_json_405(client):
    """A method a route does not take is a JSON 405."""
    code, types, body = get(client, "/api/v0.2/system/version/", method="DELETE")
    assert (code, types) == (405, [b"application/json"])
    assert json.loads(body) == {"detail": 'Method "DELETE" not allowed.'}


def test_each_root_has_its_own_app():
    """Two roots do not share routing state (Klein app built per instance)."""
    first = StubTreq(build_root(SimpleNamespace(settings=load_settings(
        {"event_socket": "tcp://*:1"}), lab=None), reactor))
    second = StubTreq(build_root(SimpleNamespace(settings=load_settings(
        {"event_socket": "tcp://*:2"}), lab=None), reactor))
    assert json.loads(get(first, "/api/v0.2/system/master_config/")[2])["EVENT_SOCKET"] \
        == "tcp://*:1"
    assert json.loads(get(second, "/api/v0.2/system/master_config/")[2])["EVENT_SOCKET"] \
        == "tcp://*:2"
