"""Accounts as LAVA's ``auth.*`` and ``system.*`` XML-RPC methods manage them.

Additions to :mod:`lavad.users`: membership one group at a time, global
permissions named by ``(app, model, codename)``, a user's full record with
dates and permissions, group membership set by e-mail address, and the
caller's remote-artifact tokens (the secrets the dispatcher uses to fetch
artifacts, ``scheduler.remote_artifact_tokens``).  All run on the store
thread.
"""

from __future__ import annotations

from typing import Any

from lavad import users
from lavad.errors import Duplicate, Invalid, NotAuthenticated, NotFound
from lavad.store.tx import Tx
from lavad.users import Principal


_user_id = users.user_id
_group_id = users.group_id


def _perm_names(rows: list[Any]) -> list[str]:
    return ["%s.%s.%s" % (r[0], r[1], r[2]) for r in rows]


def thd_user_record(tx: Tx, username: str) -> dict[str, Any]:
    """A user with group names and own permissions (``app.model.codename``)."""
    user = users.thd_get_user(tx, username)
    perms = tx.all("SELECT p.app_label, p.model, p.codename FROM user_permissions up"
                   " JOIN permissions p ON p.id = up.permission_id WHERE up.user_id = ?"
                   " ORDER BY p.app_label, p.model, p.codename", (user["id"],))
    user["permissions"] = _perm_names(perms)
    return user


def thd_user_groups(tx: Tx, username: str) -> list[str]:
    return [r[0] for r in tx.all(
        "SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
        " WHERE ug.user_id = ? ORDER BY g.name", (_user_id(tx, username),))]


def thd_join_group(tx: Tx, username: str, group: str) -> None:
    """Put a user in a group, creating the group when it does not exist."""
    uid = _user_id(tx, username)
    gid = tx.scalar("SELECT id FROM groups WHERE name = ?", (group,))
    if gid is None:
        gid = users.thd_add_group(tx, group)["id"]
    tx.execute("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?, ?)",
               (uid, gid))


def thd_leave_group(tx: Tx, username: str, group: str) -> None:
    uid = _user_id(tx, username)
    gid = _group_id(tx, group)
    tx.execute("DELETE FROM user_groups WHERE user_id = ? AND group_id = ?", (uid, gid))


def thd_set_user_groups(tx: Tx, username: str, groups: list[str]) -> None:
    """Make the user's groups exactly ``groups`` (names); NotFound (model Group, ``key``
    the name) for a group that does not exist, before anything changes."""
    uid = _user_id(tx, username)
    gids = []
    for name in groups:
        gid = tx.scalar("SELECT id FROM groups WHERE name = ?", (name,))
        if gid is None:
            raise NotFound("Group '%s' was not found." % name, model="Group", key=name)
        gids.append(gid)
    tx.execute("DELETE FROM user_groups WHERE user_id = ?", (uid,))
    for gid in gids:
        tx.execute("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?, ?)",
                   (uid, gid))


def thd_set_groups_by_email(tx: Tx, email: str, groups: list[str]) -> list[str]:
    """Make the groups of the user with this e-mail address exactly those of ``groups``
    that exist; returns the names skipped because they do not."""
    row = tx.one("SELECT id FROM users WHERE email = ? AND email != '' ORDER BY id", (email,))
    if row is None:
        raise NotFound("No user has the e-mail address '%s'." % email, model="User")
    found = {r[0]: r[1] for r in tx.all(
        "SELECT name, id FROM groups WHERE name IN (%s)" % ", ".join("?" * len(groups)),
        list(groups))} if groups else {}
    tx.execute("DELETE FROM user_groups WHERE user_id = ?", (row["id"],))
    for gid in found.values():
        tx.execute("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?, ?)",
                   (row["id"], gid))
    return sorted(set(groups) - set(found))


# -- groups ---------------------------------------------------------------------------------------
def thd_group_record(tx: Tx, name: str) -> dict[str, Any]:
    """A group with its permissions (``app.model.codename``) and members."""
    gid = _group_id(tx, name)
    perms = tx.all("SELECT p.app_label, p.model, p.codename FROM group_permissions gp"
                   " JOIN permissions p ON p.id = gp.permission_id WHERE gp.group_id = ?"
                   " ORDER BY p.app_label, p.model, p.codename", (gid,))
    members = tx.all("SELECT u.username FROM user_groups ug JOIN users u ON u.id = ug.user_id"
                     " WHERE ug.group_id = ? ORDER BY u.username", (gid,))
    return {"id": gid, "name": name, "permissions": _perm_names(perms),
            "users": [r[0] for r in members]}


