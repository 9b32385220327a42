"""Per-job log storage: ``<data_dir>/jobs/<job id>/output.yaml`` and ``output.idx``.

``output.yaml`` is the job log as one YAML block list: every record is stored
as ``"- " + <one line of flow YAML> + "\\n"``, exactly as lava-run sent it
(except ``event`` lines, which :mod:`lavad.results` rewrites to ``debug``).

``output.idx`` holds one unsigned 64-bit **little-endian** integer per line:
the byte offset in ``output.yaml`` where that line *starts* (LAVA's layout, so
the line count is the index size divided by 8).  A range of lines ``[start,
end)`` is read by seeking, without reading the whole log.

Durability: :meth:`JobLog.append` writes the log lines, then their index
entries, and flushes and fsyncs both before it returns; only then does the
caller record the new count in ``test_jobs.log_lines`` (in the transaction
that also stores the lines' results).  The count in the database is the
truth: lines past it were written by a transaction that never committed, so
:meth:`JobLog.reconcile` cuts them off before the next append (and rebuilds a
lost or short index from the log).  A crash between two batches therefore
loses nothing the worker was told is stored, and never keeps a line it was
not told about (the worker sends that line again).

Everything here does file I/O: call it on the store thread (``thd_*``) or in
a thread, never on the reactor thread.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterable

from lavad.errors import NotFound
from lavad.store.tx import Tx

LOG_NAME = "output.yaml"
INDEX_NAME = "output.idx"
INDEX_FORMAT = "<Q"  # the offset where a line starts, little-endian
INDEX_SIZE = struct.calcsize(INDEX_FORMAT)


def job_dir(data_dir: str, job_id: int) -> str:
    """The directory holding a job's log, metadata files and worker configuration."""
    return os.path.join(data_dir, "jobs", str(int(job_id)))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JobLog:
    """The two files of one job's log."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.log_path = os.path.join(directory, LOG_NAME)
        self.index_path = os.path.join(directory, INDEX_NAME)

    @classmethod
    def for_job(cls, data_dir: str, job_id: int) -> "JobLog":
        return cls(job_dir(data_dir, job_id))

    # -- reading ------------------------------------------------------------------
    def line_count(self) -> int:
        """Lines in the index (may exceed the recorded count until reconciled)."""
        try:
            return os.path.getsize(self.index_path) // INDEX_SIZE
        except FileNotFoundError:
            return 0

    @staticmethod
    def _offset(idx: BinaryIO, line: int) -> int | None:
        idx.seek(line * INDEX_SIZE)
        data = idx.read(INDEX_SIZE)
        if len(data) < INDEX_SIZE:
            return None
        return struct.unpack(INDEX_FORMAT, data)[0]

    @staticmethod
    def _end_of_line(log: BinaryIO, start: int) -> int:
        """The offset just after the line starting at ``start`` (its newline included)."""
        log.seek(start)
        line = log.readline()
        return start + len(line)

    def read_bytes(self, start: int = 0, end: int | None = None,
                   count: int | None = None) -> bytes:
        """Lines ``[start, end)`` as stored (``end`` None: to the last line).

        ``count`` is the number of lines known to be stored (the database's
        count); lines past it are never returned.
        """
        total = self.line_count() if count is None else count
        end = total if end is None else min(end, total)
        start = max(0, start)
        if start >= end:
            return b""
        try:
            with open(self.index_path, "rb") as idx, open(self.log_path, "rb") as log:
                first = self._offset(idx, start)
                if first is None:
                    return b""
                last = self._offset(idx, end)
                if last is None:
                    # ``end`` is past the index: up to the end of line end-1.
                    tail = self._offset(idx, end - 1)
                    if tail is None:
                        return b""
                    last = self._end_of_line(log, tail)
                log.seek(first)
                return log.read(max(0, last - first))
        except FileNotFoundError:
            return b""

    def read(self, start: int = 0, end: int | None = None, count: int | None = None) -> str:
        return self.read_bytes(start, end, count).decode("utf-8", "replace")

    # -- writing ------------------------------------------------------------------
    def reconcile(self, recorded: int) -> int:
        """Make the files hold exactly ``recorded`` lines; return the lines they hold.

        Lines past ``recorded`` (written by a transaction that did not commit)
        are cut off.  A missing, torn or short index is rebuilt from the log.
        The return value is less than ``recorded`` only if the log itself lost
        lines (a disk that lied about fsync).
        """
        has_log, has_index = os.path.exists(self.log_path), os.path.exists(self.index_path)
        if not has_log and not has_index:
            return 0
        if not has_log or not has_index or self.line_count() < recorded \
                or os.path.getsize(self.index_path) % INDEX_SIZE:
            self._rebuild_index()
        held = min(recorded, self.line_count())
        if not self._truncate(held):
            # The index points past the log: trust the log.
            self._rebuild_index()
            held = min(recorded, self.line_count())
            self._truncate(held)
        return held

    def _rebuild_index(self) -> None:
        offsets = []
        try:
            with open(self.log_path, "rb") as log:
                position = 0
                for line in log:
                    if not line.endswith(b"\n"):
                        break  # a torn last line: not a stored line
                    offsets.append(position)
                    position += len(line)
        except FileNotFoundError:
            pass
        os.makedirs(self.directory, exist_ok=True)
        with open(self.index_path, "wb") as idx:
            idx.write(b"".join(struct.pack(INDEX_FORMAT, o) for o in offsets))
            idx.flush()
            os.fsync(idx.fileno())

    def _truncate(self, lines: int) -> bool:
        """Cut both files to their first ``lines`` lines; False if the index is inconsistent."""
        with open(self.index_path, "r+b") as idx, open(self.log_path, "a+b") as log:
            size = os.fstat(log.fileno()).st_size
            if lines == 0:
                end = 0
            else:
                after = self._offset(idx, lines)
                last = self._offset(idx, lines - 1)
                if last is None or last >= size:
                    return False
                end = after if after is not None else self._end_of_line(log, last)
                if end > size:
                    return False
            if os.fstat(idx.fileno()).st_size != lines * INDEX_SIZE:
                idx.truncate(lines * INDEX_SIZE)
                idx.flush()
                os.fsync(idx.fileno())
            if size != end:
                log.truncate(end)
                log.flush()
                os.fsync(log.fileno())
        return True

    def append(self, lines: Iterable[bytes]) -> int:
        """Append lines (each ending with a newline), durably; return the new line count.

        Call :meth:`reconcile` first so the files end at the recorded count.
        """
        created = not os.path.isdir(self.directory)
        os.makedirs(self.directory, exist_ok=True)
        new_files = not os.path.exists(self.log_path) or not os.path.exists(self.index_path)
        with open(self.log_path, "ab") as log, open(self.index_path, "ab") as idx:
            log.seek(0, os.SEEK_END)
            position = log.tell()
            entries = []
            chunks = []
            for line in lines:
                if not line.endswith(b"\n"):
                    raise ValueError("a log line must end with a newline")
                entries.append(struct.pack(INDEX_FORMAT, position))
                chunks.append(line)
                position += len(line)
            if chunks:
                log.write(b"".join(chunks))
                log.flush()
                os.fsync(log.fileno())
                idx.write(b"".join(entries))
                idx.flush()
                os.fsync(idx.fileno())
            count = idx.tell() // INDEX_SIZE
        if new_files:
            _fsync_dir(self.directory)
        if created:
            _fsync_dir(os.path.dirname(self.directory))
        return count


# -- the store-thread functions ------------------------------------------------------
def line_count(data_dir: str, job_id: int) -> int:
    """Lines in a job's index file (the stored count is ``thd_line_count``)."""
    return JobLog.for_job(data_dir, job_id).line_count()


def thd_line_count(tx: Tx, job_id: int) -> int:
    """The number of log lines stored for a job, as recorded in the database."""
    count = tx.scalar("SELECT log_lines FROM test_jobs WHERE id = ?", (job_id,))
    if count is None and not tx.one("SELECT 1 FROM test_jobs WHERE id = ?", (job_id,)):
        raise NotFound("Job '%s' was not found." % job_id, model="TestJob")
    return int(count or 0)


def thd_read_log(tx: Tx, data_dir: str, job_id: int, start: int = 0,
                 end: int | None = None) -> str:
    """Lines ``[start, end)`` of a job's log (never past the recorded count).

    Visibility is the caller's business (ask ``permissions`` first).
    """
    count = thd_line_count(tx, job_id)
    return JobLog.for_job(data_dir, job_id).read(start, end, count)
