"""When notifications fire and what they carry: criteria, dependency queries, type,
first-match resolution, the plan and the read API (xmlrpc-events-notify.md 4.3, 4.4, 4.7)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from lavad import results, statemachine
from lavad.errors import NotFound, PermissionDenied
from lavad.logs import job_dir
from lavad.models import JobHealth, JobState
from lavad.notify import records

FINISHED, RUNNING = int(JobState.FINISHED), int(JobState.RUNNING)
COMPLETE, INCOMPLETE = int(JobHealth.COMPLETE), int(JobHealth.INCOMPLETE)
CANCELED, UNKNOWN = int(JobHealth.CANCELED), int(JobHealth.UNKNOWN)


@pytest.mark.parametrize("criteria, state, health, previous, match", [
    ({"status": "all"}, RUNNING, UNKNOWN, None, True),
    ({"status": "all"}, FINISHED, COMPLETE, None, True),
    ({"status": "running"}, RUNNING, UNKNOWN, None, True),
    ({"status": "running"}, FINISHED, COMPLETE, None, False),
    ({"status": "finished"}, FINISHED, CANCELED, None, True),
    ({"status": "finished"}, RUNNING, UNKNOWN, None, False),
    ({"status": "complete"}, FINISHED, COMPLETE, None, True),
    ({"status": "complete"}, FINISHED, INCOMPLETE, None, False),
    ({"status": "incomplete"}, FINISHED, INCOMPLETE, None, True),
    ({"status": "canceled"}, FINISHED, CANCELED, None, True),
    ({"status": "incomplete", "type": "regression"}, FINISHED, INCOMPLETE, COMPLETE, True),
    ({"status": "incomplete", "type": "regression"}, FINISHED, INCOMPLETE, INCOMPLETE, False),
    ({"status": "incomplete", "type": "regression"}, FINISHED, INCOMPLETE, None, False),
    ({"status": "complete", "type": "progression"}, FINISHED, COMPLETE, INCOMPLETE, True),
    ({"status": "complete", "type": "progression"}, FINISHED, COMPLETE, COMPLETE, False),
])
def test_criteria(criteria: dict[str, Any], state: int, health: int, previous: int | None,
                  match: bool) -> None:
    """Status against state (running/finished/all) or health; type against the health of
    the previous run."""
    assert records.criteria_match(criteria, state, health, previous) is match


async def plan(nlab: Any, job: int, state: int = FINISHED, health: int = COMPLETE) -> Any:
    return await nlab.store.run(records.thd_plan, job, state, health, nlab.data_dir)


@pytest_twisted.ensureDeferred
async def test_no_notify_block_or_no_match_gives_no_plan(nlab: Any) -> None:
    """A job without notify, or whose criteria do not match, has nothing to send."""
    plain = await nlab.submit(None)
    assert await plan(nlab, plain) is None
    job = await nlab.submit({"criteria": {"status": "running"}})
    assert await plan(nlab, job) is None
    assert (await plan(nlab, job, RUNNING, UNKNOWN))["recipients"][0]["address"] == \
        "alice@example.com"


@pytest_twisted.ensureDeferred
async def test_dependency_query_waits_for_the_other_jobs(nlab: Any) -> None:
    """dependency_query: every other selected job must be in the required state first."""
    other = await nlab.submit(None, job_name="dep-target")
    block = {"criteria": {"status": "finished",
                          "dependency_query": "testjob__description__exact__dep-target"}}
    job = await nlab.submit(block)
    assert await plan(nlab, job) is None
    await nlab.store.run(statemachine.thd_cancel_job, nlab.alice, other)
    assert await plan(nlab, job) is not None
    three_part = dict(block, criteria={"status": "canceled",
                                       "dependency_query": "description__dep-target"})
    assert await plan(nlab, await nlab.submit(three_part), FINISHED, CANCELED) is not None


@pytest_twisted.ensureDeferred
async def test_bad_dependency_query_sends_nothing(nlab: Any) -> None:
    """A dependency query lavad cannot run is logged and nothing is sent."""
    job = await nlab.submit({"criteria": {"status": "finished",
                                          "dependency_query": "testjob__nosuchfield__x"}})
    assert await plan(nlab, job) is None


@pytest_twisted.ensureDeferred
async def test_type_compares_with_the_previous_run(nlab: Any) -> None:
    """regression: the previous finished run of the same job (description, device type,
    submitter) was Complete and this one is Incomplete."""
    block = {"criteria": {"status": "incomplete", "type": "regression"}}
    first = await nlab.submit(block)
    await nlab.start(first)
    await nlab.finish(first, "pass")
    second = await nlab.submit(block)
    assert await plan(nlab, second, FINISHED, INCOMPLETE) is not None
    by_bob = await nlab.submit(block, submitter=nlab.bob)
    assert await plan(nlab, by_bob, FINISHED, INCOMPLETE) is None


@pytest_twisted.ensureDeferred
async def test_device_owner_is_resolved_once(nlab: Any) -> None:
    """{LAVA_DEVICE_OWNER} becomes the device's owner at the first match; without an owner
    the recipient is dropped; an owner already listed is not added twice."""
    owner = {"to": {"method": "email", "user": "{LAVA_DEVICE_OWNER}"}}
    job = await nlab.submit({"criteria": {"status": "running"}, "recipients": [owner]})
    await nlab.start(job, "qemu01")
    [recipient] = (await plan(nlab, job, RUNNING, UNKNOWN))["recipients"]
    assert (recipient["user"]["username"], recipient["address"]) == ("bob", "bob@example.com")
    ownerless = await nlab.submit({"criteria": {"status": "running"},
                                   "recipients": [owner]})
    await nlab.start(ownerless, "qemu02")
    assert (await plan(nlab, ownerless, RUNNING, UNKNOWN))["recipients"] == []
    await nlab.finish(job)
    twice = await nlab.submit({"criteria": {"status": "running"}, "recipients": [
        {"to": {"method": "email", "user": "bob"}}, owner]})
    await nlab.start(twice, "qemu01")
    assert len((await plan(nlab, twice, RUNNING, UNKNOWN))["recipients"]) == 1


@pytest_twisted.ensureDeferred
async def test_addresses_come_from_the_block_then_the_profile(nlab: Any) -> None:
    """to.email / to.handle / to.server win over the user's profile; a user without an
    address has none."""
    job = await nlab.submit({"criteria": {"status": "finished"}, "recipients": [
        {"to": {"method": "email", "user": "alice", "email": "other@example.com"}},
        {"to": {"method": "email", "user": "carol"}},
        {"to": {"method": "irc", "user": "alice", "server": "irc.example.com"}},
        {"to": {"method": "irc", "handle": "h", "server": "s:7000"}}]})
    got = [(r["method"], r["address"], r["handle"], r["server"])
           for r in (await plan(nlab, job))["recipients"]]
    assert got == [("email", "other@example.com", None, None), ("email", None, None, None),
                   ("irc", None, "alice-irc", "irc.example.com"), ("irc", None, "h", "s:7000")]


@pytest_twisted.ensureDeferred
async def test_callback_urls_are_frozen_at_the_first_match(nlab: Any) -> None:
    """Placeholders take the values of the first match and keep them."""
    job = await nlab.submit({"criteria": {"status": "all"},
                             "callback": {"url": "http://h/{ID}/{STATUS_STRING}/{STATE}"}})
    [first] = (await plan(nlab, job, RUNNING, UNKNOWN))["callbacks"]
    [later] = (await plan(nlab, job, FINISHED, COMPLETE))["callbacks"]
    assert first["url"] == later["url"] == "http://h/%d/running/3" % job


@pytest_twisted.ensureDeferred
async def test_callback_data_with_logs_and_results(nlab: Any) -> None:
    """Datasets: logs adds the log text, results a YAML export per suite; GET has none."""
    job = await nlab.submit({"criteria": {"status": "finished"}, "callbacks": [
        {"url": "http://h/a", "method": "POST", "dataset": "all"},
        {"url": "http://h/b", "dataset": "all"}]})
    await nlab.start(job)
    text = ('- {"dt": "2026-07-01T10:00:00", "lvl": "info", "msg": "hello"}\n'
            '- {"dt": "2026-07-01T10:00:01", "lvl": "results", "msg": {"definition": '
            '"0_smoke", "case": "pwd", "result": "pass", "measurement": 1.5, "units": "s"}}\n')
    await nlab.store.run(results.thd_ingest_log, job, text, 0, nlab.data_dir)
    await nlab.finish(job)
    post, get = (await plan(nlab, job))["callbacks"]
    assert get["data"] is None and post["method"] == "POST"
    assert post["data"]["log"] == text
    assert "name: pwd\n" in post["data"]["results"]["0_smoke"]
    assert "measurement: '1.5000000000'\n" in post["data"]["results"]["0_smoke"]
    assert "url: /results/testcase/" in post["data"]["results"]["0_smoke"]


@pytest_twisted.ensureDeferred
async def test_verbose_plan_has_results_error_and_comparison(nlab: Any) -> None:
    """A verbose plan at Finished has the suites, the lava/job error and the comparison
    with the latest complete job of the query."""
    block = {"criteria": {"status": "finished"}, "verbosity": "verbose",
             "compare": {"blacklist": ["lava"],
                         "query": {"entity": "testjob",
                                   "conditions": {"description": "smoke <one> & two"}}}}
    old = await nlab.submit(block)
    await nlab.start(old)
    await nlab.finish(old, "pass")
    job = await nlab.submit(block)
    await nlab.start(job)
    await nlab.store.run(results.thd_record_result, job, {
        "definition": "lava", "case": "job", "result": "fail", "error_type": "Job",
        "error_msg": "bad"}, job_dir(nlab.data_dir, job))
    await nlab.finish(job, "fail")
    data = await plan(nlab, job, FINISHED, INCOMPLETE)
    assert data["lava_job_result"]["error_type"] == "Job"
    assert [s["name"] for s in data["results"]] == ["lava"]
    compare = data["compare"]
    assert compare["compare_to"] == old
    assert [j["id"] for j in compare["jobs"]] == [job, old]
    assert compare["query_link"] == \
        "/results/query/+custom?entity=testjob&conditions=description__smoke <one> & two"
    assert data["job"]["metadata"] == {"build": "42"}


@pytest_twisted.ensureDeferred
async def test_job_notifications_follow_job_visibility(nlab: Any) -> None:
    """The panel: NotFound for no job, PermissionDenied for a job the caller cannot see;
    addresses only for the submitter, superusers and the recipient themself."""
    job = await nlab.submit({"criteria": {"status": "finished"}, "recipients": [
        {"to": {"method": "email", "user": "bob"}},
        {"to": {"method": "irc", "handle": "h", "server": "irc.example.com"}}],
        "callback": {"url": "http://h/secret"}})
    read = nlab.store.run
    mine = await read(records.thd_job_notifications, nlab.alice, job)
    assert mine["recipients"] == [
        {"method": "email", "user": "bob", "address": "bob@example.com", "status": "not sent"},
        {"method": "irc", "user": None, "address": "h@irc.example.com", "status": "not sent"}]
    assert mine["callbacks"][0]["url"] == "http://h/secret"
    bobs = await read(records.thd_job_notifications, nlab.bob, job)
    assert [r["address"] for r in bobs["recipients"]] == ["bob@example.com", None]
    assert bobs["callbacks"][0]["url"] is None
    private = await nlab.submit({"criteria": {"status": "finished"}},
                                visibility="personal")
    with pytest.raises(PermissionDenied):
        await read(records.thd_job_notifications, nlab.bob, private)
    assert (await read(records.thd_job_notifications, nlab.root, private))["verbosity"] == \
        "quiet"
    with pytest.raises(NotFound):
        await read(records.thd_job_notifications, nlab.root, 999)
    assert await read(records.thd_job_notifications, nlab.root,
                      await nlab.submit(None)) is None
