#!/usr/bin/env python3
"""servers.py: stand-in servers and clients for omnet's integration tests.

Servers (run in the server namespace):
  http --dir D --port P --log F   GET and PUT files; every client address is logged
  udpecho --port P                echo each datagram back
  tcpecho --port P                echo each connection's bytes, half-close aware
  listen --addr A --port P        accept and greet (a service that must stay unreachable)
  slowsink --port P --rate B      read each connection at B bytes per second
  hold --port P [--log F]         accept connections and keep them open, idle;
                                  log "open ADDR:PORT" and "closed ADDR:PORT"
  whoami --port P                 TCP and UDP on P: answer "you are ADDR:PORT"
                                  (what the service sees), then echo the data
Clients (run in the VM namespace):
  probe --tcp HOST:PORT           exit 0 when a TCP connect succeeds
  echo-clients --host H --port P --count N --bytes B
                                  N concurrent connections, distinct data, byte-exact check
  udp-client --host H --port P --count N
                                  N distinct datagrams, count the exact echoes
  connect --host H --port P       print how a connect ends (connected, refused,
                                  unreachable, timeout) and how long it took in ms
  rr --host H --port P --count N  N one-byte request/response round trips on one
                                  TCP connection to an echo server; prints the
                                  median and 90th percentile in ms
  hold-clients --host H --port P --count N --ready FILE --seconds S
                                  open N idle connections, write FILE when all are
                                  up, keep them for S seconds
  flood-clients --host H --port P --stats FILE --seconds S [--max N] [--hold H]
                                  open connections without end (at most N
                                  attempts, S seconds), keep those that get
                                  up (H more seconds once done); FILE says
                                  "up U refused R failed F", and "done" last
  blast --host H --port P --seconds S
                                  send as fast as possible for S seconds; prints
                                  the bytes sent
  ask --host H --port P [--udp] [--data D]
                                  send D to a whoami service, print its answer
                                  (TCP: or "reset", "refused", "timeout", "closed")
Every operation is bounded by a timeout.
"""
import argparse
import hashlib
import http.server
import os
import socket
import socketserver
import sys
import threading
import time


