#!/usr/bin/env python3
"""hup_storm: SIGHUP 100 times a second for SECONDS (default 10) under
announce load, in whitelist mode.

The whitelist names the load's 100 torrents. During the storm the file is
also rewritten (temporary file + rename) and appended to (`echo >> file`,
the README's workflow) with extra hashes, while the load generator
re-announces 100 torrents x 20 peers over UDP as fast as it can and a
keep-alive HTTP connection announces too.

Checks: no error reply at all (in particular no "not authorized" for a
listed hash), no peer lost (every torrent scrapes 10 seeders + 10 leechers
before and after), the HTTP keep-alive connection survives, an unlisted hash
is still refused afterwards, and the reloads were logged.

    tests/flood/hup_storm.py [--seconds N] [--rate PER_SECOND]
"""
import argparse
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

from common import (FLOOD_BIN, NOT_AUTHORIZED, RssSampler, Tracker, Udp, build, check, fixed_hash, log, main, run_flood,
                    status_kb)

HASHES, PORTS = 100, 20


def whitelist_text(extra):
    lines = ["# hup_storm whitelist"]
    lines += [f"{fixed_hash(i).hex()}  load-{i}" for i in range(HASHES)]
    lines += [f"{random.getrandbits(160):040X}" for _ in range(extra)]
    return "\n".join(lines) + "\n"


def scrape_all(u):
    hashes = [fixed_hash(i) for i in range(HASHES)]
    out = []
    for k in range(0, HASHES, 50):
        out += u.scrape(hashes[k:k + 50])
    return [(s, l) for s, _, l in out]


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=100)
    opts = ap.parse_args()
    build()
    # The load generator speaks for 20+ peers a torrent from one address:
    # lift the per-address cap (16 by default), this test is about reloads.
    t = Tracker("access.whitelist {dir}/whitelist\ntracker.max_peers_per_address 65535\n",
                files={"whitelist": whitelist_text(0)})
    try:
        log(f"tracker pid {t.pid}: {t.log().strip().splitlines()[-1]}")
        check(t.alive(), "tracker did not start")
        # Populate: every peer announced at least once.
        f = run_flood(["udp-fixed", t.udp_addr, 2, "--threads", 2, "--hashes", HASHES, "--ports", PORTS], timeout=60)
        check(f["exit"] == 0 and f["not_authorized"] == 0 and f["ok"] > HASHES * PORTS, f"populate: {f}")
        u = Udp(t)
        before = scrape_all(u)
        check(all(c == (10, 10) for c in before), f"before the storm: {before}")

        http_stats = {"ok": 0, "bad": [], "peers": set()}
        stop = threading.Event()

        def http_keepalive():
            s = socket.create_connection(t.tcp, timeout=5)
            buf = b""
            i = 0
            while not stop.is_set():
                h = fixed_hash(i % HASHES)
                q = urllib.parse.urlencode({"info_hash": h, "port": 30000 + i % 7, "left": 1})
                s.sendall(f"GET /announce?{q} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    check(chunk, "keep-alive connection closed by the tracker")
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                while len(rest) < n:
                    rest += s.recv(65536)
                body, buf = rest[:n], rest[n:]
                if head.startswith(b"HTTP/1.1 200") and b"failure" not in body:
                    http_stats["ok"] += 1
                    http_stats["peers"].add((i % HASHES, 30000 + i % 7))
                else:
                    http_stats["bad"].append(body[:100])
                i += 1
                time.sleep(0.005)
            s.close()

        def http_thread():
            try:
                http_keepalive()
            except Exception as e:  # noqa: BLE001 - reported as a failure below
                http_stats["bad"].append(repr(e))

        load = subprocess.Popen([FLOOD_BIN, "udp-fixed", t.udp_addr, str(opts.seconds + 2), "--threads", "2",
                                 "--window", "64", "--hashes", str(HASHES), "--ports", str(PORTS)],
                                stdout=subprocess.PIPE, text=True)
        web = threading.Thread(target=http_thread, daemon=True)
        web.start()
        time.sleep(1)
        rss0 = status_kb(t.pid)["VmRSS"]
        sampler = RssSampler(t.pid, every=0.25)
        sampler.start()
        sent = rewrites = appends = 0
        start = time.monotonic()
        period = 1.0 / opts.rate
        while time.monotonic() - start < opts.seconds:
            os.kill(t.pid, signal.SIGHUP)
            sent += 1
            if sent % 5 == 0:
                if random.random() < 0.5:
                    t.write("whitelist", whitelist_text(random.randrange(50)))
                    rewrites += 1
                else:
                    with open(os.path.join(t.dir, "whitelist"), "a") as wl:
                        wl.write(f"{random.getrandbits(160):040x} appended\n")
                    appends += 1
            time.sleep(max(0.0, start + sent * period - time.monotonic()))
        storm = time.monotonic() - start
        stdout, _ = load.communicate(timeout=60)
        stop.set()
        web.join(10)
        sampler.stop()
        rss1 = status_kb(t.pid)["VmRSS"]
        per_sec = [kb for ts, kb, _ in sampler.samples[::4]]
        f = {k: v for k, v in (kv.split("=", 1) for kv in stdout.strip().splitlines()[-1].split())}
        check(t.alive(), "tracker died during the storm:\n" + t.log()[-2000:])
        time.sleep(0.3)
        logtext = t.log()
        reloads = len(re.findall(r"SIGHUP: whitelist .*: \d+ info hashes", logtext))
        after = scrape_all(u)
        log(f"storm: {sent} SIGHUPs in {storm:.1f} s ({sent / storm:.0f}/s), {rewrites} rewrites, {appends} appends; "
            f"{reloads} reloads logged")
        log(f"UDP load: {f}")
        log(f"HTTP keep-alive: {http_stats['ok']} announces ok, {len(http_stats['bad'])} bad")
        log(f"RSS {rss0} -> {rss1} KiB; per second: {' '.join(map(str, per_sec))}")
        check(f["not_authorized"] == "0", f"{f['not_authorized']} announces of listed hashes were refused")
        check(f["other_error"] == "0" and f["full"] == "0" and f["bad_reply"] == "0", f"error replies: {f}")
        check(f["stalled"] == "false", "the load generator got no answers for 5 s")
        check(int(f["ok"]) > 0, "no announce answered during the storm")
        check(not http_stats["bad"], f"HTTP problems: {http_stats['bad'][:3]}")
        check(http_stats["ok"] > 0, "no HTTP announce answered during the storm")
        # The HTTP connection added leechers of its own (ports 30000-30006).
        added = [sum(1 for h, _ in http_stats["peers"] if h == i) for i in range(HASHES)]
        expect = [(s, l + added[i]) for i, (s, l) in enumerate(before)]
        lost = [(i, b, a) for i, (b, a) in enumerate(zip(expect, after)) if b != a]
        check(not lost, f"peers lost (torrent, expected, after): {lost[:5]}")
        check(reloads >= 10, f"only {reloads} reloads logged")
        check(rss1 - rss0 <= 1024, f"RSS grew {rss1 - rss0} KiB during the storm")
        r = u.announce(b"\x01" * 20, 1, left=1)
        check(r == ("error", NOT_AUTHORIZED), f"unlisted hash after the storm: {r}")
        check(t.stop() == 0, "unclean exit")
        log(f"RESULT hup_storm: {sent} SIGHUPs at {sent / storm:.0f}/s, {reloads} reloads, "
            f"{f['ok']} UDP + {http_stats['ok']} HTTP announces, 0 errors, {HASHES * PORTS} peers kept")
    finally:
        t.close()


if __name__ == "__main__":
    main(run)
