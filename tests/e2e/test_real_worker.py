"""End to end with Debian's real lava-worker 2023.01 and lava-run, running LAVA ``ssh`` jobs.

lavad runs in this process (the full LavadService: HTTP, internal worker API,
/ws/, scheduler); the worker, lava-run and an sshd playing the device under
test are real processes on loopback.  Needs scripts/ci-system-deps.sh (root):
without it these tests fail, they never skip.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_twisted
from harness import (
    DEVICE_NAME,
    WORKER_NAME,
    JobWatcher,
    check_ssh_login,
    job_definition,
    job_process_groups,
    kill_job_processes,
    live_group_members,
    populate_lab,
    remove_dut_overlays,
    require_system_deps,
    start_sshd,
    start_worker,
    worker_jobs,
)
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.logger import globalLogPublisher, textFileLogObserver

from lavad import devices, submission
from lavad.config import load_settings
from lavad.events import Event
from lavad.models import JobState, TestResult

pytestmark = pytest.mark.timeout(600)

JOB_TIMEOUT = 300  # seconds for a job to run (about 5 s here; the cap is for slow CI)
STEP_TIMEOUT = 60  # seconds for one step: a process start, a state change


@pytest.fixture
def settings(tmp_path):
    """The conftest settings, with events on a socket file instead of a TCP port."""
    require_system_deps()
    return load_settings({"data_dir": str(tmp_path / "data"),
                          "http": "tcp:0:interface=127.0.0.1",
                          "event_socket": "ipc://%s" % (tmp_path / "events.sock")})


@pytest_twisted.async_yield_fixture
async def sshd(tmp_path):
    """A private sshd on loopback: the ssh device type's device under test."""
    require_system_deps()
    server = await start_sshd(reactor, tmp_path / "ssh")
    yield server
    await server.process.stop()


@pytest.fixture
def lavad_log(tmp_path):
    """lavad's log of the test, in tmp_path/lavad.log (for post-mortems)."""
    with open(tmp_path / "lavad.log", "w", encoding="utf-8") as stream:
        observer = textFileLogObserver(stream)
        globalLogPublisher.addObserver(observer)
        try:
            yield tmp_path / "lavad.log"
        finally:
            globalLogPublisher.removeObserver(observer)


@pytest_twisted.async_yield_fixture
async def lab(tmp_path, sshd, lavad_log, lavad_service):
    """lavad with the ssh device on worker-01, and the real lava-worker connected to it."""
    env = SimpleNamespace(service=lavad_service, lab=lavad_service.lab, sshd=sshd,
                          url=lavad_service.base_url + "/", job_ids=[],
                          worker_dir=tmp_path / "worker")
    assert env.lab is not None, "LavadService started without a Lab"
    env.watcher = JobWatcher(lavad_service.bus, reactor).start()
    env.test_events = []
    waiting: list[tuple[str, Deferred]] = []

    def on_test_event(event: Event) -> None:
        env.test_events.append(event)
        for entry in list(waiting):
            if event.data.get("message") == entry[0]:
                waiting.remove(entry)
                entry[1].callback(event)

    def test_event(message: str, timeout: float) -> Deferred:
        """Fires with the lava-test-event ``message`` once lavad has published it."""
        for event in env.test_events:
            if event.data.get("message") == message:
                return succeed(event)
        d: Deferred = Deferred()
        waiting.append((message, d))
        return d.addTimeout(timeout, reactor)
    env.test_event = test_event
    unsubscribe = lavad_service.bus.subscribe(on_test_event, "event")
    env.setup = await populate_lab(env.lab, sshd)
    env.worker = start_worker(reactor, env.url, env.setup.worker_token, env.worker_dir,
                              tmp_path / "worker.log")
    try:
        # The 2023.01 worker opens /ws/ once its first ping is done, while it waits for the
        # next one: after the second ping its websocket is attached to lavad's relay.
        first = await env.worker.wait_for(r"PING => server", STEP_TIMEOUT)
        await env.worker.wait_for(r"PING => server", STEP_TIMEOUT,
                                  after=env.worker.lines.index(first.string) + 1)
        assert len(lavad_service.relay.clients) == 1, "the worker is not listening on /ws/"
        yield env
    finally:
        unsubscribe()
        env.watcher.stop()
        groups = job_process_groups(env.worker, env.worker_dir)
        try:
            await env.worker.stop()
        finally:
            kill_job_processes(groups | job_process_groups(env.worker, env.worker_dir),
                               env.worker_dir)
            remove_dut_overlays(env.job_ids)


async def submit(env: Any, name: str) -> int:
    ids = await env.lab.run(submission.thd_submit, env.setup.admin, job_definition(name))
    job_id = int(ids[0])
    env.job_ids.append(job_id)
    return job_id


