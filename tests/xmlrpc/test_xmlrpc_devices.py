"""scheduler.devices.* and scheduler.devices.tags.*: values, visibility and faults."""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path

import pytest_twisted
import yaml

from lavad import devices, users
from lavad.models import JobState

AUTH = (401, "Authentication with user and token required for this API.")
TEMPLATE = """{% set console = console_device | default('ttyS0') %}
device_type: qemu
hostname: {{ scheduled_device_name }}
console: {{ console }}
"""


async def lab(server, rpc):
    """A superuser, a normal user, a device type with a template, a worker, two devices."""
    root = await server.user("root", is_superuser=True, is_staff=True)
    alice = await server.user("alice")
    Path(server.template_dir, "qemu.jinja2").write_text(TEMPLATE)
    await rpc.call("scheduler.device_types.add", "qemu", "emulated", True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", "the worker", token=root)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   "first", token=root)
    await rpc.call("scheduler.devices.add", "qemu-02", "qemu", "w1", token=root)
    return root, alice


@pytest_twisted.ensureDeferred
async def test_add_list_show(server, rpc):
    """add creates Idle devices (health UNKNOWN by default); list and show return LAVA's keys."""
    _root, _alice = await lab(server, rpc)
    assert await rpc.call("scheduler.devices.list") == [
        {"hostname": "qemu-01", "type": "qemu", "health": "Good", "state": "Idle",
         "current_job": None, "pipeline": True},
        {"hostname": "qemu-02", "type": "qemu", "health": "Unknown", "state": "Idle",
         "current_job": None, "pipeline": True}]
    assert await rpc.call("scheduler.devices.show", "qemu-01") == {
        "hostname": "qemu-01", "device_type": "qemu", "health": "Good", "state": "Idle",
        "health_job": False, "description": "first", "pipeline": True,
        "has_device_dict": False, "worker": "w1", "current_job": None, "tags": [],
        "permissions": []}
    assert await rpc.fault("scheduler.devices.show", "nope") == (
        404, "Device 'nope' was not found.")


@pytest_twisted.ensureDeferred
async def test_add_faults(server, rpc):
    """add: permission, health names, unknown type or worker, duplicates."""
    root, alice = await lab(server, rpc)
    assert await rpc.fault("scheduler.devices.add", "x", "qemu", "w1") == AUTH
    assert await rpc.fault("scheduler.devices.add", "x", "qemu", "w1", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.change_device.")
    assert await rpc.fault("scheduler.devices.add", "x", "qemu", "w1", None, None, True,
                           "good", token=root) == (400, "Invalid health")
    assert await rpc.fault("scheduler.devices.add", "x", "nope", "w1", token=root) == (
        404, "DeviceType 'nope' was not found.")
    assert await rpc.fault("scheduler.devices.add", "x", "qemu", "nope", token=root) == (
        404, "Worker 'nope' was not found.")
    assert await rpc.fault("scheduler.devices.add", "qemu-01", "qemu", "w1", token=root) == (
        400, "Bad request: device already exists?")


@pytest_twisted.ensureDeferred
async def test_retired_and_hidden_devices(server, rpc):
    """list hides retired devices unless show_all, and devices the caller may not see."""
    root, alice = await lab(server, rpc)
    await rpc.call("scheduler.devices.update", "qemu-02", None, None, None, None, "RETIRED",
                   token=root)
    assert [d["hostname"] for d in await rpc.call("scheduler.devices.list")] == ["qemu-01"]
    assert [d["hostname"] for d in await rpc.call("scheduler.devices.list", True)] == [
        "qemu-01", "qemu-02"]
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "device", "g", "view_device",
                     "qemu-01")
    assert await rpc.call("scheduler.devices.list", True, token=alice) == [
        {"hostname": "qemu-02", "type": "qemu", "health": "Retired", "state": "Idle",
         "current_job": None, "pipeline": True}]
    assert await rpc.fault("scheduler.devices.show", "qemu-01", token=alice) == (
        403, "Device 'qemu-01' not available to user 'alice'.")
    assert await rpc.fault("scheduler.devices.show", "qemu-01") == (
        403, "Device 'qemu-01' not available to user 'AnonymousUser'.")
    assert (await rpc.call("scheduler.devices.show", "qemu-01", token=root))["hostname"] == \
        "qemu-01"
    assert await rpc.fault("scheduler.devices.tags.list", "qemu-01", token=alice) == (
        404, "Device 'qemu-01' was not found.")


@pytest_twisted.ensureDeferred
async def test_update(server, rpc):
    """update changes only the given fields, logs the reason, and words LAVA's faults."""
    root, alice = await lab(server, rpc)
    await rpc.call("auth.users.add", "owner", token=root)
    await rpc.call("scheduler.workers.add", "w2", token=root)
    await rpc.call("scheduler.device_types.add", "kvm", None, True, None, 24, "jobs",
                   token=root)
    assert await rpc.call("scheduler.devices.update", "qemu-01", "w2", "owner", None, None,
                          "MAINTENANCE", "new text", "kvm", "rack move", token=root) is None
    show = await rpc.call("scheduler.devices.show", "qemu-01")
    assert (show["worker"], show["health"], show["description"], show["device_type"]) == (
        "w2", "Maintenance", "new text", "kvm")
    owner = await server.run(lambda tx: tx.scalar(
        "SELECT u.username FROM devices d JOIN users u ON u.id = d.physical_owner"
        " WHERE d.hostname = 'qemu-01'"))
    assert owner == "owner"
    log = await server.run(lambda tx: tx.scalar(
        "SELECT message FROM log_entries WHERE object_id = 'qemu-01' ORDER BY id DESC"))
    assert log == "Good → Maintenance (rack move)"
    await rpc.call("scheduler.devices.update", "qemu-01", None, None, None, None, "GOOD",
                   token=root)
    log = await server.run(lambda tx: tx.scalar(
        "SELECT message FROM log_entries WHERE object_id = 'qemu-01' ORDER BY id DESC"))
    assert log == "Maintenance → Good (xmlrpc api)"
    show2 = await rpc.call("scheduler.devices.show", "qemu-01")
    assert (show2["worker"], show2["description"]) == ("w2", "new text")
    cases = [
        (("nope",), (404, "Device 'nope' was not found.")),
        (("qemu-01", "nope"), (404, "Unable to find worker 'nope'")),
        (("qemu-01", None, "ghost"), (404, "Unable to find username 'ghost'")),
        (("qemu-01", None, None, None, None, "FINE"), (400, "Health 'FINE' is invalid")),
        (("qemu-01", None, None, None, None, None, None, "zz"),
         (404, "Unable to find device-type 'zz'")),
    ]
    for args, fault in cases:
        assert await rpc.fault("scheduler.devices.update", *args, token=root) == fault, args
    assert await rpc.fault("scheduler.devices.update", "qemu-01", token=alice) == (
        403, "User 'alice' needs admin permission on device qemu-01.")
    # A group change permission on the device type is enough.
    await rpc.call("auth.groups.add", "admins", token=root)
    await rpc.call("auth.users.groups.add", "alice", "admins", token=root)
    await rpc.call("scheduler.device_types.perms_add", "kvm", "admins", "change_devicetype",
                   token=root)
    assert await rpc.call("scheduler.devices.update", "qemu-01", None, None, None, None, None,
                          "alice's", token=alice) is None


@pytest_twisted.ensureDeferred
async def test_delete(server, rpc):
    """delete needs delete_device; 404 for unknown devices."""
    root, alice = await lab(server, rpc)
    assert await rpc.fault("scheduler.devices.delete", "qemu-02", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.delete_device.")
    assert await rpc.call("scheduler.devices.delete", "qemu-02", token=root) is None
    assert await rpc.fault("scheduler.devices.delete", "qemu-02", token=root) == (
        404, "Device 'qemu-02' was not found.")


@pytest_twisted.ensureDeferred
async def test_dictionary(server, rpc):
    """set/get_dictionary: base64 raw text, rendered YAML with a context, "" deletes."""
    root, alice = await lab(server, rpc)
    assert await rpc.fault("scheduler.devices.get_dictionary", "qemu-01") == (
        404, "Device 'qemu-01' does not have a configuration")
    text = "{% extends 'qemu.jinja2' %}\n{% set console_device = 'ttyAMA0' %}\n"
    assert await rpc.call("scheduler.devices.set_dictionary", "qemu-01", text,
                          token=root) is True
    raw = await rpc.call("scheduler.devices.get_dictionary", "qemu-01")
    assert isinstance(raw, xmlrpc.client.Binary) and raw.data.decode() == text
    rendered = await rpc.call("scheduler.devices.get_dictionary", "qemu-01", True)
    assert yaml.safe_load(rendered.data) == {"device_type": "qemu", "hostname": "qemu-01",
                                             "console": "ttyAMA0"}
    assert (await rpc.call("scheduler.devices.show", "qemu-01"))["has_device_dict"] is True
    text2 = "{% extends 'qemu.jinja2' %}\n"
    await rpc.call("scheduler.devices.set_dictionary", "qemu-01", text2, token=root)
    rendered = await rpc.call("scheduler.devices.get_dictionary", "qemu-01", True,
                              "console_device: hvc0")
    assert yaml.safe_load(rendered.data)["console"] == "hvc0"
    code, text = await rpc.fault("scheduler.devices.get_dictionary", "qemu-01", True, "[a")
    assert code == 400 and text.startswith("Job Context '[a' is not valid: ")
    assert await rpc.fault("scheduler.devices.set_dictionary", "qemu-01", "x",
                           token=alice) == (
        403, "User 'alice' needs admin permission on device qemu-01.")
    assert await rpc.fault("scheduler.devices.set_dictionary", "nope", "x", token=root) == (
        404, "Device 'nope' was not found.")
    assert await rpc.call("scheduler.devices.set_dictionary", "qemu-01", "", token=root)
    assert await rpc.fault("scheduler.devices.get_dictionary", "qemu-01") == (
        404, "Device 'qemu-01' does not have a configuration")
    assert await rpc.fault("scheduler.devices.get_dictionary", "nope") == (
        404, "Device 'nope' was not found.")


@pytest_twisted.ensureDeferred
async def test_perms(server, rpc):
    """perms_add/delete/list: staff only, group object permissions on a device."""
    root, alice = await lab(server, rpc)
    await rpc.call("auth.groups.add", "g", token=root)
    assert await rpc.call("scheduler.devices.perms_add", "qemu-01", "g", "view_device",
                          token=root) is None
    assert await rpc.call("scheduler.devices.perms_list", "qemu-01", token=root) == [
        {"name": "view_device", "group": "g"}]
    assert (await rpc.call("scheduler.devices.show", "qemu-01", token=root))["permissions"] == [
        {"name": "view_device", "group": "g"}]
    assert await rpc.fault("scheduler.devices.perms_add", "nope", "g", "view_device",
                           token=root) == (404, "Device 'nope' was not found.")
    assert await rpc.fault("scheduler.devices.perms_add", "qemu-01", "zz", "view_device",
                           token=root) == (404, "Group 'zz' was not found.")
    assert await rpc.fault("scheduler.devices.perms_add", "qemu-01", "g", "eat_device",
                           token=root) == (400, "Object with codename=eat_device does not exist.")
    assert await rpc.fault("scheduler.devices.perms_list", "qemu-01", token=alice) == (
        403, "forbidden")
    assert await rpc.call("scheduler.devices.perms_delete", "qemu-01", "g", "view_device",
                          token=root) is None
    assert await rpc.call("scheduler.devices.perms_list", "qemu-01", token=root) == []


@pytest_twisted.ensureDeferred
async def test_tags(server, rpc):
    """devices.tags: add (creating the tag), list, delete, with their permissions."""
    root, alice = await lab(server, rpc)
    assert await rpc.fault("scheduler.devices.tags.add", "qemu-01", "usb") == AUTH
    assert await rpc.fault("scheduler.devices.tags.add", "qemu-01", "usb", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.add_tag.")
    await rpc.call("scheduler.devices.tags.add", "qemu-01", "usb", token=root)
    await rpc.call("scheduler.devices.tags.add", "qemu-01", "audio", token=root)
    await rpc.call("scheduler.devices.tags.add", "qemu-01", "usb", token=root)
    assert await rpc.call("scheduler.devices.tags.list", "qemu-01") == ["audio", "usb"]
    assert (await rpc.call("scheduler.devices.show", "qemu-01"))["tags"] == ["audio", "usb"]
    assert await rpc.fault("scheduler.devices.tags.add", "nope", "usb", token=root) == (
        404, "Device 'nope' was not found.")
    await server.grant("alice", "lava_scheduler_app.add_tag")
    assert await rpc.fault("scheduler.devices.tags.add", "qemu-01", "x", token=alice) == (
        403, "User 'alice' needs admin permission on device qemu-01.")
    assert await rpc.fault("scheduler.devices.tags.delete", "qemu-01", "usb",
                           token=alice) == (
        403, "User 'alice' needs admin permission on device qemu-01.")
    assert await rpc.fault("scheduler.devices.tags.delete", "qemu-01", "zz", token=root) == (
        404, "Tag 'zz' was not found.")
    await rpc.call("scheduler.devices.tags.delete", "qemu-01", "usb", token=root)
    assert await rpc.call("scheduler.devices.tags.list", "qemu-01") == ["audio"]
    assert await rpc.fault("scheduler.devices.tags.list", "nope") == (
        404, "Device 'nope' was not found.")


@pytest_twisted.ensureDeferred
async def test_current_job(server, rpc):
    """current_job is the id of the unfinished job on the device."""
    _root, _alice = await lab(server, rpc)
    uid = await server.run(lambda tx: tx.scalar("SELECT id FROM users WHERE username='root'"))

    def put_job(tx):
        return tx.execute(
            "INSERT INTO test_jobs (submitter_id, submit_time, state, definition, token,"
            " actual_device, requested_device_type) VALUES (?, ?, ?, '', 't', 'qemu-01',"
            " 'qemu')", (uid, tx.now(), JobState.RUNNING)).lastrowid

    job = await server.run(put_job)
    assert (await rpc.call("scheduler.devices.show", "qemu-01"))["current_job"] == job
    listed = await rpc.call("scheduler.devices.list")
    assert [d["current_job"] for d in listed] == [job, None]
