"""The JUnit XML export (``jobs/{id}/junit/``, spec 5.3).

The document is the one LAVA builds with junit-xml and pretty-prints with
minidom (TAB indentation): one ``<testsuite>`` per suite by suite id, one
``<testcase>`` per case by case id.  The counts and times of the
``<testsuites>`` and ``<testsuite>`` elements come before the cases, so they
are computed first: counts with SQL, durations from the few cases whose
metadata mentions ``duration`` (in batches, in case order, summed as Python
sums floats).  Then the cases stream batch by batch.

A job without an end time (still running) exports what it has, without the
``timestamp`` attribute of its suites.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lavad.exports.document import BATCH, Body, Cursor, text_pieces
from lavad.exports.records import (
    JobScope,
    case_batches,
    iso_time,
    log_text,
    parse_metadata,
)
from lavad.models import TestResult

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", ">": "&gt;"})


_SPECIAL = re.compile("[&<>\"\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(text: str) -> str:
    """Text as minidom writes it after a parse: line ends normalised, characters XML
    cannot carry replaced, ``& < " >`` escaped."""
    if not _SPECIAL.search(text):  # most names and times: nothing to do
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _INVALID_XML.sub("\ufffd", text).translate(_ESCAPES)


def _attrs(pairs: list[tuple[str, str]]) -> str:
    return "".join(' %s="%s"' % (name, escape(value)) for name, value in pairs)


def duration(metadata_text: str | None) -> float | None:
    """The case's ``duration`` as junit-xml's ``elapsed_sec``: None when absent, zero or
    not a number."""
    if not metadata_text or "duration" not in metadata_text:
        return None
    value = parse_metadata(metadata_text).get("duration")
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds or None


class _Suite:
    def __init__(self) -> None:
        self.tests = self.failures = self.skipped = 0
        self.time: Any = 0  # int 0 until a duration is added, as Python's sum()

    @property
    def time_text(self) -> str:
        return str(self.time)


def _aggregates(cursor: Cursor, scope: JobScope) -> Iterator[dict[int, _Suite]]:
    """Yields ``{}`` while it reads durations (one window of ids per call), then the
    per-suite aggregates."""
    suites = {sid: _Suite() for sid, _ in scope.suites}
    if scope.max_case_id:
        for row in cursor.tx.all(
                "SELECT suite_id, count(*) AS tests, sum(result = ?) AS failures,"
                " sum(result = ?) AS skipped FROM test_cases WHERE suite_id IN (%s)"
                " AND id <= ? GROUP BY suite_id" % scope.suite_list(),
                (int(TestResult.fail), int(TestResult.skip), scope.max_case_id)):
            suite = suites[row["suite_id"]]
            suite.tests, suite.failures, suite.skipped = (
                row["tests"], row["failures"] or 0, row["skipped"] or 0)
        # Durations: the few cases whose metadata mentions one, read by windows of ids so
        # each call does a bounded amount of work.
        window = 20 * BATCH
        for sid, _ in scope.suites:
            for low in range(scope.min_case_id - 1, scope.max_case_id, window):
                for row in cursor.tx.execute(
                        "SELECT id, metadata FROM test_cases WHERE suite_id = ? AND id > ?"
                        " AND id <= ? AND metadata LIKE '%duration%' ORDER BY id",
                        (sid, low, min(low + window, scope.max_case_id))):
                    seconds = duration(row["metadata"])
                    if seconds is not None:
                        suites[sid].time = suites[sid].time + seconds
                yield {}
    yield suites


def _case(row: Any, classname: str, scope: JobScope) -> Iterator[str]:
    attrs = [("name", row["name"])]
    seconds = duration(row["metadata"])
    if seconds is not None:
        attrs.append(("time", "%f" % seconds))
    attrs += [("timestamp", iso_time(row["logged"])), ("classname", classname)]
    opening = "\t\t<testcase%s" % _attrs(attrs)
    result = row["result"]
    if result == TestResult.fail:
        yield opening + '>\n\t\t\t<failure type="failure" message="failed"'
        started = False
        for text in log_text(scope, row["start_log_line"], row["end_log_line"]):
            if not started:
                yield ">"
                started = True
            yield escape(text)
        yield "</failure>\n" if started else "/>\n"
        yield "\t\t</testcase>\n"
    elif result == TestResult.skip:
        yield opening + '>\n\t\t\t<skipped type="skipped" message="skipped"/>\n\t\t</testcase>\n'
    else:
        yield opening + "/>\n"


def body(scope: JobScope, classname_prefix: str | None = None) -> Body:
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        suites: dict[int, _Suite] = {}
        for suites in _aggregates(cursor, scope):
            if not suites:
                yield b""
        if not scope.suites:
            yield (DECLARATION + "<testsuites/>\n").encode("utf-8")
            return
        total: Any = {"disabled": 0, "errors": 0, "failures": 0, "tests": 0, "time": 0}
        for sid, _ in scope.suites:
            suite = suites[sid]
            total["failures"] += suite.failures
            total["tests"] += suite.tests
            total["time"] += float(suite.time_text)
        yield (DECLARATION + "<testsuites%s>\n" % _attrs(
            [(name, str(value)) for name, value in total.items()])).encode("utf-8")
        for sid, name in scope.suites:
            suite = suites[sid]
            attrs = [("disabled", "0"), ("errors", "0"), ("failures", str(suite.failures)),
                     ("name", name), ("skipped", str(suite.skipped)),
                     ("tests", str(suite.tests)), ("time", suite.time_text)]
            if scope.end_time:
                attrs.append(("timestamp", iso_time(scope.end_time)))
            if not suite.tests:
                yield ("\t<testsuite%s/>\n" % _attrs(attrs)).encode("utf-8")
                continue
            yield ("\t<testsuite%s>\n" % _attrs(attrs)).encode("utf-8")
            classname = "%s_%s" % (classname_prefix, name) if classname_prefix else name
            for rows in case_batches(cursor, scope, suite_id=sid):
                yield from text_pieces(part for row in rows
                                       for part in _case(row, classname, scope))
            yield b"\t</testsuite>\n"
        yield b"</testsuites>\n"
    return chunks
