"""Helpers of the notification tests (their fixtures are in this directory's conftest.py)."""

from __future__ import annotations

import socket
from typing import Any

import yaml
from twisted.internet import defer, reactor

from lavad.config import Settings, load_settings


JOB = {
    "device_type": "qemu", "job_name": "smoke <one> & two", "priority": "medium",
    "visibility": "public", "timeouts": {"job": {"minutes": 10}},
    "metadata": {"build": "42"},
    "actions": [{"deploy": {"to": "tmpfs", "images": {"kernel": {"url": "http://x/k"}}}},
                {"boot": {"method": "qemu", "media": "tmpfs", "prompts": ["# "]}}],
}


def job_definition(notify: dict[str, Any] | None, **changes: Any) -> str:
    job = dict(JOB, **changes)
    if notify is not None:
        job["notify"] = notify
    return yaml.safe_dump(job, sort_keys=False)


def wait_for(d: defer.Deferred, seconds: float = 10.0) -> defer.Deferred:
    """``d``, failing with TimeoutError after ``seconds``."""
    return d.addTimeout(seconds, reactor)


def notify_settings(tmp_path: Any, **overrides: Any) -> Settings:
    values = {"data_dir": str(tmp_path / "data"), "http": "tcp:0:interface=127.0.0.1",
              "site_domain": "lava.example.com", "server_email": "lava@example.com",
              "email_timeout": 5}
    values.update(overrides)
    return load_settings(values)


def free_port() -> int:
    """A loopback port nothing listens on (for servers lavad cannot be given port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
