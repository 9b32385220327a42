"""The REST export views: ``jobs/{id}/junit|tap13|csv|yaml|logs/`` and
``jobs/{id}/suites/{sid}/csv|yaml/`` (spec 5.2-5.4, 6).

Translation only.  Each view asks :mod:`lavad.exports` for the document on the
store thread (which raises the domain errors the REST app turns into JSON
errors: 404 ``No TestJob matches the given query.``, 403 for a hidden job on
the nested suite routes, 400 for a ``limit``/``offset``/``start``/``end`` that
is not a non-negative integer) and answers a :class:`Reply` whose body is
streamed (:mod:`lavad.http.streaming`).  The route table names these views
by their keys in :data:`EXPORT_VIEWS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lavad import exports
from lavad.exports.document import Document
from lavad.http.rest.wire import Reply
from lavad.http.streaming import stream

if TYPE_CHECKING:
    from lavad.http.rest.views import Call


def data_dir(call: Call) -> str | None:
    """Where the job logs are: the server's files' directory, else the settings'."""
    files = call.files
    return getattr(files, "data_dir", None) or getattr(call.settings, "data_dir", None)


def document_headers(document: Document) -> dict[str, str]:
    """``Content-Disposition`` and, when the size is known, ``Content-Length``."""
    out = {}
    if document.disposition:
        out["Content-Disposition"] = document.disposition
    if document.size is not None:
        out["Content-Length"] = str(document.size)
    return out


def streamed(call: Call, document: Document) -> Reply:
    lab = call.lab
    return Reply(content_type=document.content_type, headers=document_headers(document),
                 stream=lambda request: stream(request, lab, document))


async def job_junit(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_junit, call.principal, call.args["id"], data_dir(call),
        call.param("classname_prefix")))


async def job_tap13(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_tap13, call.principal, call.args["id"], data_dir(call)))


async def job_csv(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_job_csv, call.principal, call.args["id"], data_dir(call),
        call.param("limit"), call.param("offset")))


async def job_yaml(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_job_yaml, call.principal, call.args["id"], data_dir(call),
        call.param("limit"), call.param("offset")))


async def job_logs(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_job_log, call.principal, call.args["id"], data_dir(call),
        call.param("start"), call.param("end")))


async def suite_csv(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_suite_csv, call.principal, call.args["id"], call.args["suite_id"],
        data_dir(call), call.param("limit"), call.param("offset")))


async def suite_yaml(call: Call) -> Reply:
    return streamed(call, await call.lab.run(
        exports.thd_suite_yaml, call.principal, call.args["id"], call.args["suite_id"],
        data_dir(call), call.param("limit"), call.param("offset")))


EXPORT_VIEWS: dict[str, Callable[[Any], Awaitable[Reply]]] = {
    "job_junit": job_junit, "job_tap13": job_tap13, "job_csv": job_csv,
    "job_yaml": job_yaml, "job_logs": job_logs, "suite_csv": suite_csv,
    "suite_yaml": suite_yaml,
}
