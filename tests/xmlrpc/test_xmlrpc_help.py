"""/api/help/: the HTML page generated from the method table."""

from __future__ import annotations

import html

import pytest_twisted

from lavad.xmlrpc import build_registry


@pytest_twisted.ensureDeferred
async def test_help_page_lists_every_method(server, rpc):
    """Every method appears with its arguments and help, grouped by namespace, with a
    token example pointing at this server."""
    status, headers, body = await rpc.http("GET", "/api/help/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    page = html.unescape(body.decode())
    registry = build_registry()
    for ns, methods in registry.grouped():
        assert '<h2 id="%s">%s</h2>' % (ns.name, ns.name) in page
        for method in methods:
            assert "%s%s</h3>" % (method.name, method.params) in page
            assert method.help.splitlines()[0] in page
    host = rpc.base_url.split("://", 1)[1]
    assert "http://USERNAME:TOKEN@%s/RPC2" % host in page
    assert "xmlrpc.client.ServerProxy(" in page
    assert "%d methods" % len(registry) in page


@pytest_twisted.ensureDeferred
async def test_help_page_and_rest_share_api(server, rpc):
    """/api/help (no slash) is the page too, and the REST API still answers under /api/."""
    status, _, body = await rpc.http("GET", "/api/help")
    assert status == 200 and b"scheduler.devices.list" in body
    status, _, body = await rpc.http("GET", "/api/v0.2/system/version/")
    assert status == 200 and b"2026.07" in body
    status, _, _ = await rpc.http("POST", "/api/help/")
    assert status == 405
