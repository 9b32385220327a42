"""A job's ``notify:`` block at submission: the checks beyond the schema, and storage.

The block is stored with the job (tables ``notifications``,
``notification_recipients``, ``notification_callbacks``) so the notifier only
has to read rows.  What LAVA resolves when the criteria first match is left
to the notifier:

* a recipient ``user: {LAVA_DEVICE_OWNER}`` is stored with ``user_id`` NULL and
  :data:`DEVICE_OWNER` in ``email`` (unless an explicit ``email`` was given):
  the notifier resolves it to the device's physical owner, and skips it when
  there is none;
* an email recipient without ``email`` uses the user's address, an IRC one
  without ``handle``/``server`` the user's IRC profile;
* callback URLs are stored as written: their ``{ID}``-style placeholders are
  substituted by the notifier.

The callback ``token`` is resolved here, from the submitter's tokens.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lavad.store.tx import Tx

DEVICE_OWNER = "{LAVA_DEVICE_OWNER}"

VERBOSITY = {"verbose": 0, "quiet": 1, "status-only": 2}
RECIPIENT_METHOD = {"email": 0, "irc": 1}
CALLBACK_METHOD = {"GET": 0, "POST": 1}
CALLBACK_DATASET = {"minimal": 0, "logs": 1, "results": 2, "all": 3}
CALLBACK_CONTENT_TYPE = {"urlencoded": 0, "json": 1}
NOT_SENT = 1
DEFAULT_TEMPLATE = "testjob_notification.txt"

# An address is a dot-atom local part and a domain of dot-separated labels
# (with a TLD of two or more characters), ``localhost``, or a bracketed IP.
_LOCAL = re.compile(r"^[-!#$%&'*+/=?^_`{}|~0-9a-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*$", re.I)
_QUOTED_LOCAL = re.compile(r'^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014'
                           r'\016-\177])*"$', re.I)
_DOMAIN = re.compile(r"^((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+)"
                     r"(?:[a-z0-9-]{2,63}(?<!-))$", re.I)
_LITERAL = re.compile(r"^\[([a-f0-9:.]+)\]$", re.I)


def is_valid_email(value: str) -> bool:
    """An email address as a web framework's validator would accept it."""
    if not value or "@" not in value or len(value) > 320:
        return False
    local, domain = value.rsplit("@", 1)
    if not (_LOCAL.match(local) or _QUOTED_LOCAL.match(local)):
        return False
    if domain == "localhost" or _LITERAL.match(domain):
        return True
    if _DOMAIN.match(domain):
        return True
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return ascii_domain != domain and bool(_DOMAIN.match(ascii_domain))


def thd_check_notify(tx: Tx, notify: dict[str, Any]) -> str | None:
    """The first problem with a (schema-valid) notify block, or None."""
    for recipient in notify.get("recipients") or []:
        to = recipient["to"]
        if to["method"] == "email":
            if "email" not in to and "user" not in to:
                return "No valid user or email address specified."
        elif "handle" not in to and "user" not in to:
            return "No valid user or IRC handle specified."
        if "user" in to and to["user"] != DEVICE_OWNER:
            if tx.one("SELECT 1 FROM users WHERE username = ?", (to["user"],)) is None:
                return "%r is not an existing user in LAVA." % to["user"]
        elif "email" in to and not is_valid_email(to["email"]):
            return "%r is not a valid email address." % to["email"]
    query = (notify.get("compare") or {}).get("query")
    if query is not None:
        if "username" in query:
            # lavad keeps no stored queries.
            return "Query ~%s/%s does not exist" % (query["username"], query["name"])
        if query["entity"] != "testjob":
            return "Only TestJob queries allowed."
        conditions = query.get("conditions")
        if conditions is None:
            return "'NoneType' object is not iterable"
        from lavad.notify.query import thd_check_conditions  # lavad.notify imports this module
        return thd_check_conditions(tx, ",".join("%s__%s" % (k, v)
                                                 for k, v in conditions.items()))
    return None


def _token(tx: Tx, user_id: int, name: str) -> str:
    """A callback token: the secret of the submitter's API token with that
    description, else its remote-artifact token of that name, else the text."""
    secret = tx.scalar("SELECT secret FROM auth_tokens WHERE user_id = ? AND description = ?"
                       " ORDER BY id LIMIT 1", (user_id, name))
    if secret is None:
        secret = tx.scalar("SELECT token FROM remote_artifact_tokens WHERE user_id = ? AND"
                           " name = ? ORDER BY id LIMIT 1", (user_id, name))
    return name if secret is None else secret


def _add_callback(tx: Tx, notification_id: int, submitter_id: int,
                  callback: dict[str, Any]) -> None:
    token = header = None
    if callback.get("token"):
        token = _token(tx, submitter_id, callback["token"])
        header = callback.get("header", "Authorization")
    tx.execute(
        "INSERT INTO notification_callbacks (notification_id, url, method, token, header,"
        " dataset, content_type, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (notification_id, callback["url"], CALLBACK_METHOD[callback.get("method", "GET")],
         token, header, CALLBACK_DATASET[callback.get("dataset", "minimal")],
         CALLBACK_CONTENT_TYPE[callback.get("content-type", "urlencoded")], NOT_SENT))


def _add_recipient(tx: Tx, notification_id: int, method: int, user_id: int | None,
                   email: str | None = None, handle: str | None = None,
                   server: str | None = None) -> None:
    if user_id is not None and tx.one(
            "SELECT 1 FROM notification_recipients WHERE notification_id = ? AND user_id = ?"
            " AND method = ?", (notification_id, user_id, method)):
        return  # one recipient per (user, method)
    tx.execute("INSERT INTO notification_recipients (notification_id, method, user_id, email,"
               " irc_handle, irc_server, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (notification_id, method, user_id, email, handle, server, NOT_SENT))


def thd_store_notify(tx: Tx, job_id: int, submitter_id: int, notify: dict[str, Any]) -> int:
    """Store a checked notify block for ``job_id``; returns the notification id."""
    compare = notify.get("compare") or {}
    query = compare.get("query") or {}
    conditions = None
    if "entity" in query and query.get("conditions") is not None:
        conditions = ",".join("%s__%s" % (k, v) for k, v in query["conditions"].items())
    cursor = tx.execute(
        "INSERT INTO notifications (job_id, verbosity, type, blacklist, query_owner_id,"
        " query_name, entity, conditions, template, created)"
        " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
        (job_id, VERBOSITY[notify.get("verbosity", "quiet")], notify["criteria"].get("type"),
         json.dumps(list(compare.get("blacklist") or [])), query.get("name"),
         query.get("entity"), conditions, DEFAULT_TEMPLATE, tx.now()))
    notification_id = int(cursor.lastrowid or 0)
    if "recipients" in notify:
        for recipient in notify["recipients"] or []:
            to = recipient["to"]
            method = RECIPIENT_METHOD[to["method"]]
            user_id, email = None, to.get("email")
            if to.get("user") == DEVICE_OWNER:
                email = email or DEVICE_OWNER
            elif "user" in to:
                user_id = tx.scalar("SELECT id FROM users WHERE username = ?", (to["user"],))
            _add_recipient(tx, notification_id, method, user_id, email, to.get("handle"),
                           to.get("server"))
    elif "callback" not in notify and "callbacks" not in notify:
        _add_recipient(tx, notification_id, RECIPIENT_METHOD["email"], submitter_id)
    for callback in notify.get("callbacks") or []:
        _add_callback(tx, notification_id, submitter_id, callback)
    if notify.get("callback"):
        _add_callback(tx, notification_id, submitter_id, notify["callback"])
    return notification_id
