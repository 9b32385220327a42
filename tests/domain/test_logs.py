"""Per-job log files: output.yaml + output.idx, ranges by seeking, reconciliation."""

from __future__ import annotations

import os
import struct

import pytest

from lavad import jobs, logs, users
from lavad.errors import NotFound
from lavad.logs import INDEX_SIZE, JobLog


def lines(*texts: str) -> list[bytes]:
    return [('- {"dt": "x", "lvl": "info", "msg": "%s"}\n' % t).encode() for t in texts]


@pytest.fixture
def job_log(tmp_path) -> JobLog:
    return JobLog.for_job(str(tmp_path), 7)


def test_job_dir_layout(tmp_path) -> None:
    """A job's files live in <data_dir>/jobs/<id>/output.yaml and output.idx."""
    log = JobLog.for_job(str(tmp_path), 7)
    assert log.log_path == os.path.join(str(tmp_path), "jobs", "7", "output.yaml")
    assert log.index_path == os.path.join(str(tmp_path), "jobs", "7", "output.idx")


def test_append_writes_list_and_little_endian_start_offsets(job_log) -> None:
    """Each line's start offset is one 8-byte little-endian integer in output.idx."""
    assert job_log.append(lines("a", "bb", "ccc")) == 3
    with open(job_log.log_path, "rb") as f:
        data = f.read()
    assert data == b"".join(lines("a", "bb", "ccc"))
    with open(job_log.index_path, "rb") as f:
        idx = f.read()
    assert len(idx) == 3 * INDEX_SIZE
    first = len(lines("a")[0])
    assert [struct.unpack("<Q", idx[i:i + 8])[0] for i in range(0, 24, 8)] == \
        [0, first, first + len(lines("bb")[0])]
    assert job_log.line_count() == 3 == logs.line_count(os.path.dirname(
        os.path.dirname(job_log.directory)), 7)


def test_read_range_by_seeking(job_log) -> None:
    """A range [start, end) comes back exactly; past the end it stops at the last line."""
    job_log.append(lines("a", "b", "c", "d"))
    assert job_log.read(1, 3) == "".join(x.decode() for x in lines("b", "c"))
    assert job_log.read(3) == lines("d")[0].decode()
    assert job_log.read(2, 99) == "".join(x.decode() for x in lines("c", "d"))
    assert job_log.read(4) == "" and job_log.read(3, 2) == ""
    assert job_log.read() == "".join(x.decode() for x in lines("a", "b", "c", "d"))


def test_read_never_passes_the_recorded_count(job_log) -> None:
    """Lines past the recorded count (an uncommitted append) are never read."""
    job_log.append(lines("a", "b", "c"))
    assert job_log.read(0, None, count=2) == "".join(x.decode() for x in lines("a", "b"))
    assert job_log.read(2, 3, count=2) == ""


def test_read_without_files_is_empty(job_log) -> None:
    """A job with no log yet reads as empty with zero lines."""
    assert job_log.read() == "" and job_log.line_count() == 0
    assert job_log.reconcile(0) == 0


def test_reconcile_cuts_uncommitted_lines(job_log) -> None:
    """Lines written by a batch the database never recorded are cut off both files."""
    job_log.append(lines("a", "b"))
    job_log.append(lines("c", "d"))  # the transaction recording 4 "crashed"
    assert job_log.reconcile(2) == 2
    assert job_log.line_count() == 2
    with open(job_log.log_path, "rb") as f:
        assert f.read() == b"".join(lines("a", "b"))
    assert job_log.append(lines("c2")) == 3
    assert job_log.read(2) == lines("c2")[0].decode()


def test_reconcile_cuts_a_torn_write(job_log) -> None:
    """A log line written without its index entry (crash mid-append) is cut off."""
    job_log.append(lines("a"))
    with open(job_log.log_path, "ab") as f:
        f.write(b'- {"dt": "x", "lvl": "in')
    assert job_log.reconcile(1) == 1
    with open(job_log.log_path, "rb") as f:
        assert f.read() == lines("a")[0]


def test_reconcile_rebuilds_a_lost_or_short_index(job_log) -> None:
    """A missing or truncated index is rebuilt from the log before trusting it."""
    job_log.append(lines("a", "b", "c"))
    os.unlink(job_log.index_path)
    assert job_log.reconcile(3) == 3
    assert job_log.read(1, 2) == lines("b")[0].decode()
    with open(job_log.index_path, "r+b") as f:
        f.truncate(INDEX_SIZE + 3)  # torn entry
    assert job_log.reconcile(3) == 3 and job_log.line_count() == 3


def test_reconcile_reports_lost_lines(job_log) -> None:
    """If the log itself holds fewer lines than recorded, reconcile says how many it holds."""
    job_log.append(lines("a"))
    assert job_log.reconcile(5) == 1


def test_append_requires_newlines(job_log) -> None:
    """A line without its newline is refused (it would merge with the next one)."""
    with pytest.raises(ValueError):
        job_log.append([b"- no newline"])


def test_thd_read_log_uses_the_recorded_count(db, tmp_path) -> None:
    """thd_read_log clamps to test_jobs.log_lines and 404s an unknown job."""
    uid = db.run(users.thd_add_user, "alice")["id"]
    job_id = db.run(jobs.thd_insert_job, uid, "job_name: x\n")
    log = JobLog.for_job(str(tmp_path), job_id)
    log.append(lines("a", "b", "c"))
    db.conn.execute("UPDATE test_jobs SET log_lines = 2 WHERE id = ?", (job_id,))
    assert db.run(logs.thd_line_count, job_id) == 2
    assert db.run(logs.thd_read_log, str(tmp_path), job_id, 1) == lines("b")[0].decode()
    with pytest.raises(NotFound):
        db.run(logs.thd_read_log, str(tmp_path), job_id + 1)
