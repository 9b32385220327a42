"""Users, groups, passwords, API tokens and global permissions (lavad/users.py)."""

from __future__ import annotations

import pytest

from lavad import users
from lavad.errors import Conflict, Invalid, NotFound
from lavad.users import ANONYMOUS, API_TOKEN_ALPHABET, Principal


def test_password_hash_is_salted() -> None:
    """Two hashes of the same password differ (random salt) and both verify."""
    a = users.hash_password("s3cret", iterations=1000)
    b = users.hash_password("s3cret", iterations=1000)
    assert a != b
    assert a.startswith("pbkdf2_sha256$1000$")
    assert users.check_password("s3cret", a) and users.check_password("s3cret", b)


def test_check_password_rejects_wrong_and_unusable() -> None:
    """A wrong password, an unusable password and a foreign hash format never verify."""
    encoded = users.hash_password("right", iterations=1000)
    assert not users.check_password("wrong", encoded)
    assert not users.check_password("", encoded)
    assert not users.check_password("right", users.unusable_password())
    assert not users.check_password("right", "md5$$deadbeef")
    assert not users.check_password("right", "pbkdf2_sha256$many$salt$hash")


def test_user_without_password_cannot_log_in(db) -> None:
    """A user created without a password gets an unusable one: no password authenticates it."""
    db.run(users.thd_add_user, "robot")
    assert db.run(users.thd_authenticate_password, "robot", "") is None
    assert db.run(users.thd_authenticate_password, "robot", "!") is None


def test_authenticate_password(db, clock) -> None:
    """The right password gives the user's principal and records last_login."""
    db.run(users.thd_add_user, "alice", "pw", email="a@example.org")
    principal = db.run(users.thd_authenticate_password, "alice", "pw")
    assert isinstance(principal, Principal)
    assert principal.username == "alice" and principal.is_authenticated
    assert db.run(users.thd_get_user, "alice")["last_login"] == "2026-07-01T10:00:00.000000"


def test_authenticate_password_failures_look_alike(db) -> None:
    """Wrong password, inactive user and unknown user all give None, nothing else."""
    db.run(users.thd_add_user, "alice", "pw")
    db.run(users.thd_add_user, "sleepy", "pw", is_active=False)
    results = [db.run(users.thd_authenticate_password, name, password)
               for name, password in (("alice", "bad"), ("sleepy", "pw"), ("ghost", "pw"))]
    assert results == [None, None, None]
    assert db.run(users.thd_get_user, "alice")["last_login"] is None


def test_duplicate_user_is_conflict(db) -> None:
    """Adding an existing username raises Conflict on the username field."""
    db.run(users.thd_add_user, "alice")
    with pytest.raises(Conflict) as info:
        db.run(users.thd_add_user, "alice")
    assert info.value.field == "username"
    assert len(db.run(users.thd_list_users)) == 1


def test_invalid_username_is_refused(db) -> None:
    """Usernames follow Django's rule: letters, digits and @.+-_ only, 1..150 chars."""
    for bad in ("", "with space", "semi;colon", "x" * 151):
        with pytest.raises(Invalid):
            db.run(users.thd_add_user, bad)
    assert db.run(users.thd_add_user, "a.b+c-d_e@f")["username"] == "a.b+c-d_e@f"


def test_duplicate_group_is_conflict(db) -> None:
    """Adding an existing group name raises Conflict; renaming onto one too."""
    db.run(users.thd_add_group, "lab")
    db.run(users.thd_add_group, "ops")
    with pytest.raises(Conflict):
        db.run(users.thd_add_group, "lab")
    with pytest.raises(Conflict):
        db.run(users.thd_update_group, "ops", rename="lab")


def test_group_members(db) -> None:
    """Members added at creation and later are listed; the user's groups mirror them."""
    db.run(users.thd_add_user, "alice")
    db.run(users.thd_add_user, "bob")
    db.run(users.thd_add_group, "lab", ["alice"])
    group = db.run(users.thd_update_group, "lab", add_members=["bob"])
    assert group["members"] == ["alice", "bob"]
    assert db.run(users.thd_get_user, "bob")["groups"] == ["lab"]
    group = db.run(users.thd_update_group, "lab", remove_members=["alice"])
    assert group["members"] == ["bob"]
    with pytest.raises(NotFound):
        db.run(users.thd_add_group, "other", ["ghost"])


def test_global_perm_granted_to_user(db) -> None:
    """A permission granted to the user shows up in its Principal.perms and has_perm."""
    uid = db.run(users.thd_add_user, "alice")["id"]
    db.run(users.thd_grant, "lava_scheduler_app.add_device", user="alice")
    principal = db.run(users.thd_principal, uid)
    assert principal.perms == {"lava_scheduler_app.add_device"}
    assert principal.has_perm("lava_scheduler_app.add_device")
    assert not principal.has_perm("lava_scheduler_app.change_device")


