"""Job submission (rest-api.md 4.1-4.4, 3.1; xmlrpc-events-notify.md 1.7, 4.1-4.2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jobdefs import qemu_job

from lavad import devices, jobs, submission, users
from lavad.errors import NotAuthenticated, NotFound
from lavad.submission import SubmissionError

FIXTURE_JOBS = Path("/work/shared/fixtures/worker/jobs")

BASE = qemu_job()


def definition(**changes: Any) -> str:
    """BASE with top-level keys replaced (None removes the key)."""
    job = yaml.safe_load(BASE)
    for key, value in changes.items():
        if value is None:
            job.pop(key, None)
        else:
            job[key] = value
    return yaml.safe_dump(job, sort_keys=False)


class Lab:
    def __init__(self, db: Any) -> None:
        self.db = db

    def user(self, name: str, groups: tuple[str, ...] = (), **kwargs: Any) -> Any:
        uid = self.db.run(users.thd_add_user, name, **kwargs)["id"]
        for group in groups:
            self.db.run(users.thd_update_group, group, add_members=[name])
        return self.db.run(users.thd_principal, uid)

    def submit(self, principal: Any, text: str) -> list[Any]:
        return self.db.run(submission.thd_submit, principal, text)

    def error(self, principal: Any, text: str) -> SubmissionError:
        with pytest.raises(SubmissionError) as info:
            self.submit(principal, text)
        return info.value

    def job(self, job_id: int) -> dict[str, Any]:
        return self.db.run(jobs.thd_get_job, job_id)


@pytest.fixture
def lab(db: Any) -> Lab:
    """Types qemu (2 devices, tags a/b on qemu01), ssh, restricted (view: g1), subtype
    (submit: g1), retiredtype (one retired device); alias kvm → qemu; users alice, bob."""
    run = db.run
    for group in ("g1", "g2"):
        run(users.thd_add_group, group)
    for tag in ("a", "b", "c"):
        run(devices.thd_add_tag, tag)
    for dtype in ("qemu", "ssh", "restricted", "subtype", "retiredtype"):
        run(devices.thd_add_device_type, dtype)
    run(devices.thd_add_alias, "kvm", "qemu")
    run(devices.thd_add_worker, "worker1")
    run(devices.thd_add_device, "qemu01", "qemu", health="Good", tags=["a", "b"],
        worker_host="worker1")
    run(devices.thd_add_device, "qemu02", "qemu", health="Good", tags=["a"])
    run(devices.thd_add_device, "ssh01", "ssh", health="Good")
    run(devices.thd_add_device, "restricted01", "restricted", health="Good")
    run(devices.thd_add_device, "sub01", "subtype", health="Good")
    run(devices.thd_add_device, "old01", "retiredtype", health="Retired")
    run(devices.thd_add_object_permission, "devicetype", "g1", "view_devicetype", "restricted")
    run(devices.thd_add_object_permission, "devicetype", "g1", "submit_to_devicetype",
        "subtype")
    lab = Lab(db)
    lab.alice = lab.user("alice", email="alice@example.com")
    lab.bob = lab.user("bob", groups=("g2",))
    return lab


# -- success ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ssh-smoke", "qemu-smoke", "ssh-cancel"])
def test_shared_fixture_jobs_submit(lab: Lab, name: str) -> None:
    """The shared worker fixture jobs are accepted and stored as LAVA stores them."""
    text = (FIXTURE_JOBS / (name + ".yaml")).read_text()
    [job_id] = lab.submit(lab.alice, "\n" + text + "\n\n")
    job = lab.job(job_id)
    data = yaml.safe_load(text)
    assert job["description"] == data["job_name"]
    assert job["requested_device_type"] == data["device_type"]
    assert job["state"] == "Submitted" and job["health"] == "Unknown"
    assert job["priority"] == 50 and job["submitter"] == "alice"
    assert job["original_definition"] == text.strip()
    assert job["definition"] == yaml.safe_dump(data, sort_keys=False)
    assert list(yaml.safe_load(job["definition"])) == list(data)  # key order kept
    assert job["multinode_definition"] == "" and job["metadata"] == {}
    assert job["viewing_groups"] == [] and job["tags"] == []


def test_definition_is_reserialised_without_comments(lab: Lab) -> None:
    """definition is block-style YAML in submitted key order; original keeps the comments."""
    text = "# my job\n" + BASE.replace("job_name: smoke", "job_name: smoke  # name")
    [job_id] = lab.submit(lab.alice, text)
    job = lab.job(job_id)
    assert job["definition"].startswith("device_type: qemu\njob_name: smoke\ntimeouts:\n"
                                        "  job:\n    minutes: 10\n")
    assert "my job" not in job["definition"] and "# name" not in job["definition"]
    assert "prompts:\n    - '# '" in job["definition"]
    assert job["original_definition"] == text.strip()


def test_submission_emits_one_submitted_event(db: Any, lab: Lab) -> None:
    """A single-node submission emits exactly one testjob event, Submitted, as the submitter."""
    result, tx = db.run_tx(submission.thd_submit, lab.alice, BASE)
    [event] = [e for e in tx.events if e.kind == "testjob"]
    assert event.data["job"] == result[0] and event.data["state"] == "Submitted"
    assert event.username == "alice" and "sub_id" not in event.data


def test_alias_resolves_to_its_device_type(lab: Lab) -> None:
    """device_type may name an alias; the job requests the real type."""
    [job_id] = lab.submit(lab.alice, definition(device_type="kvm"))
    assert lab.job(job_id)["requested_device_type"] == "qemu"


def test_requested_device_and_tags_are_stored(lab: Lab) -> None:
    """device: sets requested_device; tags: are stored as tag ids."""
    [job_id] = lab.submit(lab.alice, definition(device="qemu01", tags=["a", "b"]))
    job = lab.job(job_id)
    row = lab.db.q("SELECT requested_device FROM test_jobs WHERE id = ?", (job_id,))
    assert row == [("qemu01",)]
    assert job["tags"] == [1, 2]


@pytest.mark.parametrize("priority, stored", [("high", 100), ("medium", 50), ("low", 0),
                                              (42, 42), (0, 0), (100, 100)])
def test_priority_names_and_numbers(lab: Lab, priority: Any, stored: int) -> None:
    """high/medium/low map to 100/50/0; integers 0..100 are kept."""
    [job_id] = lab.submit(lab.alice, definition(priority=priority))
    assert lab.job(job_id)["priority"] == stored


def test_priority_defaults_to_medium(lab: Lab) -> None:
    """Without priority a job gets 50."""
    [job_id] = lab.submit(lab.alice, definition(priority=None))
    assert lab.job(job_id)["priority"] == 50


def test_priority_names_are_case_sensitive_in_the_schema(lab: Lab) -> None:
    """As in LAVA, the schema only knows lower-case names: "High" is not a valid value."""
    assert lab.error(lab.alice, definition(priority="High")).message == (
        "Problem with submitted job data: not a valid value for dictionary value "
        "@ data['priority']")


def test_personal_visibility_uses_a_group_named_after_the_user(db: Any, lab: Lab) -> None:
    """personal: not public, viewing group named after the submitter (created once, the
    submitter is not added to it); the submitter still sees the job."""
    [first] = lab.submit(lab.alice, definition(visibility="personal"))
    [second] = lab.submit(lab.alice, definition(visibility="personal"))
    gid = db.q("SELECT id FROM groups WHERE name = 'alice'")[0][0]
    for job_id in (first, second):
        job = db.run(jobs.thd_get_job, job_id, lab.alice)
        assert job["viewing_groups"] == [gid]
    assert db.q("SELECT is_public FROM test_jobs WHERE id = ?", (first,)) == [(0,)]
    assert db.q("SELECT count(*) FROM user_groups WHERE group_id = ?", (gid,)) == [(0,)]
    with pytest.raises(NotFound):
        db.run(jobs.thd_get_job, first, lab.bob)


def test_group_visibility_keeps_the_known_groups(db: Any, lab: Lab) -> None:
    """visibility: {group: [...]} keeps the groups that exist, and is not public."""
    [job_id] = lab.submit(lab.alice, definition(visibility={"group": ["g2", "nosuch"]}))
    gid = db.q("SELECT id FROM groups WHERE name = 'g2'")[0][0]
    assert lab.job(job_id)["viewing_groups"] == [gid]
    assert db.q("SELECT is_public FROM test_jobs WHERE id = ?", (job_id,)) == [(0,)]
    assert db.run(jobs.thd_get_job, job_id, lab.bob)["id"] == job_id


def test_empty_visibility_mapping_is_private(db: Any, lab: Lab) -> None:
    """visibility: {} passes the schema and makes a job only its submitter sees."""
    [job_id] = lab.submit(lab.alice, definition(visibility={}))
    assert db.q("SELECT is_public FROM test_jobs WHERE id = ?", (job_id,)) == [(0,)]
    assert lab.job(job_id)["viewing_groups"] == []
    assert db.run(jobs.thd_get_job, job_id, lab.alice)["id"] == job_id
    with pytest.raises(NotFound):
        db.run(jobs.thd_get_job, job_id, lab.bob)


def test_metadata_is_normalised(db: Any, lab: Lab) -> None:
    """Scalars become strings, booleans "true"/"false", null stays, nested kept; keys
    in jsonb order (shorter first)."""
    metadata = {"build_id": 1234, "flag": True, "off": False, "none": None, "ratio": 1.5,
                "nested": {"number": 7, "list": [1, False, "x", None]}, 3: "int key"}
    [job_id] = lab.submit(lab.alice, definition(metadata=metadata))
    stored = lab.job(job_id)["metadata"]
    assert stored == {"3": "int key", "off": "false", "flag": "true", "none": None,
                      "ratio": "1.5", "nested": {"list": ["1", "false", "x", None],
                                                 "number": "7"},
                      "build_id": "1234"}
    assert list(stored) == ["3", "off", "flag", "none", "ratio", "nested", "build_id"]
    raw = db.q("SELECT metadata FROM test_jobs WHERE id = ?", (job_id,))[0][0]
    assert json.loads(raw) == stored


# -- errors: rest-api.md 4.1 ------------------------------------------------------------------
def test_anonymous_cannot_submit(lab: Lab) -> None:
    """An anonymous caller gets NotAuthenticated."""
    with pytest.raises(NotAuthenticated):
        lab.submit(users.ANONYMOUS, BASE)


def test_yaml_syntax_error(lab: Lab) -> None:
    """A YAML syntax error reports libyaml's text after the LAVA prefix, with a final period."""
    error = lab.error(lab.alice, "job_name: [x\n{a: b}")
    assert error.kind == "load" and error.detail.startswith("while parsing a flow sequence")
    assert error.message == (
        "Problem with submitted job data: Loading job submission failed: while parsing a "
        "flow sequence\n  in \"<unicode string>\", line 1, column 11\ndid not find expected "
        "',' or ']'\n  in \"<unicode string>\", line 2, column 1.")
    assert error.xmlrpc_fault() == (400, error.message)


