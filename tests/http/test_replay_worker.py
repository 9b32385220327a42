"""The recorded real-worker traffic, replayed against lavad over a real loopback HTTP server."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest_twisted
from replay_worker import (JOB1_CASES, LOG_AGENT, PREFIX, ReplayWorker, lines_field,
                           recorded_events, stream_lines, thd_seed_lab, write_templates)
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from lavad import logs, statemachine
from lavad.files import LabFiles
from lavad.http.internal import internal_resource, mount_internal
from lavad.lab import Lab
from lavad.logs import job_dir
from lavad.models import DeviceState, JobHealth, JobState
from lavad.store.tx import Tx
from lavad.users import thd_principal_by_name


@pytest_twisted.async_yield_fixture
async def server(store: Any, tmp_path: Any) -> Any:
    """lavad's internal API on 127.0.0.1:<free port>, over the real store thread."""
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    lab = Lab(store)
    await lab.run(thd_seed_lab)
    files = LabFiles(data_dir, [write_templates(str(tmp_path / "templates"))])
    root = Resource()
    mount_internal(root, internal_resource(lab, files))
    site = Site(root)
    site.displayTracebacks = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    pool = HTTPConnectionPool(reactor, persistent=False)
    client = HTTPClient(Agent(reactor, pool=pool))
    yield SimpleNamespace(lab=lab, store=store, data_dir=data_dir, client=client,
                          url="http://127.0.0.1:%d/" % port.getHost().port)
    await port.stopListening()
    await pool.closeCachedConnections()


def thd_snapshot(tx: Tx) -> dict[str, Any]:
    """Jobs, devices and test cases, as plain values."""
    return {
        "jobs": {r["id"]: (JobState(r["state"]).display, JobHealth(r["health"]).display,
                           r["log_lines"])
                 for r in tx.all("SELECT id, state, health, log_lines FROM test_jobs")},
        "devices": {r[0]: DeviceState(r[1]).display
                    for r in tx.all("SELECT hostname, state FROM devices")},
        "cases": {job: [tuple(r) for r in tx.all(
            "SELECT s.name, c.name, c.result, c.measurement, c.units, c.start_log_line,"
            " c.end_log_line, t.name FROM test_cases c JOIN test_suites s ON s.id = c.suite_id"
            " LEFT JOIN test_sets t ON t.id = c.test_set_id WHERE s.job_id = ? ORDER BY c.id",
            (job,))] for job in (1, 2, 3)},
        "job_meta": {job: tx.scalar(
            "SELECT c.metadata FROM test_cases c JOIN test_suites s ON s.id = c.suite_id"
            " WHERE s.job_id = ? AND s.name = 'lava' AND c.name = 'job'", (job,))
            for job in (1, 2, 3)},
    }


def thd_cancel_as_admin(tx: Tx, job_id: int) -> bool:
    return statemachine.thd_cancel_job(tx, thd_principal_by_name(tx, "admin"), job_id)


def stored_form(job_id: int) -> str:
    """The recorded log as lavad must store it: event lines rewritten to debug."""
    return "".join(line.replace('"lvl": "event"', '"lvl": "debug"')
                   for line in stream_lines(job_id))


