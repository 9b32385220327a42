"""test_cases.printed_metadata: filled by results ingestion, NULL where the export must work
the fields out itself (extra), and the CSV exports the same with or without it."""

from __future__ import annotations

import csv as stdcsv
import io
from typing import Any

import pytest
from ingested import ingested_lab

from lavad.exports import csv as csvfmt
from lavad.exports import (
    thd_collect,
    thd_job_csv,
    thd_results_csv,
    thd_results_suite_csv,
    thd_suite_csv,
)
from lavad.exports.records import (
    CASE_COLUMNS,
    parse_metadata,
    printed_metadata,
    record_values,
    thd_scope,
)
from lavad.store.tx import SyncStore
from lavad.users import Principal

ADMIN = Principal(id=1, username="admin", is_active=True, is_superuser=True)

# Hand-made results beyond the recording: levels of every type, values the writer must
# quote (commas, quotes, line breaks), names that need quoting, booleans, numbers, dates.
ODD = [
    {"definition": "odd", "case": "int-level", "result": "pass", "level": 3},
    {"definition": "odd", "case": "float-level", "result": "pass", "level": 3.5},
    {"definition": "odd", "case": "null-level", "result": "pass", "level": None},
    {"definition": "odd", "case": "comma-level", "result": "fail", "level": "1,2"},
    {"definition": "odd", "case": "quote-level", "result": "fail", "level": 'say "x"'},
    {"definition": "odd", "case": "break-level", "result": "fail", "level": "a\nb"},
    {"definition": "odd", "case": "quoted", "result": "pass", "note": 'it\'s "fine", ok'},
    {"definition": "odd", "case": "multi\nline", "result": "skip", "note": "x\r\ny"},
    {"definition": "odd", "case": 'name "q", c', "result": "unknown", "flag": True},
    {"definition": "odd", "case": "dated", "result": "pass", "when": "2023-01-23",
     "n": 7, "f": 1.25, "empty": None},
    {"definition": "odd", "case": "measured", "result": "pass", "measurement": "12.5",
     "units": "MB/s"},
    {"definition": "odd", "case": "with-extra", "result": "pass", "level": "9.1",
     "extra": {"k": "v"}},
]


@pytest.fixture
def lab(tmp_path: Any) -> Any:
    store, ids, data_dir = ingested_lab(tmp_path, ODD)
    yield store, ids, data_dir
    store.close()


def _exports(store: SyncStore, job: int, data_dir: str) -> dict[str, bytes]:
    def thd_all(tx: Any) -> dict[str, bytes]:
        out = {"rest": thd_collect(tx, thd_job_csv(tx, ADMIN, job, data_dir)),
               "rest window": thd_collect(tx, thd_job_csv(tx, ADMIN, job, data_dir, "5", "3")),
               "results": thd_collect(tx, thd_results_csv(tx, ADMIN, job, data_dir))}
        for suite_id, name in tx.all("SELECT id, name FROM test_suites WHERE job_id = ?",
                                     (job,)):
            out["suite %s" % name] = thd_collect(
                tx, thd_suite_csv(tx, ADMIN, job, suite_id, data_dir))
            out["results suite %s" % name] = thd_collect(
                tx, thd_results_suite_csv(tx, ADMIN, job, name, data_dir))
        return out
    return store.run(thd_all)


def _written(store: SyncStore, job: int, data_dir: str, quoting: Any) -> bytes:
    """The job's CSV by csv.writer from each case's record (the metadata text read)."""
    def thd_rows(tx: Any) -> bytes:
        scope = thd_scope(tx, job, data_dir)
        out = io.StringIO()
        writer = stdcsv.writer(out, quoting=quoting)
        writer.writerow(csvfmt.FIELDS)
        names = scope.suite_names
        for row in tx.all("SELECT %s FROM test_cases WHERE suite_id IN (%s) ORDER BY id"
                          % (CASE_COLUMNS, scope.suite_list())):
            writer.writerow(csvfmt._IN_FIELD_ORDER(
                record_values(row, scope, names[row[1]]) + csvfmt._EMPTY))
        return out.getvalue().encode("utf-8")
    return store.run(thd_rows)


def test_ingestion_stores_the_printed_form_except_for_extra(lab: Any) -> None:
    """Ingested cases get their text's printed form; extra (and odd levels) keep NULL."""
    store, _, _ = lab
    rows = store.run(lambda tx: [tuple(r) for r in tx.all(
        "SELECT metadata, printed_metadata FROM test_cases")])
    assert len(rows) > 30
    extra = [text for text, printed in rows if "extra" in parse_metadata(text)]
    assert extra and all(printed is None for text, printed in rows if text in extra)
    levelled = 0
    for text, printed in rows:
        if text not in extra and parse_metadata(text).get("level") is not None:
            levelled += 1
        assert printed == printed_metadata(text), text
    assert levelled >= 5
    assert sum(printed is None for _, printed in rows) == len(extra) + 2  # float, null level


def test_csv_exports_are_the_same_with_and_without_printed_forms(lab: Any) -> None:
    """Every CSV export of ingested jobs is the same with printed forms and NULL, as written."""
    store, ids, data_dir = lab
    filled = {job: _exports(store, job, data_dir) for job in ids}
    store.run(lambda tx: tx.execute("UPDATE test_cases SET printed_metadata = NULL"))
    for job in ids:
        assert _exports(store, job, data_dir) == filled[job]
        assert filled[job]["rest"] == _written(store, job, data_dir, stdcsv.QUOTE_ALL)
        assert filled[job]["results"] == _written(store, job, data_dir, stdcsv.QUOTE_MINIMAL)
    assert b"odd" in filled[ids[-1]]["rest"] and b"with-extra" in filled[ids[-1]]["rest"]
