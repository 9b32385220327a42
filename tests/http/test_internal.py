"""/scheduler/internal/v1/: the worker protocol's routes, errors and replies."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from replay_worker import (WORKER_NAME, WORKER_TOKEN, lines_field, stream_lines,
                           thd_seed_lab, write_templates)
from treq.testing import StubTreq
from twisted.internet.defer import fail, succeed
from twisted.web.resource import Resource

from lavad import statemachine
from lavad.events import EventBus
from lavad.files import LabFiles
from lavad.http.internal import internal_resource, mount_internal
from lavad.lab import Lab
from lavad.logs import job_dir
from lavad.models import JobHealth, JobState, WorkerState
from lavad.store.schema import open_database
from lavad.store.tx import Tx, run_in_transaction
from lavad.users import thd_principal_by_name

BASE = "http://lavad.test/scheduler/internal/v1/"


class InlineStore:
    """The store's interface, run synchronously on this thread (Deferreds already fired)."""

    def __init__(self, path: str) -> None:
        self.conn = open_database(path)
        self.bus = EventBus()

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        tx = Tx(self.conn)
        try:
            result = run_in_transaction(tx, fn, *args, **kwargs)
        except Exception:
            return fail()
        for event in tx.events:
            self.bus.publish(event)
        return succeed(result)

    def q(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, params).fetchall()]


