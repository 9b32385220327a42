"""Every export format of the spec's worked example (5.5), byte for byte, over loopback HTTP."""

from __future__ import annotations

import csv
import io
import xml.dom.minidom

import pytest
import pytest_twisted
import yaml
from exportdocs import (
    CSV,
    CSV_HEADER,
    CSV_ROWS,
    JUNIT,
    SUMMARY,
    TAP13,
    YAML,
    YAML_ITEMS,
)

from lavad.exports.junit import escape

pytestmark = pytest.mark.timeout(30)

def _headers(answer, content_type, disposition):
    assert answer.code == 200, answer.body
    assert answer.header("Content-Type") == content_type
    assert answer.header("Content-Disposition") == disposition


@pytest_twisted.ensureDeferred
async def test_junit_matches_the_captured_document(server):
    """jobs/1/junit/ is the spec's captured JUnit document with LAVA's headers."""
    answer = await server.get("/api/v0.2/jobs/1/junit/")
    _headers(answer, "application/xml", "attachment; filename=job_1.xml")
    assert answer.text == JUNIT


@pytest_twisted.ensureDeferred
async def test_junit_classname_prefix(server):
    """?classname_prefix=p makes every classname p_<suite>."""
    answer = await server.get("/api/v0.2/jobs/1/junit/?classname_prefix=ci")
    expected = JUNIT.replace('classname="lava"', 'classname="ci_lava"').replace(
        'classname="0_smoke"', 'classname="ci_0_smoke"')
    assert answer.text == expected


def _strip_layout(node):
    for child in list(node.childNodes):
        if child.nodeType == child.TEXT_NODE and not child.data.strip():
            node.removeChild(child)
        else:
            _strip_layout(child)


def test_junit_is_what_minidom_would_print():
    """The JUnit text is minidom's pretty print of its own content (escaping, layout)."""
    document = xml.dom.minidom.parseString(JUNIT.encode())
    _strip_layout(document)
    assert document.toprettyxml(indent="\t", encoding="utf-8").decode() == JUNIT
    tricky = 'a&b <c> "d" \x01\r\ne'
    element = xml.dom.minidom.parseString(
        ("<x>%s</x>" % escape(tricky)).encode()).documentElement
    assert element.toxml() == "<x>%s</x>" % escape(tricky)


@pytest_twisted.ensureDeferred
async def test_tap13_matches_the_captured_document(server):
    """jobs/1/tap13/ is the spec's captured TAP13 document (served as application/yaml)."""
    answer = await server.get("/api/v0.2/jobs/1/tap13/")
    _headers(answer, "application/yaml", "attachment; filename=job_1.yaml")
    assert answer.text == TAP13


@pytest_twisted.ensureDeferred
async def test_csv_matches_the_captured_document(server):
    """jobs/1/csv/ is the spec's captured CSV: 15 columns, all quoted, CRLF."""
    answer = await server.get("/api/v0.2/jobs/1/csv/")
    _headers(answer, "application/csv", "attachment; filename=job_1.csv")
    assert answer.text == CSV


@pytest_twisted.ensureDeferred
async def test_csv_limit_offset(server):
    """jobs/1/csv/?limit=2&offset=1 is the header and the rows of cases 2 and 3."""
    answer = await server.get("/api/v0.2/jobs/1/csv/?limit=2&offset=1")
    assert answer.text == CSV_HEADER + CSV_ROWS[1] + CSV_ROWS[2]
    answer = await server.get("/api/v0.2/jobs/1/csv/?offset=4")
    assert answer.text == CSV_HEADER + CSV_ROWS[4] + CSV_ROWS[5]
    answer = await server.get("/api/v0.2/jobs/1/csv/?limit=1")
    assert answer.text == CSV_HEADER + CSV_ROWS[0]


@pytest_twisted.ensureDeferred
async def test_yaml_matches_the_captured_document(server):
    """jobs/1/yaml/ is the spec's YAML list, equal to one safe_dump of all the records."""
    answer = await server.get("/api/v0.2/jobs/1/yaml/")
    _headers(answer, "application/yaml", "attachment; filename=job_1.yaml")
    assert answer.text == YAML
    records = yaml.safe_load(answer.text)
    assert yaml.safe_dump(records, sort_keys=False) == YAML
    assert [r["id"] for r in records] == ["1", "2", "3", "4", "5", "6"]


@pytest_twisted.ensureDeferred
async def test_yaml_limit_offset(server):
    """jobs/1/yaml/?limit=2&offset=1 holds cases 2 and 3."""
    answer = await server.get("/api/v0.2/jobs/1/yaml/?limit=2&offset=1")
    assert answer.text == YAML_ITEMS[1] + YAML_ITEMS[2]


@pytest_twisted.ensureDeferred
async def test_suite_exports(server):
    """suites/{sid}/csv|yaml/ give that suite's cases by id, named after the suite."""
    answer = await server.get("/api/v0.2/jobs/1/suites/2/csv/")
    _headers(answer, "application/csv", "attachment; filename=suite_0_smoke.csv")
    assert answer.text == CSV_HEADER + "".join(CSV_ROWS[2:])
    answer = await server.get("/api/v0.2/jobs/1/suites/1/yaml/")
    _headers(answer, "application/yaml", "attachment; filename=suite_lava.yaml")
    assert answer.text == YAML_ITEMS[0] + YAML_ITEMS[1]
    answer = await server.get("/api/v0.2/jobs/1/suites/2/yaml/?limit=2&offset=1")
    assert answer.text == YAML_ITEMS[3] + YAML_ITEMS[4]
    answer = await server.get("/api/v0.2/jobs/1/suites/2/csv/?offset=1")
    assert answer.text == CSV_HEADER + "".join(CSV_ROWS[2:]), "offset alone is ignored"


