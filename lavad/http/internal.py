"""``/scheduler/internal/v1/``: the worker protocol over HTTP.

Translation only: form fields, the ``LAVA-Token`` header and path segments go
to :mod:`lavad.workerapi`; its answers come back as JSON (``{}``, a payload,
or ``{"error": "..."}`` with the domain error's status).  Every path ends
with a slash; without it the answer is 404.

Routes (relative to the mount point)::

    POST workers/                register a worker
    GET  workers/<name>/         ping (?version=)        POST: 403
    GET  jobs/<id>/              what the worker needs to start the job
    POST jobs/<id>/              state=RUNNING | state=FINISHED
    POST jobs/<id>/logs/         lines + index from lava-run
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from klein import Klein
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from lavad import workerapi
from lavad.errors import LavadError

MOUNT_PATH = (b"scheduler", b"internal", b"v1")


def _json(request: IRequest, value: Any, code: int = 200) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(value).encode("utf-8")


def _field(request: IRequest, name: str) -> str | None:
    """A form (or query) field as text, None when absent."""
    values = (request.args or {}).get(name.encode("ascii"))
    if not values:
        return None
    return values[0].decode("utf-8", "replace")


def _token(request: IRequest) -> str | None:
    value = request.getHeader(b"lava-token")  # header names are case-insensitive
    return None if value is None else value.decode("utf-8", "replace")


def _client_ip(request: IRequest) -> str | None:
    return getattr(request.getClientAddress(), "host", None)


class InternalApi:
    """The internal API of one server (a Klein app per instance)."""

    app = Klein()
    log = Logger()

    def __init__(self, lab: Any, files: Any, data_dir: str,
                 allowed_nets: Iterable[str] = workerapi.DEFAULT_AUTO_REGISTER_NETS,
                 auto_register: bool = True,
                 min_version: str | None = workerapi.MIN_WORKER_VERSION) -> None:
        self.lab = lab
        self.files = files
        self.data_dir = data_dir
        self.allowed_nets = tuple(allowed_nets)
        self.auto_register = auto_register
        self.min_version = min_version

    # -- workers ----------------------------------------------------------------------
    @app.route("/workers/", methods=["GET", "POST"])
    async def workers(self, request: IRequest) -> bytes:
        if request.method == b"GET":
            return await self._ping(request, None)
        reply = await self.lab.run(
            workerapi.thd_register_worker, _field(request, "name"),
            _field(request, "username"), _field(request, "password"), _client_ip(request),
            self.allowed_nets, self.auto_register)
        return _json(request, reply)

    @app.route("/workers/<name>/", methods=["GET", "POST"])
    async def worker(self, request: IRequest, name: str) -> bytes:
        if request.method == b"POST":
            return _json(request, {"error": "POST is forbidden for such url"}, 403)
        return await self._ping(request, name)

    async def _ping(self, request: IRequest, name: str | None) -> bytes:
        reply = await self.lab.run(workerapi.thd_ping, name, _token(request),
                                   _field(request, "version"), self.min_version)
        if isinstance(reply, LavadError):
            return _json(request, {"error": reply.message}, reply.code)
        return _json(request, reply)

    # -- jobs -------------------------------------------------------------------------
    @app.route("/jobs/<pk>/", methods=["GET", "POST"])
    async def job(self, request: IRequest, pk: str) -> bytes:
        if request.method == b"GET":
            payload = await self.lab.run(workerapi.thd_job_payload, pk, _token(request),
                                         self.files, self.data_dir)
            return _json(request, payload)
        form = {key: _field(request, key)
                for key in ("state", "result", "error_type", "errors", "description")}
        reply = await self.lab.run(workerapi.thd_job_state, pk, _token(request), form,
                                   self.data_dir)
        return _json(request, reply)

    @app.route("/jobs/<pk>/logs/", methods=["POST"])
    async def job_logs(self, request: IRequest, pk: str) -> bytes:
        count = await self.lab.run(workerapi.thd_job_logs, pk, _token(request),
                                   _field(request, "lines"), _field(request, "index"),
                                   self.data_dir)
        return _json(request, {"line_count": count})

    # -- errors -----------------------------------------------------------------------
    @app.handle_errors(LavadError)
    def domain_error(self, request: IRequest, failure: Failure) -> bytes:
        error = failure.value
        return _json(request, {"error": error.message}, error.code)

    @app.handle_errors(NotFound, RequestRedirect)
    def not_found(self, request: IRequest, failure: Failure) -> bytes:
        return _json(request, {"error": "Not found"}, 404)

    @app.handle_errors(MethodNotAllowed)
    def method_not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        return _json(request, {"error": "Method not allowed"}, 405)

    @app.handle_errors(Exception)
    def unexpected(self, request: IRequest, failure: Failure) -> bytes:
        self.log.failure("internal API: {method} {uri} failed", failure,
                         method=request.method, uri=request.uri)
        return _json(request, {"error": "Internal server error"}, 500)


def internal_resource(lab: Any, files: Any, data_dir: str | None = None,
                      allowed_nets: Iterable[str] = workerapi.DEFAULT_AUTO_REGISTER_NETS,
                      auto_register: bool = True,
                      min_version: str | None = workerapi.MIN_WORKER_VERSION) -> IResource:
    """The resource to mount at ``/scheduler/internal/v1/``.

    ``files`` is the :class:`lavad.files.LabFiles`; ``data_dir`` (where job
    logs go) defaults to ``files.data_dir``.
    """
    data_dir = data_dir if data_dir is not None else getattr(files, "data_dir", None)
    if data_dir is None:
        raise ValueError("internal_resource needs a data directory for the job logs")
    return InternalApi(lab, files, data_dir, allowed_nets, auto_register,
                       min_version).app.resource()


def mount_internal(root: Resource, resource: IResource) -> None:
    """Put ``resource`` at ``scheduler/internal/v1`` under ``root`` (keeping other children)."""
    parent = root
    for segment in MOUNT_PATH[:-1]:
        child = parent.children.get(segment)
        if child is None:
            child = Resource()
            parent.putChild(segment, child)
        parent = child
    parent.putChild(MOUNT_PATH[-1], resource)
