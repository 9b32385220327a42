"""GET /api/v0.2/jobs/{id}/logs/?start=&end=: line ranges read through the line index."""

from __future__ import annotations

import struct

import pytest
import pytest_twisted
from exportlab import LOG_LINES

from lavad.exports import joblog
from lavad.logs import JobLog

pytestmark = pytest.mark.timeout(30)

NOT_FOUND = b'{"detail":"Not found."}'
LOG = "".join(LOG_LINES).encode()


@pytest_twisted.ensureDeferred
async def test_whole_log(server):
    """Without start/end (or with start=0 only) the whole log, with its size."""
    for query in ("", "?start=0"):
        answer = await server.get("/api/v0.2/jobs/1/logs/" + query)
        assert answer.code == 200
        assert answer.header("Content-Type") == "application/yaml"
        assert answer.header("Content-Disposition") == "attachment; filename=job_1.yaml"
        assert answer.header("Content-Length") == str(len(LOG))
        assert answer.body == LOG


@pytest.mark.parametrize("query, lines", [
    ("?start=1&end=3", [1, 2]), ("?start=2", [2, 3]), ("?end=2", [0, 1]),
    ("?start=1&end=100", [1, 2, 3]), ("?start=3&end=4", [3]), ("?start=0&end=1", [0]),
])
@pytest_twisted.ensureDeferred
async def test_line_ranges(server, query, lines):
    """start and end are 0-based line indexes, end exclusive, end past the log = to its end."""
    answer = await server.get("/api/v0.2/jobs/1/logs/" + query)
    assert answer.code == 200
    expected = "".join(LOG_LINES[n] for n in lines).encode()
    assert answer.body == expected
    assert answer.header("Content-Length") == str(len(expected))


@pytest.mark.parametrize("query", ["?start=4", "?start=10", "?start=3&end=3", "?start=3&end=1",
                                   "?end=0"])
@pytest_twisted.ensureDeferred
async def test_empty_range_is_404(server, query):
    """An empty range (a poll with nothing new) is 404 Not found."""
    answer = await server.get("/api/v0.2/jobs/1/logs/" + query)
    assert (answer.code, answer.body) == (404, NOT_FOUND)


@pytest_twisted.ensureDeferred
async def test_missing_log_and_hidden_job(server):
    """No log at all is 404 Not found.; a missing or hidden job is 404 No TestJob..."""
    answer = await server.get("/api/v0.2/jobs/%d/logs/" % server.ids.job3)
    assert (answer.code, answer.body) == (404, NOT_FOUND)
    for job in (server.ids.job2, 999):
        answer = await server.get("/api/v0.2/jobs/%d/logs/" % job)
        assert (answer.code, answer.body) == \
            (404, b'{"detail":"No TestJob matches the given query."}')


@pytest_twisted.ensureDeferred
async def test_bad_values_and_format(server):
    """Non-numeric or negative start/end are 400s; ?format=yaml is DRF's 404."""
    for query, body in (
            ("start=abc", b'{"start":["A valid integer is required."]}'),
            ("start=1&end=x", b'{"end":["A valid integer is required."]}'),
            ("start=-1", b'{"start":["Ensure this value is greater than or equal to 0."]}'),
            ("end=-5", b'{"end":["Ensure this value is greater than or equal to 0."]}')):
        answer = await server.get("/api/v0.2/jobs/1/logs/?" + query)
        assert (answer.code, answer.body) == (400, body), query
    answer = await server.get("/api/v0.2/jobs/1/logs/?format=yaml")
    assert (answer.code, answer.body) == (404, NOT_FOUND)


def _set_offset(index_path: str, line: int, offset: int) -> None:
    with open(index_path, "r+b") as idx:
        idx.seek(line * 8)
        idx.write(struct.pack("<Q", offset))


@pytest_twisted.ensureDeferred
async def test_ranges_come_from_the_index(server):
    """The bytes served are the ones the index points at (the log is not scanned for lines)."""
    _set_offset(JobLog.for_job(server.data_dir, 1).index_path, 1, 0)  # line 1 = line 0
    answer = await server.get("/api/v0.2/jobs/1/logs/?start=1&end=2")
    assert answer.body == (LOG_LINES[0] + LOG_LINES[1]).encode()


@pytest_twisted.ensureDeferred
async def test_only_recorded_lines(server):
    """Lines written to the files but not yet counted in the database are not served."""
    JobLog.for_job(server.data_dir, 1).append([b'- {"dt": "x", "lvl": "info", "msg": "new"}\n'])
    answer = await server.get("/api/v0.2/jobs/1/logs/")
    assert answer.body == LOG
    answer = await server.get("/api/v0.2/jobs/1/logs/?start=4")
    assert answer.code == 404


@pytest_twisted.ensureDeferred
async def test_big_log_in_pieces(server, monkeypatch):
    """A long log is streamed in pieces that add up to exactly its lines and its size."""
    monkeypatch.setattr(joblog, "PIECE", 1000)
    lines = [('- {"dt": "2026-07-01T12:00:00.%06d", "lvl": "debug", "msg": "line %d"}\n'
              % (n, n)).encode() for n in range(5000)]
    job = server.ids.job3
    count = JobLog.for_job(server.data_dir, job).append(lines)
    await server.lab.run(lambda tx: tx.execute(
        "UPDATE test_jobs SET log_lines = ? WHERE id = ?", (count, job)))
    answer = await server.get("/api/v0.2/jobs/%d/logs/" % job)
    assert answer.body == b"".join(lines)
    answer = await server.get("/api/v0.2/jobs/%d/logs/?start=1234&end=4321" % job)
    assert answer.body == b"".join(lines[1234:4321])
    assert answer.header("Content-Length") == str(len(answer.body))
