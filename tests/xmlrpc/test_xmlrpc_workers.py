"""scheduler.workers.*: workers and their dispatcher/env files."""

from __future__ import annotations

import os
import xmlrpc.client
from pathlib import Path

import pytest_twisted

from lavad import devices, users

AUTH = (401, "Authentication with user and token required for this API.")


async def setup(server, rpc):
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("scheduler.workers.add", "w1", "first", token=root)
    await rpc.call("scheduler.workers.add", "w0", None, True, token=root)
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    return root, alice


@pytest_twisted.ensureDeferred
async def test_add_list(server, rpc):
    """add (disabled: Retired), list (strings, retired only with show_all), faults."""
    root, alice = await setup(server, rpc)
    assert await rpc.call("scheduler.workers.list") == ["w1"]
    assert await rpc.call("scheduler.workers.list", True) == ["w0", "w1"]
    assert await rpc.fault("scheduler.workers.add", "w2") == AUTH
    assert await rpc.fault("scheduler.workers.add", "w2", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.add_worker.")
    assert await rpc.fault("scheduler.workers.add", "w1", token=root) == (
        400, "Bad request: worker already exists?")


@pytest_twisted.ensureDeferred
async def test_show(server, rpc):
    """show: LAVA's keys, last_ping a dateTime, job_limit an int, token for superusers."""
    root, alice = await setup(server, rpc)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", token=root)
    shown = await rpc.call("scheduler.workers.show", "w1")
    ping = shown.pop("last_ping")
    assert isinstance(ping, xmlrpc.client.DateTime)
    assert len(ping.value) == 17 and ping.value[8] == "T"
    assert shown == {"hostname": "w1", "description": "first", "state": "Offline",
                     "health": "Active", "devices": ["qemu-01"], "job_limit": 0,
                     "version": None, "default_config": True, "default_env": True,
                     "default_env_dut": True}
    token = await server.run(lambda tx: tx.scalar("SELECT token FROM workers"
                                                  " WHERE hostname = 'w1'"))
    assert (await rpc.call("scheduler.workers.show", "w1", token=root))["token"] == token
    assert "token" not in await rpc.call("scheduler.workers.show", "w1", token=alice)
    assert await rpc.fault("scheduler.workers.show", "nope") == (
        404, "Worker 'nope' was not found.")
    assert (await rpc.call("scheduler.workers.show", "w0"))["health"] == "Retired"


@pytest_twisted.ensureDeferred
async def test_hidden_worker(server, rpc):
    """A worker restricted to a group is hidden from others (403 on show, absent in list)."""
    root, alice = await setup(server, rpc)
    await server.run(users.thd_add_group, "g")
    await server.run(devices.thd_add_object_permission, "worker", "g", "view_worker", "w1")
    assert await rpc.call("scheduler.workers.list", True, token=alice) == ["w0"]
    assert await rpc.fault("scheduler.workers.get_config", "w1", token=alice) == (
        403, "Worker 'w1' not available to user 'alice'.")
    assert await rpc.call("scheduler.workers.list", True, token=root) == ["w0", "w1"]


@pytest_twisted.ensureDeferred
async def test_update(server, rpc):
    """update: description, health transitions (exact names), job_limit checks."""
    root, alice = await setup(server, rpc)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    await rpc.call("scheduler.devices.add", "qemu-02", "qemu", "w1", None, None, True, "BAD",
                   token=root)
    await rpc.call("scheduler.workers.update", "w1", "desc", "MAINTENANCE", 2, token=root)
    shown = await rpc.call("scheduler.workers.show", "w1")
    assert (shown["description"], shown["health"], shown["job_limit"]) == (
        "desc", "Maintenance", 2)
    await rpc.call("scheduler.workers.update", "w1", None, "ACTIVE", token=root)
    assert [d["health"] for d in await rpc.call("scheduler.devices.list")] == ["Unknown",
                                                                               "Bad"]
    await rpc.call("scheduler.workers.update", "w1", None, "RETIRED", token=root)
    assert [d["health"] for d in await rpc.call("scheduler.devices.list", True)] == [
        "Retired", "Bad"]
    assert (await rpc.call("scheduler.workers.show", "w1"))["description"] == "desc"
    assert await rpc.fault("scheduler.workers.update", "w1", None, "active", token=root) == (
        400, "Invalid health: active")
    assert await rpc.fault("scheduler.workers.update", "w1", None, None, -1, token=root) == (
        400, "Invalid job limit")
    assert await rpc.fault("scheduler.workers.update", "w1", None, None, "2", token=root) == (
        400, "Invalid job limit")
    assert await rpc.fault("scheduler.workers.update", "nope", token=root) == (
        404, "Worker 'nope' was not found.")
    assert await rpc.fault("scheduler.workers.update", "w1", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.change_worker.")


@pytest_twisted.ensureDeferred
async def test_delete(server, rpc):
    """delete needs delete_worker; 404 for an unknown worker."""
    root, alice = await setup(server, rpc)
    assert await rpc.fault("scheduler.workers.delete", "w0", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.delete_worker.")
    assert await rpc.call("scheduler.workers.delete", "w0", token=root) is None
    assert await rpc.fault("scheduler.workers.delete", "w0", token=root) == (
        404, "Worker 'w0' was not found.")


@pytest_twisted.ensureDeferred
async def test_files(server, rpc):
    """get/set config, env and env-dut: base64 out, bool in, YAML checked, fallbacks and
    "" to delete."""
    root, alice = await setup(server, rpc)
    data_dir = server.service.files.data_dir
    for method, what in (("get_config", "a dispatcher configuration"),
                         ("get_env", "an env file"), ("get_env_dut", "an env-dut file")):
        assert await rpc.fault("scheduler.workers." + method, "w1") == (
            404, "Worker 'w1' does not have %s" % what)
    assert await rpc.call("scheduler.workers.set_config", "w1", "dispatcher_ip: 1.2.3.4\n",
                          token=root) is True
    got = await rpc.call("scheduler.workers.get_config", "w1")
    assert got.data == b"dispatcher_ip: 1.2.3.4\n"
    path = os.path.join(data_dir, "dispatcher.d", "w1", "dispatcher.yaml")
    assert Path(path).read_text() == "dispatcher_ip: 1.2.3.4\n"
    assert (await rpc.call("scheduler.workers.show", "w1"))["default_config"] is False
    # env falls back to the instance's file.
    Path(data_dir, "env.yaml").write_text("overrides: {}\n")
    assert (await rpc.call("scheduler.workers.get_env", "w1")).data == b"overrides: {}\n"
    assert (await rpc.call("scheduler.workers.show", "w1"))["default_env"] is True
    assert await rpc.call("scheduler.workers.set_env_dut", "w1", "a: 1\n", token=root) is True
    assert (await rpc.call("scheduler.workers.get_env_dut", "w1")).data == b"a: 1\n"
    assert await rpc.call("scheduler.workers.set_env", "w1", "b: 2\n", token=root) is True
    assert (await rpc.call("scheduler.workers.get_env", "w1")).data == b"b: 2\n"
    assert await rpc.fault("scheduler.workers.set_config", "w1", "a: [", token=root) == (
        400, "Invalid YAML syntax in 'w1' config: a: [")
    assert await rpc.fault("scheduler.workers.set_env", "w1", "a: [", token=root) == (
        400, "Invalid YAML syntax in 'w1' env: a: [")
    assert await rpc.fault("scheduler.workers.set_env_dut", "w1", "a: [", token=root) == (
        400, "Invalid YAML syntax in 'w1' DUT env: a: [")
    assert await rpc.call("scheduler.workers.set_config", "w1", "", token=root) is True
    assert await rpc.fault("scheduler.workers.get_config", "w1") == (
        404, "Worker 'w1' does not have a dispatcher configuration")
    assert await rpc.fault("scheduler.workers.get_config", "../w1") == (
        400, "Invalid worker name")
    assert await rpc.fault("scheduler.workers.set_config", "a/b", "x: 1", token=root) == (
        400, "Invalid worker name")
    assert await rpc.fault("scheduler.workers.get_config", "nope") == (
        404, "Worker 'nope' was not found.")
    assert await rpc.fault("scheduler.workers.set_env", "nope", "x: 1", token=root) == (
        404, "Worker 'nope' was not found.")
    assert await rpc.fault("scheduler.workers.set_env", "w1", "x: 1", token=alice) == (
        403, "User 'alice' is missing permission lava_scheduler_app.change_worker.")
    assert await rpc.fault("scheduler.workers.set_env", "w1", "x: 1") == AUTH
