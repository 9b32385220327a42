"""The job log download (``jobs/{id}/logs/?start=&end=``, spec 6).

Lines ``[start, end)`` (0-based, ``end`` exclusive, past the last line means
to the end) are located with the line index of :mod:`lavad.logs` (two seeks
in ``output.idx``) and the bytes between are streamed in pieces: the log is
never read whole.  Only the lines the database counts as stored are served.
An empty range, or a job without a log, is NotFound.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from lavad.errors import NotFound
from lavad.exports.document import Cursor, Document
from lavad.logs import INDEX_FORMAT, INDEX_SIZE, JobLog
from lavad.store.tx import Tx

PIECE = 64 * 1024


def _offset(index_path: str, line: int) -> int | None:
    """Where line ``line`` starts in the log (None past the index)."""
    with open(index_path, "rb") as idx:
        idx.seek(line * INDEX_SIZE)
        data = idx.read(INDEX_SIZE)
    if len(data) < INDEX_SIZE:
        return None
    return struct.unpack(INDEX_FORMAT, data)[0]


def _line_end(log_path: str, start: int) -> int:
    with open(log_path, "rb") as log:
        log.seek(start)
        return start + len(log.readline())


def byte_range(log: JobLog, count: int, start: int, end: int | None) -> tuple[int, int]:
    """``(first, last)`` byte offsets of lines ``[start, end)`` of the ``count`` stored
    lines (``first == last`` when the range is empty)."""
    end = count if end is None else min(end, count)
    if start >= end:
        return 0, 0
    try:
        first = _offset(log.index_path, start)
        if first is None:
            return 0, 0
        last = _offset(log.index_path, end)
        if last is None:
            tail = _offset(log.index_path, end - 1)
            if tail is None:
                return 0, 0
            last = _line_end(log.log_path, tail)
    except FileNotFoundError:
        return 0, 0
    return first, max(first, last)


def thd_log_document(tx: Tx, job_id: int, data_dir: str | None, start: int | None,
                     end: int | None) -> Document:
    """The download of lines ``[start, end)`` of the job's log (visibility is the
    caller's)."""
    count = int(tx.scalar("SELECT log_lines FROM test_jobs WHERE id = ?", (job_id,)) or 0)
    if not data_dir or not count:
        raise NotFound("Not found.")
    log = JobLog.for_job(data_dir, job_id)
    first, last = byte_range(log, count, start or 0, end)
    if first == last:
        raise NotFound("Not found.")

    def chunks(cursor: Cursor) -> Iterator[bytes]:
        position = first
        while position < last:
            with open(log.log_path, "rb") as stream:
                stream.seek(position)
                data = stream.read(min(PIECE, last - position))
            if not data:
                return
            position += len(data)
            yield data

    return Document("application/yaml", "attachment; filename=job_%d.yaml" % job_id, chunks,
                    size=last - first, name="job %d log" % job_id)
