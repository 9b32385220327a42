"""The REST framework: routing, slashes, formats, negotiation, methods, auth, tokens, JSON."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
import treq
from restlab import TOKENS, Client, build, make_root
from twisted.internet import reactor
from twisted.web.client import HTTPConnectionPool
from twisted.web.server import Site

from lavad import users
from lavad.config import load_settings
from lavad.http.rest.routes import ROUTES
from lavad.http.root import build_root
from lavad.lab import Lab

ROOT = {
    "aliases": "http://testserver/api/v0.2/aliases/",
    "devices": "http://testserver/api/v0.2/devices/",
    "devicetypes": "http://testserver/api/v0.2/devicetypes/",
    "jobs": "http://testserver/api/v0.2/jobs/",
    "permissions/devicetypes": "http://testserver/api/v0.2/permissions/devicetypes/",
    "permissions/devices": "http://testserver/api/v0.2/permissions/devices/",
    "system": "http://testserver/api/v0.2/system/",
    "tags": "http://testserver/api/v0.2/tags/",
    "workers": "http://testserver/api/v0.2/workers/",
    "remote-artifact-tokens": "http://testserver/api/v0.2/remote-artifact-tokens/",
    "groups": "http://testserver/api/v0.2/groups/",
    "users": "http://testserver/api/v0.2/users/",
}


# -- root, versions, routing -------------------------------------------------------------------
def test_api_root(rest):
    """GET /api/v0.2/ lists the twelve top-level routes as absolute URLs, in LAVA's order."""
    answer = rest.get("/api/v0.2/")
    assert answer.code == 200
    assert list(answer.json) == list(ROOT)
    assert answer.json == ROOT
    assert answer.header("Allow") == "GET, HEAD, OPTIONS"
    assert answer.header("Content-Type") == "application/json"


def test_api_root_uses_the_request_host(rest):
    """Absolute URLs are built from the request's Host header."""
    other = Client(make_root(Lab(rest.store), load_settings({})), host="lava.example.org:8080")
    assert other.get("/api/v0.2/").json["jobs"] == "http://lava.example.org:8080/api/v0.2/jobs/"


def test_v03_root_is_empty(rest):
    """GET /api/v0.3/ answers an empty object; v0.3 has no resources."""
    assert (rest.get("/api/v0.3/").code, rest.get("/api/v0.3/").body) == (200, b"{}")
    assert rest.get("/api/v0.3/jobs/").code == 404


@pytest.mark.parametrize("path", ["/api/v0.4/", "/api/", "/api/v0.2/nothing/",
                                  "/api/v0.2/jobs/1/nothing/"])
def test_unknown_paths_are_404(rest, path):
    """Paths outside the route table answer 404 {"detail":"Not found."}."""
    answer = rest.get(path)
    assert (answer.code, answer.json) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_missing_trailing_slash_redirects(rest, method):
    """A route without its trailing slash is a 301 to the slashed path, query kept."""
    answer = rest.request(method, "/api/v0.2/jobs?limit=1&state=Finished")
    assert answer.code == 301
    assert answer.header("Location") == "/api/v0.2/jobs/?limit=1&state=Finished"
    assert answer.body == b""
    assert rest.get("/api/v0.2/devices/public01").header("Location") == \
        "/api/v0.2/devices/public01/"


def test_format_suffix_and_query(rest):
    """.json suffixes and ?format=json|api work; other formats are 404."""
    assert rest.get("/api/v0.2/jobs.json").json["count"] == 1
    assert rest.get("/api/v0.2/jobs/1.json").json["id"] == 1
    assert rest.get("/api/v0.2/jobs/1.json/").json["id"] == 1
    assert rest.get("/api/v0.2/jobs/?format=json").json["count"] == 1
    assert rest.get("/api/v0.2/jobs/?format=api").code == 200
    for path in ("/api/v0.2/jobs/?format=yaml", "/api/v0.2/jobs/12.1/",
                 "/api/v0.2/jobs/1.yaml", "/api/v0.2/system/version/?format=xml"):
        answer = rest.get(path)
        assert (answer.code, answer.json) == (404, {"detail": "Not found."}), path


def test_lookups_with_odd_characters(rest):
    """Device, device-type and worker lookups take dots, colons and quotes, percent-decoded."""
    from lavad import devices

    rest.store.sync(devices.thd_add_worker, "worker!~`@[].'")
    rest.store.sync(devices.thd_add_device, "device:.'][~;!", "public_device_type1",
                   worker_host="worker!~`@[].'")
    answer = rest.get("/api/v0.2/devices/device%3A.%27%5D%5B~%3B%21/")
    assert (answer.code, answer.json["hostname"]) == (200, "device:.'][~;!")
    assert rest.get("/api/v0.2/workers/worker%21~%60%40%5B%5D.%27/").json["hostname"] == \
        "worker!~`@[].'"
    assert rest.get("/api/v0.2/devicetypes/public_device_type1/").code == 200
    assert rest.get("/api/v0.2/devices/a%2Fb/").code == 404


