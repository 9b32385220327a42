#!/usr/bin/env python3
"""The side-by-side table: lavad's results (bench/load.py) against LAVA's, with the
ratio lavad/LAVA per request and whether each target of issue 9 is met.

LAVA's side is the baseline's ``results/results.json`` (its ``measure.sh`` of the same
run) or, when there is none, the figures of its recorded ``results/table.md``
(labelled as such).

Targets: every read request at least 10x LAVA's requests/s at concurrency 8 with a
lower p99; each export of the 10,000-case job at least 20x faster to the last byte
(p50 at concurrency 1); submission at least 5x; lavad alone at least 10x less
resident memory than LAVA's processes (idle and peak); a long export never stalls
other requests; no event lost; export memory flat from 1,000 to 100,000 cases.

    python bench/report.py --lavad lavad.json --lava results.json [--memory mem.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

READS = ("a", "a_auth", "b", "c", "d", "e", "g_show", "g_yaml_small")
EXPORTS = ("f_csv", "f_yaml", "f_junit", "f_tap13", "g_yaml_10k")
SUBMIT = ("h",)


def _number(text: str) -> float | None:
    text = text.strip()
    found = re.match(r"([\d.]+)\s*(ms|s)?$", text)
    if not found:
        return None
    value = float(found.group(1))
    return value * 1000 if found.group(2) == "s" else value


def lava_from_table(path: str) -> dict[str, Any]:
    """The rows and memory of the baseline's recorded markdown table."""
    rows: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 12 and cells[0] not in ("key", "---"):
            rows[cells[0]] = {
                "label": cells[1], "c1": {"rps": float(cells[2]), "p50_ms": _number(cells[4]),
                                          "p99_ms": _number(cells[5])},
                "c8": {"rps": float(cells[3]), "p50_ms": _number(cells[6]),
                       "p99_ms": _number(cells[7])}, "bytes": int(cells[8])}
        elif cells and cells[0] in ("idle_warm", "peak over all runs", "idle_before"):
            found = re.match(r"(\d+) \((\d+)\)", cells[-1])
            if found:
                memory[cells[0]] = {"rss_mib": float(found.group(1)),
                                    "pss_mib": float(found.group(2))}
    return {"rows": rows, "idle": memory.get("idle_warm"),
            "peak": memory.get("peak over all runs"), "source": "recorded table " + path}


def lava_from_results(path: str) -> dict[str, Any]:
    data = json.load(open(path, encoding="utf-8"))
    rows = {}
    peak = {"rss_mib": 0.0, "pss_mib": 0.0}
    for row in data["rows"]:
        rows[row["key"]] = {"label": row["label"], "c1": row.get("c1", {}),
                            "c8": row.get("c8", {}), "bytes": row["probe"]["bytes"]}
        for run in (row.get("c1", {}), row.get("c8", {})):
            total = run.get("mem_peak", {}).get("total", {})
            peak["rss_mib"] = max(peak["rss_mib"], total.get("rss_kb", 0) / 1024)
            peak["pss_mib"] = max(peak["pss_mib"], total.get("pss_kb", 0) / 1024)
    idle = data.get("mem_idle_warm", {}).get("total", {})
    return {"rows": rows, "idle": {"rss_mib": idle.get("rss_kb", 0) / 1024,
                                   "pss_mib": idle.get("pss_kb", 0) / 1024},
            "peak": peak, "source": "measured in this run (%s, %s)"
            % (path, data.get("started", "?"))}


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return "%.0f ms" % value if value >= 100 else "%.1f ms" % value


def _ok(flag: bool | None) -> str:
    return "-" if flag is None else ("**yes**" if flag else "NO")


