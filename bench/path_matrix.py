#!/usr/bin/env python3
"""path_matrix.py: the flows and the arithmetic of bench/path-matrix.

  serve --port P                 a threaded server: each connection says
                                 what it wants in one header line
  flow --host H --port P --dir up|down --secs S --out FILE [--cc CC]
       [--from-connect]          one bulk TCP transfer; the receiving end
                                 counts what arrives in the S seconds after
                                 the transfer starts (with --from-connect:
                                 after the client began to connect, as a
                                 user opening a connection sees it), in
                                 100 ms buckets of CLOCK_MONOTONIC, and
                                 writes them to FILE
  window FILE FROM_MS LEN_MS     Mbit/s a result file shows in a window
  median FILE...                 "median min max" Mbit/s of result files
  ratios ...                     see the bench script

The receiver keeps the time: a sender's writes only fill socket buffers
(and, through omnet, the provider's), so they say nothing about goodput.
"--dir up" sends from the client; "--dir down" from the server.  --cc sets
the sending socket's congestion control (TCP_CONGESTION).
"""
import argparse
import json
import os
import socket
import socketserver
import statistics
import sys
import time

BUCKET_MS = 100
CHUNK = 1 << 20


def now_ms():
    return time.monotonic() * 1000


def set_cc(s, cc):
    """the congestion control of socket s, if one is asked for"""
    if cc and cc != "-":
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())


def receive(s, secs, out, start=None):
    """count what arrives on s for secs seconds (from start, a now_ms()
    not in the future, or from now) into buckets; write them"""
    start = min(start, now_ms()) if start is not None else now_ms()
    end = start + secs * 1000
    buckets = [0] * (int(secs * 1000 / BUCKET_MS) + 1)
    buf = bytearray(CHUNK)
    s.settimeout(0.2)
    while True:
        t = now_ms()
        if t >= end:
            break
        try:
            n = s.recv_into(buf)
        except socket.timeout:
            continue
        except OSError:
            break
        if not n:
            break
        t = now_ms()
        if t < end:
            buckets[int((t - start) / BUCKET_MS)] += n
    res = {"start_ms": start, "secs": secs, "bytes": sum(buckets),
           "bucket_ms": BUCKET_MS, "buckets": buckets}
    with open(out + ".tmp", "w") as f:
        json.dump(res, f)
    os.rename(out + ".tmp", out)


def send(s, secs):
    """send as fast as s takes it, until the receiver closes or secs pass"""
    data = memoryview(os.urandom(CHUNK))
    end = time.monotonic() + secs
    s.settimeout(1)
    while time.monotonic() < end:
        try:
            s.send(data)
        except socket.timeout:
            continue
        except OSError:
            return


def serve(a):
    """header "send CC SECS" or "recv SECS FILE [START_MS]", then the
    transfer"""
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            words = self.rfile.readline(512).decode().split()
            s = self.request
            if len(words) == 3 and words[0] == "send":
                set_cc(s, words[1])
                send(s, float(words[2]))
            elif len(words) in (3, 4) and words[0] == "recv":
                start = float(words[3]) if len(words) == 4 else None
                receive(s, float(words[1]), words[2], start)
            s.close()

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server(("0.0.0.0", a.port), Handler).serve_forever()


def flow(a):
    """one transfer; the receiver's buckets land in a.out"""
    s = socket.socket()
    if a.dir == "up":
        set_cc(s, a.cc)
    s.settimeout(10)
    began = now_ms() if a.from_connect else None
    s.connect((a.host, a.port))
    out = os.path.abspath(a.out)
    if a.dir == "up":
        s.sendall(("recv %s %s%s\n" % (a.secs, out,
                                       " %.3f" % began if began else "")).encode())
        # a little past the receiver's window, which starts when the
        # header arrives; what is still buffered is delivered after close
        send(s, a.secs + 3)
    else:
        s.sendall(("send %s %s\n" % (a.cc or "-", a.secs + 10)).encode())
        receive(s, a.secs, out, began)
    s.close()


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mbit(res, from_ms=None, len_ms=None):
    """Mbit/s over the whole window, or over [from_ms, from_ms + len_ms)"""
    if not res:
        return 0.0
    b, step = res["buckets"], res["bucket_ms"]
    if from_ms is None:
        return res["bytes"] * 8 / res["secs"] / 1e6
    first = int((from_ms - res["start_ms"]) / step)
    n = int(len_ms / step)
    got = sum(b[max(first, 0):max(first + n, 0)])
    return got * 8 / (len_ms / 1000) / 1e6


def longest_gap_ms(res):
    """the longest time with nothing delivered, from the start (a transfer
    that never delivers has a gap of its whole window)"""
    if not res:
        return None
    run = longest = 0
    for v in res["buckets"][:-1]:
        run = 0 if v else run + 1
        longest = max(longest, run)
    return longest * res["bucket_ms"]


def window(a):
    print("%.1f" % mbit(load(a.file), a.from_ms, a.len_ms))


def median(a):
    """median, min, max Mbit/s and the longest gap (ms) of result files"""
    res = [load(p) for p in a.files]
    v = sorted(mbit(r) for r in res)
    gaps = [longest_gap_ms(r) for r in res]
    gap = max(g if g is not None else 10 ** 9 for g in gaps) if gaps else 0
    print("%.1f %.1f %.1f %d" % (statistics.median(v), v[0], v[-1], gap))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    f = sub.add_parser("flow")
    f.add_argument("--host", required=True)
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--dir", choices=("up", "down"), required=True)
    f.add_argument("--secs", type=float, required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--cc")
    f.add_argument("--from-connect", action="store_true")
    w = sub.add_parser("window")
    w.add_argument("file")
    w.add_argument("from_ms", type=float)
    w.add_argument("len_ms", type=float)
    m = sub.add_parser("median")
    m.add_argument("files", nargs="+")
    a = p.parse_args()
    {"serve": serve, "flow": flow, "window": window, "median": median}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
