"""The TAP13 export (``jobs/{id}/tap13/``, spec 5.4).

``TAP version 13``, the plan ``1..N`` (every case of the job), then the
cases by suite id and case id, numbered from 1, each suite introduced by a
``# TAP results for <suite>`` comment.  A failed case with log lines carries
them as a YAML diagnostic block (`` ---`` / the lines, each after one space /
`` ...``).  Works the same for a job that is still running.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lavad.exports.document import Body, Cursor, text_pieces
from lavad.exports.records import JobScope, log_text, suite_ordered_batches
from lavad.models import TestResult


def _indented(text: str) -> str:
    """Every line of ``text`` after one space (lines end with ``\\n`` only)."""
    *whole, tail = text.split("\n")
    return "".join(" %s\n" % line for line in whole) + (" " + tail if tail else "")


def _case(number: int, row: Any, scope: JobScope) -> Iterator[str]:
    name = row["name"]
    result = row["result"]
    if result == TestResult.pass_:
        yield "ok %d %s\n" % (number, name)
    elif result == TestResult.skip:
        yield "ok %d %s # SKIP test skipped\n" % (number, name)
    elif result == TestResult.fail:
        yield "not ok %d %s\n" % (number, name)
        started = False
        for text in log_text(scope, row["start_log_line"], row["end_log_line"]):
            if not started:
                yield " ---\n"
                started = True
            yield _indented(text)
        if started:
            yield " ...\n"
    else:
        yield "not ok %d %s # TODO unknown result\n" % (number, name)


def body(scope: JobScope) -> Body:
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        total = 0
        if scope.max_case_id:
            total = cursor.tx.scalar(
                "SELECT count(*) FROM test_cases WHERE suite_id IN (%s) AND id <= ?"
                % scope.suite_list(), (scope.max_case_id,))
        yield ("TAP version 13\n1..%d\n" % total).encode("utf-8")
        number = 0
        current = None

        def lines(suite_id: int, suite: str, rows: list[Any]) -> Iterator[str]:
            nonlocal number, current
            for row in rows:
                if suite_id != current:
                    current = suite_id
                    yield "# TAP results for %s\n" % suite
                number += 1
                yield from _case(number, row, scope)

        for suite_id, suite, rows in suite_ordered_batches(cursor, scope):
            yield from text_pieces(lines(suite_id, suite, rows))
    return chunks
