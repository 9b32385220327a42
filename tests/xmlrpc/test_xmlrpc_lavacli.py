"""lavacli 3.1.0 (from PyPI) against a running lavad, through real subprocesses.

Each command runs ``python -m lavacli`` in a thread with a temporary HOME and
XDG_CONFIG_HOME, so the identity file it writes stays in ``tmp_path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted
import yaml
from jobdefs import qemu_job
from twisted.internet import threads


class Lavacli:
    def __init__(self, tmp_path) -> None:
        self.home = str(tmp_path / "home")
        self.config = str(tmp_path / "home" / "config")
        os.makedirs(self.config)
        self.env = dict(os.environ, HOME=self.home, XDG_CONFIG_HOME=self.config)
        self.env.pop("http_proxy", None)
        self.env.pop("HTTP_PROXY", None)

    def _run(self, args: tuple[str, ...], stdin: str | None) -> tuple[int, str, str]:
        proc = subprocess.run([sys.executable, "-m", "lavacli", *args], env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=60, check=False,
                              cwd=self.home)
        return proc.returncode, proc.stdout, proc.stderr

    async def run(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        return await threads.deferToThread(self._run, args, stdin)

    async def ok(self, *args: str) -> str:
        """The command's standard output; fails the test unless it exits 0."""
        code, out, err = await self.run(*args)
        assert code == 0, (args, out, err)
        return out

    def path(self, name: str, text: str) -> str:
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        return path


@pytest.fixture
def lavacli(tmp_path) -> Lavacli:
    return Lavacli(tmp_path)


@pytest_twisted.ensureDeferred
async def test_identities_and_system(server, rpc, lavacli):
    """identities add writes the identity; system version/whoami/api/methods go through it;
    a wrong token fails at connection time with the HTTP 401."""
    root = await server.user("root", is_superuser=True)
    await lavacli.ok("identities", "add", "--uri", rpc.url, "--username", root[0],
                     "--token", root[1], "default")
    identity = Path(lavacli.config, "lavacli.yaml").read_text()
    assert yaml.safe_load(identity)["default"] == {"uri": rpc.url, "username": "root",
                                                "token": root[1]}
    assert await lavacli.ok("system", "version") == "2026.07\n"
    assert await lavacli.ok("system", "whoami") == "root\n"
    assert await lavacli.ok("system", "api") == "2\n"
    methods = (await lavacli.ok("system", "methods", "list")).split()
    assert "scheduler.devices.list" in methods and methods == sorted(methods)
    help_text = await lavacli.ok("system", "methods", "help", "scheduler.workers.show")
    assert "token" in help_text
    await lavacli.ok("identities", "add", "--uri", rpc.url, "--username", "root",
                     "--token", "wrong", "bad")
    code, _out, err = await lavacli.run("-i", "bad", "system", "version")
    assert code == 1
    assert err.startswith("Unable to connect: ") and "401" in err
    await lavacli.ok("identities", "add", "--uri", rpc.url, "anon")
    assert await lavacli.ok("-i", "anon", "system", "whoami") == "<AnonymousUser>\n"


