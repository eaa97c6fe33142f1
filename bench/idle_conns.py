#!/usr/bin/env python3
"""What an idle kept-alive HTTP connection costs the tracker in memory:

    idle_conns.py HOST:PORT PID [N]

Opens N connections (default 1000), sends one announce on each (HTTP/1.1, no
Connection header), reads its answer and keeps the connection open and idle;
prints the tracker's VmRSS growth per connection, as one line:
    IDLE conns=N kept=K rss_before_kb=A rss_after_kb=B bytes_per_conn=X
(K: answers that said keep-alive). Bounded: every socket operation times out
after 10 s. Loopback only.
"""
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    pid = int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    time.sleep(0.5)
    before = rss_kb(pid)
    conns, kept = [], 0
    for i in range(n):
        s = socket.create_connection((host, int(port)), timeout=10)
        ih = "".join("%%%02x" % ((i * 13 + k) % 256) for k in range(20))
        s.sendall((f"GET /announce?info_hash={ih}&peer_id=-ID0001-{i:012d}&port={1024 + i}"
                   f"&left=1&compact=1 HTTP/1.1\r\nHost: {host}\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
        if b"keep-alive" in head.lower():
            kept += 1
        conns.append(s)
    time.sleep(1.0)
    after = rss_kb(pid)
    per = (after - before) * 1024 / max(kept, 1)
    print(f"IDLE conns={n} kept={kept} rss_before_kb={before} rss_after_kb={after} "
          f"bytes_per_conn={per:.0f}")
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
