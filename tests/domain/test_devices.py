"""The hardware model: device types, aliases, tags, workers, devices (lavad/devices.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lavad import devices, jobs, users
from lavad.errors import Conflict, Invalid, NotFound
from lavad.models import DeviceHealth, JobState, WorkerHealth
from lavad.users import ANONYMOUS

DEVICE_EVENT_KEYS = ["health", "state", "device", "device_type", "worker"]


def of_kind(events: list[Any], kind: str) -> list[Any]:
    return [e for e in events if e.kind == kind]


def admin_log(db: Any, object_type: str, object_id: str) -> list[str]:
    return [r[0] for r in db.q("SELECT message FROM log_entries WHERE object_type = ? AND"
                                  " object_id = ? ORDER BY id", (object_type, object_id))]


def health(db: Any, hostname: str) -> str:
    return db.run(devices.thd_get_device, hostname)["health"]


@pytest.fixture
def qemu(db: Any) -> str:
    db.run(devices.thd_add_device_type, "qemu")
    return "qemu"


# -- devices --------------------------------------------------------------------------------------
def test_new_device_defaults(db, qemu) -> None:
    """A new device is Maintenance and Idle, with LAVA's REST keys in order."""
    device = db.run(devices.thd_add_device, "qemu01", qemu)
    assert list(device) == ["hostname", "device_type", "device_version", "physical_owner",
                            "physical_group", "description", "tags", "state", "health",
                            "last_health_report_job", "worker_host", "is_synced"]
    assert (device["health"], device["state"]) == ("Maintenance", "Idle")
    assert device["tags"] == [] and device["is_synced"] is False
    assert device["worker_host"] is None


@pytest.mark.parametrize("given", [DeviceHealth.GOOD, "Good", "good", "GOOD"])
def test_new_device_with_explicit_health(db, qemu, given) -> None:
    """A device created Good is Good, whether given as the enum (0, falsy) or any-case text."""
    assert db.run(devices.thd_add_device, "qemu01", qemu, health=given)["health"] == "Good"


def test_new_device_emits_one_device_event(db, qemu) -> None:
    """Creating a device emits one device event (LAVA: creation counts as a change)."""
    events = db.events(devices.thd_add_device, "qemu01", qemu)
    assert [(e.kind, e.data) for e in events] == [
        ("device", {"health": "Maintenance", "state": "Idle", "device": "qemu01",
                    "device_type": "qemu", "worker": None})]


def test_duplicate_hostname_is_conflict(db, qemu) -> None:
    """A second device with the same hostname gives LAVA's serializer message."""
    db.run(devices.thd_add_device, "qemu01", qemu)
    with pytest.raises(Conflict) as info:
        db.run(devices.thd_add_device, "qemu01", qemu)
    assert info.value.message == "device with this Hostname already exists."
    assert info.value.field == "hostname"


def test_unknown_device_type_is_not_found(db) -> None:
    """A device of an unknown device type is NotFound, and nothing is stored."""
    with pytest.raises(NotFound):
        db.run(devices.thd_add_device, "qemu01", "nope")
    assert db.run(devices.thd_list_devices) == []


def test_unknown_worker_is_not_found(db, qemu) -> None:
    """A device on an unknown worker is NotFound, and the whole creation is rolled back."""
    outbox = db.q("SELECT count(*) FROM event_outbox")
    with pytest.raises(NotFound):
        db.run(devices.thd_add_device, "qemu01", qemu, worker_host="ghost")
    assert db.run(devices.thd_list_devices) == []
    assert db.q("SELECT count(*) FROM event_outbox") == outbox


def test_device_tags_by_name(db, qemu) -> None:
    """Tags are given by name (or id) and stored as ids; an update replaces the set."""
    a = db.run(devices.thd_add_tag, "usb")["id"]
    b = db.run(devices.thd_add_tag, "hdmi", "has a screen")["id"]
    device = db.run(devices.thd_add_device, "qemu01", qemu, tags=["usb", "hdmi"])
    assert device["tags"] == sorted([a, b])
    device = db.run(devices.thd_update_device, "qemu01", tags=[b])
    assert device["tags"] == [b]
    with pytest.raises(NotFound):
        db.run(devices.thd_update_device, "qemu01", tags=["nope"])
    assert db.run(devices.thd_get_device, "qemu01")["tags"] == [b]


