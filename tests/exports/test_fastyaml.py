"""The exports' fast YAML paths give exactly what PyYAML gives, or step aside."""

from __future__ import annotations

import copy
import random

import pytest
import yaml

from lavad.exports import fastyaml
from lavad.exports.records import parse_metadata
from lavad.results import yaml_dump

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

# Values of every kind the records and metadata carry, and the awkward ones.
TEXTS = [
    "pass", "fail", "skip", "unknown", "None", "", "0", "7", "08", "007", "10", "-3", "1.5",
    "12.3450000000", "1e3", "0x1f", "1_000", "1:20", "yes", "No", "TRUE", "off", "null", "~",
    "y", "n", "on", "nan", ".inf", "lava", "0_smoke-tests", "1_benchmark", "2_kselftest",
    "ltp-syscalls-001", "linux-posix-lsb_release", "auto-login-action", "/results/testcase/7",
    "/", "2023-01-23 12:00:00.250000+00:00", "2023-01-23 12:00:00+00:00", "2023-01-23",
    "Canceled by user", "Infrastructure error: timed out after 300 seconds", "a: b", "a #b",
    "#x", "-x", "- x", "? x", "x:", "it's", 'say "hi"', "tab\there", "line\nbreak", " lead",
    "trail ", "é", "\u2603", "@at", "`tick", "%pct", "&amp", "*star", "!bang", "|pipe",
    ">gt", "[x]", "{x}", "x,y", "a" * 150, "word " * 30, "k=v", "=", "<<", "MB/s",
    "Mbits/sec", "seconds", "a.b.c", "v6.1.7", "next-20230120", "common", "1.0", "-", "+1",
]
VALUES = TEXTS + [0, 1, -1, 12345678901234567890, True, False, None, 1.5, [1, 2], {"a": 1}]


def _record(rnd: random.Random) -> dict:
    metadata = {}
    for _ in range(rnd.randint(0, 6)):
        metadata[rnd.choice(["case", "definition", "result", "level", "duration",
                             "namespace", "timeout", "error_msg", "error_type", "units",
                             "measurement", "extra", rnd.choice(TEXTS) or "k"])] = \
            rnd.choice(VALUES)
    return {"name": rnd.choice(TEXTS), "job": str(rnd.randint(1, 9999)),
            "suite": rnd.choice(TEXTS), "result": rnd.choice(TEXTS),
            "measurement": rnd.choice(TEXTS), "unit": rnd.choice(TEXTS),
            "level": rnd.choice(VALUES), "url": "/results/testcase/%d" % rnd.randint(1, 10 ** 6),
            "id": str(rnd.randint(1, 10 ** 6)), "logged": rnd.choice(TEXTS),
            "log_start_line": rnd.choice(["", "12", "40266"]),
            "log_end_line": rnd.choice(["", "17", "0"]), "metadata": metadata}


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_scalar_is_pyyaml_or_nothing(value):
    """scalar() writes a value as the safe dumper does, or declines."""
    written = fastyaml.scalar(value)
    if written is not None:
        expected = yaml.safe_dump({"k": value}, default_flow_style=False, width=10 ** 6)
        assert "k: %s\n" % written == expected


def test_records_are_byte_identical_to_safe_dump():
    """dump_record() of thousands of varied records equals yaml.safe_dump of a one-item list
    (or declines), and the fast path covers the ordinary ones."""
    rnd = random.Random(5)
    fast = 0
    for _ in range(3000):
        record = _record(rnd)
        text = fastyaml.dump_record(record)
        if text is not None:
            fast += 1
            assert text == yaml.safe_dump([record], default_flow_style=False, sort_keys=False)
    assert fast > 300
    ordinary = {"name": "ltp-math-001", "job": "2", "suite": "1_ltp-math", "result": "pass",
                "measurement": "None", "unit": "", "level": "", "url": "/results/testcase/9",
                "id": "9", "logged": "2023-01-23 12:00:00.250000+00:00",
                "log_start_line": "", "log_end_line": "",
                "metadata": {"case": "ltp-math-001", "definition": "1_ltp-math",
                             "result": "pass"}}
    assert fastyaml.dump_record(ordinary) == yaml.safe_dump(
        [ordinary], default_flow_style=False, sort_keys=False)