@pytest.mark.parametrize("text", ["- a\n- b", "just text", "42"])
def test_yaml_not_a_mapping(lab: Lab, text: str) -> None:
    """A definition that is not a mapping: "expected a dictionary"."""
    assert lab.error(lab.alice, text).message == \
        "Problem with submitted job data: expected a dictionary"


@pytest.mark.parametrize("changes, detail", [
    ({"actions": None}, "required key not provided @ data['actions']"),
    ({"visibility": None}, "required key not provided @ data['visibility']"),
    ({"timeouts": None}, "required key not provided @ data['timeouts']"),
    ({"job_name": 42}, "expected str for dictionary value @ data['job_name']"),
    ({"job_name": "x" * 201}, "length of value must be at most 200 for dictionary value "
                              "@ data['job_name']"),
    ({"visibility": "secret"}, "not a valid value for dictionary value @ data['visibility']"),
    ({"unknown_key": 1}, "extra keys not allowed @ data['unknown_key']"),
    ({"timeouts": {"job": {"minutes": 1, "hours": 1}}},
     "two or more values in the same group of exclusion 'timeout_unit' "
     "@ data['timeouts']['job'][<timeout_unit>]"),
    ({"timeouts": {"action": {"minutes": 1}}},
     "required key not provided @ data['timeouts']['job']"),
    ({"tags": "a"}, "expected a list for dictionary value @ data['tags']"),
    ({"reboot_to_fastboot": "yes"}, "expected bool for dictionary value "
                                    "@ data['reboot_to_fastboot']"),
    ({"secrets": []}, "expected dict for dictionary value @ data['secrets']"),
    ({"actions": [{"deploy": {"images": {}}}]},
     "required key not provided @ data['actions'][0]['deploy']['to']"),
    ({"actions": [{"reboot": {}}]}, "extra keys not allowed @ data['actions'][0]['reboot']"),
])
def test_schema_errors(lab: Lab, changes: dict[str, Any], detail: str) -> None:
    """Submission schema errors come out in voluptuous's words after the LAVA prefix."""
    error = lab.error(lab.alice, definition(**changes))
    assert (error.kind, error.message) == ("problem", "Problem with submitted job data: "
                                           + detail)


