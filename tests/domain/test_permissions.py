"""Visibility and permission rules (rest-api.md 1.7, 1.8; lavad/permissions.py).

Every rule has its own test; the last tests check that the SQL list functions
agree with the single-object checks over a small lab of users x objects.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lavad import devices, jobs, permissions, users
from lavad.models import DeviceHealth, JobState
from lavad.users import ANONYMOUS

DT = "devicetype"


def user(db: Any, name: str, groups: tuple[str, ...] = (), perms: tuple[str, ...] = (),
         **kwargs: Any) -> Any:
    """Create a user in existing groups with global perms; return its principal."""
    uid = db.run(users.thd_add_user, name, **kwargs)["id"]
    for group in groups:
        db.run(users.thd_update_group, group, add_members=[name])
    for perm in perms:
        db.run(users.thd_grant, "lava_scheduler_app." + perm, user=name)
    return db.run(users.thd_principal, uid)


def restrict(db: Any, kind: str, group: str, permission: str, obj: str) -> None:
    db.run(devices.thd_add_object_permission, kind, group, permission, obj)


def job(db: Any, submitter: Any, device_type: str | None = "public",
        device: str | None = None, **kwargs: Any) -> int:
    """A job requested for ``device_type``, optionally scheduled on ``device``."""
    job_id = db.run(jobs.thd_insert_job, submitter.id, "job_name: t\n",
                       requested_device_type=device_type, **kwargs)
    if device is not None:
        db.run(jobs.thd_set_job_state, job_id, JobState.SCHEDULED, actual_device=device)
    return job_id


def can(db: Any, fn: Any, principal: Any, *args: Any, **kwargs: Any) -> bool:
    return db.run(fn, principal, *args, **kwargs)


@pytest.fixture
def lab(db: Any) -> Any:
    """Groups g1, g2, g3; device types, devices and workers open or restricted to them.

    * types: ``public`` (open), ``secret`` (view: g1), ``subtype`` (submit: g2),
      ``chtype`` (change: g3; view/submit open)
    * devices: ``pub01`` (public), ``sec01`` (secret type, nothing of its own),
      ``hidden01`` (public type, own view: g1), ``secg2`` (secret type, own view: g2),
      ``sub01`` (subtype, nothing of its own), ``subown01`` (subtype, own submit: g1),
      ``ch01`` (chtype, nothing of its own), ``chown01`` (chtype, own change: g1),
      ``chview01`` (chtype, own view: g3 only)
    * workers: ``w-open``, ``w-closed`` (view: g1), ``w-ch`` (change: g2)
    * users: root (superuser), alice (g1), bob (g2), carol (no group), dave (g1+g2),
      erin (g3), viewer (global view_devicetype/view_device/view_worker), anonymous
    """
    for group in ("g1", "g2", "g3"):
        db.run(users.thd_add_group, group)
    ns = SimpleNamespace()
    ns.root = user(db, "root", is_superuser=True)
    ns.alice = user(db, "alice", ("g1",))
    ns.bob = user(db, "bob", ("g2",))
    ns.carol = user(db, "carol")
    ns.dave = user(db, "dave", ("g1", "g2"))
    ns.erin = user(db, "erin", ("g3",))
    ns.viewer = user(db, "viewer", perms=("view_devicetype", "view_device", "view_worker"))
    ns.anon = ANONYMOUS
    ns.groups = {g["name"]: g["id"] for g in db.run(users.thd_list_groups)}

    for name in ("public", "secret", "subtype", "chtype"):
        db.run(devices.thd_add_device_type, name)
    restrict(db, DT, "g1", "view_devicetype", "secret")
    restrict(db, DT, "g2", "submit_to_devicetype", "subtype")
    restrict(db, DT, "g3", "change_devicetype", "chtype")

    for hostname, dtype in (("pub01", "public"), ("sec01", "secret"), ("hidden01", "public"),
                            ("secg2", "secret"), ("sub01", "subtype"), ("subown01", "subtype"),
                            ("ch01", "chtype"), ("chown01", "chtype"), ("chview01", "chtype")):
        db.run(devices.thd_add_device, hostname, dtype)
    restrict(db, "device", "g1", "view_device", "hidden01")
    restrict(db, "device", "g2", "view_device", "secg2")
    restrict(db, "device", "g1", "submit_to_device", "subown01")
    restrict(db, "device", "g1", "change_device", "chown01")
    restrict(db, "device", "g3", "view_device", "chview01")

    for hostname in ("w-open", "w-closed", "w-ch"):
        db.run(devices.thd_add_worker, hostname)
    restrict(db, "worker", "g1", "view_worker", "w-closed")
    restrict(db, "worker", "g2", "change_worker", "w-ch")
    ns.principals = {"root": ns.root, "alice": ns.alice, "bob": ns.bob, "carol": ns.carol,
                     "dave": ns.dave, "erin": ns.erin, "viewer": ns.viewer, "anon": ns.anon}
    return ns


def view_type(db: Any, principal: Any, name: str) -> bool:
    return can(db, permissions.thd_can_view_device_type, principal, name)


def view_device(db: Any, principal: Any, hostname: str) -> bool:
    return can(db, permissions.thd_can_view_device, principal, hostname)


def view_job(db: Any, principal: Any, job_id: int, nested: bool = False) -> bool:
    return can(db, permissions.thd_can_view_job, principal, job_id, nested)


# -- device types ---------------------------------------------------------------------------------
def test_unrestricted_device_type_visible_to_anonymous(db, lab) -> None:
    """A device type with no view_devicetype row is visible to everyone, anonymous included."""
    assert all(view_type(db, p, "public") for p in lab.principals.values())


def test_restricted_device_type_hidden_from_anonymous_and_non_members(db, lab) -> None:
    """A view_devicetype row hides the type from anonymous and from users outside the group."""
    assert not view_type(db, lab.anon, "secret")
    assert not view_type(db, lab.carol, "secret")
    assert not view_type(db, lab.bob, "secret")


@pytest.mark.parametrize("codename", ["view_devicetype", "submit_to_devicetype",
                                      "change_devicetype"])
def test_restricted_device_type_visible_to_group_with_any_right(db, lab, codename) -> None:
    """Members of a group holding view, submit or change on a view-restricted type see it."""
    if codename != "view_devicetype":
        restrict(db, DT, "g2", codename, "secret")
    member = lab.alice if codename == "view_devicetype" else lab.bob
    assert view_type(db, member, "secret")
    assert not view_type(db, lab.carol, "secret")


def test_restricted_device_type_visible_to_superuser(db, lab) -> None:
    """Superusers see view-restricted device types."""
    assert view_type(db, lab.root, "secret")


def test_global_view_devicetype_sees_restricted_type(db, lab) -> None:
    """The global view_devicetype permission shows every device type."""
    assert view_type(db, lab.viewer, "secret")


def test_submit_or_change_restriction_does_not_hide_a_type(db, lab) -> None:
    """Only view_devicetype rows restrict viewing: submit/change rows leave a type visible."""
    for name in ("subtype", "chtype"):
        assert view_type(db, lab.anon, name) and view_type(db, lab.carol, name)


def test_inactive_member_is_treated_as_anonymous(db, lab) -> None:
    """A deactivated group member no longer sees the group's restricted objects."""
    sleepy = user(db, "sleepy", ("g1",), is_active=False)
    assert not view_type(db, sleepy, "secret")
    assert not view_device(db, sleepy, "hidden01")


