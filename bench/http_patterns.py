#!/usr/bin/env python3
"""Drive a tracker with a fixed number of HTTP announces in one client pattern,
for counting what each answer costs (bench/callgrind.sh):

    http_patterns.py HOST:PORT PATTERN REQUESTS [--conns C] [--escape all]

PATTERN (the real clients each one stands for, ../shared/README.md §6):
  closes     HTTP/1.1, no Connection header; read the answer, then close
             (rtorrent; aquatic_http_load_test keep_alive = false)
  keepalive  HTTP/1.1, no Connection header; C connections, each sending its
             share of the requests one after another (aria2, Transmission;
             aquatic keep_alive = true)
  close      HTTP/1.1 with Connection: close, read until the server closes
             (libtorrent, qBittorrent)
  http10     HTTP/1.0 without Host, read until the server closes (ctorrent)
  pipeline   HTTP/1.1, C connections, all their requests written at once

--escape all writes every byte of info_hash as lowercase %xx, as
aquatic_http_load_test does; by default bytes are escaped as browsers and
libtorrent do (unreserved characters plain).

Every answer must be a 200 with a bencoded body; the run fails otherwise.
Requests are deterministic (same info hashes, peers and order every run).
Bounded: every socket operation times out after 10 s.
"""
import argparse
import socket
import sys
import threading
import urllib.parse


ESCAPE_ALL = False


def request(i, version="1.1", extra=b"", host=True):
    raw = bytes((i * 7 + k) % 256 for k in range(20))
    ih = "".join(f"%{b:02x}" for b in raw) if ESCAPE_ALL else urllib.parse.quote_from_bytes(raw)
    pid = urllib.parse.quote_from_bytes(b"-PT0001-" + b"%012d" % i)
    q = (f"info_hash={ih}&peer_id={pid}&port={1024 + i % 60000}&uploaded=0&downloaded=0"
         f"&left={i % 2}&numwant=50&compact=1&key={i:08x}")
    return (f"GET /announce?{q} HTTP/{version}\r\n".encode()
            + (b"Host: 127.0.0.1\r\n" if host else b"") + extra + b"\r\n")


def read_answer(s, buf):
    """One answer by its Content-Length; returns (answer, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise RuntimeError("connection closed before an answer")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise RuntimeError(f"not a 200: {head[:80]!r}")
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length is None:
        raise RuntimeError("no Content-Length")
    while len(rest) < length:
        d = s.recv(65536)
        if not d:
            raise RuntimeError("connection closed inside a body")
        rest += d
    body, rest = rest[:length], rest[length:]
    if not body.startswith(b"d") or b"failure reason" in body:
        raise RuntimeError(f"not an announce answer: {body[:80]!r}")
    return head, rest


def connect(addr):
    s = socket.create_connection(addr, timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def until_close(s):
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            return buf
        buf += d


def worker(addr, pattern, ids, errors):
    try:
        if pattern == "closes":
            for i in ids:
                with connect(addr) as s:
                    s.sendall(request(i))
                    read_answer(s, b"")
        elif pattern in ("close", "http10"):
            for i in ids:
                with connect(addr) as s:
                    s.sendall(request(i, extra=b"Connection: close\r\n") if pattern == "close"
                              else request(i, version="1.0", host=False))
                    head, rest = read_answer(s, until_close(s))
                    if rest:
                        raise RuntimeError("bytes after the answer")
        elif pattern == "keepalive":
            with connect(addr) as s:
                buf = b""
                for i in ids:
                    s.sendall(request(i))
                    _, buf = read_answer(s, buf)
        elif pattern == "pipeline":
            with connect(addr) as s:
                s.sendall(b"".join(request(i) for i in ids))
                buf = b""
                for _ in ids:
                    _, buf = read_answer(s, buf)
        else:
            raise RuntimeError(f"unknown pattern {pattern}")
    except Exception as e:  # reported by main
        errors.append(f"{type(e).__name__}: {e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("addr")
    p.add_argument("pattern", choices=["closes", "keepalive", "close", "http10", "pipeline"])
    p.add_argument("requests", type=int)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--escape", choices=["some", "all"], default="some")
    a = p.parse_args()
    global ESCAPE_ALL
    ESCAPE_ALL = a.escape == "all"
    host, _, port = a.addr.rpartition(":")
    addr = (host, int(port))
    errors = []
    threads = [threading.Thread(target=worker,
                                args=(addr, a.pattern, range(c, a.requests, a.conns), errors))
               for c in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if errors:
        print(f"http_patterns: {len(errors)} errors, first: {errors[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
