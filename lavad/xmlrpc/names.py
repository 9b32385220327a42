"""``scheduler.tags.*``, ``scheduler.aliases.*`` and ``scheduler.remote_artifact_tokens.*``."""

from __future__ import annotations

import builtins
from typing import Any

from lavad import accounts, devices, inventory
from lavad.errors import Conflict, NotFound, PermissionDenied
from lavad.xmlrpc.dispatch import Fault, Namespace, exposed


class SchedulerTagsAPI(Namespace):
    name = "scheduler.tags"
    summary = "Device tags (jobs ask for devices by tag)."

    @exposed
    async def list(self) -> builtins.list[dict[str, Any]]:
        """All tags by name: ``[{name, description}]``."""
        return [{"name": t["name"], "description": t["description"]}
                for t in await self.call.run(devices.thd_list_tags)]

    @exposed
    async def show(self, name: Any) -> dict[str, Any]:
        """One tag: ``{name, description, devices}`` (the visible devices carrying it)."""
        return await self.call.run(inventory.thd_tag, self.call.principal, name)

    @exposed
    async def add(self, name: Any, description: Any = None) -> None:
        """Create a tag.  Needs ``lava_scheduler_app.add_tag``."""
        self.call.check_perm("lava_scheduler_app.add_tag")
        await self.call.run(devices.thd_add_tag, name, description,
                            faults={Conflict: (400, "Bad request: tag already exists?")})

    @exposed
    async def delete(self, name: Any) -> None:
        """Remove a tag from the lab (and from every device and job).  Needs
        ``lava_scheduler_app.delete_tag``."""
        self.call.check_perm("lava_scheduler_app.delete_tag")
        await self.call.run(devices.thd_delete_tag, name if isinstance(name, str) else str(name))


class SchedulerAliasesAPI(Namespace):
    name = "scheduler.aliases"
    summary = "Device-type aliases: other names jobs may use for a device type."

    @exposed
    async def list(self) -> builtins.list[str]:
        """All alias names, sorted."""
        return [a["name"] for a in await self.call.run(devices.thd_list_aliases)]

    @exposed
    async def show(self, name: Any) -> dict[str, str]:
        """One alias: ``{name, device_type}``; ``device_type`` is "" unless the caller
        holds the view permission on that device type."""
        return await self.call.run(inventory.thd_alias, self.call.principal, name)

    @exposed
    async def add(self, name: Any, device_type_name: Any) -> None:
        """Create alias ``name`` of device type ``device_type_name``.  Needs
        ``lava_scheduler_app.add_alias`` and the view permission on the type."""
        self.call.check_perm("lava_scheduler_app.add_alias")
        try:
            await self.call.run(inventory.thd_add_alias, self.call.principal, name,
                                device_type_name, faults={
                                    NotFound: (400, "Bad request. DeviceType does not exist"),
                                    PermissionDenied: (404, "Device-type '%s' was not found."
                                                       % device_type_name)})
        except Conflict as exc:  # LAVA reports its validation messages as 404
            raise Fault(404, exc.message) from None

    @exposed
    async def delete(self, name: Any) -> None:
        """Remove an alias.  Needs ``lava_scheduler_app.delete_alias``."""
        self.call.check_perm("lava_scheduler_app.delete_alias")
        await self.call.run(devices.thd_delete_alias, name)


class SchedulerRemoteArtifactTokensAPI(Namespace):
    name = "scheduler.remote_artifact_tokens"
    summary = ("The caller's remote-artifact tokens: named secrets a job may use to "
               "download artifacts.")

    @exposed
    async def list(self) -> builtins.list[dict[str, str]]:
        """The caller's tokens: ``[{name, token}]``.  Needs a token."""
        self.call.authenticate()
        return await self.call.run(accounts.thd_remote_artifact_tokens, self.call.principal)

    @exposed
    async def show(self, name: Any) -> str:
        """The value of the caller's token ``name``.  Needs a token."""
        self.call.authenticate()
        return await self.call.run(accounts.thd_remote_artifact_token, self.call.principal,
                                   name)

    @exposed
    async def add(self, name: Any, token: Any) -> None:
        """Store a token ``name`` with value ``token`` for the caller.  Needs a token."""
        self.call.authenticate()
        await self.call.run(accounts.thd_add_remote_artifact_token, self.call.principal,
                            name, token,
                            faults={Conflict: (400, "Bad request: token already exists?")})

    @exposed
    async def delete(self, name: Any) -> None:
        """Remove the caller's token ``name``.  Needs a token."""
        self.call.authenticate()
        await self.call.run(accounts.thd_delete_remote_artifact_token, self.call.principal,
                            name)
