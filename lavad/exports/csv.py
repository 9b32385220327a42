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
from lavad.exports.records import EVERY, RECORD_KEYS, JobScope, Window, record_batches

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


def body(scope: JobScope, window: Window = EVERY, quoting: Any = ALL) -> Body:
    """The export's body: the header row, then the records in batches."""
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        yield rows_text([], quoting, header=True).encode("utf-8")
        for batch in record_batches(cursor, scope, window):
            out = io.StringIO()
            csv.writer(out, quoting=quoting).writerows(
                map(_IN_FIELD_ORDER, (values + _EMPTY for values in batch)))
            yield out.getvalue().encode("utf-8")
    return chunks