@pytest_twisted.ensureDeferred
async def test_lab_administration(server, rpc, lavacli):
    """device-types, workers, devices (dict get/set), tags and aliases commands, checked
    on what lavacli prints."""
    root = await server.user("root", is_superuser=True)
    await lavacli.ok("identities", "add", "--uri", rpc.url, "--username", root[0],
                     "--token", root[1], "default")

    # device types and their templates
    await lavacli.ok("device-types", "add", "qemu", "--description", "emulated",
                     "--health-frequency", "12", "--health-denominator", "jobs")
    template = lavacli.path("qemu.jinja2", "device_type: qemu\nhostname: "
                                           "{{ scheduled_device_name }}\n"
                                           "{% block body %}{% endblock %}\n")
    await lavacli.ok("device-types", "template", "set", "qemu", template)
    assert await lavacli.ok("device-types", "template", "get", "qemu") == \
        "device_type: qemu\nhostname: {{ scheduled_device_name }}\n" \
        "{% block body %}{% endblock %}\n"
    assert await lavacli.ok("device-types", "list") == "Device-Types:\n* qemu (0)\n"

    # workers
    await lavacli.ok("workers", "add", "w1", "--description", "rack 1")
    await lavacli.ok("workers", "add", "old", "--disabled")
    assert await lavacli.ok("workers", "list") == "Workers:\n* w1\n"
    assert await lavacli.ok("workers", "list", "--all") == "Workers:\n* old\n* w1\n"

    # devices
    await lavacli.ok("devices", "add", "qemu-01", "--type", "qemu", "--worker", "w1",
                     "--health", "GOOD", "--description", "first")
    await lavacli.ok("devices", "add", "qemu-02", "--type", "qemu", "--worker", "w1")
    assert await lavacli.ok("devices", "list") == (
        "Devices:\n* qemu-01 (qemu): Idle,Good\n* qemu-02 (qemu): Idle,Unknown\n")
    dictionary = lavacli.path("qemu-01.jinja2", "{% extends 'qemu.jinja2' %}\n"
                                                "{% set console_device = 'ttyS1' %}\n")
    await lavacli.ok("devices", "dict", "set", "qemu-01", dictionary)
    assert await lavacli.ok("devices", "dict", "get", "qemu-01") == (
        "{% extends 'qemu.jinja2' %}\n{% set console_device = 'ttyS1' %}\n")
    assert await lavacli.ok("devices", "dict", "get", "qemu-01", "console_device") == "ttyS1\n"
    assert await lavacli.ok("devices", "dict", "get", "--render", "qemu-01") == (
        "device_type: qemu\nhostname: qemu-01\n")
    await lavacli.ok("devices", "tags", "add", "qemu-01", "usb")
    assert await lavacli.ok("devices", "show", "qemu-01") == (
        "name        : qemu-01\n"
        "device-type : qemu\n"
        "state       : Idle\n"
        "health      : Good\n"
        "health job  : False\n"
        "description : first\n"
        "pipeline    : True\n"
        "device-dict : True\n"
        "worker      : w1\n"
        "current job : None\n"
        "tags        : ['usb']\n")
    await lavacli.ok("devices", "update", "qemu-02", "--health", "MAINTENANCE",
                     "--description", "broken fan")
    shown = yaml.safe_load(await lavacli.ok("devices", "show", "qemu-02", "--yaml"))
    assert (shown["health"], shown["description"]) == ("Maintenance", "broken fan")
    assert await lavacli.ok("device-types", "list") == "Device-Types:\n* qemu (2)\n"
    assert await lavacli.ok("device-types", "show", "qemu") == (
        "name            : qemu\n"
        "description     : emulated\n"
        "display         : True\n"
        "health disabled : False\n"
        "aliases         : []\n"
        "devices         : ['qemu-01', 'qemu-02']\n")

    # worker details
    out = (await lavacli.ok("workers", "show", "w1")).splitlines()
    assert out[:5] == ["hostname    : w1", "description : rack 1", "state       : Offline",
                       "health      : Active", "devices     : qemu-01, qemu-02"]
    assert out[5].startswith("last ping   : ")
    assert out[6:8] == ["job limit   : 0", "version     : None"]
    assert out[8].startswith("token       : ")
    config = lavacli.path("dispatcher.yaml", "dispatcher_ip: 10.0.0.1\n")
    await lavacli.ok("workers", "config", "set", "w1", config)
    assert await lavacli.ok("workers", "config", "get", "w1") == "dispatcher_ip: 10.0.0.1\n"
    as_json = yaml.safe_load(await lavacli.ok("workers", "show", "w1", "--json"))
    assert len(as_json["last_ping"]) == 17 and as_json["default_config"] is False

    # tags
    await lavacli.ok("tags", "add", "audio", "--description", "has audio")
    assert await lavacli.ok("tags", "list") == "Tags:\n* audio (has audio)\n* usb\n"
    assert await lavacli.ok("tags", "show", "usb") == (
        "name       : usb\ndescription: None\ndevices    :\n* qemu-01\n")
    await lavacli.ok("tags", "delete", "audio")
    assert await lavacli.ok("tags", "list") == "Tags:\n* usb\n"

    # aliases
    await lavacli.ok("aliases", "add", "qemu-x86", "qemu")
    assert await lavacli.ok("aliases", "list") == "Aliases:\n* qemu-x86\n"
    assert await lavacli.ok("aliases", "show", "qemu-x86") == (
        "name       : qemu-x86\ndevice-type: qemu\n")
    assert "aliases         : ['qemu-x86']" in await lavacli.ok("device-types", "show", "qemu")
    await lavacli.ok("aliases", "delete", "qemu-x86")
    assert await lavacli.ok("aliases", "list") == "Aliases:\n"


@pytest_twisted.ensureDeferred
async def test_errors_reach_the_user(server, rpc, lavacli):
    """Faults are printed by lavacli as 'Unable to call ...' with the fault text."""
    alice = await server.user("alice")
    await lavacli.ok("identities", "add", "--uri", rpc.url, "--username", alice[0],
                     "--token", alice[1], "default")
    code, _out, err = await lavacli.run("devices", "show", "nope")
    assert code == 1
    assert "Device 'nope' was not found." in err
    code, _out, err = await lavacli.run("workers", "add", "w9")
    assert code == 1
    assert "User 'alice' is missing permission lava_scheduler_app.add_worker." in err


JOB = qemu_job()

LOG = ('- {"dt": "2026-07-01T10:00:01.250000", "lvl": "info", "msg": "hello"}\n'
       '- {"dt": "2026-07-01T10:00:02.500000", "lvl": "target", "msg": "login:"}\n')