def test_metadata_is_read_as_the_loader_reads_it():
    """load_metadata() of stored metadata texts equals the YAML loader's mapping (same
    types), or declines; parse_metadata() always equals the loader."""
    rnd = random.Random(9)
    fast = 0
    for _ in range(3000):
        stored = {}
        for _ in range(rnd.randint(0, 7)):
            stored[rnd.choice(["case", "definition", "result", "level", "duration",
                               rnd.choice(TEXTS) or "k"])] = rnd.choice(VALUES)
        text = yaml_dump(stored)
        expected = yaml.load(text, Loader=Loader)
        got = fastyaml.load_metadata(text)
        if got is not None:
            fast += 1
            assert got == expected
            assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
            assert list(got) == list(expected)
        assert parse_metadata(text) == (expected if isinstance(expected, dict) else {})
    assert fast > 300
    assert fastyaml.load_metadata("case: x\ndefinition: 0_a\nlevel: '1.2'\nn: 3\n") == {
        "case": "x", "definition": "0_a", "level": "1.2", "n": 3}


def test_export_writers_match_pyyaml_and_dictwriter():
    """yamlfmt.items_text and resultqueries.yaml_text equal PyYAML's dump of the list, and
    csv.rows_text equals csv.DictWriter's output, on varied records."""
    import csv as stdcsv
    import io

    from lavad import resultqueries
    from lavad.exports import csv as csvfmt
    from lavad.exports import yamlfmt

    rnd = random.Random(11)
    # Fresh objects per record, as exports build them (shared ones would become anchors).
    records = [copy.deepcopy(_record(rnd)) for _ in range(500)]
    whole = yaml.safe_dump(records, default_flow_style=False, sort_keys=False)
    assert yamlfmt.items_text(records) == whole
    assert resultqueries.yaml_text(records) == whole
    assert resultqueries.yaml_text([]) == "[]\n"
    for quoting in (csvfmt.ALL, csvfmt.MINIMAL):
        out = io.StringIO()
        writer = stdcsv.DictWriter(out, fieldnames=csvfmt.FIELDS, restval="",
                                   extrasaction="ignore", quoting=quoting)
        writer.writeheader()
        writer.writerows(records)
        assert csvfmt.rows_text(records, quoting, header=True) == out.getvalue()


def test_junit_escape_fast_path_changes_nothing():
    """junit.escape returns text without special characters as it is, and equals the full
    escaping (line ends, invalid characters, & < " >) on every text."""
    from lavad.exports import junit

    def full(text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return junit._INVALID_XML.sub("\ufffd", text).translate(junit._ESCAPES)

    for text in TEXTS + ["a&b", "<x>", 'q"q', "cr\r\nlf", "cr\ronly", "nul\x00", "bell\x07",
                         "\ufffe", "tab\tok", "plain-name_1.2", "2023-01-23T12:00:00+00:00"]:
        assert junit.escape(text) == full(text)


def test_csv_quoted_line_is_what_the_writer_writes():
    """csv.quoted_line() of varied case rows equals csv.writer(QUOTE_ALL) of the record's
    values (or declines), and takes the ordinary rows."""
    import csv as stdcsv
    import io

    from lavad.exports import csv as csvfmt
    from lavad.exports.records import JobScope, record_values

    scope = JobScope(7, ((3, "0_smoke"),), 1, 10 ** 6, None, 0, None)
    rnd = random.Random(3)
    fast = 0
    for case_id in range(1, 2000):
        metadata = {}
        for _ in range(rnd.randint(0, 5)):
            metadata[rnd.choice(["case", "definition", "result", "level", "duration", "extra",
                                 rnd.choice(TEXTS) or "k"])] = rnd.choice(VALUES)
        row = (case_id, 3, None, rnd.choice([t for t in TEXTS if t] + ['say "hi"']),
               rnd.randint(0, 4), rnd.choice([None, "12.3450000000", "7", "x"]),
               rnd.choice(["", "MB/s", 'a"b', None]),
               rnd.choice([yaml_dump(copy.deepcopy(metadata)), "", None, "{}\n", "- x\n"]),
               rnd.choice([None, 0, 12]), rnd.choice([None, 0, 17]),
               rnd.choice(["2023-01-23T12:00:00.250000", "2023-01-23T12:00:00.000000"]))
        line = csvfmt.quoted_line(row, "7", "0_smoke")
        out = io.StringIO()
        stdcsv.writer(out, quoting=stdcsv.QUOTE_ALL).writerow(
            csvfmt._IN_FIELD_ORDER(record_values(row, scope, "0_smoke") + csvfmt._EMPTY))
        if line is not None:
            fast += 1
            assert line == out.getvalue()
    assert fast > 300