# -- negotiation --------------------------------------------------------------------------------
@pytest.mark.parametrize("accept,code", [
    (None, 200), ("*/*", 200), ("application/json", 200), ("text/html", 200),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200),
    ("application/json; indent=4", 200), ("text/csv", 406), ("application/xml", 406),
])
def test_accept_negotiation(rest, accept, code):
    """Accept must allow JSON or HTML (answered with JSON); anything else is 406."""
    headers = {"Accept": accept} if accept else {}
    answer = rest.get("/api/v0.2/jobs/", headers=headers)
    assert answer.code == code
    assert answer.header("Content-Type") == "application/json"
    if code == 406:
        assert answer.json == {"detail": "Could not satisfy the request Accept header."}


def test_406_even_for_text_routes(rest):
    """The device dictionary (text/plain) also needs a JSON-compatible Accept header."""
    answer = rest.get("/api/v0.2/devices/private01/dictionary/", as_="admin",
                     headers={"Accept": "text/plain"})
    assert answer.code == 406


# -- methods ------------------------------------------------------------------------------------
def test_method_not_allowed(rest):
    """A method a route lacks is 405 with DRF's message and the Allow header."""
    answer = rest.request("DELETE", "/api/v0.2/system/version/")
    assert (answer.code, answer.json) == (405, {"detail": 'Method "DELETE" not allowed.'})
    assert answer.header("Allow") == "GET, HEAD, OPTIONS"
    answer = rest.get("/api/v0.2/token/")
    assert (answer.code, answer.json) == (405, {"detail": 'Method "GET" not allowed.'})
    assert answer.header("Allow") == "POST, OPTIONS"


def test_access_is_checked_before_the_method(rest):
    """Anonymous PUT on tags/ is 403 (authentication) before 405, as DRF orders it."""
    answer = rest.request("PUT", "/api/v0.2/tags/")
    assert (answer.code, answer.json) == (
        403, {"detail": "Authentication credentials were not provided."})


def test_head_has_headers_and_no_body(rest):
    """HEAD answers GET's status and headers, with the GET body's length and no body."""
    get = rest.get("/api/v0.2/jobs/")
    head = rest.request("HEAD", "/api/v0.2/jobs/")
    assert (head.code, head.body) == (200, b"")
    assert head.header("Content-Length") == str(len(get.body))
    assert head.header("Allow") == "GET, POST, HEAD, OPTIONS"


def test_options(rest):
    """OPTIONS describes the view: name, description, renderers and parsers."""
    answer = rest.request("OPTIONS", "/api/v0.2/jobs/")
    assert answer.code == 200
    assert list(answer.json) == ["name", "description", "renders", "parses"]
    assert answer.json["name"] == "Test Job List"
    assert answer.json["renders"] == ["application/json", "text/html"]
    assert rest.request("OPTIONS", "/api/v0.2/tags/").code == 403


def test_route_table_is_declarative():
    """Every route names known views, access levels and query resources."""
    from lavad.http.rest.views import VIEWS
    from lavad.query import RESOURCES

    for route in ROUTES:
        for op in route.operations:
            assert op.view in VIEWS and op.access in ("any", "authenticated", "superuser")
        assert route.resource is None or route.resource in RESOURCES
        assert set(route.params) == {p[1:-1] for p in route.path.split("/") if "{" in p}
        assert not route.many or route.resource


def test_streaming_replies(rest):
    """A view may stream its body (exports, logs): status and headers first, then writes."""
    from twisted.web.resource import Resource

    from lavad.http.rest import Operation, RestApi, Route
    from lavad.http.rest.views import VIEWS
    from lavad.http.rest.wire import Reply

    async def chunks(call):
        async def write(request):
            for part in (b"a,b\n", b"1,2\n"):
                request.write(part)
        return Reply(stream=write, content_type="text/csv",
                     headers={"Content-Disposition": "attachment; filename=x.csv"})

    route = Route("jobs/{id}/x/", "X", (Operation("GET", "chunks", "any", "CSV"),),
                  params={"id": "int"})
    api = RestApi(Lab(rest.store), load_settings({}), routes=(*ROUTES, route),
                  views={**VIEWS, "chunks": chunks})
    root = Resource()
    root.putChild(b"api", api.resource())
    answer = Client(root).get("/api/v0.2/jobs/1/x/")
    assert (answer.code, answer.body) == (200, b"a,b\n1,2\n")
    assert answer.header("Content-Type") == "text/csv"
    assert answer.header("Allow") == "GET, HEAD, OPTIONS"


