"""results.*: test results as YAML/CSV text, V1 authentication, and lavacli results."""

from __future__ import annotations

import csv
import io

import pytest_twisted
import yaml
from jobdefs import qemu_job

from lavad import resultqueries, results, statemachine
from lavad.users import Principal

ADMIN = Principal(id=1, username="root", is_active=True, is_superuser=True)
AUTH = (401, "Authentication with user and token required for this API.")


LOG = """\
- {"dt": "2026-07-01T10:00:00.000000", "lvl": "info", "msg": "start"}
- {"dt": "2026-07-01T10:00:01.000000", "lvl": "results", "msg": {"definition": "0_smoke", "case": "pwd", "result": "pass", "starttc": 1, "endtc": 2, "level": "3.1"}}
- {"dt": "2026-07-01T10:00:02.000000", "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "pass"}}
- {"dt": "2026-07-01T10:00:03.000000", "lvl": "results", "msg": {"definition": "0_smoke", "case": "uname", "result": "fail", "measurement": 12.5, "units": "ms"}}
- {"dt": "2026-07-01T10:00:04.000000", "lvl": "results", "msg": {"definition": "0_smoke", "case": "pwd", "result": "skip"}}
"""


async def setup(server, rpc, visibility="public"):
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    bob = await server.user("bob")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    job_id = await rpc.call("scheduler.jobs.submit", qemu_job(visibility=visibility, build=7), token=alice)
    await server.run(statemachine.thd_schedule_job, job_id, "qemu-01")
    await server.run(statemachine.thd_job_running, job_id)
    await server.run(results.thd_ingest_log, job_id, LOG, 0, server.service.files.data_dir)
    await server.run(statemachine.thd_job_finished, job_id, "pass")
    return alice, bob, job_id


@pytest_twisted.ensureDeferred
async def test_job_results_yaml(server, rpc, monkeypatch):
    """get_testjob_results_yaml: every case, suite by suite, LAVA's keys and values; the
    text is PyYAML's dump of the list, whatever the size of the batches it is written in."""
    _alice, bob, job_id = await setup(server, rpc)
    text = await rpc.call("results.get_testjob_results_yaml", job_id, token=bob)
    cases = yaml.safe_load(text)
    assert [(c["suite"], c["name"], c["result"]) for c in cases] == [
        ("0_smoke", "pwd", "pass"), ("0_smoke", "uname", "fail"), ("0_smoke", "pwd", "skip"),
        ("lava", "job", "pass")]
    first = cases[0]
    assert list(first) == ["name", "job", "suite", "result", "measurement", "unit", "level",
                           "url", "id", "logged", "log_start_line", "log_end_line",
                           "metadata"]
    assert first["job"] == str(job_id) and first["measurement"] == "None"
    assert (first["level"], first["log_start_line"], first["log_end_line"]) == ("3.1", "1", "2")
    assert first["url"] == "/results/testcase/%s" % first["id"]
    assert first["logged"].endswith("+00:00")
    assert cases[1]["measurement"] == "12.5000000000" and cases[1]["unit"] == "ms"
    assert text.startswith("- name: pwd\n  job: '%d'\n  suite: 0_smoke\n" % job_id)
    assert await rpc.call("results.get_testjob_results_yaml", str(job_id), token=bob) == text
    assert text == yaml.dump(cases, Dumper=yaml.SafeDumper, default_flow_style=False,
                             sort_keys=False)
    monkeypatch.setattr(resultqueries, "BATCH", 1)
    assert await rpc.call("results.get_testjob_results_yaml", job_id, token=bob) == text