async def results(env: Any, job_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The job's test cases by (suite, case)."""
    def read(tx: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in tx.all(
            "SELECT s.name AS suite, c.name AS name, c.result, c.measurement, c.units,"
            " c.metadata, t.name AS test_set FROM test_cases c"
            " JOIN test_suites s ON s.id = c.suite_id"
            " LEFT JOIN test_sets t ON t.id = c.test_set_id"
            " WHERE s.job_id = ? ORDER BY c.id", (job_id,))]
    return {(r["suite"], r["name"]): r for r in await env.lab.run(read)}


async def unfinished_jobs_on_worker(env: Any) -> list[int]:
    def read(tx: Any) -> list[int]:
        return [r[0] for r in tx.all(
            "SELECT j.id FROM test_jobs j JOIN devices d ON d.hostname = j.actual_device"
            " WHERE d.worker_host = ? AND j.state != ?", (WORKER_NAME, JobState.FINISHED))]
    return await env.lab.run(read)


@pytest_twisted.ensureDeferred
async def test_private_sshd_accepts_the_identity(sshd):
    """The harness's sshd lets root in with the generated key, as lava-run will log in."""
    assert await check_ssh_login(reactor, sshd) == "root"


@pytest_twisted.ensureDeferred
async def test_real_worker_runs_ssh_smoke_job(lab):
    """The real worker runs ssh-smoke.yaml to Complete; its results land as LAVA stores them."""
    job_id = await submit(lab, "ssh-smoke.yaml")
    await lab.watcher.wait(job_id, STEP_TIMEOUT, state="Scheduled")
    await lab.watcher.wait(job_id, STEP_TIMEOUT, state="Running")
    finished = await lab.watcher.wait(job_id, JOB_TIMEOUT, state="Finished")
    assert finished.data["health"] == "Complete", lab.watcher.history(job_id)
    assert finished.data["device"] == DEVICE_NAME and finished.data["worker"] == WORKER_NAME

    cases = await results(lab, job_id)
    result = {key: TestResult(row["result"]).display for key, row in cases.items()}
    assert result[("0_smoke", "pass-case")] == "pass"
    assert result[("0_smoke", "fail-case")] == "fail"
    assert result[("0_smoke", "measured")] == "pass"
    assert Decimal(cases[("0_smoke", "measured")]["measurement"]) == Decimal("42.5")
    assert cases[("0_smoke", "measured")]["units"] == "ms"
    assert result[("0_smoke", "in-set")] == "skip"
    assert cases[("0_smoke", "in-set")]["test_set"] == "set1"
    assert result[("0_smoke", "ref-case")] == "pass"
    assert "https://example.com/ref" in (cases[("0_smoke", "ref-case")]["metadata"] or "")
    for case in ("validate", "0_smoke", "job"):
        assert result[("lava", case)] == "pass", case
    assert [e.data for e in lab.test_events] == [{"message": "my-event-fired",
                                                  "job": job_id}]

    device = await lab.lab.run(devices.thd_get_device, DEVICE_NAME)
    assert (device["state"], device["health"]) == ("Idle", "Good")
    # The worker was woken by the /ws/ relay when its job was scheduled.
    await lab.worker.wait_for(r"\[EVENT\] Worker mentioned", STEP_TIMEOUT)


@pytest_twisted.ensureDeferred
async def test_real_worker_cancels_running_job(lab):
    """A running ssh job canceled in lavad ends Canceled; device Idle and worker free again."""
    job_id = await submit(lab, "ssh-cancel.yaml")
    await lab.watcher.wait(job_id, JOB_TIMEOUT, state="Running")
    # Cancel once the test shell runs (it sends this event just before its long sleep): a
    # lava-run killed before it set itself up reports no result, which LAVA takes as a Bug.
    await lab.test_event("sleeping", JOB_TIMEOUT)
    lava_run = dict(worker_jobs(lab.worker_dir))[job_id]  # its pid, and process group
    started = len(lab.worker.lines)
    assert await lab.lab.cancel_job(lab.setup.admin, job_id)
    await lab.watcher.wait(job_id, STEP_TIMEOUT, state="Canceling")
    # The Canceling event reaches the worker through /ws/ and it pings at once.
    await lab.worker.wait_for(r"\[EVENT\] Worker mentioned", STEP_TIMEOUT, after=started)
    await lab.worker.wait_for(r"\[%d\] => CANCEL" % job_id, STEP_TIMEOUT, after=started)
    finished = await lab.watcher.wait(job_id, JOB_TIMEOUT, state="Finished")
    assert finished.data["health"] == "Canceled", lab.watcher.history(job_id)

    device = await lab.lab.run(devices.thd_get_device, DEVICE_NAME)
    assert (device["state"], device["health"]) == ("Idle", "Good")
    assert await unfinished_jobs_on_worker(lab) == []
    # The worker drops the job once lavad accepted its FINISHED report; by its next ping
    # it tracks nothing and no lava-run of the job is left.
    reported = (await lab.worker.wait_for(r"\[%d\] FINISHED => server" % job_id,
                                          STEP_TIMEOUT, after=started))
    index = lab.worker.lines.index(reported.string, started)
    await lab.worker.wait_for(r"PING => server", STEP_TIMEOUT, after=index + 1)
    assert worker_jobs(lab.worker_dir) == []
    assert live_group_members(lava_run) == []
