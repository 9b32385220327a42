"""MultiNode submission: one sub-job per role instance (rest-api.md 3.1, 4.1)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lavad import devices, jobs, submission, users
from lavad.submission import SubmissionError

GROUP = """\
job_name: mn-smoke
timeouts:
  job:
    minutes: 10
priority: high
visibility: public
metadata:
  build: 7
protocols:
  lava-multinode:
    roles:
      server:
        device_type: qemu
        count: 1
        context:
          arch: amd64
      client:
        device_type: kvm
        count: 2
        tags: [a]
        essential: true
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
    role: [server]
    method: qemu
- test:
    role: [client]
    definitions:
    - from: git
      repository: https://example.com/tests.git
      path: smoke.yaml
      name: smoke
"""


def group(change: Any = None) -> str:
    job = yaml.safe_load(GROUP)
    if change is not None:
        change(job)
    return yaml.safe_dump(job, sort_keys=False)


@pytest.fixture
def alice(db: Any) -> Any:
    """Device type qemu (alias kvm) with three devices, tag a on two; user alice."""
    db.run(devices.thd_add_tag, "a")
    db.run(devices.thd_add_device_type, "qemu")
    db.run(devices.thd_add_alias, "kvm", "qemu")
    for name, tags in (("qemu01", ["a"]), ("qemu02", ["a"]), ("qemu03", [])):
        db.run(devices.thd_add_device, name, "qemu", health="Good", tags=tags)
    return db.run(users.thd_principal, db.run(users.thd_add_user, "alice")["id"])


def error(db: Any, principal: Any, text: str) -> str:
    with pytest.raises(SubmissionError) as info:
        db.run(submission.thd_submit, principal, text)
    return info.value.message


def test_group_ids_and_sub_ids(db: Any, alice: Any) -> None:
    """Consecutive job ids; sub_ids "N.0".. from the first id; one shared target_group."""
    ids = db.run(submission.thd_submit, alice, GROUP)
    first = int(ids[0].split(".")[0])
    assert ids == ["%d.0" % first, "%d.1" % first, "%d.2" % first]
    rows = db.q("SELECT id, sub_id, target_group, requested_device_type, priority,"
                " multinode_definition FROM test_jobs ORDER BY id")
    assert [r[0] for r in rows] == [first, first + 1, first + 2]
    assert [r[1] for r in rows] == ids
    assert len({r[2] for r in rows}) == 1 and rows[0][2]
    assert {r[3] for r in rows} == {"qemu"} and {r[4] for r in rows} == {100}
    assert {r[5] for r in rows} == {GROUP.strip()}


def test_split_definitions(db: Any, alice: Any) -> None:
    """Each sub-job stores its role's split: role device type, filtered actions with a
    single role, the protocol block for that node; original_definition is the split too."""
    ids = db.run(submission.thd_submit, alice, GROUP)
    first = int(ids[0].split(".")[0])
    server, client1, client2 = (db.run(jobs.thd_get_job, first + n) for n in range(3))
    target_group = db.q("SELECT target_group FROM test_jobs WHERE id = ?", (first,))[0][0]
    s = yaml.safe_load(server["definition"])
    assert list(s) == ["actions", "job_name", "timeouts", "priority", "visibility", "metadata",
                       "device_type", "context", "protocols"]
    assert [list(a) for a in s["actions"]] == [["deploy"], ["boot"]]
    assert [a[next(iter(a))]["role"] for a in s["actions"]] == ["server", "server"]
    assert s["device_type"] == "qemu" and s["context"] == {"arch": "amd64"}
    assert s["protocols"] == {"lava-multinode": {
        "target_group": target_group, "role": "server", "group_size": 3, "sub_id": 0,
        "timeout": {"minutes": 5}}}
    c = yaml.safe_load(client2["definition"])
    assert [list(a) for a in c["actions"]] == [["deploy"], ["test"]]
    assert c["device_type"] == "kvm" and "context" not in c
    assert list(c["protocols"]["lava-multinode"].items()) == [
        ("target_group", target_group), ("role", "client"), ("group_size", 3), ("sub_id", 2),
        ("essential", True), ("tags", ["a"]), ("timeout", {"minutes": 5})]
    assert yaml.safe_load(client1["definition"])["protocols"]["lava-multinode"]["sub_id"] == 1
    for job in (server, client1, client2):
        assert job["original_definition"] == job["definition"]
        assert job["multinode_definition"] == GROUP.strip()
        assert job["description"] == "mn-smoke" and job["metadata"] == {"build": "7"}
    assert server["tags"] == [] and client1["tags"] == client2["tags"] == [1]


def test_each_sub_job_sends_two_submitted_events(db: Any, alice: Any) -> None:
    """As in LAVA: a creation event with sub_id "" then one carrying the sub_id."""
    ids, tx = db.run_tx(submission.thd_submit, alice, GROUP)
    events = [(e.data["job"], e.data["sub_id"]) for e in tx.events if e.kind == "testjob"]
    first = int(ids[0].split(".")[0])
    assert events == [(first, ""), (first, ids[0]), (first + 1, ""), (first + 1, ids[1]),
                      (first + 2, ""), (first + 2, ids[2])]


def test_connection_role_has_no_device_type(db: Any, alice: Any) -> None:
    """A connection role (with host_role) becomes a job with no requested device type."""
    def change(job: dict[str, Any]) -> None:
        roles = job["protocols"]["lava-multinode"]["roles"]
        roles["client"]["count"] = 1
        roles["guest"] = {"connection": "ssh", "count": 1, "host_role": "client",
                          "expect_role": "server"}
        job["actions"][0]["deploy"]["role"].append("guest")
    ids = db.run(submission.thd_submit, alice, group(change))
    rows = db.q("SELECT requested_device_type FROM test_jobs ORDER BY id")
    assert len(ids) == 3 and [r[0] for r in rows] == ["qemu", "qemu", None]
    guest = yaml.safe_load(db.run(jobs.thd_get_job, int(ids[2].split(".")[0]) + 2)
                           ["definition"])
    assert guest["connection"] == "ssh" and guest["host_role"] == "client"


def test_resubmit_a_sub_job_resubmits_the_group(db: Any, alice: Any) -> None:
    """Resubmitting any sub-job submits the whole multinode_definition again."""
    ids = db.run(submission.thd_submit, alice, GROUP)
    again = db.run(submission.thd_resubmit, alice, ids[1])
    assert len(again) == 3 and again[0] == "%d.0" % (int(ids[0].split(".")[0]) + 3)


def test_action_without_role(db: Any, alice: Any) -> None:
    """Every action of a multinode job needs a role."""
    assert error(db, alice, group(lambda j: j["actions"][1]["boot"].pop("role"))) == (
        "Problem with submitted job data: Invalid YAML - Did not find a role in action "
        "'boot', check for consistent use of whitespace indents.")


def test_role_without_actions(db: Any, alice: Any) -> None:
    """A role no action names fails like LAVA's KeyError on it."""
    def change(job: dict[str, Any]) -> None:
        job["protocols"]["lava-multinode"]["roles"]["idle"] = {"device_type": "qemu",
                                                                "count": 1}
        job["protocols"]["lava-multinode"]["roles"]["client"]["count"] = 1
    assert error(db, alice, group(change)) == "job submission failed: 'idle'."


