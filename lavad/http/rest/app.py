"""The REST dispatcher: one resource per API instance, driven by the route table.

For every request, in DRF's order: match the path (301 to add a missing
trailing slash, JSON 404 otherwise), negotiate the format (``.json`` suffix,
``?format=``, ``Accept``), authenticate the token, check the route's access
level, check the method (405 with ``Allow``), then run the view.  Domain errors
become JSON error bodies (:func:`lavad.http.rest.wire.error_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.web.resource import IResource
from twisted.web.server import Request

from lavad.http.asyncresource import AsyncResource
from lavad.http.rest import wire
from lavad.http.rest.auth import authenticate, token_from_header
from lavad.http.rest.routes import ROUTES, Operation, Route
from lavad.http.rest.views import TOKEN_IN_CALL, VIEWS, Call, View
from lavad.http.rest.wire import FORMATS, HttpError, Reply, detail
from lavad.query import CountCache
from lavad.query.filters import INT64_MAX
from lavad.users import ANONYMOUS, Principal

# DRF lists allowed methods in this order.
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
RENDERS = ["application/json", "text/html"]
PARSES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]


def allowed_methods(route: Route) -> list[str]:
    methods = set(route.methods) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return [m for m in METHOD_ORDER if m in methods]


class RestApi:
    """The API mounted at ``mount`` (``/api/``), over ``lab`` and ``files`` (each the
    object, or a callable returning the current one) and ``settings``.

    ``also`` are more mount points serving the same API (``/restapi/``, the prefix
    of the examples in LAVA's documentation); links name the one a request used.
    """

    log = Logger()

    def __init__(self, lab: Any, settings: Any, files: Any = None, mount: str = "/api/",
                 routes: tuple[Route, ...] = ROUTES,
                 views: Mapping[str, View] | None = None,
                 also: tuple[str, ...] = ("/restapi/",)) -> None:
        self._lab = lab
        self._files = files
        self.settings = settings
        self.mount = mount
        self.mounts = (mount, *also)
        self.table = [wire.compile_route(r) for r in routes]
        self.views = VIEWS if views is None else views
        # Views that check a token in their own store call (Call.secret); only VIEWS' own.
        self.token_in_call = TOKEN_IN_CALL if views is None else frozenset()
        self.counts = CountCache()

    def resource(self) -> IResource:
        """A resource answering every request below it with :meth:`handle` (mount it at
        each mount point)."""
        return AsyncResource(self.handle, (wire.JSON.encode(),
                                           wire.dumps({"detail": "A server error occurred."})))

    @property
    def lab(self) -> Any:
        lab = self._lab
        return lab() if callable(lab) and not hasattr(lab, "run") else lab

    @property
    def files(self) -> Any:
        files = self._files
        return files() if callable(files) and not hasattr(files, "render_device") else files

    async def handle(self, request: Request) -> bytes:
        route: Route | None = None
        try:
            route, reply = await self._handle(request)
        except CancelledError:
            raise  # the client went away: nothing to answer, nothing to log
        except HttpError as exc:
            reply = Reply(exc.status, exc.data, headers=exc.headers)
        except Exception as exc:  # noqa: BLE001 - the answer is a JSON 500, the failure logged
            error = wire.error_for(exc)
            if error is None:
                self.log.failure("REST request {method} {uri} failed",
                                 method=request.method, uri=request.uri)
                error = detail(500, "A server error occurred.")
            reply = Reply(error.status, error.data)
        body = self._write(request, route, reply)
        if reply.stream is not None:
            await reply.stream(request)
        return body

    # -- the pipeline -----------------------------------------------------------------------
    async def _handle(self, request: Request) -> tuple[Route | None, Reply]:
        raw_path, _, raw_query = request.uri.partition(b"?")
        mount, path = self._relative_path(raw_path)
        found = wire.match(self.table, path) if path is not None else None
        if found is None:
            if path is not None and not path.endswith("/") and \
                    wire.match(self.table, path + "/") is not None:
                location = raw_path + b"/" + (b"?" + raw_query if raw_query else b"")
                return None, Reply(301, body=b"", content_type="text/html; charset=utf-8",
                                   headers={"Location": location.decode("latin-1")})
            raise detail(404, wire.NOT_FOUND)
        route, args, suffix = found
        try:
            return route, await self._view(request, route, args, suffix,
                                           raw_query.decode("utf-8", "replace"), mount)
        except Exception as exc:
            # Errors of a matched route carry its Allow and Vary headers.
            error = wire.error_for(exc)
            if error is None:
                raise
            return route, Reply(error.status, error.data, headers=error.headers)

    def _relative_path(self, raw_path: bytes) -> tuple[str, str | None]:
        """The mount point the request used and the percent-decoded path below it (None
        when the path is below no mount point or is not UTF-8)."""
        for mount in self.mounts:
            if raw_path.startswith(mount.encode()):
                try:
                    return mount, unquote_to_bytes(raw_path[len(mount):]).decode("utf-8")
                except UnicodeDecodeError:
                    return mount, None
        return self.mount, None

    async def _view(self, request: Request, route: Route, args: dict[str, str],
                    suffix: str | None, raw_query: str, mount: str) -> Reply:
        params = wire.query_params(raw_query)
        fmt = suffix or (params.get("format") or [""])[-1]
        if fmt and fmt not in FORMATS:
            raise detail(404, wire.NOT_FOUND)
        if not wire.acceptable(_header(request, b"accept")):
            raise detail(406, wire.NOT_ACCEPTABLE)
        header = request.getHeader(b"authorization")
        method = request.method.decode("latin-1")
        operation = route.operation("GET" if method == "HEAD" else method)
        secret = None
        if operation is not None and operation.access == "any" and \
                operation.view in self.token_in_call and method in ("GET", "HEAD"):
            # The view checks the token in its own store call (one store call, not two);
            # nothing between here and the view depends on who asks.
            secret = token_from_header(header)
            principal = ANONYMOUS
            try:
                converted = _convert_args(route, args)
            except HttpError:
                await authenticate(self.lab, header)  # a bad token is answered first
                raise
        else:
            principal = await authenticate(self.lab, header)
            _check_access(operation or route.operations[0], principal)
            if method == "OPTIONS":
                return Reply(data={"name": route.name, "description": route.description,
                                   "renders": RENDERS, "parses": list(route.consumes)})
            if operation is None:
                raise detail(405, 'Method "%s" not allowed.' % method)
            converted = _convert_args(route, args)
        call = Call(route=route, args=converted, params=params, principal=principal,
                    lab=self.lab, settings=self.settings, url=_absolute(request, request.uri),
                    api_root=_absolute(request, (mount + route.version + "/").encode()),
                    body=_body_reader(request, route.consumes), files=self.files,
                    request=request, counts=self.counts, secret=secret)
        return await self.views[operation.view](call)

    # -- the answer --------------------------------------------------------------------------
    def _write(self, request: Request, route: Route | None, reply: Reply) -> bytes:
        request.setResponseCode(reply.code)
        if route is not None:
            request.setHeader(b"Allow", ", ".join(allowed_methods(route)).encode())
            request.setHeader(b"Vary", b"Accept, Cookie")
        for name, value in reply.headers.items():
            request.setHeader(name.encode(), value.encode("utf-8"))
        if reply.stream is not None:
            if reply.content_type:
                request.setHeader(b"Content-Type", reply.content_type.encode())
            return b""
        if reply.empty:
            body = b""
        elif reply.body is not None:
            body = reply.body
            if reply.content_type:
                request.setHeader(b"Content-Type", reply.content_type.encode())
        else:
            body = wire.dumps(reply.data)
            request.setHeader(b"Content-Type", wire.JSON.encode())
        request.setHeader(b"Content-Length", str(len(body)).encode())
        return body


def _header(request: Request, name: bytes) -> str | None:
    value = request.getHeader(name)
    return None if value is None else value.decode("latin-1")


def _check_access(operation: Operation, principal: Principal) -> None:
    if operation.access == "any":
        return
    if not principal.is_authenticated:
        raise detail(403, wire.NOT_AUTHENTICATED)
    if operation.access == "superuser" and not principal.is_superuser:
        raise detail(403, wire.FORBIDDEN)
    if not all(principal.has_perm(perm) for perm in operation.perms):
        raise detail(403, operation.denied)


def _convert_args(route: Route, args: dict[str, str]) -> dict[str, Any]:
    """Path parameters, ``int`` ones as integers: 404 for one that is not an integer, or
    one no object can have (beyond the store's 64-bit ids)."""
    out: dict[str, Any] = {}
    for name, value in args.items():
        if route.params.get(name) == "int":
            try:
                out[name] = int(value)
            except ValueError:
                raise detail(404, wire.NOT_FOUND) from None
            if not -INT64_MAX - 1 <= out[name] <= INT64_MAX:
                raise detail(404, wire.NOT_FOUND)
        else:
            out[name] = value
    return out


def _absolute(request: Request, path: bytes) -> str:
    """``scheme://host`` of the request (its Host header) followed by ``path``."""
    scheme = "https" if request.isSecure() else "http"
    host = _header(request, b"host")
    if not host:
        address = request.getHost()
        host = "%s:%d" % (getattr(address, "host", "localhost"), getattr(address, "port", 80))
    return "%s://%s%s" % (scheme, host, path.decode("latin-1"))


def _body_reader(request: Request, accepted: tuple[str, ...]) -> Callable[[], Any]:
    def read() -> Any:
        content = request.content
        raw = b""
        if content is not None:
            content.seek(0)
            raw = content.read()
        return wire.parse_body(_header(request, b"content-type"), raw, accepted)
    return read

