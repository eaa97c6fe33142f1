#!/usr/bin/env python3
"""Smoke probe for a running smoltracker: BEP 15 UDP connect + HTTP announce.

    probe.py HOST TCP_PORT UDP_PORT [TIMEOUT_S]    exit 0 when both answer sensibly
    probe.py freeport                              print a port free for both TCP and UDP
"""
import os, socket, struct, sys, time, urllib.parse


def freeport():
    # Same number must be free for TCP and UDP, as the tracker binds both.
    while True:
        t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port)); return port
        except OSError:
            pass
        finally:
            t.close(); u.close()


def udp_connect(host, port, deadline):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
    tid = int.from_bytes(os.urandom(4), "big")
    while time.time() < deadline:  # retry: qemu may still be starting the binary
        s.sendto(struct.pack(">QII", 0x41727101980, 0, tid), (host, port))
        try:
            data = s.recv(2048)
        except (socket.timeout, ConnectionRefusedError):
            continue
        action, rtid = struct.unpack(">II", data[:8])
        assert len(data) >= 16 and action == 0 and rtid == tid, f"bad connect reply {data!r}"
        return struct.unpack(">Q", data[8:16])[0]
    raise SystemExit("UDP: no connect reply")


def http_announce(host, port, deadline):
    q = urllib.parse.urlencode({"info_hash": b"\x12" * 20, "peer_id": b"-ST0001-probe_probe0",
                                "port": 6881, "uploaded": 0, "downloaded": 0, "left": 0,
                                "compact": 1, "event": "started"})
    req = f"GET /announce?{q} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(req); buf = b""
                while chunk := c.recv(4096):
                    buf += chunk
            break
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.2)
    else:
        raise SystemExit("HTTP: no answer")
    head, _, body = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], f"bad status {head[:80]!r}"
    assert body.startswith(b"d") and body.endswith(b"e") and b"interval" in body, f"bad body {body[:200]!r}"
    return body


def main():
    if sys.argv[1:] == ["freeport"]:
        print(freeport()); return
    host, tport, uport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    deadline = time.time() + float(sys.argv[4] if len(sys.argv) > 4 else 20)
    cid = udp_connect(host, uport, deadline)
    body = http_announce(host, tport, deadline)
    print(f"probe ok: udp connection_id={cid:#018x}, http announce {len(body)} bytes")


if __name__ == "__main__":
    main()
