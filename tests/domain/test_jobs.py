"""Test jobs: the stored record, its REST form and its testjob events (lavad/jobs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lavad import devices, jobs, users
from lavad.errors import Invalid, NotFound
from lavad.models import JobHealth, JobState

JOB_KEYS = ["id", "submitter", "viewing_groups", "description", "health_check",
            "requested_device_type", "tags", "actual_device", "submit_time", "start_time",
            "end_time", "state", "health", "priority", "definition", "metadata",
            "original_definition", "multinode_definition", "failure_tags", "failure_comment"]
EVENT_KEYS = ["health", "state", "job", "description", "priority", "submit_time", "submitter",
              "health_check"]


@pytest.fixture
def alice(db: Any) -> int:
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_worker, "worker1")
    db.run(devices.thd_add_device, "qemu01", "qemu", health="Good", worker_host="worker1")
    return db.run(users.thd_add_user, "alice")["id"]


def insert(db: Any, submitter: int, **kwargs: Any) -> int:
    kwargs.setdefault("requested_device_type", "qemu")
    kwargs.setdefault("description", "smoke")
    return db.run(jobs.thd_insert_job, submitter, "job_name: smoke\n", **kwargs)


def test_insert_emits_one_testjob_event(db, alice) -> None:
    """A new job emits one testjob event, LAVA's keys in order, sent as its submitter."""
    job_id, tx = db.run_tx(jobs.thd_insert_job, alice, "job_name: smoke\n",
                              description="smoke", requested_device_type="qemu", priority=70)
    (event,) = tx.events
    assert event.kind == "testjob" and event.username == "alice"
    assert list(event.data) == EVENT_KEYS + ["device_type"]
    assert event.data == {
        "health": "Unknown", "state": "Submitted", "job": job_id, "description": "smoke",
        "priority": 70, "submit_time": "2026-07-01T10:00:00+00:00", "submitter": "alice",
        "health_check": False, "device_type": "qemu"}
    assert event.restrict == {"job": job_id}


def test_insert_without_device_type_or_description(db, alice) -> None:
    """A job without a requested device type has no device_type key; description may be null."""
    job_id, tx = db.run_tx(jobs.thd_insert_job, alice, "x")
    (event,) = tx.events
    assert list(event.data) == EVENT_KEYS
    assert event.data["description"] is None and event.data["job"] == job_id


def test_multinode_event_carries_sub_id(db, alice) -> None:
    """A MultiNode sub-job's events carry sub_id ('' until it is set) after health_check."""
    job_id, tx = db.run_tx(jobs.thd_insert_job, alice, "x", requested_device_type="qemu",
                              target_group="tg-1")
    assert list(tx.events[0].data) == EVENT_KEYS + ["sub_id", "device_type"]
    assert tx.events[0].data["sub_id"] == ""
    events = db.events(jobs.thd_set_job_state, job_id, sub_id="%d.0" % job_id)
    assert [e.data["sub_id"] for e in events] == ["%d.0" % job_id]  # a save while Submitted
    assert jobs.display_id({"id": job_id, "sub_id": "%d.0" % job_id}) == "%d.0" % job_id
    assert jobs.display_id({"id": job_id, "sub_id": ""}) == job_id


def test_insert_without_emit(db, alice) -> None:
    """emit=False stores the job silently (MultiNode emits after setting sub_id)."""
    _job_id, tx = db.run_tx(jobs.thd_insert_job, alice, "x", emit=False)
    assert tx.events == []


def test_insert_refuses_bad_priority_and_unknown_submitter(db, alice) -> None:
    """Priorities outside 0..100 are Invalid with LAVA's message; unknown submitters NotFound."""
    with pytest.raises(Invalid) as info:
        insert(db, alice, priority=101)
    assert info.value.message == "Invalid job priority: 101. Should be in [0, 100]"
    with pytest.raises(Invalid):
        insert(db, alice, priority=-1)
    with pytest.raises(NotFound):
        insert(db, 4242)
    assert db.run(jobs.thd_list_jobs) == []


def test_state_changes_emit_one_event_each(db, alice, clock) -> None:
    """Scheduled, Running and Finished each emit exactly one event with the LAVA extras."""
    job_id = insert(db, alice)
    scheduled = db.events(jobs.thd_set_job_state, job_id, JobState.SCHEDULED,
                             actual_device="qemu01")
    assert [list(e.data) for e in scheduled] == [EVENT_KEYS + ["device", "worker", "device_type"]]
    assert scheduled[0].data["device"] == "qemu01" and scheduled[0].data["worker"] == "worker1"

    clock.now += 5.5
    running = db.events(jobs.thd_set_job_state, job_id, JobState.RUNNING,
                           start_time="2026-07-01T10:00:05.500000")
    assert [list(e.data) for e in running] == \
        [EVENT_KEYS + ["device", "worker", "device_type", "start_time"]]
    assert running[0].data["start_time"] == "2026-07-01T10:00:05.500000+00:00"

    finished = db.events(jobs.thd_set_job_state, job_id, JobState.FINISHED,
                            JobHealth.COMPLETE, end_time="2026-07-01T10:03:00.000000")
    (event,) = finished
    assert list(event.data)[-2:] == ["start_time", "end_time"]
    assert (event.data["state"], event.data["health"]) == ("Finished", "Complete")
    assert event.data["end_time"] == "2026-07-01T10:03:00+00:00"
    assert event.username == "alice"


