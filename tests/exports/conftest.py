"""Fixtures for tests/exports: the example lab (exportlab.py) served on a loopback port.

``server`` is the site's real root (``lavad.http.root.build_root``) over the
real store thread, listening on 127.0.0.1 port 0; ``server.get(path, as_=)``
makes one request with treq through a non-persistent pool (so no connection
outlives the test) and returns an :class:`Answer` with the whole body.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest_twisted
import treq
from exportlab import thd_build, token
from twisted.internet import reactor
from twisted.internet.defer import maybeDeferred
from twisted.web.client import HTTPConnectionPool
from twisted.web.server import Site

from lavad.config import load_settings
from lavad.files import LabFiles
from lavad.http.root import build_root
from lavad.lab import Lab


@dataclass
class Answer:
    code: int
    headers: Any
    body: bytes
    length: Any = None  # the Content-Length sent (Twisted's client keeps it out of headers)

    def header(self, name: str) -> str | None:
        if name.lower() == "content-length":
            return None if not isinstance(self.length, int) else str(self.length)
        values = self.headers.getRawHeaders(name)
        return None if values is None else values[0]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Server:
    def __init__(self, port: Any, lab: Lab, ids: SimpleNamespace, data_dir: str) -> None:
        self.port = port
        self.lab = lab
        self.ids = ids
        self.data_dir = data_dir
        self.base = "http://127.0.0.1:%d" % port.getHost().port

    async def get(self, path: str, as_: str | None = None,
                  headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        all_headers = dict(headers or {})
        if as_ is not None:
            all_headers["Authorization"] = "Token %s" % token(as_)
        pool = HTTPConnectionPool(reactor, persistent=False)
        response = await treq.request(method, self.base + path, pool=pool,
                                      headers={k: [v] for k, v in all_headers.items()},
                                      allow_redirects=False)
        body = await treq.content(response)
        return Answer(response.code, response.headers, body, response.length)


@pytest_twisted.async_yield_fixture
async def server(store, tmp_path):
    """The example lab behind the real root resource, on a loopback port."""
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    ids = await store.run(thd_build, data_dir)
    settings = load_settings({"data_dir": data_dir})
    owner = SimpleNamespace(lab=Lab(store), settings=settings,
                            files=LabFiles(data_dir, [os.path.join(data_dir, "device-types")]))
    site = Site(build_root(owner, reactor))
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield Server(port, owner.lab, ids, data_dir)
    await maybeDeferred(port.stopListening)
