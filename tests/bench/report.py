#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Turns the benchmark's raw results into markdown tables.

usage: report.py RESULTS.tsv PARAMS

RESULTS.tsv: one line per timed run, tab-separated: phase contender
protocol target status wall cpu rss_kb note (status "ok", "FAIL" or
"skip").  PARAMS: the "key value" lines printed above the tables.
Each cell is the median over its runs; a cell with any failed run shows
FAIL (with the reason below the table).

Scenario accounts: no wire floor; the phases "download/1" and
"re-poll/1" (mailhaul polling one account alone) are no tables of their
own but two columns of mailhaul's rows: the one-account time and the
ratio of all accounts to one.
"""

import collections
import statistics
import sys

FLOOR = "wire floor"
DISK = "disk floor"  # protocol "-": the corpus written durably, no network
ONE = "/1"  # phase suffix: the accounts scenario's one-account runs


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def rate(count, wall):
    if wall <= 0:
        return "-"
    r = count / wall
    return format(r, ".0f" if r >= 10 else ".2f")


def one_account(cells, notes, key, wall):
    """The two accounts-scenario columns of KEY (wall time WALL): its
    one-account run's wall time and the ratio, as text; a failed
    one-account run shows FAIL, its reason goes to NOTES."""
    phase, who, proto, target = key
    c = cells.get((phase + ONE, who, proto, target))
    if c is None:
        return ("-", "-")
    if c[0] != "ok":
        notes.append("%s%s %s %s %s: %s" % (phase, ONE, who, proto, target,
                                             c[4]))
        return (c[0], "-")
    return ("%.3f" % c[1], fmt(wall / c[1] if c[1] > 0 else None, ".2f"))


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
    accounts = params.get("scenario") == "accounts"
    nacc = params.get("accounts", "").split(" ", 1)[0]
    for k in ("scenario", "count", "accounts", "one_account", "max_parallel",
              "bytes", "rtt_ms", "measured_rtt_ms", "runs", "transport", "mailhaul",
              "date"):
        if k in params:
            out.append("- %s: %s" % (k, params[k]))
    out.append("")
    notes = []
    for phase in dict.fromkeys(k[0] for k in cells if not k[0].endswith(ONE)):
        if accounts:
            head = ("| contender | protocol | target | wall s | CPU s "
                    "| peak RSS MB | msgs/s | 1 account s | %s/1 "
                    "| x best peer |" % nacc)
        else:
            head = ("| contender | protocol | target | wall s | CPU s "
                    "| peak RSS MB | msgs/s | x floor | x wire+disk "
                    "| x best peer |")
        out += ["## %s" % phase, "", head,
                "|---|---|---|" + "---:|" * (head.count("|") - 4)]
        keys = [k for k in cells if k[0] == phase]
        for key in keys:
            _, who, proto, target = key
            st, wall, cpu, rss, note = cells[key]
            if st == "skip":
                continue
            if st != "ok":
                out.append("| %s | %s | %s | %s |" % (who, proto, target, st)
                           + " - |" * (head.count("|") - 5))
                notes.append("%s %s %s %s: %s" % (phase, who, proto, target, note))
                continue
            floor = cells.get((phase, FLOOR, proto, "-"))
            floor = floor[1] if floor and floor[0] == "ok" else None
            peers = [c[1] for k, c in cells.items()
                     if k[0] == phase and k[2] == proto and c[0] == "ok"
                     and k[1] not in ("mailhaul", FLOOR, DISK)
                     and (k[3] == target or target == "-")]
            best = min(peers) if peers else None
            if accounts:
                middle = one_account(cells, notes, key, wall)
            else:
                disk = cells.get((phase, DISK, "-", target))
                disk = disk[1] if disk and disk[0] == "ok" else None
                both = max(floor or 0, disk or 0) or None
                floors = (FLOOR, DISK)
                middle = (fmt(wall / floor if floor and who not in floors
                              else None, ".2f"),
                          fmt(wall / both if both and disk and floor
                              and who not in floors else None, ".2f"))
            out.append("| %s | %s | %s | %.3f | %.3f | %.1f | %s | " % (
                who, proto, target, wall, cpu, rss,
                rate(count, wall) if phase == "download" else "-")
                + " | ".join(middle) + " | %s |"
                % fmt(wall / best if best and who not in (FLOOR, DISK)
                      else None, ".2f"))
            if note:
                notes.append("%s %s %s %s: %s" % (phase, who, proto, target, note))
        out.append("")
    if notes:
        out += ["Notes:", ""] + ["- " + n for n in notes] + [""]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
