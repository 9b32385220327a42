"""The root resource: a plain ``Resource`` that mounts the REST API under ``/api/``
(and ``/restapi/``).

The API is an object built per instance (no module-level routing state), so
each server, and each test, has its own.  The REST API lives in
``lavad/http/rest/``; this module only wires it to the root.
"""

from __future__ import annotations

from typing import Any

from twisted.web.resource import Resource

from lavad.config import Settings
from lavad.http.eventpage import EventsPage
from lavad.http.pages import mount_pages
from lavad.http.rest import build_rest
from lavad.http.results import build_results
from lavad.xmlrpc import mount as mount_xmlrpc


def build_root(service_or_lab: Any, reactor: Any) -> Resource:
    """The site's root resource for ``service_or_lab`` (the LavadService, usually).

    ``service_or_lab`` has ``settings``, ``lab`` and ``files`` (read on each
    request: the service sets them once it has started).
    """
    owner = service_or_lab
    settings = getattr(owner, "settings", None) or Settings()
    root = Resource()
    api = build_rest(lambda: getattr(owner, "lab", None), settings,
                     files=lambda: getattr(owner, "files", None))
    root.putChild(b"api", api.resource())
    root.putChild(b"restapi", api.resource())  # the prefix of LAVA's documentation examples
    root.putChild(b"results", build_results(
        lambda: getattr(owner, "lab", None),
        lambda: getattr(getattr(owner, "files", None), "data_dir", None) or settings.data_dir))
    mount_pages(root, lambda: getattr(owner, "lab", None),  # /scheduler/job/, /results/ HTML
                lambda: getattr(getattr(owner, "files", None), "data_dir", None)
                or settings.data_dir)
    mount_xmlrpc(root, service_or_lab, reactor)  # /RPC2 and /api/help/
    root.putChild(b"events", EventsPage())  # the live event page, fed by /ws/
    return root