def test_filter_parameters_are_introspectable():
    """lavad.query.parameters lists a resource's filters, relations followed, for docs."""
    from lavad.query import parameters

    names = {p["name"]: p for p in parameters("jobs")}
    assert names["requested_device_type__cores__name__startswith"]["kind"] == "str"
    assert names["actual_device__worker_host__hostname"]["lookup"] == "exact"
    assert names["submitter"] == {"name": "submitter", "kind": "int", "lookup": "pk"}
    assert names["state__in"]["choices"][0] == "Submitted"
    assert "alias__name" in {p["name"] for p in parameters("devicetypes")}


# -- JSON rendering --------------------------------------------------------------------------
def test_json_is_compact_utf8(rest):
    """JSON is compact, UTF-8, non-ASCII kept, U+2028 escaped, no charset parameter."""
    rest.store.conn.execute("UPDATE test_jobs SET description = ? WHERE id = 1",
                           ("été\u2028x",))
    answer = rest.get("/api/v0.2/jobs/1/")
    assert answer.header("Content-Type") == "application/json"
    assert b'"description":"\xc3\xa9t\xc3\xa9\\u2028x"' in answer.body
    assert b", " not in answer.body.split(b'"definition"')[0]


# -- authentication --------------------------------------------------------------------------
@pytest.mark.parametrize("header,code,body", [
    ("Token user1token", 200, {"user": "user1"}),
    ("token user1token", 200, {"user": "user1"}),
    ("TOKEN user1token", 200, {"user": "user1"}),
    ("Bearer user1token", 200, {"user": ""}),
    ("Basic dXNlcjE6dXNlcjF0b2tlbg==", 200, {"user": ""}),
    ("Token", 403, {"detail": "Invalid token header. No credentials provided."}),
    ("Token a b", 403, {"detail": "Invalid token header. Token string should not contain "
                                  "spaces."}),
    ("Token nosuchtoken", 403, {"detail": "Invalid token."}),
    ("Token inactivetoken", 403, {"detail": "User inactive or deleted."}),
])
def test_token_header(rest, header, code, body):
    """The Token scheme authenticates (any case); other schemes are anonymous; bad is 403."""
    answer = rest.get("/api/v0.2/system/whoami/", headers={"Authorization": header})
    assert (answer.code, answer.json) == (code, body)


def test_bad_token_fails_anonymous_routes(rest):
    """An unknown token is 403 even where anonymous callers are allowed."""
    answer = rest.get("/api/v0.2/jobs/", headers={"Authorization": "Token nope"})
    assert (answer.code, answer.json) == (403, {"detail": "Invalid token."})


def test_expired_token_is_invalid(rest):
    """An expired token does not authenticate."""
    rest.store.conn.execute("UPDATE auth_tokens SET expires_on = '2000-01-01T00:00:00.000000'"
                           " WHERE secret = 'user1token'")
    assert rest.get("/api/v0.2/system/whoami/", as_="user1").json == {"detail": "Invalid token."}


# -- the token endpoint ----------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["v0.2", "v0.3"])
def test_token_endpoint_json(rest, version):
    """POST token/ with JSON credentials returns the user's first token."""
    answer = rest.request("POST", "/api/%s/token/" % version,
                         headers={"Content-Type": "application/json"},
                         data=json.dumps({"username": "user1", "password": "pw-user1"}))
    assert (answer.code, answer.body) == (200, b'{"token":"user1token"}')


def test_token_endpoint_form_and_multipart(rest):
    """Form-encoded and multipart credentials work too."""
    form = rest.request("POST", "/api/v0.2/token/",
                       data={"username": "user2", "password": "pw-user2"})
    assert form.json == {"token": "user2token"}
    boundary = "xYzZY"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nuser2\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\npw-user2\r\n"
            "--%s--\r\n" % (boundary, boundary, boundary)).encode()
    multipart = rest.request("POST", "/api/v0.2/token/", data=body, headers={
        "Content-Type": "multipart/form-data; boundary=%s" % boundary})
    assert (multipart.code, multipart.json) == (200, {"token": "user2token"})


def test_token_endpoint_creates_a_token(rest):
    """A user without tokens gets a new one, described 'Created by REST API call'."""
    rest.store.conn.execute("DELETE FROM auth_tokens WHERE secret = 'user3token'")
    answer = rest.request("POST", "/api/v0.2/token/",
                         data={"username": "user3", "password": "pw-user3"})
    secret = answer.json["token"]
    assert len(secret) == 128
    tokens = rest.store.sync(users.thd_list_tokens, "user3")
    assert [(t["secret"], t["description"]) for t in tokens] == \
        [(secret, "Created by REST API call")]
    again = rest.request("POST", "/api/v0.2/token/anything",
                        data={"username": "user3", "password": "pw-user3"})
    assert again.json == {"token": secret}