def table(lavad: dict[str, Any], lava: dict[str, Any],
          memory_check: list[dict[str, Any]] | None, memory_ok: bool | None) -> tuple[str, bool]:
    out = []
    met_all = True
    out.append("LAVA side: %s.\n" % lava["source"])
    out.append("| key | request | lavad rps c=8 | LAVA rps c=8 | ratio | lavad p99 c=8 | "
               "LAVA p99 c=8 | lavad p50 c=1 | LAVA p50 c=1 | target | met |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for row in lavad["rows"]:
        key = row["key"]
        theirs = lava["rows"].get(key)
        mine8, mine1 = row.get("c8", {}), row.get("c1", {})
        if theirs is None:
            out.append("| %s | %s | %.1f | - | - | %s | - | %s | - | - | - |" % (
                key, row["label"], mine8.get("rps", 0), _ms(mine8.get("p99_ms")),
                _ms(mine1.get("p50_ms"))))
            continue
        their8, their1 = theirs["c8"], theirs["c1"]
        rps_ratio = (mine8.get("rps") or 0) / their8["rps"] if their8.get("rps") else None
        if key in EXPORTS:
            ratio = (their1.get("p50_ms") or 0) / mine1["p50_ms"] if mine1.get("p50_ms") \
                else None
            target = ">= 20x faster to last byte (p50 c=1)"
            met = ratio is not None and ratio >= 20
            shown = "%.1fx faster" % ratio if ratio is not None else "-"
        elif key in SUBMIT:
            ratio = rps_ratio
            target = ">= 5x rps c=8"
            met = ratio is not None and ratio >= 5
            shown = "%.1fx" % ratio if ratio is not None else "-"
        else:
            ratio = rps_ratio
            target = ">= 10x rps c=8, lower p99"
            met = ratio is not None and ratio >= 10 and \
                (mine8.get("p99_ms") or 1e9) < (their8.get("p99_ms") or 0)
            shown = "%.1fx" % ratio if ratio is not None else "-"
        met_all &= met
        out.append("| %s | %s | %.1f | %.2f | %s | %s | %s | %s | %s | %s | %s |" % (
            key, row["label"], mine8.get("rps", 0), their8.get("rps", 0), shown,
            _ms(mine8.get("p99_ms")), _ms(their8.get("p99_ms")), _ms(mine1.get("p50_ms")),
            _ms(their1.get("p50_ms")), target, _ok(met)))
    out.append("")
    # memory
    mine_idle = lavad.get("mem_idle_warm") or lavad.get("mem_idle_before") or {}
    mine_peak = {"rss_mib": 0.0, "pss_mib": 0.0}
    for row in lavad["rows"]:
        for run in (row.get("c1", {}), row.get("c8", {})):
            for k in mine_peak:
                mine_peak[k] = max(mine_peak[k], run.get("mem_peak", {}).get(k, 0))
    for k in mine_peak:
        mine_peak[k] = max(mine_peak[k], lavad.get("stall", {}).get("mem_peak", {}).get(k, 0))
    out.append("| memory (MiB) | lavad RSS (PSS) | LAVA RSS (PSS), all its processes | ratio "
               "(RSS) | target | met |")
    out.append("|---|---:|---:|---:|---|---|")
    for label, mine, theirs in (("idle", mine_idle, lava.get("idle") or {}),
                                ("peak", mine_peak, lava.get("peak") or {})):
        if mine.get("rss_mib") and theirs.get("rss_mib"):
            ratio = theirs["rss_mib"] / mine["rss_mib"]
            met = ratio >= 10
            met_all &= met
            out.append("| %s | %.0f (%.0f) | %.0f (%.0f) | %.1fx less | >= 10x less | %s |" % (
                label, mine["rss_mib"], mine.get("pss_mib", 0), theirs["rss_mib"],
                theirs.get("pss_mib", 0), ratio, _ok(met)))
    out.append("")
    # stall and events (lavad only: the baseline does not measure them)
    stall = lavad.get("stall")
    if stall:
        alone, during = stall["detail_alone"], stall["detail_during_exports"]
        # "Never stalls": a detail request never waits for an export to finish.
        met = during.get("max_ms") is not None and \
            during["max_ms"] < stall["longest_export_p50_ms"] and during["requests"] > 0
        met_all &= met
        out.append("Long exports do not stall other requests: job detail alone p50 %s / p99 %s;"
                   " while 4 clients download the four exports of the 10,000-case job without "
                   "pause (%d exports completed): p50 %s / p99 %s / max %s over %d requests, "
                   "against %s for the slowest export. Met: %s.\n" % (
                       _ms(alone["p50_ms"]), _ms(alone["p99_ms"]),
                       stall["exports_completed"], _ms(during["p50_ms"]),
                       _ms(during["p99_ms"]), _ms(during["max_ms"]), during["requests"],
                       _ms(stall["longest_export_p50_ms"]), _ok(met)))
    events = lavad.get("events") or {}
    if events:
        out.append("| events | subscribers | events | delivered/s (all subscribers) | lost | "
                   "met (none lost) |")
        out.append("|---|---:|---:|---:|---:|---|")
        for kind, outcome in events.items():
            met = outcome["lost"] == 0 and outcome["accepted"] == outcome["events"]
            met_all &= met
            out.append("| %s | %d | %d | %.0f | %d | %s |" % (
                kind, outcome["subscribers"], outcome["events"], outcome["delivered_per_s"],
                outcome["lost"], _ok(met)))
        out.append("")
    if memory_check:
        sizes = sorted({r["size"] for r in memory_check})
        out.append("Export memory (peak growth over the resident size, MiB; "
                   "bench/export_memory.py):\n")
        out.append("| export | " + " | ".join("%d cases" % s for s in sizes) + " |")
        out.append("|---|" + "---:|" * len(sizes))
        for name in dict.fromkeys(r["export"] for r in memory_check):
            cells = []
            for size in sizes:
                found = [r for r in memory_check if r["size"] == size and r["export"] == name]
                cells.append("%.1f" % (found[0]["peak_growth_kib"] / 1024) if found else "-")
            out.append("| %s | %s |" % (name, " | ".join(cells)))
        out.append("\nFlat from %d to %d cases: %s.\n" % (sizes[0], sizes[-1], _ok(memory_ok)))
        met_all &= bool(memory_ok)
    out.append("Every target met: %s." % _ok(met_all))
    return "\n".join(out), met_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lavad", required=True, help="bench/load.py's results JSON")
    parser.add_argument("--lava", required=True,
                        help="the baseline's results.json or its recorded table.md")
    parser.add_argument("--memory", help="bench/export_memory.py's --json output")
    parser.add_argument("--memory-ok", choices=("yes", "no"),
                        help="export_memory.py's verdict (its exit status)")
    args = parser.parse_args(argv)
    lavad = json.load(open(args.lavad, encoding="utf-8"))
    lava = lava_from_results(args.lava) if args.lava.endswith(".json") \
        else lava_from_table(args.lava)
    memory_check = json.load(open(args.memory, encoding="utf-8")) if args.memory else None
    text, met = table(lavad, lava, memory_check,
                      None if args.memory_ok is None else args.memory_ok == "yes")
    print(text)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
