"""The ``twistd lavad`` plugin (no ``__init__.py`` here: twisted.plugins is shared)."""

from twisted.application.service import ServiceMaker

lavad = ServiceMaker("lavad", "lavad.tap", "A LAVA-compatible lab server.", "lavad")
