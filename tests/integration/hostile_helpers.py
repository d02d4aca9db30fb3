#!/usr/bin/env python3
"""hostile_helpers.py: the parts of test_hostile_peer.sh that are easier in Python.

  udpsink --addr A --port P --out F     append every datagram received to F
  mkbulk --size N --marker M --out F    N random bytes with M every 4 KiB
  transfers --log F [--baseline-bps B]  the honest tenant's transfers: count,
                                        exactness, rate (and its ratio to B)
  scenarios --report F --status PREFIX --peer NAME --honest NAME --net ID
            [--expect-counted S,S...] [--hostile-addr A] [--own-cidrs C,C...]
            [--allowed-cands A:P,...] [--max-silence-ms MS]
                                        one line per scenario: what the tool
                                        saw, the target's memory and CPU, its
                                        longest silence in the session (a busy
                                        loop shows there), which status
                                        counters moved; then the checks, one
                                        "FAIL: ..." line each
Every loop is bounded; the sink runs until it is killed.
"""
import argparse
import ipaddress
import json
import os
import socket
import sys


def udpsink(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.addr, a.port))
    with open(a.out, "ab") as f:
        while True:
            data, _ = s.recvfrom(65535)
            f.write(data)
            f.flush()


def mkbulk(a):
    marker = a.marker.encode()
    with open(a.out, "wb") as f:
        left = a.size
        while left > 0:
            block = (marker + os.urandom(4096 - len(marker)))[:left]
            f.write(block)
            left -= len(block)


def transfers(a):
    """Lines "down|up RC NS exact|BAD BYTES" from the honest loop."""
    n = bad = 0
    secs = 0.0
    nbytes = 0
    for line in open(a.log):
        what, rc, ns, verdict, size = line.split()
        n += 1
        if rc != "0" or verdict != "exact":
            bad += 1
            continue
        secs += int(ns) / 1e9
        nbytes += int(size)
    bps = nbytes * 8 / secs if secs else 0
    ratio = bps / a.baseline_bps if a.baseline_bps else 0
    print("%d %d %.0f %.2f" % (n, bad, bps, ratio))


def load_status(prefix, name):
    try:
        with open("%s-%s.json" % (prefix, name)) as f:
            return json.load(f)["result"]
    except (OSError, ValueError, KeyError):
        return None


def peer_of(status, name):
    for p in status.get("peers", []):
        if p["name"] == name:
            return p
    return None


DROPPY = ("malformed", "violat", "refused", "dropped", "limit", "unknown", "reject",
          "filtered", "denied", "invalid", "ignored", "exceed", "unauth", "spoof", "throttl")


# counters that move for reasons of their own while a scenario runs (a
# session we closed, the target dialling candidates it should not have,
# answers to forged sources): they show nothing about the scenario
NOISE = ("unknown_session", "send_dropped", "handshakes_refused")


def counters(status, peer):
    """Daemon counters and the peer's link counters, one flat dict."""
    c = {}
    if not status:
        return c
    for k, v in status.get("counters", {}).items():
        if isinstance(v, int):
            c["daemon." + k] = v
    p = peer_of(status, peer)
    for k, v in ((p or {}).get("link") or {}).items():
        if isinstance(v, int):
            c["link." + k] = v
    return c


def forbidden(addr, own, allowed):
    """A candidate no peer should make the target probe: loopback,
    link-local, multicast, unspecified, broadcast, or one of the target's
    own networks (own: a list of ip_network) unless allowed (prefixes of
    "addr:port", the peer's configured or actual address)."""
    if any(addr.startswith(p) for p in allowed):
        return False
    host = addr.rsplit(":", 1)[0].strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return True
    if ip.version == 4 and ip == ipaddress.ip_address("255.255.255.255"):
        return True
    return any(ip.version == n.version and ip in n for n in own)


