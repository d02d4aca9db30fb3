#!/usr/bin/env python3
"""compare_table.py RESULTS: bench/compare's tables from its lines
"IMPL METRIC VALUE" (several per metric: one per run)."""
import math
import statistics
import sys

IMPLS = ("native", "slirp4netns", "pasta", "omnet")


def load(path):
    r = {}
    for line in open(path):
        impl, metric, value = line.split()
        v = float(value)
        if not math.isnan(v):
            r.setdefault(impl, {}).setdefault(metric, []).append(v)
    return r


def med(r, impl, metric):
    v = r.get(impl, {}).get(metric)
    return statistics.median(v) if v else None


def cell(r, impl, metric, fmt="%.2f"):
    v = r.get(impl, {}).get(metric)
    if not v:
        return "-"
    return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(v), min(v), max(v))


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "-"


def added(r, impl, metric):
    """microseconds over native's median"""
    a, n = med(r, impl, metric), med(r, "native", metric)
    return "%+.0f" % (a - n) if a is not None and n is not None else "-"


def main():
    r = load(sys.argv[1])
    impls = [i for i in IMPLS if i in r]
    print("Bulk, Gbit/s (iperf3), and CPU seconds per GB of the implementation's processes")
    print("%-12s %-20s %-20s %-20s %-20s %7s %7s" % ("", "1 stream up", "1 stream down",
                                                     "4 streams up", "4 streams down",
                                                     "CPU up", "CPU dn"))
    for i in impls:
        cpu = [med(r, i, "cpu-up"), med(r, i, "cpu-down")]
        print("%-12s %-20s %-20s %-20s %-20s %7s %7s" % (
            i, cell(r, i, "bulk1-up"), cell(r, i, "bulk1-down"), cell(r, i, "bulk4-up"),
            cell(r, i, "bulk4-down"), *["%.2f" % c if c is not None else "-" for c in cpu]))
    print()
    print("The whole machine's CPU busy during those transfers, % of all cores (medians)")
    print("%-12s %-14s %-14s %-14s %-14s" % ("", "1 stream up", "1 stream down",
                                             "4 streams up", "4 streams down"))
    for i in impls:
        print("%-12s %-14s %-14s %-14s %-14s" % (i, *[
            "%.0f%%" % v if v is not None else "-"
            for v in (med(r, i, m) for m in ("busy1-up", "busy1-down", "busy4-up", "busy4-down"))]))
    print()
    print("Round trips (64 bytes each way, 2,000 back to back), us: p50 / p99, and added to native")
    print("%-12s %-26s %-14s %-26s %-14s" % ("", "TCP p50 / p99", "added", "UDP p50 / p99", "added"))
    for i in impls:
        def pair(proto):
            a, b = med(r, i, proto + "-p50"), med(r, i, proto + "-p99")
            return "%.0f / %.0f" % (a, b) if a is not None and b is not None else "-"

        print("%-12s %-26s %-14s %-26s %-14s" % (
            i, pair("tcp"), added(r, i, "tcp-p50") + " / " + added(r, i, "tcp-p99"),
            pair("udp"), added(r, i, "udp-p50") + " / " + added(r, i, "udp-p99")))
    print()
    print("New TCP connections per second (connect, request, response, close)")
    for i in impls:
        print("%-12s %-26s %s" % (i, cell(r, i, "crr", "%.0f"),
                                  ratio(med(r, i, "crr"), med(r, "native", "crr")) + " native"))
    print()
    print("Ratios to native (bulk medians)")
    for i in impls:
        print("%-12s %s" % (i, "  ".join(
            "%s %s" % (m, ratio(med(r, i, m), med(r, "native", m)))
            for m in ("bulk1-up", "bulk1-down", "bulk4-up", "bulk4-down"))))


if __name__ == "__main__":
    main()
