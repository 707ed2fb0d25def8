#!/usr/bin/python3
"""standin.py: stand-in processes for the netns self-test (no zkvd needed).

    standin.py serve ADDR PORT [ID]      a TCP echo server (one thread per connection)
    standin.py probe ADDR PORT OUTFILE   one long-lived connection: sends a numbered line every
                                         50 ms, counts the echoes it gets back, and keeps the
                                         count in OUTFILE; exits 1 if the connection breaks.
Both stop by themselves after 300 s, so a lost process cannot run on.
"""
import os
import socket
import socketserver
import sys
import threading
import time

LIFETIME_S = 300


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(addr, port):
    server = Server((addr, port), Echo)
    threading.Timer(LIFETIME_S, server.shutdown).start()
    server.serve_forever()


def probe(addr, port, outfile):
    sock = socket.create_connection((addr, port), timeout=2)
    sock.settimeout(None)
    count = 0
    broken = threading.Event()

    def write(n):
        tmp = outfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % n)
        os.replace(tmp, outfile)

    def reader():
        nonlocal count
        buf = b""
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                broken.set()
                return
            buf += data
            while b"\n" in buf:
                _, buf = buf.split(b"\n", 1)
                count += 1
                write(count)

    write(0)
    threading.Thread(target=reader, daemon=True).start()
    end = time.monotonic() + LIFETIME_S
    n = 0
    while time.monotonic() < end and not broken.is_set():
        n += 1
        try:
            sock.sendall(b"ping %d\n" % n)
        except OSError:
            break
        time.sleep(0.05)
    sys.exit(1 if broken.is_set() else 0)


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "serve":  # cl_start adds a node id
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "probe":
        probe(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
