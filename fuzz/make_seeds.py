#!/usr/bin/env python3
"""Writes the hand-made seed inputs to fuzz/corpus/<target>/seed/.

Literal valid requests (real client announce URLs, BEP 15 packets, the repo's
opentracker.conf, a whitelist, a state file) plus a few edge cases; the
fuzzer mutates from there. Re-run after changing it: `python3 fuzz/make_seeds.py`.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

H_AA = "%AA" * 20
H_MIX = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A"


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target, "seed")
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def get(target, headers="Host: tracker.example:6969\r\n", version="1.1"):
    return f"GET {target} HTTP/{version}\r\n{headers}\r\n"


ANNOUNCE_Q = (
    f"info_hash={H_MIX}&peer_id=-qB4650-abcdefghijkl&port=6881&uploaded=0&downloaded=0"
    "&left=4294967296&corrupt=0&key=1A2B3C4D&event=started&numwant=200&compact=1&no_peer_id=1"
    "&supportcrypto=1&redundant=0"
)
queries = {
    "announce_qbittorrent": ANNOUNCE_Q,
    "announce_seeder_completed": f"info_hash={H_AA}&peer_id=-TR3000-000000000000&port=51413&uploaded=123&downloaded=456&left=0&event=completed",
    "announce_dict": f"info_hash={H_AA}&port=1&left=5&compact=0&numwant=-1&event=paused",
    "announce_stopped": f"info_hash={H_AA}&port=65535&left=1&event=stopped",
    "announce_bad_port": f"info_hash={H_AA}&port=0",
    "announce_plus": "info_hash=abcdefghij+lmnopqrst&port=2&left=18446744073709551615",
    "scrape_two": f"info_hash={H_AA}&info_hash=BBBBBBBBBBBBBBBBBBBB",
    "scrape_many": "&".join(f"info_hash={i:020d}" for i in range(65)),
    "stats_tpbs": "mode=tpbs&format=txtp",
}
for name, q in queries.items():
    put("query", name, q)

http = {
    "announce": get("/announce?" + ANNOUNCE_Q, "Host: tracker\r\nUser-Agent: qBittorrent/4.6.5\r\nAccept-Encoding: gzip\r\nConnection: close\r\n"),
    "announce_php_dict": get(f"/announce.php?info_hash={H_AA}&port=7&left=9&compact=0"),
    "announce_v10_keepalive": get(f"/announce?info_hash={H_AA}&port=7&left=0", "Connection: Keep-Alive\r\n", "1.0"),
    "announce_forwarded": get(f"/announce?info_hash={H_AA}&port=7&left=1", "X-Forwarded-For: 198.51.100.1, 2001:db8::9\r\nX-Real-IP: 192.0.2.5\r\n"),
    "announce_real_ip": get(f"/announce?info_hash={H_MIX}&port=9&left=1&numwant=3", "X-Real-IP: ::ffff:192.0.2.5\r\n"),
    "scrape": get(f"/scrape?info_hash={H_AA}&info_hash=%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00"),
    "scrape_full": get("/scrape"),
    "scrape_php": get(f"/scrape.php?info_hash={H_MIX}"),
    "root": get("/"),
    "metrics": get("/metrics"),
    "post": "POST /announce HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    "body": "GET /announce HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "pipelined": get(f"/announce?info_hash={H_AA}&port=7") + get("/scrape"),
}
for mode in ["peer", "conn", "scrp", "udp4", "tcp4", "torr", "fscr", "herr", "version", "everything", "prom",
             "busy", "s24s", "completed", "top10", "top100", "renew", "syncs", "statedump", "fulllog", "woodpeckers", "numwants"]:
    http[f"stats_{mode}"] = get(f"/stats?mode={mode}")
for fmt in ["txt", "txtp", "url", "bin", "ben", "xml"]:
    http[f"stats_tpbs_{fmt}"] = get(f"/stats?mode=tpbs&format={fmt}")
http["st_tpbs_ben"] = get("/st?mode=tpbs&format=ben")
for name, req in http.items():
    put("http_head", name, req)

PROTOCOL_ID = 0x41727101980


def connect(tid=0x1234):
    return struct.pack(">QII", PROTOCOL_ID, 0, tid)


def announce(cid=0x1122334455667788, h=b"\xAA" * 20, left=0, event=2, numwant=-1, port=6881, extra=b""):
    return (struct.pack(">QII", cid, 1, 0xDEADBEEF) + h + b"-lt2080-abcdefghijkl"
            + struct.pack(">QQQIIIiH", 5, left, 7, event, 0, 0x01020304, numwant, port) + extra)


def scrape(cid=0x1122334455667788, hashes=(b"\xAA" * 20, b"\x41" * 20)):
    return struct.pack(">QII", cid, 2, 77) + b"".join(hashes)


# First byte: bits 0-1 source (v4, v6, v4-mapped, ::1), bit 2 patch in a valid
# connection id, bit 3 late clock, bits 4-5 replays, bit 6 whitelist.
udp = {
    "connect": b"\x00" + connect(),
    "connect_v6": b"\x01" + connect(),
    "announce_valid": b"\x34" + announce(),
    "announce_valid_v6": b"\x35" + announce(left=100, numwant=200),
    "announce_valid_mapped": b"\x36" + announce(event=3),
    "announce_bep41": b"\x24" + announce(extra=b"\x02\x0c/announce?x=1\x01\x00"),
    "announce_whitelist_refused": b"\x44" + announce(h=b"\x01" * 20),
    "announce_whitelist_ok": b"\x54" + announce(event=1, numwant=5),
    "announce_forged": b"\x00" + announce(),
    "announce_short": b"\x04" + announce()[:97],
    "announce_port0": b"\x04" + announce(port=0),
    "scrape_valid": b"\x0c" + scrape(),
    "scrape_max": b"\x04" + scrape(hashes=[bytes([i]) * 20 for i in range(74)]),
    "scrape_too_many": b"\x04" + scrape(hashes=[bytes([i]) * 20 for i in range(75)]),
    "bad_action": b"\x04" + struct.pack(">QII", 1, 9, 5),
    "short": b"\x00" + b"\x00" * 15,
}
for name, pkt in udp.items():
    put("udp", name, pkt)

with open(os.path.join(ROOT, "opentracker.conf"), "rb") as f:
    put("config", "opentracker.conf", f.read())
put("config", "all_directives", """listen.tcp_udp 127.0.0.1:6969
listen.tcp [::1]:7000
listen.udp ::1
listen.udp.workers 4
tracker.max_memory 4M
tracker.max_torrents 1000
tracker.max_peers_per_torrent 65535
tracker.announce_interval 10
tracker.peer_timeout 20
tracker.max_connections 256
tracker.numwant_default 0
tracker.numwant_max 200
tracker.redirect_url https://example.org/
tracker.rootdir /var/empty
tracker.user nobody
tracker.state_file /tmp/state
tracker.state_interval 60
access.whitelist /etc/whitelist
access.stats 127.0.0.1
access.stats [::1]
access.stats_path st
access.proxy 10.0.0.1
access.fullscrape yes
access.reload_interval 10
access.fifo_add /tmp/fifo
livesync.cluster.listen 224.0.0.1:9696
""")
put("config", "bad_size", "tracker.max_memory lots\n")
put("config", "args", "-i\n127.0.0.1\n-p\n0\n-P\n0\n-A\n::1\n-w\n/etc/wl\n-r\nhttp://x/\n-u\nnobody\n-d\n/tmp")
put("config", "args_v6", "-i\n::1\n-p\n6969\n-P\n6969\n-b\n/etc/bl")
put("config", "args_help", "-h")

A = "0123456789abcdef0123456789abcdef01234567"
B = "FEDCBA9876543210FEDCBA9876543210FEDCBA98"
wl = f"# releases\n\n{A}\n  {B}  my-release-1.2.iso\r\n{A}#dup\nnot a hash\n{B[:39]}\n{A}0\n"
put("whitelist", "white", b"\x00" + wl.encode())
put("whitelist", "black", b"\x01" + wl.encode())
rng = random.Random(7)
put("whitelist", "many", b"\x00" + "".join(f"{rng.getrandbits(160):040x}\n" for _ in range(300)).encode())

state = "# smoltracker state v1\n" + "".join(f"{rng.getrandbits(160):040x} {rng.randrange(1, 10**6)}\n" for _ in range(12)) + "# end 12\n"
put("state", "state", state)
put("state", "truncated", state[: len(state) // 2])
put("state", "dup", "# smoltracker state v1\n" + f"{A} 1\n{A} 7\n# end 2\n")

# swarm_ops: first byte bit 0 = tiny tables (else roomy), bits 1-7 the peer
# timeout; then (tiny only) three sizing bytes (torrents, memory, peers per
# torrent); then 4 bytes per operation (see swarm_ops in src/lib.rs).
def ops(rng, n, hashes, hosts, time_every=12):
    out = bytearray()
    for _ in range(n):
        r = rng.randrange(time_every + 2)
        kind = 5 if r == 0 else 6 if r == 1 else 7 if rng.random() < 0.02 else rng.randrange(5)
        b0 = (rng.getrandbits(8) & 0xF8) | kind
        if kind < 5 and rng.random() < 0.8:
            b0 &= ~0x30  # mostly plain re-announces: peers accumulate
        if kind == 5:
            out += bytes([b0, rng.randrange(40), rng.getrandbits(8), 0])
        else:
            out += bytes([b0, rng.randrange(hashes), rng.randrange(hosts), rng.getrandbits(8)])
    return bytes(out)


for i in range(4):
    put("swarm_ops", f"roomy_{i}", bytes([(i * 9) << 1]) + ops(rng, 400, 16, 64))
    timeout = [120, 30, 60, 90][i]
    sizing = [(15, 0, 200), (3, 40, 255), (40, 10, 30), (7, 255, 120)][i]
    put("swarm_ops", f"tiny_{i}", bytes([1 | timeout << 1, *sizing]) + ops(rng, 800, [8, 4, 60, 8][i], 255, 40))


def bulk(hash_, hosts, leave=False, v6=False, ports=3, numwant=5):
    b0 = 7 | 0x08 | (0x10 if leave else 0) | (0x40 if v6 else 0)
    return bytes([b0, hash_, hosts - 1, ports | numwant << 2])


SWEEP = bytes([6, 0, 0, 0])
# Roomy: several torrents fill up in bulk, some leave in bulk, sweeps compact.
churn = bytearray([40 << 1])
for round_ in range(3):
    for h in range(6):
        churn += bulk(h, 64, v6=(h % 3 == 0))
    churn += ops(rng, 60, 16, 64)
    for h in range(0, 6, 2):
        churn += bulk(h, 64, leave=True, v6=(h % 3 == 0))
    churn += SWEEP + bytes([5, 200, 7, 0]) + SWEEP
put("swarm_ops", "roomy_bulk", bytes(churn))
# Tiny: bulk joins overflow the arena and full torrents; then leave and sweep.
tiny = bytearray([1 | 60 << 1, 20, 30, 250])
for h in range(10):
    tiny += bulk(h, 64)
tiny += ops(rng, 100, 10, 255)
for h in range(10):
    tiny += bulk(h, 64, leave=True)
tiny += SWEEP
put("swarm_ops", "tiny_bulk", bytes(tiny))


# Admission and fairness (own generator, so the seeds above stay as they were).
rng2 = random.Random(11)


def flood(hash_, host, ports, v6=False):
    return bytes([7 | 0x10 | (0x40 if v6 else 0), hash_, host - 1, ports - 1])


def junk(host, count):
    return bytes([7 | 0x10 | 0x20, 0, host, count - 1])


def completed(hash_, host):
    return bytes([0 | 0x08 | 0x20, hash_, host, 0])


# Roomy: one address floods swarms others use; a network adds junk torrents.
fair = bytearray([60 << 1])
for h in range(4):
    fair += bulk(h, 20)
for h in range(4):
    fair += flood(h, 3, 64, v6=(h % 2 == 1))
fair += junk(5, 8) + ops(rng2, 100, 16, 64) + SWEEP
for h in range(4):
    fair += flood(h, 7, 40)
fair += SWEEP
put("swarm_ops", "roomy_fair", bytes(fair))
# Tiny: an 8-torrent table, per-network budget on (odd memory byte), a cap of
# 3 per address (peers byte 250): valuable torrents, then junk from many
# networks (refused by the budget, evicting other junk), floods, time steps.
tiny_fair = bytearray([1 | 60 << 1, 7, 41, 250])
for h in range(3):
    tiny_fair += bulk(h, 10)
    tiny_fair += completed(h, 1)
for r in range(24):
    tiny_fair += junk(r % 3, 16) + flood(r % 4, r + 1, 20) + bytes([5, 40, 7, 0])
tiny_fair += ops(rng2, 200, 8, 255, 40) + SWEEP
put("swarm_ops", "tiny_fair", bytes(tiny_fair))

print("seeds written under", os.path.join(HERE, "corpus"))
