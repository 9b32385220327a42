"""``lavad manage``: the administrator's command line, shaped like ``lava-server manage``.

A thin adapter: it parses the arguments, runs the domain ``thd_*`` functions
through a :class:`~lavad.store.tx.SyncStore` on the server's database (SQLite
in WAL mode, so it works while the server runs; events go to the outbox for
the server to publish) and prints what they return.  The rules live in the
domain modules; the only checks here are about the command line itself (a
device dictionary file must be readable text).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from typing import Any, Callable, Iterable

import jinja2
import yaml

from lavad import devices, users
from lavad.config import ConfigError, Settings, load_settings
from lavad.errors import LavadError
from lavad.store.schema import SchemaError, open_database
from lavad.store.tx import SyncStore

PROG = "lavad manage"
DATABASE_NAME = "lavad.sqlite3"
FORMATS = ("text", "yaml", "json")
SECRET_PREFIX = 8

Handler = Callable[[SyncStore, argparse.Namespace], None]


class ManageError(Exception):
    """A problem with the command line itself (a bad file, an unusable data directory)."""


# -- where the data lives -------------------------------------------------------------------------
def resolve_data_dir(args: argparse.Namespace) -> str:
    """The data directory, with the server's precedence: command line, config file, default."""
    try:
        return load_settings({"data_dir": args.data_dir}, args.config).data_dir
    except ConfigError as exc:
        raise ManageError(str(exc)) from None


def open_store(data_dir: str) -> SyncStore:
    """The store in ``data_dir``, creating the directory and the database on first use."""
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as exc:
        raise ManageError("cannot create the data directory %s: %s"
                          % (data_dir, exc.strerror or exc)) from None
    return SyncStore(open_database(os.path.join(data_dir, DATABASE_NAME)))