def http_server(a):
    log_lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_client(self):
            with log_lock, open(a.log, "a") as f:
                f.write("%s %s %s\n" % (self.client_address[0], self.command, self.path))

        def do_GET(self):
            self.log_client()
            path = os.path.join(a.dir, os.path.basename(self.path) or "index.html")
            if not os.path.isfile(path):
                self.send_error(404)
                return
            size = os.path.getsize(path)
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    self.wfile.write(chunk)

        def do_PUT(self):
            self.log_client()
            length = int(self.headers.get("Content-Length", "0"))
            path = os.path.join(a.dir, "upload-" + os.path.basename(self.path))
            with open(path, "wb") as f:
                left = length
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    f.write(chunk)
                    left -= len(chunk)
            body = hashlib.sha256(open(path, "rb").read()).hexdigest().encode() + b"\n"
            self.send_response(201 if left == 0 else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = family_of(a.bind)

    Server((a.bind, a.port), Handler).serve_forever()


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udpecho(a):
    s = socket.socket(family_of(a.bind), socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    while True:
        data, addr = s.recvfrom(65535)
        s.sendto(data, addr)


def tcpecho(a):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(120)
            while True:
                data = self.request.recv(1 << 16)
                if not data:
                    break
                self.request.sendall(data)
            self.request.shutdown(socket.SHUT_WR)

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 1024
        address_family = family_of(a.bind)

    Server((a.bind, a.port), Handler).serve_forever()


def listen(a):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"hello from a service that must stay private\n")
        finally:
            c.close()


def slowsink(a):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(300)
            chunk = max(1, a.rate // 10)
            while True:
                data = self.request.recv(chunk)
                if not data:
                    break
                time.sleep(0.1)

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server(("0.0.0.0", a.port), Handler).serve_forever()


def rr(a):
    s = socket.create_connection((a.host, a.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    times = []
    for _ in range(a.count):
        t0 = time.monotonic()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            sys.exit(1)
        times.append((time.monotonic() - t0) * 1000)
        time.sleep(a.gap)
    times.sort()
    print("%.3f %.3f" % (times[len(times) // 2], times[int(len(times) * 0.9)]))


def blast(a):
    s = socket.create_connection((a.host, a.port), timeout=10)
    buf = os.urandom(1 << 16)
    end = time.monotonic() + a.seconds
    sent = 0
    s.settimeout(1)
    while time.monotonic() < end:
        try:
            sent += s.send(buf)
        except socket.timeout:
            pass
    print(sent)
    os._exit(0)


def hold(a):
    import asyncio

    def note(what, writer):
        if a.log:
            peer = writer.get_extra_info("peername")
            with open(a.log, "a") as f:
                f.write("%s %s:%d\n" % (what, peer[0], peer[1]))

    async def handle(reader, writer):
        note("open", writer)
        try:
            await reader.read()  # until the client closes or resets
        except OSError:
            pass
        note("closed", writer)
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "0.0.0.0", a.port, backlog=4096)
        await server.serve_forever()

    asyncio.run(main())


def hold_clients(a):
    import asyncio

    async def one(sem):
        async with sem:
            for attempt in range(20):
                try:
                    return await asyncio.wait_for(asyncio.open_connection(a.host, a.port), 30)
                except (OSError, asyncio.TimeoutError):
                    await asyncio.sleep(0.2 * (attempt + 1))
        return None

    async def main():
        sem = asyncio.Semaphore(512)  # connections being opened at once
        conns = await asyncio.gather(*(one(sem) for _ in range(a.count)))
        up = sum(1 for c in conns if c)
        with open(a.ready, "w") as f:
            f.write("%d\n" % up)
        await asyncio.sleep(a.seconds)

    asyncio.run(main())


def flood_clients(a):
    """a VM that opens connections without end: what it got stays open, a
    refusal is retried after a breath; stats written every 200 ms"""
    import asyncio

    counts = {"up": 0, "refused": 0, "failed": 0}
    kept = []

    def write_stats(done=False):
        with open(a.stats + ".tmp", "w") as f:
            f.write("up %(up)d refused %(refused)d failed %(failed)d" % counts)
            f.write(" done\n" if done else "\n")
        os.replace(a.stats + ".tmp", a.stats)

    async def one(deadline):
        if time.monotonic() >= deadline:
            return
        try:
            conn = await asyncio.wait_for(asyncio.open_connection(a.host, a.port), 5)
            kept.append(conn)
            counts["up"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
            await asyncio.sleep(0.01)
        except (OSError, asyncio.TimeoutError):
            counts["failed"] += 1
            await asyncio.sleep(0.01)

    async def reporter(deadline):
        while time.monotonic() < deadline:
            write_stats()
            await asyncio.sleep(0.2)

    async def main():
        deadline = time.monotonic() + a.seconds
        rep = asyncio.ensure_future(reporter(deadline))
        pending = set()
        for _ in range(a.max):
            if time.monotonic() >= deadline:
                break
            if len(pending) >= 128:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.add(asyncio.ensure_future(one(deadline)))
        if pending:
            await asyncio.wait(pending)
        rep.cancel()
        write_stats(done=True)
        await asyncio.sleep(a.hold)

    asyncio.run(main())


def probe(a):
    host, port = a.tcp.rsplit(":", 1)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
    except OSError:
        sys.exit(1)


def echo_clients(a):
    results = [None] * a.count
    start = threading.Barrier(a.count, timeout=60)

    def one(i):
        data = hashlib.sha256(b"flow %d" % i).digest() * (a.bytes // 32)
        try:
            start.wait()
            s = socket.create_connection((a.host, a.port), timeout=60)
            s.settimeout(120)
            sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            sender.start()
            got = bytearray()
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            sender.join(120)
            s.close()
            results[i] = bytes(got) == data or "flow %d: %d bytes back, %d sent, equal=%s" % (
                i, len(got), len(data), bytes(got) == data)
        except Exception as e:  # noqa: BLE001 - report every failure
            results[i] = "flow %d: %r" % (i, e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(a.count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    bad = [r for r in results if r is not True]
    print("%d/%d byte-exact" % (a.count - len(bad), a.count))
    for r in bad[:10]:
        print(r)
    sys.exit(0 if not bad else 1)


def udp_client(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    want = {b"datagram %d " % i + os.urandom(16).hex().encode() for i in range(a.count)}
    got = set()
    deadline = time.time() + 20
    while got != want and time.time() < deadline:
        for d in want - got:
            s.sendto(d, (a.host, a.port))
        end = time.time() + 1
        while time.time() < end and got != want:
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            if data in want:
                got.add(data)
    print("%d/%d echoed" % (len(got), len(want)))
    sys.exit(0 if got == want else 1)


def connect(a):
    t0 = time.monotonic()
    s = socket.socket()
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
        what = "connected"
    except ConnectionRefusedError:
        what = "refused"
    except socket.timeout:
        what = "timeout"
    except OSError as e:
        what = "unreachable" if e.errno in (113, 101) else "error:%d" % e.errno
    ms = (time.monotonic() - t0) * 1000
    print("%s %.0f" % (what, ms))


def whoami(a):
    def tcp():
        s = socket.socket(family_of(a.bind))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.bind, a.port))
        s.listen(64)
        while True:
            c, addr = s.accept()
            threading.Thread(target=tcp_one, args=(c, addr), daemon=True).start()

    def tcp_one(c, addr):
        try:
            c.settimeout(30)
            c.sendall(b"you are %s:%d\n" % (addr[0].encode(), addr[1]))
            while True:
                data = c.recv(1 << 16)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()

    threading.Thread(target=tcp, daemon=True).start()
    u = socket.socket(family_of(a.bind), socket.SOCK_DGRAM)
    u.bind((a.bind, a.port))
    while True:
        data, addr = u.recvfrom(65535)
        u.sendto(b"you are %s:%d " % (addr[0].encode(), addr[1]) + data, addr)


def ask(a):
    t0 = time.monotonic()
    try:
        ask_once(a)
    finally:
        sys.stderr.write("elapsed_ms %.0f\n" % ((time.monotonic() - t0) * 1000))


def ask_once(a):
    data = a.data.encode()
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    if a.udp:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            s.sendto(data, (a.host, a.port))
            try:
                got, _ = s.recvfrom(65535)
            except OSError:
                continue
            print(got.decode(errors="replace"))
            return
        print("timeout")
        sys.exit(1)
    s = socket.socket(family)
    s.settimeout(a.timeout)
    got = b""
    try:
        s.connect((a.host, a.port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            got += chunk
    except ConnectionRefusedError:
        print("refused")
        sys.exit(1)
    except ConnectionResetError:
        print("reset")
        sys.exit(1)
    except socket.timeout:
        print("timeout")
        sys.exit(1)
    if not got:
        print("closed")
        sys.exit(1)
    print(got.decode(errors="replace").replace("\n", " ").strip())


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("--dir", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--log", required=True)
    h.add_argument("--bind", default="0.0.0.0")
    for name in ("udpecho", "tcpecho"):
        e = sub.add_parser(name)
        e.add_argument("--port", type=int, required=True)
        e.add_argument("--bind", default="0.0.0.0")
    l = sub.add_parser("listen")
    l.add_argument("--addr", required=True)
    l.add_argument("--port", type=int, required=True)
    sub.add_parser("probe").add_argument("--tcp", required=True)
    ho = sub.add_parser("hold")
    ho.add_argument("--port", type=int, required=True)
    ho.add_argument("--log")
    hc = sub.add_parser("hold-clients")
    hc.add_argument("--host", required=True)
    hc.add_argument("--port", type=int, required=True)
    hc.add_argument("--count", type=int, default=10000)
    hc.add_argument("--ready", required=True)
    hc.add_argument("--seconds", type=float, default=60)
    w = sub.add_parser("whoami")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--bind", default="0.0.0.0")
    ak = sub.add_parser("ask")
    ak.add_argument("--host", required=True)
    ak.add_argument("--port", type=int, required=True)
    ak.add_argument("--udp", action="store_true")
    ak.add_argument("--data", default="ping")
    ak.add_argument("--timeout", type=float, default=5.0)
    ss = sub.add_parser("slowsink")
    ss.add_argument("--port", type=int, required=True)
    ss.add_argument("--rate", type=int, default=10000)
    e = sub.add_parser("echo-clients")
    u = sub.add_parser("udp-client")
    c = sub.add_parser("connect")
    r = sub.add_parser("rr")
    b = sub.add_parser("blast")
    fc = sub.add_parser("flood-clients")
    fc.add_argument("--stats", required=True)
    fc.add_argument("--seconds", type=float, default=60)
    fc.add_argument("--max", type=int, default=100000)
    fc.add_argument("--hold", type=float, default=0)
    for q in (e, u, c, r, b, fc):
        q.add_argument("--host", required=True)
        q.add_argument("--port", type=int, required=True)
    e.add_argument("--count", type=int, default=200)
    e.add_argument("--bytes", type=int, default=65536)
    u.add_argument("--count", type=int, default=20)
    c.add_argument("--timeout", type=float, default=5.0)
    r.add_argument("--count", type=int, default=50)
    r.add_argument("--gap", type=float, default=0.05)
    b.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    {"http": http_server, "udpecho": udpecho, "tcpecho": tcpecho, "listen": listen,
     "probe": probe, "echo-clients": echo_clients, "udp-client": udp_client,
     "connect": connect, "slowsink": slowsink, "rr": rr, "blast": blast, "hold": hold,
     "hold-clients": hold_clients, "whoami": whoami, "ask": ask,
     "flood-clients": flood_clients}[a.cmd](a)


if __name__ == "__main__":
    main()
