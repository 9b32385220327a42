"""CSV exports of test-case records (spec 5.1, 5.2): a header row, then one row per case.

Columns are LAVA's ``testcase_export_fields``; ``duration`` and ``timeout`` are
always empty and ``metadata`` is the Python repr of the mapping.  The REST
exports and ``/results/{job}/{suite}/csv`` quote every field; the job-level
``/results/{job}/csv`` quotes only where needed.  Lines end with ``\\r\\n``.
"""

from __future__ import annotations

import csv
import io
import operator
import re
from collections.abc import Iterator
from itertools import repeat
from typing import Any

from lavad.exports.document import Body, Cursor
from lavad.exports.fastyaml import load_metadata
from lavad.exports.records import (
    EVERY,
    PRINTED_COLUMNS,
    RECORD_KEYS,
    RESULTS,
    JobScope,
    Window,
    case_batches,
    measurement,
    python_time,
    record_values,
    split_printed,
)

FIELDS = ("job", "suite", "result", "measurement", "unit", "duration", "timeout", "logged",
          "level", "metadata", "url", "name", "id", "log_start_line", "log_end_line")

#: A record's values (RECORD_KEYS order, plus one empty value) in FIELDS order.
_EMPTY = ("",)
_IN_FIELD_ORDER = operator.itemgetter(*(
    RECORD_KEYS.index(name) if name in RECORD_KEYS else len(RECORD_KEYS) for name in FIELDS))

ALL = csv.QUOTE_ALL
MINIMAL = csv.QUOTE_MINIMAL


