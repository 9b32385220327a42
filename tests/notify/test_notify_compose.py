"""Message text for each verbosity, the IRC line, subjects and callback encoding
(xmlrpc-events-notify.md 4.5-4.8), composed without I/O."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qsl

import pytest

from lavad.notify import compose
from lavad.notify.records import QUIET, STATUS_ONLY, VERBOSE, compare_results, substitute

FOOTER = "\n--\nLAVA\nLinaro Automated Validation Architecture"
PREFIX = "http://lava.example.com"
JOB = {
    "id": 42, "display_id": 42, "state": "Finished", "health": "Incomplete", "finished": True,
    "submitter": "alice", "description": "QEMU <smoke> & test", "priority": 50,
    "submit_time": "2026-07-01T10:00:00.000000", "start_time": "2026-07-01T10:01:00.000000",
    "end_time": "2026-07-01T10:06:30.250000",
    "device": {"hostname": "qemu01", "device_type": "qemu", "owner": None,
               "worker": "worker1"},
    "metadata": {"build": "42", "branch": "main"},
}
ERROR = {"error_type": "Infrastructure", "error_msg": "boom <x>", "result": "fail"}
ALICE = {"username": "alice", "first_name": "Alice", "last_name": "Doe"}
HEAD = ("\nDear Alice Doe,\n\nThe job with ID # 42 is now in state Finished and health "
        "Incomplete. Job was submitted by alice.\n\nJob details and log file: "
        "http://lava.example.com/scheduler/job/42\n")
DETAILS = ("\n\nInfrastructure error: boom &lt;x&gt;\n\n\nDevice details:\nHostname: qemu01\n"
           "Type: qemu\nOwner: None\nWorker: worker1\nJob details:\nPriority: Medium\n"
           "Description: QEMU &lt;smoke&gt; &amp; test\n"
           "Submitted: 2026-07-01 10:00:00 (+0000 UTC)\n"
           "Started: 2026-07-01 10:01:00 (+0000 UTC)\n"
           "Finished: 2026-07-01 10:06:30 (+0000 UTC)\nDuration: 0:05:30\n")
RESULTS = [
    {"name": "lava", "cases": [{"id": 1, "name": "job", "result": "fail",
                                "measurement": None, "units": ""}]},
    {"name": "0_smoke", "cases": [
        {"id": 2, "name": "pwd", "result": "pass", "measurement": "0E-10", "units": ""},
        {"id": 3, "name": "boot-time", "result": "pass", "measurement": "12.5000000000",
         "units": "seconds"},
        {"id": 4, "name": "net", "result": "skip", "measurement": None, "units": ""},
        {"id": 5, "name": "odd", "result": "unknown", "measurement": None, "units": ""}]},
]


def plan(verbosity: int, **changes: Any) -> dict[str, Any]:
    data = {"job": copy.deepcopy(JOB), "verbosity": verbosity, "lava_job_result": ERROR,
            "results": RESULTS, "blacklist": [], "compare": None}
    data.update(changes)
    return data


def body(data: dict[str, Any], user: dict[str, Any] | None = ALICE) -> str:
    return compose.email_body(data, user, PREFIX)


def test_quiet_finished_email_is_the_documented_example() -> None:
    """Quiet, Incomplete, user recipient: the spec's example, character for character."""
    assert body(plan(QUIET)) == HEAD + DETAILS + "\n" + FOOTER.lstrip("\n")


def test_status_only_and_unfinished_emails_stop_after_the_link() -> None:
    """status-only (and any email before Finished) ends after the job link with three
    empty lines; a bare address is greeted with "Hello,"."""
    expected = HEAD + "\n\n\n" + FOOTER.lstrip("\n")
    assert body(plan(STATUS_ONLY)) == expected
    running = plan(VERBOSE)
    running["job"].update(state="Running", health="Unknown", finished=False)
    assert body(running, None) == expected.replace("Dear Alice Doe,", "Hello,").replace(
        "state Finished and health Incomplete", "state Running and health Unknown")


def test_user_without_names_is_still_greeted_by_name() -> None:
    """A LAVA user recipient gets "Dear <first> <last>," even with empty names."""
    assert body(plan(STATUS_ONLY), {"username": "bob", "first_name": "",
                                    "last_name": ""}).startswith("\nDear  ,\n")


