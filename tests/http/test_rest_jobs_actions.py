"""REST job writes: submit, validate, validate_testdef, resubmit, cancel, batch_cancel,
PUT/PATCH and DELETE of jobs/{id}/ (spec 3.1, 4): each auth case, exact bodies, and what
a refused request leaves stored."""

from __future__ import annotations

import json
import sqlite3

import pytest
from jobdefs import qemu_job

from lavad import statemachine
from lavad.models import DeviceState, JobHealth, JobState

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NO_JOB = {"detail": "No TestJob matches the given query."}

JOB = qemu_job("public_device_type1", build=12)

MULTINODE = """\
job_name: mn
timeouts:
  job:
    minutes: 10
priority: medium
visibility: public
protocols:
  lava-multinode:
    roles:
      server:
        device_type: public_device_type1
        count: 1
      client:
        device_type: public_device_type1
        count: 1
    timeout:
      minutes: 5
actions:
- deploy:
    role: [server, client]
    to: tmpfs
    images:
      kernel:
        url: http://example.com/vmlinuz
- boot:
    role: [server, client]
    method: qemu
    media: tmpfs
    prompts: ['# ']
"""

TESTDEF = """\
metadata:
  format: Lava-Test Test Definition 1.0
  name: smoke
  description: a smoke test
run:
  steps:
  - echo ok
"""


def post(rest, path, body, as_=None, headers=JSON):
    data = json.dumps(body).encode() if headers is JSON else body
    return rest.request("POST", path, as_, headers=headers, data=data)


def jobs_table(rest):
    """Every stored job row (to prove a refused request changed nothing)."""
    return [tuple(r) for r in rest.store.conn.execute("SELECT * FROM test_jobs ORDER BY id")]


def job_state(rest, job_id):
    row = rest.store.conn.execute("SELECT state, health FROM test_jobs WHERE id = ?",
                                  (job_id,)).fetchone()
    return JobState(row[0]).display, JobHealth(row[1]).display


def events(rest):
    seen = []
    rest.store.bus.subscribe(seen.append)
    return seen


# -- POST jobs/ ----------------------------------------------------------------------------------
def test_submit_creates_a_job(rest):
    """POST jobs/ as a user: 201, the new id, and the job stored as the spec describes."""
    answer = post(rest, "/api/v0.2/jobs/", {"definition": "\n  " + JOB + "\n\n"}, "user1")
    assert (answer.code, answer.json) == (
        201, {"message": "job(s) successfully submitted", "job_ids": [6]})
    job = rest.get("/api/v0.2/jobs/6/", "user1").json
    assert (job["submitter"], job["state"], job["health"], job["description"]) == (
        "user1", "Submitted", "Unknown", "smoke")
    assert (job["requested_device_type"], job["priority"], job["metadata"]) == (
        "public_device_type1", 50, {"build": "12"})
    assert job["original_definition"] == JOB.strip()
    assert job["definition"].startswith("device_type: public_device_type1\njob_name: smoke\n")


def test_submit_form_and_alias(rest):
    """A form-encoded definition works too, and device_type may name an alias."""
    from urllib.parse import urlencode

    text = JOB.replace("device_type: public_device_type1", "device_type: alias1")
    answer = post(rest, "/api/v0.2/jobs/", urlencode({"definition": text}).encode(), "user1",
                  headers=FORM)
    assert (answer.code, answer.json["job_ids"]) == (201, [6])
    assert rest.get("/api/v0.2/jobs/6/", "user1").json["requested_device_type"] == \
        "public_device_type1"


def test_submit_multinode_gives_sub_ids(rest):
    """A MultiNode submission answers the sub-job ids as "N.M" strings."""
    answer = post(rest, "/api/v0.2/jobs/", {"definition": MULTINODE}, "admin")
    assert (answer.code, answer.json) == (
        201, {"message": "job(s) successfully submitted", "job_ids": ["6.0", "6.1"]})


