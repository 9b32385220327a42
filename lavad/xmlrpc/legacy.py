"""``scheduler.*``: LAVA's older top-level scheduler methods, kept for existing clients."""

from __future__ import annotations

from typing import Any

import yaml

from lavad import inventory
from lavad.errors import NotFound, PermissionDenied
from lavad.models import DeviceHealth
from lavad.xmlrpc.dispatch import Fault, Namespace, exposed
from lavad.xmlrpc.values import binary, text_argument


class SchedulerAPI(Namespace):
    name = "scheduler"
    summary = ("LAVA's older scheduler methods (devices, device types, jobs); newer clients "
               "use the scheduler.* sub-namespaces.")

    # -- devices and device types ------------------------------------------------------------
    @exposed
    async def all_devices(self) -> list[list[Any]]:
        """The visible devices that are not retired: ``[[hostname, device_type, status,
        current_job, true]]`` (status: idle, offline, reserved or running)."""
        rows = await self.call.run(inventory.thd_devices, self.call.principal, False)
        return [[r["hostname"], r["device_type"], r["status"], r["current_job"], True]
                for r in rows]

    @exposed
    async def all_device_types(self) -> list[dict[str, Any]]:
        """Per visible device type with devices that are not retired: ``[{name, busy,
        idle, offline}]`` device counts."""
        return await self.call.run(inventory.thd_device_type_summary, self.call.principal)

    @exposed
    async def get_device_type_by_alias(self, alias: Any) -> dict[str, list[str]]:
        """``{alias: [device types having an alias whose name contains alias]}``."""
        return {alias: await self.call.run(inventory.thd_device_types_by_alias,
                                           self.call.principal, str(alias))}

    @exposed
    async def get_device_status(self, hostname: Any) -> dict[str, Any]:
        """``{hostname, status, job, offline_since, offline_by, is_pipeline}`` for a
        device (status: idle, offline, retired, reserved or running)."""
        if not hostname:
            raise Fault(400, "Bad request: Hostname was not specified.")
        d = await self.call.run(inventory.thd_device, self.call.principal, hostname, faults={
            NotFound: (404, "Device '%s' was not found." % hostname),
            PermissionDenied: (403, "Permission denied for user to access %s information."
                               % hostname)})
        return {"hostname": d["hostname"], "status": d["status"], "job": d["current_job"],
                "offline_since": None, "offline_by": None, "is_pipeline": True}

    async def _health(self, hostname: Any, reason: Any, health: DeviceHealth,
                      what: str) -> None:
        self.call.authenticate()
        if not hostname:
            raise Fault(400, "Bad request: Hostname was not specified.")
        if not reason:
            raise Fault(400, "Bad request: Reason was not specified.")
        await self.call.run(inventory.thd_set_device_health, self.call.principal, hostname,
                            health, str(reason), faults={
                                NotFound: (404, "Device '%s' was not found." % hostname),
                                PermissionDenied: (403, "Permission denied for user to put %s "
                                                        "into %s mode." % (hostname, what))})

    @exposed
    async def put_into_maintenance_mode(self, hostname: Any, reason: Any,
                                        notify: Any = None) -> None:
        """Put a device into Maintenance (no new jobs) for ``reason``.  ``notify`` is
        ignored.  Needs change rights on the device."""
        await self._health(hostname, reason, DeviceHealth.MAINTENANCE, "maintenance")

    @exposed
    async def put_into_online_mode(self, hostname: Any, reason: Any,
                                   skip_health_check: Any = False) -> None:
        """Put a device back online (health Unknown: a health check runs first) for
        ``reason``.  ``skip_health_check`` is ignored.  Needs change rights on the device."""
        await self._health(hostname, reason, DeviceHealth.UNKNOWN, "online")

    @exposed
    async def get_device_config(self, device_hostname: Any, context: Any = None) -> Any:
        """The configuration a job on this device would get (the rendered device
        dictionary, YAML) as base64; ``context`` is a YAML mapping given as a string."""
        if not device_hostname:
            raise Fault(400, "Bad request: Device hostname was not specified.")
        try:
            ctx = inventory.parse_context(context)
        except Exception as exc:  # noqa: BLE001 - any YAML or shape problem
            raise Fault(400, "Job context '%s' is not valid. %s" % (context, exc)) from None
        text = await self.call.run(
            inventory.thd_device_dictionary, self.call.principal, device_hostname,
            self.env.files, True, ctx, faults={
                (NotFound, "Device"): (404, "Specified device was not found."),
                PermissionDenied: (401, "Permission denied for user to device %s"
                                   % device_hostname)})
        return binary(text)

    @exposed
    async def import_device_dictionary(self, hostname: Any, jinja_str: Any) -> str:
        """Replace a device's dictionary with ``jinja_str``.  Needs change rights on
        the device."""
        self.call.authenticate()
        await self.call.run(inventory.thd_set_device_dictionary, self.call.principal,
                            hostname, text_argument(jinja_str), faults={
                                NotFound: (404, "Device '%s' was not found." % hostname),
                                PermissionDenied: (403, "Permission denied for user to store "
                                                        "the configuration for %s on disk."
                                                   % hostname)})
        return "Device dictionary updated for %s" % hostname

    @exposed
    async def export_device_dictionary(self, hostname: Any) -> Any:
        """A device's dictionary (jinja2) as base64.  Needs change rights on the device."""
        self.call.authenticate()
        text = await self.call.run(
            inventory.thd_device_dictionary, self.call.principal, hostname, self.env.files,
            False, None, "change", faults={
                (NotFound, "Device"): (404, "Device '%s' was not found." % hostname),
                (NotFound, "DeviceDictionary"): (404, "Device '%s' does not have a device "
                                                      "dictionary" % hostname),
                PermissionDenied: (403, "Permission denied for user to retrieve device "
                                        "dictionary for '%s'." % hostname)})
        return binary(text)

    @exposed
    async def validate_pipeline_devices(self, name: Any = None) -> Any:
        """Render the configuration of the visible devices that are not retired (those
        of device type ``name``, else the device ``name``, else all) and report, as
        base64 YAML, ``{hostname: {Valid: null}}`` or ``{hostname: {Invalid: reason}}``."""
        result = await self.call.run(inventory.thd_validate_devices, self.call.principal,
                                     self.env.files, name or None)
        return binary(yaml.safe_dump(result, default_flow_style=False))

    @exposed
    def get_publisher_event_socket(self) -> str:
        """The address of the ZMQ event publisher (clients replace ``*`` with the
        server's host name)."""
        return self.env.event_socket()