def test_health_change_alone_emits_one_event(db, alice) -> None:
    """Changing only the health emits one event."""
    job_id = insert(db, alice)
    db.run(jobs.thd_set_job_state, job_id, JobState.RUNNING, actual_device="qemu01")
    events = db.events(jobs.thd_set_job_state, job_id, health=JobHealth.INCOMPLETE)
    assert [(e.data["state"], e.data["health"]) for e in events] == [("Running", "Incomplete")]


def test_no_change_emits_nothing(db, alice) -> None:
    """Setting the state and health a job already has changes nothing and emits nothing."""
    job_id = insert(db, alice)
    result, tx = db.run_tx(jobs.thd_set_job_state, job_id, JobState.SUBMITTED,
                              JobHealth.UNKNOWN)
    assert result is False and tx.events == []
    db.run(jobs.thd_set_job_state, job_id, JobState.SCHEDULED, actual_device="qemu01")
    result, tx = db.run_tx(jobs.thd_set_job_state, job_id, JobState.SCHEDULED)
    assert result is False and tx.events == []


def test_other_columns_emit_only_while_submitted(db, alice) -> None:
    """As in LAVA, any save of a Submitted job emits; later, other columns alone do not."""
    job_id = insert(db, alice)
    assert len(db.events(jobs.thd_set_job_state, job_id, priority=10)) == 1
    db.run(jobs.thd_set_job_state, job_id, JobState.SCHEDULED, actual_device="qemu01")
    result, tx = db.run_tx(jobs.thd_set_job_state, job_id, failure_comment="oops")
    assert result is True and tx.events == []
    assert db.run(jobs.thd_get_job, job_id)["failure_comment"] == "oops"


def test_set_state_of_unknown_job_is_not_found(db, alice) -> None:
    """Changing a job that does not exist is NotFound."""
    with pytest.raises(NotFound):
        db.run(jobs.thd_set_job_state, 4242, JobState.RUNNING)


def test_job_dict_has_rest_keys_in_order(db, alice) -> None:
    """A job reads back with rest-api.md 3.1's keys in order, and its stored values."""
    tag = db.run(devices.thd_add_tag, "usb")["id"]
    gid = db.run(users.thd_add_group, "lab")["id"]
    job_id = insert(db, alice, original_definition="job_name: smoke", tags=[tag],
                    viewing_groups=[gid], is_public=False,
                    metadata={"build_id": "1234", "branch": "main"})
    job = db.run(jobs.thd_get_job, job_id)
    assert list(job) == JOB_KEYS
    assert job == {
        "id": job_id, "submitter": "alice", "viewing_groups": [gid], "description": "smoke",
        "health_check": False, "requested_device_type": "qemu", "tags": [tag],
        "actual_device": None, "submit_time": "2026-07-01T10:00:00.000000",
        "start_time": None, "end_time": None, "state": "Submitted", "health": "Unknown",
        "priority": 50, "definition": "job_name: smoke\n",
        "metadata": {"build_id": "1234", "branch": "main"},
        "original_definition": "job_name: smoke", "multinode_definition": "",
        "failure_tags": [], "failure_comment": None}


def test_token_only_with_token(db, alice) -> None:
    """The job token (32 alphanumerics) is shown to superusers only, last."""
    job_id = insert(db, alice)
    root = db.run(users.thd_principal, db.run(users.thd_add_user, "root",
                                                    is_superuser=True)["id"])
    owner = db.run(users.thd_principal, alice)
    assert "token" not in db.run(jobs.thd_get_job, job_id)
    assert "token" not in db.run(jobs.thd_get_job, job_id, owner)
    job = db.run(jobs.thd_get_job, job_id, root)
    assert list(job) == JOB_KEYS + ["token"]
    assert len(job["token"]) == 32 and job["token"].isalnum()
    assert "token" in db.run(jobs.thd_list_jobs, root)[0]
    assert "token" not in db.run(jobs.thd_list_jobs, owner)[0]


def test_list_jobs_newest_first_with_window(db, alice) -> None:
    """thd_list_jobs orders by -id and honours limit and offset."""
    ids = [insert(db, alice) for _ in range(5)]
    assert [j["id"] for j in db.run(jobs.thd_list_jobs)] == ids[::-1]
    assert [j["id"] for j in db.run(jobs.thd_list_jobs, None, 2, 1)] == ids[3:1:-1]


def test_get_unknown_job_is_not_found(db, alice) -> None:
    """Reading a job that does not exist is NotFound with model TestJob."""
    with pytest.raises(NotFound) as info:
        db.run(jobs.thd_get_job, 4242)
    assert info.value.model == "TestJob"
