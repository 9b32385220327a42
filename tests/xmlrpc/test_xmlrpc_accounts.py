"""auth.users.*, auth.groups.* and their groups/perms sub-namespaces."""

from __future__ import annotations

import xmlrpc.client

import pytest_twisted

AUTH = (401, "Authentication with user and token required for this API.")


@pytest_twisted.ensureDeferred
async def test_users(server, rpc):
    """users: add/list/show/update/delete, with the auth.* permissions and LAVA's faults."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    assert await rpc.fault("auth.users.list") == AUTH
    assert await rpc.fault("auth.users.list", token=alice) == (
        403, "User 'alice' is missing permission auth.view_user.")
    assert await rpc.call("auth.users.add", "bob", "Bob", "B", "bob@example.com", True, True,
                          False, token=root) is None
    assert await rpc.fault("auth.users.add", "bob", token=root) == (
        400, "Bad request: user already exists?")
    assert await rpc.fault("auth.users.add", "bad name!", token=root) == (
        400, "Bad request: user already exists?")
    assert await rpc.fault("auth.users.add", "carl", None, None, None, True, False, False,
                           True, token=root) == (
        400, "Bad request: authentication via LDAP not configured.")
    assert await rpc.call("auth.users.list", token=root) == [
        {"username": "alice", "last_name": "", "first_name": "", "is_superuser": False,
         "is_staff": False, "is_active": True},
        {"username": "bob", "last_name": "B", "first_name": "Bob", "is_superuser": False,
         "is_staff": True, "is_active": True},
        {"username": "root", "last_name": "", "first_name": "", "is_superuser": True,
         "is_staff": False, "is_active": True}]
    await rpc.call("auth.users.perms.add", "bob", "lava_scheduler_app", "device",
                   "change_device", token=root)
    await rpc.call("auth.users.groups.add", "bob", "lab", token=root)
    shown = await rpc.call("auth.users.show", "bob", token=root)
    joined = shown.pop("date_joined")
    assert isinstance(joined, xmlrpc.client.DateTime)
    assert isinstance(shown.pop("id"), int)
    assert shown == {"email": "bob@example.com", "first_name": "Bob", "groups": ["lab"],
                     "permissions": ["lava_scheduler_app.device.change_device"],
                     "is_active": True, "is_staff": True, "is_superuser": False,
                     "last_login": None, "last_name": "B", "username": "bob"}
    assert await rpc.fault("auth.users.show", "nope", token=root) == (
        404, "User 'nope' was not found.")
    await rpc.call("auth.users.update", "bob", None, "Bee", None, False, None, True, token=root)
    shown = await rpc.call("auth.users.show", "bob", token=root)
    assert (shown["first_name"], shown["last_name"], shown["is_active"], shown["is_staff"],
            shown["is_superuser"]) == ("Bob", "Bee", False, True, True)
    assert await rpc.fault("auth.users.update", "nope", token=root) == (
        404, "User 'nope' was not found.")
    assert await rpc.fault("auth.users.update", "bob", token=alice) == (
        403, "User 'alice' is missing permission auth.change_user.")
    assert await rpc.call("auth.users.delete", "bob", token=root) is None
    assert await rpc.fault("auth.users.delete", "bob", token=root) == (
        404, "Bad request: user does not exists")


@pytest_twisted.ensureDeferred
async def test_user_groups_and_perms(server, rpc):
    """users.groups and users.perms: add creates missing groups; app.model and codename
    are checked."""
    root = await server.user("root", is_superuser=True)
    await server.user("alice")
    await rpc.call("auth.users.groups.add", "alice", "b-team", token=root)
    await rpc.call("auth.users.groups.add", "alice", "a-team", token=root)
    assert await rpc.call("auth.users.groups.list", "alice", token=root) == ["a-team",
                                                                             "b-team"]
    assert await rpc.call("auth.groups.list", token=root) == ["a-team", "b-team"]
    await rpc.call("auth.users.groups.delete", "alice", "b-team", token=root)
    assert await rpc.call("auth.users.groups.list", "alice", token=root) == ["a-team"]
    assert await rpc.fault("auth.users.groups.delete", "alice", "zz", token=root) == (
        404, "Group 'zz' was not found.")
    assert await rpc.fault("auth.users.groups.list", "zz", token=root) == (
        404, "User 'zz' was not found.")
    await rpc.call("auth.users.perms.add", "alice", "auth", "group", "view_group", token=root)
    assert await rpc.call("auth.users.perms.list", "alice", token=root) == [
        {"app": "auth", "model": "group", "codename": "view_group"}]
    assert await rpc.fault("auth.users.perms.add", "alice", "auth", "spoon", "view_spoon",
                           token=root) == (404, "Invalid app.model 'auth.spoon'")
    assert await rpc.fault("auth.users.perms.add", "alice", "auth", "group", "eat_group",
                           token=root) == (404, "Invalid permission 'eat_group'")
    assert await rpc.fault("auth.users.perms.add", "zz", "auth", "group", "view_group",
                           token=root) == (404, "User 'zz' was not found.")
    await rpc.call("auth.users.perms.delete", "alice", "auth", "group", "view_group",
                   token=root)
    assert await rpc.call("auth.users.perms.list", "alice", token=root) == []


@pytest_twisted.ensureDeferred
async def test_groups(server, rpc):
    """groups: add/list/show/delete and groups.perms; permissions given through a group
    count for its members."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("auth.groups.add", "ops", token=root)
    assert await rpc.fault("auth.groups.add", "ops", token=root) == (
        400, "Bad request: group already exists?")
    await rpc.call("auth.users.groups.add", "alice", "ops", token=root)
    await rpc.call("auth.groups.perms.add", "ops", "auth", "group", "view_group", token=root)
    shown = await rpc.call("auth.groups.show", "ops", token=alice)
    assert shown == {"id": shown["id"], "name": "ops",
                     "permissions": ["auth.group.view_group"], "users": ["alice"]}
    assert await rpc.call("auth.groups.perms.list", "ops", token=alice) == [
        {"app": "auth", "model": "group", "codename": "view_group"}]
    assert await rpc.fault("auth.groups.show", "nope", token=root) == (
        404, "Group 'nope' was not found.")
    assert await rpc.fault("auth.groups.perms.add", "ops", "auth", "x", "y", token=root) == (
        404, "Invalid app.model 'auth.x'")
    assert await rpc.fault("auth.groups.perms.add", "nope", "auth", "group", "view_group",
                           token=root) == (404, "Group 'nope' was not found.")
    assert await rpc.fault("auth.groups.add", "x", token=alice) == (
        403, "User 'alice' is missing permission auth.add_group.")
    await rpc.call("auth.groups.perms.delete", "ops", "auth", "group", "view_group",
                   token=root)
    assert await rpc.fault("auth.groups.list", token=alice) == (
        403, "User 'alice' is missing permission auth.view_group.")
    await rpc.call("auth.groups.delete", "ops", token=root)
    assert await rpc.fault("auth.groups.delete", "ops", token=root) == (
        404, "Bad request: group does not exists")
    assert await rpc.call("auth.groups.list", token=root) == []
