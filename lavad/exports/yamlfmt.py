"""YAML exports of test-case records (spec 5.1, 5.2): one block-style YAML list.

Each record is dumped on its own as a one-element list, PyYAML's safe dumper,
block style, keys in record order; the pieces concatenated are exactly the
dump of the whole list.  An empty export is ``[]`` (REST, suite exports) or
nothing at all (``/results/{job}/yaml``).

The usual record is written with one format (:func:`plain_items`): its case's
metadata text, stored by results ingestion as the dumper writes the mapping,
is indented as it is when ``test_cases.yaml_verbatim`` says so
(:func:`verbatim`, decided when the case is stored).  Other records go through
the record's values and :func:`lavad.exports.fastyaml.dump_values`, or PyYAML.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from lavad.exports.document import Body, Cursor
from lavad.exports.fastyaml import _NOT_STR, _WORD, dump_record, dump_values, scalar
from lavad.exports.records import (
    EVERY,
    RECORD_KEYS,
    RESULTS,
    YAML_COLUMNS,
    JobScope,
    Window,
    case_batches,
    parse_metadata,
    record_values,
)

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


def dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, default_flow_style=False, sort_keys=False)


def items_text(items: list[dict[str, Any]]) -> str:
    """The records as block list items (the fast writer, else PyYAML's, per record)."""
    return "".join(dump_record(item) or dump([item]) for item in items)


# -- records written directly ------------------------------------------------------------------
# One record whose every value is written on its line as is or between single quotes:
# a case name that is a plain word, a measurement in its stored form (which reads as a
# float, so it is quoted) or None, ids and log lines (digits, quoted), the logged time
# (a timestamp, quoted), and the metadata as its stored text indented (yaml_verbatim).
_ITEM = ("- name: %s\n  job: %s\n  suite: %s\n  result: %s\n  measurement: %s\n  unit: %s\n"
         "  level: %s\n  url: /results/testcase/%d\n  id: '%d'\n  logged: '%s %s+00:00'\n"
         "  log_start_line: %s\n  log_end_line: %s\n  metadata:\n    %s\n")
# The top-level ``level`` line of a stored metadata text (nested and wrapped lines are
# indented).
_LEVEL = re.compile(r"^level: (.*)$", re.MULTILINE)
# Each checked once per batch on the values joined by newlines (their count tells that
# no value holds one): plain-word names (the booleans and nulls are looked for apart),
# stored times, stored measurements.
_NAMES = re.compile(r"(?:[A-Za-z][A-Za-z0-9_./+-]*\n)+")
_NAME = _WORD  # a plain word (fastyaml's); _NOT_STR: the words YAML reads as others
_TIMES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?\n)+")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?\Z")
_MEASURES = re.compile(r"(?:-?[0-9]+\.[0-9]{10}\n)+")
_MEASURE = re.compile(r"-?[0-9]+\.[0-9]{10}\Z")
_RESULT_TEXTS = {key: scalar(value) for key, value in RESULTS.items()}
_UNKNOWN = scalar("unknown")


def indented(text: str) -> str:
    """A stored metadata text (lines ending with a newline) as the record's metadata block
    writes it after ``    `` (four spaces), without the last newline."""
    return text[:-1].replace("\n", "\n    ")


def verbatim(text: str | None) -> int:
    """``test_cases.yaml_verbatim`` of a case whose stored metadata is ``text``: 1 when the
    YAML exports write the mapping it holds as the text itself, each line indented by
    four spaces, and the record's ``level`` as the text's top-level ``level:`` line has
    it (``''`` without one); 0 otherwise (then the exports read and write the mapping).

    Decided by writing a record with this metadata as the exports do and comparing.  0
    for an empty mapping and for ``extra`` (the export reads the file it names).
    """
    if not text or not text.endswith("\n"):
        return 0
    metadata = parse_metadata(text)
    if not metadata or "extra" in metadata:
        return 0
    values = ("x", "1", "x", "pass", "None", "", metadata.get("level", ""),
              "/results/testcase/1", "1", "2000-01-01 00:00:00+00:00", "", "", metadata)
    try:
        written = dump_values(values) or dump([dict(zip(RECORD_KEYS, values))])
    except yaml.YAMLError:  # pragma: no cover - the loader's values are dumpable
        return 0
    level = _LEVEL.search(text)
    expected = _ITEM % ("x", "'1'", "x", "pass", "None", "''",
                        level.group(1) if level else "''", 1, 1, "2000-01-01", "00:00:00",
                        "''", "''", indented(text))
    return int(written == expected)