# -- devices --------------------------------------------------------------------------------------
def test_device_of_unrestricted_type_visible_to_anonymous(db, lab) -> None:
    """A device with no own view restriction on an open type is visible to anonymous."""
    assert view_device(db, lab.anon, "pub01")


def test_device_inherits_its_type_view_restriction(db, lab) -> None:
    """A device with no own restriction is visible exactly when its device type is."""
    assert not view_device(db, lab.anon, "sec01")
    assert not view_device(db, lab.carol, "sec01")
    assert view_device(db, lab.alice, "sec01")


def test_device_own_view_restriction_hides_it(db, lab) -> None:
    """A view_device row hides a device of an open type from non-members."""
    assert not view_device(db, lab.anon, "hidden01")
    assert not view_device(db, lab.carol, "hidden01")
    assert not view_device(db, lab.bob, "hidden01")
    assert view_device(db, lab.alice, "hidden01")


def test_device_own_group_sees_it_even_if_type_hidden(db, lab) -> None:
    """A member of the device's own view group sees it although its type is hidden to him."""
    assert not view_type(db, lab.bob, "secret")
    assert view_device(db, lab.bob, "secg2")
    assert not view_device(db, lab.alice, "secg2")  # own restriction wins over the type's


@pytest.mark.parametrize("codename", ["submit_to_device", "change_device"])
def test_higher_device_right_grants_view(db, lab, codename) -> None:
    """A group holding submit_to_device or change_device on a device may view it."""
    restrict(db, "device", "g2", codename, "hidden01")
    assert view_device(db, lab.bob, "hidden01")
    assert not view_device(db, lab.carol, "hidden01")