def test_not_enough_devices(db: Any, alice: Any) -> None:
    """A role asking for more devices than the user may use."""
    text = group(lambda j: j["protocols"]["lava-multinode"]["roles"]["client"].update(count=4))
    assert error(db, alice, text) == ("Devices unavailable: Not enough devices of type qemu "
                                      "are currently available to user alice")


def test_not_enough_tagged_devices(db: Any, alice: Any) -> None:
    """The tagged devices must cover the role's count."""
    text = group(lambda j: j["protocols"]["lava-multinode"]["roles"]["client"].update(count=3))
    assert error(db, alice, text) == ("Devices unavailable: Not enough devices available "
                                      "matching the requested tags.")


def test_role_checks(db: Any, alice: Any) -> None:
    """host_role/expect_role, device without count 1, and the host_role count rule."""
    def role(**spec: Any) -> str:
        return group(lambda j: j["protocols"]["lava-multinode"]["roles"]["client"].update(spec))
    assert error(db, alice, role(host_role="nosuch")) == \
        "Problem with submitted job data: 'host_role' 'nosuch' does not exist"
    assert error(db, alice, role(expect_role="server")) == \
        "Problem with submitted job data: 'expect_role' without 'host_role'"
    assert error(db, alice, role(device="qemu01")) == ("Problem with submitted job data: "
                                                       "lava-multinode roles using a specific "
                                                       "device must set count to 1.")
    def hosted(job: dict[str, Any]) -> None:
        job["protocols"]["lava-multinode"]["roles"]["guest"] = {
            "connection": "ssh", "count": 1, "host_role": "client", "expect_role": "server"}
        job["actions"][0]["deploy"]["role"].append("guest")
    assert error(db, alice, group(hosted)) == ("Problem with submitted job data: The count "
                                               "for a role designated as a host_role must be 1.")


def test_missing_roles(db: Any, alice: Any) -> None:
    """A lava-multinode block without roles: LAVA's KeyError text."""
    text = group(lambda j: j["protocols"]["lava-multinode"].pop("roles"))
    assert error(db, alice, text) == "job submission failed: 'roles'."
