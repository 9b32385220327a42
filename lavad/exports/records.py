"""What every results export reads: the job's scope, its test cases in batches, and
the exported test-case record (LAVA's ``export_testcase``, spec 5.1).

Access: :func:`thd_rest_job` is the REST rule for ``jobs/{id}/<export>/``
(404 ``No TestJob matches the given query.``); :func:`thd_results_job` the
object-level rule of the nested ``suites/`` routes and ``/results/`` (404 when
the job does not exist, PermissionDenied when it is hidden).  Both only ask
:mod:`lavad.permissions`.

A :class:`JobScope` freezes what an export covers when it starts: the job's
suites and the highest test-case id, so an export of a running job is a
consistent snapshot however many batches it takes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from lavad import dates
from lavad.errors import Invalid, NotFound, PermissionDenied
from lavad.exports.document import BATCH, Cursor
from lavad.exports.fastyaml import load_metadata
from lavad.logs import JobLog, job_dir
from lavad.models import TestResult
from lavad.permissions import thd_can_view_job
from lavad.store.tx import Tx
from lavad.users import Principal

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

NO_JOB = "No TestJob matches the given query."
NO_SUITE = "No TestSuite matches the given query."
NO_CASE = "No TestCase matches the given query."
FORBIDDEN = "You do not have permission to perform this action."
RESULTS = {int(r): r.display for r in TestResult}
_PLACES = Decimal("1E-10")
_STORED_MEASUREMENT = re.compile(r"^-?\d+\.\d{10}$")
_SUB_ID = re.compile(r"^\d+\.\d+$")

CASE_COLUMNS = ("id, suite_id, test_set_id, name, result, measurement, units, metadata,"
                " start_log_line, end_log_line, logged")
#: What the CSV export reads: CASE_COLUMNS' positions, the metadata text only for a case
#: without a printed form (:func:`printed_metadata`), then the printed form.
PRINTED_COLUMNS = CASE_COLUMNS.replace(
    " metadata,", " CASE WHEN printed_metadata IS NULL THEN metadata END,") \
    + ", printed_metadata"
#: What the YAML exports read: CASE_COLUMNS, then whether the metadata is written as stored
#: (:func:`lavad.exports.yamlfmt.verbatim`; NULL for cases stored before it was kept).
YAML_COLUMNS = CASE_COLUMNS + ", yaml_verbatim"


# -- access ---------------------------------------------------------------------------------
def thd_rest_job(tx: Tx, principal: Principal, job_id: int) -> None:
    """``jobs/{id}/<action>/``: NotFound unless the job exists and ``principal`` sees it."""
    if not thd_can_view_job(tx, principal, job_id):
        raise NotFound(NO_JOB, model="TestJob")


def resolve_job(tx: Tx, key: int | str) -> int | None:
    """A job id from ``N`` or a MultiNode sub-id ``N.M`` (None when there is no such job)."""
    text = str(key)
    if text.isdigit():
        return tx.scalar("SELECT id FROM test_jobs WHERE id = ?", (int(text),))
    if _SUB_ID.match(text):
        return tx.scalar("SELECT id FROM test_jobs WHERE sub_id = ?", (text,))
    return None


def thd_results_job(tx: Tx, principal: Principal, key: int | str) -> int:
    """The object-level rule (nested REST routes, ``/results/``): the job's id, NotFound
    when there is no such job, PermissionDenied when ``principal`` may not see it."""
    job_id = resolve_job(tx, key)
    if job_id is None:
        raise NotFound("Not found.")
    if not thd_can_view_job(tx, principal, job_id, nested=True):
        raise PermissionDenied(FORBIDDEN)
    return job_id


def thd_suite_by_id(tx: Tx, job_id: int, suite_id: int) -> tuple[int, str]:
    row = tx.one("SELECT id, name FROM test_suites WHERE id = ? AND job_id = ?",
                 (suite_id, job_id))
    if row is None:
        raise NotFound(NO_SUITE, model="TestSuite")
    return row["id"], row["name"]


def thd_suite_by_name(tx: Tx, job_id: int, name: str) -> tuple[int, str]:
    row = tx.one("SELECT id, name FROM test_suites WHERE job_id = ? AND name = ?",
                 (job_id, name))
    if row is None:
        raise NotFound(NO_SUITE, model="TestSuite")
    return row["id"], row["name"]


# -- limit / offset ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """Which cases of the ordered list an export covers: skip ``offset``, then at most
    ``limit`` (None: all the rest)."""

    offset: int = 0
    limit: int | None = None


EVERY = Window()


INT64_MAX = 2 ** 63 - 1


def count_param(name: str, value: str | None) -> int | None:
    """A ``limit``/``offset``/``start``/``end`` query value: None when absent, else a
    non-negative integer (Invalid otherwise, with DRF's messages)."""
    if value is None:
        return None
    text = value.strip()
    try:
        number = int(text)
    except ValueError:
        raise Invalid("A valid integer is required.", field=name) from None
    if number < 0:
        raise Invalid("Ensure this value is greater than or equal to 0.", field=name)
    # Beyond SQLite's largest integer (which no count reaches) it means "all of them".
    return min(number, INT64_MAX)


def job_window(limit: str | None, offset: str | None) -> Window:
    """REST ``jobs/{id}/csv|yaml/``: offset, then limit; either alone works; limit 0 = no
    limit."""
    lim, off = count_param("limit", limit), count_param("offset", offset)
    return Window(off or 0, lim or None)


def suite_window(limit: str | None, offset: str | None) -> Window:
    """Suite exports (LAVA's chunking, spec 8.2): without a limit (or limit 0) every case,
    the offset ignored; otherwise skip ``offset`` and return at most ``limit``."""
    lim, off = count_param("limit", limit), count_param("offset", offset)
    if not lim:
        return Window()
    return Window(off or 0, lim)


# -- the scope of an export --------------------------------------------------------------------
@dataclass(frozen=True)
class JobScope:
    job_id: int
    suites: tuple[tuple[int, str], ...]   # (id, name), by id
    min_case_id: int                      # the scope's cases have ids in [min, max]
    max_case_id: int                      # (both 0 when there are none yet)
    end_time: str | None
    log_lines: int
    data_dir: str | None

    @property
    def suite_names(self) -> dict[int, str]:
        return dict(self.suites)

    def suite_list(self) -> str:
        return ", ".join(str(int(sid)) for sid, _ in self.suites) or "NULL"

    def log(self) -> JobLog | None:
        return JobLog.for_job(self.data_dir, self.job_id) if self.data_dir else None


def thd_scope(tx: Tx, job_id: int, data_dir: str | None,
              suite: tuple[int, str] | None = None) -> JobScope:
    """The job's suites (or only ``suite``) and the range of its test-case ids, now."""
    job = tx.one("SELECT end_time, log_lines FROM test_jobs WHERE id = ?", (job_id,))
    if job is None:
        raise NotFound(NO_JOB, model="TestJob")
    if suite is None:
        suites = tuple((r["id"], r["name"]) for r in tx.all(
            "SELECT id, name FROM test_suites WHERE job_id = ? ORDER BY id", (job_id,)))
    else:
        suites = (suite,)
    low = high = 0
    if suites:
        listed = ", ".join(str(int(sid)) for sid, _ in suites)
        row = tx.one("SELECT min(id), max(id) FROM test_cases WHERE suite_id IN (%s)" % listed)
        low, high = int(row[0] or 0), int(row[1] or 0)
    return JobScope(job_id, suites, low, high, job["end_time"], int(job["log_lines"] or 0),
                    data_dir)


def case_batches(cursor: Cursor, scope: JobScope, window: Window = EVERY,
                 suite_id: int | None = None, tuples: bool = False,
                 columns: str = CASE_COLUMNS) -> Iterator[list[Any]]:
    """The scope's cases ordered by id (only ``suite_id``'s when given), ``BATCH`` rows per
    read, by keyset pagination on the id; plain tuples when ``tuples`` (quicker to make
    than rows readable by name).  ``columns`` start with the id.

    One suite reads its index (suite, id); a whole job walks the id range of its
    cases (the ``+`` keeps SQLite from sorting every remaining case of the job in
    each read).
    """
    if not scope.suites or scope.max_case_id == 0:
        return
    where = ("suite_id = %d" % int(suite_id)) if suite_id is not None \
        else "+suite_id IN (%s)" % scope.suite_list()
    remaining = window.limit
    after = scope.min_case_id - 1
    offset = window.offset
    while remaining is None or remaining > 0:
        size = BATCH if remaining is None else min(BATCH, remaining)
        rows = (cursor.tx.tuples if tuples else cursor.tx.all)(
            "SELECT %s FROM test_cases WHERE %s AND id > ? AND id <= ? ORDER BY id"
            " LIMIT ? OFFSET ?" % (columns, where),
            (after, scope.max_case_id, size, offset))
        offset = 0
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        after = rows[-1][0]  # CASE_COLUMNS start with the id
        if remaining is not None:
            remaining -= len(rows)


def suite_ordered_batches(cursor: Cursor, scope: JobScope
                          ) -> Iterator[tuple[int, str, list[Any]]]:
    """``(suite id, suite name, rows)``: cases by suite id, then case id."""
    for suite_id, name in scope.suites:
        for rows in case_batches(cursor, scope, suite_id=suite_id):
            yield suite_id, name, rows


# -- the record ----------------------------------------------------------------------------------
def python_time(stored: str) -> str:
    """``str()`` of the aware UTC datetime: ``2026-07-01 12:00:00.123456+00:00``."""
    date, _, clock = stored.partition("T")
    clock = clock.removesuffix(".000000")
    return "%s %s+00:00" % (date, clock)


def iso_time(stored: str) -> str:
    """``isoformat()`` of the aware UTC datetime: ``2026-07-01T12:00:00.123456+00:00``."""
    return dates.event(stored)  # type: ignore[return-value]  # never None for a str


def measurement(value: Any) -> str:
    """The measurement with 10 decimal places, or ``"None"``."""
    if value is None:
        return "None"
    text = str(value)
    if _STORED_MEASUREMENT.match(text):
        return text
    try:
        return format(Decimal(text).quantize(_PLACES), "f")
    except InvalidOperation:
        return text


def parse_metadata(text: str | None) -> dict[str, Any]:
    """The case's stored YAML metadata as a mapping (``{}`` if none or unreadable)."""
    if not text:
        return {}
    quick = load_metadata(text)
    if quick is not None:
        return quick
    try:
        value = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def printed_metadata(text: str | None) -> str | None:
    """The CSV export's ``level`` and ``metadata`` fields of a case whose stored metadata
    is ``text``, to be stored with the case: the repr of the mapping (what csv.writer
    writes for it), preceded by the level and a newline when the mapping has a ``level``
    (a mapping's repr never holds a newline, so the last one parts the two).

    None when they can only be worked out at export time: an ``extra`` key (the export
    reads the file it names) or a level that is neither a string nor an integer.
    """
    metadata = parse_metadata(text)
    if "extra" in metadata:
        return None
    printed = str(metadata)
    if "\n" in printed:  # pragma: no cover - reprs escape their newlines
        return None
    if "level" not in metadata:
        return printed
    level = metadata["level"]
    if level.__class__ is not str and level.__class__ is not int:
        return None
    return "%s\n%s" % (level, printed)


def split_printed(printed: str) -> tuple[str, str]:
    """A :func:`printed_metadata` form's level field and metadata field."""
    level, _, metadata = printed.rpartition("\n")
    return level, metadata


def _extra(path: Any, scope: JobScope) -> list[dict[str, Any]] | None:
    """The metadata file ``path`` names, as a list of one-key mappings; None unless it is
    a readable mapping inside the job's directory."""
    if not isinstance(path, str) or not scope.data_dir:
        return None
    base = os.path.realpath(job_dir(scope.data_dir, scope.job_id))
    real = os.path.realpath(path)
    if not real.startswith(base + os.sep) or not os.path.isfile(real):
        return None
    try:
        with open(real, encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    return [{key: value} for key, value in data.items()]


#: The exported test case's keys, in LAVA's YAML order (spec 5.1).
RECORD_KEYS = ("name", "job", "suite", "result", "measurement", "unit", "level", "url", "id",
               "logged", "log_start_line", "log_end_line", "metadata")


def record_values(row: Any, scope: JobScope, suite_name: str,
                  job: str | None = None) -> tuple[Any, ...]:
    """The exported test case's values, in :data:`RECORD_KEYS` order.

    ``row`` starts with the columns of :data:`CASE_COLUMNS`, read by position (an
    export makes one record per case: positions are quicker than names); ``job`` is
    ``str(scope.job_id)`` when the caller has it.
    """
    case_id, name, result, value, units, text, start, end, logged = (
        row[0], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10])
    metadata = parse_metadata(text)
    if "extra" in metadata:
        extra = _extra(metadata["extra"], scope)
        if extra is not None:
            metadata["extra"] = extra
    return (name, job or str(scope.job_id), suite_name, RESULTS.get(result, "unknown"),
            "None" if value is None else measurement(value), units or "",
            metadata.get("level", ""), "/results/testcase/%d" % case_id, str(case_id),
            python_time(logged), str(start) if start else "", str(end) if end else "",
            metadata)


def record(row: Any, scope: JobScope, suite_name: str) -> dict[str, Any]:
    """The exported test case as a mapping, keys in LAVA's YAML order (spec 5.1)."""
    return dict(zip(RECORD_KEYS, record_values(row, scope, suite_name)))


def record_batches(cursor: Cursor, scope: JobScope, window: Window = EVERY
                   ) -> Iterator[list[tuple[Any, ...]]]:
    """The scope's records as value tuples (:func:`record_values`) ordered by case id,
    one list per batch read."""
    names = scope.suite_names
    job = str(scope.job_id)
    for rows in case_batches(cursor, scope, window):
        yield [record_values(row, scope, names[row[1]], job) for row in rows]


def records(cursor: Cursor, scope: JobScope, window: Window = EVERY
            ) -> Iterator[list[dict[str, Any]]]:
    """The scope's records ordered by case id, one list per batch read."""
    for batch in record_batches(cursor, scope, window):
        yield [dict(zip(RECORD_KEYS, values)) for values in batch]


def thd_case(tx: Tx, principal: Principal, case_id: int,
             data_dir: str | None) -> tuple[dict[str, Any], str]:
    """One test case's record and name (``/results/testcase/{id}/yaml``), with its job's
    object-level visibility."""
    row = tx.one("SELECT c.%s, s.job_id, s.name AS suite FROM test_cases c JOIN test_suites s"
                 " ON s.id = c.suite_id WHERE c.id = ?"
                 % CASE_COLUMNS.replace(", ", ", c."), (case_id,))
    if row is None:
        raise NotFound(NO_CASE, model="TestCase")
    thd_results_job(tx, principal, row["job_id"])
    scope = thd_scope(tx, row["job_id"], data_dir, (row["suite_id"], row["suite"]))
    return record(row, scope, row["suite"]), row["name"]


# -- log lines -------------------------------------------------------------------------------
LOG_PIECE_LINES = 1000


def log_text(scope: JobScope, start: Any, end: Any) -> Iterator[str]:
    """The job log's lines ``[start, end)`` as text, in pieces of at most
    ``LOG_PIECE_LINES`` lines (nothing unless both line numbers are set)."""
    if not start or not end:
        return
    log = scope.log()
    if log is None:
        return
    first, last = int(start), int(end)
    for piece_start in range(first, last, LOG_PIECE_LINES):
        data = log.read_bytes(piece_start, min(last, piece_start + LOG_PIECE_LINES),
                              scope.log_lines)
        if not data:
            return
        yield data.decode("utf-8", "replace")