def rows_text(rows: list[dict[str, Any]], quoting: Any, header: bool = False) -> str:
    """``csv.DictWriter``'s text for ``rows`` (missing fields empty, extra keys ignored),
    written by a plain writer from value lists, which is several times faster."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting)
    if header:
        writer.writerow(FIELDS)
    writer.writerows([row.get(name, "") for name in FIELDS] for row in rows)
    return out.getvalue()


# -- plain metadata ---------------------------------------------------------------------------
# Most stored metadata texts are ``key: word`` lines (``definition: 0_smoke-tests\ncase:
# linux-posix-pwd\nresult: pass\n``) whose mapping's repr is the text with quotes and
# separators put in.  Such a line: a key that reads as a string (not a boolean or null) and
# is neither ``extra`` (a file to read) nor ``level`` (a column of its own), and a value
# that reads as a string: a word starting with a letter (again not a boolean or null), or
# digits and underscores followed by a letter (``1_ltp-math``: not an integer, float or
# timestamp, except the binary and hexadecimal integers ``0b...``/``0x...``).  No quote,
# backslash, space, colon or newline can occur in either, so nothing needs escaping.
#
# _WORDS checks the shape of each text; the booleans and nulls are looked for once in
# the batch's joined texts (_BOOL_OR_NULL_VALUE) and in its distinct key lists.
_BOOL_OR_NULL = frozenset(("yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE",
                           "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
                           "null", "Null", "NULL"))
_NOT_PLAIN_KEYS = _BOOL_OR_NULL | {"extra", "level"}
_TAIL = r"[A-Za-z0-9_./+-]*"
_VALUE = r"(?!0[bx])(?:[A-Za-z]|[0-9][0-9_]*[A-Za-z])%s\n" % _TAIL
_WORDS = re.compile(r"(?:[A-Za-z]%s: %s)+" % (_TAIL, _VALUE))
# The usual shape (a test's result): these three keys, in this order, so no key needs
# checking.
_USUAL = re.compile("definition: %(v)scase: %(v)sresult: %(v)s" % {"v": _VALUE})
_BOOL_OR_NULL_VALUE = re.compile(r": (?:%s)\n" % "|".join(sorted(_BOOL_OR_NULL)))
_VALUES = re.compile(r": [^\n]*")
_PLACEHOLDER = "k: v\n"


def _plain_keys(keys: str) -> bool:
    """Whether ``keys`` (one key a line, then an empty line) are all plain and distinct (a
    key given twice keeps its last value at its first place: not the text's order)."""
    names = keys.split("\n")
    return len(set(names)) == len(names) and _NOT_PLAIN_KEYS.isdisjoint(names)


def _plain(text: str) -> bool:
    return _WORDS.fullmatch(text) is not None and _BOOL_OR_NULL_VALUE.search(text) is None


def plain_reprs(texts: list[str]) -> list[str | None]:
    """``str(parse_metadata(text))`` of each stored metadata text that is plain (every line
    a ``key: word`` pair of strings, no key twice, no ``extra`` or ``level``), None for the
    others (whose level and repr the caller works out the long way).

    The whole batch is turned into reprs with a few string operations on the joined texts
    instead of a mapping built and printed per case.
    """
    if not texts:
        return []
    shaped = list(map(_USUAL.fullmatch, texts))
    usual = complete = all(shaped)
    if not usual:
        shaped = list(map(_WORDS.fullmatch, texts))
        complete = all(shaped)
    joined = "\x00".join(texts if complete else [  # no plain text holds a NUL
        text if match is not None else _PLACEHOLDER for text, match in zip(texts, shaped)])
    plain: list[Any] = shaped
    if _BOOL_OR_NULL_VALUE.search(joined) is not None:  # rare: find the texts
        plain = [match is not None and _plain(text) for text, match in zip(texts, shaped)]
        complete = all(plain)
    if usual:
        keys: list[str] = []
        not_plain: set[str] = set()
    else:
        keys = _VALUES.sub("", joined).split("\x00")
        not_plain = {names for names in set(keys) if not _plain_keys(names)}
    reprs: list[str | None] = ("{'" + joined[:-1].replace(": ", "': '")  # type: ignore[assignment]
                               .replace("\n\x00", "'}\x00{'").replace("\n", "', '")
                               + "'}").split("\x00")
    if complete and not not_plain:
        return reprs
    return [text if ok and names not in not_plain else None
            for text, ok, names in zip(reprs, plain, keys or repeat(""))]


# -- lines written directly --------------------------------------------------------------------
# One record, every field quoted, when no value needs doubled quotes (checked by
# counting them): what csv.writer(quoting=QUOTE_ALL) writes for it.
_LINE = ('"%s","%s","%s","%s","%s","","","%s","%s","%s","/results/testcase/%d","%s","%d","%s",'
         '"%s"\r\n')
_QUOTES = _LINE.count('"')
# The same with the level and metadata fields given as text (plain_lines).
_PLAIN_LINE = ('"%s","%s","%s","%s","%s","","","%s %s+00:00","%s","%s","/results/testcase/%d",'
               '"%s","%d","%s","%s"\r\n')
# The same fields with QUOTE_MINIMAL: none quoted but the metadata, which is quoted (by the
# caller) when it holds a comma.  Checked by counting the characters that make the writer
# quote a field (a value with one of them makes its line longer on that count).
_MINIMAL_LINE = '%s,%s,%s,%s,%s,,,%s %s+00:00,%s,%s,/results/testcase/%d,%s,%d,%s,%s\r\n'
_COMMAS = _MINIMAL_LINE.count(",")
def quoted_line(row: Any, job: str, suite: str) -> str | None:
    """The QUOTE_ALL line of the case ``row`` (CASE_COLUMNS first) written directly, or
    None when the writer must do it (metadata that needs the YAML loader or names a
    file, a level that is neither text nor an integer, a value with a double quote)."""
    case_id, name, result, value, units, text, start, end, logged = (
        row[0], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10])
    if text:
        metadata = load_metadata(text)
        if metadata is None or "extra" in metadata:
            return None
        level = metadata.get("level", "")
        if level.__class__ is not str and level.__class__ is not int:
            return None
    else:
        metadata, level = {}, ""
    line = _LINE % (job, suite, RESULTS.get(result, "unknown"),
                    "None" if value is None else measurement(value), units or "",
                    python_time(logged), level, metadata, case_id, name, case_id,
                    start or "", end or "")
    return line if line.count('"') == _QUOTES else None


def printed_fields(rows: list[Any]) -> tuple[list[str] | None, list[str | None]]:
    """The level and metadata fields of each case row (PRINTED_COLUMNS): from the printed
    form stored with the case, or for a case stored without one, from its metadata text
    when that is plain (:func:`plain_reprs`, no level); None where neither gives them.
    The levels are None when every one is empty (the usual batch)."""
    printed: list[str | None] = [row[11] for row in rows]
    if None in printed:
        if printed.count(None) == len(printed):  # cases stored before printed forms
            return None, plain_reprs([row[7] or "" for row in rows])
        missing = [at for at, text in enumerate(printed) if text is None]
        for at, text in zip(missing, plain_reprs([rows[at][7] or "" for at in missing])):
            printed[at] = text
        if "\n" not in "".join([text for text in printed if text is not None]):
            return None, printed
    elif "\n" not in "".join(printed):  # type: ignore[arg-type]  # no None
        return None, printed
    levels: list[str] = []
    fields: list[str | None] = []
    for text in printed:
        if text is None:
            levels.append("")
            fields.append(None)
        else:
            level, metadata = split_printed(text)
            levels.append(level)
            fields.append(metadata)
    return levels, fields


