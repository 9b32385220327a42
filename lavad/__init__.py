"""lavad: a LAVA-compatible lab server in one Twisted process on an embedded SQLite store."""

__version__ = "0.1.0"

# The LAVA release whose interfaces lavad speaks (reported by system.version and
# /api/v0.2/system/version/).
LAVA_VERSION = "2026.07"
