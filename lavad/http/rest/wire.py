"""The REST wire conventions: JSON rendering, error bodies, URLs, content negotiation.

Everything here is pure (no request object): the dispatcher feeds it strings
and writes what it returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import orjson
except ImportError:  # pragma: no cover - json alone gives the same bytes, slower
    orjson = None  # type: ignore[assignment]

from lavad.errors import (
    Invalid,
    LavadError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from lavad.http.rest.routes import BODIES, PATTERNS, Route
from lavad.query import QueryError

JSON = "application/json"
NOT_FOUND = "Not found."
NOT_AUTHENTICATED = "Authentication credentials were not provided."
FORBIDDEN = "You do not have permission to perform this action."
NOT_ACCEPTABLE = "Could not satisfy the request Accept header."
# What ?format= / a suffix may name: JSON, or DRF's browsable API (answered with JSON here).
FORMATS = ("json", "api")
# Media ranges the JSON and browsable-API renderers satisfy.
ACCEPTABLE = ("*/*", "application/*", "application/json", "text/*", "text/html")


@dataclass
class Reply:
    """An HTTP answer: ``data`` is rendered as JSON unless ``body`` is given; with
    ``empty``, the body is empty and there is no Content-Type.

    ``stream``, when set, writes the body itself (``await stream(request)``,
    after the status and headers are set, before the request is finished): for
    large exports and logs.
    """

    code: int = 200
    data: Any = None
    body: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    empty: bool = False
    stream: Callable[[Any], Awaitable[Any]] | None = None


class HttpError(Exception):
    """Stop handling the request with ``status`` and the JSON ``data``."""

    def __init__(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, data)
        self.status = status
        self.data = data
        self.headers = dict(headers or {})


def detail(status: int, message: str) -> HttpError:
    return HttpError(status, {"detail": message})


_PLAIN = frozenset((str, int, bool, type(None)))
_NESTED = frozenset((dict, list, tuple))


def _orjson_writes_as_json(value: Any) -> bool:
    """Whether orjson writes ``value`` byte for byte as :func:`json.dumps` does: nested
    dicts, lists and tuples of strings, integers, booleans and None.  Floats are not
    (orjson writes ``1e16`` and NaN as ``null`` where json writes ``1e+16`` and
    refuses NaN); other types go to json, which knows what to do with them (or not)."""
    pending = [value]
    pop, push = pending.pop, pending.extend
    plain, nested = _PLAIN, _NESTED
    while pending:
        item = pop()
        kind = type(item)
        if kind in plain:
            continue
        if kind is dict:
            push(item.values())
        elif kind in nested:
            push(item)
        else:
            return False
    return True


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept, U+2028/U+2029 escaped (as DRF renders).

    A response of plain values (every list page) is written by orjson, ~10x quicker
    than json for a page of jobs; anything else, and anything orjson refuses (integers
    beyond 64 bits, keys that are not strings, lone surrogates), by json.
    """
    if orjson is not None and _orjson_writes_as_json(value):
        try:
            data = orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError is one
            pass
        else:
            if b"\xe2\x80" in data:
                data = data.replace("\u2028".encode(), b"\\u2028").replace(
                    "\u2029".encode(), b"\\u2029")
            return data
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


def error_for(exc: BaseException) -> HttpError | None:
    """The wire error for a domain error, or None when ``exc`` is not one."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, QueryError):
        return HttpError(400, exc.errors)
    if isinstance(exc, NotFound):
        # DRF's wording for a missing or hidden object of a known model.
        return detail(404, "No %s matches the given query." % exc.model if exc.model
                      else NOT_FOUND)
    if isinstance(exc, NotAuthenticated):
        return detail(403, NOT_AUTHENTICATED)
    if isinstance(exc, PermissionDenied):
        return detail(403, FORBIDDEN)
    if isinstance(exc, Invalid):
        return HttpError(400, {exc.field: [exc.message]} if exc.field
                         else {"detail": exc.message})
    if isinstance(exc, LavadError):
        return detail(exc.code, exc.message)
    return None


# -- query strings and URLs ----------------------------------------------------------------------
def query_params(query: str) -> dict[str, list[str]]:
    """The decoded query string, every value of every parameter in order."""
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        out.setdefault(key, []).append(value)
    return out


def replace_query_param(url: str, key: str, value: Any) -> str:
    """``url`` with ``key=value``; parameters re-encoded in sorted order, as DRF links are."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True),
                       fragment))


