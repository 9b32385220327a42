"""The schema's migrations: fresh databases, upgrades, and the databases lavad refuses."""

from __future__ import annotations

import os
import shutil
import sqlite3
from typing import Any

import pytest

from lavad.store import schema
from lavad.store.schema import SCHEMA_VERSION, SchemaError, open_database, schema_version

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
V1_DB = os.path.join(FIXTURES, "lavad-schema-v1.sqlite3")

# Every table of schema version 1, and the ones version 2 adds.
V1_TABLES = {
    "users", "groups", "user_groups", "permissions", "user_permissions", "group_permissions",
    "auth_tokens", "remote_artifact_tokens", "architectures", "processor_families", "cores",
    "bit_widths", "device_types", "device_type_cores", "aliases", "tags", "workers", "devices",
    "device_tags", "group_device_type_permissions", "group_device_permissions",
    "group_worker_permissions", "test_jobs", "test_job_viewing_groups", "test_job_tags",
    "job_failure_tags", "test_job_failure_tags", "test_suites", "test_sets", "test_cases",
    "log_entries", "event_outbox",
}
V2_TABLES = {"notifications", "notification_recipients", "notification_callbacks"}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}


def objects(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every schema object with its SQL: what a migration may change."""
    return [tuple(r) for r in conn.execute(
        "SELECT type, name, sql FROM sqlite_master ORDER BY type, name")]


def columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[Any, ...]]:
    return {r["name"]: (r["type"], r["notnull"], r["dflt_value"])
            for r in conn.execute("PRAGMA table_info(%s)" % table)}


def dump(conn: sqlite3.Connection, table: str, cols: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(
        "SELECT %s FROM %s ORDER BY rowid" % (", ".join(cols), table))]


@pytest.fixture
def v1_copy(tmp_path: Any) -> str:
    path = os.path.join(str(tmp_path), "lavad.sqlite3")
    shutil.copyfile(V1_DB, path)
    return path


def test_fresh_database_reaches_current_version_in_wal_mode(tmp_path: Any) -> None:
    """A new file is created at SCHEMA_VERSION, in WAL mode, with foreign keys enforced."""
    conn = open_database(os.path.join(str(tmp_path), "new.sqlite3"))
    try:
        assert schema_version(conn) == SCHEMA_VERSION == len(schema.MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert tables(conn) == V1_TABLES | V2_TABLES
    finally:
        conn.close()


def test_reopening_a_current_database_changes_nothing(tmp_path: Any) -> None:
    """Opening an up-to-date database again runs no migration and keeps its schema."""
    path = os.path.join(str(tmp_path), "db.sqlite3")
    conn = open_database(path)
    before = objects(conn)
    conn.close()
    conn = open_database(path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert objects(conn) == before
    finally:
        conn.close()


def test_missing_data_directory_is_refused(tmp_path: Any) -> None:
    """A database path in a directory that does not exist is a SchemaError naming it."""
    missing = os.path.join(str(tmp_path), "nope")
    with pytest.raises(SchemaError, match="does not exist"):
        open_database(os.path.join(missing, "db.sqlite3"))
    assert not os.path.exists(missing)


def test_v1_fixture_is_what_it_claims() -> None:
    """The committed fixture is a version-1 lavad database (so the upgrade test means something)."""
    conn = sqlite3.connect(V1_DB)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert tables(conn) == V1_TABLES
        assert "metadata" not in [r[1] for r in conn.execute("PRAGMA table_info(test_jobs)")]
    finally:
        conn.close()


def test_upgrade_from_v1_keeps_every_row(v1_copy: str) -> None:
    """Opening a version-1 database migrates it to the current version without losing a row."""
    old = sqlite3.connect(v1_copy)
    old.row_factory = sqlite3.Row
    old_columns = {t: list(columns(old, t)) for t in V1_TABLES}
    before = {t: dump(old, t, old_columns[t]) for t in V1_TABLES}
    old.close()
    assert before["test_cases"] and before["devices"] and before["test_jobs"]

    conn = open_database(v1_copy)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for table in V1_TABLES:
            assert dump(conn, table, old_columns[table]) == before[table], table
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_upgrade_from_v1_adds_new_columns_and_tables(v1_copy: str) -> None:
    """The upgrade adds test_jobs.metadata ('{}' for old jobs), IRC columns and notifications."""
    conn = open_database(v1_copy)
    try:
        assert columns(conn, "test_jobs")["metadata"] == ("TEXT", 1, "'{}'")
        assert conn.execute("SELECT metadata FROM test_jobs WHERE id = 1").fetchone()[0] == "{}"
        user = conn.execute("SELECT irc_handle, irc_server FROM users WHERE id = 1").fetchone()
        assert tuple(user) == ("", "")
        assert V2_TABLES <= tables(conn)
        assert {"job_id", "verbosity", "conditions"} <= set(columns(conn, "notifications"))
    finally:
        conn.close()


def test_upgraded_database_serves_the_domain(v1_copy: str) -> None:
    """After the upgrade the domain reads the old job and user (metadata {}, groups kept)."""
    from lavad import jobs, users
    from lavad.store.tx import SyncStore

    store = SyncStore(open_database(v1_copy))
    try:
        job = store.run(jobs.thd_get_job, 1)
        assert job["metadata"] == {}
        assert (job["submitter"], job["actual_device"], job["tags"]) == ("alice", "qemu01", [1])
        assert (job["state"], job["health"]) == ("Finished", "Complete")
        user = store.run(users.thd_get_user, "alice")
        assert user["groups"] == ["lab"] and user["irc_handle"] == ""
        principal = store.run(users.thd_authenticate_token, "v1secret")
        assert principal is not None and principal.username == "alice"
    finally:
        store.close()


def test_newer_database_is_refused(tmp_path: Any) -> None:
    """A database written by a newer lavad is refused with a message saying so, untouched."""
    path = os.path.join(str(tmp_path), "db.sqlite3")
    open_database(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = %d" % (SCHEMA_VERSION + 1))
    conn.close()
    with pytest.raises(SchemaError, match="newer") as info:
        open_database(path)
    assert "version %d" % (SCHEMA_VERSION + 1) in str(info.value)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_foreign_sqlite_database_is_refused(tmp_path: Any) -> None:
    """A SQLite file with tables but user_version 0 is not lavad's: refused, left as it was."""
    path = os.path.join(str(tmp_path), "other.sqlite3")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('mine')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="not a lavad database"):
        open_database(path)
    conn = sqlite3.connect(path)
    assert tables(conn) == {"notes"}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


