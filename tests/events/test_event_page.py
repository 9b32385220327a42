"""``/events/``: the live event page, served by lavad and watched in headless Chromium.

The browser test submits a job through the domain and reads the rendered
table back through the DevTools protocol (see chromium_cdp.py).
"""

from __future__ import annotations

import json
import re

import pytest
import pytest_twisted
import treq
from chromium_cdp import start_chromium
from eventlab import EVENT_LINE_TEMPLATE, JOB, poll, relay_attached, setup_lab
from twisted.internet import reactor
from twisted.web.client import HTTPConnectionPool

from lavad import devices, results, statemachine, submission

#: The page's rows, newest first, as plain values.
ROWS = """Array.from(document.querySelectorAll("#events tbody tr")).map(function (row) {
  return {topic: row.dataset.topic, job: row.dataset.job, state: row.dataset.state,
          health: row.dataset.health, message: row.dataset.message, hidden: row.hidden,
          cells: Array.from(row.cells).map(function (c) { return c.textContent; })};
})"""
STATUS = """(function () {
  var status = document.getElementById("status");
  return status ? status.dataset.state : null;
})()"""
COUNTS = """["shown", "kept", "received"].map(function (id) {
  return document.getElementById(id).textContent;
})"""


def shown(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(topic, job, state or message) of the visible rows."""
    return [(r["topic"], r["job"], r["state"] or r["message"]) for r in rows if not r["hidden"]]


async def get(url: str) -> tuple[int, dict, bytes]:
    pool = HTTPConnectionPool(reactor, persistent=False)
    response = await treq.get(url, pool=pool, allow_redirects=False)
    body = await response.content()
    headers = {k.decode().lower(): v[0].decode() for k, v in response.headers.getAllRawHeaders()}
    return response.code, headers, body


@pytest_twisted.ensureDeferred
async def test_page_and_script_are_served_without_outside_resources(lavad_service):
    """/events redirects to /events/, which serves the page and its script, nothing remote."""
    base = lavad_service.base_url
    code, headers, _ = await get(base + "/events")
    assert code in (301, 302) and headers["location"].endswith("/events/")
    code, headers, page = await get(base + "/events/")
    assert code == 200 and headers["content-type"] == "text/html; charset=utf-8"
    text = page.decode()
    assert '<script src="events.js"></script>' in text
    for topic in ("testjob", "device", "worker", "event"):
        assert 'name="topic" value="%s" checked' % topic in text
    assert 'id="job-filter"' in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    code, headers, script = await get(base + "/events/events.js")
    assert code == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
    assert b'new URL("../ws/", window.location.href)' in script
    assert not re.search(rb"https?://", script)
    assert (await get(base + "/events/other"))[0] == 404


@pytest.mark.timeout(120)
@pytest_twisted.ensureDeferred
async def test_browser_shows_a_submitted_jobs_events_as_they_happen(lavad_service, tmp_path):
    """In headless Chromium, /events/ shows a submitted job's events as they come, newest first,
    bounded, and filtered by topic and job."""
    lab = await setup_lab(lavad_service)
    browser = await start_chromium(tmp_path)
    try:
        await browser.navigate(lavad_service.base_url + "/events/?limit=6")
        await browser.wait_for(STATUS, lambda state: state == "open",
                               "the page's websocket opening", attempts=400)
        await relay_attached(lavad_service, 1)

        [job] = await lab.run(submission.thd_submit, lab.alice, JOB)
        jid = str(job)
        rows = await browser.wait_for(ROWS, lambda rows: rows, "the Submitted event on the page")
        assert shown(rows) == [("testjob", jid, "Submitted")]
        cells = rows[0]["cells"]
        assert cells[1:] == ["testjob", "alice", jid, "", "Submitted, Unknown (live events)"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?", cells[0])

        await lab.run(statemachine.thd_schedule_job, job, "qemu01")
        await lab.run(statemachine.thd_job_running, job)
        await lab.run(results.thd_ingest_log, job, EVENT_LINE_TEMPLATE % "my-event-fired", 0,
                      lavad_service.files.data_dir)
        await lab.run(statemachine.thd_job_finished, job, "pass")
        rows = await browser.wait_for(
            ROWS, lambda rows: rows and rows[0]["state"] == "Finished" and rows,
            "the Finished event on the page")
        # Eight events arrived; the page keeps the newest six, newest first.
        assert shown(rows) == [
            ("testjob", jid, "Finished"), ("device", jid, "Idle"),
            ("event", jid, "my-event-fired"), ("testjob", jid, "Running"),
            ("device", jid, "Running"), ("testjob", jid, "Scheduled")]
        assert rows[0]["health"] == "Complete"
        assert rows[2]["cells"][1:] == ["event", "lavaserver", jid, "",
                                        "message: my-event-fired"]
        assert rows[1]["cells"][4] == "qemu01"
        assert await browser.evaluate(COUNTS) == ["6", "6", "8"]

        # Filter by job: another job's id hides everything, this job's shows its rows again.
        await browser.evaluate(set_job_filter(str(job + 1000)))
        assert shown(await browser.evaluate(ROWS)) == []
        await browser.evaluate(set_job_filter(jid))
        assert len(shown(await browser.evaluate(ROWS))) == 6
        # Filter by topic: without devices, only the job and test-shell rows.
        await browser.evaluate(click_topic("device"))
        assert [r[0] for r in shown(await browser.evaluate(ROWS))] == [
            "testjob", "event", "testjob", "testjob"]
        # A new worker event names no job: kept, but hidden while the job filter is set.
        await lab.run(devices.thd_update_worker, "w1", health="Maintenance")
        rows = await browser.wait_for(ROWS, lambda rows: rows[0]["topic"] == "worker" and rows,
                                      "the worker event on the page")
        assert rows[0]["hidden"] and rows[0]["cells"][4:] == ["w1", "Offline, Maintenance"]
        await browser.evaluate(set_job_filter(""))
        assert shown(await browser.evaluate(ROWS))[0] == ("worker", "", "Offline")
        assert await browser.evaluate(COUNTS) == ["4", "6", "9"]
        assert browser.devtools is not None and browser.devtools.notes == [], browser.describe()
    finally:
        await browser.stop()
    await poll(lambda: not lavad_service.relay.clients, "the page's websocket closing")


def set_job_filter(value: str) -> str:
    """JavaScript typing ``value`` into the job filter (an ``input`` event, as typing sends)."""
    return """(function () {
  var input = document.getElementById("job-filter");
  input.value = %s;
  input.dispatchEvent(new Event("input"));
  return true;
})()""" % json.dumps(value)


def click_topic(topic: str) -> str:
    """JavaScript clicking the checkbox of ``topic``."""
    return """(function () {
  document.querySelector('#filters input[value="%s"]').click();
  return true;
})()""" % topic