@pytest_twisted.ensureDeferred
async def test_replay_three_recorded_jobs(server) -> None:
    """Jobs 1-3 replayed as recorded: states, cases, events, logs and resends come out right."""
    events: list[Any] = []
    server.store.bus.subscribe(events.append, kind="event")
    worker = ReplayWorker(server.client, server.url)
    seen = {"job1 finished": False, "canceled": False}

    async def before(position: int, request: dict[str, Any]) -> None:
        path, form = request["path"], request["form"]
        if path == PREFIX + "jobs/1/" and form.get("state") == "FINISHED":
            seen["job1 finished"] = True
        elif path.startswith(PREFIX + "workers/") and seen["job1 finished"] \
                and not seen["canceled"]:
            # The recording's server canceled job 2 after job 1 ended (about 8 s in).
            seen["canceled"] = await server.lab.run(thd_cancel_as_admin, 2)
        elif path == PREFIX + "jobs/3/logs/" and form["index"] == "163":
            # lava-run posted part of this batch but lost the reply: it sends again
            # from the same index with more lines.
            lost = stream_lines(3)[163:200]
            assert await worker.post_logs(3, 163, lost) == len(lost)

    async def batch_hook(job: int, index: int, lines: list[str]) -> None:
        if job == 1 and index == 94:
            # The same batch again (a reply lost entirely): counted, not stored twice.
            assert await worker.post_logs(1, 94, lines) == len(lines)

    await worker.replay(before, batch_hook)

    # The worker saw what the real one saw: three starts, job 2 canceled, then nothing.
    assert [j["id"] for j in worker.pings[0]["start"]] == [1, 2, 3]
    assert worker.canceled == {2}
    assert worker.pings[-1] == {"cancel": [], "running": [], "start": []}

    # lava-run's log sender may still post for a finished job: always a count.
    last = stream_lines(1)[220:]
    assert await worker.post_logs(1, 220, last) == len(last)

    snapshot = await server.lab.run(thd_snapshot)
    assert snapshot["jobs"] == {1: ("Finished", "Complete", 228),
                                2: ("Finished", "Canceled", 185),
                                3: ("Finished", "Complete", 631)}
    assert set(snapshot["devices"].values()) == {"Idle"}
    assert snapshot["cases"][1] == JOB1_CASES
    assert "error_type: Canceled" in snapshot["job_meta"][2]
    assert [c[:2] for c in snapshot["cases"][2] if c[2] == 1] == [
        ("lava", "0_slow"), ("lava", "lava-test-shell"), ("lava", "lava-test-retry"),
        ("lava", "job")]
    assert [c for c in snapshot["cases"][3] if c[0] == "0_smoke"] == [
        ("0_smoke", "uname", 0, None, "", 577, 580, None),
        ("0_smoke", "fail-case", 1, None, "", 585, 587, None),
        ("0_smoke", "measured", 0, "42.5000000000", "ms", 593, 593, None)]
    assert len(snapshot["cases"][3]) == 15

    # Each event line was published once, by lavaserver, and stored as debug.
    assert [e.data for e in events] == recorded_events(1) + recorded_events(3)
    assert {e.username for e in events} == {"lavaserver"}
    for job in (1, 2, 3):
        with open(os.path.join(job_dir(server.data_dir, job), "output.yaml")) as f:
            assert f.read() == stored_form(job)

    # A line range comes from the index.
    assert await server.lab.run(logs.thd_read_log, server.data_dir, 1, 163, 165) == \
        "".join(stream_lines(1)[163:165])


@pytest_twisted.ensureDeferred
async def test_exact_errors_over_http(server) -> None:
    """Bad tokens, unknown jobs and workers get LAVA's exact errors over real HTTP."""
    worker = ReplayWorker(server.client, server.url)
    reply = await worker.call("GET", "workers/worker-01/", "wrong", query={"version": "2023.01"})
    assert (reply.code, reply.body) == (400, {"error": "Invalid 'token'"})
    reply = await worker.call("GET", "workers/ghost/", "x", query={"version": "2023.01"})
    assert (reply.code, reply.body) == (404, {"error": "Unknown worker 'ghost'"})
    await worker.ping()
    reply = await worker.call("GET", "jobs/1/", worker.token)  # the worker's token, not the job's
    assert (reply.code, reply.body) == (400, {"error": "Invalid 'token'"})
    reply = await worker.call("POST", "jobs/42/logs/", worker.tokens[1],
                              form={"lines": lines_field(stream_lines(1)[:1]), "index": "0"},
                              agent=LOG_AGENT)
    assert (reply.code, reply.body) == (404, {"error": "Unknown job '42'"})
    reply = await worker.call("POST", "jobs/1/logs/", worker.tokens[1], form={"index": "0"},
                              agent=LOG_AGENT)
    assert (reply.code, reply.body) == (400, {"error": "Missing 'lines'"})
    reply = await worker.call("POST", "jobs/1/", worker.tokens[1], form={"state": "RUNNING"})
    assert (reply.code, reply.body) == (200, {})