def test_tag_slug_validation(db) -> None:
    """Tag names are slugs: letters, digits, '_' and '-' only, with Django's message."""
    assert db.run(devices.thd_add_tag, "Fast_board-2")["name"] == "Fast_board-2"
    for bad in ("", "has space", "dot.ted", "slash/ed", "é", "x" * 101):
        with pytest.raises(Invalid) as info:
            db.run(devices.thd_add_tag, bad)
        assert info.value.message == ('Enter a valid "slug" consisting of letters, numbers, '
                                      'underscores or hyphens.')
    with pytest.raises(Conflict):
        db.run(devices.thd_add_tag, "Fast_board-2")


def test_set_health_emits_one_device_event(db, qemu) -> None:
    """A health change emits exactly one device event, LAVA keys in order, as lavaserver."""
    db.run(devices.thd_add_worker, "worker1")
    db.run(devices.thd_add_device, "qemu01", qemu, worker_host="worker1")
    events = db.events(devices.thd_set_device_health, "qemu01", DeviceHealth.GOOD,
                          ANONYMOUS, "fixed")
    assert len(events) == 1
    (event,) = events
    assert event.kind == "device" and event.username == "lavaserver"
    assert list(event.data) == DEVICE_EVENT_KEYS
    assert event.data == {"health": "Good", "state": "Idle", "device": "qemu01",
                          "device_type": "qemu", "worker": "worker1"}
    assert event.restrict == {"device": "qemu01"}


def test_set_health_writes_admin_log(db, qemu) -> None:
    """A health change logs 'Old → New (reason)', or 'Old → New' without a reason."""
    db.run(devices.thd_add_device, "qemu01", qemu)
    uid = db.run(users.thd_add_user, "admin", is_superuser=True)["id"]
    admin = db.run(users.thd_principal, uid)
    assert db.run(devices.thd_set_device_health, "qemu01", DeviceHealth.GOOD, admin,
                     "reason")
    db.run(devices.thd_update_device, "qemu01", admin, health="Bad")
    assert admin_log(db, "device", "qemu01") == ["Maintenance → Good (reason)", "Good → Bad"]
    assert db.q("SELECT DISTINCT user_id FROM log_entries") == [(uid,)]


def test_setting_the_same_health_emits_nothing(db, qemu) -> None:
    """Setting the health a device already has changes nothing: no event, no log line."""
    db.run(devices.thd_add_device, "qemu01", qemu)
    result, tx = db.run_tx(devices.thd_set_device_health, "qemu01", DeviceHealth.MAINTENANCE)
    assert result is False and tx.events == []
    events = db.events(devices.thd_update_device, "qemu01", health="Maintenance")
    assert of_kind(events, "device") == []
    assert admin_log(db, "device", "qemu01") == []


def test_invalid_device_health_is_refused(db, qemu) -> None:
    """An unknown health name is Invalid and leaves the device unchanged."""
    db.run(devices.thd_add_device, "qemu01", qemu)
    with pytest.raises(Invalid):
        db.run(devices.thd_update_device, "qemu01", health="Bogus")
    assert health(db, "qemu01") == "Maintenance"


def test_device_event_carries_current_job(db, qemu) -> None:
    """While a device has an unfinished job, its device event carries the job id."""
    db.run(devices.thd_add_device, "qemu01", qemu, health="Good")
    uid = db.run(users.thd_add_user, "alice")["id"]
    job_id = db.run(jobs.thd_insert_job, uid, "x", requested_device_type=qemu)
    db.run(jobs.thd_set_job_state, job_id, JobState.RUNNING, actual_device="qemu01")
    (event,) = db.events(devices.thd_set_device_health, "qemu01", DeviceHealth.BAD)
    assert list(event.data) == DEVICE_EVENT_KEYS + ["job"]
    assert event.data["job"] == job_id