def test_global_view_device_and_superuser_see_every_device(db, lab) -> None:
    """Superusers and holders of global view_device see restricted devices."""
    for hostname in ("sec01", "hidden01", "secg2"):
        assert view_device(db, lab.root, hostname)
        assert view_device(db, lab.viewer, hostname)


# -- workers --------------------------------------------------------------------------------------
def test_worker_view_restriction(db, lab) -> None:
    """A view_worker row hides a worker from anonymous and non-members only."""
    check = permissions.thd_can_view_worker
    assert can(db, check, lab.anon, "w-open")
    assert not can(db, check, lab.anon, "w-closed")
    assert not can(db, check, lab.carol, "w-closed")
    assert not can(db, check, lab.bob, "w-closed")
    assert can(db, check, lab.alice, "w-closed")
    assert can(db, check, lab.root, "w-closed")
    assert can(db, check, lab.viewer, "w-closed")


def test_worker_change_right_grants_view(db, lab) -> None:
    """A group with change_worker on a view-restricted worker may view it."""
    restrict(db, "worker", "g2", "change_worker", "w-closed")
    assert can(db, permissions.thd_can_view_worker, lab.bob, "w-closed")


# -- jobs -----------------------------------------------------------------------------------------
def test_superuser_sees_every_job(db, lab) -> None:
    """A superuser sees private, group-restricted and hidden-device jobs of others."""
    ids = [job(db, lab.alice, is_public=False),
           job(db, lab.alice, is_public=False, viewing_groups=[lab.groups["g1"]]),
           job(db, lab.alice, "secret", "sec01")]
    assert all(view_job(db, lab.root, i) for i in ids)


def test_private_job_visible_to_its_submitter_only(db, lab) -> None:
    """A non-public job without viewing groups is visible to its submitter, nobody else."""
    job_id = job(db, lab.alice, is_public=False)
    assert view_job(db, lab.alice, job_id)
    for who in (lab.bob, lab.carol, lab.dave, lab.anon, lab.viewer):
        assert not view_job(db, who, job_id)


def test_viewing_groups_require_every_group(db, lab) -> None:
    """A job with viewing groups is visible only to members of every one of them."""
    job_id = job(db, lab.carol, is_public=False,
                 viewing_groups=[lab.groups["g1"], lab.groups["g2"]])
    assert view_job(db, lab.dave, job_id)
    assert not view_job(db, lab.alice, job_id)
    assert not view_job(db, lab.bob, job_id)


def test_viewing_groups_hide_job_from_groupless_and_anonymous(db, lab) -> None:
    """A user in no group at all and anonymous never see a job with viewing groups."""
    job_id = job(db, lab.alice, is_public=False, viewing_groups=[lab.groups["g1"]])
    assert not view_job(db, lab.carol, job_id)
    assert not view_job(db, lab.anon, job_id)
    assert job_id not in [j["id"] for j in db.run(jobs.thd_list_jobs, lab.carol)]


def test_public_job_with_viewing_groups_needs_membership(db, lab) -> None:
    """Viewing groups restrict even a public job: device visibility does not open it."""
    job_id = job(db, lab.carol, "public", "pub01", viewing_groups=[lab.groups["g1"]])
    assert view_job(db, lab.alice, job_id)
    assert not view_job(db, lab.bob, job_id)
    assert not view_job(db, lab.anon, job_id)


def test_public_job_follows_actual_device_visibility(db, lab) -> None:
    """A public job on a device is visible to whoever can see that device."""
    job_id = job(db, lab.carol, "public", "hidden01")
    assert view_job(db, lab.alice, job_id)
    assert not view_job(db, lab.anon, job_id)
    assert not view_job(db, lab.bob, job_id)
    assert not view_job(db, lab.carol, job_id)  # public: not the submitter rule


def test_public_job_with_visible_device_of_hidden_type(db, lab) -> None:
    """The device decides, not the requested type, once a job has a device."""
    job_id = job(db, lab.carol, "secret", "secg2")
    assert view_job(db, lab.bob, job_id)  # sees secg2 through its own group
    assert not view_job(db, lab.alice, job_id)  # sees the type, not the device


