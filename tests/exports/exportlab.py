"""The lab behind tests/exports: the spec's worked example (5.5) and two more jobs.

Job 1 is the worked example, exactly: public, finished at
2026-07-01T12:03:00.123456Z, suites ``lava`` (1) and ``0_smoke`` (2), cases 1-6
(fail, pass, pass with a measurement, fail in test set ``set1`` with log lines,
skip, unknown), every case logged at 2026-07-01 12:00:00.123456 UTC, and the
4-line log.  Job 2 is restricted (not public, viewing group ``team``;
submitter ``owner``, ``member`` is in ``team``, ``other`` is not).  Job 3 is
public and still running (no end time), with one suite of two cases.

Tokens: ``owner``, ``member``, ``other`` (secrets ``<name>-secret``).
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import yaml

from lavad import devices, jobs, users
from lavad.logs import JobLog
from lavad.models import JobHealth, JobState
from lavad.store.tx import Tx

LOGGED = "2026-07-01T12:00:00.123456"
END = "2026-07-01T12:03:00.123456"
LOG_LINES = [
    '- {"dt": "2018-10-03T16:28:28.199903", "lvl": "info", "msg": "line0"}\n',
    '- {"dt": "2018-10-03T16:28:28.200807", "lvl": "info", "msg": "line1"}\n',
    ('- {"dt": "2018-10-03T16:28:29.200807", "lvl": "results", "msg": {"case": "c2",'
     ' "result": "fail"}}\n'),
    '- {"dt": "2018-10-03T16:28:30.200807", "lvl": "info", "msg": "line3"}\n',
]
PASS, FAIL, SKIP, UNKNOWN = 0, 1, 2, 3


def meta(pairs: list[tuple[str, Any]]) -> str:
    """Case metadata stored as results ingestion stores it (block YAML, given order)."""
    return yaml.safe_dump(dict(pairs), sort_keys=False)


def token(name: str) -> str:
    return "%s-secret" % name


def _case(tx: Tx, suite_id: int, name: str, result: int, *, metadata: str | None = None,
          measurement: str | None = None, units: str = "", lines: tuple[Any, Any] = (None, None),
          test_set: int | None = None, logged: str = LOGGED) -> int:
    return tx.execute(
        "INSERT INTO test_cases (suite_id, test_set_id, name, result, measurement, units,"
        " metadata, start_log_line, end_log_line, logged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (suite_id, test_set, name, result, measurement, units, metadata, lines[0], lines[1],
         logged)).lastrowid


def _suite(tx: Tx, job_id: int, name: str) -> int:
    return tx.execute("INSERT INTO test_suites (job_id, name) VALUES (?, ?)",
                      (job_id, name)).lastrowid


def thd_build(tx: Tx, data_dir: str) -> SimpleNamespace:
    ids = SimpleNamespace()
    for name in ("owner", "member", "other"):
        user = users.thd_add_user(tx, name)  # no password: tokens only (no slow hashing)
        setattr(ids, name, user["id"])
        users.thd_add_token(tx, name, "test", secret=token(name))
    ids.team = users.thd_add_group(tx, "team", ["member"])["id"]
    devices.thd_add_device_type(tx, "qemu")

    # -- job 1: the worked example -------------------------------------------------------
    ids.job1 = jobs.thd_insert_job(tx, ids.owner, "device_type: qemu\njob_name: example\n",
                                   requested_device_type="qemu", description="example")
    tx.execute("UPDATE test_jobs SET state = ?, health = ?, start_time = ?, end_time = ?"
               " WHERE id = ?", (JobState.FINISHED, JobHealth.INCOMPLETE,
                                 "2026-07-01T11:59:00.123456", END, ids.job1))
    lava = _suite(tx, ids.job1, "lava")
    smoke = _suite(tx, ids.job1, "0_smoke")
    set1 = tx.execute("INSERT INTO test_sets (suite_id, name) VALUES (?, 'set1')",
                      (smoke,)).lastrowid
    _case(tx, lava, "job", FAIL, metadata=meta([
        ("case", "job"), ("definition", "lava"), ("error_msg", "boom"),
        ("error_type", "Infrastructure"), ("result", "fail")]))
    _case(tx, lava, "validate", PASS, metadata=meta([
        ("case", "validate"), ("definition", "lava"), ("duration", "1.23"), ("level", "1"),
        ("result", "pass")]))
    _case(tx, smoke, "c1", PASS, measurement="12.5000000000", units="ms", lines=(1, 2),
          metadata=meta([("case", "c1"), ("definition", "0_smoke"), ("result", "pass"),
                         ("measurement", 12.5), ("units", "ms"), ("level", 3.1)]))
    _case(tx, smoke, "c2", FAIL, lines=(1, 3), test_set=set1, metadata=meta([
        ("case", "c2"), ("definition", "0_smoke"), ("result", "fail")]))
    _case(tx, smoke, "c3", SKIP)
    _case(tx, smoke, "c4", UNKNOWN)
    log = JobLog.for_job(data_dir, ids.job1)
    count = log.append(line.encode() for line in LOG_LINES)
    tx.execute("UPDATE test_jobs SET log_lines = ? WHERE id = ?", (count, ids.job1))

    # -- job 2: restricted to the group "team" -----------------------------------------------
    ids.job2 = jobs.thd_insert_job(tx, ids.owner, "device_type: qemu\njob_name: secret\n",
                                   requested_device_type="qemu", is_public=False,
                                   viewing_groups=[ids.team])
    tx.execute("UPDATE test_jobs SET state = ?, health = ?, end_time = ? WHERE id = ?",
               (JobState.FINISHED, JobHealth.COMPLETE, END, ids.job2))
    ids.job2_suite = _suite(tx, ids.job2, "private")
    _case(tx, ids.job2_suite, "hidden-case", PASS)
    _case(tx, ids.job2_suite, "hidden-fail", FAIL, lines=(0, 1))
    log2 = JobLog.for_job(data_dir, ids.job2)
    tx.execute("UPDATE test_jobs SET log_lines = ? WHERE id = ?",
               (log2.append([b'- {"dt": "x", "lvl": "info", "msg": "secret"}\n']), ids.job2))

    # -- job 3: still running -------------------------------------------------------------
    ids.job3 = jobs.thd_insert_job(tx, ids.owner, "device_type: qemu\njob_name: running\n",
                                   requested_device_type="qemu")
    tx.execute("UPDATE test_jobs SET state = ?, start_time = ? WHERE id = ?",
               (JobState.RUNNING, "2026-07-01T11:59:00.123456", ids.job3))
    ids.job3_suite = _suite(tx, ids.job3, "0_running")
    _case(tx, ids.job3_suite, "first", PASS)
    _case(tx, ids.job3_suite, "second", FAIL)
    assert os.path.isdir(data_dir)
    return ids


def thd_add_cases(tx: Tx, suite_id: int, count: int, start: int = 0) -> None:
    """``count`` more cases in ``suite_id`` (fast: one executemany)."""
    tx.conn.executemany(
        "INSERT INTO test_cases (suite_id, name, result, measurement, units, metadata, logged)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((suite_id, "case-%06d" % n, n % 4, "%d.5000000000" % n if n % 3 == 0 else None,
          "ms" if n % 3 == 0 else "", "case: case-%06d\nresult: x\n" % n, LOGGED)
         for n in range(start, start + count)))
