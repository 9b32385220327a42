"""The pages the notification links point at, served by a running lavad, and the notifier
wired into it: /scheduler/job/<id>, /results/<id>[/<suite>], /results/testcase/<id>."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import reactor

from notifylab import job_definition, notify_settings, wait_for
from lavad import devices, results, statemachine, submission, users
from lavad.models import WorkerState
from lavad.notify.service import default_http_client
from lavad.service import LavadService

LOG = ('- {"dt": "2026-07-01T10:00:00.000000", "lvl": "info", "msg": "first <line>"}\n'
       '- {"dt": "2026-07-01T10:00:01.000000", "lvl": "debug", "msg": "second"}\n'
       '- {"dt": "2026-07-01T10:00:02.000000", "lvl": "results", "msg": {"definition": '
       '"0_smoke", "case": "pwd", "result": "pass", "starttc": 1, "endtc": 1}}\n')
HTTP = default_http_client(reactor)  # no idle connections left behind


@pytest_twisted.async_yield_fixture
async def lavad(tmp_path: Any, smtp_server: Any, no_stop_reactor: Any) -> Any:
    """A running lavad (mail to ``smtp_server``) with users alice (token alice-token),
    bob (token bob-token), a device qemu01 and a job helper."""
    settings = notify_settings(tmp_path, email_port=smtp_server.port,
                               event_socket="tcp://127.0.0.1:*")
    service = LavadService(settings, no_stop_reactor)
    service.startService()
    await service.when_started()
    assert not service.exit_status
    run = service.store.run
    service.base = "http://127.0.0.1:%d" % service.port.getHost().port
    for name in ("alice", "bob"):
        await run(users.thd_add_user, name, email="%s@example.com" % name)
        await run(users.thd_add_token, name, description="t", secret="%s-token" % name)
    service.alice = await run(users.thd_principal_by_name, "alice")
    await run(devices.thd_add_device_type, "qemu")
    await run(devices.thd_add_worker, "w1")
    await run(devices.thd_set_worker_state, "w1", WorkerState.ONLINE)
    await run(devices.thd_add_device, "qemu01", "qemu", worker_host="w1", health="Good")

    async def job(notify: Any = None, **changes: Any) -> int:
        [job_id] = await run(submission.thd_submit, service.alice,
                             job_definition(notify, **changes))
        await run(statemachine.thd_schedule_job, job_id, "qemu01")
        await run(statemachine.thd_job_running, job_id)
        await run(results.thd_ingest_log, job_id, LOG, 0, service.files.data_dir)
        await run(statemachine.thd_job_finished, job_id, "pass")
        return int(job_id)

    service.job = job
    yield service
    await service.stopService()


async def get(lavad: Any, path: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": "Token " + token} if token else {}
    response = await wait_for(HTTP.get(lavad.base + path, headers=headers))
    return response.code, (await wait_for(response.text("utf-8")))


@pytest_twisted.ensureDeferred
async def test_the_notifier_runs_inside_lavad(lavad: Any, smtp_server: Any) -> None:
    """lavad starts the notification service: a finished job's email arrives, and its
    link opens the job's page."""
    job = await lavad.job({"criteria": {"status": "finished"}})
    [mail] = await smtp_server.wait(1)
    await wait_for(lavad.notifications.when_idle())
    link = "http://lava.example.com/scheduler/job/%d" % job
    assert "Job details and log file: %s\n" % link in mail.body
    code, page = await get(lavad, link.replace("http://lava.example.com", ""))
    assert code == 200 and "<h1>Job %d: smoke &lt;one&gt; &amp; two</h1>" % job in page


@pytest_twisted.ensureDeferred
async def test_job_page_shows_details_and_a_page_of_the_log(lavad: Any) -> None:
    """/scheduler/job/<id>: details, metadata and the log lines from ?start= on."""
    job = await lavad.job()
    code, page = await get(lavad, "/scheduler/job/%d" % job)
    assert code == 200
    assert "<tr><th>Health</th><td>Complete</td></tr>" in page
    assert "<tr><th>build</th><td>42</td></tr>" in page
    assert "Lines 1 to 3 of 3." in page and "first &lt;line&gt;" in page
    code, page = await get(lavad, "/scheduler/job/%d/?start=1" % job)
    assert code == 200 and "Lines 2 to 3 of 3." in page
    assert "first &lt;line&gt;" not in page and '<tr id="L1" class="lvl-debug">' in page


@pytest_twisted.ensureDeferred
async def test_pages_follow_job_visibility(lavad: Any) -> None:
    """A private job: 403 for others, 200 for its submitter; unknown jobs, suites and
    paths: 404 (HTML pages, as the API's rules decide)."""
    job = await lavad.job(visibility="personal")
    for path in ("/scheduler/job/%d" % job, "/results/%d" % job, "/results/%d/0_smoke" % job):
        code, page = await get(lavad, path)
        assert code == 403 and "<h1>403 Forbidden</h1>" in page
        assert (await get(lavad, path, "bob-token"))[0] == 403
        assert (await get(lavad, path, "alice-token"))[0] == 200
    for path in ("/scheduler/job/999", "/scheduler/job/x", "/results/999",
                 "/results/%d/nosuchsuite" % job, "/results/testcase/999",
                 "/scheduler/job/%d/more" % job):
        code, page = await get(lavad, path, "alice-token")
        assert code == 404 and "<h1>404 Not Found</h1>" in page


@pytest_twisted.ensureDeferred
async def test_results_pages_and_the_notifications_panel(lavad: Any, smtp_server: Any) -> None:
    """/results/<id> lists suites with counts and each recipient's method, address and
    status (addresses for the submitter only); /results/<id>/<suite> lists the cases."""
    job = await lavad.job({"criteria": {"status": "finished"}, "recipients": [
        {"to": {"method": "email", "user": "bob"}},
        {"to": {"method": "irc", "handle": "h"}}]})
    await smtp_server.wait(1)
    await wait_for(lavad.notifications.when_idle())
    code, page = await get(lavad, "/results/%d" % job, "alice-token")
    assert code == 200
    assert '<a href="/results/%d/0_smoke">0_smoke</a></td><td>1</td><td>0</td>' % job in page
    assert "<tr><td>email</td><td>bob</td><td>bob@example.com</td><td>sent</td></tr>" in page
    assert "<tr><td>irc</td><td></td><td>h</td><td>not sent</td></tr>" in page
    code, page = await get(lavad, "/results/%d" % job)
    assert "<tr><td>email</td><td>bob</td><td>(hidden)</td><td>sent</td></tr>" in page
    code, page = await get(lavad, "/results/%d/0_smoke" % job)
    assert code == 200 and "Test cases 1 to 1 of 1." in page
    assert '<td class="pass">pass</td>' in page
    assert '<a href="/scheduler/job/%d?start=1#L1">line 1</a>' % job in page
    case = page.split('<a href="/results/testcase/')[1].split('"')[0]
    code, page = await get(lavad, "/results/testcase/" + case)
    assert code == 200 and "<h1>Test case pwd</h1>" in page


@pytest_twisted.ensureDeferred
async def test_download_urls_keep_precedence_over_suite_pages(lavad: Any) -> None:
    """/results/<id>/csv is the CSV download, not a suite page."""
    job = await lavad.job()
    response = await wait_for(HTTP.get(lavad.base + "/results/%d/csv" % job))
    await wait_for(response.content())
    assert response.code == 200
    assert response.headers.getRawHeaders(b"content-type")[0].startswith(b"text/csv")