def plain_lines(rows: list[Any], job: str, names: dict[int, str],
                quoting: Any = ALL) -> list[str | None]:
    """Each case row's (PRINTED_COLUMNS) line, ``quoting`` ALL or MINIMAL, when its level
    and metadata fields are known (:func:`printed_fields`) and no value needs quoting
    beyond what the line format does; None for the rows the caller must write otherwise."""
    levels, reprs = printed_fields(rows)
    lines: list[str | None] = []
    add = lines.append
    results = RESULTS
    minimal = quoting != ALL
    form = _MINIMAL_LINE if minimal else _PLAIN_LINE
    quoted: list[str] = []  # the metadata written, with QUOTE_MINIMAL
    wrapped = 0  # how many of them are quoted
    for (case_id, suite_id, _, name, result, value, units, _, start, end, logged, _), level, \
            metadata in zip(rows, levels or repeat(""), reprs):
        if metadata is None:
            add(None)
            if minimal:
                quoted.append("")
            continue
        if minimal:
            if "," in metadata:
                metadata = '"%s"' % metadata
                wrapped += 1
            quoted.append(metadata)
        date, _, clock = logged.partition("T")  # python_time(logged), inline
        add(form % (job, names[suite_id], results.get(result, "unknown"),
                    "None" if value is None else measurement(value), units or "", date,
                    clock.removesuffix(".000000"), level, metadata, case_id, name, case_id,
                    start or "", end or ""))
    written = [line for line in lines if line is not None]
    if _as_written("".join(written), len(written), "".join(quoted), wrapped, minimal):
        return lines
    # A value holds a character that needs quoting: find its lines (a metadata field
    # written starts with a quote only when it is quoted: a repr starts with a brace).
    return [line if line is not None and _as_written(
                line, 1, text or "", (text or "").startswith('"'), minimal) else None
            for line, text in zip(lines, quoted if minimal else reprs)]


def _printed_values(row: Any, scope: JobScope, suite: str, job: str) -> tuple[Any, ...]:
    """:func:`record_values` of a case row (PRINTED_COLUMNS), with the level and metadata
    as their printed text when the case has a printed form (the row then has no metadata
    text)."""
    values = record_values(row, scope, suite, job)
    if row[11] is None:
        return values
    level, metadata = split_printed(row[11])
    return values[:6] + (level,) + values[7:12] + (metadata,)


def _as_written(text: str, lines: int, metadata: str, wrapped: int, minimal: bool) -> bool:
    """Whether ``text``, ``lines`` lines made by plain_lines's format, has no character
    that makes the writer quote (or double) beyond what the format and (with
    QUOTE_MINIMAL) the lines' ``metadata`` fields as written put in: their commas, and
    the two quotes around each of the ``wrapped`` ones holding a comma (a quote inside a
    field needs doubling).  Every line has at least that count of each, so equal totals
    mean that no line has more."""
    if not minimal:
        return text.count('"') == _QUOTES * lines
    return (text.count('"') == 2 * wrapped and text.count("\r") == lines
            and text.count("\n") == lines
            and text.count(",") == _COMMAS * lines + metadata.count(","))


def body(scope: JobScope, window: Window = EVERY, quoting: Any = ALL) -> Body:
    """The export's body: the header row, then the records in batches."""
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        yield rows_text([], quoting, header=True).encode("utf-8")
        names = scope.suite_names
        job = str(scope.job_id)
        for rows in case_batches(cursor, scope, window, tuples=True,
                                 columns=PRINTED_COLUMNS):
            lines = plain_lines(rows, job, names, quoting)
            if None not in lines:
                yield "".join(lines).encode("utf-8")  # type: ignore[arg-type]
                continue
            out = io.StringIO()
            writer = csv.writer(out, quoting=quoting)
            for row, line in zip(rows, lines):
                if line is None:
                    suite = names[row[1]]
                    if quoting == ALL and row[11] is None:
                        line = quoted_line(row, job, suite)
                    if line is None:
                        writer.writerow(_IN_FIELD_ORDER(_printed_values(row, scope, suite, job)
                                                        + _EMPTY))
                        continue
                out.write(line)
            yield out.getvalue().encode("utf-8")
    return chunks
