#!/usr/bin/env python3
"""The benchmark's load client: one request mix against any LAVA-compatible server.

Runs the rows of the issue against ``--base`` (lavad or LAVA 2023.01), each at
concurrency 1 and 8 for a bounded time, and prints requests/s, p50 and p99
latency (time to last byte), body bytes and status per row; while each run
goes on it samples the resident memory (RSS and PSS, from /proc) of the server
processes given with ``--pids`` (idle before, idle after the warm-up, peak per
run).  Then, optionally:

* ``stall``: the job detail's latency, one client, while 4 clients download
  the four exports of the 10,000-case job without pause (a long export must
  not hold other requests up);
* ``events``: ``--subscribers`` websocket (``--ws``) and ZMQ (``--zmq``)
  subscribers connected at once, then ``--events`` job submissions (one
  ``testjob`` event each) sent by 8 clients; it reports the events delivered
  per second (to all subscribers together) and how many were lost.

Fast rows are driven by ``wrk`` when it is installed (keep-alive, ``-t1 -c1`` and
``-t2 -c8``, its latency percentiles), else by the threaded client that drives
the exports: keep-alive ``http.client`` loops that read whole bodies and never
start a request whose previous latency says it would end after the deadline.
Only loopback addresses are accepted.  Results go to ``--out`` (JSON).

    .venv/bin/python bench/load.py --base http://127.0.0.1:8000 --ids ids.json \\
        --pids 1234 --ws ws://127.0.0.1:8000/ws/ --zmq tcp://127.0.0.1:5500 --out r.json
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xmlrpc.client
from typing import Any

SUBMIT = """device_type: qemu
job_name: bench-submit
timeouts:
  job:
    minutes: 10
  action:
    minutes: 5
priority: medium
visibility: public
actions:
- deploy:
    to: tmpfs
    images:
      rootfs:
        image_arg: -drive format=raw,file={rootfs}
        url: https://images.example.org/kvm/debian-bookworm.img.gz
        compression: gz
- boot:
    method: qemu
    media: tmpfs
    prompts:
    - 'root@debian:'
"""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# -- memory ---------------------------------------------------------------------------------------
def _kib(path: str, field: str) -> int:
    try:
        with open(path) as stream:
            for line in stream:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pids: list[int]) -> dict[str, float]:
    """RSS and PSS (MiB) of ``pids`` together."""
    rss = sum(_kib("/proc/%d/status" % p, "VmRSS") for p in pids)
    pss = sum(_kib("/proc/%d/smaps_rollup" % p, "Pss") for p in pids)
    return {"rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1), "n": len(pids)}


class Sampler(threading.Thread):
    """Peak RSS/PSS of ``pids`` while it runs (a sample every ``every`` seconds)."""

    def __init__(self, pids: list[int], every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.peak = {"rss_mib": 0.0, "pss_mib": 0.0, "n": len(pids)}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = memory(self.pids)
            for key in ("rss_mib", "pss_mib"):
                self.peak[key] = max(self.peak[key], now[key])
            self._stop_event.wait(self.every)

    def finish(self) -> dict[str, float]:
        self._stop_event.set()
        self.join()
        return self.peak


# -- HTTP -------------------------------------------------------------------------------------------
class Target:
    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        if parts.hostname not in LOOPBACK:
            raise SystemExit("load.py only sends requests to loopback addresses")
        self.base = base.rstrip("/")
        self.host, self.port = parts.hostname, parts.port or 80

    def connect(self, timeout: float = 120) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def once(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        conn = self.connect()
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        data = answer.read()
        elapsed = time.perf_counter() - started
        conn.close()
        return answer.status, data, elapsed


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def closed_loop(target: Target, method: str, path: str, clients: int, seconds: float,
                body: bytes | None = None, headers: dict[str, str] | None = None,
                stop: threading.Event | None = None) -> dict[str, Any]:
    """``clients`` keep-alive loops for ``seconds`` (or until ``stop``), whole bodies."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sizes: list[int] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    ends = [started]

    def client() -> None:
        conn = target.connect()
        previous = 0.0
        while time.perf_counter() + previous < deadline and not (stop and stop.is_set()):
            begin = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers or {})
                answer = conn.getresponse()
                data = answer.read()
                status: Any = answer.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = target.connect()
                data, status = b"", "error:%s" % type(exc).__name__
            end = time.perf_counter()
            previous = end - begin
            with lock:
                latencies.append(previous * 1000)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                sizes.append(len(data))
                ends[0] = max(ends[0], end)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = ends[0] - started
    return {"tool": "http.client", "requests": len(latencies), "wall_s": round(wall, 3),
            "rps": len(latencies) / wall if wall > 0 else 0.0,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies) if latencies else None,
            "bytes": statistics.median(sizes) if sizes else 0, "statuses": statuses,
            "non2xx": sum(n for s, n in statuses.items()
                          if not (s.isdigit() and 200 <= int(s) < 400))}


