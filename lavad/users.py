"""Users, groups, API tokens and global (Django-style) permissions.

Everything here runs on the store thread (``thd_*``) except the pure helpers
(password hashing, secret generation) and :class:`Principal`, the caller
identity every other part of the internal API receives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from lavad.errors import Conflict, Duplicate, Invalid, NotFound
from lavad.store.tx import Tx

# -- passwords ------------------------------------------------------------------------
PBKDF2_ITERATIONS = 260000
UNUSABLE_PASSWORD_PREFIX = "!"


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS,
                  salt: str | None = None) -> str:
    """A salted PBKDF2-SHA256 hash in Django's ``algorithm$iterations$salt$hash`` form."""
    salt = salt or secrets.token_hex(11)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return "pbkdf2_sha256$%d$%s$%s" % (iterations, salt, base64.b64encode(digest).decode())


def unusable_password() -> str:
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)


def check_password(password: str, encoded: str) -> bool:
    try:
        algorithm, iterations, salt, _digest = encoded.split("$", 3)
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256" or not iterations.isdigit():
        return False
    expected = hash_password(password, int(iterations), salt)
    return hmac.compare_digest(expected.encode(), encoded.encode())


# -- secrets -----------------------------------------------------------------------------
# LAVA's API token alphabet (it happens to lack "v"); 128 characters.
API_TOKEN_ALPHABET = "01234567890abcdefghijklmnopqrtsuwxyz"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_api_secret() -> str:
    return "".join(secrets.choice(API_TOKEN_ALPHABET) for _ in range(128))


def new_short_token() -> str:
    """32 alphanumeric characters: worker and job tokens."""
    return "".join(secrets.choice(ALNUM) for _ in range(32))


# -- the caller ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """Who is asking: an authenticated user, or anonymous (``id is None``)."""

    id: int | None = None
    username: str = ""
    is_active: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    groups: frozenset[int] = field(default_factory=frozenset)
    group_names: frozenset[str] = field(default_factory=frozenset)
    perms: frozenset[str] = field(default_factory=frozenset)  # "app_label.codename"

    @property
    def is_authenticated(self) -> bool:
        return self.id is not None and self.is_active

    def has_perm(self, perm: str) -> bool:
        """A global permission, ``app_label.codename``; superusers hold all."""
        if not self.is_authenticated:
            return False
        return self.is_superuser or perm in self.perms


ANONYMOUS = Principal()

USER_FIELDS = ("id", "username", "first_name", "last_name", "email", "is_active", "is_staff",
               "is_superuser", "last_login", "date_joined", "irc_handle", "irc_server")


def _user_dict(row: Any) -> dict[str, Any]:
    d = {k: row[k] for k in USER_FIELDS}
    for k in ("is_active", "is_staff", "is_superuser"):
        d[k] = bool(d[k])
    return d


