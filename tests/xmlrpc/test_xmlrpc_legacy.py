"""The legacy top-level scheduler.* methods about devices and device types."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
import yaml

from lavad import devices, users
from lavad.models import WorkerState

AUTH = (401, "Authentication with user and token required for this API.")


async def setup(server, rpc):
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    Path(server.template_dir, "qemu.jinja2").write_text(
        "device_type: qemu\nname: {{ scheduled_device_name }}\n"
        "mem: {{ memory | default(512) }}\n")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "q1", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    await rpc.call("scheduler.devices.add", "q2", "qemu", "w1", None, None, True, "BAD",
                   token=root)
    await rpc.call("scheduler.devices.add", "q3", "qemu", "w1", None, None, True, "RETIRED",
                   token=root)
    await rpc.call("scheduler.devices.add", "q4", "qemu", "w1", None, None, True,
                   "MAINTENANCE", token=root)
    return root, alice


@pytest_twisted.ensureDeferred
async def test_all_devices_and_types(server, rpc):
    """all_devices (legacy status words) and all_device_types (busy/idle/offline counts)."""
    _root, _alice = await setup(server, rpc)
    assert await rpc.call("scheduler.all_devices") == [
        ["q1", "qemu", "idle", None, True], ["q2", "qemu", "offline", None, True],
        ["q4", "qemu", "offline", None, True]]
    # The worker is offline: nothing is idle.
    assert await rpc.call("scheduler.all_device_types") == [
        {"name": "qemu", "busy": 0, "idle": 0, "offline": 2}]
    await server.run(devices.thd_set_worker_state, "w1", WorkerState.ONLINE)
    assert await rpc.call("scheduler.all_device_types") == [
        {"name": "qemu", "busy": 0, "idle": 1, "offline": 1}]


@pytest_twisted.ensureDeferred
async def test_device_status_and_alias_lookup(server, rpc):
    """get_device_status and get_device_type_by_alias."""
    root, alice = await setup(server, rpc)
    assert await rpc.call("scheduler.get_device_status", "q3") == {
        "hostname": "q3", "status": "retired", "job": None, "offline_since": None,
        "offline_by": None, "is_pipeline": True}
    assert await rpc.fault("scheduler.get_device_status", "") == (
        400, "Bad request: Hostname was not specified.")
    assert await rpc.fault("scheduler.get_device_status", "zz") == (
        404, "Device 'zz' was not found.")
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "device", "g", "view_device", "q1")
    assert await rpc.fault("scheduler.get_device_status", "q1", token=alice) == (
        403, "Permission denied for user to access q1 information.")
    await rpc.call("scheduler.aliases.add", "qemu-x86_64", "qemu", token=root)
    assert await rpc.call("scheduler.get_device_type_by_alias", "x86") == {"x86": ["qemu"]}
    assert await rpc.call("scheduler.get_device_type_by_alias", "arm") == {"arm": []}


@pytest_twisted.ensureDeferred
async def test_maintenance_and_online(server, rpc):
    """put_into_maintenance_mode / put_into_online_mode: auth, reason, change rights."""
    root, alice = await setup(server, rpc)
    assert await rpc.fault("scheduler.put_into_maintenance_mode", "q1", "x") == AUTH
    assert await rpc.fault("scheduler.put_into_maintenance_mode", "q1", "", token=root) == (
        400, "Bad request: Reason was not specified.")
    assert await rpc.fault("scheduler.put_into_online_mode", None, "x", token=root) == (
        400, "Bad request: Hostname was not specified.")
    assert await rpc.fault("scheduler.put_into_maintenance_mode", "q1", "x", token=alice) == (
        403, "Permission denied for user to put q1 into maintenance mode.")
    assert await rpc.fault("scheduler.put_into_online_mode", "q1", "x", token=alice) == (
        403, "Permission denied for user to put q1 into online mode.")
    assert await rpc.fault("scheduler.put_into_online_mode", "zz", "x", token=root) == (
        404, "Device 'zz' was not found.")
    assert await rpc.call("scheduler.put_into_maintenance_mode", "q1", "cable", None,
                          token=root) is None
    assert (await rpc.call("scheduler.devices.show", "q1"))["health"] == "Maintenance"
    await rpc.call("scheduler.put_into_online_mode", "q1", "fixed", True, token=root)
    assert (await rpc.call("scheduler.devices.show", "q1"))["health"] == "Unknown"


@pytest_twisted.ensureDeferred
async def test_device_dictionary_methods(server, rpc):
    """import/export_device_dictionary, get_device_config and validate_pipeline_devices."""
    root, alice = await setup(server, rpc)
    assert await rpc.fault("scheduler.import_device_dictionary", "q1", "x") == AUTH
    assert await rpc.call("scheduler.import_device_dictionary", "q1",
                          "{% extends 'qemu.jinja2' %}\n", token=root) == \
        "Device dictionary updated for q1"
    assert (await rpc.call("scheduler.export_device_dictionary", "q1", token=root)).data == \
        b"{% extends 'qemu.jinja2' %}\n"
    assert await rpc.fault("scheduler.export_device_dictionary", "q2", token=root) == (
        404, "Device 'q2' does not have a device dictionary")
    assert await rpc.fault("scheduler.export_device_dictionary", "q1", token=alice) == (
        403, "Permission denied for user to retrieve device dictionary for 'q1'.")
    assert await rpc.fault("scheduler.import_device_dictionary", "q1", "x", token=alice) == (
        403, "Permission denied for user to store the configuration for q1 on disk.")
    config = await rpc.call("scheduler.get_device_config", "q1", "memory: 2048")
    assert yaml.safe_load(config.data) == {"device_type": "qemu", "name": "q1", "mem": 2048}
    assert await rpc.fault("scheduler.get_device_config", "zz") == (
        404, "Specified device was not found.")
    assert await rpc.fault("scheduler.get_device_config", "") == (
        400, "Bad request: Device hostname was not specified.")
    code, text = await rpc.fault("scheduler.get_device_config", "q1", "a: [")
    assert code == 400 and text.startswith("Job context 'a: [' is not valid. ")
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "device", "g", "view_device", "q1")
    assert await rpc.fault("scheduler.get_device_config", "q1", None, ) == (
        401, "Permission denied for user to device q1")
    report = yaml.safe_load((await rpc.call("scheduler.validate_pipeline_devices",
                                            token=root)).data)
    assert report == {"q1": {"Valid": None}, "q2": {"Invalid": "Missing device dictionary"},
                      "q4": {"Invalid": "Missing device dictionary"}}
    report = yaml.safe_load((await rpc.call("scheduler.validate_pipeline_devices", "q1",
                                            token=root)).data)
    assert report == {"q1": {"Valid": None}}
    assert await rpc.fault("scheduler.validate_pipeline_devices", "zz") == (
        404, "No devices found with hostname or device type name zz, visible by the user")


@pytest_twisted.ensureDeferred
async def test_publisher_event_socket(server, rpc):
    """get_publisher_event_socket gives the ZMQ address with the port really bound."""
    address = await rpc.call("scheduler.get_publisher_event_socket")
    publisher = server.service.publisher
    assert address == publisher.client_address()
    assert address.startswith("tcp://127.0.0.1:") and not address.endswith("*")
