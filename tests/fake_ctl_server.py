#!/usr/bin/env python3
"""fake_ctl_server.py: a stand-in for omnetd's control socket, for testing
omnetctl without a daemon.

    fake_ctl_server.py SOCKET REPLIES_DIR LOG

Listens on the UNIX stream socket SOCKET.  Every request line received is
appended to LOG as received (one line each) before it is answered.  The
reply to a request is the first line of the file REPLIES_DIR/CMD, CMD being
the request's "cmd", sent exactly as written there; the file is read for
every request, so a test changes an answer by replacing one file.  Special
replies: "@hang" sends nothing (the client must time out), "@close" closes
the connection without a reply.  A line that is
not a JSON object gets a bad_request error, a cmd without a canned reply an
unknown_command error; either way the connection stays open, as omnetd's
does (docs/CONTROL.md).
"""
import json
import os
import socketserver
import sys


def error_line(code, message):
    return json.dumps({"ok": False, "error": {"code": code, "message": message}})


def answer(line, replies_dir):
    """The reply line for one request line, or "@hang" / "@close"."""
    try:
        req = json.loads(line)
    except ValueError as e:
        return error_line("bad_request", "not JSON: %s" % e)
    if not isinstance(req, dict):
        return error_line("bad_request", "request is not a JSON object")
    cmd = req.get("cmd")
    if not isinstance(cmd, str):
        return error_line("bad_request", "missing or non-string field cmd")
    path = os.path.join(replies_dir, cmd)
    if "/" in cmd or cmd.startswith(".") or not os.path.isfile(path):
        return error_line("unknown_command", "unknown command %s" % cmd)
    with open(path, encoding="utf-8") as f:
        return f.readline().rstrip("\n")


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with open(self.server.log_path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
            reply = answer(line, self.server.replies_dir)
            if reply == "@close":
                return
            if reply == "@hang":
                continue
            self.wfile.write(reply.encode("utf-8") + b"\n")
            self.wfile.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: fake_ctl_server.py SOCKET REPLIES_DIR LOG")
    path, replies_dir, log_path = sys.argv[1:]
    # Bind and listen under a temporary name, then rename into place: a
    # client that sees SOCKET can connect at once.
    tmp = path + ".tmp"
    for p in (path, tmp):
        if os.path.exists(p):
            os.unlink(p)
    srv = Server(tmp, Handler)
    os.chmod(tmp, 0o660)
    os.rename(tmp, path)
    srv.replies_dir = replies_dir
    srv.log_path = log_path
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
