"""The HTML pages the notification links point at.

* ``/scheduler/job/<job>``: the job's details and a page of its log
  (``?start=<line>``, :data:`lavad.jobview.LOG_PAGE` lines at a time);
* ``/results/<job>``: its suites with their result counts, and the
  notifications panel (each recipient's method, address and status);
* ``/results/<job>/<suite>``: one page of the suite's test cases
  (``?offset=&limit=``);
* ``/results/testcase/<id>``: one test case.

The ``/results`` pages are routes of :class:`lavad.http.results.ResultsResource`
(the download URLs' resource, whose routes win: a suite named ``csv`` is
reached through its downloads); ``/scheduler/job`` is a small resource of its
own.  Both identify callers and render errors (403 for a job the caller may
not see, 404 for an unknown one) as the download URLs do.  The reads are
:mod:`lavad.jobview`'s.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from lavad import jobview, users
from lavad.errors import LavadError, NotFound, PermissionDenied
from lavad.http import html
from lavad.http.results import (ResultsResource, build_results, credentials, error_page,
                                request_params)
from lavad.users import ANONYMOUS, Principal

log = Logger()
JOB_REF = re.compile(r"\d+(?:\.\d+)?")


def _int(request: IRequest, name: str, default: int) -> int:
    values = request_params(request).get(name)
    try:
        return max(0, int(values[-1])) if values else default
    except ValueError:
        return default


def _getter(value: Any, marker: str) -> Any:
    return value() if callable(value) and not hasattr(value, marker) else value


class Pages:
    """The page handlers over ``lab`` and ``data_dir`` (objects, or callables returning
    them); each is ``async (request, principal, **path) -> bytes``."""

    def __init__(self, lab: Any, data_dir: Any = None) -> None:
        self._lab = lab
        self._data_dir = data_dir

    @property
    def lab(self) -> Any:
        return _getter(self._lab, "run")

    @property
    def data_dir(self) -> str | None:
        return _getter(self._data_dir, "__fspath__")

    def _html(self, request: IRequest, template: str, **context: Any) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return html.environment().get_template(template).render(**context).encode("utf-8")

    async def principal(self, request: IRequest) -> Principal:
        given = credentials(request)
        if given is None:
            return ANONYMOUS
        username, secret = given
        found = await self.lab.run(users.thd_authenticate_token, secret, username)
        return found if found is not None else ANONYMOUS

    async def job(self, request: IRequest, principal: Principal, job: str) -> bytes:
        page = await self.lab.run(jobview.thd_job_page, principal, job, self.data_dir,
                                  _int(request, "start", 0))
        return self._html(request, "job.html", **page)

    async def results(self, request: IRequest, principal: Principal, job: str) -> bytes:
        page = await self.lab.run(jobview.thd_results_page, principal, job)
        return self._html(request, "results.html", **page)

    async def suite(self, request: IRequest, principal: Principal, job: str,
                    suite: str) -> bytes:
        page = await self.lab.run(jobview.thd_suite_page, principal, job, suite,
                                  _int(request, "offset", 0),
                                  _int(request, "limit", jobview.CASE_PAGE))
        return self._html(request, "suite.html", **page)

    async def testcase(self, request: IRequest, principal: Principal, case: str) -> bytes:
        page = await self.lab.run(jobview.thd_testcase_page, principal, int(case))
        return self._html(request, "testcase.html", **page)

    def add_results_routes(self, resource: ResultsResource) -> None:
        """Register the ``/results`` pages on the download URLs' resource."""
        resource.route("testcase/{case}")(self.testcase)
        resource.route("{job}")(self.results)
        resource.route("{job}/{suite}")(self.suite)


class JobPageResource(Resource):
    """``/scheduler/job/<job>`` (a trailing slash is accepted)."""

    isLeaf = True

    def __init__(self, pages: Pages) -> None:
        super().__init__()
        self.pages = pages

    def render_GET(self, request: IRequest) -> Any:
        ensureDeferred(self._render(request))
        return NOT_DONE_YET

    async def _render(self, request: IRequest) -> None:
        path = [segment.decode("utf-8", "replace") for segment in request.postpath]
        if path and path[-1] == "" and len(path) == 2:
            path = path[:1]
        try:
            if len(path) != 1 or not JOB_REF.fullmatch(path[0]):
                raise NotFound("Not found.")
            principal = await self.pages.principal(request)
            body = await self.pages.job(request, principal, path[0])
        except PermissionDenied:
            body = error_page(request, 403)
        except NotFound:
            body = error_page(request, 404)
        except LavadError as exc:
            body = error_page(request, 400, exc.message)
        except Exception:
            log.failure("{uri} failed", uri=request.uri)
            body = error_page(request, 500)
        if getattr(request, "_disconnected", False) or request.finished:
            return
        request.setHeader(b"Content-Length", b"%d" % len(body))
        request.write(body)
        request.finish()


def mount_pages(root: Resource, lab: Any, data_dir: Any = None) -> Pages:
    """Add the pages under ``root``: routes on its ``results`` child (created when
    missing) and ``scheduler/job`` (keeping the other children of ``scheduler``)."""
    pages = Pages(lab, data_dir)
    results = root.children.get(b"results")
    if not isinstance(results, ResultsResource):
        results = build_results(lab, data_dir)
        root.putChild(b"results", results)
    pages.add_results_routes(results)
    scheduler = root.children.get(b"scheduler")
    if scheduler is None:
        scheduler = Resource()
        root.putChild(b"scheduler", scheduler)
    scheduler.putChild(b"job", JobPageResource(pages))
    return pages