def test_public_job_without_device_follows_requested_type(db, lab) -> None:
    """A public job with no device yet is visible to whoever can see its requested type."""
    open_job = job(db, lab.carol, "public")
    secret_job = job(db, lab.carol, "secret")
    assert view_job(db, lab.anon, open_job)
    assert not view_job(db, lab.anon, secret_job)
    assert not view_job(db, lab.carol, secret_job)
    assert view_job(db, lab.alice, secret_job)


def test_nested_rule_submitter_always_sees_own_job(db, lab) -> None:
    """For the results routes (nested=True) the submitter sees his public job on a hidden type."""
    job_id = job(db, lab.carol, "secret")
    assert not view_job(db, lab.carol, job_id)
    assert view_job(db, lab.carol, job_id, nested=True)
    assert not view_job(db, lab.bob, job_id, nested=True)
    private = job(db, lab.carol, is_public=False)
    assert view_job(db, lab.carol, private, nested=True)
    assert not view_job(db, lab.alice, private, nested=True)


def test_get_job_with_principal_hides_invisible_jobs(db, lab) -> None:
    """thd_get_job with a principal raises NotFound for a job it may not see."""
    from lavad.errors import NotFound
    job_id = job(db, lab.alice, is_public=False)
    assert db.run(jobs.thd_get_job, job_id, lab.alice)["id"] == job_id
    with pytest.raises(NotFound):
        db.run(jobs.thd_get_job, job_id, lab.bob)


# -- submit rights --------------------------------------------------------------------------------
def submit_type(db: Any, principal: Any, name: str) -> bool:
    return can(db, permissions.thd_can_submit_to_device_type, principal, name)


def submit_device(db: Any, principal: Any, hostname: str) -> bool:
    return can(db, permissions.thd_can_submit_to_device, principal, hostname)


def test_anonymous_never_submits(db, lab) -> None:
    """Anonymous may not submit, not even to an open device type or device."""
    assert not submit_type(db, lab.anon, "public")
    assert not submit_device(db, lab.anon, "pub01")


def test_authenticated_user_submits_to_unrestricted_type(db, lab) -> None:
    """Any authenticated user may submit to a type with no submit restriction."""
    assert submit_type(db, lab.carol, "public")
    assert submit_type(db, lab.carol, "chtype")
    assert submit_device(db, lab.carol, "pub01")


def test_submit_restricted_type_needs_group(db, lab) -> None:
    """A submit_to_devicetype row limits submission to that group (and superusers)."""
    assert not submit_type(db, lab.carol, "subtype")
    assert not submit_type(db, lab.alice, "subtype")
    assert submit_type(db, lab.bob, "subtype")
    assert submit_type(db, lab.root, "subtype")


def test_change_on_type_grants_submit(db, lab) -> None:
    """change_devicetype on a submit-restricted type grants submitting to it."""
    restrict(db, DT, "g3", "change_devicetype", "subtype")
    assert submit_type(db, lab.erin, "subtype")


def test_global_submit_perm_submits_everywhere_visible(db, lab) -> None:
    """The global submit_to_devicetype permission opens submit-restricted types."""
    frank = user(db, "frank", perms=("submit_to_devicetype",))
    assert submit_type(db, frank, "subtype")


def test_cannot_submit_to_invisible_type(db, lab) -> None:
    """A user who cannot see a type cannot submit to it, although submit is unrestricted."""
    assert not submit_type(db, lab.carol, "secret")
    assert submit_type(db, lab.alice, "secret")


def test_device_without_own_restriction_follows_type_submit(db, lab) -> None:
    """A device with no submit_to_device row takes its type's submit rule."""
    assert not submit_device(db, lab.carol, "sub01")
    assert submit_device(db, lab.bob, "sub01")


def test_device_own_submit_restriction_overrides_type(db, lab) -> None:
    """A submit_to_device row replaces the type's rule: its group may, the type's may not."""
    assert submit_device(db, lab.alice, "subown01")
    assert not submit_device(db, lab.bob, "subown01")
    assert not submit_device(db, lab.carol, "subown01")
    restrict(db, "device", "g2", "submit_to_device", "pub01")
    assert not submit_device(db, lab.carol, "pub01")
    assert submit_device(db, lab.bob, "pub01")


