"""``twistd lavad``: command-line options and the service they build.

This is the only module that imports the global reactor (inside
:func:`makeService`, after twistd has installed the one it was asked for).
"""

from __future__ import annotations

import signal
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.python import usage

from lavad.config import ConfigError, Settings, load_settings
from lavad.malloc import fix_mmap_threshold
from lavad.service import LavadService

#: How a ``twistd lavad`` whose start-up failed ends.  twistd has no way for a
#: service to set the process's exit status (Twisted issue #11335): after the
#: reactor stops it only re-raises the signal recorded in ``reactor._exitSignal``
#: (SIGTERM after ``kill``).  lavad records this one instead, so a failed start-up
#: is told apart from an orderly stop, and both from a clean ``exit 0``.
STARTUP_FAILURE_SIGNAL = signal.SIGUSR1


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = ("Run lavad, a LAVA-compatible lab server. Options given here win over "
                "the --config file, which wins over the defaults.")

    optParameters = [
        ["data-dir", None, None,
         "Directory holding the database and job logs (default: ./lavad-data)."],
        ["http", None, None,
         "Twisted endpoint for HTTP: REST /api/ and XML-RPC /RPC2 (default: tcp:8000)."],
        ["event-socket", None, None,
         "ZMQ address events are published on (default: tcp://*:5500)."],
        ["config", None, None,
         "YAML file with lavad keys or LAVA settings.yml keys (EVENT_TOPIC, EMAIL_HOST...)."],
    ]
    optFlags = [
        ["no-events", None, "Do not publish events (EVENT_NOTIFICATION: false)."],
    ]

    settings: Settings

    def postOptions(self) -> None:
        overrides = {
            "data_dir": self["data-dir"],
            "http": self["http"],
            "event_socket": self["event-socket"],
            "events_enabled": False if self["no-events"] else None,
        }
        try:
            self.settings = load_settings(overrides, self["config"])
        except ConfigError as exc:
            raise usage.UsageError(str(exc)) from None


class _ExitStatus(Service):
    """Make the twistd process end by :data:`STARTUP_FAILURE_SIGNAL` if start-up failed."""

    def __init__(self, lavad: LavadService, reactor: Any) -> None:
        self._lavad = lavad
        self._reactor = reactor

    def startService(self) -> None:
        super().startService()
        self._reactor.addSystemEventTrigger("after", "shutdown", self._report)

    def _report(self) -> None:
        if self._lavad.exit_status:
            self._reactor._exitSignal = STARTUP_FAILURE_SIGNAL


def makeService(options: Options) -> MultiService:
    from twisted.internet import reactor

    fix_mmap_threshold()  # process-wide, so here: see lavad.malloc
    service = LavadService(options.settings, reactor)
    _ExitStatus(service, reactor).setServiceParent(service)
    return service
