"""Results exports: every document LAVA serves for a job's results, built on the store thread.

Each ``thd_*`` function here checks who may see the job (through
:mod:`lavad.exports.records`, which asks :mod:`lavad.permissions`), freezes
the export's scope and returns a :class:`~lavad.exports.document.Document`:
its content type, its ``Content-Disposition`` and a body produced batch by
batch by :meth:`Document.thd_next` (or at once by
:func:`~lavad.exports.document.thd_collect`).  The HTTP adapters
(:mod:`lavad.http.exports`, :mod:`lavad.http.results`) stream it.

REST (spec 5.2, 6)::

    thd_junit, thd_tap13, thd_job_csv, thd_job_yaml      jobs/{id}/<format>/
    thd_suite_csv, thd_suite_yaml                        jobs/{id}/suites/{sid}/<format>/
    thd_job_log                                          jobs/{id}/logs/

``/results/`` (spec 8)::

    thd_results_csv, thd_results_yaml, thd_results_summary, thd_results_metadata,
    thd_results_suite_csv, thd_results_suite_yaml, thd_results_case_count,
    thd_results_case_yaml

``limit``/``offset``/``start``/``end`` arrive as the query's text; a value
that is not a non-negative integer is :class:`~lavad.errors.Invalid` (400).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lavad.exports import csv, junit, tap13, yamlfmt
from lavad.exports.document import Body, Cursor, Document, thd_collect
from lavad.exports.joblog import thd_log_document
from lavad.exports.records import (
    count_param,
    job_window,
    suite_window,
    thd_case,
    thd_rest_job,
    thd_results_job,
    thd_scope,
    thd_suite_by_id,
    thd_suite_by_name,
)
from lavad.store.tx import Tx
from lavad.users import Principal

__all__ = [
    "Document",
    "thd_collect",
    "thd_job_csv",
    "thd_job_log",
    "thd_job_yaml",
    "thd_junit",
    "thd_results_case_count",
    "thd_results_case_yaml",
    "thd_results_csv",
    "thd_results_metadata",
    "thd_results_suite_csv",
    "thd_results_suite_yaml",
    "thd_results_summary",
    "thd_results_yaml",
    "thd_suite_csv",
    "thd_suite_yaml",
    "thd_tap13",
]

CSV, YAML, XML = "application/csv", "application/yaml", "application/xml"
TEXT_CSV, TEXT_YAML = "text/csv", "text/yaml"


def _once(data: bytes) -> Body:
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        yield data
    return chunks


def _attachment(name: str) -> str:
    return "attachment; filename=%s" % name


def _quoted_attachment(name: str) -> str:
    return 'attachment; filename="%s"' % name


# -- REST: jobs/{id}/... ----------------------------------------------------------------------
def thd_junit(tx: Tx, principal: Principal, job_id: int, data_dir: str | None,
              classname_prefix: str | None = None) -> Document:
    thd_rest_job(tx, principal, job_id)
    scope = thd_scope(tx, job_id, data_dir)
    return Document(XML, _attachment("job_%d.xml" % job_id),
                    junit.body(scope, classname_prefix), name="job %d junit" % job_id)


def thd_tap13(tx: Tx, principal: Principal, job_id: int, data_dir: str | None) -> Document:
    thd_rest_job(tx, principal, job_id)
    scope = thd_scope(tx, job_id, data_dir)
    return Document(YAML, _attachment("job_%d.yaml" % job_id), tap13.body(scope),
                    name="job %d tap13" % job_id)


def thd_job_csv(tx: Tx, principal: Principal, job_id: int, data_dir: str | None,
                limit: str | None = None, offset: str | None = None) -> Document:
    thd_rest_job(tx, principal, job_id)
    window = job_window(limit, offset)
    scope = thd_scope(tx, job_id, data_dir)
    return Document(CSV, _attachment("job_%d.csv" % job_id), csv.body(scope, window),
                    name="job %d csv" % job_id)


def thd_job_yaml(tx: Tx, principal: Principal, job_id: int, data_dir: str | None,
                 limit: str | None = None, offset: str | None = None) -> Document:
    thd_rest_job(tx, principal, job_id)
    window = job_window(limit, offset)
    scope = thd_scope(tx, job_id, data_dir)
    return Document(YAML, _attachment("job_%d.yaml" % job_id), yamlfmt.body(scope, window),
                    name="job %d yaml" % job_id)


def thd_suite_csv(tx: Tx, principal: Principal, job_id: int, suite_id: int,
                  data_dir: str | None, limit: str | None = None,
                  offset: str | None = None) -> Document:
    thd_results_job(tx, principal, job_id)
    suite = thd_suite_by_id(tx, job_id, suite_id)
    window = suite_window(limit, offset)
    scope = thd_scope(tx, job_id, data_dir, suite)
    return Document(CSV, _attachment("suite_%s.csv" % suite[1]), csv.body(scope, window),
                    name="suite %d csv" % suite_id)


def thd_suite_yaml(tx: Tx, principal: Principal, job_id: int, suite_id: int,
                   data_dir: str | None, limit: str | None = None,
                   offset: str | None = None) -> Document:
    thd_results_job(tx, principal, job_id)
    suite = thd_suite_by_id(tx, job_id, suite_id)
    window = suite_window(limit, offset)
    scope = thd_scope(tx, job_id, data_dir, suite)
    return Document(YAML, _attachment("suite_%s.yaml" % suite[1]),
                    yamlfmt.body(scope, window), name="suite %d yaml" % suite_id)


def thd_job_log(tx: Tx, principal: Principal, job_id: int, data_dir: str | None,
                start: str | None = None, end: str | None = None) -> Document:
    thd_rest_job(tx, principal, job_id)
    return thd_log_document(tx, job_id, data_dir, count_param("start", start),
                            count_param("end", end))


# -- /results/{job}/... -----------------------------------------------------------------------
def thd_results_csv(tx: Tx, principal: Principal, job: int | str,
                    data_dir: str | None) -> Document:
    """``/results/{job}/csv``: every case, minimal quoting, ``limit``/``offset`` ignored."""
    job_id = thd_results_job(tx, principal, job)
    scope = thd_scope(tx, job_id, data_dir)
    return Document(TEXT_CSV, _quoted_attachment("lava_%d.csv" % job_id),
                    csv.body(scope, quoting=csv.MINIMAL), name="results %d csv" % job_id)


def thd_results_yaml(tx: Tx, principal: Principal, job: int | str,
                     data_dir: str | None) -> Document:
    """``/results/{job}/yaml``: every case; an empty body when there are none."""
    job_id = thd_results_job(tx, principal, job)
    scope = thd_scope(tx, job_id, data_dir)
    return Document(TEXT_YAML, _quoted_attachment("lava_%d.yaml" % job_id),
                    yamlfmt.body(scope, empty=b""), name="results %d yaml" % job_id)


def thd_results_summary(tx: Tx, principal: Principal, job: int | str) -> Document:
    """``/results/{job}/yaml_summary``: the suites as ``{name, job, id}``."""
    job_id = thd_results_job(tx, principal, job)
    suites = [{"name": r["name"], "job": str(job_id), "id": str(r["id"])} for r in tx.all(
        "SELECT id, name FROM test_suites WHERE job_id = ? ORDER BY name, id", (job_id,))]
    return Document(TEXT_YAML, _quoted_attachment("lava_%d_summary.yaml" % job_id),
                    _once(yamlfmt.dump(suites).encode("utf-8")))


def thd_results_metadata(tx: Tx, principal: Principal, job: int | str) -> Document:
    """``/results/{job}/metadata``: the job's metadata mapping."""
    job_id = thd_results_job(tx, principal, job)
    stored = tx.scalar("SELECT metadata FROM test_jobs WHERE id = ?", (job_id,))
    metadata: Any = json.loads(stored or "{}")
    text = yamlfmt.yaml.safe_dump(metadata, default_flow_style=False)
    return Document(TEXT_YAML, _quoted_attachment("lava_metadata_%d.yaml" % job_id),
                    _once(text.encode("utf-8")))


