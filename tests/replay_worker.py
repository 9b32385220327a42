"""A replay worker: speaks the worker protocol as Debian's lava-worker 2023.01 does.

It replays the traffic recorded from a real ``lava-worker`` + ``lava-run``
(``tests/fixtures/worker/streams/requests.jsonl``), in the recorded order,
against a server:

* pings ``GET workers/<name>/?version=2023.01`` with the worker token;
* for a job the ping told it to start: ``GET jobs/<id>/`` (the five string
  keys; ``device`` must be YAML with ``actions.deploy``/``actions.boot``),
  then ``POST jobs/<id>/ state=RUNNING``;
* lava-run's log uploads: ``POST jobs/<id>/logs/`` with ``lines`` (the YAML
  list ``"- " + "\\n- ".join(records)``, no final newline) and ``index``,
  the batch boundaries being the recorded indexes, the lines the recorded
  ``output.yaml``;
* ``POST jobs/<id>/ state=FINISHED`` with the recorded ``finished.json`` form.

Job tokens come from the server's ping replies, as for the real worker.  The
recorded ``/ws/`` polls are skipped.  Hooks let a test act between requests
(cancel a job, resend a batch...).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

import yaml

from lavad import devices, jobs, statemachine, users
from lavad.store.tx import Tx

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "worker")
STREAMS = os.path.join(FIXTURES, "streams")
STREAM_DIRS = {1: "job-1-ssh-pass", 2: "job-2-ssh-canceled", 3: "job-3-qemu-pass"}
WORKER_NAME = "worker-01"
WORKER_TOKEN = "worker-token-0123456789"
VERSION = "2023.01"
WORKER_AGENT = "lava-worker %s" % VERSION
LOG_AGENT = "lava %s" % VERSION
PREFIX = "/scheduler/internal/v1/"


# -- the recording ------------------------------------------------------------------------------
def stream_lines(job_id: int) -> list[str]:
    """The recorded output.yaml of a job, one ``- {...}`` line per record (newline kept)."""
    with open(os.path.join(STREAMS, STREAM_DIRS[job_id], "output.yaml"), encoding="utf-8") as f:
        return f.readlines()


def finished_form(job_id: int) -> dict[str, str]:
    with open(os.path.join(STREAMS, STREAM_DIRS[job_id], "finished.json"),
              encoding="utf-8") as f:
        return json.load(f)


def recorded_events(job_id: int) -> list[dict[str, Any]]:
    path = os.path.join(STREAMS, STREAM_DIRS[job_id], "events.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def recorded_requests() -> list[dict[str, Any]]:
    with open(os.path.join(STREAMS, "requests.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def recorded_indexes(job_id: int) -> list[int]:
    """The ``index`` of each recorded log upload of a job, in order."""
    path = "%sjobs/%d/logs/" % (PREFIX, job_id)
    return [int(r["form"]["index"]) for r in recorded_requests() if r["path"] == path]


def batches(job_id: int) -> list[tuple[int, list[str]]]:
    """The recorded uploads of a job: ``(index, lines)``, rebuilt from output.yaml."""
    lines = stream_lines(job_id)
    indexes = recorded_indexes(job_id)
    bounds = indexes[1:] + [len(lines)]
    return [(start, lines[start:end]) for start, end in zip(indexes, bounds)]


def lines_field(lines: list[str]) -> str:
    """What lava-run 2023.01 posts as ``lines``: the records as a YAML list, no final newline."""
    return "".join(lines).rstrip("\n")


# The expected test cases of the recorded ssh job (fixtures README), in log order:
# suite, case, result (0 pass, 1 fail, 2 skip), measurement, units, start line, end line, set.
JOB1_CASES = [
    ("lava", "validate", 0, None, "", None, None, None),
    ("lava", "test-overlay", 0, "0.0000000000", "seconds", None, None, None),
    ("lava", "test-install-overlay", 0, "0.0000000000", "seconds", None, None, None),
    ("lava", "test-runscript-overlay", 0, "0.0100000000", "seconds", None, None, None),
    ("lava", "scp-deploy", 0, "1.7200000000", "seconds", None, None, None),
    ("0_smoke", "pass-case", 0, None, "", 163, 164, None),
    ("0_smoke", "fail-case", 1, None, "", 174, 175, None),
    ("0_smoke", "measured", 0, "42.5000000000", "ms", 178, 178, None),
    ("0_smoke", "in-set", 2, None, "", 186, 186, "set1"),
    ("0_smoke", "ref-case", 0, None, "", None, None, None),
    ("lava", "0_smoke", 0, "0.1100000000", "seconds", None, None, None),
    ("lava", "job", 0, None, "", None, None, None),
]


# -- the lab the recording ran in ----------------------------------------------------------------
# Minimal stand-ins for LAVA's ssh.jinja2 and qemu.jinja2 (LAVA's own templates come
# from the lava-server package, which the unit tests do not need).
TEMPLATES = {
    "ssh": """actions:
  deploy:
    methods:
      ssh:
        host: '{{ ssh_host | default('localhost') }}'
        port: {{ ssh_port | default(22) }}
        user: '{{ ssh_user | default('root') }}'
        identity_file: '{{ ssh_identity_file | default('') }}'
  boot:
    methods:
      ssh:
{% block schroot %}
schroot: true
{% endblock schroot %}
""",
    "qemu": """actions:
  deploy:
    methods:
      tmpfs:
  boot:
    methods:
      qemu:
        parameters:
          command: qemu-system-{{ 'x86_64' if arch == 'amd64' else arch }}
          memory: {{ memory | default(1024) }}
          kvm: {{ not no_kvm }}
