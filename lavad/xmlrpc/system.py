"""``system.*``: introspection, the server's identity, and a few permission helpers.

The ``system`` namespace is what LAVA calls a "V1" API: an anonymous caller is
nobody (``whoami`` answers nil) rather than ``AnonymousUser``.
"""

from __future__ import annotations

from typing import Any

from lavad import LAVA_VERSION, accounts, inventory, jobqueries, users
from lavad.errors import NotFound
from lavad.users import Principal
from lavad.xmlrpc.dispatch import (
    INVALID_PARAMS,
    Fault,
    Namespace,
    dispatch,
    exposed,
    signature,
)

CAPABILITIES = {
    "introspect": {"specUrl": "http://xmlrpc-c.sourceforge.net/xmlrpc-c/introspection.html",
                   "specVersion": 1},
    "faults_interop": {"specUrl": "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php",
                       "specVersion": 20010516},
    "auth_token": {"specUrl": "https://blueprints.launchpad.net/linaro-django-xmlrpc/+spec/"
                              "other-o-linaro-xml-rpc-auth-tokens",
                   "specVersion": 20110516},
}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _multicall_error(text: str) -> Fault:
    return Fault(INVALID_PARAMS, "system.multicall %s" % text)


class LavaSystemAPI(Namespace):
    name = "system"
    summary = ("Introspection (list, help, signatures, multicall), the server version and "
               "the caller's identity, and checks of what a user may see or submit to.")

    # -- introspection ------------------------------------------------------------------
    @exposed
    def listMethods(self) -> list[str]:
        """Every method this server offers, fully qualified, in alphabetical order."""
        return self.env.registry.names()

    @exposed
    @signature("str", "str")
    def methodHelp(self, method_name: Any) -> str:
        """The help text of a method, "" for an unknown method."""
        method = self.env.registry.lookup(method_name)
        return method.help if method is not None else ""

    @exposed
    def methodSignature(self, method_name: Any) -> Any:
        """A method's signature as a list of XML-RPC types (return type first), the
        string "undef" when it does not declare one, "" for an unknown method."""
        method = self.env.registry.lookup(method_name)
        return method.signature if method is not None else ""

    @exposed
    @signature("array", "array")
    async def multicall(self, subcalls: Any) -> list[Any]:
        """Run several calls in one request.

        ``subcalls`` is an array of ``{methodName: str, params: array}``.  The
        answer has one element per call, in order: ``[result]`` when it worked,
        ``{faultCode, faultString}`` when it failed.  Each call checks its own
        permissions, as the caller."""
        if not isinstance(subcalls, list):
            raise _multicall_error("expected a list of methods to call")
        results: list[Any] = []
        for subcall in subcalls:
            try:
                results.append([await self._one(subcall)])
            except Fault as fault:
                results.append({"faultCode": fault.faultCode,
                                "faultString": fault.faultString})
        return results

    async def _one(self, subcall: Any) -> Any:
        if not isinstance(subcall, dict):
            raise _multicall_error("expected struct")
        rest = dict(subcall)
        if "methodName" not in rest:
            raise _multicall_error("methodName not specified")
        name = rest.pop("methodName")
        if not isinstance(name, str):
            raise _multicall_error("methodName must be a string")
        if "params" not in rest:
            raise _multicall_error("params not specified")
        params = rest.pop("params")
        if not isinstance(params, list):
            raise _multicall_error("params must be an array")
        if rest:
            raise _multicall_error("specified additional arguments %s" % sorted(rest))
        return await dispatch(self.env, self.call.principal, name, params)

    @exposed
    def getCapabilities(self) -> dict[str, Any]:
        """The XML-RPC extensions this server follows (introspection, fault codes,
        token authentication), each with the URL of its specification."""
        return CAPABILITIES

    # -- the server --------------------------------------------------------------------------
    @exposed
    def version(self) -> str:
        """The LAVA server version whose interfaces lavad offers (``YYYY.MM``).

        Clients such as lavacli choose their commands and arguments from it."""
        return LAVA_VERSION

    @exposed
    def api_version(self) -> int:
        """The version of this XML-RPC API, an integer (2)."""
        return 2

    @exposed
    def whoami(self) -> str | None:
        """The name of the user whose token authenticated the call, nil when anonymous."""
        return self.call.principal.username if self.call.authenticated else None

    @exposed
    def master_config(self) -> dict[str, Any]:
        """The event settings: ``EVENT_TOPIC``, ``EVENT_SOCKET`` (the ZMQ publisher's
        address), ``EVENT_NOTIFICATION`` (bool) and ``LOG_SIZE_LIMIT`` (MiB)."""
        settings = self.env.settings
        return {"EVENT_TOPIC": settings.event_topic, "EVENT_SOCKET": settings.event_socket,
                "EVENT_NOTIFICATION": settings.events_enabled,
                "LOG_SIZE_LIMIT": _number(settings.log_size_limit)}

    # -- permission checks ------------------------------------------------------------------------
    async def _as_user(self, username: Any) -> Principal:
        """The caller, or for a superuser the named user."""
        if not username:
            return self.call.principal
        if not self.call.principal.is_superuser:
            raise Fault(401, "Permission denied for user '%s' to query other users"
                        % self.call.principal.username)
        return await self.call.run(users.thd_principal_by_name, username,
                                   faults={NotFound: (404, "Username %s not found" % username)})

    @exposed
    async def user_can_view_jobs(self, job_list: Any, username: Any = None) -> Any:
        """Which of the jobs in ``job_list`` (ids, or "N.M" MultiNode sub-job ids) the
        caller (or, for a superuser, the user ``username``) may see: ``{"<id>": bool}``,
        unknown jobs left out.  Needs a token."""
        self.call.authenticate()
        if not isinstance(job_list, list):
            raise Fault(400, "job list argument must be a list")
        who = await self._as_user(username)
        return await self.call.run(jobqueries.thd_can_view_jobs, who, job_list)

    @exposed
    async def user_can_view_devices(self, device_list: Any, username: Any = None) -> Any:
        """Which of the devices in ``device_list`` the caller (or, for a superuser, the
        user ``username``) may see.

        Returns ``{device_type: [{hostname: {visible: bool, ...}}]}``; unknown
        hostnames are left out.  Needs a token."""
        self.call.authenticate()
        if not isinstance(device_list, list):
            raise Fault(400, "device list argument must be a list")
        who = await self._as_user(username)
        out: dict[str, list[Any]] = {}
        for dtype, hostname, visible in await self.call.run(
                inventory.thd_device_visibility, who, device_list):
            entry = {"is_pipeline": True, "visible": True, "exclusive": True} if visible \
                else {"visible": False}
            out.setdefault(dtype, []).append({hostname: entry})
        return out

    @exposed
    async def user_can_submit_to_types(self, type_list: Any, username: Any = None) -> Any:
        """Whether the caller (or, for a superuser, the user ``username``) may submit
        jobs to each device type of ``type_list``: ``{name: bool}``, unknown names left
        out.  Needs a token."""
        self.call.authenticate()
        if not isinstance(type_list, list):
            raise Fault(400, "type list argument must be a list")
        who = await self._as_user(username)
        return await self.call.run(inventory.thd_submit_rights, who, type_list)

    @exposed
    def user_can_view_bundles(self, bundle_list: Any, username: Any = None) -> bool:
        """Kept for old clients: result bundles no longer exist, the answer is always false."""
        return False

    @exposed
    async def set_user_groups(self, user: Any, groups: Any) -> None:
        """Make the groups of the user whose e-mail address is ``user`` exactly the
        existing groups named in ``groups`` (unknown names are skipped).  Staff only."""
        self.call.check_staff()
        if not isinstance(groups, list):
            # LAVA looks the user up first; the outcome for a valid call is the same.
            raise Fault(400, "groups must be a list")
        await self.call.run(accounts.thd_set_groups_by_email, user, groups,
                            faults={NotFound: (400, "please use an existing user")})

    async def _object_perm(self, kind: str, perm: Any, key: Any, group: Any,
                           grant: bool) -> None:
        what = "device_type name must be a string" if kind == "devicetype" \
            else "device argument must be a string"
        if not isinstance(key, str):
            raise Fault(400, what)
        codename = perm.rpartition(".")[2] if isinstance(perm, str) else perm
        missing = "please use existing device type name" if kind == "devicetype" \
            else "please use existing device hostname"
        fn = inventory.thd_grant_object_permission if grant \
            else inventory.thd_revoke_object_permission
        await self.call.run(fn, kind, key, group, codename, faults={
            (NotFound, "Group"): (400, "please use existing group name"),
            (NotFound, "DeviceType"): (400, missing), (NotFound, "Device"): (400, missing)})

    @exposed
    async def assign_perm_device_type(self, perm: Any, device_type: Any, group: Any) -> None:
        """Give ``group`` the permission ``perm`` (``view_devicetype``,
        ``submit_to_devicetype`` or ``change_devicetype``) on a device type.
        Needs ``lava_scheduler_app.change_devicetype``."""
        self.call.check_perm("lava_scheduler_app.change_devicetype")
        await self._object_perm("devicetype", perm, device_type, group, True)

    @exposed
    async def revoke_perm_device_type(self, perm: Any, device_type: Any, group: Any) -> None:
        """Take the permission ``perm`` on a device type away from ``group``.
        Needs ``lava_scheduler_app.change_devicetype``."""
        self.call.check_perm("lava_scheduler_app.change_devicetype")
        await self._object_perm("devicetype", perm, device_type, group, False)

    @exposed
    async def assign_perm_device(self, perm: Any, device: Any, group: Any) -> None:
        """Give ``group`` the permission ``perm`` (``view_device``, ``submit_to_device``
        or ``change_device``) on a device.  Needs ``lava_scheduler_app.change_device``."""
        self.call.check_perm("lava_scheduler_app.change_device")
        await self._object_perm("device", perm, device, group, True)

    @exposed
    async def revoke_perm_device(self, perm: Any, device: Any, group: Any) -> None:
        """Take the permission ``perm`` on a device away from ``group``.
        Needs ``lava_scheduler_app.change_device``."""
        self.call.check_perm("lava_scheduler_app.change_device")
        await self._object_perm("device", perm, device, group, False)
