#!/usr/bin/env python3
"""ctl_tools.py: a router stand-in and raw control-socket clients for the
control-socket tests (test_control.sh).

  pcp-router --addr A           a PCP server (RFC 6887, MAP only) on A:5351 whose
                                answer depends on the internal port asked for:
                                10000-19999 refused (NOT_AUTHORIZED), at once;
                                20000-29999 granted after 100 ms x (port % 100);
                                deletes (lifetime 0) granted at once
  send --sock S --line L...     one connection: send every line at once (pipelined),
                                then read one reply per non-empty line; prints the
                                replies as a JSON array.  --half-close: shut the
                                writing side after sending; --no-newline: the last
                                line goes without its LF; then read until EOF
  conns --sock S --count N      open N connections and keep them; then ask "identity"
                                on every one; print how many answered ok, how many
                                got each error code, and how many were closed
  flood --sock S --seconds T    pipeline "status" requests for T seconds without
                                reading a reply; print the request bytes the daemon
                                took; hold the connection until stdin closes
Every operation is bounded by a timeout.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time


def pcp_router(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.addr, 5351))
    epoch0 = time.monotonic()
    ext = socket.inet_aton("100.128.0.1")

    def answer(req, peer, result, lifetime):
        nonce, proto, iport, eport = req[24:36], req[36], req[40:42], req[42:44]
        hdr = struct.pack("!BBBBII12x", 2, 0x81, 0, result, lifetime,
                          int(time.monotonic() - epoch0) + 1000)
        body = nonce + bytes([proto, 0, 0, 0]) + iport + iport + b"\0" * 10 + b"\xff\xff" + ext
        s.sendto(hdr + body, peer)

    while True:
        req, peer = s.recvfrom(2048)
        if len(req) < 60 or req[0] != 2 or req[1] != 1:
            continue
        lifetime = struct.unpack("!I", req[4:8])[0]
        iport = struct.unpack("!H", req[40:42])[0]
        if lifetime == 0:
            answer(req, peer, 0, 0)
        elif 10000 <= iport < 20000:
            answer(req, peer, 2, 30)
        elif 20000 <= iport < 30000:
            threading.Timer(0.1 * (iport % 100), answer, (req, peer, 0, lifetime)).start()


def connect(path, timeout):
    """a connection, retried while the listen backlog is full (EAGAIN)"""
    deadline = time.monotonic() + timeout
    while True:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(timeout)
        try:
            c.connect(path)
            return c
        except BlockingIOError:
            c.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def read_lines(c, want, deadline):
    """up to want reply lines (None: until EOF), before deadline"""
    buf, lines = b"", []
    while want is None or len(lines) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        c.settimeout(left)
        try:
            got = c.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not got:
            break
        buf += got
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            lines.append(json.loads(line))
    return lines


def send(a):
    c = connect(a.sock, a.timeout)
    data = "\n".join(a.line) + ("" if a.no_newline else "\n")
    c.sendall(data.encode())
    if a.half_close:
        c.shutdown(socket.SHUT_WR)
    want = None if a.half_close else sum(1 for x in a.line if x.strip())
    print(json.dumps(read_lines(c, want, time.monotonic() + a.timeout)))


def conns(a):
    held = []
    for _ in range(a.count):
        try:
            held.append(connect(a.sock, a.timeout))
        except OSError:
            break
    tally = {"ok": 0, "closed": 0}
    deadline = time.monotonic() + a.timeout
    for c in held:
        try:
            c.sendall(b'{"cmd":"identity"}\n')
        except OSError:
            pass  # refused: the reason may wait to be read
        got = read_lines(c, 1, deadline)
        if not got:
            tally["closed"] += 1
        elif got[0]["ok"]:
            tally["ok"] += 1
        else:
            code = got[0]["error"]["code"]
            tally[code] = tally.get(code, 0) + 1
    print(json.dumps(tally), flush=True)
    if a.hold:
        sys.stdin.read()


def flood(a):
    c = connect(a.sock, a.timeout)
    c.setblocking(False)
    req = b'{"cmd":"status"}\n' * 256
    sent, end = 0, time.monotonic() + a.seconds
    while time.monotonic() < end:
        try:
            sent += c.send(req)
        except BlockingIOError:
            time.sleep(0.01)
    print(sent, flush=True)
    sys.stdin.read()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("pcp-router").add_argument("--addr", required=True)
    s = sub.add_parser("send")
    s.add_argument("--line", action="append", required=True)
    s.add_argument("--half-close", action="store_true")
    s.add_argument("--no-newline", action="store_true")
    n = sub.add_parser("conns")
    n.add_argument("--count", type=int, required=True)
    n.add_argument("--hold", action="store_true")
    f = sub.add_parser("flood")
    f.add_argument("--seconds", type=float, default=3.0)
    for q in (s, n, f):
        q.add_argument("--sock", required=True)
        q.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()
    {"pcp-router": pcp_router, "send": send, "conns": conns, "flood": flood}[a.cmd](a)


if __name__ == "__main__":
    main()