@pytest.mark.parametrize("changes, path", [
    ({"timeouts": {"job": {"minutes": 1}, "actions": {"Bad_Name": {"minutes": 1}}}},
     "data['timeouts']['actions']['Bad_Name']"),
    ({"context": {"not_a_context_variable": 1}}, "data['context']['not_a_context_variable']"),
])
def test_bad_keys(lab: Lab, changes: dict[str, Any], path: str) -> None:
    """Keys checked by a validator (action names, context variables) are rejected at their
    path (the text before it is voluptuous's, which changed in 0.14)."""
    error = lab.error(lab.alice, definition(**changes))
    assert error.message.startswith("Problem with submitted job data: ")
    assert error.message.endswith(" @ " + path)


def test_extra_keys_inside_blocks_are_allowed(lab: Lab) -> None:
    """The submission schema is open inside deploy/boot/test blocks and notify."""
    job = yaml.safe_load(BASE)
    job["actions"][0]["deploy"]["whatever"] = {"x": 1}
    job["notify"] = {"criteria": {"status": "finished", "extra": 1}, "also": True}
    assert lab.submit(lab.alice, yaml.safe_dump(job))


def test_missing_device_type(lab: Lab) -> None:
    """No device_type and no multinode protocol: "job submission failed: 'device_type'."."""
    error = lab.error(lab.alice, definition(device_type=None))
    assert error.message == "job submission failed: 'device_type'."
    assert error.xmlrpc_fault()[0] == -32603


