"""Both event channels of a running lavad (ZMQ PUB and /ws/), fed by the real domain paths.

A test-shell event comes from a recorded lava-run log uploaded through the
worker protocol, as lava-run sends it; the visibility test runs against the
relay mounted in the server, with users authenticated by their API tokens.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
import pytest_twisted
import treq
from eventlab import (
    JOB,
    ZmqSub,
    basic,
    fixture_log,
    poll,
    relay_attached,
    setup_lab,
    synced,
    ws_connect,
)
from twisted.internet import reactor
from twisted.web.client import HTTPConnectionPool
from txzmq import ZmqFactory

from lavad import devices, jobs, results, statemachine, submission


@pytest.fixture
def zmq_factory():
    """The test side's ZMQ context on the test reactor; shut down after the test."""
    factory = ZmqFactory()
    factory.reactor = reactor
    factory.lingerPeriod = 0
    yield factory
    factory.shutdown()


async def post_log(service, job: int, lines: list[str], index: int) -> dict:
    """``POST /scheduler/internal/v1/jobs/<job>/logs/`` as lava-run does: the JSON answer."""
    token = await service.lab.run(
        lambda tx: tx.scalar("SELECT token FROM test_jobs WHERE id = ?", (job,)))
    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await treq.post(
        "%s/scheduler/internal/v1/jobs/%d/logs/" % (service.base_url, job),
        urlencode({"lines": "".join(lines), "index": str(index)}).encode(),
        headers={b"LAVA-Token": [token.encode()],
                 b"Content-Type": [b"application/x-www-form-urlencoded"]}, pool=pool)
    answer = json.loads(await response.content())
    assert response.code == 200, answer
    return answer


@pytest_twisted.ensureDeferred
async def test_test_shell_event_from_a_real_log_reaches_zmq_and_websocket(lavad_service,
                                                                          zmq_factory):
    """A real log's lava-test-event, uploaded as lava-run does, reaches ZMQ and /ws/ alike."""
    lab = await setup_lab(lavad_service)
    [job] = await lab.run(submission.thd_submit, lab.alice, JOB)
    await lab.run(statemachine.thd_schedule_job, job, "qemu01")
    await lab.run(statemachine.thd_job_running, job)

    sub = ZmqSub(zmq_factory, lavad_service.event_socket_address())
    anonymous = await ws_connect(lavad_service)
    alice = await ws_connect(lavad_service, basic("alice", lab.alice_token))
    try:
        await relay_attached(lavad_service, 2)
        probes = await synced(lavad_service, sub)
        del sub.messages[:]

        lines = fixture_log().splitlines(keepends=True)
        split = next(i for i, line in enumerate(lines) if '"lvl": "event"' in line) - 3
        assert await post_log(lavad_service, job, lines[:split], 0) == {"line_count": split}
        assert await post_log(lavad_service, job, lines[split:], split) == {
            "line_count": len(lines) - split}

        def event_frames(frames):
            return [f for f in frames if f[0].endswith(".event") and f[1] not in probes]
        [zmq_frame] = await poll(lambda: event_frames(sub.messages), "the ZMQ event message")
        expected = json.dumps({"message": "my-event-fired", "job": job})
        assert zmq_frame[0] == "org.lavasoftware.event" and zmq_frame[3] == "lavaserver"
        assert zmq_frame[4] == expected
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", zmq_frame[2])
        for client in (anonymous, alice):
            [ws_frame] = await poll(lambda c=client: event_frames(c.events()),
                                    "the websocket event message")
            assert ws_frame == zmq_frame  # the same message, uuid included
        # One upload, one event: nothing else about the event arrives on either channel.
        assert len(event_frames(sub.messages)) == 1
    finally:
        await anonymous.close()
        await alice.close()
        sub.shutdown()


@pytest_twisted.ensureDeferred
async def test_websocket_user_sees_only_what_they_may(lavad_service):
    """On the server's /ws/, only alice gets her restricted job, device and test-shell events."""
    lab = await setup_lab(lavad_service)
    anonymous = await ws_connect(lavad_service)
    bob = await ws_connect(lavad_service, basic("bob", lab.bob_token))
    alice = await ws_connect(lavad_service, {"Authorization": "Token " + lab.alice_token})
    try:
        await relay_attached(lavad_service, 3)
        alice_id = lab.alice.id
        secret_job = await lab.run(jobs.thd_insert_job, alice_id, "x", description="secret",
                                   requested_device_type="secret")
        private_job = await lab.run(jobs.thd_insert_job, alice_id, "x", description="private",
                                    requested_device_type="qemu", is_public=False)
        await lab.run(statemachine.thd_schedule_job, secret_job, "secret01")
        await lab.run(statemachine.thd_job_running, secret_job)
        await lab.run(results.thd_ingest_log, secret_job,
                      '- {"dt": "2026-07-01T10:00:01.000000", "lvl": "event", "msg": "s"}\n', 0,
                      lavad_service.files.data_dir)
        await lab.run(devices.thd_update_device, "secret01", health="Maintenance")
        await lab.run(devices.thd_update_worker, "w1", health="Maintenance")  # public: last

        def summary(frame):
            data = json.loads(frame[4])
            kind = frame[0].rsplit(".", 1)[1]
            key = {"device": "device", "worker": "hostname"}.get(kind, "job")
            return kind, data[key], data.get("state", data.get("message"))
        alice_expected = [
            ("testjob", secret_job, "Submitted"), ("testjob", private_job, "Submitted"),
            ("device", "secret01", "Reserved"), ("testjob", secret_job, "Scheduled"),
            ("device", "secret01", "Running"), ("testjob", secret_job, "Running"),
            ("event", secret_job, "s"), ("device", "secret01", "Running"),
            ("worker", "w1", "Offline")]
        got = await poll(lambda: len(alice.events()) >= len(alice_expected) and alice.events(),
                         "alice's events")
        assert [summary(f) for f in got] == alice_expected
        for client in (anonymous, bob):
            frames = await poll(lambda c=client: c.events(), "the public worker event")
            assert [summary(f) for f in frames] == [("worker", "w1", "Offline")]
    finally:
        for client in (anonymous, bob, alice):
            await client.close()