def test_quiet_email_without_error_or_device() -> None:
    """A Complete job shows no error line; a job without a device has no device block;
    empty times print empty, with the trailing space, and the duration None."""
    data = plan(QUIET)
    data["job"].update(health="Complete", device=None, start_time=None, priority=7)
    text = body(data, None)
    assert "/scheduler/job/42\n\n\n\nJob details:\nPriority: 7\n" in text
    assert "error:" not in text
    assert "Started: \nFinished: 2026-07-01 10:06:30 (+0000 UTC)\nDuration: None\n\n--" \
        in text


def test_canceled_jobs_get_the_details_too() -> None:
    """Every finished health, Canceled included, gets the details block (no error line)."""
    data = plan(QUIET)
    data["job"]["health"] = "Canceled"
    assert "Device details:" in body(data) and "error:" not in body(data)


VERBOSE_TAIL = (
    "\nMetadata:\nbuild: 42\nbranch: main\n\nResults:\n\n"
    "\nTest Suite lava: http://lava.example.com/results/42/lava\n"
    "Test Case job: Test failed\n"
    "\nTest Suite 0_smoke: http://lava.example.com/results/42/0_smoke\n"
    "Test Case pwd: Test passed\n"
    "Test Case boot-time: Test passed\nMeasurement: 12.5000000000 seconds\n"
    "Test Case net: Test skipped\n"
    "Test Case odd: Unknown outcome\n"
    "No query is set for results comparing.\n")


def test_verbose_email_lists_metadata_and_results() -> None:
    """Verbose: metadata lines, every suite with its link and cases (a zero measurement is
    not shown), then the no-query line."""
    assert body(plan(VERBOSE)) == HEAD + DETAILS + VERBOSE_TAIL + FOOTER


def test_verbose_email_with_a_blacklist() -> None:
    """Blacklisted suite and case names are listed once and left out of the results."""
    text = body(plan(VERBOSE, blacklist=["lava", "net"]))
    assert "\nResults:\n\nBlacklisted: lava net \n\nTest Suite 0_smoke:" in text
    assert "Test Suite lava" not in text and "Test Case net" not in text


def test_verbose_email_with_a_comparison() -> None:
    """The comparison section: the query, the last jobs, then what changed against the
    latest complete job (inverted wording as LAVA's)."""
    old = [{"name": "0_smoke", "cases": [
        {"id": 12, "name": "pwd", "result": "fail", "measurement": None, "units": ""},
        {"id": 13, "name": "boot-time", "result": "pass", "measurement": None, "units": ""},
        {"id": 14, "name": "gone", "result": "pass", "measurement": None, "units": ""}]},
        {"name": "old-suite", "cases": []}]
    section = {"query_link": "/results/query/+custom?entity=testjob&conditions=a__b",
               "jobs": [{"id": 42, "state": "Finished", "health": "Incomplete"},
                        {"id": 40, "state": "Finished", "health": "Complete"}],
               "job_id": 42, "compare_to": 40, "old_job_id": 40}
    section.update(compare_results(RESULTS, old, ["lava"]))
    text = body(plan(VERBOSE, compare=section, blacklist=["lava"]))
    expected = (
        "Test Case odd: Unknown outcome\n\n\nComparing:\n"
        "Query used: http://lava.example.com/results/query/+custom?entity=testjob&amp;"
        "conditions=a__b\nLast 5 jobs:\n"
        "Test job: http://lava.example.com/scheduler/job/42\nState: Finished\n"
        "Health: Incomplete\n"
        "Test job: http://lava.example.com/scheduler/job/40\nState: Finished\n"
        "Health: Complete\n\n"
        "Comparing to latest complete job: http://lava.example.com/scheduler/job/40\n"
        "New test suites added:\nNone.\n"
        "Test suites removed:\nhttp://lava.example.com/results/40/old-suite\n\n"
        "Suite result count changes:\n"
        'Suite "0_smoke" has 2 passed, 0 failed, 1 skipped test cases.\n'
        'Previously "0_smoke" had 2 passed, 1 failed, 0 skipped test cases.\n\n'
        "New test cases added:\nhttp://lava.example.com/results/testcase/4\n"
        "http://lava.example.com/results/testcase/5\n"
        "Test cases removed:\nhttp://lava.example.com/results/testcase/14\n\n"
        "Test cases result change:\n"
        'In suite "0_smoke", test case "pwd" changed result from "pass" to "fail".\n'
        + FOOTER)
    assert text.endswith(expected)


