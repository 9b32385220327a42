"""Health checks: definitions per device type, creating the job, and when one is due."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from lavad import devices, healthchecks, jobs, submission, users
from lavad.errors import NotFound
from lavad.models import DeviceHealth, JobHealth, JobState
from lavad.store.tx import iso
from lavad.submission import SubmissionError

HEALTH_CHECK = """\
# the qemu health check
job_name: qemu health check
timeouts:
  job:
    minutes: 5
priority: high
visibility: public
actions:
- boot:
    method: qemu
"""

HOUR = 3600.0


@pytest.fixture
def lab(db: Any) -> Any:
    """Device type qemu (health check every 24 hours) with qemu01 (Good)."""
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_device, "qemu01", "qemu", health="Good")
    db.run(healthchecks.thd_set_health_check, "qemu", HEALTH_CHECK)
    return db


def due(db: Any, now: Any) -> bool:
    return db.run(submission.thd_health_check_due, "qemu01", now)


def finish(db: Any, job_id: int, start: float, end: float) -> None:
    """Run ``job_id`` on qemu01 from ``start`` to ``end`` (timestamps)."""
    db.run(jobs.thd_set_job_state, job_id, JobState.FINISHED, JobHealth.COMPLETE,
           actual_device="qemu01", start_time=iso(start), end_time=iso(end))


def health_check_at(db: Any, when: float) -> int:
    """A finished health check of qemu01 submitted at ``when``."""
    db.clock.now = when
    job_id = db.run(submission.thd_create_health_check, "qemu01")
    finish(db, job_id, when + 60, when + 120)
    db.q("UPDATE devices SET last_health_report_job = %d WHERE hostname = 'qemu01'" % job_id)
    return job_id


def test_set_and_get_definition(lab: Any) -> None:
    """The definition is stored per device type; empty text removes it."""
    assert lab.run(healthchecks.thd_get_health_check, "qemu") == HEALTH_CHECK
    lab.run(healthchecks.thd_set_health_check, "qemu", "  ")
    assert lab.run(healthchecks.thd_get_health_check, "qemu") is None
    with pytest.raises(NotFound):
        lab.run(healthchecks.thd_get_health_check, "nosuch")
    with pytest.raises(NotFound):
        lab.run(healthchecks.thd_set_health_check, "nosuch", HEALTH_CHECK)


def test_create_health_check_job(lab: Any) -> None:
    """A Submitted, public health-check job for the device, submitted by lava-health."""
    job_id = lab.run(submission.thd_create_health_check, "qemu01")
    job = lab.run(jobs.thd_get_job, job_id)
    assert job["health_check"] is True and job["state"] == "Submitted"
    assert job["submitter"] == "lava-health" and job["requested_device_type"] == "qemu"
    assert job["description"] == "qemu health check" and job["priority"] == 100
    assert job["original_definition"] == HEALTH_CHECK
    assert "#" not in job["definition"]
    assert lab.q("SELECT requested_device, is_public FROM test_jobs WHERE id = ?",
                 (job_id,)) == [("qemu01", 1)]
    assert lab.run(users.thd_get_user, "lava-health")["is_active"] is False
    second = lab.run(submission.thd_create_health_check, "qemu01")
    assert second == job_id + 1
    assert lab.q("SELECT count(*) FROM users WHERE username = 'lava-health'") == [(1,)]


def test_no_health_check_without_definition_or_when_disabled(lab: Any) -> None:
    """None (and never due) without a definition or with health checks disabled."""
    lab.run(devices.thd_update_device_type, "qemu", disable_health_check=True)
    assert lab.run(submission.thd_create_health_check, "qemu01") is None
    assert due(lab, lab.clock.now) is False
    lab.run(devices.thd_update_device_type, "qemu", disable_health_check=False)
    lab.run(healthchecks.thd_set_health_check, "qemu", None)
    assert lab.run(submission.thd_create_health_check, "qemu01") is None
    assert due(lab, lab.clock.now) is False
    assert lab.q("SELECT count(*) FROM test_jobs") == [(0,)]


def test_unusable_definition_raises(lab: Any) -> None:
    """A definition that is not a mapping cannot make a job (the scheduler marks Bad)."""
    lab.run(healthchecks.thd_set_health_check, "qemu", "- not\n- a mapping\n")
    with pytest.raises(SubmissionError):
        lab.run(submission.thd_create_health_check, "qemu01")
    lab.run(healthchecks.thd_set_health_check, "qemu", "job_name: [x\n")
    with pytest.raises(SubmissionError):
        lab.run(submission.thd_create_health_check, "qemu01")


def test_due_when_never_checked(lab: Any) -> None:
    """A Good device that never had a health check needs one."""
    assert due(lab, lab.clock.now) is True


@pytest.mark.parametrize("health", [DeviceHealth.UNKNOWN, DeviceHealth.LOOPING])
def test_due_when_unknown_or_looping(lab: Any, health: DeviceHealth) -> None:
    """Unknown and Looping devices always need one, however recent the last was."""
    health_check_at(lab, lab.clock.now)
    lab.run(devices.thd_set_device_health, "qemu01", health)
    assert due(lab, lab.clock.now + 60) is True


@pytest.mark.parametrize("health", [DeviceHealth.BAD, DeviceHealth.MAINTENANCE,
                                    DeviceHealth.RETIRED])
def test_never_due_for_unavailable_devices(lab: Any, health: DeviceHealth) -> None:
    """Bad, Maintenance and Retired devices get no health check."""
    lab.run(devices.thd_set_device_health, "qemu01", health)
    assert due(lab, lab.clock.now) is False


def test_not_due_while_one_is_pending(lab: Any) -> None:
    """An unfinished health check for the device makes another one not due."""
    lab.run(devices.thd_set_device_health, "qemu01", DeviceHealth.UNKNOWN)
    lab.run(submission.thd_create_health_check, "qemu01")
    assert due(lab, lab.clock.now) is False


def test_due_by_hours(lab: Any) -> None:
    """hours: due once health_frequency hours have passed since the last one's submission."""
    start = lab.clock.now
    health_check_at(lab, start)
    assert due(lab, start + 23 * HOUR) is False
    assert due(lab, start + 24 * HOUR) is False
    assert due(lab, start + 24 * HOUR + 1) is True
    later = datetime.fromtimestamp(start + 25 * HOUR, timezone.utc)
    assert due(lab, later) is True and due(lab, iso(start + 25 * HOUR)) is True
    lab.run(devices.thd_update_device_type, "qemu", health_frequency=48)
    assert due(lab, start + 25 * HOUR) is False


def test_due_by_jobs(lab: Any) -> None:
    """jobs: due once health_frequency ordinary jobs started on the device since the last."""
    lab.run(devices.thd_update_device_type, "qemu", health_denominator="jobs",
            health_frequency=2)
    start = lab.clock.now
    health_check_at(lab, start)
    owner = lab.run(users.thd_add_user, "alice")["id"]
    first = lab.run(jobs.thd_insert_job, owner, "job_name: a\n", requested_device_type="qemu")
    finish(lab, first, start + 200, start + 300)
    assert due(lab, start + 10 * 24 * HOUR) is False
    second = lab.run(jobs.thd_insert_job, owner, "job_name: b\n", requested_device_type="qemu")
    finish(lab, second, start + 400, start + 500)
    assert due(lab, start + 600) is True


def test_last_health_check_found_without_the_device_column(lab: Any) -> None:
    """Without last_health_report_job, the device's latest finished health check counts."""
    start = lab.clock.now
    health_check_at(lab, start)
    lab.q("UPDATE devices SET last_health_report_job = NULL")
    assert due(lab, start + HOUR) is False
    assert due(lab, start + 25 * HOUR) is True