def _duration_ms(text: str) -> float:
    found = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    assert found, text
    return float(found.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[found.group(2)]


def wrk(target: Target, method: str, path: str, clients: int, seconds: float,
        body: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    script = ["wrk.method = %s" % json.dumps(method)]
    if body is not None:
        script.append("wrk.body = %s" % json.dumps(body.decode()))
    for name, value in (headers or {}).items():
        script.append("wrk.headers[%s] = %s" % (json.dumps(name), json.dumps(value)))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as stream:
        stream.write("\n".join(script) + "\n")
    command = ["wrk", "-t%d" % (1 if clients == 1 else 2), "-c%d" % clients,
               "-d%ds" % seconds, "--latency", "--timeout", "30s", "-s", stream.name,
               target.base + path]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False,
                             timeout=seconds + 60).stdout
    finally:
        os.unlink(stream.name)
    result: dict[str, Any] = {"tool": "wrk", "raw": out}
    found = re.search(r"(\d+) requests in", out)
    result["requests"] = int(found.group(1)) if found else 0
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(found.group(1)) if found else 0.0
    for pct in ("50", "99"):
        found = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.MULTILINE)
        result["p%s_ms" % pct] = _duration_ms(found.group(1)) if found else None
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(found.group(1)) if found else 0
    found = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = found.group(1) if found else None
    return result


# -- the mix ------------------------------------------------------------------------------------------
def rows(ids: dict[str, Any], token: str, user: str) -> list[tuple[Any, ...]]:
    """(key, label, method, path, body, headers, driver) of every row, in the baseline's
    order and with its keys."""
    small, big, dtype = ids["golden_job"], ids["big_job"], ids["filter_device_type"]
    auth = {"Authorization": "Token %s" % token}
    basic = "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()
    xml = {"Content-Type": "text/xml", "Authorization": basic}

    def rpc(method: str, *params: Any) -> bytes:
        return xmlrpc.client.dumps(params, method).encode()

    jobs = "/api/v0.2/jobs/"
    return [
        ("a", "GET /api/v0.2/jobs/ (first page, anonymous)", "GET", jobs, None, {}, "fast"),
        ("a_auth", "GET /api/v0.2/jobs/ (first page, admin token)", "GET", jobs, None, auth,
         "fast"),
        ("b", "GET /api/v0.2/jobs/?health=Complete&ordering=-submit_time&limit=50", "GET",
         jobs + "?health=Complete&ordering=-submit_time&limit=50", None, {}, "fast"),
        ("c", "GET /api/v0.2/jobs/?requested_device_type__name=%s" % dtype, "GET",
         jobs + "?requested_device_type__name=%s" % dtype, None, {}, "fast"),
        ("d", "GET /api/v0.2/jobs/<id>/ (detail)", "GET", "%s%d/" % (jobs, big), None, {},
         "fast"),
        ("e", "GET /api/v0.2/jobs/<id>/tests/?limit=100 (10k-case job)", "GET",
         "%s%d/tests/?limit=100" % (jobs, big), None, {}, "fast"),
        ("f_csv", "GET /api/v0.2/jobs/<10k>/csv/", "GET", "%s%d/csv/" % (jobs, big), None, {},
         "export"),
        ("f_yaml", "GET /api/v0.2/jobs/<10k>/yaml/", "GET", "%s%d/yaml/" % (jobs, big), None,
         {}, "export"),
        ("f_junit", "GET /api/v0.2/jobs/<10k>/junit/", "GET", "%s%d/junit/" % (jobs, big),
         None, {}, "export"),
        ("f_tap13", "GET /api/v0.2/jobs/<10k>/tap13/", "GET", "%s%d/tap13/" % (jobs, big),
         None, {}, "export"),
        ("g_show", "XML-RPC scheduler.jobs.show(<id>) (admin token)", "POST", "/RPC2",
         rpc("scheduler.jobs.show", big), xml, "fast"),
        ("g_yaml_small", "XML-RPC results.get_testjob_results_yaml(<8-case job>) (admin token)",
         "POST", "/RPC2", rpc("results.get_testjob_results_yaml", small), xml,
         "fast"),
        ("g_yaml_10k", "XML-RPC results.get_testjob_results_yaml(<10k job>) (admin token)",
         "POST", "/RPC2", rpc("results.get_testjob_results_yaml", big), xml, "export"),
        ("h", "POST /api/v0.2/jobs/ (submit minimal qemu job, admin token)", "POST", jobs,
         json.dumps({"definition": SUBMIT}).encode(),
         dict(auth, **{"Content-Type": "application/json"}), "submit"),
    ]