# -- reading files --------------------------------------------------------------------------------
def read_dictionary(path: str) -> str:
    """The text of a jinja2 device dictionary file, or ManageError naming the file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ManageError("cannot read device dictionary %s: %s"
                          % (path, exc.strerror or exc)) from None
    if b"\0" in data:
        raise ManageError("device dictionary %s is a binary file, not jinja2 text" % path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManageError("device dictionary %s is not UTF-8 text" % path) from None
    if not text.strip():
        raise ManageError("device dictionary %s is empty" % path)
    try:
        jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ManageError("device dictionary %s is not a valid jinja2 template (line %s: %s)"
                          % (path, exc.lineno, exc.message)) from None
    return text


# -- printing -------------------------------------------------------------------------------------
def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def text_line(record: dict[str, Any], key: str) -> str:
    """``* KEY field=value ...``: one object per line, empty fields left out."""
    parts = ["*", _scalar(record[key])]
    for name, value in record.items():
        if name == key or value is None or value == "" or value == []:
            continue
        parts.append("%s=%s" % (name, _scalar(value)))
    return " ".join(parts)


def _dump(value: Any, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(value, indent=2, ensure_ascii=False))
    else:
        print(yaml.safe_dump(value, sort_keys=False, allow_unicode=True,
                             default_flow_style=False), end="")


def output(records: Iterable[dict[str, Any]], key: str, fmt: str = "text") -> None:
    """Records as text lines, or as one JSON/YAML list."""
    if fmt == "text":
        for record in records:
            print(text_line(record, key))
    else:
        _dump(list(records), fmt)


def output_one(record: dict[str, Any], key: str, fmt: str = "text") -> None:
    """One record as a text line, or as a JSON/YAML mapping."""
    if fmt == "text":
        print(text_line(record, key))
    else:
        _dump(record, fmt)


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _given(**fields: Any) -> dict[str, Any]:
    """The options the user gave (argparse leaves the others at None)."""
    return {k: v for k, v in fields.items() if v is not None}


# -- users ----------------------------------------------------------------------------------------
def _user_fields(args: argparse.Namespace) -> dict[str, Any]:
    return _given(email=args.email, first_name=args.first_name, last_name=args.last_name,
                  is_superuser=args.is_superuser, is_staff=args.is_staff,
                  is_active=args.is_active, irc_handle=args.irc_handle,
                  irc_server=args.irc_server)


def users_add(store: SyncStore, args: argparse.Namespace) -> None:
    user = store.run(users.thd_add_user, args.username, password=args.passwd,
                     **_user_fields(args))
    output_one(user, "username")


def users_update(store: SyncStore, args: argparse.Namespace) -> None:
    user = store.run(users.thd_update_user, args.username, password=args.passwd,
                     **_user_fields(args))
    output_one(user, "username")


def users_list(store: SyncStore, args: argparse.Namespace) -> None:
    output(store.run(users.thd_list_users), "username", args.format)


def users_show(store: SyncStore, args: argparse.Namespace) -> None:
    user = store.run(users.thd_get_user, args.username)
    user["permissions"] = [_perm_name(p) for p in
                           store.run(users.thd_list_perms, user=args.username)]
    output_one(user, "username", args.format)


# -- groups ---------------------------------------------------------------------------------------
def groups_add(store: SyncStore, args: argparse.Namespace) -> None:
    members = (_csv(args.members) or []) + (args.member or [])
    output_one(store.run(users.thd_add_group, args.name, members), "name")


def groups_update(store: SyncStore, args: argparse.Namespace) -> None:
    group = store.run(users.thd_update_group, args.name, add_members=args.add_member or [],
                      remove_members=args.remove_member or [], rename=args.rename)
    output_one(group, "name")


def groups_list(store: SyncStore, args: argparse.Namespace) -> None:
    output(store.run(users.thd_list_groups), "name", args.format)


# -- tokens ---------------------------------------------------------------------------------------
def tokens_add(store: SyncStore, args: argparse.Namespace) -> None:
    token = store.run(users.thd_add_token, args.user, description=args.description or "",
                      secret=args.secret)
    print(token["secret"])


def tokens_list(store: SyncStore, args: argparse.Namespace) -> None:
    rows = []
    for token in store.run(users.thd_list_tokens, args.user):
        secret = token["secret"]
        if not args.show_secrets:
            secret = secret[:SECRET_PREFIX] + "…"
        rows.append({"id": token["id"], "user": token["username"],
                     "description": token["description"], "created": token["created_on"],
                     "last_used": token["last_used_on"], "expires": token["expires_on"],
                     "secret": secret})
    output(rows, "id", args.format)


def tokens_rm(store: SyncStore, args: argparse.Namespace) -> None:
    store.run(users.thd_delete_token, args.id, args.user)


# -- device types, aliases, tags ------------------------------------------------------------------
def _device_type_fields(args: argparse.Namespace) -> dict[str, Any]:
    return _given(description=args.description, architecture=args.architecture,
                  processor=args.processor, cpu_model=args.cpu_model, bits=args.bits,
                  cores=_csv(args.cores), core_count=args.core_count,
                  health_frequency=args.health_frequency,
                  health_denominator=args.health_denominator,
                  disable_health_check=args.disable_health_check, display=args.display,
                  aliases=args.alias)


def device_types_add(store: SyncStore, args: argparse.Namespace) -> None:
    dt = store.run(devices.thd_add_device_type, args.name, **_device_type_fields(args))
    output_one(dt, "name")


def device_types_update(store: SyncStore, args: argparse.Namespace) -> None:
    dt = store.run(devices.thd_update_device_type, args.name, **_device_type_fields(args))
    output_one(dt, "name")


def device_types_list(store: SyncStore, args: argparse.Namespace) -> None:
    output(store.run(devices.thd_list_device_types), "name", args.format)


def aliases_add(store: SyncStore, args: argparse.Namespace) -> None:
    output_one(store.run(devices.thd_add_alias, args.name, args.device_type), "name")


def aliases_list(store: SyncStore, args: argparse.Namespace) -> None:
    output(store.run(devices.thd_list_aliases), "name", args.format)


def tags_add(store: SyncStore, args: argparse.Namespace) -> None:
    output_one(store.run(devices.thd_add_tag, args.name, args.description), "name")


def tags_list(store: SyncStore, args: argparse.Namespace) -> None:
    output(store.run(devices.thd_list_tags), "name", args.format)


# -- devices --------------------------------------------------------------------------------------
def _device_fields(args: argparse.Namespace) -> dict[str, Any]:
    return _given(device_type=getattr(args, "device_type", None), worker_host=args.worker,
                  tags=_csv(args.tags), health=args.health, description=args.description,
                  physical_owner=args.owner, physical_group=args.group,
                  dictionary=read_dictionary(args.dictionary) if args.dictionary else None)


def _named_devices(store: SyncStore, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Devices with tag, owner and group names instead of the ids the domain returns."""
    tags = {t["id"]: t["name"] for t in store.run(devices.thd_list_tags)}
    people = {u["id"]: u["username"] for u in store.run(users.thd_list_users)}
    groups = {g["id"]: g["name"] for g in store.run(users.thd_list_groups)}
    for record in records:
        record["tags"] = [tags.get(t, t) for t in record["tags"]]
        record["physical_owner"] = people.get(record["physical_owner"],
                                              record["physical_owner"])
        record["physical_group"] = groups.get(record["physical_group"],
                                              record["physical_group"])
    return records


