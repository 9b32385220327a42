"""/RPC2 over HTTP: redirects, the Authorization header, tokens, and the shape of answers."""

from __future__ import annotations

import base64
import xmlrpc.client

import pytest_twisted

from lavad import devices, users

CALL = xmlrpc.client.dumps((), "system.whoami").encode()
REALM = 'Basic realm="XML-RPC Authentication token"'


def basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode(),
            "Content-Type": "text/xml"}


@pytest_twisted.ensureDeferred
async def test_get_redirects_to_help(server, rpc):
    """GET /RPC2 and GET /RPC2/ answer 302 to the HTML help page."""
    for path in ("/RPC2", "/RPC2/"):
        status, headers, _ = await rpc.http("GET", path)
        assert status == 302
        assert headers["location"] == "/api/help/"


@pytest_twisted.ensureDeferred
async def test_empty_post_redirects_to_help(server, rpc):
    """A POST without a body is not a call: 302 to the help page."""
    status, headers, _ = await rpc.http("POST", "/RPC2", b"")
    assert (status, headers["location"]) == (302, "/api/help/")


@pytest_twisted.ensureDeferred
async def test_both_paths_answer_calls(server, rpc):
    """/RPC2 and /RPC2/ are the same endpoint."""
    assert await rpc.call("system.version") == "2026.07"
    assert await rpc.call("system.version", path="/RPC2/") == "2026.07"


@pytest_twisted.ensureDeferred
async def test_answer_headers_and_body(server, rpc):
    """An answer is 200, application/xml with a Content-Length, and encodes None as nil."""
    status, headers, body = await rpc.http("POST", "/RPC2", CALL, {"Content-Type": "text/xml"})
    assert status == 200
    assert headers["content-type"] == "application/xml; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    assert body.startswith(b"<?xml version='1.0'?>")
    assert b"<nil/>" in body
    assert xmlrpc.client.loads(body) == ((None,), None)


@pytest_twisted.ensureDeferred
async def test_faults_are_http_200(server, rpc):
    """A fault is answered with status 200 too."""
    body = xmlrpc.client.dumps((), "no.such.method").encode()
    status, headers, data = await rpc.http("POST", "/RPC2", body)
    assert status == 200
    assert headers["content-type"] == "application/xml; charset=utf-8"
    try:
        xmlrpc.client.loads(data)
    except xmlrpc.client.Fault as fault:
        assert (fault.faultCode, fault.faultString) == (-32601, "No such method: 'no.such.method'")
    else:
        raise AssertionError("no fault")


@pytest_twisted.ensureDeferred
async def test_header_errors(server, rpc):
    """Malformed Authorization headers get LAVA's 400 texts (never a 500)."""
    cases = [
        ({"Authorization": "Basic"}, "Invalid HTTP_AUTHORIZATION header"),
        ({"Authorization": "Token abc"},
         "Unsupported HTTP_AUTHORIZATION header, only Basic scheme is supported"),
        ({"Authorization": "basic " + base64.b64encode(b"a:b").decode()},
         "Unsupported HTTP_AUTHORIZATION header, only Basic scheme is supported"),
        ({"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
         "Corrupted HTTP_AUTHORIZATION header, bad base64 encoding"),
        ({"Authorization": "Basic abc"},
         "Corrupted HTTP_AUTHORIZATION header, bad base64 encoding"),
        (basic("no-colon-here"), "Corrupted HTTP_AUTHORIZATION header, no user:pass"),
    ]
    for headers, text in cases:
        status, got, body = await rpc.http("POST", "/RPC2", CALL, headers)
        assert (status, body.decode()) == (400, text), headers
        assert got["content-type"].startswith("text/html")


@pytest_twisted.ensureDeferred
async def test_invalid_token_is_http_401(server, rpc):
    """A wrong secret, another user's token, an inactive user: 401 with a Basic challenge."""
    alice = await server.user("alice")
    bob = await server.user("bob", is_active=False)
    for who in ("alice:wrong", "bob:%s" % alice[1], "%s:%s" % bob, "nobody:x"):
        status, headers, body = await rpc.http("POST", "/RPC2", CALL, basic(who))
        assert (status, body) == (401, b"Invalid token"), who
        assert headers["www-authenticate"] == REALM
    # As lavacli sees it: a ProtocolError before any command runs.
    try:
        await rpc.call("system.version", token=("alice", "wrong"))
    except xmlrpc.client.ProtocolError as exc:
        assert exc.errcode == 401
    else:
        raise AssertionError("no 401")


@pytest_twisted.ensureDeferred
async def test_token_authenticates_and_is_touched(server, rpc):
    """username:token authenticates the call and records the token's last use."""
    alice = await server.user("alice")
    assert await rpc.call("system.whoami", token=alice) == "alice"
    tokens = await server.run(users.thd_list_tokens, "alice")
    assert tokens[0]["last_used_on"] is not None
    assert await rpc.call("system.whoami") is None


@pytest_twisted.ensureDeferred
async def test_v1_and_v2_anonymous_names(server, rpc):
    """Anonymous is nil in system.whoami (V1) but 'AnonymousUser' in V2 messages."""
    assert await rpc.call("system.whoami") is None
    alice = await server.user("alice")
    await rpc.call("scheduler.workers.add", "w1", token=await server.user(
        "root", is_superuser=True))
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "worker", "g", "view_worker", "w1")
    assert await rpc.fault("scheduler.workers.show", "w1") == (
        403, "Worker 'w1' not available to user 'AnonymousUser'.")
    assert await rpc.fault("scheduler.workers.show", "w1", token=alice) == (
        403, "Worker 'w1' not available to user 'alice'.")


@pytest_twisted.ensureDeferred
async def test_authentication_and_permission_faults(server, rpc):
    """check_perm: 401 when anonymous, 403 naming the missing permission; check_staff: 403
    forbidden; superusers hold every permission."""
    alice = await server.user("alice")
    root = await server.user("root", is_superuser=True)
    assert await rpc.fault("scheduler.tags.add", "t1") == (
        401, "Authentication with user and token required for this API.")
    assert await rpc.fault("scheduler.tags.add", "t1", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.add_tag.")
    assert await rpc.call("scheduler.tags.add", "t1", None, token=root) is None
    await server.grant("alice", "lava_scheduler_app.add_tag")
    assert await rpc.call("scheduler.tags.add", "t2", token=alice) is None
    assert await rpc.fault("scheduler.devices.perms_list", "x", token=alice) == (
        403, "forbidden")
    assert await rpc.fault("scheduler.devices.perms_list", "x") == (
        401, "Authentication with user and token required for this API.")
