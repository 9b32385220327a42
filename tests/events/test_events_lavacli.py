"""lavacli 3.1.0 ``events listen``, ``events wait`` and ``jobs wait`` against a running lavad.

Each lavacli is a child process with a temporary HOME whose identity points at
the in-process server; its output lines are waited on with bounded waits while
the test drives workers, devices and jobs through the domain.  lavad reports a
version after 2020.09, so lavacli listens on the ``/ws/`` websocket.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import pytest
import pytest_twisted
import yaml
from eventlab import EVENT_LINE_TEMPLATE, JOB, Child, relay_attached, setup_lab, spawn

from lavad import devices, results, statemachine, submission


class Lavacli:
    """Runs ``python -m lavacli`` children with an identity file in a temporary HOME."""

    def __init__(self, tmp_path: Any) -> None:
        self.home = str(tmp_path / "home")
        self.config = os.path.join(self.home, "config")
        os.makedirs(self.config)
        self.env = {key: value for key, value in os.environ.items()
                    if key.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        self.env.update(HOME=self.home, XDG_CONFIG_HOME=self.config, PYTHONUNBUFFERED="1")
        self.children: list[Child] = []

    def identity(self, name: str, uri: str, username: str, token: str) -> None:
        path = os.path.join(self.config, "lavacli.yaml")
        identities = {}
        if os.path.exists(path):
            with open(path) as f:
                identities = yaml.safe_load(f) or {}
        identities[name] = {"uri": uri, "username": username, "token": token}
        with open(path, "w") as f:
            yaml.safe_dump(identities, f)

    def start(self, *args: str) -> Child:
        child = spawn("lavacli " + " ".join(args), [sys.executable, "-m", "lavacli", *args],
                      self.env, self.home)
        self.children.append(child)
        return child

    async def stop_all(self) -> None:
        for child in self.children:
            await child.stop()


@pytest.fixture
def lavacli(tmp_path):
    return Lavacli(tmp_path)


def connected(out: str) -> bool:
    return "Connecting to " in out


@pytest_twisted.ensureDeferred
async def test_events_listen_prints_job_device_worker_and_test_shell_events(lavad_service,
                                                                           lavacli):
    """`lavacli events listen` prints job, device, worker and test-shell events as LAVA's."""
    lab = await setup_lab(lavad_service)
    lavacli.identity("default", lavad_service.base_url + "/RPC2", "alice", lab.alice_token)
    try:
        everything = lavacli.start("events", "listen")
        only_events = lavacli.start("events", "listen", "--filter", "event")
        for child in (everything, only_events):
            await child.wait_for(connected, "connecting to the websocket")
            assert child.lines[0] == "Connecting to http://<USERNAME>:<TOKEN>@%s/ws/" % (
                lavad_service.base_url.split("//", 1)[1])
        await relay_attached(lavad_service, 2)

        await lab.run(devices.thd_update_worker, "w1", health="Maintenance")
        [job] = await lab.run(submission.thd_submit, lab.alice, JOB)
        await lab.run(statemachine.thd_schedule_job, job, "qemu01")
        await lab.run(statemachine.thd_job_running, job)
        await lab.run(results.thd_ingest_log, job, EVENT_LINE_TEMPLATE % "my-event-fired", 0,
                      lavad_service.files.data_dir)
        await lab.run(statemachine.thd_job_finished, job, "pass")

        await everything.wait_for(lambda out: "state=Finished" in out, "the Finished event")
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00"
        expected = [
            r"org\.lavasoftware\.worker lavaserver - \[w1\] state=Offline health=Maintenance",
            r"org\.lavasoftware\.testjob alice - \[%d\] <\?\?> state=Submitted health=Unknown "
            r"\(live events\)" % job,
            r"org\.lavasoftware\.device lavaserver - \[qemu01\] <qemu> state=Reserved "
            r"health=Good",
            r"org\.lavasoftware\.testjob alice - \[%d\] <qemu01> state=Scheduled "
            r"health=Unknown \(live events\)" % job,
            r"org\.lavasoftware\.device lavaserver - \[qemu01\] <qemu> state=Running "
            r"health=Good for %d" % job,
            r"org\.lavasoftware\.testjob alice - \[%d\] <qemu01> state=Running "
            r"health=Unknown \(live events\)" % job,
            r"org\.lavasoftware\.event lavaserver - \[%d\] message=my-event-fired" % job,
            r"org\.lavasoftware\.device lavaserver - \[qemu01\] <qemu> state=Idle "
            r"health=Good for %d" % job,
            r"org\.lavasoftware\.testjob alice - \[%d\] <qemu01> state=Finished "
            r"health=Complete \(live events\)" % job,
        ]
        lines = everything.lines[1:]
        assert len(lines) == len(expected), everything.out
        for line, pattern in zip(lines, expected, strict=True):
            assert re.fullmatch(stamp + " " + pattern, line), (line, pattern)

        await only_events.wait_for(lambda out: "message=" in out, "the test-shell event")
        assert len(only_events.lines) == 2 and re.fullmatch(
            stamp + r" org\.lavasoftware\.event lavaserver - \[%d\] message=my-event-fired"
            % job, only_events.lines[1]), only_events.out
        assert everything.err == only_events.err == ""
    finally:
        await lavacli.stop_all()


