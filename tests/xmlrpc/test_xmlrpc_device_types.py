"""scheduler.device_types.* and scheduler.device_types.aliases.*."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted

from lavad import devices, users

AUTH = (401, "Authentication with user and token required for this API.")


async def setup(server, rpc):
    root = await server.user("root", is_superuser=True, is_staff=True)
    alice = await server.user("alice")
    for name in ("qemu", "base", "base-uboot", "juno"):
        Path(server.template_dir, name + ".jinja2").write_text("# %s\n" % name)
    await rpc.call("scheduler.device_types.add", "qemu", "emulated", True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.device_types.add", "kvm", None, False, True, 5, "jobs",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    await rpc.call("scheduler.devices.add", "qemu-02", "qemu", "w1", token=root)
    return root, alice


@pytest_twisted.ensureDeferred
async def test_list(server, rpc):
    """list: visible types with device counts and template flags; show_all adds
    template-only types (not base*)."""
    _root, alice = await setup(server, rpc)
    expected = [{"name": "kvm", "devices": 0, "installed": True, "template": False},
                {"name": "qemu", "devices": 2, "installed": True, "template": True}]
    assert await rpc.call("scheduler.device_types.list") == expected
    assert await rpc.call("scheduler.device_types.list", True) == expected + [
        {"name": "juno", "devices": 0, "installed": False, "template": True}]
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "devicetype", "g", "view_devicetype",
                     "kvm")
    assert [t["name"] for t in await rpc.call("scheduler.device_types.list",
                                              token=alice)] == ["qemu"]


@pytest_twisted.ensureDeferred
async def test_show(server, rpc):
    """show: LAVA's keys; hidden or missing types are 404."""
    root, alice = await setup(server, rpc)
    await rpc.call("scheduler.device_types.aliases.add", "qemu", "qemu-x86", token=root)
    assert await rpc.call("scheduler.device_types.show", "qemu") == {
        "name": "qemu", "description": "emulated", "display": True, "health_disabled": False,
        "health_denominator": "hours", "health_frequency": 24, "aliases": ["qemu-x86"],
        "devices": ["qemu-01", "qemu-02"], "default_template": False, "permissions": []}
    kvm = await rpc.call("scheduler.device_types.show", "kvm")
    assert (kvm["display"], kvm["health_denominator"], kvm["health_frequency"],
            kvm["description"]) == (False, "jobs", 5, None)
    assert await rpc.fault("scheduler.device_types.show", "nope") == (
        404, "Device-type 'nope' was not found.")
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "devicetype", "g", "view_devicetype",
                     "kvm")
    assert await rpc.fault("scheduler.device_types.show", "kvm", token=alice) == (
        404, "Device-type 'kvm' was not found.")
    # A device hidden by its own permission is left out of the type's list.
    await server.run(devices.thd_add_object_permission, "device", "g", "view_device",
                     "qemu-02")
    assert (await rpc.call("scheduler.device_types.show", "qemu", token=alice))["devices"] == [
        "qemu-01"]