@pytest.mark.parametrize("data,body", [
    ({"username": "user1", "password": "wrong"},
     {"non_field_errors": ["Unable to log in with provided credentials."]}),
    ({"username": "nobody", "password": "x"},
     {"non_field_errors": ["Unable to log in with provided credentials."]}),
    ({"username": "inactive", "password": "pw-inactive"},
     {"non_field_errors": ["Unable to log in with provided credentials."]}),
    ({}, {"username": ["This field is required."], "password": ["This field is required."]}),
    ({"username": "user1"}, {"password": ["This field is required."]}),
    ({"username": "", "password": "x"}, {"username": ["This field may not be blank."]}),
])
def test_token_endpoint_errors(rest, data, body):
    """Bad, unknown or inactive credentials and missing fields are DRF's 400 bodies."""
    answer = rest.request("POST", "/api/v0.2/token/", data=json.dumps(data),
                         headers={"Content-Type": "application/json"})
    assert (answer.code, answer.json) == (400, body)


def test_token_endpoint_bad_bodies(rest):
    """Malformed JSON is 400 with the parse error; other media types are 415."""
    answer = rest.request("POST", "/api/v0.2/token/", data=b"{x",
                         headers={"Content-Type": "application/json"})
    assert (answer.code, answer.json) == (400, {
        "detail": "JSON parse error - Expecting property name enclosed in double quotes: "
                  "line 1 column 2 (char 1)"})
    answer = rest.request("POST", "/api/v0.2/token/", data=b"x",
                         headers={"Content-Type": "text/plain"})
    assert (answer.code, answer.json) == (
        415, {"detail": 'Unsupported media type "text/plain" in request.'})
    assert rest.request("POST", "/api/v0.2/token").code == 301


# -- system ---------------------------------------------------------------------------------------
def test_system_routes(rest):
    """system/ is empty (no Content-Type); version, whoami and master_config answer JSON."""
    answer = rest.get("/api/v0.2/system/")
    assert (answer.code, answer.body, answer.header("Content-Type")) == (200, b"", None)
    assert rest.get("/api/v0.2/system/version/").body == b'{"version":"2026.07"}'
    assert rest.get("/api/v0.2/system/whoami/").body == b'{"user":""}'
    assert rest.get("/api/v0.2/system/whoami/", as_="user2").body == b'{"user":"user2"}'
    assert rest.get("/api/v0.2/system/master_config/").body == (
        b'{"EVENT_TOPIC":"org.lavasoftware","EVENT_SOCKET":"tcp://*:5500",'
        b'"EVENT_NOTIFICATION":true,"LOG_SIZE_LIMIT":5}')


# -- real HTTP -------------------------------------------------------------------------------
class _TxStore:
    """``build`` inside one store-thread transaction."""

    def __init__(self, tx):
        self.conn = tx.conn
        self._tx = tx

    def sync(self, fn, *args, **kwargs):
        return fn(self._tx, *args, **kwargs)


@pytest_twisted.ensureDeferred
async def test_loopback_round_trip(store):
    """Through the real store thread and a loopback port: auth, list, detail, filters."""
    await store.run(lambda tx: build(_TxStore(tx)))
    root = make_root(Lab(store), load_settings({}))
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    try:
        base = "http://127.0.0.1:%d/api/v0.2/" % port.getHost().port
        auth = {"Authorization": "Token %s" % TOKENS["admin"]}
        pool = HTTPConnectionPool(reactor, persistent=False)
        response = await treq.get(base + "jobs/?state=Finished", headers=auth, pool=pool)
        body = await response.content()
        assert response.code == 200
        assert response.length == len(body)  # the client keeps Content-Length to itself
        assert [j["id"] for j in json.loads(body)["results"]] == [1]
        response = await treq.get(base + "jobs/2/", pool=pool)
        assert (response.code, await response.json()) == (
            404, {"detail": "No TestJob matches the given query."})
        response = await treq.get(base + "jobs/2/", headers=auth, pool=pool)
        assert (await response.json())["token"]
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_served_by_the_service(lavad_service):
    """The running LavadService serves the REST API under /api/ (build_root mounts it)."""
    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await treq.get(lavad_service.base_url + "/api/v0.2/jobs/", pool=pool)
    assert (response.code, await response.json()) == (
        200, {"count": 0, "next": None, "previous": None, "results": []})
    response = await treq.get(lavad_service.base_url + "/api/v0.2/system/version/",
                              pool=pool)
    assert await response.content() == b'{"version":"2026.07"}'


def test_build_root_without_a_lab():
    """build_root works before the service has a lab (system routes need none)."""
    from types import SimpleNamespace

    root = build_root(SimpleNamespace(settings=load_settings({}), lab=None), reactor)
    assert Client(root).get("/api/v0.2/system/version/").code == 200
