"""The REST actions on device types, devices and workers, and the v0.1 root.

``devicetypes/{name}/template/`` and ``health_check/``, ``devices/validate/``,
``devices/{h}/dictionary/`` (POST), ``devices/{h}/set_health/``,
``workers/{h}/env/``, ``config/`` and ``set_health/``.  Each view looks the
object up through the read query (404 for what the caller may not see), calls
one domain function of :mod:`lavad.inventory` (or reads a file through
:class:`lavad.files.LabFiles`), and words its errors as LAVA's views do
(spec 3.3-3.5).
"""

from __future__ import annotations

from typing import Any

from lavad import healthchecks, inventory, query
from lavad.errors import Invalid, NotFound, PermissionDenied
from lavad.http.rest.fields import Field, parse, require_mapping, scalar
from lavad.http.rest.routes import ADMIN_ONLY, APP, V01_ROOT_ENTRIES
from lavad.http.rest.views import Call, View
from lavad.http.rest.wire import HttpError, Reply, detail
from lavad.models import DeviceHealth, WorkerHealth
from lavad.store.tx import Tx
from lavad.users import Principal

NO_FILES = "Configuration files cannot be read or written on this server."
WORKER_FILES = {"env": ("env", "env.yaml"), "config": ("dispatcher", "dispatcher.yaml")}


def _files(call: Call) -> Any:
    if call.files is None:
        raise detail(400, NO_FILES)
    return call.files


def _yaml(text: str, filename: str) -> Reply:
    return Reply(body=text.encode("utf-8"), content_type="application/yaml",
                 headers={"Content-Disposition": "attachment; filename=%s" % filename})


async def _lookup(call: Call, resource: str, key: str) -> dict[str, Any]:
    """The object (404 when the caller may not see it), as the detail route reads it."""
    return await call.lab.run(query.thd_get, resource, call.principal, call.args[key],
                              call.params)


async def root_v01(call: Call) -> Reply:
    return Reply(data={name: "%s%s/" % (call.api_root, name) for name in V01_ROOT_ENTRIES})


# -- device types ------------------------------------------------------------------------------
def _thd_template(tx: Tx, files: Any, principal: Principal, name: str,
                  params: Any) -> str:
    query.thd_get(tx, "devicetypes", principal, name, params)
    if files is None:
        raise Invalid(NO_FILES)
    try:
        return files.get_template(name)
    except NotFound as exc:
        raise Invalid(exc.message) from None


def _thd_health_check(tx: Tx, principal: Principal, name: str, params: Any) -> str | None:
    query.thd_get(tx, "devicetypes", principal, name, params)
    return healthchecks.thd_get_health_check(tx, name)


def _text_field(call: Call, name: str, message: str) -> str:
    """A file's text from LAVA's hand-checked bodies: 400 ``{name: message}`` without it."""
    value = scalar(require_mapping(call.body()), name)
    if not isinstance(value, str) or not value:
        raise HttpError(400, {name: message})
    return value


async def _write_type_file(call: Call, fn: Any, text: str, *extra: Any) -> Reply:
    try:
        await call.lab.run(fn, call.principal, call.args["name"], text, *extra,
                           permission="%s.change_device" % APP)
    except PermissionDenied:
        raise detail(403, ADMIN_ONLY) from None
    return Reply(204, empty=True)


async def device_type_template(call: Call) -> Reply:
    name = call.args["name"]
    if call.request.method != b"POST":
        text = await call.lab.run(_thd_template, call.files, call.principal, name,
                                  call.params)
        return _yaml(text, "%s.jinja2" % name)
    await _lookup(call, "devicetypes", "name")
    text = _text_field(call, "template", "Device type template is required.")
    return await _write_type_file(call, inventory.thd_set_device_type_template, text,
                                  _files(call))