def test_non_sqlite_file_is_refused(tmp_path: Any) -> None:
    """A file that is not SQLite at all is a SchemaError, not a bare sqlite3 error."""
    path = os.path.join(str(tmp_path), "text.sqlite3")
    with open(path, "w") as f:
        f.write("this is not a database\n" * 100)
    with pytest.raises(SchemaError, match="not a SQLite database"):
        open_database(path)


def test_failed_upgrade_step_leaves_version_and_tables_unchanged(
        v1_copy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration that fails after some DDL rolls back: still version 1, same schema, same rows."""
    conn = sqlite3.connect(v1_copy)
    before_objects = objects(conn)
    before_jobs = dump(conn, "test_jobs", ["*"])
    conn.close()

    def failing_step(db: Any) -> None:
        schema._migration_2(db)  # all of version 2's DDL, then a failure
        raise RuntimeError("migration step exploded")

    monkeypatch.setattr(schema, "MIGRATIONS", [schema._migration_1, failing_step])
    with pytest.raises(RuntimeError, match="exploded"):
        open_database(v1_copy)

    conn = sqlite3.connect(v1_copy)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert objects(conn) == before_objects
        assert dump(conn, "test_jobs", ["*"]) == before_jobs
    finally:
        conn.close()


def test_failed_first_migration_leaves_an_empty_database(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh database whose first migration fails midway keeps version 0 and no tables."""
    path = os.path.join(str(tmp_path), "db.sqlite3")

    def failing_step(db: Any) -> None:
        schema._migration_1(db)
        raise RuntimeError("first step exploded")

    monkeypatch.setattr(schema, "MIGRATIONS", [failing_step, schema._migration_2])
    with pytest.raises(RuntimeError, match="first step exploded"):
        open_database(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert tables(conn) == set()
    finally:
        conn.close()
    monkeypatch.undo()
    conn = open_database(path)  # and the next start succeeds
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()


def test_migrate_to_an_intermediate_target_stops_there(tmp_path: Any) -> None:
    """open_database(target=1) builds version 1 only (how the v1 fixture is made)."""
    conn = open_database(os.path.join(str(tmp_path), "db.sqlite3"), target=1)
    try:
        assert schema_version(conn) == 1
        assert tables(conn) == V1_TABLES
        assert schema.migrate(conn) == SCHEMA_VERSION
        assert tables(conn) == V1_TABLES | V2_TABLES
    finally:
        conn.close()


def test_upgrade_adds_printed_metadata_null_for_old_cases(v1_copy: str) -> None:
    """Version 4 adds a nullable printed_metadata, NULL for old cases, whose CSV is computed."""
    from lavad.exports import thd_collect, thd_results_csv
    from lavad.store.tx import SyncStore
    from lavad.users import Principal

    admin = Principal(id=99, username="admin", is_active=True, is_superuser=True)
    store = SyncStore(open_database(v1_copy))
    try:
        assert columns(store.conn, "test_cases")["printed_metadata"] == ("TEXT", 0, None)
        assert dump(store.conn, "test_cases", ["id", "printed_metadata"]) == [(1, None)]
        text = store.run(lambda tx: thd_collect(tx, thd_results_csv(tx, admin, 1, None)))
        assert text.decode().splitlines()[1] == (
            "1,0_smoke,pass,12.5000000000,ms,,,2026-07-01 10:05:00.250000+00:00,,"
            "{'case': 'boot'},/results/testcase/1,boot,1,,")
    finally:
        store.close()


def _database_with_cases(tmp_path: Any, version: int, count: int) -> Any:
    """A database at ``version`` holding one job whose suite has ``count`` cases (with
    their printed metadata from version 4 on)."""
    conn = open_database(os.path.join(str(tmp_path), "db.sqlite3"), target=version)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO users (id, username, password, date_joined)"
                 " VALUES (1, 'u', 'x', 't')")
    conn.execute("INSERT INTO test_jobs (id, submitter_id, submit_time, definition, token)"
                 " VALUES (1, 1, 't', 'job_name: x', 'tok')")
    conn.execute("INSERT INTO test_suites (id, job_id, name) VALUES (1, 1, 's')")
    if version >= 4:
        conn.executemany(
            "INSERT INTO test_cases (suite_id, name, result, units, metadata, printed_metadata,"
            " logged) VALUES (1, ?, 0, '', ?, ?, 't')",
            (("c%d" % n, "case: c%d\nresult: pass\n" % n, "{'case': 'c%d'}" % n)
             for n in range(count)))
    else:
        conn.executemany(
            "INSERT INTO test_cases (suite_id, name, result, units, metadata, logged)"
            " VALUES (1, ?, 0, '', ?, 't')",
            (("c%d" % n, "case: c%d\nresult: pass\n" % n) for n in range(count)))
    conn.execute("COMMIT")
    return conn


def test_upgrade_from_v3_keeps_many_cases_and_rewrites_none(tmp_path: Any) -> None:
    """A 20,000-case version-3 database upgrades in place without writing a single case
    (the new columns stay NULL), every case kept."""
    conn = _database_with_cases(tmp_path, 3, 20000)
    cols = list(columns(conn, "test_cases"))
    before = dump(conn, "test_cases", cols)
    changes = conn.total_changes
    try:
        assert schema.migrate(conn) == SCHEMA_VERSION
        assert conn.total_changes == changes  # no row inserted, updated or deleted
        assert dump(conn, "test_cases", cols) == before
        assert conn.execute("SELECT count(*) FROM test_cases WHERE printed_metadata IS NULL"
                            " AND yaml_verbatim IS NULL").fetchone()[0] == 20000
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_upgrade_from_v4_adds_yaml_verbatim_null_and_keeps_cases(tmp_path: Any) -> None:
    """Version 5 adds a nullable yaml_verbatim, NULL for every old case, which stays intact."""
    conn = _database_with_cases(tmp_path, 4, 2000)
    cols = list(columns(conn, "test_cases"))
    before = dump(conn, "test_cases", cols)
    try:
        assert schema.migrate(conn) == SCHEMA_VERSION
        assert columns(conn, "test_cases")["yaml_verbatim"] == ("INTEGER", 0, None)
        assert dump(conn, "test_cases", cols) == before
        assert conn.execute("SELECT count(*) FROM test_cases WHERE yaml_verbatim IS NULL"
                            ).fetchone()[0] == 2000
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