def obtain_token(target: Target, ids: dict[str, Any], user: str | None,
                 password: str | None) -> str:
    if ids.get("admin_token") and not password:
        return str(ids["admin_token"])
    form = urllib.parse.urlencode({"username": user or ids.get("admin_user", "admin"),
                                   "password": password or ids.get("admin_password", "")})
    status, data, _ = target.once("POST", "/api/v0.2/token/", form.encode(),
                                  {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit("cannot obtain a token: %s %r" % (status, data[:200]))
    return json.loads(data)["token"]


def run_mix(target: Target, mix: list[tuple[Any, ...]], args: argparse.Namespace,
            pids: list[int], results: dict[str, Any]) -> None:
    use_wrk = shutil.which("wrk") is not None and not args.no_wrk
    results["driver"] = "wrk + http.client" if use_wrk else "http.client"
    results["mem_idle_before"] = memory(pids)
    for key, _label, method, path, body, headers, driver in mix:
        if driver == "submit":
            continue
        warm = [threading.Thread(target=target.once, args=(method, path, body, headers))
                for _ in range(8 if driver == "fast" else 1)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
    results["mem_idle_warm"] = memory(pids)
    for key, label, method, path, body, headers, driver in mix:
        status, data, elapsed = target.once(method, path, body, headers)
        row: dict[str, Any] = {"key": key, "label": label, "method": method, "path": path,
                               "probe": {"status": status, "bytes": len(data),
                                         "ms": round(elapsed * 1000, 1)}}
        if path == "/RPC2" and b"<fault>" in data:
            row["probe"]["fault"] = data[:300].decode(errors="replace")
        for clients in (1, 8):
            time.sleep(args.pause)
            sampler = Sampler(pids)
            sampler.start()
            seconds = args.export_duration if driver in ("export", "submit") else args.duration
            if use_wrk and driver in ("fast", "submit"):
                run = wrk(target, method, path, clients, seconds, body, headers)
            else:
                run = closed_loop(target, method, path, clients, seconds, body, headers)
            run["mem_peak"] = sampler.finish()
            run.pop("raw", None)
            row["c%d" % clients] = run
            print("%-12s c=%d rps=%9.2f p50=%8.1fms p99=%8.1fms n=%-6d non2xx=%s bytes=%d "
                  "rss=%.0fMiB" % (key, clients, run["rps"], run["p50_ms"] or -1,
                                   run["p99_ms"] or -1, run["requests"], run["non2xx"],
                                   len(data), run["mem_peak"]["rss_mib"]), flush=True)
        results["rows"].append(row)
    time.sleep(args.pause)
    results["mem_idle_after"] = memory(pids)


def run_stall(target: Target, mix: list[tuple[Any, ...]], args: argparse.Namespace,
              pids: list[int], results: dict[str, Any]) -> None:
    """Job-detail latency alone, then while the four exports stream without pause."""
    by_key = {r[0]: r for r in mix}
    detail = by_key["d"]
    alone = closed_loop(target, "GET", detail[3], 1, args.stall_duration)
    stop = threading.Event()
    busy = []
    exporters = []
    sampler = Sampler(pids)
    sampler.start()
    for key in ("f_csv", "f_yaml", "f_junit", "f_tap13"):
        row = by_key[key]

        def export(row: tuple[Any, ...] = row) -> None:
            busy.append(closed_loop(target, "GET", row[3], 1, args.stall_duration + 60,
                                    stop=stop))
        thread = threading.Thread(target=export)
        thread.start()
        exporters.append(thread)
    time.sleep(0.5)
    during = closed_loop(target, "GET", detail[3], 1, args.stall_duration)
    stop.set()
    for thread in exporters:
        thread.join()
    peak = sampler.finish()
    export_p50 = max((b["p50_ms"] or 0) for b in busy)
    results["stall"] = {"detail_alone": alone, "detail_during_exports": during,
                        "exports": busy, "mem_peak": peak,
                        "exports_completed": sum(b["requests"] for b in busy),
                        "longest_export_p50_ms": export_p50}
    print("stall        detail alone p50=%.1fms p99=%.1fms; during exports p50=%.1fms "
          "p99=%.1fms max=%.1fms (n=%d, %d exports completed, slowest export p50 %.0fms)"
          % (alone["p50_ms"] or -1, alone["p99_ms"] or -1, during["p50_ms"] or -1,
             during["p99_ms"] or -1, during["max_ms"] or -1, during["requests"],
             results["stall"]["exports_completed"], export_p50), flush=True)


# -- events ---------------------------------------------------------------------------------------------
def run_events(target: Target, mix: list[tuple[Any, ...]], args: argparse.Namespace,
               results: dict[str, Any]) -> None:
    import asyncio

    submit = {r[0]: r for r in mix}["h"]
    results["events"] = {}
    for kind, url in (("ws", args.ws), ("zmq", args.zmq)):
        if url:
            outcome = asyncio.run(_burst(kind, url, target, submit, args))
            results["events"][kind] = outcome
            print("events %-5s %d subscribers, %d events submitted in %.2fs: %.0f events/s "
                  "delivered (all subscribers), %d lost, last delivery after %.2fs"
                  % (kind, outcome["subscribers"], outcome["events"], outcome["submit_s"],
                     outcome["delivered_per_s"], outcome["lost"], outcome["last_delivery_s"]),
                  flush=True)


async def _burst(kind: str, url: str, target: Target, submit: tuple[Any, ...],
                 args: argparse.Namespace) -> dict[str, Any]:
    import asyncio

    count = args.events
    subscribers = args.subscribers
    received = [0] * subscribers
    last = [0.0]
    done = asyncio.Event()
    expected_total = count * subscribers
    total = [0]
    loop = asyncio.get_running_loop()

    def seen(index: int, topic: str, payload: str) -> None:
        # Only the new jobs' creation events: testjob events of bench-submit jobs.
        if not topic.endswith(".testjob") or '"bench-submit"' not in payload \
                or '"Submitted"' not in payload:
            return
        received[index] += 1
        total[0] += 1
        last[0] = loop.time()
        if total[0] >= expected_total:
            done.set()

    closers = []
    if kind == "ws":
        import aiohttp

        # No pool limit: the default (100 connections) would hold the 101st subscriber.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        sockets = [await session.ws_connect(url, max_msg_size=0, heartbeat=None)
                   for _ in range(subscribers)]

        async def reader(index: int, ws: Any) -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    frames = json.loads(message.data)
                    seen(index, frames[0], frames[4] if isinstance(frames[4], str)
                         else json.dumps(frames[4]))

        tasks = [asyncio.ensure_future(reader(i, ws)) for i, ws in enumerate(sockets)]

        async def close() -> None:
            for ws in sockets:
                await ws.close()
            await session.close()
        closers.append(close)
    else:
        import zmq
        import zmq.asyncio

        context = zmq.asyncio.Context()
        subs = []
        for _ in range(subscribers):
            sub = context.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.setsockopt(zmq.RCVHWM, 0)
            sub.connect(url)
            subs.append(sub)

        async def reader(index: int, sub: Any) -> None:
            while True:
                frames = await sub.recv_multipart()
                seen(index, frames[0].decode(), frames[-1].decode("utf-8", "replace"))

        tasks = [asyncio.ensure_future(reader(i, s)) for i, s in enumerate(subs)]
        await asyncio.sleep(1.5)  # ZMQ subscriptions take a moment to reach the publisher

        async def close() -> None:
            for sub in subs:
                sub.close(linger=0)
            context.term()
        closers.append(close)
    await asyncio.sleep(0.5)

    # The burst: ``count`` submissions by 8 clients, in threads (blocking http.client).
    _, _, method, path, body, headers, _ = submit
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    remaining = [count]

    def poster() -> None:
        conn = target.connect()
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            with lock:
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
        conn.close()

    started = loop.time()
    posters = [threading.Thread(target=poster) for _ in range(8)]
    for thread in posters:
        thread.start()
    await loop.run_in_executor(None, lambda: [t.join() for t in posters])
    submitted = loop.time() - started
    try:
        await asyncio.wait_for(done.wait(), timeout=args.event_timeout)
    except TimeoutError:
        pass
    for task in tasks:
        task.cancel()
    for close in closers:
        await close()
    span = (last[0] - started) if last[0] else 0.0
    accepted = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {"subscribers": subscribers, "events": count, "accepted": accepted,
            "statuses": {str(k): v for k, v in statuses.items()},
            "submit_s": round(submitted, 3), "last_delivery_s": round(span, 3),
            "delivered": sum(received),
            "delivered_per_s": sum(received) / span if span else 0.0,
            "lost": accepted * subscribers - sum(received),
            "min_per_subscriber": min(received), "max_per_subscriber": max(received)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--ids", required=True, help="the dataset's ids JSON")
    parser.add_argument("--user", help="user for the token (default: the ids' admin)")
    parser.add_argument("--password", help="password for the token")
    parser.add_argument("--pids", default="", help="server PIDs to sample, comma-separated")
    parser.add_argument("--duration", type=float, default=20, help="seconds per fast run")
    parser.add_argument("--export-duration", type=float, default=30,
                        help="seconds per export and submission run")
    parser.add_argument("--pause", type=float, default=2, help="seconds between runs")
    parser.add_argument("--only", default="", help="row keys to run (comma-separated)")
    parser.add_argument("--phases", default="mix,stall,events",
                        help="what to run: mix, stall, events")
    parser.add_argument("--stall-duration", type=float, default=10)
    parser.add_argument("--ws", help="websocket URL for the event burst (ws://.../ws/)")
    parser.add_argument("--zmq", help="ZMQ URL for the event burst (tcp://...)")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--event-timeout", type=float, default=60)
    parser.add_argument("--no-wrk", action="store_true", help="never use wrk")
    parser.add_argument("--out", help="write the results here (JSON)")
    args = parser.parse_args(argv)
    args.duration = min(args.duration, 30)
    args.export_duration = min(args.export_duration, 30)
    with open(args.ids) as stream:
        ids = json.load(stream)
    target = Target(args.base)
    pids = [int(p) for p in args.pids.split(",") if p]
    user = args.user or ids.get("admin_user", "admin")
    token = obtain_token(target, ids, user, args.password)
    mix = rows(ids, token, user)
    only = [k for k in args.only.split(",") if k]
    phases = [p for p in args.phases.split(",") if p]
    results: dict[str, Any] = {"base": target.base, "ids": {k: v for k, v in ids.items()
                                                             if "password" not in k
                                                             and "token" not in k},
                               "pids": pids, "durations": {"fast_s": args.duration,
                                                           "export_s": args.export_duration},
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": []}
    def save() -> None:  # after each phase: a later failure loses nothing measured
        if args.out:
            with open(args.out, "w") as stream:
                json.dump(results, stream, indent=1)

    if "mix" in phases:
        run_mix(target, [r for r in mix if not only or r[0] in only], args, pids, results)
        save()
    if "stall" in phases:
        run_stall(target, mix, args, pids, results)
        save()
    if "events" in phases:
        run_events(target, mix, args, results)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