def _joined_match(pattern: re.Pattern[str], values: list[Any]) -> bool:
    """Whether every value (a string) matches ``pattern``'s single-value form, tested on
    the values joined by newlines (none may hold one)."""
    try:
        joined = "\n".join(values) + "\n"
    except TypeError:  # a value that is not a string
        return False
    return joined.count("\n") == len(values) and pattern.fullmatch(joined) is not None


def plain_items(rows: list[Any], job: str, suites: dict[int, str | None]
                ) -> list[str | None]:
    """Each case row's (:data:`YAML_COLUMNS`) record as a list item, written with one
    format, when its metadata is verbatim (``yaml_verbatim`` 1) and every other value has
    the plain form the format writes; None for the rows the caller must write otherwise.

    ``job`` is the job's id as text, ``suites`` each suite id's name as written (None:
    not plain).  The names, times and measurements are checked once per batch (value
    by value only when a batch has an odd one).
    """
    if 1 not in [row[11] for row in rows]:  # cases stored before yaml_verbatim (or none)
        return [None] * len(rows)
    names = [row[3] for row in rows]
    names_ok = _joined_match(_NAMES, names) and _NOT_STR.isdisjoint(names)
    times_ok = _joined_match(_TIMES, [row[10] for row in rows])
    measures = [row[5] for row in rows if row[5] is not None]
    measures_ok = not measures or _joined_match(_MEASURES, measures)
    job_text = scalar(job)
    units: dict[Any, str | None] = {}
    for unit in {row[6] for row in rows}:
        text = scalar(unit or "")
        units[unit] = None if text is None or (" " in text and 8 + len(text) > 80) else text
    results = _RESULT_TEXTS
    items: list[str | None] = []
    add = items.append
    form = _ITEM
    for case_id, suite_id, _, name, result, value, unit, text, start, end, logged, plain \
            in rows:
        suite = suites.get(suite_id)
        unit_text = units[unit]
        if plain != 1 or suite is None or unit_text is None \
                or not (names_ok or (name.__class__ is str and _NAME.match(name)
                                     and name not in _NOT_STR)) \
                or not (times_ok or (logged.__class__ is str and _TIME.match(logged))) \
                or not (measures_ok or value is None
                        or (value.__class__ is str and _MEASURE.match(value))):
            add(None)
            continue
        first, last = _line_text(start), _line_text(end)
        if first is None or last is None:
            add(None)
            continue
        if "level: " in text:
            level = _LEVEL.search(text)
            level_text = level.group(1) if level else "''"
        else:
            level_text = "''"
        date, _, clock = logged.partition("T")  # records.python_time, inline
        add(form % (name, job_text, suite, results.get(result, _UNKNOWN),
                    "None" if value is None else "'%s'" % value, unit_text, level_text,
                    case_id, case_id, date, clock.removesuffix(".000000"), first, last,
                    text[:-1].replace("\n", "\n    ")))  # indented(text), inline
    return items


def _line_text(line: Any) -> str | None:
    """A log line number as a record writes it (``''`` for none); None when it is not
    a natural number (the record goes the general way)."""
    if not line:
        return "''"
    if line.__class__ is not int or line < 0:
        return None
    return "'%d'" % line


def suite_texts(scope: JobScope) -> dict[int, str | None]:
    """Each suite's name as a record's ``suite`` value writes it (None: not on its line)."""
    texts: dict[int, str | None] = {}
    for suite_id, name in scope.suites:
        text = scalar(name)
        texts[suite_id] = None if text is None or (" " in text and 9 + len(text) > 80) \
            else text
    return texts


def items(rows: list[Any], scope: JobScope, job: str, suites: dict[int, str | None],
          names: dict[int, str]) -> str:
    """The case rows (:data:`YAML_COLUMNS`) as list items: :func:`plain_items`, and the
    others the long way (the record's values, then the fast writer or PyYAML's)."""
    written = plain_items(rows, job, suites)
    if None not in written:
        return "".join(written)  # type: ignore[arg-type]
    return "".join([item if item is not None else _item(row, scope, names[row[1]], job)
                    for row, item in zip(rows, written)])


def _item(row: Any, scope: JobScope, suite: str, job: str) -> str:
    """One case row's record as a list item, the long way."""
    values = record_values(row, scope, suite, job)
    return dump_values(values) or dump([dict(zip(RECORD_KEYS, values))])


def body(scope: JobScope, window: Window = EVERY, empty: bytes = b"[]\n") -> Body:
    """The export's body: the records as list items, ``empty`` when there are none."""
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        some = False
        job = str(scope.job_id)
        names = scope.suite_names
        suites = suite_texts(scope)
        for rows in case_batches(cursor, scope, window, tuples=True, columns=YAML_COLUMNS):
            if rows:
                some = True
                yield items(rows, scope, job, suites, names).encode("utf-8")
        if not some:
            yield empty
    return chunks