def test_comparison_without_a_complete_job_says_so() -> None:
    """No complete job among the query's results: one clear line instead of a diff."""
    section = {"query_link": "/q", "jobs": [{"id": 42, "state": "Finished",
                                             "health": "Incomplete"}],
               "job_id": 42, "compare_to": None}
    assert body(plan(VERBOSE, compare=section)).endswith(
        "Health: Incomplete\n\nNo jobs with COMPLETE status to compare results with.\n"
        + FOOTER)


def test_compare_results_ignores_duplicate_case_names() -> None:
    """A case name present twice in the old suite is not reported as changed."""
    new = [{"name": "s", "cases": [{"id": 1, "name": "c", "result": "pass"}]}]
    old = [{"name": "s", "cases": [{"id": 2, "name": "c", "result": "fail"},
                                   {"id": 3, "name": "c", "result": "fail"}]}]
    assert compare_results(new, old, [])["changed"] == []


def test_subject_and_message() -> None:
    """Subject: job id and the first 200 characters of the description; the message is
    UTF-8 plain text from SERVER_EMAIL."""
    job = dict(JOB, description="é" * 250)
    subject = compose.email_subject(job)
    assert subject == "LAVA notification for Test Job 42 " + "é" * 200
    raw = compose.email_message("lava@example.com", "a@example.com", subject, "héllo\n")
    assert b"Content-Type: text/plain; charset=\"utf-8\"" in raw
    assert b"From: lava@example.com\n" in raw and b"To: a@example.com\n" in raw
    assert raw.endswith("héllo\n".encode())


def test_irc_line() -> None:
    """One autoescaped line; "has finished" even while Running; the end time only when
    there is one."""
    assert compose.irc_message(JOB, PREFIX) == (
        "The job with ID # 42 has finished with status Finished and health Incomplete on "
        "2026-07-01 10:06:30 (+0000 UTC). Job was submitted by alice. Job details and log "
        "file: http://lava.example.com/scheduler/job/42")
    running = dict(JOB, state="Running", health="Unknown", end_time=None,
                   submitter="o'neil", display_id="7.1")
    assert compose.irc_message(running, PREFIX) == (
        "The job with ID # 42 has finished with status Running and health Unknown. Job was "
        "submitted by o&#39;neil. Job details and log file: "
        "http://lava.example.com/scheduler/job/7.1")


@pytest.mark.parametrize("domain, endpoint, prefix", [
    ("lava.example.com", "tcp:8000", "http://lava.example.com"),
    ("", "tcp:8080:interface=127.0.0.1", "http://localhost:8080"),
    ("", "tcp:80", "http://localhost"),
    ("", "unix:/run/lavad.sock", "http://localhost"),
])
def test_url_prefix(domain: str, endpoint: str, prefix: str) -> None:
    """Links use http://<site_domain>, else localhost and the HTTP port."""
    assert compose.url_prefix(domain, endpoint) == prefix


def test_placeholders() -> None:
    """{NAME} placeholders (spaces allowed inside the braces) become the job's values;
    unknown names stay; substituting again changes nothing."""
    values = {"id": 42, "status_string": "complete", "description": "a {ID} b"}
    url = substitute("http://h/{ID}/{ STATUS_STRING }?d={DESCRIPTION}&u={NOPE}", values)
    assert url == "http://h/42/complete?d=a %7BID%7D b&u={NOPE}"
    assert substitute(url, values) == url
    assert compose.request_url(url) == "http://h/42/complete?d=a%20%7BID%7D%20b&u=%7BNOPE%7D"


def test_form_body_encodes_like_python_requests() -> None:
    """Nulls dropped, booleans as True/False, lists repeat the key, mappings give keys."""
    body = compose.form_body({"id": 1, "failure_comment": None, "health_check": False,
                              "metadata": [{"a": "1"}, {"b": "2"}],
                              "results": {"s1": "x", "s2": "y"}, "text": "a b&c"})
    assert parse_qsl(body.decode()) == [
        ("id", "1"), ("health_check", "False"), ("metadata", "a"), ("metadata", "b"),
        ("results", "s1"), ("results", "s2"), ("text", "a b&c")]
