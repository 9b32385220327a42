#!/usr/bin/env python3
"""Build the benchmark dataset straight into a lavad store, in a few seconds.

The shape is the one of the LAVA 2023.01 baseline (shared/bench/lava-baseline):
5 users and a ``lab-staff`` group, 5 workers (one offline in maintenance),
20 device types with their architectures and 6 aliases, 50 devices with tags
and dictionaries, 12 tags, 4 failure tags, 5,000 finished jobs submitted over
the 180 days before 2023-01-23 (health about 75 % Complete / 18 % Incomplete /
7 % Canceled, 95 % public), about 200,000 test cases in about 12,000 suites.
Job 1 is a small job with 8 cases (pass, fail, skip, unknown, measurements)
and a log; job 2 has exactly 10,000 cases and a ~40,000-line log whose lines
the failed cases point at (JUnit/TAP carry them).

Rows are written with ``executemany`` in one transaction on a freshly migrated
store (lavad's own schema and migrations), with the stored forms lavad's own
code writes (timestamps, measurements with ten decimals, metadata as block
YAML, job logs as ``output.yaml`` + little-endian ``output.idx``).

The ids the request mix uses go to ``--ids`` (JSON, the baseline's key names
plus the admin's credentials).

    python bench/dataset.py --data-dir /tmp/lavad-bench --ids /tmp/ids.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import struct
import sys
import time
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import yaml

from lavad.exports.records import printed_metadata
from lavad.exports.yamlfmt import verbatim
from lavad.logs import INDEX_FORMAT, job_dir
from lavad.models import (
    DeviceHealth,
    HealthDenominator,
    JobHealth,
    JobState,
    TestResult,
    WorkerHealth,
    WorkerState,
)
from lavad.results import yaml_dump
from lavad.store.schema import open_database
from lavad.users import ALNUM, hash_password, new_api_secret

ADMIN = "admin"
ADMIN_PASSWORD = "admin-baseline-pw"   # the baseline's, so one load-client command fits both
BASE = datetime(2023, 1, 23, 12, 0, 0)  # UTC, naive: the stored form has no zone
SMALL_DESC = "bench-golden-small"
BIG_DESC = "bench-big-10k"
FILTER_TYPE = "bcm2711-rpi-4-b"

USERS = [("alice", 12), ("bob", 10), ("carol", 8), ("ci-bot", 60), ("admin", 10)]
WORKERS = [("worker01", "rack A, qemu + x86"), ("worker02", "rack A, arm64 boards"),
           ("worker03", "rack B, armv7 boards"), ("worker04", "rack B, fastboot"),
           ("worker05", "rack C, misc")]
TAGS = ["usb-storage", "hdmi", "4gb-ram", "8gb-ram", "wifi", "ethernet", "sata", "pcie",
        "usb-otg", "secure-boot", "power-measure", "audio"]
FAILURE_TAGS = ["infra-network", "bootloader-hang", "kernel-panic", "power"]
ARCH = {"x86_64": ("Intel", 64), "armv7": ("ARMv7", 32), "arm64": ("ARMv8", 64),
        "riscv64": ("RISC-V", 64)}
# name, boot family, architecture, devices, worker, weight among the jobs
DEVICE_TYPES = [
    ("qemu", "qemu", "x86_64", 8, "worker01", 30), ("docker", "docker", "x86_64", 3, "worker01", 8),
    ("x86", "ipxe", "x86_64", 3, "worker01", 6),
    ("minnowboard-turbot-E3826", "ipxe", "x86_64", 2, "worker05", 2),
    ("beaglebone-black", "uboot", "armv7", 4, "worker03", 6),
    ("am57xx-beagle-x15", "uboot", "armv7", 2, "worker03", 3),
    ("cubietruck", "uboot", "armv7", 1, "worker03", 1),
    ("imx6q-sabrelite", "uboot", "armv7", 1, "worker03", 1),
    ("stm32mp157c-dk2", "uboot", "armv7", 2, "worker05", 2),
    ("bcm2837-rpi-3-b", "uboot", "arm64", 3, "worker02", 5),
    ("bcm2711-rpi-4-b", "uboot", "arm64", 3, "worker02", 5),
    ("imx8mq-evk", "uboot", "arm64", 2, "worker02", 3),
    ("rk3399-roc-pc", "uboot", "arm64", 2, "worker02", 2),
    ("meson-g12b-odroid-n2", "uboot", "arm64", 2, "worker02", 2),
    ("sun50i-h6-pine-h64", "uboot", "arm64", 1, "worker02", 1),
    ("fsl-ls2088a-rdb", "uboot", "arm64", 1, "worker05", 1),
    ("hifive-unleashed-a00", "uboot", "riscv64", 1, "worker05", 1),
    ("hi6220-hikey-r2", "fastboot", "arm64", 3, "worker04", 4),
    ("dragonboard-410c", "fastboot", "arm64", 3, "worker04", 4),
    ("dragonboard-845c", "fastboot", "arm64", 3, "worker04", 4),
]
ALIASES = [("rpi3", "bcm2837-rpi-3-b"), ("rpi4", "bcm2711-rpi-4-b"),
           ("bbb", "beaglebone-black"), ("hikey", "hi6220-hikey-r2"),
           ("db410c", "dragonboard-410c"), ("kvm", "qemu")]
ACTIONS = {"qemu": ["tmpfs-deploy", "execute-qemu", "auto-login-action", "lava-test-shell"],
           "docker": ["deploy-docker", "boot-docker", "lava-test-shell"],
           "ipxe": ["tftp-deploy", "bootloader-from-media", "bootloader-commands",
                    "lava-test-shell"],
           "uboot": ["tftp-deploy", "uboot-action", "uboot-commands", "auto-login-action",
                     "lava-test-shell"],
           "fastboot": ["fastboot-deploy", "fastboot-boot", "auto-login-action",
                        "lava-test-shell"]}
# suite base name, measured?, cases (low, high)
TESTDEFS = [("smoke-tests", False, (6, 12)), ("ltp-syscalls", False, (20, 80)),
            ("ltp-math", False, (10, 40)), ("kselftest-net", False, (15, 60)),
            ("boot-timing", True, (4, 10)), ("iperf", True, (3, 6)),
            ("dd-speed", True, (2, 4)), ("ptest", False, (20, 70))]
KERNELS = ["v6.1", "v6.1.7", "v6.2-rc5", "next-20230120", "v5.15.89", "v5.10.164", "v6.0.19"]
PLANS = ["smoke", "ltp", "kselftest", "perf", "boot", "ptest", "sanity"]
ERRORS = ["Infrastructure", "Job", "Test", "Bug", "Configuration"]
RESULT = {r.display: int(r) for r in TestResult}


def stored(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def pick(rnd: random.Random, pairs: list[tuple[object, float]]) -> object:
    total = sum(w for _, w in pairs)
    x = rnd.uniform(0, total)
    for value, weight in pairs:
        x -= weight
        if x <= 0:
            return value
    return pairs[-1][0]


# -- stored forms -----------------------------------------------------------------------------
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
_SCALARS: dict[str, str | None] = {}


def _scalar(value: str) -> str | None:
    """How the dumper writes ``value`` as a mapping value on one line (None: not so)."""
    if _PLAIN.match(value) and value.lower() not in _SPECIAL:
        return value
    if _NUMBER.match(value):
        return "'%s'" % value
    if value not in _SCALARS:
        text = yaml_dump({"k": value})
        _SCALARS[value] = text[3:-1] if text.count("\n") == 1 else None
    return _SCALARS[value]


def metadata_text(pairs: list[tuple[str, str]]) -> str:
    """``yaml_dump(dict(pairs))`` (lavad's stored metadata), formatted directly when
    every value fits on its line; checked against the dumper in :func:`check`."""
    parts = []
    for key, value in pairs:
        text = _scalar(value)
        if text is None:
            return yaml_dump(dict(pairs))
        parts.append("%s: %s\n" % (key, text))
    return "".join(parts)


def measurement_text(value: float) -> str:
    return "%.10f" % value


def definition_text(rnd: random.Random, dtype: str, family: str, name: str, priority: object,
                    visibility: object, tags: list[str], tests: list[str]) -> str:
    lines = ["device_type: %s" % dtype, "job_name: '%s'" % name, "timeouts:", "  job:",
             "    minutes: %d" % rnd.choice([15, 30, 45, 60]), "  action:", "    minutes: 5",
             "  connection:", "    minutes: 2", "priority: %s" % priority]
    if isinstance(visibility, dict):
        lines += ["visibility:", "  group:"] + ["  - %s" % g for g in visibility["group"]]
    else:
        lines.append("visibility: %s" % visibility)
    if tags:
        lines += ["tags:"] + ["- %s" % t for t in tags]
    lines += ["metadata:", "  kernel.version: %s" % rnd.choice(KERNELS),
              "  build.id: '%d'" % rnd.randint(1000, 99999),
              "  source: https://ci.example.org/job/%d" % rnd.randint(1, 9999),
              "actions:", "- deploy:", "    to: %s" % {"qemu": "tmpfs", "docker": "docker",
                                                     "fastboot": "fastboot"}.get(family, "tftp"),
              "    images:", "      rootfs:",
              "        url: https://images.example.org/%s/rootfs.img.xz" % dtype,
              "        compression: xz", "- boot:",
              "    method: %s" % {"uboot": "u-boot"}.get(family, family),
              "    prompts:", "    - 'root@debian:'"]
    if tests:
        lines += ["- test:", "    timeout:", "      minutes: 20", "    definitions:"]
        for test in tests:
            lines += ["    - repository: https://git.example.org/test-definitions.git",
                      "      from: git", "      path: automated/linux/%s/%s.yaml" % (test, test),
                      "      name: %s" % test]
    return "\n".join(lines) + "\n"


class Log:
    """A job log being written: LAVA's one-line records and their start offsets."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.lines: list[bytes] = []

    def add(self, level: str, msg: object) -> int:
        dt = stored(self.start + timedelta(milliseconds=50 * len(self.lines)))
        if isinstance(msg, dict):
            text = "{%s}" % ", ".join('"%s": "%s"' % kv for kv in msg.items())
        else:
            text = json.dumps(msg)
        self.lines.append(('- {"dt": "%s", "lvl": "%s", "msg": %s}\n'
                           % (dt, level, text)).encode())
        return len(self.lines) - 1

    def write(self, directory: str) -> int:
        os.makedirs(directory, exist_ok=True)
        offsets, at = [], 0
        for line in self.lines:
            offsets.append(struct.pack(INDEX_FORMAT, at))
            at += len(line)
        with open(os.path.join(directory, "output.yaml"), "wb") as out:
            out.writelines(self.lines)
        with open(os.path.join(directory, "output.idx"), "wb") as out:
            out.writelines(offsets)
        return len(self.lines)


# -- the builder --------------------------------------------------------------------------------
class Builder:
    def __init__(self, data_dir: str, seed: int) -> None:
        self.data_dir = data_dir
        self.rnd = random.Random(seed)
        path = os.path.join(data_dir, "lavad.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        self.conn = open_database(path)
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("BEGIN")
        self.jobs: list[tuple] = []
        self.suites: list[tuple] = []
        self.cases: list[tuple] = []
        self.job_tags: list[tuple] = []
        self.job_groups: list[tuple] = []
        self.job_failure_tags: list[tuple] = []
        self.suite_id = 0
        self.case_id = 0
        self.logs: dict[int, int] = {}
        self.now = stored(BASE)

    def token(self) -> str:
        return "".join(self.rnd.choices(ALNUM, k=32))

    def many(self, sql: str, rows: list[tuple]) -> None:
        self.conn.executemany(sql, rows)

    # reference data
    def reference(self) -> None:
        rnd = self.rnd
        self.user_ids = {}
        for uid, (name, _) in enumerate(USERS, 1):
            password = hash_password(ADMIN_PASSWORD) if name == ADMIN else "!unusable"
            self.conn.execute(
                "INSERT INTO users (id, username, password, email, is_active, is_staff,"
                " is_superuser, date_joined) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (uid, name, password, "%s@example.com" % name, int(name == ADMIN),
                 int(name == ADMIN), stored(BASE - timedelta(days=400))))
            self.user_ids[name] = uid
        self.conn.execute("INSERT INTO groups (id, name) VALUES (1, 'lab-staff')")
        self.many("INSERT INTO user_groups VALUES (?, 1)",
                  [(self.user_ids["alice"],), (self.user_ids["bob"],)])
        self.admin_token = new_api_secret()
        self.conn.execute("INSERT INTO auth_tokens (user_id, secret, description, created_on)"
                          " VALUES (?, ?, 'bench', ?)",
                          (self.user_ids[ADMIN], self.admin_token, self.now))
        self.many("INSERT INTO workers (hostname, description, state, health, last_ping,"
                  " job_limit, version, token) VALUES (?, ?, ?, ?, ?, 0, '2023.01', ?)",
                  [(host, desc,
                    int(WorkerState.OFFLINE if host == "worker04" else WorkerState.ONLINE),
                    int(WorkerHealth.MAINTENANCE if host == "worker04"
                        else WorkerHealth.ACTIVE), self.now, self.token())
                   for host, desc in WORKERS])
        self.many("INSERT INTO tags (id, name, description) VALUES (?, ?, ?)",
                  [(i, name, None if i % 3 == 0 else "%s attached" % name)
                   for i, name in enumerate(TAGS, 1)])
        self.many("INSERT INTO job_failure_tags (id, name) VALUES (?, ?)",
                  list(enumerate(FAILURE_TAGS, 1)))
        self.many("INSERT INTO architectures VALUES (?)", [(a,) for a in ARCH])
        self.many("INSERT INTO processor_families VALUES (?)", [(p,) for p, _ in ARCH.values()])
        self.many("INSERT INTO bit_widths VALUES (?)", [(32,), (64,)])
        types, devices, device_tags = [], [], []
        health = [DeviceHealth.GOOD] * 40 + [DeviceHealth.UNKNOWN] * 4 + \
            [DeviceHealth.MAINTENANCE] * 3 + [DeviceHealth.BAD]
        self.devices: dict[str, list[tuple[str, set[int]]]] = {}
        for i, (name, family, arch, count, worker, _w) in enumerate(DEVICE_TYPES):
            proc, bits = ARCH[arch]
            types.append((name, arch, proc, None if family in ("qemu", "docker")
                          else "%s-soc" % arch, bits, [1, 2, 4, 8][i % 4],
                          "%s board" % name, [24, 48, 100][i % 3], int(family == "docker"),
                          int(HealthDenominator.jobs if i % 3 == 2 else HealthDenominator.hours)))
            self.devices[name] = []
            for n in range(1, count + 1):
                host = "%s-%02d" % (name, n)
                tags = set(rnd.sample(range(1, len(TAGS) + 1), rnd.choice([0, 1, 1, 2, 3])))
                devices.append((host, name, None if family in ("qemu", "docker")
                                else "rev%d" % (n % 3 + 1),
                                "%s #%d in %s" % (name, n, worker) if n % 2 else None,
                                int(rnd.choice(health)), worker,
                                "{%% extends '%s.jinja2' %%}\n{%% set connection_command ="
                                " 'telnet %s 70%02d' %%}\n" % (name, worker, n)))
                device_tags += [(host, t) for t in sorted(tags)]
                self.devices[name].append((host, tags))
        self.many("INSERT INTO device_types (name, architecture, processor, cpu_model, bits,"
                  " core_count, description, health_frequency, disable_health_check,"
                  " health_denominator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", types)
        self.many("INSERT INTO aliases VALUES (?, ?)", ALIASES)
        self.many("INSERT INTO devices (hostname, device_type, device_version, description,"
                  " state, health, worker_host, is_synced, dictionary)"
                  " VALUES (?, ?, ?, ?, 0, ?, ?, 0, ?)", devices)
        self.many("INSERT INTO device_tags VALUES (?, ?)", device_tags)

    # jobs
    def job(self, dtype: str, golden: str | None = None, health: int | None = None,
            start_gap: bool = True) -> dict:
        rnd = self.rnd
        family = next(d[1] for d in DEVICE_TYPES if d[0] == dtype)
        job_id = len(self.jobs) + 1
        user = ADMIN if golden else pick(rnd, USERS)
        if health is None:
            health = int(pick(rnd, [(JobHealth.COMPLETE, 75), (JobHealth.INCOMPLETE, 18),
                                    (JobHealth.CANCELED, 7)]))
        priority = pick(rnd, [("medium", 60), ("low", 20), ("high", 15), (75, 3), (25, 2)])
        numeric = {"low": 0, "medium": 50, "high": 100}.get(priority, priority)
        visibility: object = "public"
        if not golden:
            visibility = pick(rnd, [("public", 95), ("personal", 3),
                                    ({"group": ["lab-staff"]}, 2)])
        tagged = [d for d in self.devices[dtype] if d[1]]
        tags: list[int] = []
        if tagged and not golden and rnd.random() < 0.2:
            tags = sorted(rnd.choice(tagged)[1])[:rnd.randint(1, 2)]
        chosen = rnd.sample(TESTDEFS, rnd.choice([1, 1, 2, 2, 3]))
        tests = ["%d_%s" % (k, t[0]) for k, t in enumerate(chosen)]
        if golden == "small":
            tests, name = ["0_smoke-tests", "1_benchmark"], SMALL_DESC
        elif golden == "big":
            tests, name = ["0_ltp-syscalls", "1_ltp-math", "2_kselftest"], BIG_DESC
        elif golden:
            tests, name = ["0_ltp-syscalls", "1_ltp-math", "2_kselftest"], golden
        else:
            name = "%s %s %s #%d" % (rnd.choice(PLANS), rnd.choice(KERNELS), dtype, job_id)
        text = definition_text(rnd, dtype, family, name, priority, visibility,
                               [TAGS[t - 1] for t in tags], [t.split("_", 1)[1] for t in tests])
        submit = self.t0 + self.step * (job_id - 1) + timedelta(seconds=rnd.randint(0, 600))
        queued = timedelta(seconds=rnd.randint(5, 3600))
        runtime = timedelta(seconds=rnd.randint(60, 3600))
        start = None if health == JobHealth.CANCELED and rnd.random() < 0.3 and not golden \
            else submit + queued
        end = (start or submit + queued) + runtime
        candidates = [h for h, t in self.devices[dtype] if set(tags) <= t]
        device = rnd.choice(candidates) if start else None
        health_check = int(not golden and not tags and rnd.random() < 0.04)
        metadata = {"source": "https://ci.example.org/job/%d" % rnd.randint(1, 9999),
                    "build.id": str(rnd.randint(1000, 99999)),
                    "kernel.version": rnd.choice(KERNELS)}
        failure = None
        if health == JobHealth.INCOMPLETE:
            failure = rnd.choice(["Infrastructure error: Unable to connect to device",
                                  "Job error: timed out after 300 seconds",
                                  "Test error: lava-test-shell timed out"])
            if rnd.random() < 0.3:
                self.job_failure_tags.append((job_id, rnd.randint(1, len(FAILURE_TAGS))))
        is_public = int(visibility == "public")
        if isinstance(visibility, dict):
            is_public = 0
            self.job_groups.append((job_id, 1))
        self.job_tags += [(job_id, t) for t in tags]
        self.jobs.append((job_id, self.user_ids[str(user)], is_public, name, health_check,
                          dtype, device, stored(submit), stored(start) if start else None,
                          stored(end), int(JobState.FINISHED), health, int(numeric), text,
                          text, self.token(), json.dumps(metadata), failure))
        return {"id": job_id, "family": family, "health": health, "tests": tests,
                "start": start, "submit": submit, "end": end}

    def results(self, job: dict, results: list[dict], with_log: bool = False) -> int:
        """Store ``results`` (lava-run's ``results`` messages) as lavad stores them."""
        log = Log(job["start"] or job["submit"]) if with_log else None
        if log is not None:
            log.add("info", "lava-dispatcher, installed at version: 2023.01")
            log.add("info", "start: 0 validate")
        suites: dict[str, int] = {}
        first = self.case_id + 1
        for r in results:
            suite = r["definition"]
            if suite not in suites:
                self.suite_id += 1
                suites[suite] = self.suite_id
                self.suites.append((self.suite_id, job["id"], suite))
            start_line = end_line = None
            if log is not None and suite != "lava":
                start_line = log.add("target", "<LAVA_SIGNAL_STARTTC %s>" % r["case"])
                log.add("target", "+ ./run-test %s" % r["case"])
                if r["result"] == "fail":
                    log.add("target", "%s: assertion failed (expected 0, got 1)" % r["case"])
                log.add("target", "<LAVA_SIGNAL_ENDTC %s>" % r["case"])
                end_line = log.add("results", {"definition": suite, "case": r["case"],
                                               "result": r["result"]})
            self.case_id += 1
            if suite == "lava":
                measurement = measurement_text(float(r["duration"])) if "duration" in r \
                    else None
                units = "seconds" if "duration" in r else ""
            else:
                measurement = measurement_text(float(r["measurement"])) \
                    if "measurement" in r else None
                units = r.get("units", "")
            offset = timedelta(milliseconds=250 * (self.case_id - first))
            logged = min(job["end"], (job["start"] or job["submit"]) + offset)
            metadata = metadata_text(list(r.items()))
            self.cases.append((self.case_id, suites[suite], r["case"], RESULT[r["result"]],
                               measurement, units, metadata, printed_metadata(metadata),
                               verbatim(metadata), start_line, end_line, stored(logged)))
        if log is not None:
            log.add("info", "Job finished")
            self.logs[job["id"]] = log.write(job_dir(self.data_dir, job["id"]))
        return len(results)

    def lava_suite(self, family: str, health: int, actions: int | None = None) -> list[dict]:
        rnd = self.rnd
        out = [{"definition": "lava", "case": "validate", "result": "pass"}]
        for level, action in enumerate(ACTIONS[family][:actions], 1):
            out.append({"definition": "lava", "case": action, "result": "pass",
                        "level": "%d" % level, "namespace": "common",
                        "duration": "%.2f" % rnd.uniform(0.2, 120),
                        "timeout": "%d" % rnd.choice([120, 300, 600])})
        if health == JobHealth.INCOMPLETE:
            out[-1]["result"] = "fail"
            kind = rnd.choice(ERRORS)
            out.append({"definition": "lava", "case": "job", "result": "fail",
                        "error_type": kind, "error_msg": "%s error: %s" % (kind, rnd.choice(
                            ["timed out after 300 seconds", "Unable to connect to device",
                             "kernel panic", "bootloader did not respond"]))})
        elif health == JobHealth.CANCELED:
            out.append({"definition": "lava", "case": "job", "result": "fail",
                        "error_type": "Canceled", "error_msg": "Canceled by user"})
        else:
            out.append({"definition": "lava", "case": "job", "result": "pass"})
        return out

    def suite_results(self, suite: str, measured: bool, count: int,
                      fail_rate: float = 0.05) -> list[dict]:
        rnd = self.rnd
        out = []
        base = suite.split("_", 1)[1]
        for k in range(count):
            r = {"definition": suite, "case": "%s-%03d" % (base, k + 1),
                 "result": pick(rnd, [("pass", 1 - fail_rate - 0.04), ("fail", fail_rate),
                                      ("skip", 0.03), ("unknown", 0.01)])}
            if measured and r["result"] == "pass":
                r["measurement"] = "%.3f" % rnd.uniform(1, 5000)
                r["units"] = rnd.choice(["ms", "MB/s", "Mbits/sec", "seconds"])
            out.append(r)
        return out

    def big_results(self, total: int) -> list[dict]:
        out = self.lava_suite("qemu", int(JobHealth.COMPLETE))
        rest = total - len(out)
        sizes = [int(rest * 0.45), int(rest * 0.15)]
        sizes.append(rest - sum(sizes))
        for name, n in zip(["0_ltp-syscalls", "1_ltp-math", "2_kselftest"], sizes):
            out += self.suite_results(name, False, n, fail_rate=0.03)
        return out

    def lab(self, n_jobs: int, total_cases: int, big_cases: int) -> dict:
        rnd = self.rnd
        self.t0 = BASE - timedelta(days=180)
        self.step = timedelta(days=180) / n_jobs
        small = self.job("qemu", "small", int(JobHealth.COMPLETE))
        big = self.job("qemu", "big", int(JobHealth.COMPLETE))
        weights = [(d[0], d[5]) for d in DEVICE_TYPES]
        others = [self.job(str(pick(rnd, weights))) for _ in range(n_jobs - 2)]
        total = self.results(small, [
            {"definition": "0_smoke-tests", "case": "linux-posix-pwd", "result": "pass"},
            {"definition": "0_smoke-tests", "case": "linux-posix-uname", "result": "pass"},
            {"definition": "0_smoke-tests", "case": "linux-posix-vmstat", "result": "fail"},
            {"definition": "0_smoke-tests", "case": "linux-posix-ifconfig", "result": "skip"},
            {"definition": "0_smoke-tests", "case": "linux-posix-lsb_release",
             "result": "unknown"},
            {"definition": "1_benchmark", "case": "boot-time", "result": "pass",
             "measurement": "12.345", "units": "seconds"},
            {"definition": "1_benchmark", "case": "dd-write-speed", "result": "pass",
             "measurement": "87.5", "units": "MB/s"},
            {"definition": "1_benchmark", "case": "iperf-tcp", "result": "fail",
             "measurement": "0", "units": "Mbits/sec"}], with_log=True)
        total += self.results(big, self.big_results(big_cases), with_log=True)
        # test-definition case counts, scaled so the whole lands near total_cases
        plans = []
        for job in others:
            if job["start"] is None:
                plans.append(None)
                continue
            counts = []
            for test in job["tests"]:
                _, measured, (low, high) = next(t for t in TESTDEFS
                                                if t[0] == test.split("_", 1)[1])
                counts.append((test, measured, rnd.randint(low, high)))
            if job["health"] != JobHealth.COMPLETE:
                counts = counts[:1] if rnd.random() < 0.5 else []
            plans.append(counts)
        lava_cases = sum(len(ACTIONS[j["family"]]) + 2 for j, p in zip(others, plans)
                         if p is not None)
        raw = sum(n for p in plans if p for _, _, n in p) or 1
        scale = max(total_cases - total - lava_cases, 0) / raw
        for job, counts in zip(others, plans):
            if counts is None:
                continue
            results = self.lava_suite(
                job["family"], job["health"],
                None if job["health"] == JobHealth.COMPLETE
                else rnd.randint(1, len(ACTIONS[job["family"]])))
            for test, measured, n in counts:
                results += self.suite_results(test, measured, max(1, round(n * scale)))
            total += self.results(job, results)
        return {"golden_job": small["id"], "big_job": big["id"]}

    def finish(self) -> None:
        self.many("INSERT INTO test_jobs (id, submitter_id, is_public, description, health_check,"
                  " requested_device_type, actual_device, submit_time, start_time, end_time,"
                  " state, health, priority, definition, original_definition, token, metadata,"
                  " failure_comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                  " ?)", self.jobs)
        self.many("UPDATE test_jobs SET log_lines = ? WHERE id = ?",
                  [(n, job_id) for job_id, n in self.logs.items()])
        self.many("INSERT INTO test_job_tags VALUES (?, ?)", self.job_tags)
        self.many("INSERT INTO test_job_viewing_groups VALUES (?, ?)", self.job_groups)
        self.many("INSERT OR IGNORE INTO test_job_failure_tags VALUES (?, ?)",
                  self.job_failure_tags)
        self.many("INSERT INTO test_suites (id, job_id, name) VALUES (?, ?, ?)", self.suites)
        self.many("INSERT INTO test_cases (id, suite_id, name, result, measurement, units,"
                  " metadata, printed_metadata, yaml_verbatim, start_log_line, end_log_line,"
                  " logged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.cases)
        # devices' last health report: their latest health-check job
        self.conn.execute(
            "UPDATE devices SET last_health_report_job = (SELECT max(id) FROM test_jobs j"
            " WHERE j.health_check = 1 AND j.actual_device = devices.hostname)")
        self.conn.execute("COMMIT")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def counts(self) -> dict:
        one = lambda sql: self.conn.execute(sql).fetchone()[0]
        return {"jobs": one("SELECT count(*) FROM test_jobs"),
                "suites": one("SELECT count(*) FROM test_suites"),
                "testcases": one("SELECT count(*) FROM test_cases"),
                "devices": one("SELECT count(*) FROM devices"),
                "device_types": one("SELECT count(*) FROM device_types"),
                "workers": one("SELECT count(*) FROM workers"),
                "tags": one("SELECT count(*) FROM tags")}


def check(rows: list[tuple]) -> None:
    """The directly formatted metadata equals lavad's dumper on a sample."""
    for row in rows[:: max(1, len(rows) // 500)]:
        text = row[6]
        assert yaml_dump(yaml.safe_load(text)) == text, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="lavad data directory (created)")
    parser.add_argument("--ids", required=True, help="where to write the ids JSON")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=200000)
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=20230123)
    args = parser.parse_args(argv)
    started = time.monotonic()
    os.makedirs(args.data_dir, exist_ok=True)
    builder = Builder(args.data_dir, args.seed)
    builder.reference()
    ids = builder.lab(args.jobs, args.cases, args.big)
    check(builder.cases)
    builder.finish()
    ids.update(builder.counts())
    ids["big_job_cases"] = args.big
    ids["device"] = "%s-01" % FILTER_TYPE
    ids["device_type"] = ids["filter_device_type"] = FILTER_TYPE
    ids.update({"admin_user": ADMIN, "admin_password": ADMIN_PASSWORD,
                "admin_token": builder.admin_token, "data_dir": os.path.abspath(args.data_dir)})
    with open(args.ids, "w") as out:
        json.dump(ids, out, indent=1, sort_keys=True)
    builder.conn.close()
    print("dataset built in %.1f s: %d jobs, %d suites, %d test cases"
          % (time.monotonic() - started, ids["jobs"], ids["suites"],
             ids["testcases"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
