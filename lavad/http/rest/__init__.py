"""LAVA's REST API (v0.2, and v0.3's root and token) over the lab.

``build_rest(lab, settings)`` returns the API whose ``resource()`` is mounted at ``/api/``; the
routes are declared in :mod:`lavad.http.rest.routes`, the reads go through
:mod:`lavad.query`.
"""

from __future__ import annotations

from typing import Any

from lavad.http.rest.app import RestApi
from lavad.http.rest.routes import ROUTES, Operation, Route

__all__ = ["ROUTES", "Operation", "RestApi", "Route", "build_rest"]


def build_rest(lab: Any, settings: Any, files: Any = None, mount: str = "/api/") -> RestApi:
    """A new API serving the API for ``lab`` (a :class:`lavad.lab.Lab`) with
    ``files`` (a :class:`lavad.files.LabFiles`, for rendered device dictionaries);
    either may be a callable returning the current object (a service sets them
    once it has started).

    Mount its ``resource()`` at ``mount`` (``root.putChild(b"api", ...)``).
    """
    return RestApi(lab, settings, files, mount)
