"""system.*: introspection, multicall, dispatch faults, identity and the permission helpers."""

from __future__ import annotations

import xmlrpc.client

import pytest_twisted

from lavad import devices, users
from lavad.xmlrpc import build_registry

INTERNAL = "Internal Server Error (contact server administrator for details): "


async def fault_of(rpc, body: bytes) -> tuple[int, str]:
    status, _, data = await rpc.http("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    assert status == 200
    try:
        xmlrpc.client.loads(data)
    except xmlrpc.client.Fault as fault:
        return fault.faultCode, fault.faultString
    raise AssertionError("no fault in %r" % data)


@pytest_twisted.ensureDeferred
async def test_list_methods(server, rpc):
    """listMethods: every registered method, sorted, from the one method table."""
    names = await rpc.call("system.listMethods")
    assert names == sorted(names) == build_registry().names()
    assert "system.multicall" in names and "scheduler.devices.tags.add" in names
    assert not [n for n in names if n.rsplit(".", 1)[1].startswith("_")]


@pytest_twisted.ensureDeferred
async def test_method_help_and_signature(server, rpc):
    """methodHelp returns the help text ("" when unknown); methodSignature is "undef"
    except for methodHelp and multicall, "" when unknown."""
    text = await rpc.call("system.methodHelp", "scheduler.devices.show")
    assert "device_type" in text and text == text.strip()
    assert await rpc.call("system.methodHelp", "nope") == ""
    assert await rpc.call("system.methodHelp", "scheduler.devices._hidden") == ""
    assert await rpc.call("system.methodSignature", "system.methodHelp") == ["str", "str"]
    assert await rpc.call("system.methodSignature", "system.multicall") == ["array", "array"]
    assert await rpc.call("system.methodSignature", "scheduler.devices.show") == "undef"
    assert await rpc.call("system.methodSignature", "nope") == ""
    for name in await rpc.call("system.listMethods"):
        assert await rpc.call("system.methodHelp", name), name


@pytest_twisted.ensureDeferred
async def test_version_and_identity(server, rpc):
    """version (a 20YY.MM that makes lavacli use /ws/), api_version, whoami, capabilities,
    master_config: all anonymous."""
    assert await rpc.call("system.version") == "2026.07"
    assert await rpc.call("system.api_version") == 2
    assert await rpc.call("system.whoami") is None
    caps = await rpc.call("system.getCapabilities")
    assert sorted(caps) == ["auth_token", "faults_interop", "introspect"]
    assert caps["introspect"]["specVersion"] == 1
    assert caps["faults_interop"]["specVersion"] == 20010516
    config = await rpc.call("system.master_config")
    assert config == {"EVENT_TOPIC": "org.lavasoftware", "EVENT_SOCKET": "tcp://127.0.0.1:*",
                      "EVENT_NOTIFICATION": True, "LOG_SIZE_LIMIT": 5}


@pytest_twisted.ensureDeferred
async def test_multicall(server, rpc):
    """multicall: [value] per success, a fault struct per failure, -32602 for bad sub-calls,
    each sub-call with the caller's identity."""
    alice = await server.user("alice")
    result = await rpc.call("system.multicall", [
        {"methodName": "system.whoami", "params": []},
        {"methodName": "system.version", "params": []},
        {"methodName": "nope", "params": []},
        {"methodName": "scheduler.tags.add", "params": ["x"]},
        "not a struct",
        {"params": []},
        {"methodName": 3, "params": []},
        {"methodName": "system.whoami"},
        {"methodName": "system.whoami", "params": "x"},
        {"methodName": "system.whoami", "params": [], "zz": 1, "aa": 2},
        {"methodName": "system.multicall", "params": [[{"methodName": "system.whoami",
                                                        "params": []}]]},
    ], token=alice)
    assert result == [
        ["alice"], ["2026.07"],
        {"faultCode": -32601, "faultString": "No such method: 'nope'"},
        {"faultCode": 403,
         "faultString": "User 'alice' is missing permission lava_scheduler_app.add_tag."},
        {"faultCode": -32602, "faultString": "system.multicall expected struct"},
        {"faultCode": -32602, "faultString": "system.multicall methodName not specified"},
        {"faultCode": -32602, "faultString": "system.multicall methodName must be a string"},
        {"faultCode": -32602, "faultString": "system.multicall params not specified"},
        {"faultCode": -32602, "faultString": "system.multicall params must be an array"},
        {"faultCode": -32602,
         "faultString": "system.multicall specified additional arguments ['aa', 'zz']"},
        [[["alice"]]],
    ]
    assert await rpc.fault("system.multicall", "x") == (
        -32602, "system.multicall expected a list of methods to call")
    assert await rpc.call("system.multicall", []) == []


@pytest_twisted.ensureDeferred
async def test_dispatch_faults(server, rpc):
    """Unknown method -32601 (``close`` is nil), wrong argument count -32603 with Python's
    text, undecodable bodies -32603/-32600, an i4 overflow -32603: all HTTP 200."""
    assert await rpc.fault("system.nope") == (-32601, "No such method: 'system.nope'")
    assert await rpc.fault("scheduler.devices._hidden") == (
        -32601, "No such method: 'scheduler.devices._hidden'")
    assert await rpc.call("close") is None
    assert await rpc.fault("scheduler.devices.show") == (
        -32603, INTERNAL + "SchedulerDevicesAPI.show() missing 1 required positional "
                           "argument: 'hostname'")
    assert await rpc.fault("system.version", 1) == (
        -32603, INTERNAL + "LavaSystemAPI.version() takes 1 positional argument but 2 "
                           "were given")
    assert await fault_of(rpc, b"<methodCall><methodName>x") == (
        -32603, "Unable to decode request")
    assert await fault_of(rpc, b"not xml at all") == (-32603, "Unable to decode request")
    assert await fault_of(rpc, b"<?xml version='1.0'?><foo/>") == (
        -32600, "Unable to decode request")
    response = xmlrpc.client.dumps(("x",), methodresponse=True).encode()
    assert await fault_of(rpc, response) == (-32600, "Unable to decode request")
    entity = (b"<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a 'aaaa'>]><methodCall>"
              b"<methodName>system.version</methodName></methodCall>")
    assert await fault_of(rpc, entity) == (-32603, "Unable to decode request")
    # A value too large for i4 cannot be sent: a fault, not an HTTP error.
    root = await server.user("root", is_superuser=True)
    await server.run(users.thd_add_user, "big")
    await server.run(lambda tx: tx.execute("UPDATE users SET id = 4294967296"
                                           " WHERE username = 'big'"))
    code, text = await rpc.fault("auth.users.show", "big", token=root)
    assert (code, text) == (-32603, INTERNAL + "int exceeds XML-RPC limits")


@pytest_twisted.ensureDeferred
async def test_nil_and_datetime_arguments(server, rpc):
    """<nil/> arguments are accepted (lavacli sends many)."""
    assert await rpc.call("scheduler.devices.list", None, None) == []
    assert await rpc.call("scheduler.workers.list", None) == []


@pytest_twisted.ensureDeferred
async def test_user_can_view_devices(server, rpc):
    """Visibility of listed devices per device type; unknown hostnames omitted; superusers
    may ask for another user; needs a token."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    for host in ("q1", "q2"):
        await rpc.call("scheduler.devices.add", host, "qemu", "w1", token=root)
    await server.run(users.thd_add_group, "secret")
    await server.run(devices.thd_add_object_permission, "device", "secret", "view_device", "q2")
    assert await rpc.fault("system.user_can_view_devices", ["q1"]) == (
        401, "Authentication with user and token required for this API.")
    assert await rpc.fault("system.user_can_view_devices", "q1", token=alice) == (
        400, "device list argument must be a list")
    expected = {"qemu": [{"q1": {"visible": True, "is_pipeline": True, "exclusive": True}},
                         {"q2": {"visible": False}}]}
    assert await rpc.call("system.user_can_view_devices", ["q1", "q2", "zz"],
                          token=alice) == expected
    assert await rpc.call("system.user_can_view_devices", ["q1", "q2"], "alice",
                          token=root) == expected
    assert await rpc.fault("system.user_can_view_devices", ["q1"], "root", token=alice) == (
        401, "Permission denied for user 'alice' to query other users")
    assert await rpc.fault("system.user_can_view_devices", ["q1"], "ghost", token=root) == (
        404, "Username ghost not found")


@pytest_twisted.ensureDeferred
async def test_user_can_submit_to_types(server, rpc):
    """Submit right per existing device type, unknown names omitted."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    for name in ("open", "closed"):
        await rpc.call("scheduler.device_types.add", name, None, True, None, 24, "jobs",
                       token=root)
    await server.run(users.thd_add_group, "lab")
    await rpc.call("system.assign_perm_device_type", "submit_to_devicetype", "closed", "lab",
                   token=root)
    assert await rpc.call("system.user_can_submit_to_types", ["open", "closed", "zz"],
                          token=alice) == {"open": True, "closed": False}
    await rpc.call("auth.users.groups.add", "alice", "lab", token=root)
    assert await rpc.call("system.user_can_submit_to_types", ["closed"],
                          token=alice) == {"closed": True}
    assert await rpc.fault("system.user_can_submit_to_types", "open", token=alice) == (
        400, "type list argument must be a list")
    assert await rpc.fault("system.user_can_submit_to_types", ["open"]) == (
        401, "Authentication with user and token required for this API.")
    assert await rpc.call("system.user_can_view_bundles", ["x"]) is False


@pytest_twisted.ensureDeferred
async def test_set_user_groups(server, rpc):
    """set_user_groups finds the user by e-mail and sets its groups to the existing ones."""
    staff = await server.user("staff", is_staff=True)
    alice = await server.user("alice", email="alice@example.com")
    for group in ("a", "b", "c"):
        await server.run(users.thd_add_group, group)
    await rpc.call("auth.users.groups.add", "alice", "c",
                   token=await server.user("root", is_superuser=True, is_staff=True))
    assert await rpc.call("system.set_user_groups", "alice@example.com", ["a", "b", "zz"],
                          token=staff) is None
    assert (await server.run(users.thd_get_user, "alice"))["groups"] == ["a", "b"]
    assert await rpc.fault("system.set_user_groups", "x@y", ["a"], token=staff) == (
        400, "please use an existing user")
    assert await rpc.fault("system.set_user_groups", "alice@example.com", "a",
                           token=staff) == (400, "groups must be a list")
    assert await rpc.fault("system.set_user_groups", "alice@example.com", [],
                           token=alice) == (403, "forbidden")


@pytest_twisted.ensureDeferred
async def test_assign_and_revoke_perms(server, rpc):
    """assign/revoke_perm_device(_type): group object permissions, LAVA's 400 texts."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "q1", "qemu", "w1", token=root)
    await server.run(users.thd_add_group, "g")
    await rpc.call("system.assign_perm_device_type", "view_devicetype", "qemu", "g", token=root)
    await rpc.call("system.assign_perm_device_type", "view_devicetype", "qemu", "g", token=root)
    await rpc.call("system.assign_perm_device", "lava_scheduler_app.change_device", "q1", "g",
                   token=root)
    staff = await server.user("staff", is_staff=True)
    assert await rpc.call("scheduler.device_types.perms_list", "qemu", token=staff) == [
        {"name": "view_devicetype", "group": "g"}]
    assert await rpc.call("scheduler.devices.perms_list", "q1", token=staff) == [
        {"name": "change_device", "group": "g"}]
    await rpc.call("system.revoke_perm_device_type", "view_devicetype", "qemu", "g", token=root)
    await rpc.call("system.revoke_perm_device", "change_device", "q1", "g", token=root)
    await rpc.call("system.revoke_perm_device", "change_device", "q1", "g", token=root)
    assert await rpc.call("scheduler.devices.perms_list", "q1", token=staff) == []
    assert await rpc.fault("system.assign_perm_device_type", "view_devicetype", 3, "g",
                           token=root) == (400, "device_type name must be a string")
    assert await rpc.fault("system.assign_perm_device", "view_device", 3, "g",
                           token=root) == (400, "device argument must be a string")
    assert await rpc.fault("system.assign_perm_device_type", "view_devicetype", "qemu", "zz",
                           token=root) == (400, "please use existing group name")
    assert await rpc.fault("system.assign_perm_device_type", "view_devicetype", "zz", "g",
                           token=root) == (400, "please use existing device type name")
    assert await rpc.fault("system.revoke_perm_device", "view_device", "zz", "g",
                           token=root) == (400, "please use existing device hostname")
    assert await rpc.fault("system.assign_perm_device", "view_device", "q1", "g",
                           token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.change_device.")
    assert await rpc.fault("system.revoke_perm_device_type", "view_devicetype", "qemu", "g",
                           token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.change_devicetype.")


def test_method_table_is_lavas():
    """The table has LAVA 2026.07's 134 methods in its 17 namespaces."""
    registry = build_registry()
    assert len(registry) == 134
    assert [ns.name for ns, _ in registry.grouped()] == [
        "auth.groups", "auth.groups.perms", "auth.users", "auth.users.groups",
        "auth.users.perms", "results", "scheduler", "scheduler.aliases",
        "scheduler.device_types", "scheduler.device_types.aliases", "scheduler.devices",
        "scheduler.devices.tags", "scheduler.jobs", "scheduler.remote_artifact_tokens", "scheduler.tags",
        "scheduler.workers", "system"]
    assert registry.lookup("scheduler.jobs.list").params == (
        "(state=None, health=None, start=0, limit=25, since=0, verbose=False, "
        "duration_at_least=None)")
