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

Any other path is 404 ``{"error": "Not found"}``, a known path with another
method 405 ``{"error": "Method not allowed"}``; HEAD is answered as GET.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from lavad import workerapi
from lavad.errors import LavadError
from lavad.http.asyncresource import AsyncResource

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
    """The internal API of one server."""

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

    def resource(self) -> IResource:
        return AsyncResource(self.handle, (b"application/json",
                                           b'{"error": "Internal server error"}'))

    # -- routing ----------------------------------------------------------------------
    async def handle(self, request: IRequest) -> bytes:
        """Route ``request`` by its path below the mount point and answer it."""
        try:
            segments = [part.decode("utf-8") for part in request.postpath]
        except UnicodeDecodeError:
            return _json(request, {"error": "Not found"}, 404)
        method = request.method
        if method == b"HEAD":
            method = b"GET"
        try:
            return await self._route(request, method, segments)
        except LavadError as error:
            return _json(request, {"error": error.message}, error.code)
        except Exception:  # noqa: BLE001 - a JSON 500, the failure logged
            self.log.failure("internal API: {method} {uri} failed",
                             method=request.method, uri=request.uri)
            return _json(request, {"error": "Internal server error"}, 500)

    async def _route(self, request: IRequest, method: bytes, segments: list[str]) -> bytes:
        if len(segments) < 2 or segments[-1] != "" or "" in segments[:-1]:
            return _json(request, {"error": "Not found"}, 404)
        path = segments[:-1]
        if path == ["workers"]:
            if method == b"GET":
                return await self._ping(request, None)
            if method == b"POST":
                return await self._register(request)
        elif len(path) == 2 and path[0] == "workers":
            if method == b"GET":
                return await self._ping(request, path[1])
            if method == b"POST":
                return _json(request, {"error": "POST is forbidden for such url"}, 403)
        elif len(path) == 2 and path[0] == "jobs":
            if method == b"GET":
                return await self._job_payload(request, path[1])
            if method == b"POST":
                return await self._job_state(request, path[1])
        elif len(path) == 3 and path[0] == "jobs" and path[2] == "logs":
            if method == b"POST":
                return await self._job_logs(request, path[1])
        else:
            return _json(request, {"error": "Not found"}, 404)
        return _json(request, {"error": "Method not allowed"}, 405)

    # -- workers ----------------------------------------------------------------------
    async def _register(self, request: IRequest) -> bytes:
        reply = await self.lab.run(
            workerapi.thd_register_worker, _field(request, "name"),
            _field(request, "username"), _field(request, "password"), _client_ip(request),
            self.allowed_nets, self.auto_register)
        return _json(request, reply)

    async def _ping(self, request: IRequest, name: str | None) -> bytes:
        reply = await self.lab.run(workerapi.thd_ping, name, _token(request),
                                   _field(request, "version"), self.min_version)
        if isinstance(reply, LavadError):
            return _json(request, {"error": reply.message}, reply.code)
        return _json(request, reply)

    # -- jobs -------------------------------------------------------------------------
    async def _job_payload(self, request: IRequest, pk: str) -> bytes:
        payload = await self.lab.run(workerapi.thd_job_payload, pk, _token(request),
                                     self.files, self.data_dir)
        return _json(request, payload)

    async def _job_state(self, request: IRequest, pk: str) -> bytes:
        form = {key: _field(request, key)
                for key in ("state", "result", "error_type", "errors", "description")}
        reply = await self.lab.run(workerapi.thd_job_state, pk, _token(request), form,
                                   self.data_dir)
        return _json(request, reply)

    async def _job_logs(self, request: IRequest, pk: str) -> bytes:
        count = await self.lab.run(workerapi.thd_job_logs, pk, _token(request),
                                   _field(request, "lines"), _field(request, "index"),
                                   self.data_dir)
        return _json(request, {"line_count": count})


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
                       min_version).resource()


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
