"""test_cases.yaml_verbatim: set by results ingestion where the YAML exports write the stored
metadata text as it is, and the YAML exports the same (and PyYAML's) with it or NULL."""

from __future__ import annotations

import random
from typing import Any

import pytest
from ingested import ingested_lab

from lavad import resultqueries
from lavad.exports import (
    thd_collect,
    thd_job_yaml,
    thd_results_suite_yaml,
    thd_results_yaml,
    thd_suite_yaml,
    yamlfmt,
)
from lavad.exports.records import (
    RECORD_KEYS,
    YAML_COLUMNS,
    JobScope,
    parse_metadata,
    record_values,
    thd_scope,
)
from lavad.results import yaml_dump
from lavad.store.tx import SyncStore
from lavad.users import Principal

ADMIN = Principal(id=1, username="admin", is_active=True, is_superuser=True)

# Results whose records (or metadata) the direct format must not write: values to quote
# or wrap, nested values, levels of every type, names and units with spaces or breaks,
# extra (a file read at export), measurements, log lines.
ODD = [
    {"definition": "odd", "case": "int-level", "result": "pass", "level": 3},
    {"definition": "odd", "case": "float-level", "result": "pass", "level": 3.5},
    {"definition": "odd", "case": "null-level", "result": "pass", "level": None},
    {"definition": "odd", "case": "text-level", "result": "pass", "level": "1.2.3"},
    {"definition": "odd", "case": "long-level", "result": "fail",
     "level": "word " * 18 + "end"},
    {"definition": "odd", "case": "break-level", "result": "fail", "level": "a\nb"},
    {"definition": "odd", "case": "quoted", "result": "pass", "note": 'it\'s "fine", ok'},
    {"definition": "odd", "case": "wrapped", "result": "pass",
     "note": "a long note that the dumper wraps " * 4},
    {"definition": "odd", "case": "almost", "result": "pass", "note": "x " * 36 + "end"},
    {"definition": "odd", "case": "nested", "result": "pass", "more": {"a": [1, "b"]}},
    {"definition": "odd", "case": "multi\nline", "result": "skip", "note": "x\r\ny"},
    {"definition": "odd", "case": 'name "q", c', "result": "unknown", "flag": True},
    {"definition": "odd", "case": "yes", "result": "pass"},
    {"definition": "odd", "case": "007", "result": "pass"},
    {"definition": "odd", "case": "dated", "result": "pass", "when": "2023-01-23",
     "n": 7, "f": 1.25, "empty": None},
    {"definition": "odd", "case": "measured", "result": "pass", "measurement": "-12.5",
     "units": "MB/s"},
    {"definition": "odd", "case": "spaced-unit", "result": "pass", "measurement": 3,
     "units": "per second " * 9},
    {"definition": "odd", "case": "unicode", "result": "pass", "note": "\u00e9t\u00e9 \u2603"},
    {"definition": "odd", "case": "lines", "result": "fail", "starttc": 3, "endtc": 5},
    {"definition": "odd", "case": "with-extra", "result": "pass", "level": "9.1",
     "extra": {"k": "v"}},
    {"definition": "needs quotes: yes", "case": "suite", "result": "pass"},
]


@pytest.fixture
def lab(tmp_path: Any) -> Any:
    store, ids, data_dir = ingested_lab(tmp_path, ODD)
    yield store, ids, data_dir
    store.close()


