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
from collections.abc import Iterator
from typing import Any

from lavad.exports.document import Body, Cursor
from lavad.exports.fastyaml import load_metadata
from lavad.exports.records import (
    EVERY,
    RECORD_KEYS,
    RESULTS,
    JobScope,
    Window,
    case_batches,
    measurement,
    python_time,
    record_values,
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


# One record, every field quoted, when no value needs doubled quotes (checked by
# counting them): what csv.writer(quoting=QUOTE_ALL) writes for it.
_LINE = ('"%s","%s","%s","%s","%s","","","%s","%s","%s","/results/testcase/%d","%s","%d","%s",'
         '"%s"\r\n')
_QUOTES = _LINE.count('"')


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


def body(scope: JobScope, window: Window = EVERY, quoting: Any = ALL) -> Body:
    """The export's body: the header row, then the records in batches."""
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        yield rows_text([], quoting, header=True).encode("utf-8")
        names = scope.suite_names
        job = str(scope.job_id)
        for rows in case_batches(cursor, scope, window):
            out = io.StringIO()
            writer = csv.writer(out, quoting=quoting)
            for row in rows:
                suite = names[row[1]]
                line = quoted_line(row, job, suite) if quoting == ALL else None
                if line is None:
                    writer.writerow(_IN_FIELD_ORDER(record_values(row, scope, suite, job)
                                                    + _EMPTY))
                else:
                    out.write(line)
            yield out.getvalue().encode("utf-8")
    return chunks