def test_unknown_device_type(lab: Lab) -> None:
    """An unknown type (and no alias of that name) is unavailable."""
    error = lab.error(lab.alice, definition(device_type="nope"))
    assert error.message == "Devices unavailable: Device type 'nope' is unavailable."
    assert error.xmlrpc_fault() == (400, "Device unavailable: Device type 'nope' is "
                                         "unavailable.")


def test_invisible_device_type(lab: Lab) -> None:
    """A device type the user may not see is "unavailable to user"."""
    error = lab.error(lab.bob, definition(device_type="restricted"))
    assert error.message == ("Devices unavailable: Device type 'restricted' is unavailable "
                             "to user 'bob'")
    member = lab.user("carol", groups=("g1",))
    assert lab.submit(member, definition(device_type="restricted"))


def test_no_submit_permission(lab: Lab) -> None:
    """Without submit rights on any device of the type: the pool message."""
    error = lab.error(lab.bob, definition(device_type="subtype"))
    assert error.message == ("Devices unavailable: No devices from ['sub01'] pool are "
                             "currently available to user bob")
    member = lab.user("carol", groups=("g1",))
    assert lab.submit(member, definition(device_type="subtype"))


def test_only_retired_devices(lab: Lab) -> None:
    """A type whose devices are all retired has no devices available."""
    assert lab.error(lab.alice, definition(device_type="retiredtype")).message == \
        "Devices unavailable: No devices of type retiredtype are available."


def test_unknown_device(lab: Lab) -> None:
    """device: naming no device."""
    assert lab.error(lab.alice, definition(device="nodev")).message == \
        "Problem with submitted job data: Device 'nodev' does not exist."


def test_device_of_another_type(lab: Lab) -> None:
    """device: must be of the requested type."""
    assert lab.error(lab.alice, definition(device="ssh01")).message == \
        "Problem with submitted job data: Device 'ssh01' is not of type 'qemu'."