def thd_principal(tx: Tx, user_id: int) -> Principal:
    """Load a user with the groups and global permissions the permission rules need."""
    row = tx.one("SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        return ANONYMOUS
    groups = tx.all("SELECT g.id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
                    " WHERE ug.user_id = ?", (user_id,))
    perms = tx.all(
        "SELECT p.app_label || '.' || p.codename FROM permissions p WHERE p.id IN ("
        " SELECT permission_id FROM user_permissions WHERE user_id = ?"
        " UNION SELECT gp.permission_id FROM group_permissions gp"
        "  JOIN user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = ?)",
        (user_id, user_id))
    return Principal(id=row["id"], username=row["username"], is_active=bool(row["is_active"]),
                     is_staff=bool(row["is_staff"]), is_superuser=bool(row["is_superuser"]),
                     groups=frozenset(g["id"] for g in groups),
                     group_names=frozenset(g["name"] for g in groups),
                     perms=frozenset(p[0] for p in perms))


def thd_principal_by_name(tx: Tx, username: str) -> Principal:
    row = tx.one("SELECT id FROM users WHERE username = ?", (username,))
    if row is None:
        raise NotFound("User '%s' was not found." % username, model="User")
    return thd_principal(tx, row["id"])


# -- users -----------------------------------------------------------------------------------
def _user_id(tx: Tx, username: str) -> int:
    row = tx.one("SELECT id FROM users WHERE username = ?", (username,))
    if row is None:
        raise NotFound("User '%s' was not found." % username, model="User")
    return row["id"]


def validate_username(username: str) -> None:
    if not username or len(username) > 150:
        raise Invalid("A username is 1 to 150 characters.", field="username")
    if any(not (c.isalnum() or c in "@.+-_") for c in username):
        raise Invalid("Enter a valid username. This value may contain only letters, numbers, "
                      "and @/./+/-/_ characters.", field="username")


def thd_add_user(tx: Tx, username: str, password: str | None = None, email: str = "",
                 first_name: str = "", last_name: str = "", is_active: bool = True,
                 is_staff: bool = False, is_superuser: bool = False,
                 irc_handle: str = "", irc_server: str = "") -> dict[str, Any]:
    validate_username(username)
    if tx.one("SELECT 1 FROM users WHERE username = ?", (username,)):
        raise Duplicate("A user named '%s' already exists." % username, field="username")
    encoded = hash_password(password) if password else unusable_password()
    cur = tx.execute(
        "INSERT INTO users (username, password, first_name, last_name, email, is_active,"
        " is_staff, is_superuser, date_joined, irc_handle, irc_server)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (username, encoded, first_name or "", last_name or "", email or "", int(is_active),
         int(is_staff), int(is_superuser), tx.now(), irc_handle or "", irc_server or ""))
    tx.emit("lab", {"object": "user", "action": "add", "username": username})
    return thd_get_user(tx, cur.lastrowid)


def thd_get_user(tx: Tx, user: int | str) -> dict[str, Any]:
    col = "id" if isinstance(user, int) else "username"
    row = tx.one("SELECT * FROM users WHERE %s = ?" % col, (user,))
    if row is None:
        raise NotFound("User '%s' was not found." % user, model="User")
    d = _user_dict(row)
    d["groups"] = [r[0] for r in tx.all(
        "SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
        " WHERE ug.user_id = ? ORDER BY g.name", (d["id"],))]
    return d


