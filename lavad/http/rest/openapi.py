"""The REST API's OpenAPI 3.0 document, generated from the route table.

:func:`document` reads the same :data:`~lavad.http.rest.routes.ROUTES` the
dispatcher compiles, so every route, method and path parameter the server
answers is documented and nothing else is.  Query parameters of lists come
from :func:`lavad.query.parameters` (every filter and lookup), the resource's
ordering fields and options; record schemas from
:data:`lavad.query.records.RECORDS`.  What the route table does not say (the
query parameters a few views read, the bodies and answers of LAVA's write
actions, spec sections 3-6) is declared below, keyed by view name or by
``(path, method)``; an operation declared nowhere still appears, with a
generic body and answer.

Every route answers HEAD (when it has GET) and OPTIONS: they are documented
too, so the documented methods of a path are its ``Allow`` header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lavad import LAVA_VERSION, query
from lavad.http.rest.app import RENDERS, allowed_methods
from lavad.http.rest.fields import INT_MAX, Field
from lavad.http.rest.routes import ROOT_ENTRIES, ROUTES, Operation, Route
from lavad.http.rest.wire import FORMATS
from lavad.http.rest.writes import WRITABLE, Writable
from lavad.query.records import RECORDS, Out

OPENAPI_VERSION = "3.0.3"
JSON = "application/json"
SECURITY_SCHEME = "token"
ACCESS = {"any": "Anyone, anonymous callers included.",
          "authenticated": "Authenticated users only (403 for anonymous callers).",
          "superuser": "Superusers only (403 for everyone else)."}
WRITES = ("POST", "PUT", "PATCH")

# -- schemas -------------------------------------------------------------------------------------
_TYPES: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "decimal": {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{10}$"},
    "uri": {"type": "string", "format": "uri"},
    "object": {"type": "object"},
    "[int]": {"type": "array", "items": {"type": "integer"}},
    "[str]": {"type": "array", "items": {"type": "string"}},
}


def _string(description: str = "") -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {})}


def _object(properties: Mapping[str, Any], required: Iterable[str] | None = None,
            closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    names = list(properties) if required is None else list(required)
    if names:
        schema["required"] = names
    if closed:
        schema["additionalProperties"] = False
    return schema


MESSAGE = _object({"message": _string()})
DETAIL = _object({"detail": _string()})


def field_schema(out: Out) -> dict[str, Any]:
    """The JSON schema of one record field."""
    schema = dict(_TYPES[out.kind])
    if out.enum is not None:
        schema["enum"] = out.enum.displays()
    if out.nullable:
        schema["nullable"] = True
    if out.note:
        schema["description"] = out.note
    return schema


def record_schema(resource: str) -> dict[str, Any]:
    """A resource's record: its fields in output order, superuser-only ones optional."""
    fields = RECORDS[resource]
    return _object({f.name: field_schema(f) for f in fields},
                   [f.name for f in fields if not f.superuser], closed=True)


def body_field_schema(field: Field) -> dict[str, Any]:
    """The JSON schema of one request-body field (:mod:`lavad.http.rest.fields`)."""
    pk = {"type": "integer"} if field.pk_type == "int" else {"type": "string"}
    kinds: dict[str, dict[str, Any]] = {
        "str": {"type": "string"}, "email": {"type": "string", "format": "email"},
        "int": {"type": "integer", "maximum": INT_MAX}, "bool": {"type": "boolean"},
        "choice": {"type": "string", "enum": list(field.choices)}, "pk": pk,
        "pks": {"type": "array", "items": pk},
        "names": {"type": "array", "items": {"type": "string"}}}
    schema = dict(kinds[field.kind])
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.min_value is not None:
        schema["minimum"] = field.min_value
    if field.null:
        schema["nullable"] = True
    return schema


def body_schema(writable: Writable, creating: bool, partial: bool) -> dict[str, Any]:
    """A create or update body of a resource: its fields (the superuser-only ones too,
    noted), required ones unless the write is partial."""
    fields = writable.fields if creating or writable.update_fields is None \
        else writable.update_fields
    properties = {f.name: body_field_schema(f) for f in fields}
    for f in writable.superuser_fields:
        properties[f.name] = {**body_field_schema(f), "description": "superusers only"}
    required = [] if partial else [f.name for f in fields if f.required]
    return _object(properties, required)


def _model(resource: str) -> str:
    return query.RESOURCES[resource].model


