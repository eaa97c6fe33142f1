#!/usr/bin/env python3
"""One announce for an info hash over HTTP and over UDP (BEP 15); says what the tracker did.

    announce.py HOST PORT HASH40 [--wait served|refused] [--timeout S] [--event started|completed] [--peer-port N]

Prints one line per protocol: "http served interval=N" / "http refused: REASON",
"udp served interval=N" / "udp refused: REASON". Exit 0 when both answered (and, with
--wait, both gave that outcome before the timeout, retrying meanwhile), else 1.
Run in a container's network namespace with the host's python:
    nsenter -t PID -n python3 tests/deb/announce.py 127.0.0.1 6969 HASH
"""
import argparse, os, re, socket, struct, sys, time


def http(host, port, ih, event, peer_port):
    q = ("info_hash=" + "".join("%%%02X" % b for b in ih) +
         "&peer_id=-ST0001-" + os.urandom(6).hex() + "&port=" + str(peer_port) + "&uploaded=0&downloaded=0"
         "&left=0&compact=1&event=" + event)
    req = f"GET /announce?{q} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=3) as c:
        c.sendall(req)
        buf = b""
        while chunk := c.recv(4096):
            buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise ValueError(f"not HTTP: {head[:60]!r}")
    m = re.search(rb"14:failure reason(\d+):", body)
    if m:
        n = int(m.group(1))
        return "refused: " + body[m.end():m.end() + n].decode(errors="replace")
    m = re.search(rb"8:intervali(\d+)e", body)
    if m:
        return f"served interval={int(m.group(1))}"
    raise ValueError(f"unexpected body {body[:120]!r}")


def udp(host, port, ih, event, peer_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        tid = int.from_bytes(os.urandom(4), "big")
        s.sendto(struct.pack(">QII", 0x41727101980, 0, tid), (host, port))
        data = s.recv(2048)
        action, rtid = struct.unpack(">II", data[:8])
        if action != 0 or rtid != tid or len(data) < 16:
            raise ValueError(f"bad connect reply {data!r}")
        cid = data[8:16]
        tid = int.from_bytes(os.urandom(4), "big")
        req = (cid + struct.pack(">II", 1, tid) + ih + b"-ST0001-" + os.urandom(6).hex().encode() +
               struct.pack(">QQQIIIiH", 0, 0, 0, {"completed": 1, "started": 2}[event], 0, 0, -1, peer_port))
        s.sendto(req, (host, port))
        data = s.recv(4096)
        action, rtid = struct.unpack(">II", data[:8])
        if rtid != tid:
            raise ValueError(f"transaction id mismatch {data!r}")
        if action == 3:
            return "refused: " + data[8:].decode(errors="replace")
        if action == 1 and len(data) >= 20:
            return f"served interval={struct.unpack('>I', data[8:12])[0]}"
        raise ValueError(f"bad announce reply {data!r}")
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("hash")
    ap.add_argument("--wait", choices=["served", "refused"])
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--event", choices=["started", "completed"], default="started")
    ap.add_argument("--peer-port", type=int, default=6881, help="the port announced (a peer is address + port)")
    a = ap.parse_args()
    ih = bytes.fromhex(a.hash)
    assert len(ih) == 20, "HASH40: 40 hex digits"
    deadline = time.time() + a.timeout
    while True:
        got = {}
        for name, fn in (("http", http), ("udp", udp)):
            try:
                got[name] = fn(a.host, a.port, ih, a.event, a.peer_port)
            except (OSError, ValueError) as e:
                got[name] = f"error: {e}"
        ok = all(not v.startswith("error") for v in got.values())
        if ok and a.wait:
            ok = all(v.startswith(a.wait) for v in got.values())
        if ok or time.time() > deadline:
            break
        time.sleep(0.3)
    for name, v in got.items():
        print(f"{name} {v}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