class Lavad:
    """A lab with the recording's worker, devices and jobs, and a client on its internal API."""

    def __init__(self, tmp_path: Any, **options: Any) -> None:
        self.data_dir = str(tmp_path / "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.store = InlineStore(str(tmp_path / "lavad.sqlite3"))
        self.lab = Lab(self.store)
        self.seed = self.store.run(thd_seed_lab).result
        self.files = LabFiles(self.data_dir, [write_templates(str(tmp_path / "templates"))])
        root = Resource()
        mount_internal(root, internal_resource(self.lab, self.files, **options))
        self.client = StubTreq(root)

    def request(self, method: str, path: str, token: str | None = None,
                form: dict[str, str] | None = None, headers: dict[str, Any] | None = None
                ) -> tuple[int, Any]:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["LAVA-Token"] = [token]
        data = None
        if form is not None:
            all_headers["Content-Type"] = ["application/x-www-form-urlencoded"]
            data = urlencode(form).encode()
        response = self.client.request(method, BASE + path, headers=all_headers,
                                       data=data).result
        assert response.headers.getRawHeaders(b"content-type") == [b"application/json"]
        return response.code, json.loads(self.client.content(response).result)

    def token(self, job_id: int) -> str:
        return self.store.q("SELECT token FROM test_jobs WHERE id = ?", (job_id,))[0][0]

    def job(self, job_id: int) -> tuple[str, str]:
        state, health = self.store.q("SELECT state, health FROM test_jobs WHERE id = ?",
                                     (job_id,))[0]
        return JobState(state).display, JobHealth(health).display

    def ping(self, version: str = "2023.01", token: str = WORKER_TOKEN) -> tuple[int, Any]:
        return self.request("GET", "workers/%s/?version=%s" % (WORKER_NAME, version), token)


@pytest.fixture
def lavad(tmp_path: Any) -> Lavad:
    return Lavad(tmp_path)


# -- ping -----------------------------------------------------------------------------------------
def test_ping_lists_scheduled_jobs_and_brings_the_worker_online(lavad) -> None:
    """A ping answers start/running/cancel with job ids and tokens; the worker goes Online."""
    code, body = lavad.ping()
    assert code == 200
    assert body == {"cancel": [], "running": [],
                    "start": [{"id": i, "token": lavad.token(i)} for i in (1, 2, 3)]}
    state, version = lavad.store.q("SELECT state, version FROM workers")[0]
    assert (WorkerState(state), version) == (WorkerState.ONLINE, "2023.01")


def test_ping_lists_running_and_canceling_jobs(lavad) -> None:
    """Running jobs stay in running; a canceled one moves to cancel."""
    assert lavad.request("POST", "jobs/1/", lavad.token(1), {"state": "RUNNING"}) == (200, {})
    assert lavad.request("POST", "jobs/2/", lavad.token(2), {"state": "RUNNING"}) == (200, {})
    admin = lavad.store.run(thd_principal_by_name, "admin").result
    lavad.store.run(statemachine.thd_cancel_job, admin, 2)
    _, body = lavad.ping()
    assert [j["id"] for j in body["running"]] == [1]
    assert [j["id"] for j in body["cancel"]] == [2]
    assert [j["id"] for j in body["start"]] == [3]


@pytest.mark.parametrize("path, token, expected", [
    ("workers/nobody/?version=2023.01", WORKER_TOKEN, (404, {"error": "Unknown worker 'nobody'"})),
    ("workers/%s/?version=2023.01" % WORKER_NAME, None, (400, {"error": "Missing 'token'"})),
    ("workers/%s/?version=2023.01" % WORKER_NAME, "wrong", (400, {"error": "Invalid 'token'"})),
    ("workers/%s/" % WORKER_NAME, WORKER_TOKEN, (400, {"error": "Missing 'version'"})),
])
def test_ping_errors(lavad, path, token, expected) -> None:
    """Unknown worker 404, then missing/invalid token 400, then missing version 400."""
    assert lavad.request("GET", path, token) == expected


def test_newer_versions_are_accepted(lavad) -> None:
    """2026.07 and a 2023.01 git build are accepted (Debian's worker never gets 409)."""
    for version in ("2026.07", "2023.01.0012.gabcdef", "2024.05"):
        code, body = lavad.ping(version)
        assert code == 200 and len(body["start"]) == 3
    assert lavad.store.q("SELECT version FROM workers") == [("2024.05",)]


def test_old_version_gets_409_and_goes_offline(lavad) -> None:
    """A release before 2023.01 with nothing running: 409, worker Offline, version saved."""
    lavad.ping()
    assert lavad.ping("2022.11") == (409, {"error": "Version mismatch '2022.11' vs '2026.07'"})
    assert lavad.store.q("SELECT state, version FROM workers") == [
        (int(WorkerState.OFFLINE), "2022.11")]


def test_old_version_with_running_job_gets_no_new_job(lavad) -> None:
    """A mismatched worker with a running job still hears of it, but starts nothing."""
    lavad.request("POST", "jobs/1/", lavad.token(1), {"state": "RUNNING"})
    code, body = lavad.ping("2022.11")
    assert code == 200
    assert body == {"cancel": [], "running": [{"id": 1, "token": lavad.token(1)}], "start": []}


def test_header_name_is_case_insensitive(lavad) -> None:
    """lava-token in any case is the same header."""
    code, _ = lavad.request("GET", "workers/%s/?version=2023.01" % WORKER_NAME,
                            headers={"lava-token": [WORKER_TOKEN]})
    assert code == 200


def test_post_to_a_worker_url_is_forbidden(lavad) -> None:
    """POST workers/<name>/ is 403 'POST is forbidden for such url'."""
    assert lavad.request("POST", "workers/%s/" % WORKER_NAME, form={"name": "x"}) == \
        (403, {"error": "POST is forbidden for such url"})


# -- registration ---------------------------------------------------------------------------------
def test_register_from_an_allowed_address(lavad) -> None:
    """A new name from 127.0.0.0/8 is created and answered its token; a second time is 403."""
    code, body = lavad.request("POST", "workers/", form={"name": "new-worker"})
    assert code == 200 and body["name"] == "new-worker" and len(body["token"]) == 32
    assert lavad.store.q("SELECT token, description FROM workers WHERE hostname = ?",
                         ("new-worker",)) == [(body["token"], "Auto registered by 127.0.0.1")]
    assert lavad.request("POST", "workers/", form={"name": "new-worker"}) == \
        (403, {"error": "Worker 'new-worker' already registered"})
    assert lavad.request("POST", "workers/", form={}) == (400, {"error": "Missing 'name'"})


def test_register_with_credentials(lavad) -> None:
    """A superuser may take over an existing worker; a wrong password is 'Unknown user'."""
    assert lavad.request("POST", "workers/", form={
        "name": WORKER_NAME, "username": "admin", "password": "admin-pass"}) == \
        (200, {"name": WORKER_NAME, "token": WORKER_TOKEN})
    assert lavad.request("POST", "workers/", form={
        "name": WORKER_NAME, "username": "admin", "password": "nope"}) == \
        (403, {"error": "Unknown user admin"})


def test_register_refuses_other_networks_and_can_be_disabled(tmp_path) -> None:
    """Outside the allowed networks: 403 naming the address; disabled: 403."""
    other = Lavad(tmp_path / "a", allowed_nets=["10.0.0.0/8"])
    assert other.request("POST", "workers/", form={"name": "w"}) == \
        (403, {"error": "Auto registration is forbidden for '127.0.0.1'"})
    off = Lavad(tmp_path / "b", auto_register=False)
    assert off.request("POST", "workers/", form={"name": "w"}) == \
        (403, {"error": "Auto registration is disabled"})


# -- the job GET ----------------------------------------------------------------------------------
def test_job_get_answers_five_strings_and_saves_them(lavad) -> None:
    """definition, device (rendered), dispatcher, env, env-dut: strings, saved in the job dir."""
    code, body = lavad.request("GET", "jobs/1/", lavad.token(1))
    assert code == 200
    assert sorted(body) == ["definition", "device", "dispatcher", "env", "env-dut"]
    assert yaml.safe_load(body["definition"])["job_name"] == "ssh-local-smoke"
    device = yaml.safe_load(body["device"])
    assert device["actions"]["deploy"]["methods"]["ssh"]["port"] == 2222
    assert "schroot" not in device
    assert (body["dispatcher"], body["env"], body["env-dut"]) == ("", "", "")
    directory = job_dir(lavad.data_dir, 1)
    assert sorted(os.listdir(directory)) == ["device.yaml", "job.yaml"]


def test_job_get_sends_worker_files(lavad) -> None:
    """The worker's dispatcher.yaml and the instance env.yaml are sent as text."""
    lavad.files.set_worker_file(WORKER_NAME, "dispatcher", "prefix: lab-\n")
    with open(os.path.join(lavad.data_dir, "env.yaml"), "w") as f:
        f.write("overrides:\n  A: b\n")
    _, body = lavad.request("GET", "jobs/3/", lavad.token(3))
    assert body["dispatcher"] == "prefix: lab-\n" and body["env"] == "overrides:\n  A: b\n"
    assert body["env-dut"] == ""
    assert yaml.safe_load(body["device"])["actions"]["boot"]["methods"]["qemu"][
        "parameters"] == {"command": "qemu-system-x86_64", "memory": 512, "kvm": False}


def test_job_get_substitutes_remote_artifact_tokens(lavad) -> None:
    """Header values and secrets naming the submitter's tokens become the token values."""
    lavad.store.conn.execute("INSERT INTO remote_artifact_tokens (user_id, name, token)"
                             " VALUES (?, 'mytoken', 's3cr3t')", (lavad.seed["admin"],))
    definition = {
        "job_name": "t", "secrets": {"API": "mytoken", "OTHER": "plain"},
        "actions": [{"deploy": {"to": "tmpfs", "images": {"kernel": {
            "url": "https://x/k", "headers": {"PRIVATE-TOKEN": "mytoken"}}}}},
            {"boot": {"method": "qemu", "headers": {"X": "mytoken"}}}]}
    lavad.store.conn.execute("UPDATE test_jobs SET definition = ? WHERE id = 1",
                             (yaml.safe_dump(definition),))
    _, body = lavad.request("GET", "jobs/1/", lavad.token(1))
    sent = yaml.safe_load(body["definition"])
    assert sent["secrets"] == {"API": "s3cr3t", "OTHER": "plain"}
    assert sent["actions"][0]["deploy"]["images"]["kernel"]["headers"] == \
        {"PRIVATE-TOKEN": "s3cr3t"}
    assert sent["actions"][1]["boot"]["headers"] == {"X": "mytoken"}
    assert "compatibility" not in sent


def test_job_by_multinode_sub_id(lavad) -> None:
    """A path may name a job by its N.M sub-id."""
    lavad.store.conn.execute("UPDATE test_jobs SET sub_id = '1.0', target_group = 'g'"
                             " WHERE id = 1")
    assert lavad.request("GET", "jobs/1.0/", lavad.token(1))[0] == 200
    assert lavad.request("GET", "jobs/1.7/", lavad.token(1)) == \
        (404, {"error": "Unknown job '1.7'"})


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_job_errors(lavad, method) -> None:
    """Unknown job 404 (also for a non-number), then missing/invalid token 400."""
    form = {"state": "RUNNING"} if method == "POST" else None
    assert lavad.request(method, "jobs/99/", lavad.token(1), form) == \
        (404, {"error": "Unknown job '99'"})
    assert lavad.request(method, "jobs/abc/", lavad.token(1), form) == \
        (404, {"error": "Unknown job 'abc'"})
    assert lavad.request(method, "jobs/1/", None, form) == (400, {"error": "Missing 'token'"})
    assert lavad.request(method, "jobs/1/", lavad.token(2), form) == \
        (400, {"error": "Invalid 'token'"})


def test_job_get_with_a_broken_worker_file_is_500(lavad) -> None:
    """An invalid YAML worker file is a server error naming the problem, not a bad job."""
    os.makedirs(os.path.join(lavad.data_dir, "dispatcher.d", WORKER_NAME))
    with open(os.path.join(lavad.data_dir, "dispatcher.d", WORKER_NAME, "env.yaml"), "w") as f:
        f.write("a: [\n")
    code, body = lavad.request("GET", "jobs/1/", lavad.token(1))
    assert code == 500
    assert body["error"].startswith("Unable to prepare job 1 for device 'ssh-local-01': "
                                    "Invalid YAML syntax in 'worker-01' config")


# -- the job state POST ---------------------------------------------------------------------------
def test_running_then_finished(lavad) -> None:
    """RUNNING (any case) starts the job; FINISHED pass completes it and saves the description."""
    assert lavad.request("POST", "jobs/1/", lavad.token(1), {"state": "Running"}) == (200, {})
    assert lavad.job(1) == ("Running", "Unknown")
    assert lavad.request("POST", "jobs/1/", lavad.token(1), {
        "state": "FINISHED", "result": "pass", "error_type": "", "errors": "",
        "description": "compatibility: 2\n"}) == (200, {})
    assert lavad.job(1) == ("Finished", "Complete")
    with open(os.path.join(job_dir(lavad.data_dir, 1), "description.yaml")) as f:
        assert f.read() == "compatibility: 2\n"
    # The worker resends until it gets a 200: a second FINISHED is fine.
    assert lavad.request("POST", "jobs/1/", lavad.token(1), {
        "state": "FINISHED", "result": "fail"}) == (200, {})
    assert lavad.job(1) == ("Finished", "Complete")


@pytest.mark.parametrize("form, error", [
    ({"state": "bogus"}, "Invalid state 'Bogus'"),
    ({}, "Invalid state ''"),
    ({"state": "SCHEDULED"}, "Not handled state 'Scheduled'"),
    ({"state": "FINISHED", "result": "maybe"}, "Invalid health 'maybe'"),
    ({"state": "FINISHED"}, "Invalid health ''"),
])
def test_state_errors(lavad, form, error) -> None:
    """Unknown, unhandled states and bad results are 400 with LAVA's texts; nothing changes."""
    assert lavad.request("POST", "jobs/1/", lavad.token(1), form) == (400, {"error": error})
    assert lavad.job(1) == ("Scheduled", "Unknown")


def test_failed_job_with_errors_sets_failure_comment(lavad) -> None:
    """FINISHED fail with errors: Incomplete, the errors as the failure comment."""
    lavad.request("POST", "jobs/1/", lavad.token(1), {"state": "RUNNING"})
    lavad.request("POST", "jobs/1/", lavad.token(1), {
        "state": "FINISHED", "result": "fail", "error_type": "Test", "errors": "boom"})
    assert lavad.job(1) == ("Finished", "Incomplete")
    assert lavad.store.q("SELECT failure_comment FROM test_jobs WHERE id = 1") == [("boom",)]


# -- the logs POST --------------------------------------------------------------------------------
def test_logs_answer_line_count_also_for_resends_and_finished_jobs(lavad) -> None:
    """Every well-formed upload gets its count: new, resent, and after the job finished."""
    lines = stream_lines(1)

    def post(chunk: list[str], index: int) -> tuple[int, Any]:
        return lavad.request("POST", "jobs/1/logs/", lavad.token(1),
                             {"lines": lines_field(chunk), "index": str(index)})

    assert post(lines[:94], 0) == (200, {"line_count": 94})
    assert post(lines[:94], 0) == (200, {"line_count": 94})
    assert post(lines[94:100], 94) == (200, {"line_count": 6})
    lavad.request("POST", "jobs/1/", lavad.token(1), {"state": "FINISHED", "result": "pass"})
    assert post(lines[100:110], 100) == (200, {"line_count": 10})
    assert post(lines[100:110], 100) == (200, {"line_count": 10})
    assert lavad.store.q("SELECT log_lines FROM test_jobs WHERE id = 1") == [(110,)]
    with open(os.path.join(job_dir(lavad.data_dir, 1), "output.yaml")) as f:
        assert f.read() == "".join(lines[:110])


@pytest.mark.parametrize("form, error", [
    ({"index": "0"}, "Missing 'lines'"),
    ({"lines": "", "index": "0"}, "Missing 'lines'"),
    ({"lines": "- {}"}, "Missing 'index'"),
    ({"lines": "- {}", "index": "x"}, "Invalid 'index'"),
    ({"lines": "- {}", "index": "-1"}, "Invalid 'index'"),
])
def test_logs_errors(lavad, form, error) -> None:
    """Missing lines, missing or non-integer index: 400 with LAVA's texts."""
    assert lavad.request("POST", "jobs/1/logs/", lavad.token(1), form) == (400, {"error": error})


def test_logs_auth_errors(lavad) -> None:
    """Logs need the job's token and an existing job."""
    form = {"lines": "- {}", "index": "0"}
    assert lavad.request("POST", "jobs/9/logs/", lavad.token(1), form) == \
        (404, {"error": "Unknown job '9'"})
    assert lavad.request("POST", "jobs/1/logs/", None, form) == (400, {"error": "Missing 'token'"})
    assert lavad.request("POST", "jobs/1/logs/", "x", form) == (400, {"error": "Invalid 'token'"})


# -- routing ---------------------------------------------------------------------------------------
def test_trailing_slash_is_required_and_methods_are_checked(lavad) -> None:
    """Without the trailing slash: 404; GET on logs: 405; all answers are JSON."""
    assert lavad.request("GET", "jobs/1", lavad.token(1))[0] == 404
    assert lavad.request("GET", "workers/%s?version=2023.01" % WORKER_NAME, WORKER_TOKEN)[0] \
        == 404
    assert lavad.request("GET", "jobs/1/logs/", lavad.token(1))[0] == 405
    assert lavad.request("GET", "nothing/")[0] == 404


def test_head_is_answered_as_get_and_other_paths_are_json_404(lavad) -> None:
    """HEAD of a ping answers GET's status without a body; odd paths are JSON 404s."""
    response = lavad.client.request(
        "HEAD", BASE + "workers/%s/?version=2023.01" % WORKER_NAME,
        headers={"LAVA-Token": [WORKER_TOKEN]}).result
    assert response.code == 200 and lavad.client.content(response).result == b""
    for path in ("workers//", "jobs/1/logs/x/", "", "workers/%ff/"):
        assert lavad.request("GET", path) == (404, {"error": "Not found"}), path
    assert lavad.request("PUT", "jobs/1/", lavad.token(1)) == \
        (405, {"error": "Method not allowed"})


def test_each_resource_has_its_own_app(tmp_path) -> None:
    """Two resources answer from their own labs (one InternalApi per resource)."""
    first, second = Lavad(tmp_path / "a"), Lavad(tmp_path / "b")
    second.store.conn.execute("UPDATE workers SET token = 'other'")
    assert first.ping()[0] == 200
    assert second.ping()[0] == 400 and second.ping(token="other")[0] == 200
