"""``scheduler.device_types.*`` and ``scheduler.device_types.aliases.*``."""

from __future__ import annotations

import builtins
from typing import Any

from lavad import devices, inventory
from lavad.errors import Conflict, NotFound, PermissionDenied
from lavad.models import DeviceHealth
from lavad.xmlrpc.dispatch import Fault, Namespace, exposed
from lavad.xmlrpc.values import binary, text_argument

DENOMINATORS = ("hours", "jobs")
NAME_USED = "Bad request: device-type name is already used."


def not_found(name: Any) -> tuple[int, str]:
    return 404, "Device-type '%s' was not found." % name


def admin_faults(name: Any, word: str = "admin") -> dict[Any, tuple[int, str]]:
    """How a missing device type, or one the caller may not change, is reported."""
    return {(NotFound, "DeviceType"): not_found(name),
            PermissionDenied: (403, "No '%s' permissions for device-type '%s'." % (word, name))}


def _denominator(value: Any) -> str:
    if value not in DENOMINATORS:
        raise Fault(400, "Bad request: invalid health_denominator.")
    return value


class SchedulerDeviceTypesAPI(Namespace):
    name = "scheduler.device_types"
    summary = ("Device types: list, show, add, update, their templates, health checks and "
               "permissions.")

    @exposed
    async def list(self, show_all: Any = False) -> builtins.list[dict[str, Any]]:
        """The device types the caller may see, by name: ``[{name, devices, installed,
        template}]`` (``devices`` counts all their devices, ``template`` says whether a
        template file exists).  With ``show_all``, templates without a device type
        follow, with ``installed`` false."""
        return await self.call.run(inventory.thd_device_types, self.call.principal,
                                   self.env.files, bool(show_all))

    @exposed
    async def show(self, name: Any) -> dict[str, Any]:
        """One device type: ``{name, description, display, health_disabled,
        health_denominator, health_frequency, aliases, devices (visible hostnames),
        default_template, permissions}``."""
        return await self.call.run(inventory.thd_device_type, self.call.principal, name,
                                   self.env.files, faults={NotFound: not_found(name)})

    @exposed
    async def add(self, name: Any, description: Any, display: Any, owners_only: Any,
                  health_frequency: Any, health_denominator: Any) -> None:
        """Create a device type.  ``health_denominator`` is "hours" or "jobs" (a health
        check every ``health_frequency`` of them); ``owners_only`` is ignored.  Needs
        ``lava_scheduler_app.change_devicetype``."""
        self.call.check_perm("lava_scheduler_app.change_devicetype")
        fields = {"description": description, "display": display,
                  "health_frequency": health_frequency,
                  "health_denominator": _denominator(health_denominator)}
        await self.call.run(devices.thd_add_device_type, name,
                            **{k: v for k, v in fields.items() if v is not None},
                            faults={Conflict: (400, NAME_USED)})

    @exposed
    async def update(self, name: Any, description: Any, display: Any, owners_only: Any,
                     health_frequency: Any, health_denominator: Any,
                     health_disabled: Any) -> None:
        """Change a device type; nil arguments are left alone (all seven are required).
        Needs change rights on the device type."""
        if health_denominator is not None:
            _denominator(health_denominator)
        await self.call.run(inventory.thd_update_device_type, self.call.principal, name,
                            description=description, display=display,
                            health_frequency=health_frequency,
                            health_denominator=health_denominator,
                            disable_health_check=health_disabled, faults=admin_faults(name))

    @exposed
    async def devices(self, name: Any, health: Any = None) -> builtins.list[dict[str, Any]]:
        """The visible devices of a device type: ``[{hostname, health, state}]``,
        optionally only those of ``health`` (GOOD, UNKNOWN, ...)."""
        value = None
        if health is not None:
            key = str(health).upper()
            if key not in DeviceHealth.__members__:
                raise Fault(400, "Invalid health '%s'" % health)
            value = DeviceHealth[key]
        return await self.call.run(inventory.thd_device_type_devices, self.call.principal,
                                   name, value, faults={NotFound: not_found(name)})

    @exposed
    async def get_template(self, name: Any) -> Any:
        """The device-type template (``<name>.jinja2``) as base64."""
        return binary(await self.call.run(inventory.thd_device_type_template,
                                          self.call.principal, name, self.env.files,
                                          faults={NotFound: not_found(name)}))

    @exposed
    async def set_template(self, name: Any, config: Any) -> None:
        """Replace the device-type template with ``config``; "" removes it.  Needs
        change rights on the device type."""
        await self.call.run(inventory.thd_set_device_type_template, self.call.principal,
                            name, text_argument(config), self.env.files,
                            faults=admin_faults(name, "change"))

    @exposed
    async def get_health_check(self, name: Any) -> Any:
        """The device type's health-check job definition as base64."""
        return binary(await self.call.run(inventory.thd_device_type_health_check,
                                          self.call.principal, name,
                                          faults={NotFound: not_found(name)}))

    @exposed
    async def set_health_check(self, name: Any, config: Any) -> None:
        """Replace the device type's health-check definition with ``config``; ""
        removes it.  Needs change rights on the device type."""
        await self.call.run(inventory.thd_set_device_type_health_check, self.call.principal,
                            name, text_argument(config), faults=admin_faults(name, "change"))

    async def _perm(self, fn: Any, *args: Any) -> Any:
        self.call.check_staff()
        return await self.call.run(fn, "devicetype", *args, faults={
            (NotFound, "DeviceType"): not_found(args[0])})

    @exposed
    async def perms_add(self, name: Any, group: Any, permission: Any) -> None:
        """Give ``group`` the ``permission`` (view_devicetype, submit_to_devicetype or
        change_devicetype) on a device type.  Staff only."""
        await self._perm(inventory.thd_grant_object_permission, name, group, permission)

    @exposed
    async def perms_delete(self, name: Any, group: Any, permission: Any) -> None:
        """Take the ``permission`` on a device type away from ``group``.  Staff only."""
        await self._perm(inventory.thd_revoke_object_permission, name, group, permission)

    @exposed
    async def perms_list(self, name: Any) -> builtins.list[dict[str, str]]:
        """The group permissions on a device type: ``[{name, group}]``.  Staff only."""
        return await self._perm(inventory.thd_object_permissions, name)


class SchedulerDeviceTypesAliasesAPI(Namespace):
    name = "scheduler.device_types.aliases"
    summary = "The aliases of one device type."

    @exposed
    async def add(self, name: Any, alias: Any) -> None:
        """Make ``alias`` another name of device type ``name``.  Needs
        ``lava_scheduler_app.add_alias`` and change rights on the device type."""
        self.call.check_perm("lava_scheduler_app.add_alias")
        await self.call.run(inventory.thd_alias_device_type, self.call.principal, name, alias,
                            faults=admin_faults(name))

    @exposed
    async def list(self, name: Any) -> builtins.list[str]:
        """The aliases of a device type, sorted."""
        return await self.call.run(inventory.thd_device_type_aliases, self.call.principal,
                                   name, faults={NotFound: not_found(name)})

    @exposed
    async def delete(self, name: Any, alias: Any) -> None:
        """Remove ``alias`` from device type ``name``.  Needs change rights on it."""
        await self.call.run(inventory.thd_unalias_device_type, self.call.principal, name,
                            alias, faults=admin_faults(name))
