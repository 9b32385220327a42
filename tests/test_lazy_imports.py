"""What a started lavad has imported: the optional parts stay unloaded until used."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, sys
from twisted.internet import reactor, task
from lavad.config import load_settings
from lavad.service import LavadService

settings = load_settings({"data_dir": sys.argv[1], "http": "tcp:0:interface=127.0.0.1",
                          "event_socket": "tcp://127.0.0.1:*"}, None)
service = LavadService(settings, reactor)

async def main(_reactor):
    service.startService()
    await service.when_started()
    loaded = sorted(sys.modules)
    port = service.port.getHost().port
    await service.stopService()
    print(json.dumps({"failed": service.exit_status, "port": port, "modules": loaded}))

task.react(lambda r: __import__("twisted.internet.defer").internet.defer.ensureDeferred(main(r)))
"""

#: Loaded at the first use: websocket clients (autobahn), HTML pages, device-type
#: templates and notification texts (Jinja2), mail and IRC notifications, callbacks
#: (treq); and never: the test framework, a router library (lavad routes itself).
LAZY = ("autobahn", "jinja2", "twisted.mail", "twisted.words", "treq", "twisted.trial",
        "unittest", "cffi", "klein", "werkzeug")


def test_started_service_leaves_optional_modules_unloaded(tmp_path):
    """A started lavad (store, HTTP, ZMQ publisher) has none of the lazily loaded packages."""
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed"] is None and result["port"] > 0
    loaded = set(result["modules"])
    assert "lavad.http.ws" in loaded and "lavad.http.rest.app" in loaded  # it really started
    assert [m for m in loaded if m.split(".")[0] in LAZY or
            any(m == p or m.startswith(p + ".") for p in LAZY)] == []