def test_unknown_worker_and_wrong_worker(lab: Lab) -> None:
    """worker: must exist and hold the requested device."""
    assert lab.error(lab.alice, definition(worker="nowhere")).message == \
        "Problem with submitted job data: Worker 'nowhere' does not exist."
    assert lab.error(lab.alice, definition(device="qemu02", worker="worker1")).message == \
        "Problem with submitted job data: Device 'qemu02' is not attached to worker 'worker1'."
    assert lab.submit(lab.alice, definition(device="qemu01", worker="worker1"))


def test_unknown_tag_has_the_double_period(lab: Lab) -> None:
    """An unknown tag: LAVA's text ends with ".." (its message ends with a period too)."""
    error = lab.error(lab.alice, definition(tags=["a", "nosuchtag"]))
    assert error.message == ("job submission failed: Device tag 'nosuchtag' does not exist "
                             "in the database..")
    assert error.xmlrpc_fault() == (400, "Invalid job definition: Device tag 'nosuchtag' "
                                         "does not exist in the database..")


def test_tags_unsatisfiable(lab: Lab) -> None:
    """No device of the type carries all the tags."""
    assert lab.error(lab.alice, definition(tags=["a", "c"])).message == (
        "Devices unavailable: No devices of type qemu are available which have all of the "
        "tags 'a, c'.")
    assert lab.error(lab.alice, definition(device="qemu02", tags=["b"])).message == (
        "Devices unavailable: Device qemu02 does not support all of the tags 'b'.")


def test_bad_priority(lab: Lab) -> None:
    """An integer priority outside 0..100."""
    assert lab.error(lab.alice, definition(priority=1000)).message == (
        "Problem with submitted job data: Invalid job priority: 1000. Should be in [0, 100]")


def test_unknown_visibility_groups(lab: Lab) -> None:
    """A group visibility naming no existing group."""
    assert lab.error(lab.alice, definition(visibility={"group": ["nosuch"]})).message == (
        "Problem with submitted job data: No known groups were found in the visibility list.")


def test_a_rejected_submission_stores_nothing(db: Any, lab: Lab) -> None:
    """A failure late in the checks leaves no job, group or notification behind."""
    with pytest.raises(SubmissionError):
        db.run(submission.thd_submit, lab.alice, definition(
            visibility="personal", priority=1000))
    assert db.q("SELECT count(*) FROM test_jobs") == [(0,)]
    assert db.q("SELECT count(*) FROM groups WHERE name = 'alice'") == [(0,)]


# -- notify: xmlrpc-events-notify.md 4.1-4.2 --------------------------------------------------
def notify(**block: Any) -> str:
    block.setdefault("criteria", {"status": "finished"})
    return definition(notify={k: v for k, v in block.items() if v is not None})


@pytest.mark.parametrize("block, detail", [
    ({"criteria": None}, "required key not provided @ data['notify']['criteria']"),
    ({"criteria": {"status": "done"}},
     "not a valid value for dictionary value @ data['notify']['criteria']['status']"),
    ({"verbosity": "loud"}, "not a valid value for dictionary value @ data['notify']['verbosity']"),
    ({"recipients": [{"to": {"method": "sms"}}]},
     "not a valid value for dictionary value @ data['notify']['recipients'][0]['to']['method']"),
    ({"callbacks": [{"url": "http://x/", "method": "PUT"}]},
     "not a valid value for dictionary value @ data['notify']['callbacks'][0]['method']"),
    ({"criteria": {"status": "complete", "type": "sideways"}},
     "not a valid value for dictionary value @ data['notify']['criteria']['type']"),
    ({"callbacks": [{"method": "POST"}]},
     "required key not provided @ data['notify']['callbacks'][0]['url']"),
    ({"compare": {"query": {"username": "alice"}}},
     "required key not provided @ data['notify']['compare']['query']['name']"),
    ({"recipients": [{"to": {"method": "email", "email": 42}}]},
     "expected str for dictionary value @ data['notify']['recipients'][0]['to']['email']"),
    ({"callback": {"url": "http://a/"}, "callbacks": [{"url": "http://b/"}]},
     "two or more values in the same group of exclusion 'legacy_callback' "
     "@ data['notify'][<legacy_callback>]"),
])
def test_notify_schema_errors(lab: Lab, block: dict[str, Any], detail: str) -> None:
    """Notify schema errors, with their voluptuous paths."""
    assert lab.error(lab.alice, notify(**block)).message == \
        "Problem with submitted job data: " + detail