def test_retiring_a_busy_device_asks_to_cancel_its_job(db, qemu) -> None:
    """Retiring a device with a running job emits the device event and a cancel request."""
    db.run(devices.thd_add_device, "qemu01", qemu, health="Good")
    uid = db.run(users.thd_add_user, "alice")["id"]
    job_id = db.run(jobs.thd_insert_job, uid, "x", requested_device_type=qemu)
    db.run(jobs.thd_set_job_state, job_id, JobState.RUNNING, actual_device="qemu01")
    events = db.events(devices.thd_set_device_health, "qemu01", DeviceHealth.RETIRED)
    assert [e.kind for e in events] == ["device", "lab"]
    assert events[1].data["action"] == "cancel" and events[1].data["job"] == job_id


def test_odd_hostnames_work(db, qemu) -> None:
    """Hostnames with dots, colons and quotes are stored, found, listed and restricted."""
    names = ["board.lab.example.org", "host:5555", "o'neil", 'say"hi"', "a;b--c"]
    db.run(users.thd_add_group, "g")
    for name in names:
        db.run(devices.thd_add_device, name, qemu)
        db.run(devices.thd_set_device_health, name, DeviceHealth.GOOD, ANONYMOUS, "ok")
        db.run(devices.thd_add_object_permission, "device", "g", "view_device", name)
        assert db.run(devices.thd_get_device, name)["hostname"] == name
        assert admin_log(db, "device", name) == ["Maintenance → Good (ok)"]
    assert [d["hostname"] for d in db.run(devices.thd_list_devices)] == sorted(names)
    assert db.run(devices.thd_list_devices, ANONYMOUS) == []
    db.run(devices.thd_add_worker, "w.lab:1'x")
    assert db.run(devices.thd_get_worker, "w.lab:1'x", ANONYMOUS)["hostname"] == "w.lab:1'x"


def test_hostname_with_slash_is_invalid(db, qemu) -> None:
    """A '/' in a hostname is refused (the REST lookup cannot address it)."""
    with pytest.raises(Invalid):
        db.run(devices.thd_add_device, "a/b", qemu)


def test_list_devices_can_hide_retired(db, qemu) -> None:
    """include_retired=False leaves Retired devices out of the list."""
    db.run(devices.thd_add_device, "a", qemu)
    db.run(devices.thd_add_device, "b", qemu, health="Retired")
    assert [d["hostname"] for d in db.run(devices.thd_list_devices, ANONYMOUS, False)] == \
        ["a"]
    assert len(db.run(devices.thd_list_devices, ANONYMOUS)) == 2


def test_moving_device_to_another_worker_emits_device_event(db, qemu) -> None:
    """Changing only the worker of a device still emits a device event with the new worker."""
    db.run(devices.thd_add_worker, "w1")
    db.run(devices.thd_add_device, "qemu01", qemu)
    events = of_kind(db.events(devices.thd_update_device, "qemu01", worker_host="w1"),
                     "device")
    assert [e.data["worker"] for e in events] == ["w1"]


def test_delete_device_with_unfinished_job_is_refused(db, qemu) -> None:
    """A device running a job cannot be deleted; an idle one can, its permissions too."""
    db.run(devices.thd_add_device, "qemu01", qemu)
    db.run(users.thd_add_group, "g")
    db.run(devices.thd_add_object_permission, "device", "g", "view_device", "qemu01")
    uid = db.run(users.thd_add_user, "alice")["id"]
    job_id = db.run(jobs.thd_insert_job, uid, "x", requested_device_type=qemu)
    db.run(jobs.thd_set_job_state, job_id, JobState.RUNNING, actual_device="qemu01")
    with pytest.raises(Conflict):
        db.run(devices.thd_delete_device, "qemu01")
    db.run(jobs.thd_set_job_state, job_id, JobState.FINISHED)
    db.run(devices.thd_delete_device, "qemu01")
    assert db.run(devices.thd_list_object_permissions, "device") == []
    assert db.run(jobs.thd_get_job, job_id)["actual_device"] is None


