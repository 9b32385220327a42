"""The REST views: each turns one :class:`Call` into a :class:`Reply` through the lab.

Views hold no rules: lists and details are :func:`lavad.query.thd_list` and
:func:`lavad.query.thd_get` over the route's resource; the others call one
domain function.  The route table (:mod:`lavad.http.rest.routes`) names the
view of each operation by its key in :data:`VIEWS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from lavad import LAVA_VERSION, devices, query
from lavad.http.rest.auth import (
    BAD_LOGIN,
    credentials,
    principal_or_refusal,
    thd_as_token,
    thd_obtain_token,
)
from lavad.http.rest.routes import ROOT_ENTRIES, Route
from lavad.http.rest.wire import HttpError, Reply, detail, paginated
from lavad.store.tx import Tx
from lavad.users import Principal


@dataclass
class Call:
    """One request, as the views see it."""

    route: Route
    args: dict[str, Any]                 # path parameters, converted
    params: dict[str, list[str]]         # query parameters, every value in order
    principal: Principal
    lab: Any                             # lavad.lab.Lab
    settings: Any                        # lavad.config.Settings
    url: str                             # the request's absolute URL
    api_root: str                        # absolute URL of the version root (".../api/v0.2/")
    body: Callable[[], Any]              # the parsed request body
    files: Any = None                    # lavad.files.LabFiles, when the server has one
    request: Any = None                  # the twisted.web request (streaming views write to it)
    counts: query.CountCache | None = None  # list counts, reused while nothing is written
    # A token not checked yet (the views of TOKEN_IN_CALL): ``run_as`` checks it in the
    # view's own store call and sets ``principal``.
    secret: str | None = None

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None

    @property
    def scope(self) -> dict[str, Any]:
        return {scope: self.args[param] for param, scope in self.route.scope.items()}

    def absolute(self, record: dict[str, Any]) -> dict[str, Any]:
        if "resource_uri" in record:
            record["resource_uri"] = self.api_root + record["resource_uri"]
        return record


View = Callable[[Call], Awaitable[Reply]]


async def run_as(call: Call, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(tx, principal, *args)`` on the store thread as the caller; a token the
    dispatcher left unchecked is checked first, in the same store call."""
    if call.secret is None:
        return await call.lab.run(fn, call.principal, *args)
    found, result = await call.lab.run(thd_as_token, call.secret, fn, *args)
    call.principal = principal_or_refusal(found)
    call.secret = None
    return result


def _thd_list(tx: Tx, principal: Principal, name: str, params: Mapping[str, Any],
              scope: Mapping[str, Any], counts: query.CountCache | None
              ) -> tuple[int, list[dict[str, Any]]]:
    return query.thd_list(tx, name, principal, params, scope, counts)


def _thd_get(tx: Tx, principal: Principal, name: str, key: Any, params: Mapping[str, Any],
             scope: Mapping[str, Any]) -> dict[str, Any]:
    return query.thd_get(tx, name, principal, key, params, scope)


async def root(call: Call) -> Reply:
    return Reply(data={name: "%s%s/" % (call.api_root, name) for name in ROOT_ENTRIES})


async def empty_root(call: Call) -> Reply:
    return Reply(data={})


async def token(call: Call) -> Reply:
    data = call.body()
    if not isinstance(data, Mapping):
        raise HttpError(400, {"non_field_errors": [
            "Invalid data. Expected a dictionary, but got %s." % type(data).__name__]})
    username, password = credentials(data)
    secret = await call.lab.run(thd_obtain_token, username, password)
    if secret is None:
        raise HttpError(400, {"non_field_errors": [BAD_LOGIN]})
    return Reply(data={"token": secret})


async def list_view(call: Call) -> Reply:
    route = call.route
    assert route.resource is not None
    count, records = await run_as(call, _thd_list, route.resource, call.params, call.scope,
                                  call.counts)
    limit, offset = query.page_bounds(call.params)
    return Reply(data=paginated(call.url, count, limit, offset,
                                [call.absolute(r) for r in records]))


async def _record(call: Call) -> dict[str, Any]:
    route = call.route
    assert route.resource is not None and route.key is not None
    return await run_as(call, _thd_get, route.resource, call.args[route.key], call.params,
                        call.scope)