def devices_add(store: SyncStore, args: argparse.Namespace) -> None:
    fields = _device_fields(args)
    device = store.run(devices.thd_add_device, args.hostname, fields.pop("device_type"),
                       **fields)
    output_one(_named_devices(store, [device])[0], "hostname")


def devices_update(store: SyncStore, args: argparse.Namespace) -> None:
    device = store.run(devices.thd_update_device, args.hostname, reason=args.reason,
                       **_device_fields(args))
    output_one(_named_devices(store, [device])[0], "hostname")


def devices_list(store: SyncStore, args: argparse.Namespace) -> None:
    records = store.run(devices.thd_list_devices, include_retired=args.all)
    output(_named_devices(store, records), "hostname", args.format)


# -- workers --------------------------------------------------------------------------------------
def workers_add(store: SyncStore, args: argparse.Namespace) -> None:
    worker = store.run(devices.thd_add_worker, args.hostname, **_given(
        description=args.description, job_limit=args.job_limit, health=args.health,
        token=args.token))
    print(worker["token"])


def workers_update(store: SyncStore, args: argparse.Namespace) -> None:
    worker = store.run(devices.thd_update_worker, args.hostname, reason=args.reason,
                       **_given(description=args.description, job_limit=args.job_limit,
                                health=args.health))
    worker.pop("token", None)
    output_one(worker, "hostname")


def workers_list(store: SyncStore, args: argparse.Namespace) -> None:
    output(store.run(devices.thd_list_workers), "hostname", args.format)


# -- permissions ----------------------------------------------------------------------------------
def _perm_name(perm: dict[str, str]) -> str:
    return "%s.%s" % (perm["app"], perm["codename"])


def _target(args: argparse.Namespace) -> tuple[str, str] | None:
    for kind, value in (("devicetype", args.device_type), ("device", args.device),
                        ("worker", args.worker)):
        if value is not None:
            return kind, value
    return None


def permissions_add(store: SyncStore, args: argparse.Namespace) -> None:
    kind, obj = _target(args)  # type: ignore[misc]  # argparse requires one
    perm = store.run(devices.thd_add_object_permission, kind, args.group, args.permission, obj)
    output_one({"id": perm["id"], "kind": kind, "object": obj, "group": perm["group"],
                "permission": perm["permission"]}, "id")


def permissions_rm(store: SyncStore, args: argparse.Namespace) -> None:
    kind, obj = _target(args)  # type: ignore[misc]  # argparse requires one
    store.run(devices.thd_delete_object_permission, kind, args.group, args.permission, obj)