def _exports(store: SyncStore, job: int, data_dir: str) -> dict[str, Any]:
    def thd_all(tx: Any) -> dict[str, Any]:
        out = {"rest": thd_collect(tx, thd_job_yaml(tx, ADMIN, job, data_dir)),
               "rest window": thd_collect(tx, thd_job_yaml(tx, ADMIN, job, data_dir, "7", "3")),
               "results": thd_collect(tx, thd_results_yaml(tx, ADMIN, job, data_dir)),
               "rpc": resultqueries.thd_records_yaml(tx, ADMIN, job, data_dir)}
        for suite_id, name in tx.all("SELECT id, name FROM test_suites WHERE job_id = ?",
                                     (job,)):
            out["suite %s" % name] = thd_collect(
                tx, thd_suite_yaml(tx, ADMIN, job, suite_id, data_dir))
            out["results suite %s" % name] = thd_collect(
                tx, thd_results_suite_yaml(tx, ADMIN, job, name, data_dir, "4", "1"))
            out["rpc suite %s" % name] = resultqueries.thd_records_yaml(
                tx, ADMIN, job, data_dir, name, None, 5, 2)
        return out
    return store.run(thd_all)


def _dumped(store: SyncStore, job: int, data_dir: str) -> bytes:
    """The job's YAML export by PyYAML, from each case's record (the metadata text read)."""
    def thd_records(tx: Any) -> bytes:
        scope = thd_scope(tx, job, data_dir)
        names = scope.suite_names
        records = [dict(zip(RECORD_KEYS, record_values(row, scope, names[row[1]])))
                   for row in tx.all("SELECT %s FROM test_cases WHERE suite_id IN (%s)"
                                     " ORDER BY id" % (YAML_COLUMNS, scope.suite_list()))]
        return yamlfmt.dump(records).encode("utf-8")
    return store.run(thd_records)


def test_ingestion_marks_what_is_written_as_stored(lab: Any) -> None:
    """Ingested cases get verbatim() of their text: 1 for every recorded one without extra."""
    store, _, _ = lab
    rows = store.run(lambda tx: [tuple(r) for r in tx.all(
        "SELECT metadata, yaml_verbatim FROM test_cases")])
    assert len(rows) > 30
    for text, plain in rows:
        assert plain == yamlfmt.verbatim(text), text
        metadata = parse_metadata(text)
        if "extra" in metadata:
            assert plain == 0
        elif metadata["definition"] != "odd":
            assert plain == 1, text
    assert sum(plain for _, plain in rows) >= 25


def test_yaml_exports_are_the_same_with_and_without_the_mark(lab: Any) -> None:
    """Every YAML export of ingested jobs is the same with yaml_verbatim and NULL, as dumped."""
    store, ids, data_dir = lab
    filled = {job: _exports(store, job, data_dir) for job in ids}
    store.run(lambda tx: tx.execute("UPDATE test_cases SET yaml_verbatim = NULL"))
    for job in ids:
        assert _exports(store, job, data_dir) == filled[job]
        dumped = _dumped(store, job, data_dir)
        assert filled[job]["rest"] == dumped
        assert filled[job]["results"] == dumped
    assert b"with-extra" in filled[ids[-1]]["rest"] and b"long-level" in filled[ids[-1]]["rest"]


@pytest.mark.parametrize("text", [None, "", "{}\n", "case: x\nextra: /tmp/x.yaml\n",
                                  "case: x", "- a\n- b\n", "case: yes\n", "case: 'x'\n",
                                  "case: x\ncase: y\n", "level: 1\nlevel: 2\n"])
def test_verbatim_declines_what_is_not_written_as_stored(text: Any) -> None:
    """Empty or non-mapping metadata, extra, texts the dumper writes otherwise: 0."""
    assert yamlfmt.verbatim(text) == 0


@pytest.mark.parametrize("text", ["definition: lava\ncase: x\nresult: pass\n",
                                  "case: x\nlevel: '1.2'\nduration: '3.50'\n",
                                  "a:\n  b: 1\nlevel: 3\n", 'case: "\\u2603"\n'])
def test_verbatim_accepts_what_the_dumper_stored(text: str) -> None:
    """The ingestion's own dumps of flat (and nested) mappings are written as stored."""
    assert yaml_dump(parse_metadata(text)) == text
    assert yamlfmt.verbatim(text) == 1


# Values of the other columns, the plain and the awkward.
NAMES = ["pwd", "ltp-syscalls-001", "a.b/c+d_e", "yes", "Null", "007", "1.5", "two words",
         "x" * 90, "word " * 20, "", "-x", "\u00e9", "colon: here", "line\nbreak"]
