"""A job's test results as LAVA's ``results.*`` XML-RPC methods return them: whole
YAML or CSV texts, built from the records of :mod:`lavad.exports`.

Unlike the streamed exports, these documents are made in one transaction and
returned whole (XML-RPC sends one string).  The order is LAVA's for these
methods: suite by suite (by suite id), each suite's cases by id.  The job is
named by ``N`` or ``"N.M"``; who may see it is the object-level rule of the
results routes (:func:`lavad.exports.records.thd_results_job`).

Errors: NotFound with ``model`` TestJob, TestSuite or TestCase, and
PermissionDenied for a job the caller may not see.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from lavad.errors import NotFound
from lavad.exports import csv as csvfmt
from lavad.exports import yamlfmt
from lavad.exports.document import BATCH
from lavad.exports.records import (
    CASE_COLUMNS,
    RECORD_KEYS,
    YAML_COLUMNS,
    JobScope,
    record_values,
    thd_results_job,
    thd_scope,
    thd_suite_by_name,
)
from lavad.store.tx import Tx
from lavad.users import Principal

SUITE_FIELDS = ("name", "job", "id")


def thd_results_job_id(tx: Tx, principal: Principal, job_id: Any) -> int:
    """The job's id: NotFound (model TestJob) or PermissionDenied."""
    try:
        return thd_results_job(tx, principal, job_id)
    except NotFound:
        raise NotFound("Job '%s' was not found." % job_id, model="TestJob") from None


def _suite(tx: Tx, job_id: int, name: Any) -> tuple[int, str]:
    try:
        return thd_suite_by_name(tx, job_id, str(name))
    except NotFound:
        raise NotFound("Suite '%s' was not found." % name, model="TestSuite") from None


def _case_rows(tx: Tx, principal: Principal, job_id: Any, data_dir: str | None,
               suite: Any, case: Any, limit: Any, offset: Any, columns: str = CASE_COLUMNS,
               tuples: bool = False) -> Iterator[tuple[JobScope, list[Any]]]:
    """The scope and the selected cases' rows (``columns``), suite by suite, a few hundred
    at a time: a 10,000-case job is never held whole as Python objects."""
    pk = thd_results_job_id(tx, principal, job_id)
    chosen = _suite(tx, pk, suite) if suite is not None else None
    scope: JobScope = thd_scope(tx, pk, data_dir, chosen)
    for suite_id, _ in scope.suites:
        sql = "SELECT %s FROM test_cases WHERE suite_id = ?" % columns
        params: list[Any] = [suite_id]
        if case is not None:
            sql += " AND name = ?"
            params.append(str(case))
        sql += " ORDER BY id"
        if limit:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), max(0, int(offset or 0))]
        cursor = tx.execute(sql, params)
        if tuples:
            cursor.row_factory = None  # type: ignore[assignment]  # read when fetching
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                break
            yield scope, rows


def _record_batches(tx: Tx, principal: Principal, job_id: Any, data_dir: str | None,
                    suite: Any, case: Any, limit: Any, offset: Any
                    ) -> Iterator[list[tuple[Any, ...]]]:
    """The selected cases' record values (:func:`record_values`), suite by suite, a few
    hundred at a time."""
    names: dict[int, str] = {}
    for scope, rows in _case_rows(tx, principal, job_id, data_dir, suite, case, limit,
                                  offset):
        names = names or scope.suite_names
        job = str(scope.job_id)
        yield [record_values(row, scope, names[row[1]], job) for row in rows]


def thd_records(tx: Tx, principal: Principal, job_id: Any, data_dir: str | None,
                suite: Any = None, case: Any = None, limit: Any = None,
                offset: Any = None) -> list[dict[str, Any]]:
    """The job's test-case records (only those of ``suite``, and of those the ones named
    ``case``); with a ``limit``, skip ``offset`` cases of the suite, then at most ``limit``."""
    return [dict(zip(RECORD_KEYS, values))
            for batch in _record_batches(tx, principal, job_id, data_dir, suite, case, limit,
                                         offset)
            for values in batch]


