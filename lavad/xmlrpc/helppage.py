"""``/api/help/``: every XML-RPC method with its arguments and help, from the method table."""

from __future__ import annotations

import os
from typing import Any

import jinja2
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from lavad import LAVA_VERSION
from lavad.xmlrpc.dispatch import Registry

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "templates")

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                          autoescape=jinja2.select_autoescape(["html"]),
                          trim_blocks=True, lstrip_blocks=True)


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
        page = _env.get_template("xmlrpc_help.html").render(
            groups=self._registry.grouped(), count=len(self._registry),
            version=LAVA_VERSION, rpc_url="%s/RPC2" % _base_url(request))
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return page.encode("utf-8")

    def render_HEAD(self, request: IRequest) -> Any:
        return self.render_GET(request)
