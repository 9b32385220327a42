"""Health-check definitions: one job definition (YAML text) per device type.

Stored in ``device_types.health_check``; ``None`` means the type has none.
Creating the health-check jobs and deciding when one is due live in
:mod:`lavad.submission` (``thd_create_health_check``, ``thd_health_check_due``).
"""

from __future__ import annotations

from lavad.errors import NotFound
from lavad.store.tx import Tx


def _check_type(tx: Tx, name: str) -> None:
    if tx.one("SELECT 1 FROM device_types WHERE name = ?", (name,)) is None:
        raise NotFound("Device-type '%s' was not found." % name, model="DeviceType")


def thd_set_health_check(tx: Tx, name: str, text: str | None) -> None:
    """Set (or, with an empty text or None, remove) the device type's health check."""
    _check_type(tx, name)
    tx.execute("UPDATE device_types SET health_check = ? WHERE name = ?",
               (text if text and text.strip() else None, name))
    tx.emit("lab", {"object": "devicetype", "action": "update", "name": name})


def thd_get_health_check(tx: Tx, name: str) -> str | None:
    """The device type's health-check definition, or None."""
    _check_type(tx, name)
    return tx.scalar("SELECT health_check FROM device_types WHERE name = ?", (name,))