def test_nobody_submits_to_a_retired_device(db, lab) -> None:
    """A retired device accepts no submission, not even a superuser's."""
    db.run(devices.thd_set_device_health, "pub01", DeviceHealth.RETIRED)
    assert not submit_device(db, lab.carol, "pub01")
    assert not submit_device(db, lab.root, "pub01")


# -- change rights --------------------------------------------------------------------------------
def change(db: Any, principal: Any, kind: str, key: str) -> bool:
    return can(db, permissions.thd_can_change, principal, kind, key)


def test_change_needs_a_right(db, lab) -> None:
    """Without a global or group change permission nobody may change anything."""
    for kind, key in ((DT, "public"), ("device", "pub01"), ("worker", "w-open")):
        assert not change(db, lab.carol, kind, key)
        assert not change(db, lab.anon, kind, key)
        assert change(db, lab.root, kind, key)


def test_view_or_submit_rows_do_not_grant_change(db, lab) -> None:
    """Groups holding view or submit on an object cannot change it."""
    assert not change(db, lab.alice, DT, "secret")
    assert not change(db, lab.bob, DT, "subtype")
    assert not change(db, lab.alice, "device", "hidden01")


def test_global_change_perm(db, lab) -> None:
    """Global change_device / change_devicetype / change_worker allow changing every object."""
    frank = user(db, "frank", perms=("change_device", "change_devicetype", "change_worker"))
    assert change(db, frank, "device", "chown01")
    assert change(db, frank, DT, "secret")
    assert change(db, frank, "worker", "w-closed")


def test_group_change_perm_on_type(db, lab) -> None:
    """change_devicetype through a group allows changing that type only."""
    assert change(db, lab.erin, DT, "chtype")
    assert not change(db, lab.erin, DT, "public")


def test_device_falls_back_to_type_change_perm(db, lab) -> None:
    """A device with no change_device row of its own is changeable by its type's changers."""
    assert change(db, lab.erin, "device", "ch01")
    assert not change(db, lab.erin, "device", "pub01")


def test_device_own_change_restriction_overrides_type(db, lab) -> None:
    """A change_device row on a device: only its group, not the type's changers, may change it."""
    assert change(db, lab.alice, "device", "chown01")
    assert not change(db, lab.erin, "device", "chown01")


def test_device_view_row_does_not_stop_type_change_fallback(db, lab) -> None:
    """Only a change_device row is "a restriction of its own" for change: view rows are not."""
    assert change(db, lab.erin, "device", "chview01")


def test_worker_group_change(db, lab) -> None:
    """change_worker through a group allows changing that worker."""
    assert change(db, lab.bob, "worker", "w-ch")
    assert not change(db, lab.alice, "worker", "w-ch")


# -- cancel rights --------------------------------------------------------------------------------
def cancel(db: Any, principal: Any, job_id: int) -> bool:
    job_dict = db.run(jobs.thd_get_job, job_id)
    return can(db, permissions.thd_can_cancel_job, principal, job_dict)


def test_submitter_and_superuser_cancel(db, lab) -> None:
    """The submitter and superusers may cancel a job; other users and anonymous may not."""
    job_id = job(db, lab.carol, "public", "pub01")
    assert cancel(db, lab.carol, job_id)
    assert cancel(db, lab.root, job_id)
    assert not cancel(db, lab.alice, job_id)
    assert not cancel(db, lab.anon, job_id)


def test_cancel_with_a_stored_row(db, lab) -> None:
    """thd_can_cancel_job also accepts a stored row (submitter_id) instead of the job dict."""
    job_id = job(db, lab.carol)
    row = dict(db.conn.execute("SELECT * FROM test_jobs WHERE id = ?", (job_id,)).fetchone())
    assert can(db, permissions.thd_can_cancel_job, lab.carol, row)
    assert not can(db, permissions.thd_can_cancel_job, lab.alice, row)


@pytest.mark.parametrize("perm", ["cancel_resubmit_testjob", "change_testjob"])
def test_cancel_permission(db, lab, perm) -> None:
    """The global cancel_resubmit_testjob or change_testjob permission cancels any job."""
    frank = user(db, "frank", perms=(perm,))
    assert cancel(db, frank, job(db, lab.carol, "public", "pub01"))


def test_change_on_device_cancels(db, lab) -> None:
    """A user who may change the job's device may cancel the job."""
    job_id = job(db, lab.carol, "chtype", "ch01")
    assert cancel(db, lab.erin, job_id)
    other = job(db, lab.carol, "chtype", "chown01")
    assert not cancel(db, lab.erin, other)
    assert cancel(db, lab.alice, other)