def thd_results_suite_csv(tx: Tx, principal: Principal, job: int | str, suite_name: str,
                          data_dir: str | None, limit: str | None = None,
                          offset: str | None = None) -> Document:
    """``/results/{job}/{suite}/csv``: by id, every field quoted, LAVA's chunking."""
    job_id = thd_results_job(tx, principal, job)
    suite = thd_suite_by_name(tx, job_id, suite_name)
    window = suite_window(limit, offset)
    scope = thd_scope(tx, job_id, data_dir, suite)
    return Document(TEXT_CSV, _quoted_attachment("lava_%s.csv" % suite[1]),
                    csv.body(scope, window), name="results suite %d csv" % suite[0])


def thd_results_suite_yaml(tx: Tx, principal: Principal, job: int | str, suite_name: str,
                           data_dir: str | None, limit: str | None = None,
                           offset: str | None = None) -> Document:
    """``/results/{job}/{suite}/yaml``: the same rows as a YAML list."""
    job_id = thd_results_job(tx, principal, job)
    suite = thd_suite_by_name(tx, job_id, suite_name)
    window = suite_window(limit, offset)
    scope = thd_scope(tx, job_id, data_dir, suite)
    return Document(TEXT_YAML, _quoted_attachment("lava_%s.yaml" % suite[1]),
                    yamlfmt.body(scope, window), name="results suite %d yaml" % suite[0])


def thd_results_case_count(tx: Tx, principal: Principal, job: int | str,
                           suite_name: str) -> int:
    """``/results/{job}/{suite}/+testcase-count``."""
    job_id = thd_results_job(tx, principal, job)
    suite_id, _ = thd_suite_by_name(tx, job_id, suite_name)
    return int(tx.scalar("SELECT count(*) FROM test_cases WHERE suite_id = ?", (suite_id,)))


def thd_results_case_yaml(tx: Tx, principal: Principal, case_id: int,
                          data_dir: str | None) -> Document:
    """``/results/testcase/{id}/yaml``: one record as a mapping."""
    record, name = thd_case(tx, principal, case_id, data_dir)
    return Document(TEXT_YAML, _quoted_attachment("lava_%s.yaml" % name),
                    _once(yamlfmt.dump(record).encode("utf-8")))