def permissions_list(store: SyncStore, args: argparse.Namespace) -> None:
    if args.user is not None or args.group is not None:
        perms = store.run(users.thd_list_perms, user=args.user, group=args.group)
        holder = {"user": args.user} if args.user is not None else {"group": args.group}
        output([{"permission": _perm_name(p), **holder} for p in perms], "permission",
               args.format)
        return
    target = _target(args)
    kinds = [target[0]] if target else ["devicetype", "device", "worker"]
    rows = []
    for kind in kinds:
        for perm in store.run(devices.thd_list_object_permissions, kind,
                              target[1] if target else None):
            rows.append({"id": perm["id"], "kind": kind, "object": perm[kind],
                         "group": perm["group"], "permission": perm["permission"]})
    output(rows, "id", args.format)


def permissions_grant(store: SyncStore, args: argparse.Namespace) -> None:
    store.run(users.thd_grant, args.perm, user=args.user, group=args.group)


def permissions_revoke(store: SyncStore, args: argparse.Namespace) -> None:
    store.run(users.thd_revoke, args.perm, user=args.user, group=args.group)


# -- the parser -----------------------------------------------------------------------------------
def _global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--data-dir", default=default, metavar="DIR",
                        help="the server's data directory (default: from --config, else %s)"
                        % Settings.data_dir)
    parser.add_argument("--config", default=default, metavar="FILE",
                        help="the server's YAML configuration file")


