"""scheduler.tags.*, scheduler.aliases.* and scheduler.remote_artifact_tokens.*."""

from __future__ import annotations

import pytest_twisted

from lavad import devices, users

AUTH = (401, "Authentication with user and token required for this API.")


@pytest_twisted.ensureDeferred
async def test_tags(server, rpc):
    """tags: add/list/show/delete with their permissions and faults."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("scheduler.tags.add", "usb", "has USB", token=root)
    await rpc.call("scheduler.tags.add", "audio", token=root)
    assert await rpc.call("scheduler.tags.list") == [
        {"name": "audio", "description": None}, {"name": "usb", "description": "has USB"}]
    assert await rpc.fault("scheduler.tags.add", "usb", token=root) == (
        400, "Bad request: tag already exists?")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    for host in ("q1", "q2"):
        await rpc.call("scheduler.devices.add", host, "qemu", "w1", token=root)
        await rpc.call("scheduler.devices.tags.add", host, "usb", token=root)
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "device", "g", "view_device", "q2")
    assert await rpc.call("scheduler.tags.show", "usb", token=alice) == {
        "name": "usb", "description": "has USB", "devices": ["q1"]}
    assert (await rpc.call("scheduler.tags.show", "usb", token=root))["devices"] == ["q1",
                                                                                     "q2"]
    assert await rpc.fault("scheduler.tags.show", "nope") == (404, "Tag 'nope' was not found.")
    assert await rpc.fault("scheduler.tags.delete", "usb") == AUTH
    assert await rpc.fault("scheduler.tags.delete", "usb", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.delete_tag.")
    await rpc.call("scheduler.tags.delete", "usb", token=root)
    assert await rpc.call("scheduler.devices.tags.list", "q1") == []
    assert await rpc.fault("scheduler.tags.delete", "usb", token=root) == (
        404, "Tag 'usb' was not found.")


@pytest_twisted.ensureDeferred
async def test_aliases(server, rpc):
    """aliases: add needs add_alias and the view permission held on the type; show hides
    the type from callers who do not hold it; list; delete."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.aliases.add", "x86", "qemu", token=root)
    assert await rpc.call("scheduler.aliases.list") == ["x86"]
    assert await rpc.call("scheduler.aliases.show", "x86", token=root) == {
        "name": "x86", "device_type": "qemu"}
    # Holding no view permission (the type is merely unrestricted) shows "".
    assert await rpc.call("scheduler.aliases.show", "x86", token=alice) == {
        "name": "x86", "device_type": ""}
    assert await rpc.call("scheduler.aliases.show", "x86") == {"name": "x86",
                                                               "device_type": ""}
    assert await rpc.fault("scheduler.aliases.show", "nope") == (
        404, "Alias 'nope' was not found.")
    assert await rpc.fault("scheduler.aliases.add", "y", "qemu") == AUTH
    await server.grant("alice", "lava_scheduler_app.add_alias")
    assert await rpc.fault("scheduler.aliases.add", "y", "qemu", token=alice) == (
        404, "Device-type 'qemu' was not found.")
    await rpc.call("auth.groups.add", "g", token=root)
    await rpc.call("auth.users.groups.add", "alice", "g", token=root)
    await rpc.call("scheduler.device_types.perms_add", "qemu", "g", "view_devicetype",
                   token=await server.user("staff", is_staff=True))
    assert await rpc.call("scheduler.aliases.add", "y", "qemu", token=alice) is None
    assert await rpc.call("scheduler.aliases.show", "y", token=alice) == {
        "name": "y", "device_type": "qemu"}
    assert await rpc.fault("scheduler.aliases.add", "z", "nope", token=root) == (
        400, "Bad request. DeviceType does not exist")
    assert await rpc.fault("scheduler.aliases.add", "y", "qemu", token=root) == (
        404, "Alias with this Name already exists.")
    assert await rpc.fault("scheduler.aliases.add", "qemu", "qemu", token=root) == (
        404, "DeviceType with name 'qemu' already exists.")
    assert await rpc.fault("scheduler.aliases.delete", "y", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.delete_alias.")
    await rpc.call("scheduler.aliases.delete", "y", token=root)
    assert await rpc.fault("scheduler.aliases.delete", "y", token=root) == (
        404, "Alias 'y' was not found.")
    assert await rpc.call("scheduler.aliases.list") == ["x86"]


@pytest_twisted.ensureDeferred
async def test_remote_artifact_tokens(server, rpc):
    """remote_artifact_tokens: the caller's own tokens; 401 when anonymous."""
    alice = await server.user("alice")
    bob = await server.user("bob")
    for method, args in (("list", ()), ("show", ("a",)), ("add", ("a", "b")),
                         ("delete", ("a",))):
        assert await rpc.fault("scheduler.remote_artifact_tokens." + method, *args) == AUTH
    await rpc.call("scheduler.remote_artifact_tokens.add", "gitlab", "s3cr3t", token=alice)
    await rpc.call("scheduler.remote_artifact_tokens.add", "apt", "xyz", token=alice)
    await rpc.call("scheduler.remote_artifact_tokens.add", "gitlab", "bobs", token=bob)
    assert await rpc.call("scheduler.remote_artifact_tokens.list", token=alice) == [
        {"name": "apt", "token": "xyz"}, {"name": "gitlab", "token": "s3cr3t"}]
    assert await rpc.call("scheduler.remote_artifact_tokens.show", "gitlab", token=bob) == \
        "bobs"
    assert await rpc.fault("scheduler.remote_artifact_tokens.add", "apt", "x",
                           token=alice) == (400, "Bad request: token already exists?")
    assert await rpc.fault("scheduler.remote_artifact_tokens.show", "apt", token=bob) == (
        404, "Token 'apt' was not found.")
    await rpc.call("scheduler.remote_artifact_tokens.delete", "apt", token=alice)
    assert await rpc.fault("scheduler.remote_artifact_tokens.delete", "apt",
                           token=alice) == (404, "Token 'apt' was not found.")
    assert await rpc.call("scheduler.remote_artifact_tokens.list", token=alice) == [
        {"name": "gitlab", "token": "s3cr3t"}]
