"""The lavad schema and its versioned migrations.

The version lives in ``PRAGMA user_version``.  Each migration is one function
applied in one transaction; a database newer than this code is refused.
Tables are declared with sqlite-utils (which generates the DDL) and executed
inside our own transaction so a failed migration leaves nothing behind.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a migration runs: a server whose schema is current
    from sqlite_utils import Database  # never loads sqlite-utils (a few MiB resident)


class SchemaError(Exception):
    """The database cannot be used by this lavad (too new, or not lavad's)."""


def _table(db: Database, name: str, columns: dict[str, Any], *, pk: Any = "id",
           fks: list[tuple[str, str, str]] | None = None,
           not_null: set[str] | None = None,
           defaults: dict[str, Any] | None = None) -> None:
    sql = db.create_table_sql(name, columns, pk=pk, foreign_keys=fks or [],
                              not_null=not_null or set(), defaults=defaults or {})
    db.conn.execute(sql)


def _index(db: Database, table: str, *columns: str, unique: bool = False) -> None:
    name = "idx_%s_%s" % (table, "_".join(c.split()[0] for c in columns))
    db.conn.execute("CREATE %sINDEX %s ON %s (%s)" % (
        "UNIQUE " if unique else "", name, table, ", ".join(columns)))


# The Django-style global permissions lavad knows (app_label, model, codename).
PERMISSION_MODELS = {
    "auth": ["user", "group", "permission"],
    "lava_scheduler_app": ["device", "devicetype", "worker", "tag", "alias", "testjob",
                           "architecture", "processorfamily", "core", "bitwidth",
                           "jobfailuretag", "remoteartifactstoken"],
    "lava_results_app": ["testsuite", "testcase", "testset", "query"],
}
EXTRA_PERMISSIONS = [
    ("lava_scheduler_app", "devicetype", "submit_to_devicetype"),
    ("lava_scheduler_app", "device", "submit_to_device"),
    ("lava_scheduler_app", "testjob", "cancel_resubmit_testjob"),
]


def _migration_1(db: Database) -> None:
    """The lab: accounts, the device model, jobs and results."""
    # -- accounts ------------------------------------------------------------
    _table(db, "users", {"id": int, "username": str, "password": str, "first_name": str,
                         "last_name": str, "email": str, "is_active": int, "is_staff": int,
                         "is_superuser": int, "last_login": str, "date_joined": str},
           not_null={"username", "password", "is_active", "is_staff", "is_superuser",
                     "date_joined"},
           defaults={"first_name": "", "last_name": "", "email": "", "is_active": 1,
                     "is_staff": 0, "is_superuser": 0})
    _index(db, "users", "username", unique=True)
    _table(db, "groups", {"id": int, "name": str}, not_null={"name"})
    _index(db, "groups", "name", unique=True)
    _table(db, "user_groups", {"user_id": int, "group_id": int}, pk=("user_id", "group_id"),
           fks=[("user_id", "users", "id"), ("group_id", "groups", "id")])
    _index(db, "user_groups", "group_id")
    _table(db, "permissions", {"id": int, "app_label": str, "model": str, "codename": str,
                               "name": str}, not_null={"app_label", "model", "codename"})
    _index(db, "permissions", "app_label", "codename", unique=True)
    _table(db, "user_permissions", {"user_id": int, "permission_id": int},
           pk=("user_id", "permission_id"),
           fks=[("user_id", "users", "id"), ("permission_id", "permissions", "id")])
    _table(db, "group_permissions", {"group_id": int, "permission_id": int},
           pk=("group_id", "permission_id"),
           fks=[("group_id", "groups", "id"), ("permission_id", "permissions", "id")])
    rows = []
    for app, models in PERMISSION_MODELS.items():
        for model in models:
            for action in ("add", "change", "delete", "view"):
                rows.append((app, model, "%s_%s" % (action, model),
                             "Can %s %s" % (action, model)))
    for app, model, codename in EXTRA_PERMISSIONS:
        rows.append((app, model, codename, codename.replace("_", " ").capitalize()))
    db.conn.executemany(
        "INSERT INTO permissions (app_label, model, codename, name) VALUES (?, ?, ?, ?)", rows)
    # API tokens, shared by REST (Authorization: Token) and XML-RPC (basic auth).
    _table(db, "auth_tokens", {"id": int, "user_id": int, "secret": str, "description": str,
                               "created_on": str, "last_used_on": str, "expires_on": str},
           fks=[("user_id", "users", "id")],
           not_null={"user_id", "secret", "created_on"}, defaults={"description": ""})
    _index(db, "auth_tokens", "secret", unique=True)
    _index(db, "auth_tokens", "user_id")
    _table(db, "remote_artifact_tokens", {"id": int, "user_id": int, "name": str, "token": str},
           fks=[("user_id", "users", "id")], not_null={"user_id", "name", "token"})
    _index(db, "remote_artifact_tokens", "user_id", "name", unique=True)

    # -- the device model ------------------------------------------------------
    for name, col, typ in (("architectures", "name", str), ("processor_families", "name", str),
                           ("cores", "name", str), ("bit_widths", "width", int)):
        _table(db, name, {col: typ}, pk=col)
    _table(db, "device_types", {
        "name": str, "architecture": str, "processor": str, "cpu_model": str, "bits": int,
        "core_count": int, "description": str, "health_frequency": int,
        "disable_health_check": int, "health_denominator": int, "display": int,
        "template": str, "health_check": str},
        pk="name",
        fks=[("architecture", "architectures", "name"),
             ("processor", "processor_families", "name"), ("bits", "bit_widths", "width")],
        not_null={"health_frequency", "disable_health_check", "health_denominator", "display"},
        defaults={"health_frequency": 24, "disable_health_check": 0, "health_denominator": 0,
                  "display": 1})
    _table(db, "device_type_cores", {"device_type": str, "core": str},
           pk=("device_type", "core"),
           fks=[("device_type", "device_types", "name"), ("core", "cores", "name")])
    _table(db, "aliases", {"name": str, "device_type": str}, pk="name",
           fks=[("device_type", "device_types", "name")])
    _index(db, "aliases", "device_type")
    _table(db, "tags", {"id": int, "name": str, "description": str}, not_null={"name"})
    _index(db, "tags", "name", unique=True)
    _table(db, "workers", {
        "hostname": str, "description": str, "state": int, "health": int, "last_ping": str,
        "job_limit": int, "version": str, "token": str},
        pk="hostname", not_null={"state", "health", "last_ping", "job_limit", "token"},
        defaults={"state": 1, "health": 0, "job_limit": 0})
    _index(db, "workers", "state")
    _index(db, "workers", "health")
    _table(db, "devices", {
        "hostname": str, "device_type": str, "device_version": str, "physical_owner": int,
        "physical_group": int, "description": str, "state": int, "health": int,
        "last_health_report_job": int, "worker_host": str, "is_synced": int, "dictionary": str},
        pk="hostname",
        fks=[("device_type", "device_types", "name"), ("physical_owner", "users", "id"),
             ("physical_group", "groups", "id"), ("worker_host", "workers", "hostname")],
        not_null={"device_type", "state", "health", "is_synced"},
        defaults={"state": 0, "health": 4, "is_synced": 0})
    for col in ("device_type", "worker_host", "state", "health", "physical_owner",
                "physical_group", "last_health_report_job"):
        _index(db, "devices", col)
    _table(db, "device_tags", {"device": str, "tag_id": int}, pk=("device", "tag_id"),
           fks=[("device", "devices", "hostname"), ("tag_id", "tags", "id")])
    _index(db, "device_tags", "tag_id")
    # Group object permissions (view < submit < change), LAVA's GroupDeviceTypePermission etc.
    for table, col, target in (("group_device_type_permissions", "device_type",
                                ("device_types", "name")),
                               ("group_device_permissions", "device", ("devices", "hostname")),
                               ("group_worker_permissions", "worker", ("workers", "hostname"))):
        _table(db, table, {"id": int, "group_id": int, "permission": str, col: str},
               fks=[("group_id", "groups", "id"), (col, target[0], target[1])],
               not_null={"group_id", "permission", col})
        _index(db, table, col, "permission", "group_id", unique=True)
        _index(db, table, "group_id")

    # -- jobs ------------------------------------------------------------------------
    _table(db, "test_jobs", {
        "id": int, "sub_id": str, "target_group": str, "submitter_id": int, "is_public": int,
        "description": str, "health_check": int, "requested_device_type": str,
        "requested_device": str, "actual_device": str, "worker_host": str,
        "submit_time": str, "start_time": str, "end_time": str, "state": int, "health": int,
        "priority": int, "definition": str, "original_definition": str,
        "multinode_definition": str, "failure_comment": str, "token": str, "log_lines": int},
        fks=[("submitter_id", "users", "id"), ("requested_device_type", "device_types", "name"),
             ("actual_device", "devices", "hostname")],
        not_null={"submitter_id", "is_public", "health_check", "submit_time", "state", "health",
                  "priority", "definition", "original_definition", "multinode_definition",
                  "token"},
        defaults={"sub_id": "", "is_public": 1, "health_check": 0, "state": 0, "health": 0,
                  "priority": 50, "original_definition": "", "multinode_definition": "",
                  "log_lines": 0})
    for col in ("state", "health", "submit_time", "start_time", "end_time", "submitter_id",
                "requested_device_type", "actual_device", "priority", "health_check",
                "target_group", "sub_id"):
        _index(db, "test_jobs", col)
    # The scheduler's queue order: health checks first, then priority, then age.
    _index(db, "test_jobs", "state", "health_check DESC", "priority DESC", "submit_time", "id")
    _table(db, "test_job_viewing_groups", {"job_id": int, "group_id": int},
           pk=("job_id", "group_id"),
           fks=[("job_id", "test_jobs", "id"), ("group_id", "groups", "id")])
    _table(db, "test_job_tags", {"job_id": int, "tag_id": int}, pk=("job_id", "tag_id"),
           fks=[("job_id", "test_jobs", "id"), ("tag_id", "tags", "id")])
    _index(db, "test_job_tags", "tag_id")
    _table(db, "job_failure_tags", {"id": int, "name": str, "description": str},
           not_null={"name"})
    _index(db, "job_failure_tags", "name", unique=True)
    _table(db, "test_job_failure_tags", {"job_id": int, "tag_id": int},
           pk=("job_id", "tag_id"),
           fks=[("job_id", "test_jobs", "id"), ("tag_id", "job_failure_tags", "id")])

    # -- results ---------------------------------------------------------------------
    _table(db, "test_suites", {"id": int, "job_id": int, "name": str},
           fks=[("job_id", "test_jobs", "id")], not_null={"job_id", "name"})
    _index(db, "test_suites", "job_id", "name", unique=True)
    _table(db, "test_sets", {"id": int, "suite_id": int, "name": str},
           fks=[("suite_id", "test_suites", "id")], not_null={"suite_id", "name"})
    _index(db, "test_sets", "suite_id", "name", unique=True)
    _table(db, "test_cases", {
        "id": int, "suite_id": int, "test_set_id": int, "name": str, "result": int,
        "measurement": str, "units": str, "metadata": str, "start_log_line": int,
        "end_log_line": int, "logged": str},
        fks=[("suite_id", "test_suites", "id"), ("test_set_id", "test_sets", "id")],
        not_null={"suite_id", "name", "result", "units", "logged"},
        defaults={"units": ""})
    _index(db, "test_cases", "suite_id", "id")
    _index(db, "test_cases", "suite_id", "name")
    _index(db, "test_cases", "test_set_id")
    _index(db, "test_cases", "result")

    # -- history and cross-process events ----------------------------------------------
    _table(db, "log_entries", {"id": int, "action_time": str, "user_id": int,
                               "object_type": str, "object_id": str, "message": str},
           not_null={"action_time", "object_type", "object_id", "message"})
    _index(db, "log_entries", "object_type", "object_id")
    # Events raised by another process (``lavad manage`` while the server runs): the
    # server drains this table onto its event bus.
    _table(db, "event_outbox", {"id": int, "created": str, "kind": str, "payload": str},
           not_null={"created", "kind", "payload"})


def _migration_2(db: Database) -> None:
    """Job metadata (LAVA 2026.07), user IRC profile, and notifications."""
    db.conn.execute("ALTER TABLE test_jobs ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}'")
    db.conn.execute("ALTER TABLE users ADD COLUMN irc_handle TEXT NOT NULL DEFAULT ''")
    db.conn.execute("ALTER TABLE users ADD COLUMN irc_server TEXT NOT NULL DEFAULT ''")
    _table(db, "notifications", {
        "id": int, "job_id": int, "verbosity": int, "type": str, "blacklist": str,
        "query_owner_id": int, "query_name": str, "entity": str, "conditions": str,
        "template": str, "created": str},
        fks=[("job_id", "test_jobs", "id")], not_null={"job_id", "verbosity", "created"},
        defaults={"verbosity": 1, "blacklist": "[]", "template": "testjob_notification.txt"})
    _index(db, "notifications", "job_id", unique=True)
    _table(db, "notification_recipients", {
        "id": int, "notification_id": int, "method": int, "user_id": int, "email": str,
        "irc_handle": str, "irc_server": str, "status": int},
        fks=[("notification_id", "notifications", "id"), ("user_id", "users", "id")],
        not_null={"notification_id", "method", "status"}, defaults={"status": 1})
    _index(db, "notification_recipients", "notification_id")
    _table(db, "notification_callbacks", {
        "id": int, "notification_id": int, "url": str, "method": int, "token": str,
        "header": str, "dataset": int, "content_type": int, "status": int},
        fks=[("notification_id", "notifications", "id")],
        not_null={"notification_id", "url", "method", "dataset", "content_type", "status"},
        defaults={"status": 1})
    _index(db, "notification_callbacks", "notification_id")


def _migration_3(db: Database) -> None:
    """A covering index for job visibility, so counting the jobs a caller may see (every
    job list) reads the index instead of every wide job row (definitions included)."""
    _index(db, "test_jobs", "is_public", "actual_device", "requested_device_type", "health",
           "state", "submitter_id")


def _migration_4(db: Database) -> None:
    """test_cases.printed_metadata: the CSV export's ``level`` and ``metadata`` fields of
    the case, written once when the case is stored instead of at every export (see
    :func:`lavad.exports.records.printed_metadata`).

    Existing cases keep NULL, which the exports read as "work it out from the metadata":
    filling them would rewrite every case of the database during the upgrade (minutes for
    a lab with millions of cases) for what is a cache.
    """
    db.conn.execute("ALTER TABLE test_cases ADD COLUMN printed_metadata TEXT")


def _migration_5(db: Database) -> None:
    """test_cases.yaml_verbatim: 1 when the YAML exports write the case's metadata as its
    stored text (see :func:`lavad.exports.yamlfmt.verbatim`), decided once when the case
    is stored instead of by reading and writing the mapping at every export; 0 when they
    do not.  An integer 0 or 1 takes one byte of the row's header and no payload.

    Existing cases keep NULL, which the exports read as "work it out" (as for migration 4:
    no rewrite of every case during the upgrade).
    """
    db.conn.execute("ALTER TABLE test_cases ADD COLUMN yaml_verbatim INTEGER")


MIGRATIONS: list[Callable[[Database], None]] = [_migration_1, _migration_2, _migration_3,
                                                _migration_4, _migration_5]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target``; each step is one transaction."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise SchemaError(
            "The database is at schema version %d but this lavad only knows versions up to "
            "%d: it was written by a newer lavad. Run that newer lavad, or restore a backup "
            "made for this version." % (current, SCHEMA_VERSION))
    if current == 0:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if tables:
            raise SchemaError("The database holds tables but no lavad schema version: "
                              "it is not a lavad database.")
    if current >= target:
        return current
    from sqlite_utils import Database

    db = Database(conn)
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version - 1](db)
            conn.execute("PRAGMA user_version = %d" % version)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return schema_version(conn)


#: SQLite's page cache per connection (its default is 2,000 KiB).  Pages missed are read
#: from the operating system's file cache; the benchmark's reads are as fast with 256 KiB,
#: and lavad stays 1.5 MiB smaller.
PAGE_CACHE_KIB = 256


def connect(path: str) -> sqlite3.Connection:
    """Open a connection with lavad's settings (autocommit mode, WAL, foreign keys)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA cache_size = -%d" % PAGE_CACHE_KIB)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError):
            raise  # locked, read-only, I/O: not a question of the file's format
        raise SchemaError("%s is not a SQLite database (%s): it is not a lavad database."
                          % (path, exc)) from exc
    return conn


def open_database(path: str, target: int = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open the database at ``path``, creating and migrating it as needed."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise SchemaError("The data directory %s does not exist." % directory)
    conn = connect(path)
    try:
        migrate(conn, target)
    except BaseException:
        conn.close()
        raise
    return conn
