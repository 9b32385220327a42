"""scheduler.jobs.*, the legacy job methods of scheduler.* and system.user_can_view_jobs."""

from __future__ import annotations

import os
import xmlrpc.client
from pathlib import Path

import pytest_twisted
import yaml
from jobdefs import qemu_job

from lavad import results, statemachine
from lavad.logs import job_dir

AUTH = (401, "Authentication with user and token required for this API.")

JOB = qemu_job(comment="a comment kept in the original definition")

MULTINODE = """\
job_name: mn
timeouts:
  job:
    minutes: 10
priority: medium
visibility: public
protocols:
  lava-multinode:
    roles:
      server:
        device_type: qemu
        count: 1
      client:
        device_type: qemu
        count: 1
    timeout:
      minutes: 5
actions:
- deploy:
    role: [server, client]
    to: tmpfs
    images:
      kernel:
        url: http://example.com/vmlinuz
- boot:
    role: [server, client]
    method: qemu
    media: tmpfs
    prompts: ['# ']
"""

LOG = "".join('- {"dt": "2026-07-01T10:00:0%d.000000", "lvl": "info", "msg": "line %d"}\n'
              % (i, i) for i in range(4))
JOB_RESULT = ('- {"dt": "2026-07-01T10:00:09.000000", "lvl": "results", "msg": {"definition":'
              ' "lava", "case": "job", "result": "fail", "error_msg": "boom",'
              ' "error_type": "Infrastructure"}}\n')