@pytest_twisted.ensureDeferred
async def test_jobs(server, rpc, lavacli):
    """jobs submit/show/list/definition/validate/logs/cancel/wait/resubmit through lavacli."""
    from lavad import results, statemachine

    root = await server.user("root", is_superuser=True)
    alice = await server.user("alice")
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    await lavacli.ok("identities", "add", "--uri", rpc.url, "--username", alice[0],
                     "--token", alice[1], "default")
    path = lavacli.path("job.yaml", JOB)
    job_id = int(await lavacli.ok("jobs", "submit", path))
    assert await lavacli.ok("jobs", "validate", path) == ""
    assert await lavacli.ok("jobs", "definition", str(job_id)) == JOB.strip() + "\n"
    shown = (await lavacli.ok("jobs", "show", str(job_id))).splitlines()
    assert shown[:9] == ["id          : %d" % job_id, "description : smoke",
                         "submitter   : alice", "device-type : qemu", "device      : None",
                         "health-check: False", "state       : Submitted",
                         "Health      : Unknown", "pipeline    : True"]
    as_json = yaml.safe_load(await lavacli.ok("jobs", "show", str(job_id), "--json"))
    assert len(as_json["submit_time"]) == 17 and as_json["end_time"] is None
    assert await lavacli.ok("jobs", "list") == (
        "Jobs (from 1 to 25):\n* %d: Submitted,Unknown [alice] (smoke) - qemu\n" % job_id)

    await server.run(statemachine.thd_schedule_job, job_id, "qemu-01")
    await server.run(statemachine.thd_job_running, job_id)
    await server.run(results.thd_ingest_log, job_id, LOG, 0, server.service.files.data_dir)
    assert await lavacli.ok("jobs", "logs", "--no-follow", str(job_id)) == (
        "2026-07-01T10:00:01 hello\n2026-07-01T10:00:02 login:\n")
    assert await lavacli.ok("jobs", "logs", "--no-follow", "--start", "1", str(job_id)) == (
        "2026-07-01T10:00:02 login:\n")
    await lavacli.ok("jobs", "cancel", str(job_id))
    assert "state       : Canceling" in await lavacli.ok("jobs", "show", str(job_id))
    await server.run(statemachine.thd_job_finished, job_id, "pass")
    # Finished: lavacli stops following after one read.
    assert await lavacli.ok("jobs", "logs", str(job_id)) == (
        "2026-07-01T10:00:01 hello\n2026-07-01T10:00:02 login:\n")
    assert await lavacli.ok("jobs", "wait", str(job_id)) == ""
    again = int(await lavacli.ok("jobs", "resubmit", str(job_id)))
    assert again > job_id
    # LAVA resubmits the stored (re-serialised) definition: same job, block style.
    assert yaml.safe_load(await lavacli.ok("jobs", "definition", str(again))) == \
        yaml.safe_load(JOB)
    assert "state       : Submitted" in await lavacli.ok("jobs", "show", str(again))
    code, _out, err = await lavacli.run("jobs", "show", "999")
    assert code == 1 and "Job '999' was not found." in err


RESULTS_LOG = (
    '- {"dt": "2026-07-01T10:00:01.000000", "lvl": "results", "msg": {"definition": '
    '"0_smoke", "case": "pwd", "result": "pass"}}\n'
    '- {"dt": "2026-07-01T10:00:02.000000", "lvl": "results", "msg": {"definition": '
    '"0_smoke", "case": "uname", "result": "fail"}}\n'
    '- {"dt": "2026-07-01T10:00:03.000000", "lvl": "results", "msg": {"definition": '
    '"lava", "case": "job", "result": "pass"}}\n')


@pytest_twisted.ensureDeferred
async def test_results(server, rpc, lavacli):
    """lavacli results JOB [SUITE [CASE]] (needs a token: results.* is V1)."""
    from lavad import results, statemachine

    root = await server.user("root", is_superuser=True)
    await rpc.call("scheduler.device_types.add", "qemu", None, True, None, 24, "hours",
                   token=root)
    await rpc.call("scheduler.workers.add", "w1", token=root)
    await rpc.call("scheduler.devices.add", "qemu-01", "qemu", "w1", None, None, True, "GOOD",
                   token=root)
    job_id = await rpc.call("scheduler.jobs.submit", JOB, token=root)
    await server.run(statemachine.thd_schedule_job, job_id, "qemu-01")
    await server.run(statemachine.thd_job_running, job_id)
    await server.run(results.thd_ingest_log, job_id, RESULTS_LOG, 0,
                     server.service.files.data_dir)
    await lavacli.ok("identities", "add", "--uri", rpc.url, "--username", root[0],
                     "--token", root[1], "default")
    assert await lavacli.ok("results", str(job_id)) == (
        "Results:\n* 0_smoke.pwd [pass]\n* 0_smoke.uname [fail]\n* lava.job [pass]\n")
    assert await lavacli.ok("results", str(job_id), "0_smoke") == (
        "Results:\n* 0_smoke.pwd [pass]\n* 0_smoke.uname [fail]\n")
    assert await lavacli.ok("results", str(job_id), "0_smoke", "uname") == "fail\n"
    await lavacli.ok("identities", "add", "--uri", rpc.url, "anon")
    code, _out, err = await lavacli.run("-i", "anon", "results", str(job_id))
    assert code == 1
    assert "Authentication with user and token required for this API." in err
