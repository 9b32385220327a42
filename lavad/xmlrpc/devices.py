"""``scheduler.devices.*`` and ``scheduler.devices.tags.*``."""

from __future__ import annotations

import builtins
from typing import Any

from lavad import devices, inventory
from lavad.errors import Conflict, NotFound, PermissionDenied
from lavad.models import DeviceHealth
from lavad.xmlrpc.dispatch import Fault, Namespace, exposed
from lavad.xmlrpc.values import binary, text_argument

DEVICE_CHANGE = "lava_scheduler_app.change_device"
HEALTH_NAMES = [h.name for h in DeviceHealth]


def not_found(hostname: Any) -> tuple[int, str]:
    return 404, "Device '%s' was not found." % hostname


def health_by_name(value: Any) -> DeviceHealth | None:
    """``GOOD``, ``UNKNOWN``... (exact upper case) as a DeviceHealth, None otherwise."""
    return DeviceHealth[value] if isinstance(value, str) and value in HEALTH_NAMES else None


def hidden_faults(call: Any, hostname: Any) -> dict[Any, tuple[int, str]]:
    """How a missing or hidden device is reported."""
    return {(NotFound, "Device"): not_found(hostname),
            PermissionDenied: (403, "Device '%s' not available to user '%s'."
                               % (hostname, call.username))}


def change_faults(call: Any, hostname: Any) -> dict[Any, tuple[int, str]]:
    """How a missing device, or one the caller may not change, is reported."""
    return {(NotFound, "Device"): not_found(hostname),
            PermissionDenied: (403, "User '%s' needs admin permission on device %s."
                               % (call.username, hostname))}