@pytest.mark.parametrize("block, detail", [
    ({"recipients": [{"to": {"method": "email"}}]}, "No valid user or email address specified."),
    ({"recipients": [{"to": {"method": "irc", "server": "irc.example.com"}}]},
     "No valid user or IRC handle specified."),
    ({"recipients": [{"to": {"method": "email", "user": "nobody"}}]},
     "'nobody' is not an existing user in LAVA."),
    ({"recipients": [{"to": {"method": "email", "email": "not-an-address"}}]},
     "'not-an-address' is not a valid email address."),
    ({"recipients": [{"to": {"method": "email", "user": "{LAVA_DEVICE_OWNER}",
                             "email": "bad@"}}]},
     "'bad@' is not a valid email address."),
    ({"compare": {"query": {"username": "alice", "name": "q"}}},
     "Query ~alice/q does not exist"),
    ({"compare": {"query": {"entity": "testcase", "conditions": {"a": "b"}}}},
     "Only TestJob queries allowed."),
])
def test_notify_semantic_errors(lab: Lab, block: dict[str, Any], detail: str) -> None:
    """The checks after the schema: recipients need a user or address, users must exist,
    addresses must be valid (when there is no user), queries must be TestJob ones."""
    assert lab.error(lab.alice, notify(**block)).message == \
        "Problem with submitted job data: " + detail


def test_notify_email_not_checked_when_a_user_is_given(lab: Lab) -> None:
    """An existing user makes the address unchecked (LAVA checks one or the other)."""
    assert lab.submit(lab.alice, notify(recipients=[
        {"to": {"method": "email", "user": "bob", "email": "whatever"}}]))


def test_notify_block_is_stored(db: Any, lab: Lab) -> None:
    """Notification, recipients and callbacks rows with LAVA's integer codes."""
    db.run(users.thd_add_token, "alice", description="hook", secret="s3cr3t")
    [job_id] = lab.submit(lab.alice, notify(
        criteria={"status": "complete", "type": "regression"}, verbosity="verbose",
        recipients=[{"to": {"method": "email", "user": "bob"}},
                    {"to": {"method": "email", "user": "bob"}},
                    {"to": {"method": "email", "email": "ops@example.com"}},
                    {"to": {"method": "irc", "user": "alice", "handle": "al",
                            "server": "irc.example.com"}},
                    {"to": {"method": "email", "user": "{LAVA_DEVICE_OWNER}"}}],
        callbacks=[{"url": "http://cb/{ID}", "method": "POST", "token": "hook",
                    "dataset": "results", "content-type": "json"},
                   {"url": "http://cb2/", "token": "literal", "header": "X-Auth"},
                   {"url": "http://cb3/"}],
        compare={"blacklist": ["lava"], "query": {"entity": "testjob",
                                                  "conditions": {"submitter": "alice"}}}))
    [(nid, verbosity, ntype, blacklist, entity, conditions, template)] = db.q(
        "SELECT id, verbosity, type, blacklist, entity, conditions, template"
        " FROM notifications WHERE job_id = ?", (job_id,))
    assert (verbosity, ntype, json.loads(blacklist), entity, conditions, template) == (
        0, "regression", ["lava"], "testjob", "submitter__alice", "testjob_notification.txt")
    bob, alice = lab.bob.id, lab.alice.id
    assert db.q("SELECT method, user_id, email, irc_handle, irc_server, status FROM"
                   " notification_recipients WHERE notification_id = ? ORDER BY id", (nid,)) == [
        (0, bob, None, None, None, 1),
        (0, None, "ops@example.com", None, None, 1),
        (1, alice, None, "al", "irc.example.com", 1),
        (0, None, "{LAVA_DEVICE_OWNER}", None, None, 1)]
    assert db.q("SELECT url, method, token, header, dataset, content_type, status FROM"
                   " notification_callbacks WHERE notification_id = ? ORDER BY id", (nid,)) == [
        ("http://cb/{ID}", 1, "s3cr3t", "Authorization", 2, 1, 1),
        ("http://cb2/", 0, "literal", "X-Auth", 0, 0, 1),
        ("http://cb3/", 0, None, None, 0, 0, 1)]


