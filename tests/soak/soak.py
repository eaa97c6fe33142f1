#!/usr/bin/env python3
"""Soak: a population of peers joining, re-announcing, leaving (`stopped`)
and vanishing (left to expire) for SECONDS, with HTTP announces, scrapes and
stats pages (full streamed ones included) on the side; then the load stops
and every peer must expire.

Config: `tracker.max_memory 4M`, `tracker.announce_interval 10`, per-address cap and
per-network budget off (the load comes from one address),
`tracker.peer_timeout 20` (so expiry happens all the time), full scrape on.
Load: 20 000 peers over 8 000 torrents (UDP, ~2 000 announces/s; each
re-announce has an 8% chance to leave, 8% to vanish, 6% to complete, and a
peer that left rejoins later as a new peer on another torrent) plus ~40
HTTP requests/s.

Before the soak, a prefill flood (700k announces: random torrents and 256
hot ones with random ports) fills the torrent table and the peer arena to
their cap; the prefill peers must then all expire and their torrents be
freed (expiry under a full table), and the sweep's compaction must hand the
arena's pages back (RSS drops back near idle).

RSS (VmRSS and RssAnon from /proc/PID/status) is sampled every 2 s and
printed as a series. Warm-up is max(60 s, SECONDS/5) (for runs under 120 s,
half the run): the population reaches its steady state within ~30 s (peers
live 10-20 s past their last announce, the sweeper runs every 30 s).

After warm-up RSS is not a flat line but a bounded sawtooth: the arena is
bump-allocated, freed blocks wait on free lists, and a sweep compacts and
releases the pages past the live data once garbage exceeds a quarter of the
touched arena. At this load the live arena is ~350 KiB (23k peers at 8 B,
7.7k block headers, size-class slack), so the touched arena swings by up to
a third of that plus 30 s of allocation between sweeps: ~200 KiB. Checks:
  - no growth: the troughs right after compactions (a drop of more than
    32 KiB between two samples; the lowest sample until the next drop) must
    not rise: the last trough may exceed the first by at most 64 KiB -- a
    leak of 0.2 KiB/s would exceed it between two compactions ~400 s apart
    (measured cycle at this load). A run too short to see two compactions
    after the population settles is judged by the swing bound alone;
  - bounded swing: VmRSS max - min after warm-up <= 384 KiB (the sawtooth
    above with 2x margin; the swarm tables themselves can never exceed the
    4 MiB cap, and each HTTP connection task adds 16 KiB while it lives).
A PNG plot goes to tests/soak/rss.png when matplotlib is available.

    tests/soak/soak.py SECONDS
"""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flood"))
from common import (FLOOD_BIN, Failure, RssSampler, Tracker, build, check, fixed_hash, log, main,  # noqa: E402
                    run_flood, status_kb)

SWING_KB = 384
GROWTH_KB = 64
CONF = """tracker.max_memory 4M
tracker.announce_interval 10
tracker.peer_timeout 20
access.fullscrape yes
tracker.max_peers_per_address 65535
tracker.new_torrents_per_minute 0
"""


def http_side(t, stop, counts):
    """Keep-alive announces and scrapes, stats pages, full scrapes, fresh connections."""
    i = 0
    s = None
    while not stop.is_set():
        i += 1
        try:
            if s is None:
                s = socket.create_connection(t.tcp, timeout=5)
            h = fixed_hash(2_000_000 + i % 8000)
            kind = i % 10
            if kind < 5:
                ev = ["started", "", "", "completed", "stopped"][i % 5]
                q = urllib.parse.urlencode({"info_hash": h, "port": 1 + i % 200, "left": 0 if ev == "completed" else 1,
                                            "event": ev, "numwant": 30})
                target = f"/announce?{q}"
            elif kind < 8:
                target = "/scrape?" + urllib.parse.urlencode({"info_hash": h})
            elif kind == 8:
                target = "/stats?mode=" + ["peer", "conn", "everything", "prom", "herr"][i % 5]
            else:
                # Streamed pages close the connection: on a fresh one.
                fmt = ["txt", "bin", "ben"][i % 3]
                status, body = t.http(f"/stats?mode=tpbs&format={fmt}" if i % 20 else "/scrape", timeout=10)
                counts["stream_bytes"] += len(body)
                counts["ok" if status == 200 else "bad"] += 1
                time.sleep(0.025)
                continue
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            while len(rest) < n:
                rest += s.recv(65536)
            ok = re.match(rb"HTTP/1\.[01] 200", head) is not None and b"failure reason" not in rest
            counts["ok" if ok else "bad"] += 1
            if not ok:
                counts["bad_samples"].append(rest[:100])
            # Now and then a new connection; stats answers close theirs, as opentracker's.
            if i % 97 == 0 or kind == 8:
                s.close()
                s = None
        except (OSError, Failure, AttributeError) as e:
            counts["bad"] += 1
            counts["bad_samples"].append(repr(e))
            s = None
        time.sleep(0.025)
    if s:
        s.close()