# -- global permissions by (app, model, codename) -------------------------------------------------------
def _permission_id(tx: Tx, app: Any, model: Any, codename: Any) -> int:
    if tx.one("SELECT 1 FROM permissions WHERE app_label = ? AND model = ?",
              (app, model)) is None:
        raise NotFound("Invalid app.model '%s.%s'" % (app, model), model="ContentType")
    pid = tx.scalar("SELECT id FROM permissions WHERE app_label = ? AND model = ? AND"
                    " codename = ?", (app, model, codename))
    if pid is None:
        raise NotFound("Invalid permission '%s'" % codename, model="Permission")
    return pid


def thd_set_permission(tx: Tx, app: str, model: str, codename: str, granted: bool,
                       user: str | None = None, group: str | None = None) -> None:
    """Grant (``granted``) or revoke a global permission of a user or a group."""
    if user is not None:
        owner, table, col = _user_id(tx, user), "user_permissions", "user_id"
    else:
        owner, table, col = _group_id(tx, group), "group_permissions", "group_id"
    pid = _permission_id(tx, app, model, codename)
    if granted:
        tx.execute("INSERT OR IGNORE INTO %s (%s, permission_id) VALUES (?, ?)" % (table, col),
                   (owner, pid))
    else:
        tx.execute("DELETE FROM %s WHERE %s = ? AND permission_id = ?" % (table, col),
                   (owner, pid))


def thd_permissions(tx: Tx, user: str | None = None,
                    group: str | None = None) -> list[dict[str, str]]:
    """``[{app, model, codename}]`` held directly by a user, or by a group."""
    if user is not None:
        _user_id(tx, user)
    else:
        _group_id(tx, group)
    return users.thd_list_perms(tx, user=user, group=group)


# -- remote-artifact tokens ---------------------------------------------------------------------------
def _owner(principal: Principal) -> int:
    if not principal.is_authenticated or principal.id is None:
        raise NotAuthenticated("Authentication credentials were not provided.")
    return principal.id


def thd_remote_artifact_tokens(tx: Tx, principal: Principal) -> list[dict[str, str]]:
    """The caller's tokens, ``[{name, token}]`` by name."""
    return [{"name": r[0], "token": r[1]} for r in tx.all(
        "SELECT name, token FROM remote_artifact_tokens WHERE user_id = ? ORDER BY name",
        (_owner(principal),))]


def thd_remote_artifact_token(tx: Tx, principal: Principal, name: str) -> str:
    token = tx.scalar("SELECT token FROM remote_artifact_tokens WHERE user_id = ? AND name = ?",
                      (_owner(principal), name))
    if token is None:
        raise NotFound("Token %r was not found." % (name,), model="RemoteArtifactsAuth")
    return token


def thd_add_remote_artifact_token(tx: Tx, principal: Principal, name: str, token: str) -> None:
    uid = _owner(principal)
    if not isinstance(name, str) or not name or not isinstance(token, str) or not token:
        raise Invalid("A token needs a name and a value.")
    if tx.one("SELECT 1 FROM remote_artifact_tokens WHERE user_id = ? AND name = ?",
              (uid, name)):
        raise Duplicate("Token %r already exists." % (name,), field="name")
    tx.execute("INSERT INTO remote_artifact_tokens (user_id, name, token) VALUES (?, ?, ?)",
               (uid, name, token))


def thd_update_remote_artifact_token(tx: Tx, principal: Principal, name: str,
                                     new_name: str | None = None,
                                     token: str | None = None) -> str:
    """Rename one of the caller's tokens and/or change its value; its (new) name."""
    uid = _owner(principal)
    thd_remote_artifact_token(tx, principal, name)
    if new_name is not None and new_name != name:
        if not isinstance(new_name, str) or not new_name:
            raise Invalid("A token needs a name and a value.", field="name")
        if tx.one("SELECT 1 FROM remote_artifact_tokens WHERE user_id = ? AND name = ?",
                  (uid, new_name)):
            raise Duplicate("Token %r already exists." % (new_name,), field="name")
        tx.execute("UPDATE remote_artifact_tokens SET name = ? WHERE user_id = ? AND name = ?",
                   (new_name, uid, name))
        name = new_name
    if token is not None:
        if not isinstance(token, str) or not token:
            raise Invalid("A token needs a name and a value.", field="token")
        tx.execute("UPDATE remote_artifact_tokens SET token = ? WHERE user_id = ? AND name = ?",
                   (token, uid, name))
    return name


def thd_delete_remote_artifact_token(tx: Tx, principal: Principal, name: str) -> None:
    if tx.execute("DELETE FROM remote_artifact_tokens WHERE user_id = ? AND name = ?",
                  (_owner(principal), name)).rowcount == 0:
        raise NotFound("Token %r was not found." % (name,), model="RemoteArtifactsAuth")
