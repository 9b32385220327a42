"""The CSV export's batch fast path (plain metadata reprs, lines written by format) gives
exactly what the reference gives (the mapping's repr, csv.writer), or steps aside."""

from __future__ import annotations

import copy
import csv as stdcsv
import io
import random

import yaml

from lavad.exports import csv as csvfmt
from lavad.exports.records import (
    JobScope,
    parse_metadata,
    printed_metadata,
    python_time,
    record_values,
    split_printed,
)
from lavad.results import yaml_dump

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

# Words of every shape the plain reader takes or must refuse (booleans, nulls, numbers,
# timestamps, integers in other bases, digits then letters).
WORDS = [
    "pass", "fail", "lava", "common", "0_smoke-tests", "1_ltp-math", "12_kselftest",
    "ltp-syscalls-001", "linux-posix-lsb_release", "a.b.c", "v6.1.7", "x/y", "c++", "MB/s",
    "1e5", "1E5", "1_000", "0b101", "0x1F", "0o17", "0b", "0x", "0_", "0a", "1a", "2022-01-01",
    "2022a", "1_a.5", "1.5", "1.5e+3", "1:20", "7", "007", "-3", "+1", "yes", "No", "TRUE",
    "off", "On", "null", "NULL", "y", "n", "~", ".inf", "nan", "x:", "a b", "it's", 'say "hi"',
    "back\\slash", "tab\there", "é", "", "-", "-x", "=", "<<", "k=v", "a,b", "comma, space",
    "extra", "level",
]
KEYS = ["definition", "case", "result", "level", "extra", "namespace", "duration", "timeout",
        "measurement", "units", "yes", "null", "On", "k", "0_k", "a.b", "x y"]
VALUES = WORDS + [0, 12, -1, True, False, None, 1.5, [1], {"a": 1}]


def _texts(rnd: random.Random, count: int) -> list[str]:
    texts = []
    for _ in range(count):
        shape = rnd.random()
        if shape < 0.4:  # the usual three keys
            text = yaml_dump({"definition": rnd.choice(WORDS), "case": rnd.choice(WORDS),
                              "result": rnd.choice(WORDS)})
        elif shape < 0.85:
            text = yaml_dump({rnd.choice(KEYS): rnd.choice(VALUES)
                              for _ in range(rnd.randint(1, 6))})
        elif shape < 0.95:  # hand-made: unquoted words, repeated keys
            text = "".join("%s: %s\n" % (rnd.choice(KEYS), rnd.choice(WORDS))
                           for _ in range(rnd.randint(1, 4)))
        else:
            text = rnd.choice(["", "{}\n", "- x\n", "case: x", "a: b\x00\n", "case: x\n\n"])
        texts.append(text)
    return texts


def _reference(text: str) -> str:
    return str(parse_metadata(text))


