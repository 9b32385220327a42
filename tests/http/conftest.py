"""Fixtures for tests/http: the REST test lab (see restlab.py)."""

from restlab import rest, rest_store, rest_template  # noqa: F401