# -- workers --------------------------------------------------------------------------------------
def test_worker_creation_emits_worker_event(db) -> None:
    """A new worker (Offline, Active) emits {hostname, health, state} as lavaserver."""
    worker, tx = db.run_tx(devices.thd_add_worker, "worker1", "rack 1")
    (event,) = tx.events
    assert event.kind == "worker" and event.username == "lavaserver"
    assert list(event.data) == ["hostname", "health", "state"]
    assert event.data == {"hostname": "worker1", "health": "Active", "state": "Offline"}
    assert list(worker) == ["hostname", "state", "health", "description", "last_ping",
                            "job_limit", "version", "token"]
    assert len(worker["token"]) == 32


def test_worker_token_only_on_request(db) -> None:
    """The worker token is left out of reads unless with_token is asked for."""
    db.run(devices.thd_add_worker, "worker1")
    assert "token" not in db.run(devices.thd_get_worker, "worker1")
    assert "token" not in db.run(devices.thd_list_workers)[0]
    assert "token" in db.run(devices.thd_get_worker, "worker1", None, True)


def worker_with_devices(db: Any, qemu: str) -> None:
    """worker1 in Maintenance with devices good1, good2 (Good), bad1 (Bad), maint1, unk1."""
    db.run(devices.thd_add_worker, "worker1", health="Maintenance")
    for hostname, dev_health in (("good1", "Good"), ("good2", "Good"), ("bad1", "Bad"),
                                 ("maint1", "Maintenance"), ("unk1", "Unknown")):
        db.run(devices.thd_add_device, hostname, qemu, health=dev_health,
                  worker_host="worker1")
    db.run(devices.thd_add_device, "elsewhere", qemu, health="Good")


def test_worker_active_puts_good_devices_in_unknown(db, qemu) -> None:
    """Worker → Active: its Good devices go Unknown, one device event each, others untouched."""
    worker_with_devices(db, qemu)
    events = db.events(devices.thd_update_worker, "worker1", reason="back", health="Active")
    assert [(e.kind, e.data.get("device"), e.data["health"]) for e in events] == [
        ("worker", None, "Active"), ("device", "good1", "Unknown"),
        ("device", "good2", "Unknown")]
    assert {h: health(db, h) for h in ("bad1", "maint1", "unk1", "elsewhere")} == {
        "bad1": "Bad", "maint1": "Maintenance", "unk1": "Unknown", "elsewhere": "Good"}
    assert admin_log(db, "worker", "worker1") == ["Maintenance → Active (back)"]
    assert admin_log(db, "device", "good1") == ["Good → Unknown (worker worker1 is Active)"]


def test_worker_retired_retires_devices_except_bad(db, qemu) -> None:
    """Worker → Retired: every device but the Bad ones (and already Retired) goes Retired."""
    worker_with_devices(db, qemu)
    db.run(devices.thd_add_device, "old1", qemu, health="Retired", worker_host="worker1")
    events = db.events(devices.thd_update_worker, "worker1", health="Retired")
    assert [e.kind for e in events] == ["worker", "device", "device", "device", "device"]
    assert sorted(e.data["device"] for e in of_kind(events, "device")) == \
        ["good1", "good2", "maint1", "unk1"]
    assert health(db, "bad1") == "Bad" and health(db, "elsewhere") == "Good"


def test_worker_maintenance_leaves_devices_alone(db, qemu) -> None:
    """Worker → Maintenance changes only the worker (one worker event)."""
    db.run(devices.thd_add_worker, "worker1")
    db.run(devices.thd_add_device, "good1", qemu, health="Good", worker_host="worker1")
    events = db.events(devices.thd_update_worker, "worker1", health=WorkerHealth.MAINTENANCE)
    assert [(e.kind, e.data["health"]) for e in events] == [("worker", "Maintenance")]
    assert health(db, "good1") == "Good"


