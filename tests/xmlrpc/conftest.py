"""Fixtures for the XML-RPC tests: a running lavad on a loopback port and clients for it.

- ``server``: the started LavadService (see ``lavad_service``) with users made by
  ``server.user(...)``; its device-type templates are looked up in
  ``tmp_path/templates`` only.
- ``rpc``: calls ``/RPC2`` over real HTTP with ``xmlrpc.client`` in a thread;
  ``rpc.call(method, *args, token=...)`` returns the value,
  ``rpc.fault(...)`` the fault's ``(code, text)``, ``rpc.http(...)`` a raw
  exchange ``(status, headers, body)``.
"""

from __future__ import annotations

import http.client
import os
import xmlrpc.client
from typing import Any
from urllib.parse import urlparse

import pytest
from twisted.internet import threads

from lavad import users
from lavad.files import LabFiles


class Rpc:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.url = base_url + "/RPC2"

    def uri(self, token: tuple[str, str] | None = None, path: str = "/RPC2") -> str:
        if token is None:
            return self.base_url + path
        parsed = urlparse(self.base_url)
        return "http://%s:%s@%s%s" % (token[0], token[1], parsed.netloc, path)

    def _call(self, uri: str, method: str, args: tuple[Any, ...]) -> Any:
        with xmlrpc.client.ServerProxy(uri, allow_none=True) as proxy:
            return getattr(proxy, method)(*args)

    async def call(self, method: str, *args: Any, token: tuple[str, str] | None = None,
                   path: str = "/RPC2") -> Any:
        """The method's value (a Fault is raised)."""
        return await threads.deferToThread(self._call, self.uri(token, path), method, args)

    async def fault(self, method: str, *args: Any,
                    token: tuple[str, str] | None = None) -> tuple[int, str]:
        """The fault the call ends with (fails the test if it succeeds)."""
        try:
            value = await self.call(method, *args, token=token)
        except xmlrpc.client.Fault as fault:
            return fault.faultCode, fault.faultString
        raise AssertionError("%s succeeded with %r" % (method, value))

    def _http(self, verb: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parsed = urlparse(self.base_url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        try:
            conn.request(verb, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    async def http(self, verb: str, path: str = "/RPC2", body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP exchange: ``(status, lower-cased headers, body)``."""
        return await threads.deferToThread(self._http, verb, path, body, headers or {})


class Server:
    """The running service plus helpers to make accounts."""

    def __init__(self, service: Any, template_dir: str) -> None:
        self.service = service
        self.template_dir = template_dir

    @property
    def lab(self) -> Any:
        return self.service.lab

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.service.lab.run(fn, *args, **kwargs)

    async def user(self, username: str, **fields: Any) -> tuple[str, str]:
        """A new user (``is_superuser=True``...) with one API token: ``(username, secret)``."""
        await self.run(users.thd_add_user, username, **fields)
        token = await self.run(users.thd_add_token, username, "tests")
        return username, token["secret"]

    async def grant(self, username: str, *perms: str) -> None:
        for perm in perms:
            await self.run(users.thd_grant, perm, user=username)


@pytest.fixture
def server(lavad_service, tmp_path) -> Server:
    template_dir = str(tmp_path / "templates")
    os.makedirs(template_dir)
    lavad_service.files = LabFiles(lavad_service.settings.data_dir, [template_dir])
    return Server(lavad_service, template_dir)


@pytest.fixture
def rpc(lavad_service) -> Rpc:
    return Rpc(lavad_service.base_url)