def thd_list_users(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.all("SELECT * FROM users ORDER BY username")
    groups: dict[int, list[str]] = {}
    for r in tx.all("SELECT ug.user_id, g.name FROM user_groups ug JOIN groups g"
                    " ON g.id = ug.group_id ORDER BY g.name"):
        groups.setdefault(r[0], []).append(r[1])
    out = []
    for row in rows:
        d = _user_dict(row)
        d["groups"] = groups.get(d["id"], [])
        out.append(d)
    return out


_UPDATABLE_USER = ("first_name", "last_name", "email", "is_active", "is_staff", "is_superuser",
                   "irc_handle", "irc_server")


def thd_update_user(tx: Tx, username: str, password: str | None = None,
                    new_username: str | None = None, **changes: Any) -> dict[str, Any]:
    """Change the named fields; ``None`` means unchanged.  ``new_username`` renames
    the account (its id, tokens and jobs stay)."""
    user_id = _user_id(tx, username)
    if new_username is not None and new_username != username:
        validate_username(new_username)
        if tx.one("SELECT 1 FROM users WHERE username = ?", (new_username,)):
            raise Duplicate("A user named '%s' already exists." % new_username,
                           field="username")
        tx.execute("UPDATE users SET username = ? WHERE id = ?", (new_username, user_id))
        tx.emit("lab", {"object": "user", "action": "rename", "username": new_username,
                        "old": username})
        username = new_username
    unknown = set(changes) - set(_UPDATABLE_USER)
    if unknown:
        raise Invalid("Unknown user field(s): %s" % ", ".join(sorted(unknown)))
    sets, params = [], []
    for key, value in changes.items():
        if value is None:
            continue
        sets.append("%s = ?" % key)
        params.append(int(value) if isinstance(value, bool) else value)
    if password is not None:
        sets.append("password = ?")
        params.append(hash_password(password) if password else unusable_password())
    if sets:
        tx.execute("UPDATE users SET %s WHERE id = ?" % ", ".join(sets), (*params, user_id))
        tx.emit("lab", {"object": "user", "action": "update", "username": username})
    return thd_get_user(tx, user_id)


def thd_delete_user(tx: Tx, username: str) -> None:
    user_id = _user_id(tx, username)
    if tx.one("SELECT 1 FROM test_jobs WHERE submitter_id = ? LIMIT 1", (user_id,)):
        # Jobs keep their submitter: deactivate instead of losing history.
        raise Conflict("User '%s' has submitted jobs: deactivate the account instead "
                       "(is_active=false)." % username)
    for table in ("user_groups", "user_permissions", "auth_tokens", "remote_artifact_tokens"):
        tx.execute("DELETE FROM %s WHERE user_id = ?" % table, (user_id,))
    tx.execute("UPDATE devices SET physical_owner = NULL WHERE physical_owner = ?", (user_id,))
    # Named as a notification recipient of someone else's job: keep the row, drop the link.
    tx.execute("UPDATE notification_recipients SET user_id = NULL WHERE user_id = ?",
               (user_id,))
    tx.execute("DELETE FROM users WHERE id = ?", (user_id,))
    tx.emit("lab", {"object": "user", "action": "delete", "username": username})


def thd_authenticate_password(tx: Tx, username: str, password: str) -> Principal | None:
    """The principal for a username and password, or None (bad/unknown/inactive alike)."""
    row = tx.one("SELECT id, password, is_active FROM users WHERE username = ?", (username,))
    if row is None or not row["is_active"] or not check_password(password, row["password"]):
        return None
    tx.execute("UPDATE users SET last_login = ? WHERE id = ?", (tx.now(), row["id"]))
    return thd_principal(tx, row["id"])


# -- groups ---------------------------------------------------------------------------------------
def _group_id(tx: Tx, name: str) -> int:
    row = tx.one("SELECT id FROM groups WHERE name = ?", (name,))
    if row is None:
        raise NotFound("Group '%s' was not found." % name, model="Group")
    return row["id"]


def thd_add_group(tx: Tx, name: str, members: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    if not name or len(name) > 150:
        raise Invalid("A group name is 1 to 150 characters.", field="name")
    if tx.one("SELECT 1 FROM groups WHERE name = ?", (name,)):
        raise Duplicate("A group named '%s' already exists." % name, field="name")
    user_ids = [_user_id(tx, m) for m in members]
    gid = tx.execute("INSERT INTO groups (name) VALUES (?)", (name,)).lastrowid
    for uid in user_ids:
        tx.execute("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?, ?)",
                   (uid, gid))
    tx.emit("lab", {"object": "group", "action": "add", "name": name})
    return thd_get_group(tx, name)


def thd_get_group(tx: Tx, name: str) -> dict[str, Any]:
    gid = _group_id(tx, name)
    members = [r[0] for r in tx.all(
        "SELECT u.username FROM user_groups ug JOIN users u ON u.id = ug.user_id"
        " WHERE ug.group_id = ? ORDER BY u.username", (gid,))]
    return {"id": gid, "name": name, "members": members}


def thd_list_groups(tx: Tx) -> list[dict[str, Any]]:
    return [thd_get_group(tx, r[0]) for r in tx.all("SELECT name FROM groups ORDER BY name")]


def thd_update_group(tx: Tx, name: str, add_members: list[str] = (),  # type: ignore[assignment]
                     remove_members: list[str] = (),  # type: ignore[assignment]
                     rename: str | None = None) -> dict[str, Any]:
    gid = _group_id(tx, name)
    for member in add_members:
        tx.execute("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?, ?)",
                   (_user_id(tx, member), gid))
    for member in remove_members:
        tx.execute("DELETE FROM user_groups WHERE user_id = ? AND group_id = ?",
                   (_user_id(tx, member), gid))
    if rename and rename != name:
        if tx.one("SELECT 1 FROM groups WHERE name = ?", (rename,)):
            raise Duplicate("A group named '%s' already exists." % rename, field="name")
        tx.execute("UPDATE groups SET name = ? WHERE id = ?", (rename, gid))
        name = rename
    tx.emit("lab", {"object": "group", "action": "update", "name": name})
    return thd_get_group(tx, name)


def thd_delete_group(tx: Tx, name: str) -> None:
    gid = _group_id(tx, name)
    for table in ("user_groups", "group_permissions", "group_device_type_permissions",
                  "group_device_permissions", "group_worker_permissions",
                  "test_job_viewing_groups"):
        tx.execute("DELETE FROM %s WHERE group_id = ?" % table, (gid,))
    tx.execute("UPDATE devices SET physical_group = NULL WHERE physical_group = ?", (gid,))
    tx.execute("DELETE FROM groups WHERE id = ?", (gid,))
    tx.emit("lab", {"object": "group", "action": "delete", "name": name})


# -- global permissions ---------------------------------------------------------------------------
def _permission_id(tx: Tx, perm: str) -> int:
    """``app_label.codename`` (or ``app_label.model.codename``) → permission id."""
    parts = perm.split(".")
    if len(parts) == 3:
        row = tx.one("SELECT id FROM permissions WHERE app_label = ? AND model = ?"
                     " AND codename = ?", parts)
    elif len(parts) == 2:
        row = tx.one("SELECT id FROM permissions WHERE app_label = ? AND codename = ?", parts)
    else:
        row = None
    if row is None:
        raise NotFound("Invalid permission '%s'" % perm, model="Permission")
    return row["id"]


def thd_grant(tx: Tx, perm: str, user: str | None = None, group: str | None = None) -> None:
    pid = _permission_id(tx, perm)
    if user is not None:
        tx.execute("INSERT OR IGNORE INTO user_permissions VALUES (?, ?)",
                   (_user_id(tx, user), pid))
    if group is not None:
        tx.execute("INSERT OR IGNORE INTO group_permissions VALUES (?, ?)",
                   (_group_id(tx, group), pid))


def thd_revoke(tx: Tx, perm: str, user: str | None = None, group: str | None = None) -> None:
    pid = _permission_id(tx, perm)
    if user is not None:
        tx.execute("DELETE FROM user_permissions WHERE user_id = ? AND permission_id = ?",
                   (_user_id(tx, user), pid))
    if group is not None:
        tx.execute("DELETE FROM group_permissions WHERE group_id = ? AND permission_id = ?",
                   (_group_id(tx, group), pid))


def thd_list_perms(tx: Tx, user: str | None = None, group: str | None = None) -> list[dict[str, str]]:
    if user is not None:
        rows = tx.all("SELECT p.app_label, p.model, p.codename FROM user_permissions up"
                      " JOIN permissions p ON p.id = up.permission_id WHERE up.user_id = ?"
                      " ORDER BY p.app_label, p.model, p.codename", (_user_id(tx, user),))
    else:
        assert group is not None
        rows = tx.all("SELECT p.app_label, p.model, p.codename FROM group_permissions gp"
                      " JOIN permissions p ON p.id = gp.permission_id WHERE gp.group_id = ?"
                      " ORDER BY p.app_label, p.model, p.codename", (_group_id(tx, group),))
    return [{"app": r[0], "model": r[1], "codename": r[2]} for r in rows]


# -- API tokens ---------------------------------------------------------------------------------------
def _token_dict(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "user_id", "secret", "description", "created_on",
                                "last_used_on", "expires_on")} | {"username": row["username"]}


def thd_add_token(tx: Tx, username: str, description: str = "", secret: str | None = None,
                  expires_on: str | None = None) -> dict[str, Any]:
    uid = _user_id(tx, username)
    secret = secret or new_api_secret()
    if not secret or any(c.isspace() for c in secret):
        raise Invalid("A token secret must not be empty or contain spaces.", field="secret")
    if len(secret) > 128:
        raise Invalid("A token secret is at most 128 characters.", field="secret")
    if tx.one("SELECT 1 FROM auth_tokens WHERE secret = ?", (secret,)):
        raise Conflict("That token secret is already in use.", field="secret")
    tid = tx.execute("INSERT INTO auth_tokens (user_id, secret, description, created_on,"
                     " expires_on) VALUES (?, ?, ?, ?, ?)",
                     (uid, secret, description or "", tx.now(), expires_on)).lastrowid
    return thd_get_token(tx, tid)


def thd_get_token(tx: Tx, token_id: int) -> dict[str, Any]:
    row = tx.one("SELECT t.*, u.username FROM auth_tokens t JOIN users u ON u.id = t.user_id"
                 " WHERE t.id = ?", (token_id,))
    if row is None:
        raise NotFound("Token %s was not found." % token_id, model="AuthToken")
    return _token_dict(row)


def thd_list_tokens(tx: Tx, username: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT t.*, u.username FROM auth_tokens t JOIN users u ON u.id = t.user_id"
    params: tuple[Any, ...] = ()
    if username is not None:
        sql += " WHERE t.user_id = ?"
        params = (_user_id(tx, username),)
    return [_token_dict(r) for r in tx.all(sql + " ORDER BY t.id", params)]


def thd_delete_token(tx: Tx, token_id: int, username: str | None = None) -> None:
    sql, params = "DELETE FROM auth_tokens WHERE id = ?", [token_id]
    if username is not None:
        sql += " AND user_id = ?"
        params.append(_user_id(tx, username))
    if tx.execute(sql, params).rowcount == 0:
        raise NotFound("Token %s was not found." % token_id, model="AuthToken")


def thd_authenticate_token(tx: Tx, secret: str, username: str | None = None,
                           touch: bool = False) -> Principal | None:
    """The principal owning ``secret`` (and named ``username`` when given), or None.

    Expired tokens and inactive users do not authenticate.  ``touch`` records
    the use (XML-RPC does, REST does not, as in LAVA).
    """
    row = tx.one("SELECT t.id, t.user_id, t.expires_on, u.username, u.is_active"
                 " FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE t.secret = ?",
                 (secret,))
    if row is None or not row["is_active"]:
        return None
    if username is not None and row["username"] != username:
        return None
    if row["expires_on"] and row["expires_on"] <= tx.now():
        return None
    if touch:
        tx.execute("UPDATE auth_tokens SET last_used_on = ? WHERE id = ?", (tx.now(), row["id"]))
    return thd_principal(tx, row["user_id"])


def thd_token_principal(tx: Tx, secret: str) -> Principal | str:
    """The token's principal, or ``"inactive"`` (its owner is deactivated) / ``"invalid"``.

    REST tells the two failures apart in its error body and, as LAVA, does not
    touch ``last_used_on``.
    """
    principal = thd_authenticate_token(tx, secret)
    if principal is not None:
        return principal
    inactive = tx.one("SELECT 1 FROM auth_tokens t JOIN users u ON u.id = t.user_id"
                      " WHERE t.secret = ? AND u.is_active = 0", (secret,))
    return "inactive" if inactive else "invalid"


def thd_first_or_new_token(tx: Tx, user_id: int) -> str:
    """The REST token endpoint: the user's first token, or a new one."""
    row = tx.one("SELECT secret FROM auth_tokens WHERE user_id = ? ORDER BY id LIMIT 1",
                 (user_id,))
    if row is not None:
        return row["secret"]
    username = tx.scalar("SELECT username FROM users WHERE id = ?", (user_id,))
    return thd_add_token(tx, username, "Created by REST API call")["secret"]


# Public names for the lookups other domain modules share (NotFound when missing).
user_id = _user_id
group_id = _group_id