MEASURES = [None, "12.5000000000", "-0.2500000000", "123456789012.0000000000", "1.5",
            "abc", "1e3", ""]
UNITS = ["", None, "seconds", "MB/s", "yes", "two words", "per second " * 9, "007"]
LOGGED = ["2026-07-01T12:00:00.123456", "2026-07-01T12:00:00.000000", "2026-07-01T12:00:00",
          "2026-07-01T12:00:00.5", "yesterday", "2026-07-01 12:00:00"]
LINES = [None, 0, 1, 40266, -3, "7"]
META = ["pass", "lava", "0_smoke-tests", "1", "72.29", "yes", "", "a b", "it's",
        "word " * 17, "\u2603", 3, 1.5, None, True, [1, 2], {"k": "v"}]


def _metadata(rnd: random.Random) -> str | None:
    if rnd.random() < 0.05:
        return rnd.choice([None, ""])
    pairs = {"definition": rnd.choice(META), "case": rnd.choice(NAMES[:3]),
             "result": rnd.choice(["pass", "fail"])}
    for _ in range(rnd.randint(0, 3)):
        pairs[rnd.choice(["level", "duration", "namespace", "extra", "note", "yes", "n"])] = \
            rnd.choice(META)
    return yaml_dump(pairs)


def test_plain_items_are_pyyaml_or_nothing() -> None:
    """plain_items writes each record as PyYAML's dump of it, or declines (random rows)."""
    rnd = random.Random(20230123)
    scope = JobScope(7, ((1, "lava"), (2, "0_smoke"), (3, "needs: quote"), (4, "yes")), 1,
                     10 ** 6, None, 0, None)
    suites = yamlfmt.suite_texts(scope)
    names = scope.suite_names
    written = 0
    for size in (1, 3, 250, 250, 250, 250):
        rows = []
        for _ in range(size):
            odd = rnd.random() < 0.3
            pick = (lambda values: rnd.choice(values)) if odd else (lambda values: values[0])
            text = _metadata(rnd)
            rows.append((rnd.randint(1, 10 ** 6), rnd.choice([1, 2, 2, 3, 4]), None,
                         pick(NAMES), rnd.choice([0, 1, 2, 3, 9]), pick(MEASURES),
                         pick(UNITS), text, pick(LINES), pick(LINES), pick(LOGGED),
                         rnd.choice([yamlfmt.verbatim(text), None])))
        items = yamlfmt.plain_items(rows, "7", suites)
        assert len(items) == len(rows)
        for row, item in zip(rows, items):
            values = record_values(row, scope, names[row[1]])
            expected = yamlfmt.dump([dict(zip(RECORD_KEYS, values))])
            if item is not None:
                written += 1
                assert item == expected, row
            assert yamlfmt.items([row], scope, "7", suites, names) == expected
        assert yamlfmt.items(rows, scope, "7", suites, names) == "".join(
            yamlfmt.items([row], scope, "7", suites, names) for row in rows)
    assert written > 200


def test_plain_items_check_each_value_when_a_batch_has_an_odd_one() -> None:
    """One odd name, time or measurement in a batch declines that row only."""
    scope = JobScope(2, ((1, "s"),), 1, 100, None, 0, None)
    text = "case: x\nresult: pass\n"
    usual = (1, 1, None, "x", 0, "1.0000000000", "", text, None, None,
             "2026-07-01T12:00:00.000000", 1)
    odd = [usual[:3] + ("yes",) + usual[4:], usual[:10] + ("today",) + usual[11:],
           usual[:5] + ("1.5",) + usual[6:], usual[:8] + (-1,) + usual[9:]]
    for row in odd:
        items = yamlfmt.plain_items([usual, row, usual], "2", yamlfmt.suite_texts(scope))
        assert items[0] is not None and items[2] == items[0]
        assert items[1] is None