def remove_query_param(url: str, key: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params.pop(key, None)
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True),
                       fragment))


def page_links(url: str, count: int, limit: int, offset: int) -> tuple[str | None, str | None]:
    """``(next, previous)`` for limit/offset pagination of ``url`` (absolute)."""
    following = None
    if offset + limit < count:
        following = replace_query_param(replace_query_param(url, "limit", limit),
                                        "offset", offset + limit)
    previous = None
    if offset > 0:
        previous = replace_query_param(url, "limit", limit)
        if offset - limit <= 0:
            previous = remove_query_param(previous, "offset")
        else:
            previous = replace_query_param(previous, "offset", offset - limit)
    return following, previous


def paginated(url: str, count: int, limit: int, offset: int, results: list[Any]) -> dict:
    following, previous = page_links(url, count, limit, offset)
    return {"count": count, "next": following, "previous": previous, "results": results}


# -- negotiation -----------------------------------------------------------------------------
def acceptable(accept: str | None) -> bool:
    """Whether an Accept header lets the API answer JSON (or the browsable API)."""
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        media = item.split(";")[0].strip().lower()
        if media in ACCEPTABLE:
            return True
    return False


# -- routing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compiled:
    route: Route
    plain: re.Pattern[str]
    suffixed: re.Pattern[str] | None


def compile_route(route: Route) -> Compiled:
    """The URL patterns of ``route``, relative to the API mount (``v0.2/jobs/{id}/``)."""
    pattern = re.escape(route.version + "/")
    for piece in re.split(r"(\{[a-z_]+\})", route.path):
        if piece.startswith("{"):
            name = piece[1:-1]
            pattern += "(?P<%s>%s)" % (name, PATTERNS[route.params[name]])
        else:
            pattern += re.escape(piece)
    plain = re.compile("^" + pattern + ("" if route.open_end else "$"), re.DOTALL)
    suffixed = None
    if route.suffix:
        base = pattern.removesuffix("/")
        suffixed = re.compile("^" + base + r"\.(?P<format>[a-z0-9]+)/?$", re.DOTALL)
    return Compiled(route, plain, suffixed)


def match(table: list[Compiled], path: str) -> tuple[Route, dict[str, str], str | None] | None:
    """``(route, path parameters, format suffix)`` for a decoded relative path."""
    for compiled in table:
        m = compiled.plain.match(path)
        if m:
            return compiled.route, m.groupdict(), None
        if compiled.suffixed is not None:
            m = compiled.suffixed.match(path)
            if m:
                params = m.groupdict()
                fmt = params.pop("format")
                return compiled.route, params, fmt
    return None


# -- request bodies ------------------------------------------------------------------------------
class FormData(dict):
    """A form or multipart body: every value a list of strings (HTML-form semantics)."""


def parse_body(content_type: str | None, raw: bytes,
               accepted: tuple[str, ...] = BODIES) -> Any:
    """A JSON, form (:class:`FormData`) or multipart body, or a ``text/plain`` one (a
    string) where ``accepted`` lists it; 400/415 as DRF answers."""
    media = (content_type or "").split(";")[0].strip().lower()
    if not raw:  # DRF does not parse an empty body, whatever its type
        return "" if "text/plain" in accepted else {}
    if media not in accepted:
        raise detail(415, 'Unsupported media type "%s" in request.' % (content_type or ""))
    if media == "text/plain":
        return raw.decode("utf-8", "replace")
    if media == "application/json":
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise detail(400, "JSON parse error - %s" % exc) from None
        except ValueError as exc:
            raise detail(400, "JSON parse error - %s" % exc) from None
    if media == "application/x-www-form-urlencoded":
        return FormData(query_params(raw.decode("utf-8", "replace")))
    return _multipart(content_type or "", raw)


def _multipart(content_type: str, raw: bytes) -> FormData:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw)
    out = FormData()
    if not message.is_multipart():
        raise detail(400, "Multipart form parse error - Invalid boundary in multipart: None")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        out.setdefault(str(name), []).append(text)
    return out
