"""Schema-driven fuzzing of the REST API: schemathesis over openapi.json against a real lavad.

The server is the in-process LavadService (``lavad_service``) on a loopback
port, its data directory holding a copy of the REST test lab (users, groups,
device types, devices, workers, jobs with results, and a job log; see
restlab.py).  schemathesis is synchronous, so it runs as a subprocess while the
reactor serves it; the test waits for the process without blocking the
reactor.  Path parameters name the lab's objects most of the time (a
schemathesis dictionary per kind of object), random values otherwise.

The phases: ``coverage`` (boundary and invalid values of every parameter and
body field) for operations with few parameters, ``fuzzing`` (random
examples) for all; HEAD and OPTIONS are left out (HEAD runs GET's code,
OPTIONS none).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
from typing import Any

import pytest
import pytest_twisted
from restlab import T0, ImmediateStore
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.utils import getProcessOutputAndValue

from lavad import users
from lavad.http.rest.openapi import document
from lavad.logs import JobLog
from lavad.service import DATABASE_NAME
from lavad.store.schema import open_database

EXAMPLES = 8            # fuzzing examples per operation: the test stays under a minute
SEED = 20260701         # reproducible runs; change it locally to explore further
COVERAGE_LIMIT = 12     # operations with more query parameters are only fuzzed
FUZZER_ID = 987654321
FUZZER_TOKEN = "fuzzertoken"
LOG = [b'- {"dt": "2026-07-01T12:00:00.000000", "lvl": "info", "msg": "start"}\n',
       b'- {"dt": "2026-07-01T12:00:01.000000", "lvl": "target", "msg": "login:"}\n',
       b'- {"dt": "2026-07-01T12:00:02.000000", "lvl": "results", "msg": {"case": "c1"}}\n']


@pytest.fixture
def settings(settings, rest_template):
    """The conftest settings, with the REST test lab in the data dir, a log for job 1 and
    the fuzzer's own superuser (an id the fuzzer will not pick, so it cannot demote or
    delete itself)."""
    template, ids = rest_template
    os.makedirs(settings.data_dir)
    path = os.path.join(settings.data_dir, DATABASE_NAME)
    shutil.copyfile(template, path)
    conn = open_database(path)
    store = ImmediateStore(conn, lambda: T0)
    store.sync(users.thd_add_user, "fuzzer", is_superuser=True)
    conn.execute("UPDATE users SET id = ? WHERE username = 'fuzzer'", (FUZZER_ID,))
    store.sync(users.thd_add_token, "fuzzer", "fuzzing", secret=FUZZER_TOKEN)
    count = JobLog.for_job(settings.data_dir, ids.job1).append(LOG)
    conn.execute("UPDATE test_jobs SET log_lines = ? WHERE id = ?", (count, ids.job1))
    conn.close()
    return settings


# -- the schemathesis configuration ---------------------------------------------------------------
def dictionaries(db_path: str) -> dict[str, list[Any]]:
    """The keys of the lab's objects, per kind (values for the path parameters)."""
    conn = sqlite3.connect(db_path)
    try:
        def column(sql: str) -> list[Any]:
            return [row[0] for row in conn.execute(sql)]

        return {
            "job": column("SELECT id FROM test_jobs"),
            "suite": column("SELECT id FROM test_suites"),
            "case": column("SELECT id FROM test_cases"),
            "devicetype": column("SELECT name FROM device_types"),
            "device": column("SELECT hostname FROM devices"),
            "worker": column("SELECT hostname FROM workers"),
            "alias": column("SELECT name FROM aliases"),
            "tag": column("SELECT id FROM tags"),
            "dtperm": column("SELECT id FROM group_device_type_permissions"),
            "dperm": column("SELECT id FROM group_device_permissions"),
            "token": column("SELECT name FROM remote_artifact_tokens"),
            "group": column("SELECT id FROM groups"),
            "user": column("SELECT id FROM users WHERE id != %d" % FUZZER_ID),
        }
    finally:
        conn.close()


# (collection, path parameter) -> dictionary
BINDINGS = {("jobs", "id"): "job", ("jobs", "suite_id"): "suite", ("jobs", "case_id"): "case",
            ("devicetypes", "name"): "devicetype", ("devices", "hostname"): "device",
            ("workers", "hostname"): "worker", ("aliases", "name"): "alias",
            ("tags", "id"): "tag", ("permissions/devicetypes", "id"): "dtperm",
            ("permissions/devices", "id"): "dperm", ("remote-artifact-tokens", "name"): "token",
            ("groups", "id"): "group", ("users", "id"): "user"}


