"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, on the reactor.

:func:`start_chromium` launches the browser with ``--remote-debugging-port=0``
in its own process group and a user-data directory under the test's tmp
path, reads the port from the ``DevToolsActivePort`` file Chromium writes
there, finds the page target in ``/json/list`` and connects to it with
autobahn's websocket client.  :class:`Browser` sends protocol commands
(``call``), evaluates JavaScript in the page (``evaluate``) and polls it
(``wait_for``).  Every wait is bounded; nothing sleeps.

When ``chromium`` is not installed the test fails (it does not skip) and says
how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from typing import Any

import pytest
import treq
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from eventlab import Child, poll, spawn
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.web.client import HTTPConnectionPool

CALL_TIMEOUT = 15  # seconds for one DevTools command
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-proxy-server", "--remote-debugging-port=0"]


class DevToolsError(Exception):
    """A DevTools command answered with an error, or the page threw."""


class _DevTools(WebSocketClientProtocol):
    """One DevTools websocket: commands get ids, answers fire their Deferreds."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: Deferred = Deferred()
        self.lost: Deferred = Deferred()
        self.pending: dict[int, Deferred] = {}
        self.notes: list[str] = []  # console messages and exceptions from the page
        self._next_id = 0

    def onOpen(self) -> None:
        self.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        message = json.loads(payload)
        if "id" in message:
            d = self.pending.pop(message["id"], None)
            if d is None:
                return
            if "error" in message:
                d.errback(DevToolsError(json.dumps(message["error"])))
            else:
                d.callback(message.get("result", {}))
            return
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self._note("console.%s: %s" % (params.get("type"), " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in
                params.get("args", []))))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self._note("exception: %s" % details.get("exception", {}).get(
                "description", details.get("text")))

    def _note(self, text: str) -> None:
        if len(self.notes) < 100:
            self.notes.append(text)

    def call(self, method: str, **params: Any) -> Deferred:
        self._next_id += 1
        d: Deferred = Deferred()
        self.pending[self._next_id] = d
        self.sendMessage(json.dumps({"id": self._next_id, "method": method,
                                     "params": params}).encode(), isBinary=False)
        return d.addTimeout(CALL_TIMEOUT, reactor)

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)
        pending, self.pending = self.pending, {}
        for d in pending.values():
            d.errback(DevToolsError("the DevTools connection closed"))
        if not self.lost.called:
            self.lost.callback(None)


class Browser:
    """A running headless Chromium and a DevTools connection to its page."""

    def __init__(self, process: Child, user_data_dir: str) -> None:
        self.process = process
        self.user_data_dir = user_data_dir
        self.devtools: _DevTools | None = None

    def describe(self) -> str:
        """What the page and the browser said, for failure messages."""
        notes = self.devtools.notes if self.devtools is not None else []
        return "page: %s; chromium stderr (end): %s" % (notes, self.process.err[-2000:])

    async def call(self, method: str, **params: Any) -> Any:
        assert self.devtools is not None
        return await self.devtools.call(method, **params)

    async def navigate(self, url: str) -> None:
        result = await self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise DevToolsError("cannot open %s: %s" % (url, result["errorText"]))

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (JSON-able values only)."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise DevToolsError("%s threw: %s" % (expression, json.dumps(
                result["exceptionDetails"])))
        return result["result"].get("value")

    async def wait_for(self, expression: str, check: Callable[[Any], Any], what: str,
                       attempts: int = 300, interval: float = 0.05) -> Any:
        """Evaluate ``expression`` until ``check(value)`` is truthy: that value, or a failure
        naming ``what`` after ``attempts`` evaluations ``interval`` s apart."""
        last: list[Any] = [None]

        async def once() -> Any:
            last[0] = await self.evaluate(expression)
            return check(last[0])
        try:
            return await poll(once, what, attempts, interval)
        except AssertionError as exc:
            raise AssertionError("%s; the page last showed %r; %s"
                                 % (exc, last[0], self.describe())) from None

    async def stop(self) -> None:
        """Close the DevTools connection, end the browser and everything it started."""
        if self.devtools is not None and not self.devtools.lost.called:
            self.devtools.sendClose()
            try:
                await self.devtools.lost.addTimeout(CALL_TIMEOUT, reactor)
            except Exception:
                self.devtools.dropConnection(abort=True)
        pid = self.process.transport.pid if not self.process.ended.called else None
        await self.process.stop()
        if pid is not None:
            try:  # the renderer and utility processes of its group
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def chromium_path() -> str:
    """Debian's chromium, or fail the test saying how to install it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed, and the /events/ page is tested in it: "
                    "install it with `apt-get install chromium` (scripts/ci-system-deps.sh does, "
                    "as root)", pytrace=False)
    return path


async def start_chromium(tmp_path: Any) -> Browser:
    """A headless Chromium showing about:blank, connected over DevTools (see the module doc)."""
    executable = chromium_path()
    user_data_dir = str(tmp_path / "chromium-profile")
    home = str(tmp_path / "chromium-home")
    os.makedirs(home, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env["HOME"] = home
    setsid = shutil.which("setsid") or "/usr/bin/setsid"
    args = [setsid, executable, *FLAGS, "--user-data-dir=" + user_data_dir, "about:blank"]
    browser = Browser(spawn("chromium", args, env, home), user_data_dir)
    try:
        port_file = os.path.join(user_data_dir, "DevToolsActivePort")

        def port() -> int | None:
            if browser.process.ended.called:
                raise AssertionError("chromium ended (exit %s) before it listened: %s"
                                     % (browser.process.exit_code, browser.process.err[-2000:]))
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
            except FileNotFoundError:
                return None
            return int(first) if first.isdigit() else None
        devtools_port = await poll(port, "chromium's DevToolsActivePort file", attempts=600)

        pool = HTTPConnectionPool(reactor, persistent=False)

        async def page_target() -> dict | None:
            response = await treq.get("http://127.0.0.1:%d/json/list" % devtools_port, pool=pool)
            targets = json.loads(await response.content())
            pages = [t for t in targets if t.get("type") == "page"]
            return pages[0] if pages else None
        target = await poll(page_target, "chromium's page target", attempts=100, interval=0.1)

        factory = WebSocketClientFactory(target["webSocketDebuggerUrl"], reactor=reactor)
        factory.protocol = _DevTools
        factory.setProtocolOptions(autoPingInterval=0)
        devtools = await TCP4ClientEndpoint(reactor, "127.0.0.1", devtools_port).connect(factory)
        await devtools.opened.addTimeout(CALL_TIMEOUT, reactor)
        browser.devtools = devtools
        await browser.call("Runtime.enable")
        await browser.call("Page.enable")
        return browser
    except BaseException:
        await browser.stop()
        raise