async def device_type_health_check(call: Call) -> Reply:
    name = call.args["name"]
    if call.request.method != b"POST":
        text = await call.lab.run(_thd_health_check, call.principal, name, call.params)
        if not text:
            raise detail(400, "Device-type '%s' health check was not found." % name)
        return _yaml(text, "%s_health_check.yaml" % name)
    await _lookup(call, "devicetypes", "name")
    text = _text_field(call, "config", "Health check configuration is required.")
    return await _write_type_file(call, inventory.thd_set_device_type_health_check, text)


# -- devices -----------------------------------------------------------------------------------
async def device_validate(call: Call) -> Reply:
    text = call.body()
    if not isinstance(text, str) or not text.strip():
        raise HttpError(400, {"device": "Device dictionary is required."})
    files = _files(call)
    # Rendering reads the templates: off the reactor, like every other file access.
    problem = await call.lab.run(lambda tx: inventory.check_device_dictionary(files, text))
    if problem is None:
        return Reply(data={"message": "Device dictionary valid."})
    return Reply(data={"message": "Device dictionary invalid: %s" % problem})


async def device_dictionary_set(call: Call) -> Reply:
    await _lookup(call, "devices", "hostname")
    values = parse((Field("dictionary", required=True, trim=False),), call.body())
    try:
        await call.lab.run(inventory.thd_set_device_dictionary, call.principal,
                           call.args["hostname"], values["dictionary"])
    except PermissionDenied:
        raise detail(403, ADMIN_ONLY) from None
    return Reply(data={"message": "device config successfully updated"})


def _reason(data: Any) -> str | None:
    reason = scalar(data, "reason")
    return None if reason is None or reason == "" else str(reason)


async def device_set_health(call: Call) -> Reply:
    await _lookup(call, "devices", "hostname")
    data = require_mapping(call.body())
    given = scalar(data, "health")
    name = given.upper() if isinstance(given, str) else str(given)
    if name not in DeviceHealth.__members__:
        raise HttpError(400, {"message": "Wrong device health %s" % name})
    try:
        await call.lab.run(inventory.thd_set_device_health, call.principal,
                           call.args["hostname"], DeviceHealth[name], _reason(data))
    except PermissionDenied:
        raise HttpError(403, {"message": "Permission denied"}) from None
    return Reply(202, {"message": "OK"})


# -- workers -----------------------------------------------------------------------------------
async def _worker_file(call: Call, key: str) -> Reply:
    kind, filename = WORKER_FILES[key]
    hostname = call.args["hostname"]
    await _lookup(call, "workers", "hostname")
    files = _files(call)
    if call.request.method != b"POST":
        text = await call.lab.run(lambda tx: files.worker_file(hostname, kind))
        if not text:
            raise detail(400, "Worker '%s' does not have '%s' file" % (hostname, kind))
        return _yaml(text, filename)
    values = parse((Field(key, required=True, trim=False),), call.body())
    await call.lab.run(inventory.thd_set_worker_file, hostname, kind, values[key], files,
                       report=True)
    return Reply(data={"message": "content successfully updated"})


async def worker_env(call: Call) -> Reply:
    return await _worker_file(call, "env")


async def worker_config(call: Call) -> Reply:
    return await _worker_file(call, "config")


async def worker_set_health(call: Call) -> Reply:
    await _lookup(call, "workers", "hostname")
    data = require_mapping(call.body())
    given = scalar(data, "health")
    name = given.title() if isinstance(given, str) else str(given)
    if name not in WorkerHealth.displays():
        raise HttpError(400, {"message": "Wrong worker health %s" % name})
    try:
        await call.lab.run(inventory.thd_set_worker_health, call.principal,
                           call.args["hostname"], WorkerHealth.from_display(name),
                           _reason(data))
    except PermissionDenied:
        raise HttpError(403, {"message": "Permission denied"}) from None
    return Reply(202, {"message": "OK"})


ACTION_VIEWS: dict[str, View] = {
    "root_v01": root_v01, "device_type_template": device_type_template,
    "device_type_health_check": device_type_health_check, "device_validate": device_validate,
    "device_dictionary_set": device_dictionary_set, "device_set_health": device_set_health,
    "worker_env": worker_env, "worker_config": worker_config,
    "worker_set_health": worker_set_health,
}