def test_notify_without_recipients_or_callbacks_mails_the_submitter(db: Any,
                                                                    lab: Lab) -> None:
    """No recipients and no callback(s): the submitter is the single email recipient;
    quiet is the default verbosity."""
    [job_id] = lab.submit(lab.alice, notify())
    assert db.q("SELECT n.verbosity, r.method, r.user_id FROM notifications n JOIN"
                   " notification_recipients r ON r.notification_id = n.id"
                   " WHERE n.job_id = ?", (job_id,)) == [(1, 0, lab.alice.id)]
    [other] = lab.submit(lab.alice, notify(callback={"url": "http://x/"}))
    assert db.q("SELECT count(*) FROM notification_recipients r JOIN notifications n ON"
                   " n.id = r.notification_id WHERE n.job_id = ?", (other,)) == [(0,)]
    [plain] = lab.submit(lab.alice, BASE)
    assert db.q("SELECT count(*) FROM notifications WHERE job_id = ?", (plain,)) == [(0,)]


# -- validate: rest-api.md 4.3, xmlrpc 1.7 ----------------------------------------------------
VALID = yaml.safe_load((FIXTURE_JOBS / "qemu-smoke.yaml").read_text())


def variant(change: Any) -> str:
    job = copy.deepcopy(VALID)
    change(job)
    return yaml.safe_dump(job, sort_keys=False)


def invalid(text: str, strict: bool = False) -> str:
    with pytest.raises(SubmissionError) as info:
        submission.validate_definition(text, strict)
    return info.value.message


def test_validate_valid_definitions() -> None:
    """The fixture jobs are valid (qemu-smoke even in strict mode)."""
    for path in FIXTURE_JOBS.glob("*.yaml"):
        submission.validate_definition(path.read_text())
    submission.validate_definition((FIXTURE_JOBS / "qemu-smoke.yaml").read_text(), strict=True)
    assert submission.validation_error(BASE, strict=True) == {}


def test_validate_strict_rejects_extra_keys() -> None:
    """Unknown keys pass unless strict."""
    text = variant(lambda j: j.update(foo=1))
    submission.validate_definition(text)
    assert invalid(text, strict=True) == "Job invalid: extra keys not allowed @ ['foo']"


def test_validate_messages() -> None:
    """"Job invalid: <msg> @ <path as a Python list>"."""
    assert invalid(variant(lambda j: j.pop("actions"))) == \
        "Job invalid: required key not provided @ ['actions']"
    assert invalid(variant(lambda j: j.update(job_name=1))) == \
        "Job invalid: expected str @ ['job_name']"
    assert invalid(variant(lambda j: j["timeouts"].update(action={"hours": 1}))) == \
        "Job invalid: Global timeout is larger than job timeout @ ['timeouts', 'action']"
    assert invalid(variant(lambda j: j.pop("device_type"))) == \
        "Job invalid: \"device_type\" or multinode should be defined @ []"
    assert invalid(variant(lambda j: j["actions"][1]["boot"].update(method="nosuch"))) == \
        "Job invalid: unknown action type @ ['actions', 'boot', 'nosuch']"
    assert invalid(variant(lambda j: j["actions"][0]["deploy"].pop("images"))) == \
        "Job invalid: required key not provided @ ['actions[0]', 'deploy', 'tmpfs', 'images']"
    assert invalid(variant(lambda j: j["actions"].append({"command": {}}))) == \
        "Job invalid: required key not provided @ ['actions[3]', 'command', 'name']"
    assert invalid("- a") == "Job invalid: expected a dictionary @ []"


