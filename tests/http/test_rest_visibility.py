"""Who sees what through REST (spec 1.7, 1.8): every route, every kind of caller."""

from __future__ import annotations

import pytest

from lavad import users

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}


def no_match(model):
    return {"detail": "No %s matches the given query." % model}


def keys(answer):
    assert answer.code == 200, answer.body
    return [next(iter(r.values())) for r in answer.json["results"]]


# (route, caller, visible first-key values); callers: None = anonymous
LISTS = [
    ("jobs/", None, [1]), ("jobs/", "user1", [4, 3, 1]), ("jobs/", "user2", [5, 3, 2, 1]),
    ("jobs/", "user3", [1]), ("jobs/", "admin", [5, 4, 3, 2, 1]),
    ("devicetypes/", None, ["hidden_device_type", "public_device_type1"]),
    ("devicetypes/", "user1", ["hidden_device_type", "public_device_type1",
                               "restricted_device_type1"]),
    ("devicetypes/", "user2", ["hidden_device_type", "public_device_type1"]),
    ("devices/", None, ["public01"]), ("devices/", "user1", ["public01", "restricted01"]),
    ("devices/", "user2", ["private01", "public01"]),
    ("devices/", "admin", ["private01", "public01", "restricted01"]),
    ("devices/?all=1", None, ["public01", "public02"]),
    ("workers/", None, ["worker1"]), ("workers/", "user1", ["worker1", "worker2"]),
    ("workers/", "user2", ["worker1"]), ("workers/", "admin", ["worker1", "worker2"]),
    ("aliases/", "user3", ["alias1"]), ("aliases/", "user1", ["alias1", "alias2"]),
    ("aliases/", "admin", ["alias1", "alias2"]),
    ("tags/", "user3", [1, 2]),
    ("remote-artifact-tokens/", "user1", ["token0", "token1"]),
    ("remote-artifact-tokens/", "user2", ["other"]), ("remote-artifact-tokens/", "admin", []),
    ("permissions/devicetypes/", "admin", [1]), ("permissions/devices/", "admin", [1]),
    ("groups/", "admin", [1, 2]), ("users/", "admin", [1, 5, 2, 3, 4]),
    ("jobs/4/suites/", "user1", [3]), ("jobs/4/tests/", "user1", [5]),
    ("jobs/2/suites/", "user2", []), ("jobs/3/tests/", "user1", []),
    ("jobs/3/suites/", "user2", []),
]


@pytest.mark.parametrize("route,caller,expected", LISTS,
                         ids=["%s as %s" % (r, c) for r, c, _ in LISTS])
def test_list_visibility(rest, route, caller, expected):
    """A list holds only what the caller may see; count agrees."""
    answer = rest.get("/api/v0.2/" + route, caller)
    assert keys(answer) == expected
    assert answer.json["count"] == len(expected)


# (path, caller, status, body) for hidden, missing and forbidden objects
DENIED = [
    # jobs and their actions: hidden and missing look the same
    ("jobs/2/", None, 404, no_match("TestJob")), ("jobs/2/", "user1", 404, no_match("TestJob")),
    ("jobs/4/", "user3", 404, no_match("TestJob")), ("jobs/99/", "admin", 404, no_match("TestJob")),
    ("jobs/abc/", None, 404, NOT_FOUND), ("jobs/2/metadata/", "user3", 404, no_match("TestJob")),
    # nested results: hidden job is 403, missing job 404
    ("jobs/4/suites/", None, 403, FORBIDDEN), ("jobs/4/suites/", "user3", 403, FORBIDDEN),
    ("jobs/4/tests/", "user2", 403, FORBIDDEN), ("jobs/4/suites/3/", "user3", 403, FORBIDDEN),
    ("jobs/4/suites/3/tests/", None, 403, FORBIDDEN),
    ("jobs/4/suites/3/tests/5/", None, 403, FORBIDDEN), ("jobs/4/tests/5/", None, 403, FORBIDDEN),
    ("jobs/2/suites/", "user1", 403, FORBIDDEN), ("jobs/3/tests/", "user3", 403, FORBIDDEN),
    ("jobs/99/suites/", None, 404, NOT_FOUND), ("jobs/99/tests/1/", "admin", 404, NOT_FOUND),
    ("jobs/abc/suites/", None, 404, NOT_FOUND),
    ("jobs/1/suites/99/", None, 404, no_match("TestSuite")),
    ("jobs/1/tests/99/", None, 404, no_match("TestCase")),
    # the device model
    ("devicetypes/restricted_device_type1/", None, 404, no_match("DeviceType")),
    ("devicetypes/restricted_device_type1/", "user2", 404, no_match("DeviceType")),
    ("devicetypes/nope/", "admin", 404, no_match("DeviceType")),
    ("devices/private01/", "user1", 404, no_match("Device")),
    ("devices/restricted01/", None, 404, no_match("Device")),
    ("devices/public02/", "admin", 404, no_match("Device")),
    ("devices/nope/", "admin", 404, no_match("Device")),
    ("devices/private01/dictionary/", None, 404, no_match("Device")),
    ("workers/worker2/", None, 404, no_match("Worker")),
    ("workers/worker2/", "user2", 404, no_match("Worker")),
    ("workers/nope/", "admin", 404, no_match("Worker")),
    # aliases and tags: authentication first, even for GET
    ("aliases/", None, 403, NOT_AUTHENTICATED), ("aliases/alias1/", None, 403, NOT_AUTHENTICATED),
    ("aliases/alias2/", "user3", 404, no_match("Alias")),
    ("aliases/alias3/", "admin", 404, no_match("Alias")),
    ("tags/", None, 403, NOT_AUTHENTICATED), ("tags/1/", None, 403, NOT_AUTHENTICATED),
    ("tags/99/", "user1", 404, no_match("Tag")), ("tags/abc/", "user1", 404, NOT_FOUND),
    # superuser-only routes
    ("permissions/devicetypes/", None, 403, NOT_AUTHENTICATED),
    ("permissions/devicetypes/", "user1", 403, FORBIDDEN),
    ("permissions/devicetypes/1/", "user1", 403, FORBIDDEN),
    ("permissions/devicetypes/9/", "admin", 404, no_match("GroupDeviceTypePermission")),
    ("permissions/devices/", None, 403, NOT_AUTHENTICATED),
    ("permissions/devices/", "user2", 403, FORBIDDEN),
    ("permissions/devices/9/", "admin", 404, no_match("GroupDevicePermission")),
    ("groups/", None, 403, NOT_AUTHENTICATED), ("groups/", "user1", 403, FORBIDDEN),
    ("groups/9/", "admin", 404, no_match("Group")),
    ("users/", None, 403, NOT_AUTHENTICATED), ("users/1/", "user1", 403, FORBIDDEN),
    ("users/99/", "admin", 404, no_match("User")),
    # own remote-artifact tokens only
    ("remote-artifact-tokens/", None, 403, NOT_AUTHENTICATED),
    ("remote-artifact-tokens/token1/", "user2", 404, no_match("RemoteArtifactsAuth")),
    ("remote-artifact-tokens/token1/", "admin", 404, no_match("RemoteArtifactsAuth")),
]


