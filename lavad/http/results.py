"""``/results/``: LAVA's deprecated semi-REST result downloads (spec 8), and room for the
HTML result pages.

Plain paths without a trailing slash (``/results/1/csv/`` is a 404), errors as
HTML pages: 403 for a job the caller may not see, 404 for an unknown job,
suite, test case or path, 400 for a ``limit``/``offset`` that is not a
non-negative integer.  ``{job}`` is a job id or a MultiNode sub-id ``N.M``.

Callers are identified by ``?user=NAME&token=SECRET`` (the documented form,
which LAVA 2023.01 honoured) or by an ``Authorization`` header (``Token
<secret>``, or ``Basic`` with the username and the token as password); bad
credentials leave the caller anonymous.  Visibility is the object-level rule
of :func:`lavad.exports.records.thd_results_job`.

Routes are a table of path patterns (``{job}/{suite}/csv``); other parts of
lavad add their own with :meth:`ResultsResource.route` (the HTML pages at
``/results/{job}``...).  Handlers are ``async (request, principal, **path)``
returning bytes for the body, or None once they have streamed it.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from lavad import exports, users
from lavad.errors import Invalid, LavadError, NotFound, PermissionDenied
from lavad.http.streaming import send
from lavad.users import ANONYMOUS, Principal

log = Logger()

# Path parameters: each matches one (decoded) path segment.
SEGMENTS = {"job": r"\d+(?:\.\d+)?", "suite": r".+", "case": r"\d+"}
TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          500: "Server Error"}
MESSAGES = {400: "The request could not be understood.",
            403: "You do not have permission to view this page.",
            404: "The requested page was not found.",
            405: "This method is not allowed here.",
            500: "The server could not answer this request."}

Handler = Callable[..., Awaitable[bytes | None]]


@dataclass(frozen=True)
class _Route:
    pattern: str
    segments: tuple[tuple[str | None, re.Pattern[str]], ...]  # (parameter or None, regex)
    handler: Handler

    def match(self, path: list[str]) -> dict[str, str] | None:
        if len(path) != len(self.segments):
            return None
        found: dict[str, str] = {}
        for segment, (name, regex) in zip(path, self.segments):
            if not regex.fullmatch(segment):
                return None
            if name is not None:
                found[name] = segment
        return found


def compile_pattern(pattern: str) -> tuple[tuple[str | None, re.Pattern[str]], ...]:
    out: list[tuple[str | None, re.Pattern[str]]] = []
    for segment in pattern.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            out.append((name, re.compile(SEGMENTS.get(name, r".+"), re.DOTALL)))
        else:
            out.append((None, re.compile(re.escape(segment))))
    return tuple(out)


def error_page(request: Request, code: int, message: str | None = None) -> bytes:
    """A small HTML error page with status ``code``."""
    title = "%d %s" % (code, TITLES.get(code, "Error"))
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
            "<title>%s</title></head>\n<body>\n<h1>%s</h1>\n<p>%s</p>\n</body>\n</html>\n"
            % (title, title, html.escape(message or MESSAGES.get(code, ""))))
    return page.encode("utf-8")


def request_params(request: Request) -> dict[str, list[str]]:
    """The query string of ``request``, decoded (every value of every parameter)."""
    args: dict[bytes, list[bytes]] = request.args or {}
    return {key.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in values]
            for key, values in args.items()}


def _last(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def credentials(request: Request) -> tuple[str | None, str] | None:
    """``(username or None, token)`` from ``?user=&token=`` or the Authorization header."""
    params = request_params(request)
    token = _last(params, "token")
    if token:
        return _last(params, "user") or None, token
    header = request.getHeader(b"authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(b" ")
    value = value.strip()
    if scheme.lower() == b"token" and value and b" " not in value:
        return None, value.decode("utf-8", "replace")
    if scheme.lower() == b"basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, secret = decoded.partition(":")
        if sep and secret:
            return username or None, secret
    return None


class ResultsResource(Resource):
    """The ``/results`` subtree over ``lab`` (the object, or a callable returning it);
    ``data_dir`` (a string or a callable) is where the job logs and metadata files are."""

    isLeaf = True

    def __init__(self, lab: Any, data_dir: Any = None) -> None:
        super().__init__()
        self._lab = lab
        self._data_dir = data_dir
        self._routes: list[_Route] = []
        self.route("testcase/{case}/yaml")(self._case_yaml)
        self.route("{job}/csv")(self._job_csv)
        self.route("{job}/yaml")(self._job_yaml)
        self.route("{job}/yaml_summary")(self._summary)
        self.route("{job}/metadata")(self._metadata)
        self.route("{job}/{suite}/csv")(self._suite_csv)
        self.route("{job}/{suite}/yaml")(self._suite_yaml)
        self.route("{job}/{suite}/+testcase-count")(self._case_count)

    @property
    def lab(self) -> Any:
        lab = self._lab
        return lab() if callable(lab) and not hasattr(lab, "run") else lab

    @property
    def data_dir(self) -> str | None:
        value = self._data_dir
        return value() if callable(value) else value

    def route(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``pattern`` (segments below ``/results/``; ``{job}``,
        ``{suite}``, ``{case}`` capture one segment each).  Earlier routes win."""
        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(pattern, compile_pattern(pattern), handler))
            return handler
        return register

    # -- dispatch -----------------------------------------------------------------------------
    def render_GET(self, request: Request) -> Any:
        ensureDeferred(self._render(request))
        return NOT_DONE_YET

    render_HEAD = render_GET

    async def _render(self, request: Request) -> None:
        try:
            body = await self._handle(request)
        except LavadError as exc:
            body = self._error(request, exc)
        except Exception:  # noqa: BLE001 - the answer is an HTML 500, the failure logged
            log.failure("/results request {uri} failed", uri=request.uri)
            body = error_page(request, 500)
        if getattr(request, "_disconnected", False) or request.finished:
            return
        if body is not None:
            request.setHeader(b"Content-Length", b"%d" % len(body))
            request.write(body)
        request.finish()

    async def _handle(self, request: Request) -> bytes | None:
        path = [segment.decode("utf-8", "replace") for segment in request.postpath or []]
        for route in self._routes:
            found = route.match(path)
            if found is not None:
                principal = await self._principal(request)
                return await route.handler(request, principal, **found)
        raise NotFound("Not found.")

    async def _principal(self, request: Request) -> Principal:
        given = credentials(request)
        if given is None:
            return ANONYMOUS
        username, secret = given
        principal = await self.lab.run(users.thd_authenticate_token, secret, username)
        return principal if principal is not None else ANONYMOUS

    @staticmethod
    def _error(request: Request, exc: LavadError) -> bytes:
        if isinstance(exc, NotFound):
            return error_page(request, 404)
        if isinstance(exc, PermissionDenied):
            return error_page(request, 403)
        if isinstance(exc, Invalid):
            return error_page(request, 400, "%s: %s" % (exc.field, exc.message)
                              if exc.field else exc.message)
        return error_page(request, exc.code if exc.code in TITLES else 400, exc.message)

    # -- downloads ----------------------------------------------------------------------------
    async def _stream(self, request: Request, fn: Any, *args: Any) -> None:
        document = await self.lab.run(fn, *args)
        await send(request, self.lab, document)

    def _window(self, request: Request) -> tuple[str | None, str | None]:
        params = request_params(request)
        return _last(params, "limit"), _last(params, "offset")

    async def _job_csv(self, request: Request, principal: Principal, job: str) -> None:
        await self._stream(request, exports.thd_results_csv, principal, job, self.data_dir)

    async def _job_yaml(self, request: Request, principal: Principal, job: str) -> None:
        await self._stream(request, exports.thd_results_yaml, principal, job, self.data_dir)

    async def _summary(self, request: Request, principal: Principal, job: str) -> None:
        await self._stream(request, exports.thd_results_summary, principal, job)

    async def _metadata(self, request: Request, principal: Principal, job: str) -> None:
        await self._stream(request, exports.thd_results_metadata, principal, job)

    async def _suite_csv(self, request: Request, principal: Principal, job: str,
                         suite: str) -> None:
        await self._stream(request, exports.thd_results_suite_csv, principal, job, suite,
                           self.data_dir, *self._window(request))

    async def _suite_yaml(self, request: Request, principal: Principal, job: str,
                          suite: str) -> None:
        await self._stream(request, exports.thd_results_suite_yaml, principal, job, suite,
                           self.data_dir, *self._window(request))

    async def _case_count(self, request: Request, principal: Principal, job: str,
                          suite: str) -> bytes:
        count = await self.lab.run(exports.thd_results_case_count, principal, job, suite)
        request.setHeader(b"Content-Type", b"text/plain")
        return b"%d" % count

    async def _case_yaml(self, request: Request, principal: Principal, case: str) -> None:
        await self._stream(request, exports.thd_results_case_yaml, principal, int(case),
                           self.data_dir)


def build_results(lab: Any, data_dir: Any = None) -> ResultsResource:
    """The resource to mount at ``/results`` (``root.putChild(b"results", ...)``)."""
    return ResultsResource(lab, data_dir)