class SchedulerDevicesAPI(Namespace):
    name = "scheduler.devices"
    summary = "Devices: list, show, add, update, delete, their dictionaries and permissions."

    @exposed
    async def list(self, show_all: Any = False, offline_info: Any = False) -> builtins.list[dict]:
        """The devices the caller may see, by hostname, without retired ones unless
        ``show_all``: ``[{hostname, type, health, state, current_job, pipeline}]``.
        ``offline_info`` is accepted and ignored."""
        rows = await self.call.run(inventory.thd_devices, self.call.principal, bool(show_all))
        return [{"hostname": r["hostname"], "type": r["device_type"], "health": r["health"],
                 "state": r["state"], "current_job": r["current_job"], "pipeline": True}
                for r in rows]

    @exposed
    async def show(self, hostname: Any) -> dict[str, Any]:
        """One device: ``{hostname, device_type, health, state, health_job, description,
        pipeline, has_device_dict, worker, current_job, tags, permissions}``."""
        d = await self.call.run(inventory.thd_device, self.call.principal, hostname,
                                faults=hidden_faults(self.call, hostname))
        return {"hostname": d["hostname"], "device_type": d["device_type"],
                "health": d["health"], "state": d["state"], "health_job": d["health_job"],
                "description": d["description"], "pipeline": True,
                "has_device_dict": d["has_device_dict"], "worker": d["worker"],
                "current_job": d["current_job"], "tags": d["tags"],
                "permissions": d["permissions"]}

    @exposed
    async def add(self, hostname: Any, type_name: Any, worker_hostname: Any,
                  user_name: Any = None, group_name: Any = None, public: Any = True,
                  health: Any = None, description: Any = None) -> None:
        """Create an Idle device of type ``type_name`` on worker ``worker_hostname``.

        ``health`` is one of GOOD, UNKNOWN (the default), LOOPING, BAD, MAINTENANCE,
        RETIRED.  ``user_name``, ``group_name`` and ``public`` are accepted and
        ignored.  Needs ``lava_scheduler_app.change_device``."""
        self.call.check_perm(DEVICE_CHANGE)
        value = DeviceHealth.UNKNOWN if health is None else health_by_name(health)
        if value is None:
            raise Fault(400, "Invalid health")
        await self.call.run(
            devices.thd_add_device, hostname, type_name, self.call.principal,
            health=value, worker_host=worker_hostname, description=description,
            faults={(NotFound, "DeviceType"): (404, "DeviceType '%s' was not found."
                                               % type_name),
                    (NotFound, "Worker"): (404, "Worker '%s' was not found."
                                           % worker_hostname),
                    Conflict: (400, "Bad request: device already exists?")})

    @exposed
    async def update(self, hostname: Any, worker_hostname: Any = None, user_name: Any = None,
                     group_name: Any = None, public: Any = True, health: Any = None,
                     description: Any = None, device_type: Any = None,
                     reason: Any = None) -> None:
        """Change the given fields of a device; nil arguments are left alone.

        ``user_name`` is the physical owner; ``health`` as for ``add``; ``reason``
        goes into the device's log (default "xmlrpc api").  ``group_name`` and
        ``public`` are ignored.  Needs change rights on the device."""
        value = None
        if health is not None:
            value = health_by_name(health)
            if value is None:
                raise Fault(400, "Health '%s' is invalid" % health)
        faults = change_faults(self.call, hostname)
        faults.update({
            (NotFound, "Worker"): (404, "Unable to find worker '%s'" % worker_hostname),
            (NotFound, "User"): (404, "Unable to find username '%s'" % user_name),
            (NotFound, "DeviceType"): (404, "Unable to find device-type '%s'" % device_type)})
        await self.call.run(inventory.thd_update_device, self.call.principal, hostname,
                            reason or "xmlrpc api", worker_host=worker_hostname,
                            physical_owner=user_name, health=value, description=description,
                            device_type=device_type, faults=faults)

    @exposed
    async def delete(self, hostname: Any) -> None:
        """Remove a device.  Needs ``lava_scheduler_app.delete_device``."""
        self.call.check_perm("lava_scheduler_app.delete_device")
        await self.call.run(devices.thd_delete_device, hostname,
                            faults={(NotFound, "Device"): not_found(hostname)})

    @exposed
    async def get_dictionary(self, hostname: Any, render: Any = False,
                             context: Any = None) -> Any:
        """The device dictionary (jinja2) as base64; with ``render``, the device
        configuration a job would get, rendered with ``context`` (a YAML mapping
        given as a string)."""
        ctx = inventory.parse_context(context) if render else None
        text = await self.call.run(inventory.thd_device_dictionary, self.call.principal,
                                   hostname, self.env.files, bool(render), ctx,
                                   faults=hidden_faults(self.call, hostname))
        return binary(text)

    @exposed
    async def set_dictionary(self, hostname: Any, dictionary: Any) -> bool:
        """Replace the device dictionary with ``dictionary`` (jinja2 text); "" removes
        it.  Returns true.  Needs change rights on the device."""
        await self.call.run(inventory.thd_set_device_dictionary, self.call.principal,
                            hostname, text_argument(dictionary),
                            faults=change_faults(self.call, hostname))
        return True

    async def _perm(self, fn: Any, *args: Any) -> Any:
        self.call.check_staff()
        return await self.call.run(fn, "device", *args, faults={
            (NotFound, "Device"): not_found(args[0])})

    @exposed
    async def perms_add(self, hostname: Any, group: Any, permission: Any) -> None:
        """Give ``group`` the ``permission`` (view_device, submit_to_device or
        change_device) on a device.  Staff only."""
        await self._perm(inventory.thd_grant_object_permission, hostname, group, permission)

    @exposed
    async def perms_delete(self, hostname: Any, group: Any, permission: Any) -> None:
        """Take the ``permission`` on a device away from ``group``.  Staff only."""
        await self._perm(inventory.thd_revoke_object_permission, hostname, group, permission)

    @exposed
    async def perms_list(self, hostname: Any) -> builtins.list[dict[str, str]]:
        """The group permissions on a device: ``[{name, group}]``.  Staff only."""
        return await self._perm(inventory.thd_object_permissions, hostname)


class SchedulerDevicesTagsAPI(Namespace):
    name = "scheduler.devices.tags"
    summary = "The tags of one device."

    @exposed
    async def add(self, hostname: Any, name: Any) -> None:
        """Tag a device with ``name`` (the tag is created when missing).  Needs
        ``lava_scheduler_app.add_tag`` and change rights on the device."""
        self.call.check_perm("lava_scheduler_app.add_tag")
        await self.call.run(inventory.thd_tag_device, self.call.principal, hostname, name,
                            faults=change_faults(self.call, hostname))

    @exposed
    async def list(self, hostname: Any) -> builtins.list[str]:
        """The tag names of a device."""
        return await self.call.run(inventory.thd_device_tags, self.call.principal, hostname)

    @exposed
    async def delete(self, hostname: Any, name: Any) -> None:
        """Remove tag ``name`` from a device.  Needs change rights on the device."""
        await self.call.run(inventory.thd_untag_device, self.call.principal, hostname, name,
                            faults=change_faults(self.call, hostname))
