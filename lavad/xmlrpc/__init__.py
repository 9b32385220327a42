"""LAVA's XML-RPC API at ``/RPC2``, and its help page at ``/api/help/``.

A thin adapter over the domain: :mod:`lavad.xmlrpc.resource` speaks HTTP,
:mod:`lavad.xmlrpc.dispatch` holds the method table and turns domain errors
into faults, and one module per group of namespaces translates arguments and
results.  :func:`mount` puts both resources on the site's root.
"""

from __future__ import annotations

from typing import Any

from twisted.web.resource import NoResource, Resource

from lavad.config import Settings
from lavad.xmlrpc.dispatch import Namespace, Registry

__all__ = ["Env", "build_registry", "mount", "rpc_resource"]


def namespaces() -> list[type[Namespace]]:
    """Every namespace lavad serves."""
    from lavad.xmlrpc import (
        auth,
        device_types,
        devices,
        jobs,
        legacy,
        names,
        results,
        system,
        workers,
    )
    return [system.LavaSystemAPI, legacy.SchedulerAPI, jobs.SchedulerJobsAPI,
            devices.SchedulerDevicesAPI, devices.SchedulerDevicesTagsAPI,
            device_types.SchedulerDeviceTypesAPI, device_types.SchedulerDeviceTypesAliasesAPI,
            workers.SchedulerWorkersAPI, names.SchedulerTagsAPI, names.SchedulerAliasesAPI,
            names.SchedulerRemoteArtifactTokensAPI,
            auth.UsersAPI, auth.UsersGroupsAPI, auth.UsersPermissionsAPI,
            auth.GroupsAPI, auth.GroupsPermissionsAPI, results.ResultsAPI]


def build_registry() -> Registry:
    return Registry(namespaces())


class Env:
    """What the methods work with, read from ``owner`` (the LavadService) on each call,
    since the service sets its lab, files and publisher once it has started."""

    def __init__(self, owner: Any, reactor: Any = None,
                 registry: Registry | None = None) -> None:
        self.owner = owner
        self.reactor = reactor
        self.registry = registry if registry is not None else build_registry()
        self._files: Any = None

    @property
    def lab(self) -> Any:
        lab = getattr(self.owner, "lab", None)
        if lab is None:
            raise RuntimeError("the lab is not open yet")
        return lab

    @property
    def settings(self) -> Settings:
        return getattr(self.owner, "settings", None) or Settings()

    @property
    def files(self) -> Any:
        files = getattr(self.owner, "files", None)
        if files is None:
            if self._files is None:
                from lavad.files import LabFiles
                self._files = LabFiles(self.settings.data_dir)
            files = self._files
        return files

    @property
    def data_dir(self) -> str:
        return self.files.data_dir

    def event_socket(self) -> str:
        """The ZMQ address clients should subscribe to (with the real port once bound)."""
        publisher = getattr(self.owner, "publisher", None)
        if publisher is not None and hasattr(publisher, "client_address"):
            return publisher.client_address()
        return self.settings.event_socket


def rpc_resource(owner: Any, reactor: Any = None) -> Resource:
    from lavad.xmlrpc.resource import RPC2
    return RPC2(Env(owner, reactor))


class _ApiWithHelp(Resource):
    """``/api/``: ``help/`` is the XML-RPC help page, everything else goes to ``api``
    (the REST app, a leaf resource that routes the rest of the path itself)."""

    def __init__(self, api: Resource, help_page: Resource) -> None:
        super().__init__()
        self._api = api
        self._help = help_page

    def getChildWithDefault(self, path: bytes, request: Any) -> Resource:
        if path == b"help":
            return self._help
        # Give the segment back: the REST app reads the whole path below /api/.
        request.postpath.insert(0, request.prepath.pop())
        return self._api

    def render(self, request: Any) -> Any:
        return self._api.render(request)


def mount(root: Resource, owner: Any, reactor: Any = None) -> None:
    """Serve ``/RPC2``, ``/RPC2/`` and ``/api/help/`` from ``root`` (call it after the
    REST API is mounted at ``api``)."""
    from lavad.xmlrpc.helppage import HelpPage
    from lavad.xmlrpc.resource import RPC2
    env = Env(owner, reactor)
    root.putChild(b"RPC2", RPC2(env))
    help_page = HelpPage(env.registry)
    api = root.children.get(b"api")
    root.putChild(b"api", _ApiWithHelp(api if api is not None else NoResource(), help_page))
