"""The root resource: a plain ``Resource`` that mounts the REST API under ``/api/``.

The API is a Klein app built per instance (no module-level routing state), so
each server, and each test, has its own.  The full REST API grows in
``lavad/http/``; this module only wires it to the root.
"""

from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from werkzeug.exceptions import MethodNotAllowed, NotFound

from lavad import LAVA_VERSION
from lavad.config import Settings
from lavad.http.render import json_body
from lavad.xmlrpc import mount as mount_xmlrpc


class Api:
    """``/api/``: the LAVA REST API (v0.2) over the lab."""

    app = Klein()

    def __init__(self, owner: Any, reactor: Any) -> None:
        # ``owner`` is the LavadService (or anything with ``settings`` and ``lab``).
        self._owner = owner
        self._reactor = reactor

    @property
    def settings(self) -> Settings:
        return getattr(self._owner, "settings", None) or Settings()

    @app.route("/v0.2/system/version/", methods=["GET"])
    def version(self, request: IRequest) -> bytes:
        return json_body(request, {"version": LAVA_VERSION})

    @app.route("/v0.2/system/whoami/", methods=["GET"])
    def whoami(self, request: IRequest) -> bytes:
        return json_body(request, {"user": ""})

    @app.route("/v0.2/system/master_config/", methods=["GET"])
    def master_config(self, request: IRequest) -> bytes:
        settings = self.settings
        return json_body(request, {
            "EVENT_TOPIC": settings.event_topic,
            "EVENT_SOCKET": settings.event_socket,
            "EVENT_NOTIFICATION": settings.events_enabled,
            "LOG_SIZE_LIMIT": settings.log_size_limit,
        })

    @app.handle_errors(NotFound)
    def not_found(self, request: IRequest, failure: Failure) -> bytes:
        return json_body(request, {"detail": "Not found."}, 404)

    @app.handle_errors(MethodNotAllowed)
    def method_not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        method = request.method.decode("ascii", "replace")
        return json_body(request, {"detail": 'Method "%s" not allowed.' % method}, 405)


def build_root(service_or_lab: Any, reactor: Any) -> Resource:
    """The site's root resource for ``service_or_lab`` (the LavadService, usually)."""
    root = Resource()
    root.putChild(b"api", Api(service_or_lab, reactor).app.resource())
    mount_xmlrpc(root, service_or_lab, reactor)  # /RPC2 and /api/help/
    return root
