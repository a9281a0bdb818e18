#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Turns the benchmark's raw results into markdown tables.

usage: report.py RESULTS.tsv PARAMS

RESULTS.tsv: one line per timed run, tab-separated: phase contender
protocol target status wall cpu rss_kb note (status "ok", "FAIL" or
"skip").  PARAMS: the "key value" lines printed above the tables.
Each cell is the median over its runs; a cell with any failed run shows
FAIL (with the reason below the table).
"""

import collections
import statistics
import sys

FLOOR = "wire floor"


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def rate(count, wall):
    if wall <= 0:
        return "-"
    r = count / wall
    return format(r, ".0f" if r >= 10 else ".2f")


def main(argv):
    params = dict(l.rstrip("\n").split(" ", 1) for l in open(argv[2]) if " " in l)
    count = int(params["count"])
    runs = collections.OrderedDict()
    for line in open(argv[1]):
        f = line.rstrip("\n").split("\t")
        if len(f) < 9:
            continue
        runs.setdefault(tuple(f[:4]), []).append(f[4:])
    cells = {}
    for key, rs in runs.items():
        bad = [r for r in rs if r[0] != "ok"]
        if bad:
            cells[key] = (bad[0][0], None, None, None, bad[0][4])
            continue
        med = lambda i: statistics.median(float(r[i]) for r in rs)
        notes = sorted({r[4] for r in rs if r[4]})
        cells[key] = ("ok", med(1), med(2), med(3) / 1024, "; ".join(notes))
    out = ["# mailhaul benchmark: scenario %s" % params.get("scenario", "?"), ""]
    for k in ("scenario", "count", "bytes", "rtt_ms", "measured_rtt_ms",
              "runs", "transport", "mailhaul", "date"):
        if k in params:
            out.append("- %s: %s" % (k, params[k]))
    out.append("")
    notes = []
    for phase in dict.fromkeys(k[0] for k in cells):
        out += ["## %s" % phase, "",
                "| contender | protocol | target | wall s | CPU s | peak RSS MB "
                "| msgs/s | x floor | x best peer |",
                "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        keys = [k for k in cells if k[0] == phase]
        for key in keys:
            _, who, proto, target = key
            st, wall, cpu, rss, note = cells[key]
            if st == "skip":
                continue
            if st != "ok":
                out.append("| %s | %s | %s | %s | - | - | - | - | - |"
                           % (who, proto, target, st))
                notes.append("%s %s %s %s: %s" % (phase, who, proto, target, note))
                continue
            floor = cells.get((phase, FLOOR, proto, "-"))
            floor = floor[1] if floor and floor[0] == "ok" else None
            peers = [c[1] for k, c in cells.items()
                     if k[0] == phase and k[2] == proto and c[0] == "ok"
                     and k[1] not in ("mailhaul", FLOOR)
                     and (k[3] == target or target == "-")]
            best = min(peers) if peers else None
            out.append("| %s | %s | %s | %.3f | %.3f | %.1f | %s | %s | %s |" % (
                who, proto, target, wall, cpu, rss,
                rate(count, wall) if phase == "download" else "-",
                fmt(wall / floor if floor and who != FLOOR else None, ".2f"),
                fmt(wall / best if best and who != FLOOR else None, ".2f")))
            if note:
                notes.append("%s %s %s %s: %s" % (phase, who, proto, target, note))
        out.append("")
    if notes:
        out += ["Notes:", ""] + ["- " + n for n in notes] + [""]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