class _Commands:
    """Builds ``NOUN VERB`` parsers that also accept the global options after the verb."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.late = argparse.ArgumentParser(add_help=False)
        _global_options(self.late, argparse.SUPPRESS)
        self.nouns = parser.add_subparsers(dest="noun", metavar="COMMAND", required=True)

    def noun(self, name: str, help: str) -> Any:
        parser = self.nouns.add_parser(name, help=help, description=help)
        return parser.add_subparsers(dest="verb", metavar="ACTION", required=True)

    def verb(self, verbs: Any, name: str, handler: Handler, help: str,
             listing: bool = False) -> argparse.ArgumentParser:
        parser = verbs.add_parser(name, help=help, description=help, parents=[self.late])
        parser.set_defaults(handler=handler)
        if listing:
            parser.add_argument("--format", choices=FORMATS, default="text",
                                help="output format (default: text, one object per line)")
        return parser


def _user_options(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument("username")
    parser.add_argument("--passwd", help="the password (without it, password login is off)")
    parser.add_argument("--email")
    parser.add_argument("--first-name")
    parser.add_argument("--last-name")
    parser.add_argument("--irc-handle")
    parser.add_argument("--irc-server")
    if update:
        parser.add_argument("--superuser", dest="is_superuser",
                            action=argparse.BooleanOptionalAction)
        parser.add_argument("--staff", dest="is_staff", action=argparse.BooleanOptionalAction)
        active = parser.add_mutually_exclusive_group()
        active.add_argument("--active", dest="is_active", action="store_const", const=True)
        active.add_argument("--inactive", dest="is_active", action="store_const", const=False)
    else:
        parser.add_argument("--superuser", dest="is_superuser", action="store_const",
                            const=True)
        parser.add_argument("--staff", dest="is_staff", action="store_const", const=True)
        parser.add_argument("--inactive", dest="is_active", action="store_const", const=False)


def _device_type_options(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument("name")
    parser.add_argument("--description")
    parser.add_argument("--architecture")
    parser.add_argument("--processor")
    parser.add_argument("--cpu-model")
    parser.add_argument("--bits", type=int)
    parser.add_argument("--cores", metavar="A,B", help="comma-separated core names")
    parser.add_argument("--core-count", type=int)
    parser.add_argument("--health-frequency", type=int, metavar="N")
    parser.add_argument("--health-denominator", metavar="hours|jobs")
    parser.add_argument("--alias", action="append", metavar="ALIAS",
                        help="an alias (repeat for several)%s"
                        % ("; replaces the existing aliases" if update else ""))
    health = parser.add_mutually_exclusive_group()
    health.add_argument("--disable-health-check", dest="disable_health_check",
                        action="store_const", const=True)
    display = parser.add_mutually_exclusive_group()
    display.add_argument("--hidden", dest="display", action="store_const", const=False)
    if update:
        health.add_argument("--enable-health-check", dest="disable_health_check",
                            action="store_const", const=False)
        display.add_argument("--display", dest="display", action="store_const", const=True)


def _device_options(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument("hostname")
    parser.add_argument("--device-type", required=not update, metavar="TYPE")
    parser.add_argument("--worker", metavar="HOSTNAME")
    parser.add_argument("--tags", metavar="T1,T2", help="comma-separated tag names%s"
                        % ("; replaces the existing tags" if update else ""))
    parser.add_argument("--health", metavar="HEALTH",
                        help="Good, Unknown, Looping, Bad, Maintenance or Retired")
    parser.add_argument("--dictionary", metavar="FILE", help="a jinja2 device dictionary file")
    parser.add_argument("--description")
    parser.add_argument("--owner", metavar="USER", help="the physical owner")
    parser.add_argument("--group", metavar="GROUP", help="the physical group")
    if update:
        parser.add_argument("--reason", help="why (recorded with a health change)")


def _worker_options(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument("hostname")
    parser.add_argument("--description")
    parser.add_argument("--job-limit", type=int, metavar="N")
    parser.add_argument("--health", metavar="HEALTH", help="Active, Maintenance or Retired")
    if update:
        parser.add_argument("--reason", help="why (recorded with a health change)")
    else:
        parser.add_argument("--token", help="the worker token (default: a new random one)")


def _object_options(parser: argparse.ArgumentParser, required: bool) -> None:
    target = parser.add_mutually_exclusive_group(required=required)
    target.add_argument("--device-type", metavar="NAME")
    target.add_argument("--device", metavar="HOSTNAME")
    target.add_argument("--worker", metavar="HOSTNAME")


def _holder_options(parser: argparse.ArgumentParser, required: bool) -> None:
    holder = parser.add_mutually_exclusive_group(required=required)
    holder.add_argument("--user", metavar="USERNAME")
    holder.add_argument("--group", metavar="GROUP")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and sub-commands of ``lavad manage``."""
    _global_options(parser, None)
    cmds = _Commands(parser)

    verbs = cmds.noun("users", "user accounts")
    _user_options(cmds.verb(verbs, "add", users_add, "add a user"), update=False)
    _user_options(cmds.verb(verbs, "update", users_update, "change a user"), update=True)
    cmds.verb(verbs, "list", users_list, "list the users", listing=True)
    cmds.verb(verbs, "show", users_show, "show one user", listing=True).add_argument(
        "username")

    verbs = cmds.noun("groups", "groups of users")
    p = cmds.verb(verbs, "add", groups_add, "add a group")
    p.add_argument("name")
    p.add_argument("--members", metavar="U1,U2", help="comma-separated usernames")
    p.add_argument("--member", action="append", metavar="USERNAME", help="repeatable")
    p = cmds.verb(verbs, "update", groups_update, "change a group")
    p.add_argument("name")
    p.add_argument("--add-member", action="append", metavar="USERNAME", help="repeatable")
    p.add_argument("--remove-member", action="append", metavar="USERNAME", help="repeatable")
    p.add_argument("--rename", metavar="NEW_NAME")
    cmds.verb(verbs, "list", groups_list, "list the groups", listing=True)

    verbs = cmds.noun("tokens", "API tokens (the secrets lavacli and XML-RPC use)")
    p = cmds.verb(verbs, "add", tokens_add, "add a token and print its secret")
    p.add_argument("--user", required=True, metavar="USERNAME")
    p.add_argument("--description")
    p.add_argument("--secret", help="the secret (default: a new random one)")
    p = cmds.verb(verbs, "list", tokens_list, "list the tokens", listing=True)
    p.add_argument("--user", metavar="USERNAME")
    p.add_argument("--show-secrets", action="store_true", help="print the whole secrets")
    p = cmds.verb(verbs, "rm", tokens_rm, "delete a token")
    p.add_argument("id", type=int)
    p.add_argument("--user", metavar="USERNAME", help="only if it belongs to this user")

    verbs = cmds.noun("device-types", "device types")
    _device_type_options(cmds.verb(verbs, "add", device_types_add, "add a device type"),
                         update=False)
    _device_type_options(cmds.verb(verbs, "update", device_types_update,
                                   "change a device type"), update=True)
    cmds.verb(verbs, "list", device_types_list, "list the device types", listing=True)

    verbs = cmds.noun("devices", "devices")
    _device_options(cmds.verb(verbs, "add", devices_add, "add a device"), update=False)
    _device_options(cmds.verb(verbs, "update", devices_update, "change a device"),
                    update=True)
    cmds.verb(verbs, "list", devices_list, "list the devices", listing=True).add_argument(
        "--all", action="store_true", help="include retired devices")

    verbs = cmds.noun("workers", "workers")
    _worker_options(cmds.verb(verbs, "add", workers_add, "add a worker and print its token"),
                    update=False)
    _worker_options(cmds.verb(verbs, "update", workers_update, "change a worker"),
                    update=True)
    cmds.verb(verbs, "list", workers_list, "list the workers", listing=True)

    verbs = cmds.noun("tags", "device tags")
    p = cmds.verb(verbs, "add", tags_add, "add a tag")
    p.add_argument("name")
    p.add_argument("--description")
    cmds.verb(verbs, "list", tags_list, "list the tags", listing=True)

    verbs = cmds.noun("aliases", "device-type aliases")
    p = cmds.verb(verbs, "add", aliases_add, "add an alias")
    p.add_argument("name")
    p.add_argument("--device-type", required=True, metavar="NAME")
    cmds.verb(verbs, "list", aliases_list, "list the aliases", listing=True)

    verbs = cmds.noun("permissions", "group permissions on objects, global permissions")
    for verb, handler, help in (
            ("add", permissions_add, "give a group a permission on one object"),
            ("rm", permissions_rm, "take a group's permission on one object away")):
        p = cmds.verb(verbs, verb, handler, help)
        p.add_argument("--group", required=True)
        _object_options(p, required=True)
        p.add_argument("--permission", required=True, metavar="CODENAME",
                       help="e.g. view_devicetype, submit_to_device, change_worker")
    p = cmds.verb(verbs, "list", permissions_list,
                  "list object permissions (or a user's or group's global ones)",
                  listing=True)
    _object_options(p, required=False)
    _holder_options(p, required=False)
    for verb, handler, help in (
            ("grant", permissions_grant, "give a user or group a global permission"),
            ("revoke", permissions_revoke, "take a global permission away")):
        p = cmds.verb(verbs, verb, handler, help)
        _holder_options(p, required=True)
        p.add_argument("perm", metavar="PERM",
                       help="app_label.codename, e.g. lava_scheduler_app.add_device")


def error(message: str) -> int:
    print("%s: error: %s" % (PROG, message), file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Run one parsed ``lavad manage`` command; 0 on success, 1 on an expected error."""
    try:
        store = open_store(resolve_data_dir(args))
    except (ManageError, SchemaError) as exc:
        return error(str(exc))
    except sqlite3.Error as exc:
        return error("cannot open the database: %s" % exc)
    try:
        args.handler(store, args)
    except LavadError as exc:
        return error(exc.message)
    except ManageError as exc:
        return error(str(exc))
    except sqlite3.Error as exc:
        return error("database error: %s" % exc)
    finally:
        store.close()
    return 0