@pytest_twisted.ensureDeferred
async def test_events_wait_returns_on_the_awaited_device_and_worker_event(lavad_service,
                                                                         lavacli):
    """`lavacli events wait device/worker` exits 0 once the awaited state or health arrives."""
    lab = await setup_lab(lavad_service)
    lavacli.identity("default", lavad_service.base_url + "/RPC2", "alice", lab.alice_token)
    try:
        device = lavacli.start("events", "wait", "device", "qemu01", "--state", "RUNNING")
        worker = lavacli.start("events", "wait", "worker", "w1", "--health", "MAINTENANCE")
        for child in (device, worker):
            await child.wait_for(connected, "connecting to the websocket")
        await relay_attached(lavad_service, 2)

        [job] = await lab.run(submission.thd_submit, lab.alice, JOB)
        await lab.run(statemachine.thd_schedule_job, job, "qemu01")  # Reserved: not yet
        await lab.run(devices.thd_update_worker, "w1", description="rack 2")  # no event
        assert not device.ended.called and not worker.ended.called
        await lab.run(statemachine.thd_job_running, job)
        assert await device.finished() == 0, device.err
        assert not worker.ended.called
        await lab.run(devices.thd_update_worker, "w1", health="Maintenance")
        assert await worker.finished() == 0, worker.err
        assert device.lines == worker.lines == [
            "Connecting to http://<USERNAME>:<TOKEN>@%s/ws/"
            % lavad_service.base_url.split("//", 1)[1]]
    finally:
        await lavacli.stop_all()


@pytest_twisted.ensureDeferred
async def test_jobs_wait_follows_the_job_until_it_finishes(lavad_service, lavacli):
    """`lavacli jobs wait` prints each state the job goes through and exits 0 at Finished."""
    lab = await setup_lab(lavad_service)
    lavacli.identity("default", lavad_service.base_url + "/RPC2", "alice", lab.alice_token)
    [job] = await lab.run(submission.thd_submit, lab.alice, JOB)
    try:
        waiting = lavacli.start("jobs", "wait", str(job), "--polling", "1")
        await waiting.wait_for(lambda out: out.startswith("Submitted"), "Submitted")
        await lab.run(statemachine.thd_schedule_job, job, "qemu01")
        await waiting.wait_for(lambda out: "\nScheduled" in out, "Scheduled")
        await lab.run(statemachine.thd_job_running, job)
        await waiting.wait_for(lambda out: "\nRunning" in out, "Running")
        await lab.run(statemachine.thd_job_finished, job, "pass")
        assert await waiting.finished() == 0, waiting.err
        assert re.fullmatch(r"Submitted\.*\nScheduled\.*\nRunning\.*\n", waiting.out), \
            waiting.out
    finally:
        await lavacli.stop_all()