""",
}
# job id -> (job file, device, device type, device dictionary file)
RECORDED_JOBS = {
    1: ("ssh-smoke.yaml", "ssh-local-01", "ssh", "ssh-local-01.jinja2"),
    2: ("ssh-cancel.yaml", "ssh-local-02", "ssh", "ssh-local-01.jinja2"),
    3: ("qemu-smoke.yaml", "qemu-tcg-01", "qemu", "qemu-tcg-01.jinja2"),
}


def write_templates(directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    for name, text in TEMPLATES.items():
        with open(os.path.join(directory, name + ".jinja2"), "w", encoding="utf-8") as f:
            f.write(text)
    return directory


def _fixture(*parts: str) -> str:
    with open(os.path.join(FIXTURES, *parts), encoding="utf-8") as f:
        return f.read()


def thd_seed_lab(tx: Tx, schedule: bool = True) -> dict[str, Any]:
    """The recording's lab: worker-01 (its recorded token), three devices, jobs 1-3.

    With ``schedule`` the jobs are Scheduled on their devices, ready for the
    first ping.  Returns the admin user's id.
    """
    admin = users.thd_add_user(tx, "admin", "admin-pass", is_superuser=True)
    for device_type in ("ssh", "qemu"):
        devices.thd_add_device_type(tx, device_type)
    devices.thd_add_worker(tx, WORKER_NAME, token=WORKER_TOKEN)
    for job_id, (job_file, hostname, device_type, dictionary) in sorted(RECORDED_JOBS.items()):
        text = _fixture("devices", dictionary).replace("@SSH_PORT@", "2222").replace(
            "@SSH_IDENTITY_FILE@", "/srv/lava-try/ssh/id_lava")
        devices.thd_add_device(tx, hostname, device_type, health="Good",
                               worker_host=WORKER_NAME, dictionary=text)
        inserted = jobs.thd_insert_job(tx, admin["id"], _fixture("jobs", job_file),
                                       requested_device_type=device_type)
        assert inserted == job_id, "the recording needs jobs 1, 2 and 3 in a fresh lab"
        if schedule:
            statemachine.thd_schedule_job(tx, job_id, hostname)
    return {"admin": admin["id"]}


# -- the worker -----------------------------------------------------------------------------------
@dataclass
class Reply:
    code: int
    body: Any


@dataclass
class ReplayWorker:
    """Replays the recording against ``base_url`` through a treq ``client``."""

    client: Any
    base_url: str
    name: str = WORKER_NAME
    token: str = WORKER_TOKEN
    tokens: dict[int, str] = field(default_factory=dict)   # job id -> job token
    pings: list[dict[str, Any]] = field(default_factory=list)
    log_replies: list[tuple[int, int, int]] = field(default_factory=list)  # job, index, count
    payloads: dict[int, dict[str, str]] = field(default_factory=dict)
    canceled: set[int] = field(default_factory=set)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + PREFIX + path

    async def call(self, method: str, path: str, token: str | None,
                   form: dict[str, str] | None = None, query: dict[str, str] | None = None,
                   agent: str = WORKER_AGENT) -> Reply:
        headers = {"User-Agent": [agent], "Accept": ["*/*"]}
        if token is not None:
            headers["LAVA-Token"] = [token]
        url = self.url(path) + ("?" + urlencode(query) if query else "")
        body = None
        if form is not None:
            headers["Content-Type"] = ["application/x-www-form-urlencoded"]
            body = urlencode(form).encode("ascii")
        response = await self.client.request(method, url, headers=headers, data=body)
        content = await response.content()
        try:
            decoded = json.loads(content)
        except ValueError:
            decoded = content
        return Reply(response.code, decoded)

    # -- the requests the worker makes ----------------------------------------------------
    async def ping(self) -> dict[str, Any]:
        reply = await self.call("GET", "workers/%s/" % self.name, self.token,
                                query={"version": VERSION})
        assert reply.code == 200, reply
        assert sorted(reply.body) == ["cancel", "running", "start"], reply.body
        for kind in ("cancel", "running", "start"):
            for item in reply.body[kind]:
                self.tokens[int(item["id"])] = item["token"]
        for item in reply.body["cancel"]:
            self.canceled.add(int(item["id"]))
        self.pings.append(reply.body)
        return reply.body

    async def fetch_job(self, job_id: int) -> dict[str, str]:
        assert any(item["id"] == job_id for item in self.pings[-1]["start"]), \
            "job %d was not in the last ping's start list" % job_id
        reply = await self.call("GET", "jobs/%d/" % job_id, self.tokens[job_id])
        assert reply.code == 200, reply
        payload = reply.body
        # The worker raises KeyError (and refuses to start) if a key is missing.
        assert sorted(payload) == ["definition", "device", "dispatcher", "env", "env-dut"]
        assert all(isinstance(v, str) for v in payload.values()), payload
        device = yaml.safe_load(payload["device"])
        assert "deploy" in device["actions"] and "boot" in device["actions"], device
        assert isinstance(yaml.safe_load(payload["definition"]), dict)
        self.payloads[job_id] = payload
        return payload

    async def post_state(self, job_id: int, form: dict[str, str]) -> Reply:
        return await self.call("POST", "jobs/%d/" % job_id, self.tokens[job_id], form=form)

    async def post_logs(self, job_id: int, index: int, lines: list[str]) -> int:
        reply = await self.call("POST", "jobs/%d/logs/" % job_id, self.tokens[job_id],
                                form={"lines": lines_field(lines), "index": str(index)},
                                agent=LOG_AGENT)
        assert reply.code == 200, reply
        count = reply.body["line_count"]
        self.log_replies.append((job_id, index, count))
        return count

    # -- the replay ------------------------------------------------------------------------
    async def replay(self, before: Callable[[int, dict[str, Any]], Awaitable[None]] | None = None,
                     batch_hook: Callable[[int, int, list[str]],
                                          Awaitable[None]] | None = None) -> None:
        """Make the recorded requests in order.

        ``before(position, request)`` runs before each request;
        ``batch_hook(job, index, lines)`` after each log upload.
        """
        uploads = {job: iter(batches(job)) for job in STREAM_DIRS}
        for position, request in enumerate(recorded_requests()):
            path = request["path"]
            if not path.startswith(PREFIX):
                continue  # the /ws/ polls
            if before is not None:
                await before(position, request)
            parts = path[len(PREFIX):].strip("/").split("/")
            if parts[0] == "workers":
                assert request["query"] == {"version": VERSION}
                await self.ping()
            elif parts[0] == "jobs" and len(parts) == 3:
                job = int(parts[1])
                index, lines = next(uploads[job])
                assert index == int(request["form"]["index"])
                count = await self.post_logs(job, index, lines)
                assert count == len(lines), (job, index, count, len(lines))
                if batch_hook is not None:
                    await batch_hook(job, index, lines)
            elif request["method"] == "GET":
                await self.fetch_job(int(parts[1]))
            else:
                job = int(parts[1])
                form = dict(request["form"])
                if form["state"] == "FINISHED":
                    form = finished_form(job)
                reply = await self.post_state(job, form)
                assert (reply.code, reply.body) == (200, {}), reply
        for job, remaining in uploads.items():
            assert next(remaining, None) is None, "job %d has unsent batches" % job