def thd_records_yaml(tx: Tx, principal: Principal, job_id: Any, data_dir: str | None,
                     suite: Any = None, case: Any = None, limit: Any = None,
                     offset: Any = None) -> str:
    """:func:`yaml_text` of :func:`thd_records`, written batch by batch
    (:func:`lavad.exports.yamlfmt.items`)."""
    pieces: list[str] = []
    texts: dict[int, str | None] = {}
    names: dict[int, str] = {}
    for scope, rows in _case_rows(tx, principal, job_id, data_dir, suite, case, limit,
                                  offset, YAML_COLUMNS, tuples=True):
        if not names:
            names, texts = scope.suite_names, yamlfmt.suite_texts(scope)
        pieces.append(yamlfmt.items(rows, scope, str(scope.job_id), texts, names))
    return "".join(pieces) if pieces else yamlfmt.dump([])


def thd_records_csv(tx: Tx, principal: Principal, job_id: Any, data_dir: str | None,
                    suite: Any = None, case: Any = None, limit: Any = None,
                    offset: Any = None) -> str:
    """:func:`csv_text` of :func:`thd_records`, written batch by batch."""
    pieces = [csvfmt.rows_text([], csvfmt.ALL, header=True)]
    for batch in _record_batches(tx, principal, job_id, data_dir, suite, case, limit, offset):
        pieces.append(csvfmt.rows_text([dict(zip(RECORD_KEYS, values)) for values in batch],
                                       csvfmt.ALL))
    return "".join(pieces)


def yaml_text(items: list[dict[str, Any]]) -> str:
    """A YAML block list of records (``[]`` when empty), keys in record order."""
    return yamlfmt.items_text(items) if items else yamlfmt.dump(items)


def csv_text(items: list[dict[str, Any]], fields: tuple[str, ...] = csvfmt.FIELDS) -> str:
    """A CSV text with a header, every field quoted."""
    if fields == csvfmt.FIELDS:
        return csvfmt.rows_text(items, csvfmt.ALL, header=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore",
                            quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(items)
    return out.getvalue()


def thd_suites(tx: Tx, principal: Principal, job_id: Any) -> list[dict[str, str]]:
    """The job's suites as ``{name, job, id}`` (strings), by id."""
    pk = thd_results_job_id(tx, principal, job_id)
    return [{"name": r["name"], "job": str(pk), "id": str(r["id"])} for r in tx.all(
        "SELECT id, name FROM test_suites WHERE job_id = ? ORDER BY id", (pk,))]


def thd_case_count(tx: Tx, principal: Principal, job_id: Any, suite: Any) -> int:
    pk = thd_results_job_id(tx, principal, job_id)
    suite_id, _ = _suite(tx, pk, suite)
    return int(tx.scalar("SELECT count(*) FROM test_cases WHERE suite_id = ?", (suite_id,)))


def thd_one_case(tx: Tx, principal: Principal, job_id: Any, data_dir: str | None,
                 suite: Any, case: Any) -> dict[str, Any]:
    """The first case named ``case`` in the suite; NotFound (model TestCase) if none."""
    items = thd_records(tx, principal, job_id, data_dir, suite, case)
    if not items:
        raise NotFound("Test case '%s' was not found." % case, model="TestCase")
    return items[0]


def thd_job_metadata(tx: Tx, principal: Principal, job_id: Any) -> list[dict[str, str]]:
    """The job definition's metadata as single-key mappings ``[{key: str(value)}]``."""
    pk = thd_results_job_id(tx, principal, job_id)
    metadata = json.loads(tx.scalar("SELECT metadata FROM test_jobs WHERE id = ?", (pk,))
                          or "{}")
    return [{str(key): str(value)} for key, value in metadata.items()]
