"""``/api/help/``: every XML-RPC method with its arguments and help, from the method table."""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from lavad import LAVA_VERSION
from lavad.http import html
from lavad.xmlrpc.dispatch import Registry



def _base_url(request: IRequest) -> str:
    host = request.getHeader(b"host")
    if host:
        name = host.decode("latin-1")
    else:
        address = request.getHost()
        name = "%s:%d" % (address.host, address.port)
    return "%s://%s" % ("https" if request.isSecure() else "http", name)


class HelpPage(Resource):
    """The HTML help page (GET and HEAD only)."""

    isLeaf = True
    allowedMethods = (b"GET", b"HEAD")

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self._registry = registry

    def render_GET(self, request: IRequest) -> bytes:
        page = html.environment(trim=True).get_template("xmlrpc_help.html").render(
            groups=self._registry.grouped(), count=len(self._registry),
            version=LAVA_VERSION, rpc_url="%s/RPC2" % _base_url(request))
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return page.encode("utf-8")

    def render_HEAD(self, request: IRequest) -> Any:
        return self.render_GET(request)