def test_worker_same_health_emits_nothing(db) -> None:
    """Setting a worker's current health again emits no event and logs nothing."""
    db.run(devices.thd_add_worker, "worker1")
    assert db.events(devices.thd_update_worker, "worker1", health="Active") == []
    assert admin_log(db, "worker", "worker1") == []


def test_worker_state_change_emits_once(db) -> None:
    """A worker going Online emits one worker event; pinging again while Online emits none."""
    from lavad.models import WorkerState
    db.run(devices.thd_add_worker, "worker1")
    events = db.events(devices.thd_set_worker_state, "worker1", WorkerState.ONLINE, "2026.07")
    assert [e.data["state"] for e in events] == ["Online"]
    assert db.events(devices.thd_set_worker_state, "worker1", WorkerState.ONLINE) == []
    assert db.run(devices.thd_get_worker, "worker1")["version"] == "2026.07"


def test_invalid_worker_health_and_job_limit(db) -> None:
    """Unknown worker health names and negative job limits are Invalid."""
    db.run(devices.thd_add_worker, "worker1")
    with pytest.raises(Invalid):
        db.run(devices.thd_update_worker, "worker1", health="Sleeping")
    with pytest.raises(Invalid):
        db.run(devices.thd_update_worker, "worker1", job_limit=-1)
    with pytest.raises(Conflict):
        db.run(devices.thd_add_worker, "worker1")


# -- device types and aliases ---------------------------------------------------------------------
def test_device_type_record(db) -> None:
    """A device type is returned with LAVA's REST keys in order and its defaults."""
    dtype = db.run(devices.thd_add_device_type, "qemu", architecture="x86_64", bits=64,
                      cores=["c2", "c1"], aliases=["kvm"], description="virtual")
    assert list(dtype) == ["name", "architecture", "processor", "cpu_model", "aliases", "bits",
                           "cores", "core_count", "description", "health_frequency",
                           "disable_health_check", "health_denominator", "display"]
    assert dtype["aliases"] == ["kvm"] and dtype["cores"] == ["c1", "c2"]
    assert (dtype["health_frequency"], dtype["health_denominator"], dtype["display"]) == \
        (24, "hours", True)
    assert db.run(devices.thd_resolve_device_type, "kvm") == "qemu"


def test_alias_and_device_type_names_do_not_collide(db) -> None:
    """An alias may not take a device type's name, nor a device type an alias's."""
    db.run(devices.thd_add_device_type, "qemu", aliases=["kvm"])
    with pytest.raises(Conflict):
        db.run(devices.thd_add_alias, "qemu", "qemu")
    with pytest.raises(Conflict):
        db.run(devices.thd_add_device_type, "kvm")
    with pytest.raises(Conflict):
        db.run(devices.thd_add_alias, "kvm", "qemu")


def test_alias_listing_hides_undisplayed_and_invisible_types(db) -> None:
    """Aliases are listed for a principal only when their type is displayed and visible."""
    db.run(devices.thd_add_device_type, "shown", aliases=["a-shown"])
    db.run(devices.thd_add_device_type, "hidden", aliases=["a-hidden"], display=False)
    db.run(devices.thd_add_device_type, "secret", aliases=["a-secret"])
    db.run(devices.thd_add_alias, "a-orphan", None)
    db.run(users.thd_add_group, "g")
    db.run(devices.thd_add_object_permission, "devicetype", "g", "view_devicetype", "secret")
    uid = db.run(users.thd_add_user, "member")["id"]
    db.run(users.thd_update_group, "g", add_members=["member"])
    member = db.run(users.thd_principal, uid)

    def names(principal: Any) -> list[str]:
        return [a["name"] for a in db.run(devices.thd_list_aliases, principal)]
    assert names(ANONYMOUS) == ["a-shown"]
    assert names(member) == ["a-secret", "a-shown"]
    assert names(None) == ["a-hidden", "a-orphan", "a-secret", "a-shown"]
    # display=False does not hide the type itself
    assert "hidden" in [t["name"] for t in db.run(devices.thd_list_device_types, ANONYMOUS)]


