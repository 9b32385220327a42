"""Callback requests: ``GET`` or ``POST`` to the job's callback URLs.

The data and the URL come from :func:`lavad.notify.records.thd_plan`; the
token travels raw in the header the callback names (``Authorization`` by
default).  Each attempt is bounded by ``CALLBACK_TIMEOUT``; a connection error,
a timeout or a 5xx answer is tried again a few times with a growing pause, any
other non-2xx answer is final.  The outcome is True (a 2xx answer) or False,
never an exception.
"""

from __future__ import annotations

import json
from fnmatch import fnmatch
from typing import Any, Callable
from urllib.parse import urlsplit

from twisted.internet.defer import CancelledError
from twisted.internet.task import deferLater
from twisted.logger import Logger

from lavad.notify.compose import form_body, request_url

log = Logger()

ATTEMPTS = 3
RETRY_DELAY = 1.0  # seconds before the 2nd attempt, doubled each time


def host_allowed(url: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """``CALLBACK_ALLOWED_HOSTS``: fnmatch patterns on the URL's host (none set: any)."""
    if not patterns:
        return True
    host = urlsplit(url).hostname or ""
    return any(fnmatch(host, pattern) for pattern in patterns)


def request_parts(callback: dict[str, Any]) -> tuple[str, dict[bytes, list[bytes]], bytes | None]:
    """The URL, headers and body of one callback request."""
    headers: dict[bytes, list[bytes]] = {}
    if callback.get("token"):
        headers[callback["header"].encode("latin-1")] = [callback["token"].encode("utf-8")]
    body = None
    if callback["method"] == "POST":
        data = callback.get("data") or {}
        if callback.get("json"):
            body = json.dumps(data).encode("utf-8")
            headers[b"Content-Type"] = [b"application/json"]
        else:
            body = form_body(data)
            headers[b"Content-Type"] = [b"application/x-www-form-urlencoded"]
    return request_url(callback["url"]), headers, body


async def deliver(client: Any, reactor: Any, callback: dict[str, Any], timeout: float,
                  allowed_hosts: tuple[str, ...] | list[str] = (), attempts: int = ATTEMPTS,
                  retry_delay: float = RETRY_DELAY,
                  watch: Callable[[Any], None] = lambda d: None) -> bool:
    """Send one callback; True once an attempt got a 2xx answer.

    ``client`` has treq's ``request(method, url, headers=, data=)``;
    ``watch`` is told each Deferred waited on (the service cancels it on stop).
    """
    url, headers, body = request_parts(callback)
    if not host_allowed(url, allowed_hosts):
        log.warn("Callback to {url} not sent: its host is not in CALLBACK_ALLOWED_HOSTS",
                 url=url)
        return False
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            pause = deferLater(reactor, retry_delay * 2 ** (attempt - 2), lambda: None)
            watch(pause)
            await pause
        try:
            sending = client.request(callback["method"], url, headers=headers, data=body)
            sending.addTimeout(timeout, reactor)
            watch(sending)
            response = await sending
            reading = response.content()
            reading.addTimeout(timeout, reactor)
            watch(reading)
            await reading
        except CancelledError:
            raise
        except Exception as exc:
            log.warn("Problem sending request to {url}: {error} (attempt {n} of {total})",
                     url=url, error=str(exc) or type(exc).__name__, n=attempt, total=attempts)
            continue
        if 200 <= response.code < 300:
            return True
        log.warn("Problem sending request to {url}: HTTP {code} (attempt {n} of {total})",
                 url=url, code=response.code, n=attempt, total=attempts)
        if response.code < 500:
            return False
    return False
