"""lavad.query.CountCache: list counts reused only while the database is unchanged."""

from __future__ import annotations

import sqlite3

from lavad import jobs, query, users
from lavad.query.render import jsonb_order
from lavad.users import ANONYMOUS

DEFINITION = "device_type: x\njob_name: test\n"


def _setup(db):
    db.run(users.thd_add_user, "alice")
    return db.q("SELECT id FROM users WHERE username = 'alice'")[0][0]


def _job(db, submitter, **kw):
    return db.run(jobs.thd_insert_job, submitter, DEFINITION, original_definition=DEFINITION,
                  requested_device_type=None, **kw)


def _count(db, counts, principal=ANONYMOUS, params=None):
    return db.run(query.thd_list, "jobs", principal, params or {}, None, counts)[0]


def test_count_follows_writes_of_this_connection(db):
    """A job inserted between two lists is counted by the second, cache or not."""
    alice = _setup(db)
    db.conn.execute("UPDATE users SET is_superuser = 1 WHERE id = ?", (alice,))
    admin = db.run(users.thd_principal, alice)
    counts = query.CountCache()
    assert _count(db, counts, admin) == 0
    _job(db, alice)
    assert _count(db, counts, admin) == 1
    assert _count(db, counts, admin) == 1
    _job(db, alice)
    assert _count(db, counts, admin) == 2


def test_count_follows_rolled_back_writes(db):
    """A rolled-back write leaves the count as the committed rows make it."""
    alice = _setup(db)
    db.conn.execute("UPDATE users SET is_superuser = 1 WHERE id = ?", (alice,))
    admin = db.run(users.thd_principal, alice)
    counts = query.CountCache()
    _job(db, alice)
    assert _count(db, counts, admin) == 1
    db.conn.execute("BEGIN")
    db.conn.execute("DELETE FROM test_jobs")
    db.conn.execute("ROLLBACK")
    assert _count(db, counts, admin) == 1


def test_count_follows_commits_of_other_connections(db, tmp_path):
    """A job deleted by another connection (``lavad manage``) is no longer counted."""
    alice = _setup(db)
    db.conn.execute("UPDATE users SET is_superuser = 1 WHERE id = ?", (alice,))
    admin = db.run(users.thd_principal, alice)
    counts = query.CountCache()
    _job(db, alice)
    _job(db, alice)
    assert _count(db, counts, admin) == 2
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    other = sqlite3.connect(path)
    try:
        other.execute("DELETE FROM test_jobs WHERE id = (SELECT max(id) FROM test_jobs)")
        other.commit()
    finally:
        other.close()
    assert _count(db, counts, admin) == 1


def test_counts_are_per_query(db):
    """Different filters and principals get their own counts from one cache."""
    alice = _setup(db)
    principal = db.run(users.thd_principal, alice)
    counts = query.CountCache()
    _job(db, alice, is_public=False)
    assert _count(db, counts, principal) == 1
    assert _count(db, counts, ANONYMOUS) == 0
    assert _count(db, counts, principal, {"id": ["999"]}) == 0
    assert _count(db, counts, principal) == 1


def test_cache_is_bounded():
    """The cache never holds more counts than its size."""
    counts = query.CountCache(size=2)

    class FakeTx:
        conn = sqlite3.connect(":memory:")

        def scalar(self, sql, params):
            return len(params)

    tx = FakeTx()
    for n in range(5):
        assert counts.count(tx, "SELECT count(*) FROM t", [0] * n) == n
        assert len(counts._counts) <= 2


def test_jsonb_order_keys():
    """jsonb order: shorter UTF-8 keys first, then bytewise (non-ASCII keys too)."""
    value = {"bb": 1, "a": {"zz": 1, "é": 2, "y": 3}, "ccc": [{"b": 1, "a": 2}], "é": 0}
    ordered = jsonb_order(value)
    assert list(ordered) == ["a", "bb", "é", "ccc"]
    assert list(ordered["a"]) == ["y", "zz", "é"]
    assert list(ordered["ccc"][0]) == ["a", "b"]
