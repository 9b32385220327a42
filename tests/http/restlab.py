"""A small lab served by the REST API, for the tests/http/test_rest_*.py files.

Fixtures (made available to tests/http by its conftest.py): ``rest`` (a
:class:`Client` on the lab, with ``.store`` and ``.ids``), ``rest_store``,
``rest_template``.

The lab runs its ``thd_*`` functions synchronously on a fresh SQLite file (so
StubTreq answers without a reactor turn); one framework test also serves it
through the real store thread on a loopback port.

Users: ``admin`` (superuser), ``user1`` (group1), ``user2`` (group2), ``user3``
(no group), ``inactive``.  Device types: ``public_device_type1`` (alias
``alias1``), ``restricted_device_type1`` (view restricted to group1, alias
``alias2``), ``hidden_device_type`` (display false, alias ``alias3``).
Devices: ``public01`` (worker1, tag1), ``public02`` (retired), ``restricted01``
(restricted type), ``private01`` (view restricted to group2).  Workers:
``worker1``, ``worker2`` (view restricted to group1).  Jobs (ids 1-5): see
:func:`build`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from treq.testing import StubTreq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.web.resource import Resource

from lavad import devices, jobs, users
from lavad.config import load_settings
from lavad.events import EventBus
from lavad.http.rest import build_rest
from lavad.lab import Lab
from lavad.models import DeviceHealth, JobHealth, JobState
from lavad.store.schema import open_database
from lavad.store.tx import Tx, run_in_transaction

T0 = 1782900000.0  # 2026-07-01T10:00:00Z

TOKENS = {"admin": "admintoken", "user1": "user1token", "user2": "user2token",
          "user3": "user3token", "inactive": "inactivetoken"}


class ImmediateStore:
    """The store-thread interface (``run`` returning a Deferred), run synchronously."""

    def __init__(self, conn: Any, clock: Callable[[], float]) -> None:
        self.conn = conn
        self.clock = clock
        self.bus = EventBus()

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred:
        tx = Tx(self.conn, self.clock)
        try:
            result = run_in_transaction(tx, fn, *args, **kwargs)
        except Exception:  # noqa: BLE001 - handed to the caller's Deferred, as the thread does
            return fail()
        for event in tx.events:
            self.bus.publish(event)
        return succeed(result)

    def sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return run_in_transaction(Tx(self.conn, self.clock), fn, *args, **kwargs)


def build(store: ImmediateStore) -> SimpleNamespace:
    """Fill the lab; returns the ids the tests need."""
    run = store.sync
    ids = SimpleNamespace()
    for name in ("admin", "user1", "user2", "user3", "inactive"):
        user = run(users.thd_add_user, name, None, email="%s@example.com" % name,
                   is_superuser=(name == "admin"), is_active=(name != "inactive"))
        # A cheap hash (check_password reads the iteration count from it): fast tests.
        store.conn.execute("UPDATE users SET password = ? WHERE id = ?",
                           (users.hash_password("pw-" + name, iterations=1000), user["id"]))
        setattr(ids, name, user["id"])
        run(users.thd_add_token, name, "test", secret=TOKENS[name])
    ids.group1 = run(users.thd_add_group, "group1", ["user1"])["id"]
    ids.group2 = run(users.thd_add_group, "group2", ["user2"])["id"]
    run(devices.thd_add_device_type, "public_device_type1", architecture="ARMv8",
        processor="Kirin", cpu_model="k960", cores=["Cortex-A53"], bits=64, core_count=8,
        description="dt desc")
    run(devices.thd_add_alias, "alias1", "public_device_type1")
    run(devices.thd_add_device_type, "restricted_device_type1", architecture="x86_64")
    run(devices.thd_add_alias, "alias2", "restricted_device_type1")
    run(devices.thd_add_object_permission, "devicetype", "group1", "view_devicetype",
        "restricted_device_type1")
    run(devices.thd_add_device_type, "hidden_device_type", display=False,
        health_denominator="jobs")
    run(devices.thd_add_alias, "alias3", "hidden_device_type")
    ids.tag1 = run(devices.thd_add_tag, "tag1", "description1")["id"]
    ids.tag2 = run(devices.thd_add_tag, "tag2", None)["id"]
    run(devices.thd_add_worker, "worker1", description="desc", token="w" * 32)
    run(devices.thd_add_worker, "worker2", token="x" * 32)
    store.conn.execute("INSERT INTO group_worker_permissions (group_id, permission, worker)"
                       " VALUES (?, 'view_worker', 'worker2')", (ids.group1,))
    run(devices.thd_add_device, "public01", "public_device_type1", worker_host="worker1",
        tags=["tag1"], physical_owner="user1", physical_group="group1", description="d desc",
        health="Good")
    run(devices.thd_add_device, "public02", "public_device_type1", health="Retired",
        dictionary="{% extends 'x.jinja2' %}\n")
    run(devices.thd_add_device, "restricted01", "restricted_device_type1", worker_host="worker2")
    run(devices.thd_add_device, "private01", "public_device_type1",
        dictionary="{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n")
    run(devices.thd_add_object_permission, "device", "group2", "view_device", "private01")

    def job(submitter: int, **kw: Any) -> int:
        return run(jobs.thd_insert_job, submitter, "device_type: x\njob_name: test\n",
                   original_definition="device_type: x\njob_name: test\n", **kw)

    # 1: public, ran on public01 (visible to everyone)
    ids.job1 = job(ids.user1, description="test", requested_device_type="public_device_type1",
                   tags=[ids.tag1], metadata={"build_id": "1234", "branch": "main",
                                              "nested": {"k": "v"}})
    store.conn.execute(
        "UPDATE test_jobs SET actual_device = 'public01', state = ?, health = ?,"
        " start_time = '2026-07-01T12:00:00.123456', end_time = '2026-07-01T12:03:00.000000',"
        " failure_comment = 'oops', submit_time = '2026-07-01T11:59:00.123456' WHERE id = ?",
        (JobState.FINISHED, JobHealth.INCOMPLETE, ids.job1))
    # 2: private (not public), submitted by user2
    ids.job2 = job(ids.user2, description="private job", is_public=False,
                   requested_device_type="public_device_type1", priority=100)
    # 3: viewing group group1, submitted by user2
    ids.job3 = job(ids.user2, description="group job", is_public=False,
                   viewing_groups=[ids.group1], requested_device_type="public_device_type1",
                   metadata={"branch": "dev"})
    # 4: public, queued on the restricted device type
    ids.job4 = job(ids.user1, description="restricted job",
                   requested_device_type="restricted_device_type1", health_check=True,
                   priority=0)
    # 5: public, ran on the group2-only device private01
    ids.job5 = job(ids.admin, description="private device job",
                   requested_device_type="public_device_type1", target_group="grp-1")
    store.conn.execute("UPDATE test_jobs SET actual_device = 'private01', state = ?,"
                       " health = ? WHERE id = ?",
                       (JobState.RUNNING, JobHealth.UNKNOWN, ids.job5))
    store.conn.execute("UPDATE devices SET last_health_report_job = ? WHERE hostname ="
                       " 'restricted01'", (ids.job4,))
    # results of job 1 (suites 1, 2) and job 4 (suite 3)
    ids.suite_lava = store.conn.execute(
        "INSERT INTO test_suites (job_id, name) VALUES (?, 'lava')", (ids.job1,)).lastrowid
    ids.suite_smoke = store.conn.execute(
        "INSERT INTO test_suites (job_id, name) VALUES (?, '0_smoke')", (ids.job1,)).lastrowid
    ids.suite_hidden = store.conn.execute(
        "INSERT INTO test_suites (job_id, name) VALUES (?, 'lava')", (ids.job4,)).lastrowid
    ids.set1 = store.conn.execute("INSERT INTO test_sets (suite_id, name) VALUES (?, 'set1')",
                                  (ids.suite_smoke,)).lastrowid
    cases = [
        (ids.suite_lava, None, "job", 0, None, "", None, 1, 2, "2026-07-01T12:00:00.123456"),
        (ids.suite_smoke, None, "c1", 0, "12.5", "ms",
         "case: c1\ndefinition: 0_smoke\nresult: pass\nmeasurement: 12.5\nunits: ms\n", 3, 4,
         "2026-07-01T12:01:00.000000"),
        (ids.suite_smoke, ids.set1, "c2", 1, "-3", "s", None, 5, 6,
         "2026-07-01T12:02:00.000000"),
        (ids.suite_smoke, None, "c3", 2, None, "", None, None, None,
         "2026-07-01T12:02:30.000000"),
        (ids.suite_hidden, None, "secret", 0, None, "", None, None, None,
         "2026-07-01T12:00:00.000000"),
    ]
    ids.cases = [store.conn.execute(
        "INSERT INTO test_cases (suite_id, test_set_id, name, result, measurement, units,"
        " metadata, start_log_line, end_log_line, logged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        case).lastrowid for case in cases]
    run(devices.thd_set_device_health, "public02", DeviceHealth.RETIRED)
    store.conn.execute("INSERT INTO remote_artifact_tokens (user_id, name, token) VALUES"
                       " (?, 'token1', 'value1'), (?, 'token0', 'value0'), (?, 'other', 'v')",
                       (ids.user1, ids.user1, ids.user2))
    return ids


@dataclass
class Answer:
    code: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return None if values is None else values[0]


def _result(d: Deferred) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the request did not complete synchronously"
    if hasattr(box[0], "raiseException"):
        box[0].raiseException()
    return box[0]


class Client:
    """Requests against a resource through StubTreq; ``as_`` picks the user's token."""

    def __init__(self, resource: Resource, host: str = "testserver") -> None:
        self.stub = StubTreq(resource)
        self.host = host

    def request(self, method: str, path: str, as_: str | None = None,
                headers: dict[str, str] | None = None, data: Any = None) -> Answer:
        all_headers = dict(headers or {})
        if as_ is not None:
            all_headers["Authorization"] = "Token %s" % TOKENS[as_]
        d = self.stub.request(method, "http://%s%s" % (self.host, path),
                              headers={k: [v] for k, v in all_headers.items()},
                              data=data, allow_redirects=False)
        self.stub.flush()
        response = _result(d)
        body = _result(self.stub.content(response))
        return Answer(response.code, response.headers, body)

    def get(self, path: str, as_: str | None = None, **kw: Any) -> Answer:
        return self.request("GET", path, as_, **kw)


def make_root(lab: Any, settings: Any) -> Resource:
    root = Resource()
    root.putChild(b"api", build_rest(lab, settings).resource())
    return root


@pytest.fixture(scope="session")
def rest_template(tmp_path_factory):
    """The lab built once per session; each test works on a copy of its database."""
    path = os.path.join(str(tmp_path_factory.mktemp("restlab")), "lavad.sqlite3")
    conn = open_database(path)
    ids = build(ImmediateStore(conn, lambda: T0))
    conn.close()  # checkpoints the WAL into the file
    return path, ids


@pytest.fixture
def rest_store(tmp_path, rest_template):
    template, ids = rest_template
    path = os.path.join(str(tmp_path), "lavad.sqlite3")
    shutil.copyfile(template, path)
    conn = open_database(path)
    store = ImmediateStore(conn, lambda: T0)
    store.ids = SimpleNamespace(**vars(ids))
    yield store
    conn.close()


@pytest.fixture
def rest(rest_store):
    settings = load_settings({"data_dir": "/nonexistent"})
    client = Client(make_root(Lab(rest_store), settings))
    client.ids = rest_store.ids
    client.store = rest_store
    return client