def test_change_on_requested_type_cancels_unscheduled_job(db, lab) -> None:
    """Before a job has a device, change rights on its requested type allow cancelling."""
    assert cancel(db, lab.erin, job(db, lab.carol, "chtype"))
    assert not cancel(db, lab.erin, job(db, lab.carol, "public"))


# -- the SQL lists agree with the single checks ---------------------------------------------------
@pytest.fixture
def lab_jobs(db, lab) -> list[int]:
    """A spread of jobs over the lab's visibility cases."""
    g = lab.groups
    return [
        job(db, lab.carol),
        job(db, lab.carol, "secret"),
        job(db, lab.alice, "secret", "sec01"),
        job(db, lab.carol, "public", "hidden01"),
        job(db, lab.bob, "secret", "secg2"),
        job(db, lab.carol, is_public=False),
        job(db, lab.alice, is_public=False, viewing_groups=[g["g1"]]),
        job(db, lab.carol, is_public=False, viewing_groups=[g["g1"], g["g2"]]),
        job(db, lab.carol, "public", "pub01", viewing_groups=[g["g2"]]),
        job(db, lab.erin, "chtype", "chview01"),
        job(db, lab.erin, None),
    ]


def test_job_list_agrees_with_can_view_job(db, lab, lab_jobs) -> None:
    """For every principal, thd_list_jobs returns exactly the jobs thd_can_view_job allows."""
    for name, principal in lab.principals.items():
        listed = {j["id"] for j in db.run(jobs.thd_list_jobs, principal, limit=1000)}
        allowed = {i for i in lab_jobs if view_job(db, principal, i)}
        assert listed == allowed, name
    assert {j["id"] for j in db.run(jobs.thd_list_jobs, lab.root, limit=1000)} == \
        set(lab_jobs)


def test_device_list_agrees_with_can_view_device(db, lab) -> None:
    """For every principal, thd_list_devices returns exactly the devices it may view."""
    everything = [d["hostname"] for d in db.run(devices.thd_list_devices)]
    for name, principal in lab.principals.items():
        listed = {d["hostname"] for d in db.run(devices.thd_list_devices, principal)}
        allowed = {h for h in everything if view_device(db, principal, h)}
        assert listed == allowed, name
    assert {d["hostname"] for d in db.run(devices.thd_list_devices, lab.carol)} == \
        {"pub01", "sub01", "subown01", "ch01", "chown01"}


def test_device_type_list_agrees_with_can_view_device_type(db, lab) -> None:
    """For every principal, thd_list_device_types returns exactly the types it may view."""
    everything = [t["name"] for t in db.run(devices.thd_list_device_types)]
    for name, principal in lab.principals.items():
        listed = {t["name"] for t in db.run(devices.thd_list_device_types, principal)}
        allowed = {t for t in everything if view_type(db, principal, t)}
        assert listed == allowed, name
    assert {t["name"] for t in db.run(devices.thd_list_device_types, lab.anon)} == \
        {"public", "subtype", "chtype"}


def test_worker_list_agrees_with_can_view_worker(db, lab) -> None:
    """For every principal, thd_list_workers returns exactly the workers it may view."""
    everything = [w["hostname"] for w in db.run(devices.thd_list_workers)]
    for name, principal in lab.principals.items():
        listed = {w["hostname"] for w in db.run(devices.thd_list_workers, principal)}
        allowed = {h for h in everything
                   if can(db, permissions.thd_can_view_worker, principal, h)}
        assert listed == allowed, name
    assert {w["hostname"] for w in db.run(devices.thd_list_workers, lab.anon)} == \
        {"w-open", "w-ch"}


def test_expected_visibility_matrix(db, lab, lab_jobs) -> None:
    """The lab's job visibility per user is what rest-api.md 1.8 says, spelled out."""
    expected = {
        "anon": {0},
        "carol": {0, 5, 7},  # 7: not public and hers, whatever its groups
        "alice": {0, 1, 2, 3, 6},
        "bob": {0, 4, 8},
        "dave": {0, 1, 2, 3, 4, 6, 7, 8},
        "erin": {0, 9},
        "viewer": {0, 1, 2, 3, 4, 9},
        "root": set(range(11)),
    }
    for name, indexes in expected.items():
        principal = lab.principals[name]
        visible = {n for n, i in enumerate(lab_jobs) if view_job(db, principal, i)}
        assert visible == indexes, name
