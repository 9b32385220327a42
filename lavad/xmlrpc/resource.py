"""``/RPC2``: the XML-RPC endpoint over HTTP.

A ``twisted.web.xmlrpc.XMLRPC`` resource whose dispatching is replaced by
lavad's method table (:mod:`lavad.xmlrpc.dispatch`).  What happens here is
only HTTP: the redirect to the help page, the ``Authorization`` header (the
same API tokens as the REST API), decoding the call, and writing the
response.  Faults are answered with status 200 like results; the only
non-200 answers are the redirect and the authentication errors LAVA sends
before dispatching (400 and 401, plain text).  A call that was read is never
answered with a 5xx status: lavacli retries those, which would repeat a
submission.
"""

from __future__ import annotations

import base64
import binascii
import xmlrpc.client
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web import server
from twisted.web.iweb import IRequest
from twisted.web.util import redirectTo
from twisted.web.xmlrpc import XMLRPC

from lavad.users import ANONYMOUS, Principal
from lavad.xmlrpc.dispatch import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    Fault,
    dispatch,
    internal_fault,
)

HELP_PATH = b"/api/help/"
CONTENT_TYPE = b"application/xml; charset=utf-8"
REALM = b'Basic realm="XML-RPC Authentication token"'
DECODE_ERROR = "Unable to decode request"

log = Logger(namespace="lavad.xmlrpc")


class HttpRefusal(Exception):
    """An answer given before dispatching: ``status`` with a plain ``text`` body."""

    def __init__(self, status: int, text: str, challenge: bool = False) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.challenge = challenge


def parse_authorization(header: bytes | None) -> tuple[str, str] | None:
    """``(username, secret)`` from an ``Authorization: Basic`` header, None without one.

    Raises :class:`HttpRefusal` (400) for a header LAVA would refuse.
    """
    if header is None:
        return None
    text = header.decode("latin-1")
    if " " not in text:
        raise HttpRefusal(400, "Invalid HTTP_AUTHORIZATION header")
    scheme, _, credentials = text.partition(" ")
    if scheme != "Basic":
        raise HttpRefusal(400, "Unsupported HTTP_AUTHORIZATION header, only Basic scheme "
                               "is supported")
    try:
        # Like LAVA, characters outside the base64 alphabet are dropped (validate=False).
        decoded = base64.b64decode(credentials.strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # LAVA answers bad padding with an error page (500); a client error is what it is.
        raise HttpRefusal(400, "Corrupted HTTP_AUTHORIZATION header, bad base64 encoding") \
            from None
    if ":" not in decoded:
        raise HttpRefusal(400, "Corrupted HTTP_AUTHORIZATION header, no user:pass")
    username, _, secret = decoded.partition(":")
    return username, secret


def decode_call(body: bytes) -> tuple[str, tuple[Any, ...]]:
    """The method name and parameters of a ``methodCall``; raises the decoding faults."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        # No document type declarations: no entity expansion (LAVA parses with defusedxml).
        raise Fault(INTERNAL_ERROR, DECODE_ERROR)
    try:
        params, name = xmlrpc.client.loads(body, use_datetime=True)
    except xmlrpc.client.ResponseError:
        raise Fault(INVALID_REQUEST, DECODE_ERROR) from None
    except Exception:  # noqa: BLE001 - malformed XML of any kind
        raise Fault(INTERNAL_ERROR, DECODE_ERROR) from None
    if not isinstance(name, str):
        raise Fault(INVALID_REQUEST, DECODE_ERROR)
    return name, params


#: xmlrpc.client.dumps((text,), methodresponse=True) of a string, around the escaped text.
_STRING_HEAD = ("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
                "<value><string>")
_STRING_TAIL = "</string></value>\n</param>\n</params>\n</methodResponse>\n"


def escape(text: str) -> str:
    """``xmlrpc.client.escape(text)``: each replace only for a character the text has
    (looking for one is ~30 times quicker than a replace that finds none, which for the
    3 MB results YAML of a 10,000-case job is ~1 ms)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def encode_response(value: Any) -> bytes:
    """The ``methodResponse`` for a value or a Fault; a value that cannot be sent
    (an int beyond i4...) becomes fault -32603.

    A string (the results methods' whole YAML or CSV texts) is written directly, as
    xmlrpc.client.dumps writes it, without its list of pieces and their join."""
    if value.__class__ is str:
        return "".join((_STRING_HEAD, escape(value), _STRING_TAIL)).encode("utf-8")
    try:
        if isinstance(value, Fault):
            text = xmlrpc.client.dumps(value, methodresponse=True, allow_none=True)
        else:
            text = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)
    except Exception as exc:  # noqa: BLE001 - OverflowError, TypeError...
        log.failure("cannot encode an XML-RPC response")
        text = xmlrpc.client.dumps(internal_fault(exc), methodresponse=True,
                                   allow_none=True)
    return text.encode("utf-8")


class RPC2(XMLRPC):
    """The ``/RPC2`` and ``/RPC2/`` resource (``env`` is a :class:`lavad.xmlrpc.Env`)."""

    allowedMethods = (b"GET", b"HEAD", b"POST")  # type: ignore[assignment]  # wider than XMLRPC's

    def __init__(self, env: Any) -> None:
        super().__init__(allowNone=True, useDateTime=True)
        self.env = env

    def render_GET(self, request: IRequest) -> bytes:
        return redirectTo(HELP_PATH, request)

    def render_POST(self, request: IRequest) -> Any:
        request.content.seek(0, 0)
        body = request.content.read()
        if not body:
            return redirectTo(HELP_PATH, request)
        gone: list[Any] = []
        request.notifyFinish().addBoth(gone.append)
        ensureDeferred(self._answer(request, body, gone)).addErrback(
            lambda f: log.failure("answering an XML-RPC call failed", f))
        return server.NOT_DONE_YET

    async def _answer(self, request: IRequest, body: bytes, gone: list[Any]) -> None:
        try:
            principal = await self._principal(request)
        except HttpRefusal as refusal:
            if not gone:
                self._refuse(request, refusal)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. the store is stopping
            log.failure("XML-RPC authentication failed")
            self._respond(request, gone, internal_fault(exc))
            return
        try:
            name, params = decode_call(body)
            value = await dispatch(self.env, principal, name, params)
        except Fault as fault:
            value = fault
        except Exception as exc:  # noqa: BLE001 - never a 500 for a request we read
            log.failure("XML-RPC dispatch failed")
            value = internal_fault(exc)
        self._respond(request, gone, value)

    async def _principal(self, request: IRequest) -> Principal:
        credentials = parse_authorization(request.getHeader(b"authorization"))
        if credentials is None:
            return ANONYMOUS
        username, secret = credentials
        principal = await self.env.lab.authenticate_token(secret, username, touch=True)
        if principal is None:
            raise HttpRefusal(401, "Invalid token", challenge=True)
        return principal

    def _refuse(self, request: IRequest, refusal: HttpRefusal) -> None:
        body = refusal.text.encode("utf-8")
        request.setResponseCode(refusal.status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        if refusal.challenge:
            request.setHeader(b"www-authenticate", REALM)
        request.setHeader(b"content-length", b"%d" % len(body))
        request.write(body)
        request.finish()

    def _respond(self, request: IRequest, gone: list[Any], value: Any) -> None:
        if gone:
            return  # the client went away
        body = encode_response(value)
        request.setResponseCode(200)
        request.setHeader(b"content-type", CONTENT_TYPE)
        request.setHeader(b"content-length", b"%d" % len(body))
        request.write(body)
        request.finish()
