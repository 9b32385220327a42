#!/usr/bin/env python3
"""How much memory the server needs to export a job: 1,000 cases vs 100,000 cases.

For each size, a store is built in a temporary directory (one finished public
job: a ``lava`` suite and a test suite of ``size`` cases with pass, fail, skip
and unknown results, measurements, metadata, test sets, failed cases pointing
at log lines, and a log of ``2 * size`` lines), written with ``executemany``.
A lavad HTTP server (the real root resource over the real store thread) is
started as a subprocess on a loopback port; every export of the job is
downloaded in turn and the server's peak resident memory is read from
``/proc/<pid>/status`` (``VmHWM``, reset before each download through
``/proc/<pid>/clear_refs`` when the kernel allows it).  The growth of the peak
over the resident size before the download is reported per export and size.

Streaming keeps that growth flat: the check fails (exit status 1) when an
export of the big job needs more than ``--slack`` MiB over the same export of
the small job.

    .venv/bin/python bench/export_memory.py                 # 1,000 and 100,000 cases
    .venv/bin/python bench/export_memory.py --sizes 1000,20000 --slack 16

Linux only (``/proc``).  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

EXPORTS = [
    ("csv", "/api/v0.2/jobs/{job}/csv/"),
    ("yaml", "/api/v0.2/jobs/{job}/yaml/"),
    ("junit", "/api/v0.2/jobs/{job}/junit/"),
    ("tap13", "/api/v0.2/jobs/{job}/tap13/"),
    ("suite yaml", "/api/v0.2/jobs/{job}/suites/{suite}/yaml/"),
    ("results csv", "/results/{job}/csv"),
    ("results yaml", "/results/{job}/yaml"),
    ("log", "/api/v0.2/jobs/{job}/logs/"),
]
LOGGED = "2026-07-01T12:00:00.123456"


# -- the store ------------------------------------------------------------------------------
def build(data_dir: str, size: int) -> dict:
    """A store in ``data_dir`` with a warm-up job (10 cases) and the measured job."""
    from lavad.logs import JobLog
    from lavad.service import DATABASE_NAME
    from lavad.store.schema import open_database

    conn = open_database(os.path.join(data_dir, DATABASE_NAME))
    conn.execute("BEGIN")
    user = conn.execute("INSERT INTO users (username, password, date_joined) VALUES"
                        " ('bench', '!', ?)", (LOGGED,)).lastrowid
    conn.execute("INSERT INTO device_types (name) VALUES ('qemu')")
    ids = {}
    for name, count in (("warmup", 10), ("measured", size)):
        job = conn.execute(
            "INSERT INTO test_jobs (submitter_id, is_public, description, requested_device_type,"
            " submit_time, start_time, end_time, state, health, definition, token)"
            " VALUES (?, 1, ?, 'qemu', ?, ?, ?, 5, 1, 'job_name: bench', 'token')",
            (user, name, LOGGED, LOGGED, "2026-07-01T13:00:00.000000")).lastrowid
        lava = conn.execute("INSERT INTO test_suites (job_id, name) VALUES (?, 'lava')",
                            (job,)).lastrowid
        suite = conn.execute("INSERT INTO test_suites (job_id, name) VALUES (?, '1_smoke')",
                             (job,)).lastrowid
        test_set = conn.execute("INSERT INTO test_sets (suite_id, name) VALUES (?, 'set1')",
                                (suite,)).lastrowid
        conn.executemany(
            "INSERT INTO test_cases (suite_id, name, result, measurement, units, metadata,"
            " logged) VALUES (?, ?, 0, ?, 'seconds', ?, ?)",
            ((lava, "action-%d" % n, "%d.5000000000" % n,
              "case: action-%d\ndefinition: lava\nduration: '%d.50'\nlevel: '%d'\n"
              "result: pass\n" % (n, n, n), LOGGED) for n in range(10)))
        lines = 2 * count
        conn.executemany(
            "INSERT INTO test_cases (suite_id, test_set_id, name, result, measurement, units,"
            " metadata, start_log_line, end_log_line, logged)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((suite, test_set if n % 5 == 0 else None, "case-%06d" % n, n % 4,
              "%d.2500000000" % n if n % 3 == 0 else None, "ms" if n % 3 == 0 else "",
              "case: case-%06d\ndefinition: 1_smoke\nresult: %s\nlevel: 3.%d\n"
              % (n, ("pass", "fail", "skip", "unknown")[n % 4], n),
              2 * n if n % 4 == 1 else None, 2 * n + 2 if n % 4 == 1 else None, LOGGED)
             for n in range(count)))
        log = JobLog.for_job(data_dir, job)
        for start in range(0, lines, 10000):
            log.append(('- {"dt": "2026-07-01T12:00:00.%06d", "lvl": "target", "msg":'
                        ' "line %d of the console"}\n' % (n % 1000000, n)).encode()
                       for n in range(start, min(lines, start + 10000)))
        conn.execute("UPDATE test_jobs SET log_lines = ? WHERE id = ?", (lines, job))
        ids[name] = {"job": job, "suite": suite}
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return ids


# -- the server (a subprocess) ---------------------------------------------------------------
def serve(data_dir: str) -> None:
    """Serve ``data_dir`` on a loopback port; print ``PORT <n>`` once listening."""
    from types import SimpleNamespace

    from twisted.internet import reactor
    from twisted.internet.defer import ensureDeferred
    from twisted.web.server import Site

    from lavad.config import load_settings
    from lavad.events import EventBus
    from lavad.files import LabFiles
    from lavad.http.root import build_root
    from lavad.lab import Lab
    from lavad.service import DATABASE_NAME
    from lavad.store.thread import StoreThread

    store = StoreThread(reactor, os.path.join(data_dir, DATABASE_NAME), EventBus())

    async def start() -> None:
        await store.start()
        owner = SimpleNamespace(lab=Lab(store), settings=load_settings({"data_dir": data_dir}),
                                files=LabFiles(data_dir, [data_dir]))
        port = reactor.listenTCP(0, Site(build_root(owner, reactor)), interface="127.0.0.1")
        print("PORT %d" % port.getHost().port, flush=True)

    def started() -> None:
        ensureDeferred(start()).addErrback(lambda f: (f.printTraceback(), reactor.stop()))

    reactor.callWhenRunning(started)
    reactor.addSystemEventTrigger("before", "shutdown", store.stop)
    reactor.run()


# -- measuring ----------------------------------------------------------------------------------
def status_kib(pid: int, key: str) -> int:
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid: int) -> bool:
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def download(url: str) -> tuple[int, float]:
    started = time.monotonic()
    total = 0
    with urllib.request.urlopen(url, timeout=600) as response:
        while True:
            data = response.read(65536)
            if not data:
                break
            total += len(data)
    return total, time.monotonic() - started


def measure(size: int, keep: str | None) -> list[dict]:
    data_dir = tempfile.mkdtemp(prefix="lavad-export-memory-")
    try:
        t0 = time.monotonic()
        ids = build(data_dir, size)
        print("built a job with %d cases in %.1f s" % (size, time.monotonic() - t0), flush=True)
        server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve",
                                   data_dir], stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline() if server.stdout else ""
            if not line.startswith("PORT "):
                raise SystemExit("the server did not start")
            base = "http://127.0.0.1:%d" % int(line.split()[1])
            for _, path in EXPORTS:  # warm-up: every code path imported and run once
                download(base + path.format(**ids["warmup"]))
            rows = []
            for name, path in EXPORTS:
                before = status_kib(server.pid, "VmRSS")
                exact = reset_peak(server.pid)
                size_bytes, seconds = download(base + path.format(**ids["measured"]))
                peak = status_kib(server.pid, "VmHWM")
                rows.append({"size": size, "export": name, "bytes": size_bytes,
                             "seconds": round(seconds, 2), "rss_before_kib": before,
                             "peak_growth_kib": max(0, peak - before), "exact_peak": exact})
                print("  %-13s %11d bytes %7.2f s  peak +%7.1f MiB" % (
                    name, size_bytes, seconds, max(0, peak - before) / 1024), flush=True)
            return rows
        finally:
            server.terminate()
            server.wait(timeout=60)
    finally:
        if keep:
            shutil.copytree(data_dir, os.path.join(keep, "size-%d" % size), dirs_exist_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000",
                        help="case counts to compare, smallest first (default 1000,100000)")
    parser.add_argument("--slack", type=float, default=32.0,
                        help="MiB an export of the biggest job may need over the smallest's")
    parser.add_argument("--json", help="also write the measurements to this file")
    parser.add_argument("--keep", help="copy each data directory here")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if not os.path.exists("/proc/self/status"):
        parser.error("this benchmark reads /proc (Linux only)")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for size in sizes:
        print("== %d cases" % size, flush=True)
        rows += measure(size, args.keep)
    small, big = min(sizes), max(sizes)
    growth = {(r["size"], r["export"]): r["peak_growth_kib"] / 1024 for r in rows}
    failed = []
    print("\n%-13s %12s %12s %10s" % ("export", "%d cases" % small, "%d cases" % big, "verdict"))
    for name, _ in EXPORTS:
        extra = growth[(big, name)] - growth[(small, name)]
        verdict = "ok" if extra <= args.slack else "GROWS"
        if verdict != "ok":
            failed.append(name)
        print("%-13s %9.1f MiB %9.1f MiB %10s" % (name, growth[(small, name)],
                                                    growth[(big, name)], verdict))
    if not all(r["exact_peak"] for r in rows):
        print("(the kernel refused to reset VmHWM: peaks are since the server started)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)
    if failed:
        print("memory grows with the job for: %s" % ", ".join(failed))
        return 1
    print("peak memory does not grow with the job (slack %.0f MiB)" % args.slack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