def test_global_perm_granted_through_group(db) -> None:
    """A permission granted to a group reaches its members' principals, and only theirs."""
    alice = db.run(users.thd_add_user, "alice")["id"]
    bob = db.run(users.thd_add_user, "bob")["id"]
    db.run(users.thd_add_group, "admins", ["alice"])
    db.run(users.thd_grant, "lava_scheduler_app.change_worker", group="admins")
    db.run(users.thd_grant, "lava_scheduler_app.add_worker", user="alice")
    principal = db.run(users.thd_principal, alice)
    assert principal.perms == {"lava_scheduler_app.change_worker",
                               "lava_scheduler_app.add_worker"}
    assert principal.group_names == {"admins"}
    assert db.run(users.thd_principal, bob).perms == frozenset()
    db.run(users.thd_revoke, "lava_scheduler_app.change_worker", group="admins")
    assert db.run(users.thd_principal, alice).perms == {"lava_scheduler_app.add_worker"}


def test_unknown_permission_is_not_found(db) -> None:
    """Granting a codename lavad does not know raises NotFound."""
    db.run(users.thd_add_user, "alice")
    with pytest.raises(NotFound):
        db.run(users.thd_grant, "lava_scheduler_app.fly_to_moon", user="alice")


def test_superuser_has_every_perm(db) -> None:
    """An active superuser holds every permission, named or not."""
    uid = db.run(users.thd_add_user, "root", is_superuser=True)["id"]
    principal = db.run(users.thd_principal, uid)
    assert principal.has_perm("lava_scheduler_app.change_device")
    assert principal.has_perm("anything.at_all")


def test_inactive_superuser_has_nothing(db) -> None:
    """A deactivated superuser is not authenticated and holds no permission."""
    uid = db.run(users.thd_add_user, "root", is_superuser=True, is_active=False)["id"]
    principal = db.run(users.thd_principal, uid)
    assert not principal.is_authenticated
    assert not principal.has_perm("lava_scheduler_app.change_device")


def test_anonymous_has_nothing() -> None:
    """The anonymous principal is unauthenticated and holds no permission."""
    assert not ANONYMOUS.is_authenticated
    assert ANONYMOUS.id is None and ANONYMOUS.groups == frozenset()
    assert not ANONYMOUS.has_perm("lava_scheduler_app.view_devicetype")


def test_principal_of_unknown_user_is_anonymous(db) -> None:
    """Loading a principal for a user id that does not exist gives ANONYMOUS."""
    assert db.run(users.thd_principal, 4242) == ANONYMOUS


# -- tokens -----------------------------------------------------------------------------------
def test_new_token_secret_is_128_chars_of_lava_alphabet(db) -> None:
    """Generated API secrets are 128 characters from LAVA's token alphabet, all different."""
    db.run(users.thd_add_user, "alice")
    secrets = {db.run(users.thd_add_token, "alice")["secret"] for _ in range(5)}
    assert len(secrets) == 5
    for secret in secrets:
        assert len(secret) == 128
        assert set(secret) <= set(API_TOKEN_ALPHABET)
    assert "v" not in API_TOKEN_ALPHABET  # LAVA's alphabet has no "v"


def test_authenticate_token_with_and_without_username(db) -> None:
    """A secret authenticates alone, or with its owner's name; another name fails."""
    db.run(users.thd_add_user, "alice")
    db.run(users.thd_add_user, "bob")
    secret = db.run(users.thd_add_token, "alice", "laptop")["secret"]
    assert db.run(users.thd_authenticate_token, secret).username == "alice"
    assert db.run(users.thd_authenticate_token, secret, "alice").username == "alice"
    assert db.run(users.thd_authenticate_token, secret, "bob") is None
    assert db.run(users.thd_authenticate_token, "nope") is None
    assert db.run(users.thd_authenticate_token, secret[:-1]) is None


def test_expired_token_is_rejected(db, clock) -> None:
    """A token authenticates until its expiry time and not from then on."""
    db.run(users.thd_add_user, "alice")
    secret = db.run(users.thd_add_token, "alice",
                       expires_on="2026-07-01T11:00:00.000000")["secret"]
    assert db.run(users.thd_authenticate_token, secret) is not None
    clock.now += 3600  # 11:00:00 exactly
    assert db.run(users.thd_authenticate_token, secret) is None
    clock.now += 1
    assert db.run(users.thd_authenticate_token, secret, "alice") is None