def test_delete_device_type_with_devices_is_refused(db, qemu) -> None:
    """A device type that still has devices cannot be deleted."""
    db.run(devices.thd_add_device, "qemu01", qemu)
    with pytest.raises(Conflict):
        db.run(devices.thd_delete_device_type, qemu)


# -- group object permissions ---------------------------------------------------------------------
@pytest.fixture
def perm_lab(db, qemu) -> None:
    db.run(users.thd_add_group, "group1")
    db.run(devices.thd_add_device, "qemu01", qemu)


def test_object_permission_record(db, perm_lab) -> None:
    """Adding a group permission returns LAVA's keys (id, group, permission, object)."""
    perm = db.run(devices.thd_add_object_permission, "devicetype", "group1",
                     "view_devicetype", "qemu")
    assert list(perm) == ["id", "group", "permission", "devicetype"]
    assert perm["group"] == "group1" and perm["devicetype"] == "qemu"
    perm = db.run(devices.thd_add_object_permission, "device", "group1", "change_device",
                     "qemu01")
    assert list(perm) == ["id", "group", "permission", "device"]
    assert [p["permission"] for p in db.run(devices.thd_list_object_permissions, "device")] \
        == ["change_device"]


@pytest.mark.parametrize("kind,permission,obj,fields", [
    ("devicetype", "submit_to_devicetype", "qemu", "devicetype"),
    ("device", "view_device", "qemu01", "device"),
])
def test_duplicate_object_permission_is_conflict(db, perm_lab, kind, permission, obj,
                                                 fields) -> None:
    """The same (object, permission, group) twice gives LAVA's unique-set message."""
    db.run(devices.thd_add_object_permission, kind, "group1", permission, obj)
    with pytest.raises(Conflict) as info:
        db.run(devices.thd_add_object_permission, kind, "group1", permission, obj)
    assert info.value.message == \
        "The fields %s, permission, group must make a unique set." % fields


@pytest.mark.parametrize("kind,codename", [
    ("devicetype", "view_device"), ("devicetype", "bogus"), ("device", "view_devicetype"),
])
def test_bad_codename_is_invalid(db, perm_lab, kind, codename) -> None:
    """A codename of the wrong model is Invalid with LAVA's 'does not exist' message."""
    obj = "qemu" if kind == "devicetype" else "qemu01"
    with pytest.raises(Invalid) as info:
        db.run(devices.thd_add_object_permission, kind, "group1", codename, obj)
    assert info.value.message == "Object with codename=%s does not exist." % codename
    assert info.value.field == "permission"


def test_unknown_group_is_invalid(db, perm_lab) -> None:
    """An unknown group is Invalid with LAVA's 'Object with name=… does not exist.'."""
    with pytest.raises(Invalid) as info:
        db.run(devices.thd_add_object_permission, "devicetype", "nogroup",
                  "view_devicetype", "qemu")
    assert info.value.message == "Object with name=nogroup does not exist."


def test_object_permission_on_unknown_object_is_not_found(db, perm_lab) -> None:
    """A permission on a device type that does not exist is NotFound."""
    with pytest.raises(NotFound):
        db.run(devices.thd_add_object_permission, "devicetype", "group1",
                  "view_devicetype", "nope")


def test_delete_object_permission(db, perm_lab) -> None:
    """Deleting a group permission removes it; deleting it again is NotFound."""
    db.run(devices.thd_add_object_permission, "device", "group1", "view_device", "qemu01")
    db.run(devices.thd_delete_object_permission, "device", "group1", "view_device", "qemu01")
    assert db.run(devices.thd_list_object_permissions, "device") == []
    with pytest.raises(NotFound):
        db.run(devices.thd_delete_object_permission, "device", "group1", "view_device",
                  "qemu01")