def _collection(path: str) -> str:
    rest = re.sub(r"^/api/v0\.\d/", "", path)
    return "permissions/" + rest.split("/")[1] if rest.startswith("permissions/") \
        else rest.split("/")[0]


def _toml(value: Any) -> str:
    return json.dumps(value)  # JSON strings, numbers and arrays are TOML too


def config(doc: dict[str, Any], values: dict[str, list[Any]]) -> str:
    """schemathesis.toml: the dictionaries, and per operation its path parameters' bindings
    and whether the coverage phase runs."""
    # schemathesis reads answers to find values for other requests; it fails on a YAML
    # document that is not YAML (TAP13 answers are served as application/yaml, as LAVA does).
    lines = ["[phases.coverage.extra-data-sources]", "responses = false", "",
             "[phases.fuzzing.extra-data-sources]", "responses = false", ""]
    for name, items in values.items():
        lines += ["[dictionaries.%s]" % name, "values = %s" % _toml(items), ""]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = [p for p in op.get("parameters", ()) if "$ref" not in p]
            bound = {"path.%s" % p["name"]: BINDINGS[(_collection(path), p["name"])]
                     for p in params if p["in"] == "path"}
            query = len(op.get("parameters", ())) - len(bound)
            # PUT and PATCH read their bodies as POST does: fuzzed only.
            covered = query <= COVERAGE_LIMIT and method not in ("put", "patch")
            if not bound and covered:
                continue
            lines += ["[[operations]]", "include-operation-id = %s" % _toml(op["operationId"])]
            if not covered:
                lines.append("phases.coverage.enabled = false")
            if bound:
                lines.append("parameters = { %s }" % ", ".join(
                    '%s = { dictionary = "%s", probability = 0.8 }' % (_toml(k), v)
                    for k, v in bound.items()))
            lines.append("")
    return "\n".join(lines)


def command(url: str, config_path: str, token: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "schemathesis.cli", "--config-file", config_path, "run", url,
            "--checks", "not_a_server_error", "--seed", str(SEED), "--workers", "1",
            "--no-shrink", "--generation-database", "none", "--suppress-health-check", "all",
            "--request-timeout", "20", "--exclude-path-regex", "^/api/v0\\.1/",
            "--exclude-method", "HEAD", "--exclude-method", "OPTIONS", "--no-color",
            "--header", "Authorization: Token %s" % token, *options]


# Three runs: the first two side by side (each is CPU-bound in its own process), the
# deletions last (they take the lab's objects away).
RUNS = (("--phases", "coverage", "--exclude-method", "DELETE"),
        ("--phases", "fuzzing", "--max-examples", str(EXAMPLES), "--exclude-method", "DELETE"))
DELETIONS = ("--phases", "coverage,fuzzing", "--max-examples", "5", "--include-method", "DELETE")


@pytest.mark.timeout(150)
@pytest_twisted.ensureDeferred
async def test_fuzz_never_answers_500(lavad_service, settings, tmp_path):
    """Fuzzing every documented operation as a superuser never gets a server error (5xx)."""
    config_path = str(tmp_path / "schemathesis.toml")
    (tmp_path / "schemathesis.toml").write_text(config(document(), dictionaries(
        os.path.join(settings.data_dir, DATABASE_NAME))))
    url = lavad_service.base_url + "/api/v0.2/openapi.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCHEMATHESIS", "HYPOTHESIS"))}

    def run(options: tuple[str, ...]) -> Any:
        args = command(url, config_path, FUZZER_TOKEN, *options)
        return getProcessOutputAndValue(args[0], args[1:], env=env, path=str(tmp_path),
                                        reactor=reactor)

    results = await gatherResults([run(options) for options in RUNS])
    results.append(await run(DELETIONS))
    runs = zip((*RUNS, DELETIONS), results, strict=True)
    failed = ["%s (exit %d):\n%s" % (" ".join(options), code,
                                      (out + err).decode("utf-8", "replace")[-15000:])
              for options, (out, err, code) in runs if code]
    assert not failed, "schemathesis found failures:\n" + "\n".join(failed)
