"""The API's own description: ``openapi.json`` and the HTML page ``docs/``.

Both come from :func:`lavad.http.rest.openapi.cached_document` (built once per
mount point from the route table).  The HTML page is rendered by jinja2 from
that document alone (``lavad/templates/rest_api.html``), self-contained: no
script, no stylesheet or font from elsewhere.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from lavad.http import html
from lavad.http.rest.wire import Reply, dumps

if TYPE_CHECKING:
    from lavad.http.rest.views import Call

FULL = ("get", "post", "put", "patch", "delete")   # methods shown in full (HEAD, OPTIONS: listed)
FOLD = 12                                           # more filters than this start folded


def _mount(call: Call) -> str:
    """The API's mount point (``/api/``), from the version root of the request."""
    path = urlsplit(call.api_root).path
    return path.removesuffix(call.route.version + "/")


async def openapi_view(call: Call) -> Reply:
    # ~0.9 MB of JSON: serialised once per mount point, not on the reactor at every request.
    return Reply(body=_document_bytes(_mount(call)), content_type="application/json")


@functools.lru_cache(maxsize=8)
def _document_bytes(mount: str) -> bytes:
    from lavad.http.rest import openapi  # the generator imports the dispatcher

    return dumps(openapi.cached_document(mount))


async def docs_view(call: Call) -> Reply:
    origin = call.api_root[:len(call.api_root) - len(urlsplit(call.api_root).path)]
    return Reply(body=_page(_mount(call), origin), content_type="text/html; charset=utf-8")


@functools.lru_cache(maxsize=8)
def _page(mount: str, origin: str) -> bytes:
    """The rendered page (the examples name the origin the request used)."""
    from lavad.http.rest import openapi

    return render(openapi.cached_document(mount), origin).encode("utf-8")


DOC_VIEWS = {"openapi": openapi_view, "docs": docs_view}


# -- the page ------------------------------------------------------------------------------------
def _resolve(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def type_text(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """A schema in a few words: ``string (date-time) or null``, ``array of integer``..."""
    name = schema["$ref"].rsplit("/", 1)[-1] if "$ref" in schema else None
    schema = _resolve(doc, schema)
    if "oneOf" in schema:
        text = " or ".join(type_text(doc, s) for s in schema["oneOf"])
    elif name is not None:
        text = name
    elif schema.get("type") == "array":
        text = "array of %s" % type_text(doc, schema.get("items", {}))
    else:
        text = schema.get("type", "any")
        if "format" in schema:
            text += " (%s)" % schema["format"]
    if schema.get("enum") and len(schema["enum"]) > 1:
        text += ": " + ", ".join(str(v) for v in schema["enum"])
    if schema.get("nullable"):
        text += " or null"
    return text


def fields(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of an object schema's table (for a page: its ``results`` items' too)."""
    schema = _resolve(doc, schema)
    required = set(schema.get("required", ()))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        rows.append({"name": name, "type": type_text(doc, prop), "required": name in required,
                     "note": _resolve(doc, prop).get("description", "")})
    results = schema.get("properties", {}).get("results", {})
    if "items" in results:
        rows += [{**row, "name": "results[]." + row["name"]}
                 for row in fields(doc, results["items"])]
    return rows


def example(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    """A plausible value of ``schema`` (for the curl examples)."""
    schema = _resolve(doc, schema)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: example(doc, prop) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(doc, schema.get("items", {}))]
    return {"integer": 1, "number": 1.5, "boolean": True}.get(kind or "", "...")


def _curl(doc: Mapping[str, Any], origin: str, path: str, method: str,
          op: Mapping[str, Any]) -> str:
    url = origin + path
    if any(_resolve(doc, p).get("name") == "limit" for p in op.get("parameters", ())):
        url += "?limit=10"
    words = ["curl"]
    if method != "get":
        words += ["-X", method.upper()]
    if op.get("x-lavad-access", "any") != "any":
        words += ["-H", "'Authorization: Token $TOKEN'"]
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = json.dumps(example(doc, content["application/json"]["schema"]))
        words += ["-H", "'Content-Type: application/json'", "-d", "'%s'" % body]
    elif content:
        media = next(iter(content))
        words += ["-H", "'Content-Type: %s'" % media, "--data-binary", "@file"]
    words.append("'%s'" % url)
    return " ".join(words)


def _operation(doc: Mapping[str, Any], origin: str, path: str, method: str,
               op: Mapping[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    for param in op.get("parameters", ()):
        param = _resolve(doc, param)
        row = {"name": param["name"], "in": param["in"],
               "type": type_text(doc, param.get("schema", {})),
               "note": param.get("description", "")}
        (filters if param.get("x-lavad-filter") else params).append(row)
    body = None
    content = op.get("requestBody", {}).get("content", {})
    if content:
        schema = next(iter(content.values()))["schema"]
        body = {"media": list(content), "fields": fields(doc, schema),
                "type": type_text(doc, schema)}
    responses = []
    for code, response in op.get("responses", {}).items():
        response = _resolve(doc, response)
        media = response.get("content", {})
        schema = next(iter(media.values()))["schema"] if media else None
        responses.append({"code": code, "description": response.get("description", ""),
                          "media": list(media),
                          "type": type_text(doc, schema) if schema is not None else "",
                          "fields": fields(doc, schema) if schema is not None else []})
    return {"method": method.upper(), "id": op["operationId"], "summary": op.get("summary", ""),
            "description": op.get("description", ""), "params": params, "filters": filters,
            "fold": len(filters) > FOLD, "body": body, "responses": responses,
            "curl": _curl(doc, origin, path, method, op)}


def sections(doc: Mapping[str, Any], origin: str) -> list[dict[str, Any]]:
    """The document as the page shows it: tags, their paths, their operations."""
    by_tag: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in doc.get("tags", ())}
    for path, item in doc["paths"].items():
        methods = [m for m in item if m in FULL + ("head", "options")]
        ops = [_operation(doc, origin, path, m, item[m]) for m in methods if m in FULL]
        tag = next((item[m]["tags"][0] for m in methods if item[m].get("tags")), "api")
        by_tag.setdefault(tag, []).append({"path": path, "ops": ops,
                                           "allow": ", ".join(m.upper() for m in methods)})
    return [{"tag": tag, "paths": paths} for tag, paths in by_tag.items() if paths]


def markup(text: str) -> Markup:
    """The little Markdown the document's descriptions use: paragraphs, ``* `` items and
    `code`, escaped."""
    blocks: list[str] = []
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("* "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
        elif line.strip():
            blocks.append("<p>%s</p>" % _code(line))
    if items:
        blocks.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _code(i) for i in items))
    return Markup("\n".join(blocks))


def _code(text: str) -> str:
    parts = str(escape(text)).split("`")
    return "".join("<code>%s</code>" % p if i % 2 else p for i, p in enumerate(parts))


def render(doc: Mapping[str, Any], origin: str) -> str:
    """The HTML page of ``doc`` for a server at ``origin`` (``http://host:port``)."""
    return html.environment(trim=True).get_template("rest_api.html").render(
        info=doc["info"], description=markup(doc["info"].get("description", "")),
        sections=sections(doc, origin), origin=origin,
        openapi_version=doc["openapi"],
        schemas=sorted(doc.get("components", {}).get("schemas", {})))
