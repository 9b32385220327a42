"""lavad: a LAVA-compatible lab server in one Twisted process on an embedded SQLite store."""

import os

__version__ = "0.1.0"

#: The jinja2 templates lavad owns (HTML pages, notification texts, the events page script).
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

# The LAVA release whose interfaces lavad speaks (reported by system.version and
# /api/v0.2/system/version/).
LAVA_VERSION = "2026.07"