def scenarios(a):
    expect = set(filter(None, a.expect_counted.split(",")))
    own = [ipaddress.ip_network(c) for c in filter(None, a.own_cidrs.split(","))]
    allowed = list(filter(None, a.allowed_cands.split(",")))
    fails = []
    prev = load_status(a.status, "start")
    if prev is None:
        fails.append("no status snapshot before the attack")
    rows = [json.loads(l) for l in open(a.report) if l.strip()]
    print("%-22s %5s %6s %6s %6s %8s %8s %7s %6s %5s  %s" % (
        "scenario", "alive", "wall", "cpu", "quiet", "rss_peak", "rss_aft", "hwm", "tx_pk",
        "mark", "counters moved (delta)"))
    for r in rows:
        name = r["scenario"]
        st = load_status(a.status, name)
        moved = {}
        if st is not None and prev is not None:
            before, after = counters(prev, a.peer), counters(st, a.peer)
            # a counter that went down belongs to a new session: count from 0
            moved = {k: after[k] - before.get(k, 0) if after[k] >= before.get(k, 0) else after[k]
                     for k in after if after[k] != before.get(k, 0)}
        droppy = {k: v for k, v in moved.items() if v > 0 and any(w in k for w in DROPPY)
                  and not any(n in k for n in NOISE)}
        print("%-22s %5s %6d %6s %6d %8s %8s %7s %6d %5d  %s" % (
            name, "yes" if r.get("target_alive") and r.get("session_alive") else "NO",
            r["wall_ms"], r.get("cpu_ms", "-"), r["max_silence_ms"], r.get("rss_kb_peak", "-"),
            r.get("rss_kb_after", "-"), r.get("hwm_kb", "-"), r["tx_packets"],
            r["marker_hits"], " ".join("%s+%d" % (k, v) for k, v in sorted(droppy.items()))
            or "-"))
        print("%-22s %s" % ("", r["note"]))
        print("%-22s in the session: %d packets back, %d stream and %d datagram bytes, "
              "%d PATH_RESPONSEs, %d RESETs" % ("", r["rx_packets"], r["rx_stream_bytes"],
                                                 r["rx_dgram_bytes"], r["rx_path_responses"],
                                                 r["rx_resets"]))
        if r["out_tx_bytes"] or r["out_rx_bytes"]:
            print("%-22s outside the session: %d datagrams / %d bytes out, %d / %d back%s" % (
                "", r["out_tx_datagrams"], r["out_tx_bytes"], r["out_rx_datagrams"],
                r["out_rx_bytes"],
                ", %d ClientHellos, %d cookies echoed" % (r["hs_started"], r["hs_cookie_echoed"])
                if r["hs_started"] else ""))
        if not r["ran"]:
            fails.append("%s: not run (%s)" % (name, r["note"]))
        if r.get("target_alive") is False:
            fails.append("%s: the target daemon died" % name)
        elif r["ran"] and not r["session_alive"]:
            # closing a misbehaving peer's session costs only that peer
            print("%-22s (the target no longer answers this session)" % "")
        if r.get("target_alive") and r["ran"] and r["max_silence_ms"] > a.max_silence_ms:
            fails.append("%s: the target did not answer in the session for %d ms (at most %d)" % (
                name, r["max_silence_ms"], a.max_silence_ms))
        if r["marker_hits"]:
            fails.append("%s: %d copies of the other tenant's secret reached us" % (
                name, r["marker_hits"]))
        if st is None:
            fails.append("%s: the target did not answer status afterwards" % name)
        else:
            hp = peer_of(st, a.honest)
            if not hp or hp["state"] != "connected":
                fails.append("%s: the honest peer is %s" % (name, hp and hp["state"]))
            for n in st.get("networks", []):
                if n["id"] == a.net and n["state"] != "active":
                    fails.append("%s: the honest network is %s" % (name, n["state"]))
            p = peer_of(st, a.peer) or {}
            bad = sorted(set(c["path"] for c in p.get("candidates", [])
                             if forbidden(c["path"], own, allowed)))
            if bad:
                fails.append("%s: the hostile peer's candidates include %d forbidden: %s" % (
                    name, len(bad), " ".join(bad[:8])))
            p = peer_of(st, a.honest) or {}
            forged = [c["path"] for c in p.get("candidates", [])
                      if a.hostile_addr and c["path"].startswith(a.hostile_addr + ":")]
            if forged:
                fails.append("%s: the honest peer has %d candidates from forged datagrams "
                             "(%d in all)" % (name, len(forged), len(p.get("candidates", []))))
        if name in expect and r["ran"] and not droppy:
            fails.append("%s: no status counter shows the hostile input dropped" % name)
        if name == "forged-data" and r["out_tx_bytes"]:
            amp = r["out_rx_bytes"] / r["out_tx_bytes"]
            print("%-22s amplification toward the forged sources: %.1fx" % ("", amp))
            if amp > 3:
                fails.append("forged-data: %.1f bytes sent back per forged byte (at most 3)" % amp)
        if st is not None:
            prev = st
    for f in fails:
        print("FAIL: " + f)
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("udpsink")
    p.add_argument("--addr", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("mkbulk")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--marker", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("transfers")
    p.add_argument("--log", required=True)
    p.add_argument("--baseline-bps", type=float, default=0)
    p = sub.add_parser("scenarios")
    p.add_argument("--report", required=True)
    p.add_argument("--status", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--honest", required=True)
    p.add_argument("--net", required=True)
    p.add_argument("--hostile-addr", default="")
    p.add_argument("--expect-counted", default="")
    p.add_argument("--own-cidrs", default="")
    p.add_argument("--max-silence-ms", type=int, default=1000)
    p.add_argument("--allowed-cands", default="")
    a = ap.parse_args()
    sys.exit({"udpsink": udpsink, "mkbulk": mkbulk, "transfers": transfers,
              "scenarios": scenarios}[a.cmd](a) or 0)


if __name__ == "__main__":
    main()