def _ref(name: str) -> dict[str, str]:
    return {"$ref": "#/components/schemas/%s" % name}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    link = {"type": "string", "format": "uri", "nullable": True}
    return _object({"count": {"type": "integer"}, "next": link, "previous": link,
                    "results": {"type": "array", "items": item}}, closed=True)


def _json(schema: Any, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _text(media: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def _empty(description: str) -> dict[str, Any]:
    return {"description": description}


# -- query parameters --------------------------------------------------------------------------
def _param(name: str, schema: dict[str, Any], description: str = "",
           where: str = "query") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "schema": schema}
    if where == "path":
        param["required"] = True
    if description:
        param["description"] = description
    return param


_FILTER_TYPES = {"int": {"type": "integer"}, "decimal": {"type": "number"},
                 "bool": {"type": "boolean"}, "datetime": {"type": "string", "format": "date-time"},
                 "str": {"type": "string"}}


def filter_param(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of :func:`lavad.query.parameters` as an OpenAPI query parameter (marked
    ``x-lavad-filter``)."""
    return {**_filter_param(entry), "x-lavad-filter": True}


def _filter_param(entry: Mapping[str, Any]) -> dict[str, Any]:
    kind, lookup = entry["kind"], entry["lookup"]
    if lookup == "in":
        text = "Comma-separated values (any of them)."
        if "choices" in entry:
            text += " Values: %s." % ", ".join(entry["choices"])
        return _param(entry["name"], {"type": "string"}, text)
    if lookup == "isnull":
        return _param(entry["name"], {"type": "boolean"}, "Whether the value is null.")
    if lookup == "pk":
        return _param(entry["name"], dict(_FILTER_TYPES[kind]),
                      "The related object's primary key.")
    if kind == "enum":
        if lookup == "exact":
            return _param(entry["name"], {"type": "string", "enum": list(entry["choices"])},
                          "A display name.")
        return _param(entry["name"], {"type": "integer"}, "The stored integer (%s lookup)."
                      % lookup)
    return _param(entry["name"], dict(_FILTER_TYPES[kind]), "%s lookup." % lookup.capitalize())


FORMAT = _param("format", {"type": "string", "enum": list(FORMATS)},
                "The renderer: JSON either way (any other value: 404).")
LIMIT = _param("limit", {"type": "integer", "minimum": 1}, "Page size (default %d)."
               % query.DEFAULT_LIMIT)
OFFSET = _param("offset", {"type": "integer", "minimum": 0}, "Index of the first result.")
_LINES = {"type": "integer", "minimum": 0}

# Query parameters that views read themselves (spec sections 3.4, 5, 6).
VIEW_PARAMS: dict[str, list[dict[str, Any]]] = {
    "job_logs": [_param("start", _LINES, "First line (0-based, default 0)."),
                 _param("end", _LINES, "Line after the last one (default: the end).")],
    "job_junit": [_param("classname_prefix", {"type": "string"},
                         "Each classname becomes <prefix>_<suite name>.")],
    "job_csv": [LIMIT, OFFSET], "job_yaml": [LIMIT, OFFSET],
    "suite_csv": [LIMIT, OFFSET], "suite_yaml": [LIMIT, OFFSET],
    "device_dictionary": [
        _param("render", {"type": "string"},
               "Any non-empty value: the dictionary rendered into YAML."),
        _param("context", {"type": "string"},
               "With render: job context variables, a YAML mapping ({arch: arm64})."),
    ],
}

_OPTIONS = {"all": "Any non-empty value: include retired devices."}


def filter_key(resource: str, name: str) -> str:
    """The key of a filter in ``components/parameters``."""
    return "%s.%s" % (resource.replace("/", "-"), name)


def filter_components() -> dict[str, Any]:
    """Every resource's filters, each documented once and referenced by the lists."""
    return {filter_key(resource, entry["name"]): filter_param(entry)
            for resource in query.RESOURCES for entry in query.parameters(resource)}


def list_params(resource: str) -> list[dict[str, Any]]:
    res = query.RESOURCES[resource]
    order = ", ".join(res.ordering)
    params: list[dict[str, Any]] = [
        {"$ref": "#/components/parameters/%s" % filter_key(resource, entry["name"])}
        for entry in query.parameters(resource)]
    params.append(_param(
        "ordering", {"type": "string"},
        "Comma-separated fields, '-' for descending, unknown ones ignored: %s. Default: %s."
        % (order, ", ".join(res.default_order) or "none")))
    params += [LIMIT, OFFSET]
    params += [_param(name, {"type": "string"}, _OPTIONS.get(name, "")) for name in res.options]
    return params


# -- what the route table does not say ---------------------------------------------------------
SUBMITTED = _object({"message": _string(), "job_ids": {
    "type": "array", "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    "description": "ids; multinode sub-jobs as \"<id>.<n>\" strings"}})
_HEALTH = _object({"health": _string("the new health, by name"),
                   "reason": _string("optional, for the log")}, ["health"])


def _file(key: str) -> dict[str, Any]:
    return _object({key: _string()})


# Bodies and answers of LAVA's actions (spec 3.3-3.5, 4), by (path, method): what the
# route table does not say (it says the success status).  A body of None: no body.
ACTIONS: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {
    ("jobs/", "POST"): (_object({"definition": _string("the job definition (YAML)")}),
                        _json(SUBMITTED, "Submitted")),
    ("jobs/validate/", "POST"): (
        _object({"definition": _string(), "strict": {"type": "boolean"}}, ["definition"]),
        _json(MESSAGE)),
    ("jobs/validate_testdef/", "POST"): (_file("definition"), _json(MESSAGE)),
    ("jobs/batch_cancel/", "POST"): (
        _object({"job_ids": {"type": "array", "items": {"type": "integer"}}}),
        _json(_object({"message": _string(),
                       "job_ids": {"type": "array", "items": {"type": "integer"}},
                       "invalid_job_ids": {"type": "array", "items": {"type": "integer"}}}))),
    ("jobs/{id}/resubmit/", "POST"): (None, _json(SUBMITTED, "Submitted")),
    ("jobs/{id}/cancel/", "GET"): (None, _json(MESSAGE)),
    ("devicetypes/{name}/template/", "GET"): (None, _text("application/yaml")),
    ("devicetypes/{name}/template/", "POST"): (_file("template"), _empty("Written")),
    ("devicetypes/{name}/health_check/", "GET"): (None, _text("application/yaml")),
    ("devicetypes/{name}/health_check/", "POST"): (_file("config"), _empty("Written")),
    ("devices/validate/", "POST"): ({"type": "string", "description": "the dictionary"},
                                     _json(MESSAGE)),
    ("devices/{hostname}/dictionary/", "POST"): (_file("dictionary"), _json(MESSAGE)),
    ("devices/{hostname}/set_health/", "POST"): (_HEALTH, _json(MESSAGE, "Accepted")),
    ("workers/{hostname}/env/", "GET"): (None, _text("application/yaml")),
    ("workers/{hostname}/env/", "POST"): (_file("env"), _json(MESSAGE)),
    ("workers/{hostname}/config/", "GET"): (None, _text("application/yaml")),
    ("workers/{hostname}/config/", "POST"): (_file("config"), _json(MESSAGE)),
    ("workers/{hostname}/set_health/", "POST"): (_HEALTH, _json(MESSAGE, "Accepted")),
}

# Answers of the read views that are not lists or details.
VIEW_ANSWERS: dict[str, dict[str, Any]] = {
    "root": _json(_object({name: {"type": "string", "format": "uri"} for name in ROOT_ENTRIES},
                          closed=True), "The top-level routes, as absolute URLs"),
    "empty_root": _json({"type": "object", "maxProperties": 0}),
    "token": _json(_object({"token": _string()}, closed=True), "The user's token"),
    "job_metadata": _json(_object({"metadata": {"type": "array", "items": {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "additionalProperties": {"type": "string"}}}}, closed=True)),
    "system": _empty("An empty body, without Content-Type"),
    "version": _json(_object({"version": _string()}, closed=True)),
    "whoami": _json(_object({"user": _string('"" when anonymous')}, closed=True)),
    "master_config": _json(_object({
        "EVENT_TOPIC": _string(), "EVENT_SOCKET": _string(),
        "EVENT_NOTIFICATION": {"type": "boolean"},
        "LOG_SIZE_LIMIT": {"type": "number", "description": "MiB"}}, closed=True)),
    "openapi": _json({"type": "object"}, "This document"),
    "docs": _text("text/html", "This document as an HTML page"),
    "device_dictionary": {"description": "The dictionary (Jinja2), or rendered (YAML)",
                          "content": {"text/plain": {"schema": {"type": "string"}},
                                      "application/yaml": {"schema": {"type": "string"}}}},
}

# Request bodies of the views that read one.
VIEW_BODIES: dict[str, dict[str, Any]] = {
    "token": _object({"username": _string(), "password": _string()}),
}


# -- operations ---------------------------------------------------------------------------------
def operation_id(route: Route, method: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", "%s/%s" % (route.version, route.path)).strip("_")
    return "%s_%s" % (method.lower(), slug)


def _tag(route: Route) -> str:
    if route.version != "v0.2":
        return route.version
    head = route.path.split("/")[0]
    return head if route.resource or head in ("jobs", "devices", "devicetypes", "workers",
                                              "system", "permissions") else "api"


# Views that never answer 400 (they read no parameters, no body, no file).
NEVER_400 = ("root", "empty_root", "root_v01", "system", "version", "whoami", "master_config",
             "openapi", "docs")


def _errors(bad_request: bool) -> dict[str, Any]:
    refs = {"403": "Forbidden", "404": "NotFound", "406": "NotAcceptable"}
    if bad_request:
        refs = {"400": "BadRequest", **refs}
    return {code: {"$ref": "#/components/responses/%s" % name} for code, name in refs.items()}


def _answer(route: Route, op: Operation) -> tuple[dict[str, Any], Any]:
    """``(success response, request body schema or None)`` of one declared operation."""
    action = ACTIONS.get((route.path, op.method))
    if action is not None:
        body, response = action
        return response, body
    resource = route.resource
    if op.view == "list" and resource:
        return _json(_page(_ref(_model(resource)))), None
    if op.view == "detail" and resource:
        return _json(_ref(_model(resource))), None
    if op.view in VIEW_ANSWERS:
        return VIEW_ANSWERS[op.view], VIEW_BODIES.get(op.view)
    if op.view in ("create", "update") and resource:
        suffix = "Create" if op.view == "create" else "Update" if op.method == "PUT" else "Patch"
        return _json(_ref(_model(resource))), _ref(_model(resource) + suffix)
    body = {"type": "object"} if op.method in WRITES else None
    if route.produces != JSON:
        return _text(route.produces), body
    return _json({}), body


def _operation(route: Route, op: Operation, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    response, body = _answer(route, op)
    status = str(op.status)
    if status == "204":
        response = _empty(response.get("description", "No content"))
    params = list(path_params)
    if op.method == "GET" and route.many and route.resource:
        params += list_params(route.resource)
    elif op.method == "GET" and route.resource and route.key:
        params += [_param(name, {"type": "string"}, _OPTIONS.get(name, ""))
                   for name in query.RESOURCES[route.resource].options]
    params += VIEW_PARAMS.get(op.view, []) if op.method == "GET" else []
    params.append(FORMAT)
    description = " ".join(filter(None, [route.description, ACCESS[op.access], _perms(op)]))
    out: dict[str, Any] = {
        "operationId": operation_id(route, op.method), "summary": op.summary,
        "description": description, "tags": [_tag(route)], "parameters": params}
    if body is not None:
        out["requestBody"] = {"content": {media: {"schema": body}
                                          for media in route.consumes}}
    out["responses"] = {status: response, **_errors(op.view not in NEVER_400)}
    out["security"] = ([{SECURITY_SCHEME: []}] if op.access != "any"
                       else [{}, {SECURITY_SCHEME: []}])
    out["x-lavad-access"] = op.access
    if op.perms:
        out["x-lavad-permissions"] = list(op.perms)
    return out


def _perms(op: Operation) -> str:
    if not op.perms:
        return ""
    return "Needs the global permission%s %s (superusers hold all; else 403: %s)" % (
        "s" if len(op.perms) > 1 else "", ", ".join(op.perms), op.denied)


def _head(get: dict[str, Any]) -> dict[str, Any]:
    ok = {code: {"description": r.get("description", "")} if "$ref" not in r else r
          for code, r in get["responses"].items()}
    return {**get, "operationId": get["operationId"].replace("get_", "head_", 1),
            "summary": "Headers of GET, without the body", "responses": ok}


def _options(route: Route, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    first = route.operations[0]
    return {
        "operationId": operation_id(route, "OPTIONS"), "summary": "The route's metadata",
        "description": ACCESS[first.access], "tags": [_tag(route)],
        "parameters": [*path_params, FORMAT],
        "responses": {"200": _json(_object({
            "name": {"type": "string", "enum": [route.name]}, "description": _string(),
            "renders": {"type": "array", "items": {"type": "string", "enum": RENDERS}},
            "parses": {"type": "array", "items": {"type": "string",
                                                  "enum": list(route.consumes)}}},
            closed=True)), **_errors(False)},
        "security": ([{SECURITY_SCHEME: []}] if first.access != "any"
                     else [{}, {SECURITY_SCHEME: []}]),
        "x-lavad-access": first.access}


_PATH_SCHEMAS = {"int": {"type": "integer"},
                 "pk": {"type": "string", "pattern": r"^[^/.]+$"},
                 "name": {"type": "string", "pattern": "^[^/\\x00]+$"}}


def path_item(route: Route) -> dict[str, Any]:
    path_params = [_param(name, dict(_PATH_SCHEMAS[kind]), where="path")
                   for name, kind in route.params.items()]
    item: dict[str, Any] = {}
    for method in allowed_methods(route):
        op = route.operation(method)
        if op is not None:
            item[method.lower()] = _operation(route, op, path_params)
        elif method == "HEAD":
            item["head"] = _head(item["get"])
        elif method == "OPTIONS":
            item["options"] = _options(route, path_params)
    return item


def path_of(route: Route, mount: str = "/api/") -> str:
    """The documented path of ``route`` (``/api/v0.2/jobs/{id}/``)."""
    return "%s%s/%s" % (mount, route.version, route.path)


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name in query.RESOURCES:
        schemas[_model(name)] = record_schema(name)
        writable = WRITABLE.get(name)
        if writable is None:
            continue
        if writable.create is not None:
            schemas[_model(name) + "Create"] = body_schema(writable, True, False)
        schemas[_model(name) + "Update"] = body_schema(writable, False, writable.partial_put)
        schemas[_model(name) + "Patch"] = body_schema(writable, False, True)
    error = {"description": "", "content": {JSON: {"schema": _ref("Detail")}}}
    schemas["Detail"] = DETAIL
    return {
        "schemas": schemas,
        "parameters": filter_components(),
        "responses": {
            "BadRequest": {"description": "Invalid parameters or body (messages per field, a"
                                          " bare list for job metadata filters), or what was"
                                          " asked for is missing (a file, a dictionary):"
                                          " {\"detail\": ...}",
                           "content": {JSON: {"schema": {
                               "oneOf": [{"type": "object"},
                                         {"type": "array", "items": {"type": "string"}}]}}}},
            "Forbidden": {**error, "description": "Not authenticated, not allowed, or a bad"
                                                  " token"},
            "NotFound": {**error, "description": "No such object (or hidden), or an unknown"
                                                 " format"},
            "NotAcceptable": {**error, "description": "The Accept header allows neither JSON"
                                                      " nor HTML"},
        },
        "securitySchemes": {SECURITY_SCHEME: {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Authorization: Token <secret>` (lavad manage tokens add, or"
                           " POST token/)."}},
    }


DESCRIPTION = """\
LAVA's REST API (v0.2) as lavad serves it.

* Authentication: `Authorization: Token <secret>`; without it you are anonymous. A bad token
  is a 403 even where anonymous callers are allowed.
* Every path ends with `/` (without it: 301). `.json` may replace the final `/` of lists
  and details (`jobs.json`, `jobs/1.json`).
* Lists are paginated with `limit` (default %d) and `offset`; `next` and `previous` are
  absolute URLs.
* Filters: `?field=value` or `?field__lookup=value`, ANDed; unknown fields and lookups are
  ignored, empty values too; append `!` to a name to negate it (`?description!=x`). Relations
  are followed with `__` (`requested_device_type__architecture__name=ARMv8`); the documented
  filters go three relations deep, the server follows any depth. Jobs also take
  `metadata__<key>[__<lookup>]`, `metadata__has_key`, `metadata__has_keys`,
  `metadata__has_any_keys` and `metadata__contains` (a JSON object).
* Errors are JSON: `{"detail": "..."}`, or messages per field for invalid input.
""" % query.DEFAULT_LIMIT


def document(routes: Sequence[Route] = ROUTES, mount: str = "/api/") -> dict[str, Any]:
    """The OpenAPI document of ``routes`` mounted at ``mount``.

    A route whose path an earlier route already has is left out: the
    dispatcher would never reach it either.
    """
    paths: dict[str, Any] = {}
    tags: dict[str, None] = {}
    for route in routes:
        path = path_of(route, mount)
        if path in paths:
            continue
        paths[path] = path_item(route)
        tags[_tag(route)] = None
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "lavad REST API", "version": "v0.2 (LAVA %s)" % LAVA_VERSION,
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": _components(),
    }


_CACHE: dict[str, dict[str, Any]] = {}


def cached_document(mount: str) -> dict[str, Any]:
    """:func:`document` of the server's route table, built once per mount point."""
    doc = _CACHE.get(mount)
    if doc is None:
        doc = _CACHE[mount] = document(ROUTES, mount)
    return doc