async def setup(server, rpc):
    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    bob = await server.user("bob")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    await rpc.call("scheduler.devices.add", "qemu-02", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    return root, alice, bob


async def start(server, job_id, device="qemu-01"):
    await server.run(statemachine.thd_schedule_job, job_id, device)
    await server.run(statemachine.thd_job_running, job_id)


async def ingest(server, job_id, text):
    data_dir = server.service.files.data_dir
    stored = await server.run(lambda tx: tx.scalar(
        "SELECT log_lines FROM test_jobs WHERE id = ?", (job_id,)))
    await server.run(results.thd_ingest_log, job_id, text, stored, data_dir)


@pytest_twisted.ensureDeferred
async def test_submit_and_show(server, rpc):
    """submit returns an int id; show has LAVA's keys and dateTimes; definition is the
    text as submitted."""
    _root, alice, _bob = await setup(server, rpc)
    assert await rpc.fault("scheduler.jobs.submit", JOB) == AUTH
    job_id = await rpc.call("scheduler.jobs.submit", JOB, token=alice)
    assert isinstance(job_id, int)
    shown = await rpc.call("scheduler.jobs.show", job_id)
    submit_time = shown.pop("submit_time")
    assert isinstance(submit_time, xmlrpc.client.DateTime) and len(submit_time.value) == 17
    assert list(shown) == ["id", "description", "device", "device_type", "health_check",
                           "pipeline", "health", "state", "submitter", "start_time",
                           "end_time", "tags", "visibility", "failure_comment", "error_msg",
                           "error_type"]
    assert shown == {"id": job_id, "description": "smoke", "device": None,
                     "device_type": "qemu", "health_check": False, "pipeline": True,
                     "health": "Unknown", "state": "Submitted", "submitter": "alice",
                     "start_time": None, "end_time": None, "tags": [],
                     "visibility": "Public", "failure_comment": None, "error_msg": None,
                     "error_type": None}
    assert await rpc.call("scheduler.jobs.show", str(job_id)) == await rpc.call(
        "scheduler.jobs.show", job_id)
    assert await rpc.call("scheduler.jobs.definition", job_id) == JOB.strip()
    assert await rpc.call("scheduler.submit_job", JOB, token=alice) == job_id + 1
    assert await rpc.fault("scheduler.jobs.show", 999) == (404, "Job '999' was not found.")
    assert await rpc.fault("scheduler.jobs.show", "abc") == (404, "Job 'abc' was not found.")
    assert await rpc.fault("scheduler.jobs.definition", "9.9") == (
        404, "Job '9.9' was not found.")


@pytest_twisted.ensureDeferred
async def test_submission_faults(server, rpc):
    """Submission errors become LAVA's 400 faults."""
    _root, alice, _bob = await setup(server, rpc)
    code, text = await rpc.fault("scheduler.jobs.submit", "job_name: [x", token=alice)
    assert code == 400 and text.startswith("Problem with submitted job data: ")
    bad_type = JOB.replace("device_type: qemu", "device_type: nope")
    assert await rpc.fault("scheduler.jobs.submit", bad_type, token=alice) == (
        400, "Device unavailable: Device type 'nope' is unavailable.")
    tagged = JOB + "tags: [zz]\n"
    # LAVA's text ends with two dots (its template adds one to the exception's).
    assert await rpc.fault("scheduler.jobs.submit", tagged, token=alice) == (
        400, "Invalid job definition: Device tag 'zz' does not exist in the database..")
    code, text = await rpc.fault("scheduler.jobs.submit", JOB.replace("priority: medium",
                                                                      "priority: urgent"),
                                 token=alice)
    assert code == 400 and "priority" in text


@pytest_twisted.ensureDeferred
async def test_multinode(server, rpc):
    """A MultiNode submission returns the sub_id strings; each is addressable."""
    _root, alice, _bob = await setup(server, rpc)
    ids = await rpc.call("scheduler.jobs.submit", MULTINODE, token=alice)
    first = int(ids[0].split(".")[0])
    assert ids == ["%d.0" % first, "%d.1" % first]
    shown = await rpc.call("scheduler.jobs.show", ids[1])
    assert shown["id"] == ids[1]
    assert await rpc.call("scheduler.jobs.definition", ids[1]) == MULTINODE.strip()
    assert await rpc.call("scheduler.job_state", ids[1]) == {
        "job_id": first + 1, "job_state": "Submitted", "sub_id": ids[1]}
    assert await rpc.call("scheduler.jobs.cancel", ids[0], token=alice) is True
    assert {(await rpc.call("scheduler.jobs.show", i))["health"] for i in ids} == {"Canceled"}
    again = await rpc.call("scheduler.jobs.resubmit", ids[0], token=alice)
    assert isinstance(again, list) and len(again) == 2


@pytest_twisted.ensureDeferred
async def test_visibility_and_cancel(server, rpc):
    """Personal jobs are hidden (403 naming the caller); cancel needs the right to cancel;
    a finished job cancels silently."""
    root, alice, bob = await setup(server, rpc)
    private = await rpc.call("scheduler.jobs.submit",
                             JOB.replace("visibility: public", "visibility: personal"),
                             token=alice)
    assert (await rpc.call("scheduler.jobs.show", private, token=alice))["visibility"] == \
        "Group (alice)"
    assert await rpc.fault("scheduler.jobs.show", private, token=bob) == (
        403, "Job '%d' not available to user 'bob'." % private)
    assert await rpc.fault("scheduler.jobs.show", private) == (
        403, "Job '%d' not available to user 'AnonymousUser'." % private)
    assert await rpc.call("system.user_can_view_jobs", [private, str(private), 999],
                          token=bob) == {str(private): False}
    assert await rpc.call("system.user_can_view_jobs", [private], "bob", token=root) == {
        str(private): False}
    assert await rpc.call("system.user_can_view_jobs", [private], token=alice) == {
        str(private): True}
    assert await rpc.fault("system.user_can_view_jobs", private, token=alice) == (
        400, "job list argument must be a list")
    assert await rpc.fault("system.user_can_view_jobs", [private]) == AUTH
    public = await rpc.call("scheduler.jobs.submit", JOB, token=alice)
    assert await rpc.fault("scheduler.jobs.cancel", public) == AUTH
    assert await rpc.fault("scheduler.jobs.cancel", 0, token=bob) == (
        400, "Bad request: TestJob id was not specified.")
    assert await rpc.fault("scheduler.jobs.cancel", public, token=bob) == (
        403, "Permission denied.")
    assert await rpc.fault("scheduler.jobs.cancel", private, token=bob) == (
        403, "Job '%d' not available to user 'bob'." % private)
    assert await rpc.fault("scheduler.cancel_job", 999, token=bob) == (
        404, "Job '999' was not found.")
    assert await rpc.call("scheduler.cancel_job", public, token=alice) is True
    shown = await rpc.call("scheduler.jobs.show", public)
    assert (shown["state"], shown["health"]) == ("Finished", "Canceled")
    assert await rpc.call("scheduler.jobs.cancel", public, token=bob) is True
    assert await rpc.fault("scheduler.jobs.resubmit", private, token=bob) == (
        403, "Job '%d' not available to user 'bob'." % private)
    assert await rpc.call("scheduler.resubmit_job", public, token=bob) == public + 1


@pytest_twisted.ensureDeferred
async def test_list_and_queue(server, rpc):
    """list and queue: newest first, windows of at most 100, state/health filters, verbose."""
    _root, alice, _bob = await setup(server, rpc)
    ids = [await rpc.call("scheduler.jobs.submit", JOB, token=alice) for _ in range(4)]
    await start(server, ids[0])
    await server.run(statemachine.thd_job_finished, ids[0], "fail", "Infrastructure", "boom")
    await rpc.call("scheduler.jobs.cancel", ids[1], token=alice)
    listed = await rpc.call("scheduler.jobs.list")
    assert [j["id"] for j in listed] == ids[::-1]
    assert listed[0] == {"id": ids[3], "description": "smoke", "device_type": "qemu",
                         "health": "Unknown", "state": "Submitted", "submitter": "alice"}
    assert [j["id"] for j in await rpc.call("scheduler.jobs.list", "SUBMITTED")] == [
        ids[3], ids[2]]
    assert [j["id"] for j in await rpc.call("scheduler.jobs.list", None, "incomplete")] == [
        ids[0]]
    assert [j["id"] for j in await rpc.call("scheduler.jobs.list", None, None, 1, 2)] == [
        ids[2], ids[1]]
    assert await rpc.fault("scheduler.jobs.list", "DONE") == (400, "Invalid state 'DONE'")
    assert await rpc.fault("scheduler.jobs.list", None, "GREAT") == (
        400, "Invalid health 'GREAT'")
    finished = await rpc.call("scheduler.jobs.list", "FINISHED", None, 0, 25, 10, True)
    assert [j["id"] for j in finished] == [ids[1], ids[0]]
    verbose = finished[1]
    assert verbose["actual_device"] == "qemu-01"
    assert verbose["start_time"].endswith("+00:00") and " " in verbose["start_time"]
    assert (verbose["error_msg"], verbose["error_type"]) == (None, None)
    assert await rpc.call("scheduler.jobs.list", None, None, 0, 25, 0, False, 60) == []
    assert [j["id"] for j in await rpc.call("scheduler.jobs.list", "RUNNING", None, 0, 100,
                                             None, False, 0)] == []
    assert await rpc.call("scheduler.jobs.queue") == [
        {"id": i, "description": "smoke", "requested_device_type": "qemu",
         "submitter": "alice"} for i in (ids[3], ids[2])]
    assert await rpc.call("scheduler.jobs.queue", ["other"]) == []
    assert [j["id"] for j in await rpc.call("scheduler.jobs.queue", ["qemu"], 1, 1)] == [
        ids[2]]
    assert await rpc.call("scheduler.pending_jobs_by_device_type") == {"qemu": 2}
    assert await rpc.call("scheduler.all_jobs") == [
        [i, "smoke", "submitted", None,
         {"name": "qemu", "description": None, "display": 1, "health_frequency": 24,
          "health_denominator": 0, "disable_health_check": 0}, ""] for i in (ids[3], ids[2])]


@pytest_twisted.ensureDeferred
async def test_logs_and_configuration(server, rpc):
    """logs: [finished, base64 YAML] by line range, "[]" before any log; configuration:
    the job's files once it started; job_output: the raw log from a byte offset."""
    _root, alice, _bob = await setup(server, rpc)
    job_id = await rpc.call("scheduler.jobs.submit", JOB, token=alice)
    finished, data = await rpc.call("scheduler.jobs.logs", job_id)
    assert (finished, data.data) == (False, b"[]")
    assert await rpc.fault("scheduler.jobs.configuration", job_id) == (
        404, "Job '%d' has not started yet" % job_id)
    assert await rpc.fault("scheduler.job_output", job_id) == (404, "Job output not found.")
    await start(server, job_id)
    await ingest(server, job_id, LOG)
    finished, data = await rpc.call("scheduler.jobs.logs", str(job_id), 0, None)
    assert finished is False
    assert [line["msg"] for line in yaml.safe_load(data.data)] == [
        "line 0", "line 1", "line 2", "line 3"]
    finished, data = await rpc.call("scheduler.jobs.logs", job_id, 1, 3)
    assert [line["msg"] for line in yaml.safe_load(data.data)] == ["line 1", "line 2"]
    finished, data = await rpc.call("scheduler.jobs.logs", job_id, 10)
    assert data.data == b""
    output = await rpc.call("scheduler.job_output", job_id)
    assert output.data.decode() == LOG
    first_line = LOG.splitlines(keepends=True)[0]
    assert (await rpc.call("scheduler.job_output", job_id, len(first_line))).data.decode() \
        == LOG[len(first_line):]
    directory = job_dir(server.service.files.data_dir, job_id)
    os.makedirs(directory, exist_ok=True)
    for name, text in (("job.yaml", "job: 1\n"), ("device.yaml", "device: 1\n"),
                       ("env.yaml", "env: 1\n")):
        Path(directory, name).write_text(text)
    config = await rpc.call("scheduler.jobs.configuration", job_id)
    assert [None if c is None else c.data for c in config] == [
        b"job: 1\n", b"device: 1\n", None, b"env: 1\n", None]
    await ingest(server, job_id, JOB_RESULT)
    await server.run(statemachine.thd_job_finished, job_id, "fail", "Infrastructure")
    finished, data = await rpc.call("scheduler.jobs.logs", job_id, 4)
    assert finished is True
    assert yaml.safe_load(data.data)[0]["lvl"] == "results"
    shown = await rpc.call("scheduler.jobs.show", job_id)
    assert (shown["error_msg"], shown["error_type"]) == ("boom", "Infrastructure")
    assert isinstance(shown["start_time"], xmlrpc.client.DateTime)
    assert isinstance(shown["end_time"], xmlrpc.client.DateTime)
    assert (shown["state"], shown["health"], shown["device"]) == (
        "Finished", "Incomplete", "qemu-01")


@pytest_twisted.ensureDeferred
async def test_validate(server, rpc):
    """jobs.validate gives {} or {path, msg}; validate_yaml gives nil or a 400."""
    assert await rpc.call("scheduler.jobs.validate", JOB) == {}
    assert await rpc.call("scheduler.jobs.validate", JOB.replace("visibility: public\n",
                                                                 "")) == {
        "path": "['visibility']", "msg": "required key not provided"}
    code, text = await rpc.fault("scheduler.jobs.validate", "a: [")
    assert code == -32603
    assert await rpc.call("scheduler.validate_yaml", JOB) is None
    code, text = await rpc.fault("scheduler.validate_yaml", "a: [")
    assert code == 400 and text.startswith("Decoding job submission failed: ")
    code, text = await rpc.fault("scheduler.validate_yaml", "job_name: 1\n")
    assert code == 400 and text.startswith("Invalid YAML submission: ")


@pytest_twisted.ensureDeferred
async def test_legacy_job_methods(server, rpc):
    """job_state, job_health, job_details, get_recent_jobs_for_device(_type)."""
    _root, alice, bob = await setup(server, rpc)
    job_id = await rpc.call("scheduler.jobs.submit", JOB, token=alice)
    await start(server, job_id, "qemu-02")
    await server.run(statemachine.thd_job_finished, job_id, "pass")
    assert await rpc.call("scheduler.job_health", job_id) == {"job_id": job_id,
                                                              "job_health": "Complete"}
    assert await rpc.call("scheduler.job_state", str(job_id)) == {"job_id": job_id,
                                                                  "job_state": "Finished"}
    details = await rpc.call("scheduler.job_details", job_id)
    assert "token" not in details
    assert (details["id"], details["status"], details["state"], details["health"],
            details["submitter_username"], details["actual_device_id"],
            details["requested_device_type_id"], details["absolute_url"],
            details["is_pipeline"], details["original_definition"]) == (
        job_id, "Complete", "Finished", "Complete", "alice", "qemu-02", "qemu",
        "/scheduler/job/%d" % job_id, True, JOB.strip())
    assert isinstance(details["end_time"], xmlrpc.client.DateTime)
    assert await rpc.call("scheduler.get_recent_jobs_for_device_type", "qemu", 5) == [
        {"id": job_id, "description": "smoke", "status": "Complete", "device": "qemu-02"}]
    assert await rpc.call("scheduler.get_recent_jobs_for_device_type", "qemu", 5, True,
                          token=bob) == []
    assert await rpc.call("scheduler.get_recent_jobs_for_device", "qemu-02") == [
        {"id": job_id, "description": "smoke", "status": "Complete"}]
    assert await rpc.call("scheduler.get_recent_jobs_for_device", "qemu-01") == []
    assert await rpc.fault("scheduler.get_recent_jobs_for_device", "") == (
        400, "Bad request: device was not specified.")
    assert await rpc.fault("scheduler.get_recent_jobs_for_device", "qemu-01", -1) == (
        400, "Bad request: count must not be negative.")
    assert await rpc.fault("scheduler.get_recent_jobs_for_device", "zz") == (
        404, "Device 'zz' was not found.")
    assert await rpc.fault("scheduler.get_recent_jobs_for_device_type", None) == (
        400, "Bad request: device_type was not specified.")
    assert await rpc.fault("scheduler.get_recent_jobs_for_device_type", "zz") == (
        404, "DeviceType 'zz' was not found.")
    assert await rpc.fault("scheduler.job_health", 999) == (404, "Job '999' was not found.")