@pytest.mark.parametrize("body,expected", [
    ({}, {"definition": ["This field is required."]}),
    ({"definition": ""}, {"definition": ["This field may not be blank."]}),
    ({"definition": "   \n"}, {"definition": ["This field may not be blank."]}),
    ({"definition": {"a": 1}}, {"definition": ["Not a valid string."]}),
    ({"definition": None}, {"definition": ["This field may not be null."]}),
    ({"definition": "[1, 2\n"}, {"message": (
        "Problem with submitted job data: Loading job submission failed: while parsing a "
        "flow sequence\n  in \"<unicode string>\", line 1, column 1\ndid not find expected "
        "',' or ']'\n  in \"<unicode string>\", line 2, column 1.")}),
    ({"definition": "- a\n- b\n"},
     {"message": "Problem with submitted job data: expected a dictionary"}),
    ({"definition": JOB.replace("public_device_type1", "nope")},
     {"message": "Devices unavailable: Device type 'nope' is unavailable."}),
    ({"definition": JOB.replace("visibility: public\n", "")},
     {"message": "Problem with submitted job data: required key not provided @ "
                 "data['visibility']"}),
    ({"definition": JOB.replace("priority: medium", "priority: 1000")},
     {"message": "Problem with submitted job data: Invalid job priority: 1000. Should be in "
                 "[0, 100]"}),
    ({"definition": JOB + "tags: [nosuchtag]\n"},
     {"message": "job submission failed: Device tag 'nosuchtag' does not exist in the "
                 "database.."}),
    ([JOB], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_submit_errors(rest, body, expected):
    """Each rejected submission is a 400 with LAVA's body, and stores nothing."""
    before = jobs_table(rest)
    answer = post(rest, "/api/v0.2/jobs/", body, "user1")
    assert (answer.code, answer.json) == (400, expected)
    assert jobs_table(rest) == before


def test_submit_to_a_hidden_device_type(rest):
    """A device type the submitter may not see is "unavailable to user"."""
    text = JOB.replace("public_device_type1", "restricted_device_type1")
    answer = post(rest, "/api/v0.2/jobs/", {"definition": text}, "user2")
    assert (answer.code, answer.json) == (400, {"message": (
        "Devices unavailable: Device type 'restricted_device_type1' is unavailable to user "
        "'user2'")})


def test_submit_needs_a_user(rest):
    """Anonymous and bad-token submissions are 403; nothing is stored."""
    before = jobs_table(rest)
    assert (post(rest, "/api/v0.2/jobs/", {"definition": JOB}).json) == AUTH
    answer = rest.request("POST", "/api/v0.2/jobs/", headers={
        "Authorization": "Token nope", **JSON}, data=json.dumps({"definition": JOB}))
    assert (answer.code, answer.json) == (403, {"detail": "Invalid token."})
    assert jobs_table(rest) == before


def test_submit_without_slash_redirects(rest):
    """POST jobs (no slash) is a 301 to jobs/, as Django's APPEND_SLASH answers."""
    answer = post(rest, "/api/v0.2/jobs", {"definition": JOB}, "user1")
    assert (answer.code, answer.header("Location")) == (301, "/api/v0.2/jobs/")


# -- validate, validate_testdef -----------------------------------------------------------------
@pytest.mark.parametrize("as_", [None, "user1"])
def test_validate_valid(rest, as_):
    """jobs/validate/ is open to anyone; a valid definition is "Job valid."."""
    answer = post(rest, "/api/v0.2/jobs/validate/", {"definition": JOB}, as_)
    assert (answer.code, answer.json) == (200, {"message": "Job valid."})


def test_validate_invalid_and_strict(rest):
    """An invalid definition is a 200 "Job invalid: ..."; strict refuses unknown keys (and
    the form string "false" is truthy)."""
    answer = post(rest, "/api/v0.2/jobs/validate/",
                  {"definition": JOB.replace("job_name: smoke\n", "")})
    assert (answer.code, answer.json) == (
        200, {"message": "Job invalid: required key not provided @ ['job_name']"})
    extra = JOB + "foo: bar\n"
    assert post(rest, "/api/v0.2/jobs/validate/", {"definition": extra}).json == \
        {"message": "Job valid."}
    assert post(rest, "/api/v0.2/jobs/validate/", {"definition": extra, "strict": True}).json \
        == {"message": "Job invalid: extra keys not allowed @ ['foo']"}
    from urllib.parse import urlencode

    form = urlencode({"definition": extra, "strict": "false"}).encode()
    assert post(rest, "/api/v0.2/jobs/validate/", form, headers=FORM).json == \
        {"message": "Job invalid: extra keys not allowed @ ['foo']"}


@pytest.mark.parametrize("path,body,expected", [
    ("validate", {}, {"definition": "Test job definition is required."}),
    ("validate", {"definition": ""}, {"definition": "Test job definition is required."}),
    ("validate", {"definition": ["x"]},
     {"definition": "Test job definition should be a string."}),
    ("validate", {"definition": "a: [1\n"}, {"definition": (
        "Test job definition is not valid YAML: while parsing a flow sequence\n  in "
        "\"<unicode string>\", line 1, column 4\ndid not find expected ',' or ']'\n  in "
        "\"<unicode string>\", line 2, column 1")}),
    ("validate_testdef", {}, {"definition": "Test definition is required."}),
    ("validate_testdef", {"definition": 3}, {"definition": "Test definition should be a string."}),
    ("validate_testdef", {"definition": "a: [1\n"}, {"definition": (
        "Test definition is not valid YAML: while parsing a flow sequence\n  in "
        "\"<unicode string>\", line 1, column 4\ndid not find expected ',' or ']'\n  in "
        "\"<unicode string>\", line 2, column 1")}),
])
def test_validate_bad_requests(rest, path, body, expected):
    """Missing, non-string and unparsable definitions are 400s (LAVA: 500 for bad YAML)."""
    answer = post(rest, "/api/v0.2/jobs/%s/" % path, body)
    assert (answer.code, answer.json) == (400, expected)


def test_validate_testdef(rest):
    """jobs/validate_testdef/: valid, or a 200 "Test definition invalid: ..."."""
    assert post(rest, "/api/v0.2/jobs/validate_testdef/", {"definition": TESTDEF}).json == \
        {"message": "Test definition valid."}
    answer = post(rest, "/api/v0.2/jobs/validate_testdef/",
                  {"definition": TESTDEF.replace("  name: smoke\n", "")})
    assert (answer.code, answer.json) == (200, {"message": (
        "Test definition invalid: required key not provided @ data['metadata']['name']")})


def test_validate_routes_are_post_only(rest):
    """GET on the validators is 405; they are not taken for a job id."""
    answer = rest.get("/api/v0.2/jobs/validate/")
    assert (answer.code, answer.json) == (405, {"detail": 'Method "GET" not allowed.'})
    assert answer.header("Allow") == "POST, OPTIONS"


# -- resubmit ----------------------------------------------------------------------------------
def test_resubmit(rest):
    """POST jobs/{id}/resubmit/ submits the stored definition again as the caller."""
    assert post(rest, "/api/v0.2/jobs/", {"definition": JOB}, "user1").code == 201
    answer = post(rest, "/api/v0.2/jobs/6/resubmit/", {}, "user3")
    assert (answer.code, answer.json) == (
        201, {"message": "job(s) successfully submitted", "job_ids": [7]})
    assert rest.get("/api/v0.2/jobs/7/", "user3").json["submitter"] == "user3"


def test_resubmit_multinode_resubmits_the_group(rest):
    """Resubmitting a sub-job submits its whole MultiNode group."""
    post(rest, "/api/v0.2/jobs/", {"definition": MULTINODE}, "admin")
    answer = post(rest, "/api/v0.2/jobs/7/resubmit/", {}, "admin")
    assert (answer.code, answer.json["job_ids"]) == (201, ["8.0", "8.1"])


def test_resubmit_errors(rest):
    """Anonymous: 403; a hidden or missing job: 404; a definition that no longer passes:
    400 with the submission message; GET: 405."""
    assert post(rest, "/api/v0.2/jobs/1/resubmit/", {}).json == AUTH
    for job_id in (2, 99):
        answer = post(rest, "/api/v0.2/jobs/%d/resubmit/" % job_id, {}, "user1")
        assert (answer.code, answer.json) == (404, NO_JOB)
    rest.store.conn.execute("UPDATE test_jobs SET definition = ? WHERE id = 1",
                            (JOB.replace("visibility: public\n", ""),))
    before = jobs_table(rest)
    answer = post(rest, "/api/v0.2/jobs/1/resubmit/", {}, "user1")
    assert (answer.code, answer.json) == (400, {"message": (
        "Problem with submitted job data: required key not provided @ data['visibility']")})
    assert jobs_table(rest) == before
    answer = rest.get("/api/v0.2/jobs/1/resubmit/", "user1")
    assert (answer.code, answer.json) == (405, {"detail": 'Method "GET" not allowed.'})


# -- cancel ---------------------------------------------------------------------------------------
def test_cancel_submitted_job(rest):
    """GET jobs/{id}/cancel/ by the submitter ends a Submitted job at once (Canceled)."""
    answer = rest.get("/api/v0.2/jobs/3/cancel/", "user2")
    assert (answer.code, answer.json) == (200, {"message": "Job cancel signal sent."})
    assert job_state(rest, 3) == ("Finished", "Canceled")


def test_cancel_running_job_goes_canceling(rest):
    """A running job goes Canceling (its device stays with it); a superuser may cancel."""
    rest.store.sync(statemachine.thd_schedule_job, 4, "restricted01")
    assert rest.get("/api/v0.2/jobs/4/cancel/", "admin").code == 200
    assert job_state(rest, 4) == ("Canceling", "Unknown")


def test_cancel_refused(rest):
    """Without the cancel right: 403 "Insufficient permissions", even on a job the caller
    cannot see (visibility is not checked); the job is untouched."""
    for as_ in (None, "user1", "user3"):
        answer = rest.get("/api/v0.2/jobs/2/cancel/", as_)
        assert (answer.code, answer.json) == (403, {"detail": "Insufficient permissions"})
    assert job_state(rest, 2) == ("Submitted", "Unknown")


def test_cancel_finished_job_and_missing_job(rest):
    """A finished job answers the message to anyone; a missing one is 404 "Not found."."""
    assert rest.get("/api/v0.2/jobs/1/cancel/").json == {"message": "Job cancel signal sent."}
    answer = rest.get("/api/v0.2/jobs/99/cancel/", "admin")
    assert (answer.code, answer.json) == (404, {"detail": "Not found."})


def test_cancel_is_get_only(rest):
    """POST jobs/{id}/cancel/ is 405 (LAVA's cancel is a GET)."""
    answer = post(rest, "/api/v0.2/jobs/3/cancel/", {}, "user2")
    assert (answer.code, answer.json) == (405, {"detail": 'Method "POST" not allowed.'})
    assert answer.header("Allow") == "GET, HEAD, OPTIONS"
    assert job_state(rest, 3) == ("Submitted", "Unknown")


# -- batch_cancel ----------------------------------------------------------------------------------
def test_batch_cancel(rest):
    """POST jobs/batch_cancel/ cancels the jobs and lists the ids of no job."""
    answer = post(rest, "/api/v0.2/jobs/batch_cancel/", {"job_ids": [2, 3, -2, 99]}, "user2")
    assert (answer.code, answer.json) == (200, {
        "message": "Job cancel signal sent for job ids.", "job_ids": [2, 3],
        "invalid_job_ids": [-2, 99]})
    assert job_state(rest, 2) == job_state(rest, 3) == ("Finished", "Canceled")


def test_batch_cancel_form(rest):
    """Form bodies repeat job_ids."""
    answer = post(rest, "/api/v0.2/jobs/batch_cancel/", b"job_ids=3&job_ids=7", "user2",
                  headers=FORM)
    assert answer.json["job_ids"] == [3] and answer.json["invalid_job_ids"] == [7]


@pytest.mark.parametrize("ids,as_,expected", [
    ([4, 2], "user1", FORBIDDEN),                                   # job 2 is hidden
    ([4, 3], "user1", {"detail": "Insufficient permissions"}),      # visible, not cancelable
])
def test_batch_cancel_refused_keeps_everything(rest, ids, as_, expected):
    """One job the caller may not see or cancel refuses the batch, and no job of it is
    cancelled (all or nothing)."""
    before = jobs_table(rest)
    answer = post(rest, "/api/v0.2/jobs/batch_cancel/", {"job_ids": ids}, as_)
    assert (answer.code, answer.json) == (403, expected)
    assert jobs_table(rest) == before


@pytest.mark.parametrize("body,expected", [
    ({}, {"job_ids": ["This field is required."]}),
    ({"job_ids": "1"}, {"job_ids": ['Expected a list of items but got type "str".']}),
    ({"job_ids": ["x"]}, {"job_ids": ["Incorrect type. Expected pk value, received str."]}),
])
def test_batch_cancel_bad_bodies(rest, body, expected):
    """A missing or malformed job_ids is a 400 (LAVA: 500)."""
    answer = post(rest, "/api/v0.2/jobs/batch_cancel/", body, "user2")
    assert (answer.code, answer.json) == (400, expected)


def test_batch_cancel_needs_a_user(rest):
    """Anonymous callers get 403."""
    assert post(rest, "/api/v0.2/jobs/batch_cancel/", {"job_ids": [3]}).json == AUTH
    assert job_state(rest, 3) == ("Submitted", "Unknown")


# -- PUT / PATCH / DELETE jobs/{id}/ --------------------------------------------------------------
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("as_,expected", [(None, AUTH), ("user1", FORBIDDEN)])
def test_job_writes_are_for_superusers(rest, method, as_, expected):
    """PUT, PATCH and DELETE on a job: 403 unless superuser; nothing changes."""
    before = jobs_table(rest)
    answer = rest.request(method, "/api/v0.2/jobs/1/", as_, headers=JSON,
                          data=json.dumps({"definition": "x: 1"}))
    assert (answer.code, answer.json) == (403, expected)
    assert jobs_table(rest) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_job_update_changes_only_the_definition(rest, method):
    """A superuser's PUT/PATCH writes the definition; other fields are read-only."""
    answer = rest.request(method, "/api/v0.2/jobs/3/", "admin", headers=JSON,
                          data=json.dumps({"definition": "new: definition\n",
                                           "description": "x", "priority": 1}))
    assert answer.code == 200
    job = answer.json
    assert (job["id"], job["definition"], job["description"], job["priority"]) == (
        3, "new: definition", "group job", 50)
    assert len(job["token"]) == 32
    assert rest.get("/api/v0.2/jobs/3/", "admin").json == job


def test_job_update_token_and_events(rest):
    """The token is writable by superusers; saving a Submitted job emits its event."""
    seen = events(rest)
    answer = rest.request("PATCH", "/api/v0.2/jobs/3/", "admin", headers=JSON,
                          data=json.dumps({"token": "t" * 32}))
    assert (answer.code, answer.json["token"]) == (200, "t" * 32)
    assert [e.kind for e in seen] == ["testjob"]


@pytest.mark.parametrize("body,expected", [
    ({"definition": ""}, {"definition": ["This field may not be blank."]}),
    ({"definition": []}, {"definition": ["Not a valid string."]}),
    ({"token": "t" * 33}, {"token": ["Ensure this field has no more than 32 characters."]}),
])
def test_job_update_errors(rest, body, expected):
    """A bad definition or token is a 400; the job keeps its values."""
    before = jobs_table(rest)
    answer = rest.request("PATCH", "/api/v0.2/jobs/3/", "admin", headers=JSON,
                          data=json.dumps(body))
    assert (answer.code, answer.json) == (400, expected)
    assert jobs_table(rest) == before


def test_job_update_missing_job(rest):
    """PUT on a missing job is 404."""
    answer = rest.request("PUT", "/api/v0.2/jobs/99/", "admin", headers=JSON, data=b"{}")
    assert (answer.code, answer.json) == (404, NO_JOB)


def test_delete_job_with_results(rest):
    """DELETE (superuser) is 204; the job, its results and references to it are gone."""
    rest.store.conn.execute("UPDATE devices SET last_health_report_job = 1"
                            " WHERE hostname = 'public01'")
    answer = rest.request("DELETE", "/api/v0.2/jobs/1/", "admin")
    assert (answer.code, answer.body, answer.header("Content-Type")) == (204, b"", None)
    assert rest.get("/api/v0.2/jobs/1/", "admin").json == NO_JOB
    conn = rest.store.conn
    assert conn.execute("SELECT count(*) FROM test_suites WHERE job_id = 1").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM test_cases WHERE suite_id IN (1, 2)"
                        ).fetchone()[0] == 0
    assert conn.execute("SELECT last_health_report_job FROM devices WHERE hostname ="
                        " 'public01'").fetchone()[0] is None
    assert conn.execute("SELECT count(*) FROM test_jobs").fetchone()[0] == 4
    assert conn.execute("SELECT message FROM log_entries WHERE object_type = 'testjob' AND"
                        " object_id = '1'").fetchone()[0] == "Deleted"


def test_delete_running_job_releases_its_device(rest):
    """Deleting an unfinished job runs the cancel-finish logic without saving the job:
    its device goes back to Idle (a device event), and no testjob event is sent."""
    rest.store.sync(statemachine.thd_schedule_job, 3, "public01")
    rest.store.sync(statemachine.thd_job_running, 3)
    seen = events(rest)
    assert rest.request("DELETE", "/api/v0.2/jobs/3/", "admin").code == 204
    assert [(e.kind, e.data["state"]) for e in seen] == [("device", "Idle")]
    state = rest.store.conn.execute("SELECT state FROM devices WHERE hostname = 'public01'"
                                    ).fetchone()[0]
    assert state == DeviceState.IDLE


def test_deleted_job_ids_are_not_reused(rest):
    """After the newest job is deleted, the next submission gets a new id (LAVA never
    reuses a job id: logs, results and notifications are keyed by it)."""
    assert post(rest, "/api/v0.2/jobs/", {"definition": JOB}, "user1").json["job_ids"] == [6]
    assert rest.request("DELETE", "/api/v0.2/jobs/6/", "admin").code == 204
    assert post(rest, "/api/v0.2/jobs/", {"definition": JOB}, "user1").json["job_ids"] == [7]


def test_delete_missing_job(rest):
    """DELETE on a missing job is 404, and deletes nothing."""
    before = jobs_table(rest)
    answer = rest.request("DELETE", "/api/v0.2/jobs/99/", "admin")
    assert (answer.code, answer.json) == (404, NO_JOB)
    assert jobs_table(rest) == before


def test_delete_covers_every_table_referencing_jobs(rest):
    """Every table with a foreign key to test_jobs (or to a table deleted with a job) is
    cleared by the job deletion, so a new table cannot make DELETE fail."""
    conn = rest.store.conn
    covered = {table for table, _where in statemachine._JOB_ROWS}
    referencing = set()
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for fk in conn.execute("PRAGMA foreign_key_list(%s)" % table):
            if fk[2] in ("test_jobs", *covered) and table != "test_jobs":
                referencing.add(table)
    assert referencing <= covered
    with pytest.raises(sqlite3.IntegrityError):  # the check above matters: FKs are enforced
        conn.execute("DELETE FROM test_jobs WHERE id = 1")