async def detail_view(call: Call) -> Reply:
    return Reply(data=call.absolute(await _record(call)))


def _python_str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


async def job_metadata(call: Call) -> Reply:
    job = await _record(call)
    return Reply(data={"metadata": [{key: _python_str(value)}
                                    for key, value in job["metadata"].items()]})


def _thd_dictionary(tx: Tx, principal: Principal, hostname: str,
                    params: Mapping[str, Any]) -> str | None:
    query.thd_get(tx, "devices", principal, hostname, params)  # visibility, ?all=
    return devices.thd_get_device_dictionary(tx, hostname)


def _thd_rendered(tx: Tx, files: Any, principal: Principal, hostname: str,
                  params: Mapping[str, Any], context: dict[str, Any] | None) -> str | None:
    """The dictionary rendered through the device-type templates (small file reads,
    on the store thread as lavad.files allows)."""
    device = query.thd_get(tx, "devices", principal, hostname, params)
    text = devices.thd_get_device_dictionary(tx, hostname)
    if not text:
        return None
    return files.render_device(text, context, hostname, device["device_type"])


def _context(value: str | None) -> dict[str, Any] | None:
    """``?context=`` (a YAML mapping of job context variables)."""
    if not value:
        return None
    try:
        context = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise detail(400, "Job Context '%s' is not valid: %s" % (value, exc)) from None
    if context is None:
        return None
    if not isinstance(context, dict):
        raise detail(400, "Job Context '%s' is not valid: not a mapping" % value)
    return context


async def device_dictionary(call: Call) -> Reply:
    hostname = call.args["hostname"]
    missing = detail(400, "Device '%s' does not have a configuration" % hostname)
    if call.param("render"):
        context = _context(call.param("context"))
        if call.files is None:
            raise detail(400, "Device dictionaries cannot be rendered on this server.")
        rendered = await call.lab.run(_thd_rendered, call.files, call.principal, hostname,
                                      call.params, context)
        if rendered is None:
            raise missing
        return Reply(body=rendered.encode("utf-8"), content_type="application/yaml",
                     headers={"Content-Disposition": "attachment; filename=%s.yaml" % hostname})
    text = await call.lab.run(_thd_dictionary, call.principal, hostname, call.params)
    if not text:
        raise missing
    return Reply(body=text.encode("utf-8"), content_type="text/plain",
                 headers={"Content-Disposition": "attachment; filename=%s.jinja2" % hostname})


async def system(call: Call) -> Reply:
    return Reply(empty=True)


async def version(call: Call) -> Reply:
    return Reply(data={"version": LAVA_VERSION})


async def whoami(call: Call) -> Reply:
    principal = call.principal
    return Reply(data={"user": principal.username if principal.is_authenticated else ""})


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


async def master_config(call: Call) -> Reply:
    settings = call.settings
    return Reply(data={
        "EVENT_TOPIC": settings.event_topic, "EVENT_SOCKET": settings.event_socket,
        "EVENT_NOTIFICATION": settings.events_enabled,
        "LOG_SIZE_LIMIT": _number(settings.log_size_limit),
    })


# The views whose only store call is ``run_as``: a token is checked in that call.
TOKEN_IN_CALL = frozenset({"list", "detail", "job_metadata"})

VIEWS: dict[str, View] = {
    "root": root, "empty_root": empty_root, "token": token, "list": list_view,
    "detail": detail_view, "job_metadata": job_metadata,
    "device_dictionary": device_dictionary, "system": system, "version": version,
    "whoami": whoami, "master_config": master_config,
}

# The streamed exports (they need Call, hence the import here).
from lavad.http.exports import EXPORT_VIEWS  # noqa: E402

VIEWS.update(EXPORT_VIEWS)

# openapi.json and docs/ (they need Call too).
from lavad.http.rest.docs import DOC_VIEWS  # noqa: E402

VIEWS.update(DOC_VIEWS)

# The writes and the actions (they need Call too).
from lavad.http.rest.actions import ACTION_VIEWS  # noqa: E402
from lavad.http.rest.jobactions import JOB_VIEWS  # noqa: E402
from lavad.http.rest.writes import WRITE_VIEWS  # noqa: E402

VIEWS.update(WRITE_VIEWS)
VIEWS.update(JOB_VIEWS)
VIEWS.update(ACTION_VIEWS)