@pytest_twisted.ensureDeferred
async def test_suite_and_case_results(server, rpc, monkeypatch):
    """Suite and case selections, limit/offset, counts, suites lists, metadata, CSV (the
    same text whatever the size of the batches it is written in)."""
    _alice, bob, job_id = await setup(server, rpc)
    suite = yaml.safe_load(await rpc.call("results.get_testsuite_results_yaml", job_id,
                                          "0_smoke", token=bob))
    assert [c["name"] for c in suite] == ["pwd", "uname", "pwd"]
    window = yaml.safe_load(await rpc.call("results.get_testsuite_results_yaml", job_id,
                                           "0_smoke", 1, 1, token=bob))
    assert [c["name"] for c in window] == ["uname"]
    pwd = yaml.safe_load(await rpc.call("results.get_testcase_results_yaml", job_id,
                                        "0_smoke", "pwd", token=bob))
    assert [c["result"] for c in pwd] == ["pass", "skip"]
    assert await rpc.call("results.get_testcase_results_yaml", job_id, "0_smoke", "zz",
                          token=bob) == "[]\n"
    assert await rpc.call("results.get_testsuite_results_count", job_id, "0_smoke",
                          token=bob) == 3
    suites = yaml.safe_load(await rpc.call("results.get_testjob_suites_list_yaml", job_id,
                                           token=bob))
    assert [s["name"] for s in suites] == ["0_smoke", "lava"]
    assert all(s["job"] == str(job_id) and isinstance(s["id"], str) for s in suites)
    suites_csv = await rpc.call("results.get_testjob_suites_list_csv", job_id, token=bob)
    assert suites_csv.splitlines()[0] == '"name","job","id"'
    assert await rpc.call("results.get_testjob_metadata", job_id, token=bob) == [
        {"build": "7"}]
    job_csv = await rpc.call("results.get_testjob_results_csv", job_id, token=bob)
    rows = list(csv.DictReader(io.StringIO(job_csv)))
    assert job_csv.splitlines()[0] == (
        '"job","suite","result","measurement","unit","duration","timeout","logged","level",'
        '"metadata","url","name","id","log_start_line","log_end_line"')
    assert [(r["suite"], r["name"]) for r in rows] == [
        ("0_smoke", "pwd"), ("0_smoke", "uname"), ("0_smoke", "pwd"), ("lava", "job")]
    # (XML parsing reads the CSV's CRLF line ends as LF)
    assert job_csv == resultqueries.csv_text(await server.run(
        resultqueries.thd_records, ADMIN, job_id, None)).replace("\r\n", "\n")
    suite_csv = await rpc.call("results.get_testsuite_results_csv", job_id, "0_smoke", 2,
                               token=bob)
    assert len(list(csv.DictReader(io.StringIO(suite_csv)))) == 2
    monkeypatch.setattr(resultqueries, "BATCH", 1)
    assert await rpc.call("results.get_testjob_results_csv", job_id, token=bob) == job_csv
    case_csv = await rpc.call("results.get_testcase_results_csv", job_id, "0_smoke", "uname",
                              token=bob)
    assert [r["result"] for r in csv.DictReader(io.StringIO(case_csv))] == ["fail"]


@pytest_twisted.ensureDeferred
async def test_results_faults(server, rpc):
    """Anonymous 401, falsy id 400, hidden job 401, unknown job/suite/case 404."""
    alice, bob, job_id = await setup(server, rpc, visibility="personal")
    assert await rpc.fault("results.get_testjob_results_yaml", job_id) == AUTH
    assert await rpc.fault("results.get_testjob_results_yaml", 0, token=bob) == (
        400, "Bad request: TestJob id was not specified.")
    assert await rpc.fault("results.get_testjob_results_yaml", job_id, token=bob) == (
        401, "Permission denied for user to job %d" % job_id)
    assert await rpc.fault("results.get_testjob_results_yaml", 999, token=bob) == (
        404, "Specified job not found.")
    assert await rpc.fault("results.get_testsuite_results_yaml", job_id, "zz",
                           token=alice) == (404, "Specified test suite not found.")
    assert await rpc.fault("results.get_testsuite_results_count", job_id, "zz",
                           token=alice) == (404, "Specified test suite not found.")
    assert await rpc.fault("results.get_testcase_results_csv", job_id, "0_smoke", "zz",
                           token=alice) == (404, "Specified test case not found.")
    assert await rpc.fault("results.get_testjob_metadata", job_id, token=bob) == (
        401, "Permission denied for user to job %d" % job_id)


@pytest_twisted.ensureDeferred
async def test_queries(server, rpc):
    """Stored queries do not exist in lavad: run/refresh say so; make_custom_query is 501."""
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    assert await rpc.fault("results.run_query", "q") == AUTH
    assert await rpc.fault("results.run_query", "q", 10, token=alice) == (
        404, "Query with name q owned by user alice does not exist.")
    assert await rpc.fault("results.refresh_query", "q", "bob", token=alice) == (
        400, "Query with name q owned by user bob does not exist.")
    assert await rpc.fault("results.refresh_all_queries", token=alice) == (
        401, "Permission denied for user alice. Must be a superuser to refresh all queries.")
    assert await rpc.call("results.refresh_all_queries", token=root) is None
    assert await rpc.fault("results.make_custom_query", "spoon", "", token=alice) == (
        400, "Wrong table name in entity parameter. Please refer to query docs.")
    code, _ = await rpc.fault("results.make_custom_query", "testjob", "", token=alice)
    assert code == 501