@pytest_twisted.ensureDeferred
async def test_add_faults(server, rpc):
    """add: permission, health_denominator, duplicate names."""
    root, alice = await setup(server, rpc)
    assert await rpc.fault("scheduler.device_types.add", "x", None, True, None, 1,
                           "hours") == AUTH
    assert await rpc.fault("scheduler.device_types.add", "x", None, True, None, 1, "hours",
                           token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.change_devicetype.")
    assert await rpc.fault("scheduler.device_types.add", "x", None, True, None, 1, "days",
                           token=root) == (400, "Bad request: invalid health_denominator.")
    assert await rpc.fault("scheduler.device_types.add", "qemu", None, True, None, 1, "hours",
                           token=root) == (400, "Bad request: device-type name is already used.")


@pytest_twisted.ensureDeferred
async def test_update(server, rpc):
    """update: nil leaves a field alone; change rights needed; bad denominator is 400."""
    root, alice = await setup(server, rpc)
    assert await rpc.call("scheduler.device_types.update", "qemu", "new", None, None, 12,
                          "jobs", True, token=root) is None
    show = await rpc.call("scheduler.device_types.show", "qemu")
    assert (show["description"], show["display"], show["health_frequency"],
            show["health_denominator"], show["health_disabled"]) == (
        "new", True, 12, "jobs", True)
    await rpc.call("scheduler.device_types.update", "qemu", None, False, None, None, None,
                   None, token=root)
    show = await rpc.call("scheduler.device_types.show", "qemu")
    assert (show["description"], show["display"]) == ("new", False)
    assert await rpc.fault("scheduler.device_types.update", "qemu", "x", None, None, None,
                           None, None, token=alice) == (
        403, "No 'admin' permissions for device-type 'qemu'.")
    assert await rpc.fault("scheduler.device_types.update", "nope", "x", None, None, None,
                           None, None, token=root) == (404, "Device-type 'nope' was not found.")
    assert await rpc.fault("scheduler.device_types.update", "qemu", None, None, None, None,
                           "weeks", None, token=root) == (
        400, "Bad request: invalid health_denominator.")
    code, text = await rpc.fault("scheduler.device_types.update", "qemu", "x")
    assert code == -32603 and "missing 5 required positional arguments" in text


@pytest_twisted.ensureDeferred
async def test_devices(server, rpc):
    """devices(name, health): visible devices of the type, optionally filtered by health."""
    _root, _alice = await setup(server, rpc)
    assert await rpc.call("scheduler.device_types.devices", "qemu") == [
        {"hostname": "qemu-01", "health": "Good", "state": "Idle"},
        {"hostname": "qemu-02", "health": "Unknown", "state": "Idle"}]
    assert await rpc.call("scheduler.device_types.devices", "qemu", "good") == [
        {"hostname": "qemu-01", "health": "Good", "state": "Idle"}]
    assert await rpc.fault("scheduler.device_types.devices", "qemu", "happy") == (
        400, "Invalid health 'happy'")
    assert await rpc.fault("scheduler.device_types.devices", "nope") == (
        404, "Device-type 'nope' was not found.")


@pytest_twisted.ensureDeferred
async def test_templates(server, rpc):
    """get/set_template: base64 text in the first template directory; "" deletes; names
    with a path are 400; templates without a device type can be read."""
    root, alice = await setup(server, rpc)
    assert (await rpc.call("scheduler.device_types.get_template", "qemu")).data == b"# qemu\n"
    assert (await rpc.call("scheduler.device_types.get_template", "juno")).data == b"# juno\n"
    assert await rpc.call("scheduler.device_types.set_template", "kvm", "{# kvm #}\n",
                          token=root) is None
    assert (await rpc.call("scheduler.device_types.get_template", "kvm")).data == \
        b"{# kvm #}\n"
    assert Path(server.template_dir, "kvm.jinja2").read_text() == "{# kvm #}\n"
    assert (await rpc.call("scheduler.device_types.list"))[0]["template"] is True
    await rpc.call("scheduler.device_types.set_template", "kvm", "", token=root)
    assert await rpc.fault("scheduler.device_types.get_template", "kvm") == (
        404, "Device-type 'kvm' was not found.")
    assert await rpc.fault("scheduler.device_types.get_template", "../etc") == (
        400, "Invalid device-type '../etc'")
    assert await rpc.fault("scheduler.device_types.get_template", "zz") == (
        404, "Device-type 'zz' was not found.")
    assert await rpc.fault("scheduler.device_types.set_template", "kvm", "x",
                           token=alice) == (403, "No 'change' permissions for device-type 'kvm'.")
    assert await rpc.fault("scheduler.device_types.set_template", "zz", "x", token=root) == (
        404, "Device-type 'zz' was not found.")


@pytest_twisted.ensureDeferred
async def test_health_checks(server, rpc):
    """get/set_health_check: the definition stored with the device type; show's
    health_job follows it."""
    root, alice = await setup(server, rpc)
    assert await rpc.fault("scheduler.device_types.get_health_check", "qemu") == (
        404, "Device-type 'qemu' was not found.")
    definition = "job_name: health\ndevice_type: qemu\n"
    assert await rpc.call("scheduler.device_types.set_health_check", "qemu", definition,
                          token=root) is None
    assert (await rpc.call("scheduler.device_types.get_health_check", "qemu")).data.decode() \
        == definition
    assert (await rpc.call("scheduler.devices.show", "qemu-01"))["health_job"] is True
    assert await rpc.fault("scheduler.device_types.set_health_check", "qemu", "x",
                           token=alice) == (403, "No 'change' permissions for device-type 'qemu'.")
    await rpc.call("scheduler.device_types.set_health_check", "qemu", "", token=root)
    assert await rpc.fault("scheduler.device_types.get_health_check", "qemu") == (
        404, "Device-type 'qemu' was not found.")
    assert await rpc.fault("scheduler.device_types.get_health_check", ".hidden") == (
        400, "Invalid device-type '.hidden'")


@pytest_twisted.ensureDeferred
async def test_perms(server, rpc):
    """perms_add/delete/list on a device type, staff only."""
    root, alice = await setup(server, rpc)
    await rpc.call("auth.groups.add", "g", token=root)
    await rpc.call("scheduler.device_types.perms_add", "qemu", "g", "submit_to_devicetype",
                   token=root)
    assert await rpc.call("scheduler.device_types.perms_list", "qemu", token=root) == [
        {"name": "submit_to_devicetype", "group": "g"}]
    assert (await rpc.call("scheduler.device_types.show", "qemu"))["permissions"] == [
        {"name": "submit_to_devicetype", "group": "g"}]
    assert await rpc.fault("scheduler.device_types.perms_add", "zz", "g", "view_devicetype",
                           token=root) == (404, "Device-type 'zz' was not found.")
    assert await rpc.fault("scheduler.device_types.perms_delete", "qemu", "zz",
                           "view_devicetype", token=root) == (404, "Group 'zz' was not found.")
    assert await rpc.fault("scheduler.device_types.perms_list", "qemu", token=alice) == (
        403, "forbidden")
    await rpc.call("scheduler.device_types.perms_delete", "qemu", "g", "submit_to_devicetype",
                   token=root)
    assert await rpc.call("scheduler.device_types.perms_list", "qemu", token=root) == []


@pytest_twisted.ensureDeferred
async def test_aliases(server, rpc):
    """device_types.aliases: add (needs add_alias and change rights), list, delete."""
    root, alice = await setup(server, rpc)
    assert await rpc.fault("scheduler.device_types.aliases.add", "qemu", "x") == AUTH
    await rpc.call("scheduler.device_types.aliases.add", "qemu", "qemu-b", token=root)
    await rpc.call("scheduler.device_types.aliases.add", "qemu", "qemu-a", token=root)
    assert await rpc.call("scheduler.device_types.aliases.list", "qemu") == ["qemu-a",
                                                                             "qemu-b"]
    await server.grant("alice", "lava_scheduler_app.add_alias")
    assert await rpc.fault("scheduler.device_types.aliases.add", "qemu", "x",
                           token=alice) == (403, "No 'admin' permissions for device-type 'qemu'.")
    assert await rpc.fault("scheduler.device_types.aliases.add", "zz", "x", token=root) == (
        404, "Device-type 'zz' was not found.")
    assert await rpc.fault("scheduler.device_types.aliases.delete", "qemu", "nope",
                           token=root) == (404, "Alias 'nope' was not found.")
    assert await rpc.fault("scheduler.device_types.aliases.delete", "qemu", "qemu-a",
                           token=alice) == (403, "No 'admin' permissions for device-type 'qemu'.")
    await rpc.call("scheduler.device_types.aliases.delete", "qemu", "qemu-a", token=root)
    assert await rpc.call("scheduler.device_types.aliases.list", "qemu") == ["qemu-b"]
    assert await rpc.fault("scheduler.device_types.aliases.list", "zz") == (
        404, "Device-type 'zz' was not found.")