def compaction_troughs(samples, settle, drop_kb=32):
    """(time, VmRSS) of the lowest sample after each drop of more than
    `drop_kb` (a compaction handing pages back), until the next drop;
    drops before `settle` seconds are ignored."""
    drops = [i for i in range(1, len(samples)) if samples[i][1] < samples[i - 1][1] - drop_kb]
    drops = [i for i in drops if samples[i][0] >= settle]
    out = []
    for k, i in enumerate(drops):
        end = drops[k + 1] if k + 1 < len(drops) else len(samples)
        low = min(samples[i:end], key=lambda s: s[1])
        out.append((low[0], low[1]))
    return out


def plot(samples, warm, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not available: no plot")
        return
    xs = [s[0] for s in samples]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(xs, [s[1] for s in samples], label="VmRSS")
    ax.plot(xs, [s[2] for s in samples], label="RssAnon")
    ax.axvline(warm, color="grey", linestyle="--", label="end of warm-up")
    ax.set_xlabel("seconds")
    ax.set_ylabel("KiB")
    ax.set_title("smoltracker soak: RSS (max_memory 4M)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    log(f"plot written to {path}")


def run():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    warm = max(60, seconds // 5) if seconds >= 120 else seconds // 2
    build()
    t = Tracker(CONF)
    try:
        log(f"tracker pid {t.pid}: {t.log().strip().splitlines()[-1]}")
        idle = status_kb(t.pid)
        pre = run_flood(["udp-announce", t.udp_addr, 700_000, "--threads", 4, "--window", 64, "--hot", 256,
                         "--hot-permille", 600], timeout=600)
        filled = t.prom()
        st = status_kb(t.pid)
        log(f"prefill: {pre['sent']} announces ({pre['ok']} ok, {pre['full']} refused: tracker is full); "
            f"torrents {filled['smoltracker_torrents']}/{filled['smoltracker_torrents_capacity']}; "
            f"VmRSS {idle['VmRSS']} -> {st['VmRSS']} KiB, RssAnon {idle['RssAnon']} -> {st['RssAnon']} KiB")
        check(pre["exit"] == 0 and pre["full"] > 0, f"prefill did not fill the tracker: {pre}")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            p = t.prom()
            if p['smoltracker_peers{kind="seeder"}'] + p['smoltracker_peers{kind="leecher"}'] == 0:
                break
            time.sleep(2)
        time.sleep(1)
        freed = status_kb(t.pid)
        log(f"prefill peers all expired after {time.monotonic() - t0:.0f} s; torrents left {p['smoltracker_torrents']}; "
            f"VmRSS {freed['VmRSS']} KiB, RssAnon {freed['RssAnon']} KiB (arena pages handed back)")
        check(p["smoltracker_torrents"] == 0, "prefill torrents not freed")
        check(freed["RssAnon"] < st["RssAnon"] - 1024, "the arena's pages were not handed back after expiry")
        log(f"soak {seconds} s, warm-up {warm} s, RSS every 2 s")
        sampler = RssSampler(t.pid, every=2.0)
        sampler.start()
        load = subprocess.Popen([FLOOD_BIN, "udp-churn", t.udp_addr, str(seconds), "--threads", "2",
                                 "--peers", "20000", "--hashes", "8000", "--interval", "10"],
                                stdout=subprocess.PIPE, text=True)
        stop = threading.Event()
        counts = {"ok": 0, "bad": 0, "bad_samples": [], "stream_bytes": 0}
        web = threading.Thread(target=http_side, args=(t, stop, counts), daemon=True)
        web.start()
        series = []
        start = time.monotonic()
        while load.poll() is None:
            time.sleep(min(10, seconds / 10))
            if not t.alive():
                break
            p = t.prom()
            st = status_kb(t.pid) or {}
            row = (time.monotonic() - start, st.get("VmRSS"), st.get("RssAnon"), p["smoltracker_torrents"],
                   p['smoltracker_peers{kind="seeder"}'] + p['smoltracker_peers{kind="leecher"}'])
            series.append(row)
            log(f"  t={row[0]:5.0f}s VmRSS {row[1]} KiB RssAnon {row[2]} KiB torrents {row[3]} peers {row[4]}")
        stdout, _ = load.communicate(timeout=30)
        stop.set()
        web.join(10)
        sampler.stop()
        check(t.alive(), "tracker died:\n" + t.log()[-2000:])
        f = {k: v for k, v in (kv.split("=", 1) for kv in stdout.strip().splitlines()[-1].split())}
        log(f"UDP churn: {f}")
        log(f"HTTP side: {counts['ok']} ok, {counts['bad']} bad, {counts['stream_bytes']} bytes of streamed pages")
        samples = sampler.samples
        log("RSS series (s:VmRSS KiB/RssAnon KiB): " + " ".join(f"{s[0]:.0f}:{s[1]}/{s[2]}" for s in samples))
        after = [s for s in samples if s[0] >= warm]
        check(len(after) >= 5, "too few samples after warm-up")
        rss = [s[1] for s in after]
        anon = [s[2] for s in after]
        troughs = compaction_troughs(samples, settle=30)
        growth = troughs[-1][1] - troughs[0][1] if len(troughs) >= 2 else None
        n = len(after)
        mx = sum(s[0] for s in after) / n
        my = sum(rss) / n
        slope = sum((s[0] - mx) * (s[1] - my) for s in after) / max(1e-9, sum((s[0] - mx) ** 2 for s in after))
        log(f"after warm-up ({n} samples): VmRSS min {min(rss)} max {max(rss)} KiB (swing {max(rss) - min(rss)} KiB, "
            f"bound {SWING_KB}); troughs after compactions (s:KiB) {' '.join(f'{t:.0f}:{kb}' for t, kb in troughs)}"
            f"{f', growth {growth:+d} KiB (bound {GROWTH_KB})' if growth is not None else ' (fewer than two: not judged)'}; "
            f"RssAnon min {min(anon)} max {max(anon)} KiB; linear trend {slope * 60:+.1f} KiB/min")
        check(f["stalled"] == "false", "the churn generator got no answers for 5 s")
        check(f["other_error"] == "0" and f["bad_reply"] == "0" and f["full"] == "0", f"error replies: {f}")
        check(int(f["ok"]) > 0, "nothing answered")
        check(counts["ok"] > 0 and counts["bad"] == 0, f"HTTP problems: {counts['bad_samples'][:3]}")
        check(growth is None or growth <= GROWTH_KB, f"VmRSS troughs rose {growth} KiB: memory grows")
        check(max(rss) - min(rss) <= SWING_KB, f"VmRSS swung {max(rss) - min(rss)} KiB after warm-up")

        # Expiry: nobody announces any more; every peer must be forgotten within
        # peer_timeout (20 s) + a sweep period (30 s) + a 16 s tick + slack.
        t0 = time.monotonic()
        peers = None
        while time.monotonic() - t0 < 90:
            p = t.prom()
            peers = p['smoltracker_peers{kind="seeder"}'] + p['smoltracker_peers{kind="leecher"}']
            if peers == 0:
                break
            time.sleep(5)
        gone = time.monotonic() - t0
        p = t.prom()
        log(f"after the load stopped: 0 peers after {gone:.0f} s; {p['smoltracker_torrents']} torrents kept "
            f"(those with completed downloads), completed_total {p['smoltracker_completed_total']}")
        check(peers == 0, f"{peers} peers still stored 90 s after the last announce")
        plot(samples, warm, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rss.png"))
        check(t.stop() == 0, "unclean exit")
        log(f"RESULT soak: {seconds} s, {f['sent']} UDP announces ({f['joins']} joins, {f['leaves']} stopped, "
            f"{f['vanished']} vanished, {f['completed']} completed), {counts['ok']} HTTP requests; VmRSS after "
            f"warm-up {min(rss)}..{max(rss)} KiB (swing {max(rss) - min(rss)} <= {SWING_KB} KiB, trough growth "
            f"{'n/a' if growth is None else f'{growth:+d}'} <= {GROWTH_KB} KiB); all peers expired {gone:.0f} s after "
            f"the load")
    finally:
        t.close()


if __name__ == "__main__":
    main(run)