@pytest_twisted.ensureDeferred
async def test_suite_not_of_the_job(server):
    """A suite id of another job is 404 No TestSuite matches the given query."""
    answer = await server.get("/api/v0.2/jobs/1/suites/%d/csv/" % server.ids.job3_suite)
    assert answer.code == 404
    assert answer.body == b'{"detail":"No TestSuite matches the given query."}'


@pytest_twisted.ensureDeferred
async def test_results_urls_match_the_captured_documents(server):
    """The /results/ downloads: minimal quoting, text/* types, quoted file names."""
    answer = await server.get("/results/1/csv")
    _headers(answer, "text/csv", 'attachment; filename="lava_1.csv"')
    rows = answer.text.split("\r\n")
    assert rows[0] == CSV_HEADER.replace('"', "").rstrip()
    assert rows[3] == ("1,0_smoke,pass,12.5000000000,ms,,,2026-07-01 12:00:00.123456+00:00,3.1,"
                       "\"{'case': 'c1', 'definition': '0_smoke', 'result': 'pass', "
                       "'measurement': 12.5, 'units': 'ms', 'level': 3.1}\",/results/testcase/3,"
                       "c1,3,1,2")
    assert rows[5] == ("1,0_smoke,skip,None,,,,2026-07-01 12:00:00.123456+00:00,,{},"
                       "/results/testcase/5,c3,5,,")
    assert list(csv.reader(io.StringIO(answer.text))) == \
        list(csv.reader(io.StringIO(CSV)))
    answer = await server.get("/results/1/yaml")
    _headers(answer, "text/yaml", 'attachment; filename="lava_1.yaml"')
    assert answer.text == YAML
    answer = await server.get("/results/1/0_smoke/csv")
    _headers(answer, "text/csv", 'attachment; filename="lava_0_smoke.csv"')
    assert answer.text == CSV_HEADER + "".join(CSV_ROWS[2:])
    answer = await server.get("/results/1/0_smoke/yaml?limit=2&offset=1")
    _headers(answer, "text/yaml", 'attachment; filename="lava_0_smoke.yaml"')
    assert answer.text == YAML_ITEMS[3] + YAML_ITEMS[4]
    answer = await server.get("/results/1/yaml_summary")
    _headers(answer, "text/yaml", 'attachment; filename="lava_1_summary.yaml"')
    assert answer.text == SUMMARY
    answer = await server.get("/results/1/0_smoke/+testcase-count")
    assert (answer.code, answer.header("Content-Type"), answer.body) == (200, "text/plain", b"4")
    answer = await server.get("/results/testcase/3/yaml")
    _headers(answer, "text/yaml", 'attachment; filename="lava_c1.yaml"')
    item = YAML_ITEMS[2]
    assert answer.text == "".join(line[2:] + "\n" for line in item.splitlines())


@pytest_twisted.ensureDeferred
async def test_running_job_exports_what_it_has(server):
    """A job that has not finished exports its cases so far; JUnit omits the timestamp."""
    job = server.ids.job3
    answer = await server.get("/api/v0.2/jobs/%d/junit/" % job)
    assert answer.code == 200
    assert answer.text == (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<testsuites disabled="0" errors="0" failures="1" tests="2" time="0.0">\n'
        '\t<testsuite disabled="0" errors="0" failures="1" name="0_running" skipped="0"'
        ' tests="2" time="0">\n'
        '\t\t<testcase name="first" timestamp="2026-07-01T12:00:00.123456+00:00"'
        ' classname="0_running"/>\n'
        '\t\t<testcase name="second" timestamp="2026-07-01T12:00:00.123456+00:00"'
        ' classname="0_running">\n'
        '\t\t\t<failure type="failure" message="failed"/>\n'
        '\t\t</testcase>\n'
        '\t</testsuite>\n'
        '</testsuites>\n')
    for fmt in ("tap13", "csv", "yaml"):
        answer = await server.get("/api/v0.2/jobs/%d/%s/" % (job, fmt))
        assert answer.code == 200, fmt
    assert answer.text.count("- name:") == 2


@pytest_twisted.ensureDeferred
async def test_empty_job_documents(server):
    """A job without results: <testsuites/>, TAP 1..0, a header-only CSV, [] (REST) and an
    empty body (/results/{job}/yaml)."""
    job = await server.lab.run(
        lambda tx: tx.execute("INSERT INTO test_jobs (submitter_id, submit_time, definition,"
                              " token, requested_device_type) VALUES (?, ?, '', 't', 'qemu')",
                              (server.ids.owner, "2026-07-01T12:00:00.000000")).lastrowid)
    answers = [await server.get("/api/v0.2/jobs/%d/%s/" % (job, fmt))
               for fmt in ("junit", "tap13", "csv", "yaml")]
    assert [a.text for a in answers] == [
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites/>\n', "TAP version 13\n1..0\n",
        CSV_HEADER, "[]\n"]
    answer = await server.get("/results/%d/yaml" % job)
    assert (answer.code, answer.body) == (200, b"")
    answer = await server.get("/results/%d/csv" % job)
    assert answer.text == CSV_HEADER.replace('"', "")