def test_digit_words_read_as_strings():
    """Every value the plain pattern takes (digits then a letter included) is read by the
    YAML loader as that very string; the integers 0b.../0x... are refused."""
    import re

    value = re.compile(csvfmt._VALUE)
    rnd = random.Random(5)
    alphabet = "0123456789_abexABEX.+-/"
    taken = 0
    for _ in range(20000):
        word = rnd.choice("0123456789") + "".join(
            rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
        if value.fullmatch(word + "\n"):
            taken += 1
            assert yaml.load("k: %s\n" % word, Loader=Loader) == {"k": word}, word
    assert taken > 1000
    assert not value.fullmatch("0b101\n") and not value.fullmatch("0x1F\n")


def test_plain_reprs_are_the_mappings_reprs():
    """plain_reprs() of varied stored texts, in batches of mixed and of uniform shapes,
    equals str(parse_metadata(text)) for each text it takes and takes the ordinary ones."""
    rnd = random.Random(17)
    taken = 0
    for _ in range(300):
        texts = _texts(rnd, rnd.randint(1, 40))
        if rnd.random() < 0.3:  # batches of the usual shape only
            texts = [yaml_dump({"definition": "1_ltp-math", "case": "c-%d" % i,
                                "result": rnd.choice(["pass", "fail", "yes"])})
                     for i in range(rnd.randint(1, 30))]
        got = csvfmt.plain_reprs(texts)
        assert len(got) == len(texts)
        for text, text_repr in zip(texts, got):
            if text_repr is not None:
                taken += 1
                assert text_repr == _reference(text), text
    assert taken > 800
    assert csvfmt.plain_reprs([]) == []
    assert csvfmt.plain_reprs(["case: a\ncase: b\n", "case: a\nresult: pass\n",
                               "level: '1'\n", "extra: /x\n", "a: yes\n", "yes: a\n"]) == [
        None, "{'case': 'a', 'result': 'pass'}", None, None, None, None]


def _row(rnd: random.Random, case_id: int) -> tuple:
    metadata = rnd.choice(_texts(rnd, 1) + [yaml_dump({
        "definition": "0_smoke", "case": "case-%d" % case_id, "result": "pass"})] * 3)
    return (case_id, rnd.choice([3, 4]), None,
            rnd.choice(["ok-%d" % case_id, 'say "hi"', "a,b", "line\nbreak", "cr\rx", "é",
                        ""]),
            rnd.randint(0, 4), rnd.choice([None, None, "12.3450000000", "7", "x,y", 'q"']),
            rnd.choice(["", "", "MB/s", 'a"b', "a,b", None]),
            rnd.choice([metadata, metadata, None]),
            rnd.choice([None, 0, 12]), rnd.choice([None, 0, 17]),
            rnd.choice(["2023-01-23T12:00:00.250000", "2023-01-23T12:00:00.000000",
                        "2023-01-23T12:00:00", "odd"]))


def _as_read(rnd: random.Random, row: tuple) -> tuple:
    """The case ``row`` (CASE_COLUMNS) as the CSV export reads it (PRINTED_COLUMNS):
    mostly with its printed form stored and no text, else with its text and no form."""
    printed = printed_metadata(row[7])
    if printed is not None and rnd.random() < 0.6:
        return row[:7] + (None,) + row[8:] + (printed,)
    return row + (None,)


def test_plain_lines_are_what_the_writer_writes():
    """plain_lines() of varied case rows in batches (printed forms stored or not), all
    quoted and minimally quoted, equals csv.writer's line of the record's values (read
    from the metadata text) for each row it writes."""
    scope = JobScope(7, ((3, "0_smoke"), (4, "a,b")), 1, 10 ** 6, None, 0, None)
    names = scope.suite_names
    rnd = random.Random(23)
    taken = {csvfmt.ALL: 0, csvfmt.MINIMAL: 0}
    case_id = 0
    for _ in range(200):
        rows = []
        for _ in range(rnd.randint(1, 30)):
            case_id += 1
            rows.append(_row(rnd, case_id))
        if rnd.random() < 0.3:  # a batch of ordinary rows, or one odd row among them
            rows = [(r[0], 3, None, "ok", 0, None, "", yaml_dump(
                {"definition": "d", "case": "c%d" % r[0], "result": "pass"}), 1, 2,
                "2023-01-23T12:00:00.250000") for r in rows]
            if rnd.random() < 0.5:
                rows[rnd.randrange(len(rows))] = _row(rnd, case_id)
        read = [_as_read(rnd, row) for row in rows]
        for quoting in (csvfmt.ALL, csvfmt.MINIMAL):
            lines = csvfmt.plain_lines(copy.deepcopy(read), "7", names, quoting)
            assert len(lines) == len(rows)
            for row, line in zip(rows, lines):
                if line is None:
                    continue
                taken[quoting] += 1
                out = io.StringIO()
                stdcsv.writer(out, quoting=quoting).writerow(csvfmt._IN_FIELD_ORDER(
                    record_values(row, scope, names[row[1]], "7") + csvfmt._EMPTY))
                assert line == out.getvalue(), row
    assert taken[csvfmt.ALL] > 1000 and taken[csvfmt.MINIMAL] > 500
    assert python_time("odd") == "odd +00:00"


def test_printed_form_gives_the_level_and_metadata_fields():
    """printed_metadata() splits into str(level) and the repr; None for extra, odd levels."""
    rnd = random.Random(29)
    stored = 0
    texts = _texts(rnd, 3000) + [None, "", yaml_dump({"level": "a\nb", "k": "x\ny"}),
                                 yaml_dump({"level": 3, "extra": "/x"})]
    for text in texts:
        metadata = parse_metadata(text)
        printed = printed_metadata(text)
        level = metadata.get("level", "")
        if "extra" in metadata or level.__class__ not in (str, int):
            assert printed is None, text
            continue
        stored += 1
        assert split_printed(printed) == (str(level), str(metadata)), text
    assert stored > 1500
    assert printed_metadata(None) == "{}"
    assert split_printed(printed_metadata("level: 2\ncase: x\n")) == (
        "2", "{'level': 2, 'case': 'x'}")


def test_minimal_lines_never_leave_a_quote_in_the_metadata_undoubled():
    """A printed form holding a quote is left to the writer (never an undoubled quote)."""
    scope = JobScope(7, ((3, "0_smoke"),), 1, 10 ** 6, None, 0, None)
    ordinary = [(n, 3, None, "ok", 0, None, "", yaml_dump(
        {"definition": "d", "case": "c%d" % n, "result": "pass"}), 1, 2,
        "2023-01-23T12:00:00.250000") for n in range(1, 6)]
    for odd in ({"note": 'say "hi", ok', "case": "x"}, {"note": 'say "hi"'}):
        rows = ordinary + [(9, 3, None, "odd", 0, None, "", yaml_dump(odd), None, None,
                            "2023-01-23T12:00:00.250000")]
        read = [row[:7] + (None,) + row[8:] + (printed_metadata(row[7]),) for row in rows]
        for quoting in (csvfmt.ALL, csvfmt.MINIMAL):
            lines = csvfmt.plain_lines(read, "7", scope.suite_names, quoting)
            assert lines[-1] is None and None not in lines[:-1]