def test_inactive_user_token_is_rejected(db) -> None:
    """Deactivating a user makes its tokens stop authenticating."""
    db.run(users.thd_add_user, "alice")
    secret = db.run(users.thd_add_token, "alice")["secret"]
    db.run(users.thd_update_user, "alice", is_active=False)
    assert db.run(users.thd_authenticate_token, secret) is None


def test_touch_updates_last_used_on(db, clock) -> None:
    """Authenticating with touch=True records last_used_on; without touch it stays unset."""
    db.run(users.thd_add_user, "alice")
    token = db.run(users.thd_add_token, "alice")
    db.run(users.thd_authenticate_token, token["secret"])
    assert db.run(users.thd_get_token, token["id"])["last_used_on"] is None
    clock.now += 90
    db.run(users.thd_authenticate_token, token["secret"], touch=True)
    assert db.run(users.thd_get_token, token["id"])["last_used_on"] == \
        "2026-07-01T10:01:30.000000"


def test_first_or_new_token_creates_one(db) -> None:
    """With no token, first_or_new_token creates one described 'Created by REST API call'."""
    uid = db.run(users.thd_add_user, "alice")["id"]
    secret = db.run(users.thd_first_or_new_token, uid)
    tokens = db.run(users.thd_list_tokens, "alice")
    assert [(t["secret"], t["description"]) for t in tokens] == \
        [(secret, "Created by REST API call")]
    assert db.run(users.thd_first_or_new_token, uid) == secret  # and reuses it


def test_first_or_new_token_returns_the_first(db) -> None:
    """With tokens, first_or_new_token returns the oldest one and creates nothing."""
    uid = db.run(users.thd_add_user, "alice")["id"]
    first = db.run(users.thd_add_token, "alice", "one")["secret"]
    db.run(users.thd_add_token, "alice", "two")
    assert db.run(users.thd_first_or_new_token, uid) == first
    assert len(db.run(users.thd_list_tokens, "alice")) == 2


def test_token_secret_rules(db) -> None:
    """Chosen secrets must be unique, non-blank, space-free and at most 128 characters."""
    db.run(users.thd_add_user, "alice")
    db.run(users.thd_add_token, "alice", secret="mine")
    with pytest.raises(Conflict):
        db.run(users.thd_add_token, "alice", secret="mine")
    for bad in ("with space", "x" * 129):
        with pytest.raises(Invalid):
            db.run(users.thd_add_token, "alice", secret=bad)


def test_delete_token_only_own(db) -> None:
    """Deleting a token restricted to a username cannot delete another user's token."""
    db.run(users.thd_add_user, "alice")
    db.run(users.thd_add_user, "bob")
    token = db.run(users.thd_add_token, "alice")
    with pytest.raises(NotFound):
        db.run(users.thd_delete_token, token["id"], "bob")
    db.run(users.thd_delete_token, token["id"], "alice")
    assert db.run(users.thd_list_tokens) == []


def test_delete_user_with_jobs_is_refused(db) -> None:
    """A user who submitted jobs cannot be deleted (history keeps its submitter)."""
    from lavad import jobs
    uid = db.run(users.thd_add_user, "alice")["id"]
    db.run(users.thd_add_token, "alice")
    db.run(jobs.thd_insert_job, uid, "job_name: x\n")
    with pytest.raises(Conflict):
        db.run(users.thd_delete_user, "alice")
    db.run(users.thd_add_user, "bob")
    db.run(users.thd_add_token, "bob")
    db.run(users.thd_delete_user, "bob")
    assert [t["username"] for t in db.run(users.thd_list_tokens)] == ["alice"]


def test_delete_user_named_as_notification_recipient(db) -> None:
    """A user who is only a notification recipient of another's job can be deleted."""
    from lavad import jobs
    alice = db.run(users.thd_add_user, "alice")["id"]
    bob = db.run(users.thd_add_user, "bob", is_staff=True)["id"]
    db.run(users.thd_add_group, "lab", ["bob"])
    db.run(users.thd_grant, "lava_scheduler_app.add_device", user="bob")
    job_id = db.run(jobs.thd_insert_job, alice, "x")
    db.conn.execute("INSERT INTO notifications (job_id, created) VALUES (?, 'now')", (job_id,))
    db.conn.execute("INSERT INTO notification_recipients (notification_id, method, user_id)"
                       " VALUES (1, 0, ?)", (bob,))
    db.run(users.thd_delete_user, "bob")
    assert [u["username"] for u in db.run(users.thd_list_users)] == ["alice"]
    assert db.q("SELECT user_id FROM notification_recipients") == [(None,)]
    assert db.run(users.thd_get_group, "lab")["members"] == []