def test_validation_error_for_xmlrpc() -> None:
    """scheduler.jobs.validate's shape: {} or {path, msg}."""
    assert submission.validation_error(variant(lambda j: j.pop("visibility"))) == \
        {"path": "['visibility']", "msg": "required key not provided"}
    assert submission.validation_error(variant(lambda j: j.update(
        notify={"criteria": {"status": "bogus"}}))) == \
        {"path": "['notify', 'criteria', 'status']", "msg": "not a valid value"}
    assert submission.validation_error(variant(lambda j: j.update(
        notify={"criteria": {"status": "all"}, "callback": {"url": "a"},
                "callbacks": [{"url": "b"}]}))) == \
        {"path": "['notify', <callback>]",
         "msg": "two or more values in the same group of exclusion 'callback'"}


def test_validate_notify_criteria_combinations() -> None:
    """Strict: all+type is extra, running+type not a valid value; non-strict both pass."""
    all_type = variant(lambda j: j.update(notify={"criteria": {"status": "all",
                                                               "type": "regression"}}))
    running_type = variant(lambda j: j.update(notify={"criteria": {"status": "running",
                                                                   "type": "regression"}}))
    assert submission.validation_error(all_type, strict=True) == \
        {"path": "['notify', 'criteria', 'type']", "msg": "extra keys not allowed"}
    assert submission.validation_error(running_type, strict=True) == \
        {"path": "['notify', 'criteria', 'status']", "msg": "not a valid value"}
    assert submission.validation_error(all_type) == {}
    assert submission.validation_error(running_type) == {}


def test_validate_yaml_error_propagates() -> None:
    """Unparsable YAML is not a validation result (LAVA answers 500 / -32603)."""
    with pytest.raises(yaml.YAMLError):
        submission.validate_definition("a: [b")


def test_check_submission_is_the_submission_schema() -> None:
    """check_submission (XML-RPC validate_yaml) parses and applies the submission schema."""
    assert submission.check_submission(BASE)["job_name"] == "smoke"
    with pytest.raises(SubmissionError) as info:
        submission.check_submission(definition(actions=None))
    assert info.value.detail == "required key not provided @ data['actions']"


def test_validate_testdef() -> None:
    """Test definitions: extra keys allowed; errors in voluptuous's full form."""
    good = {"metadata": {"format": "Lava-Test Test Definition 1.0", "name": "smoke"},
            "run": {"steps": ["true"]}, "extra": 1}
    submission.validate_testdef(yaml.safe_dump(good))
    for change, text in [
        (lambda d: d["metadata"].pop("name"),
         "required key not provided @ data['metadata']['name']"),
        (lambda d: d.update(parameters=[1]),
         "expected dict for dictionary value @ data['parameters']"),
    ]:
        bad = copy.deepcopy(good)
        change(bad)
        with pytest.raises(SubmissionError) as info:
            submission.validate_testdef(yaml.safe_dump(bad))
        assert info.value.message == "Test definition invalid: " + text


# -- resubmit: rest-api.md 4.2 ----------------------------------------------------------------
def test_resubmit_as_the_caller(db: Any, lab: Lab) -> None:
    """Resubmitting stores a new job from the stored definition, submitted by the caller."""
    [job_id] = lab.submit(lab.alice, "# comment\n" + BASE)
    [new_id] = db.run(submission.thd_resubmit, lab.bob, job_id)
    old, new = lab.job(job_id), lab.job(new_id)
    assert new_id == job_id + 1 and new["submitter"] == "bob"
    assert new["definition"] == old["definition"]
    assert new["original_definition"] == old["definition"].strip()


def test_resubmit_needs_a_visible_job(db: Any, lab: Lab) -> None:
    """A job the caller cannot see is not found (XML-RPC text kept); anonymous is refused."""
    [job_id] = lab.submit(lab.alice, definition(visibility="personal"))
    with pytest.raises(NotFound) as info:
        db.run(submission.thd_resubmit, lab.bob, job_id)
    assert info.value.xmlrpc_message == "Job '%d' not available to user 'bob'." % job_id
    with pytest.raises(NotFound):
        db.run(submission.thd_resubmit, lab.bob, 999)
    with pytest.raises(NotAuthenticated):
        db.run(submission.thd_resubmit, users.ANONYMOUS, job_id)
    assert db.run(submission.thd_resubmit, lab.alice, job_id)