@pytest.mark.parametrize("path,caller,code,body", DENIED,
                         ids=["%s as %s" % (p, c) for p, c, _, _ in DENIED])
def test_denied(rest, path, caller, code, body):
    """Hidden, missing and forbidden objects answer the exact status and body of LAVA."""
    answer = rest.get("/api/v0.2/" + path, caller)
    assert (answer.code, answer.json) == (code, body)


@pytest.mark.parametrize("path", ["jobs/3/", "jobs/3/metadata/", "jobs/3/suites/",
                                  "devices/private01/", "workers/worker2/", "tags/",
                                  "system/whoami/"])
def test_inactive_token_is_refused_everywhere(rest, path):
    """A deactivated user's token is 403 on every route."""
    answer = rest.get("/api/v0.2/" + path, "inactive")
    assert (answer.code, answer.json) == (403, {"detail": "User inactive or deleted."})


def test_submitter_sees_own_private_job(rest):
    """A non-public job is visible to its submitter (detail and nested results)."""
    assert rest.get("/api/v0.2/jobs/2/", "user2").json["description"] == "private job"
    assert rest.get("/api/v0.2/jobs/2/suites/", "user2").code == 200


def test_viewing_groups_need_every_group(rest):
    """A job with several viewing groups is visible only to members of all of them."""
    rest.store.conn.execute("INSERT INTO test_job_viewing_groups VALUES (3, ?)",
                           (rest.ids.group2,))
    assert keys(rest.get("/api/v0.2/jobs/", "user1")) == [4, 1]
    assert rest.get("/api/v0.2/jobs/3/tests/", "user1").code == 403
    rest.store.sync(users.thd_update_group, "group2", add_members=["user1"])
    assert keys(rest.get("/api/v0.2/jobs/", "user1")) == [5, 4, 3, 1]  # 5: group2's device
    assert rest.get("/api/v0.2/jobs/3/tests/", "user1").code == 200


def test_global_view_permissions(rest):
    """Global view_devicetype / view_device / view_worker permissions show everything."""
    for perm in ("view_devicetype", "view_device", "view_worker"):
        rest.store.sync(users.thd_grant, "lava_scheduler_app." + perm, user="user3")
    assert keys(rest.get("/api/v0.2/devicetypes/", "user3"))[-1] == "restricted_device_type1"
    assert keys(rest.get("/api/v0.2/devices/", "user3")) == [
        "private01", "public01", "restricted01"]
    assert keys(rest.get("/api/v0.2/workers/", "user3")) == ["worker1", "worker2"]


def test_staff_is_not_superuser(rest):
    """is_staff does not open the superuser-only routes."""
    rest.store.sync(users.thd_update_user, "user3", is_staff=True)
    assert rest.get("/api/v0.2/users/", "user3").json == FORBIDDEN
    assert rest.get("/api/v0.2/groups/", "user3").json == FORBIDDEN


def test_hidden_aliases_follow_their_device_type(rest):
    """Aliases of hidden (display false) or invisible device types are not listed."""
    rest.store.conn.execute("UPDATE device_types SET display = 1 WHERE name ="
                           " 'hidden_device_type'")
    assert keys(rest.get("/api/v0.2/aliases/", "user3")) == ["alias1", "alias3"]


def test_relation_filters_do_not_bypass_visibility(rest):
    """Filtering through a hidden device still lists only visible jobs."""
    assert keys(rest.get("/api/v0.2/jobs/?actual_device=private01", "user1")) == []
    assert keys(rest.get("/api/v0.2/jobs/?actual_device=private01", "user2")) == [5]
