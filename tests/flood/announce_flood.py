#!/usr/bin/env python3
"""announce_flood: COUNT (default 1M) UDP announces with random info hashes
under `tracker.max_memory 4M`, all from one source address (127.0.0.1).

The per-network budget for new torrents and the per-address peer cap are
turned off here (`tracker.new_torrents_per_minute 0`,
`tracker.max_peers_per_address 65535`; with the defaults one source gets 300
torrents and 16 peers a torrent, see tests/admission.rs), so that the flood
really fills both tables: half of the announces go to fresh random hashes
(the torrent table fills, and junk torrents evict junk torrents); half go,
with random ports, to 256 hot torrents whose peer blocks grow until the arena
is full (compaction, then peer replacement). Meanwhile an existing swarm of
20 peers on 20 addresses (127.0.1.x), announced before the flood, is
re-announced every half second. Afterwards a brand-new torrent from another
network must be served at once, its seeder handed to a leecher.

Checks: memory, sampled every 20 ms from /proc/PID/status, stays within the
4 MiB cap + 1 MiB: the process's own memory (RssAnon: heap, stacks, tables)
in absolute terms, and VmRSS as growth over the idle baseline (VmRSS also
counts ~2 MiB of mapped binary and libc pages, RssFile, which do not grow); refusals are counted in /stats (prom and everything); the existing
swarm answers every re-announce with its 10 seeders and 10 leechers and is
whole afterwards (UDP and HTTP scrape); a new peer can still join it.

    tests/flood/announce_flood.py [--count N] [--threads N]
"""
import argparse
import re
import threading
import time

from common import (Failure, RssSampler, Tracker, Udp, build, check, fixed_hash, log, main, mib, run_flood,
                    status_kb)

CAP_KB = 4096
SLACK_KB = 1024


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=4)
    opts = ap.parse_args()
    build()
    t = Tracker("tracker.max_memory 4M\ntracker.new_torrents_per_minute 0\ntracker.max_peers_per_address 65535\n")
    try:
        log(f"tracker pid {t.pid} tcp {t.tcp_addr} udp {t.udp_addr}: {t.log().strip().splitlines()[-1]}")
        time.sleep(0.5)
        idle = []
        for _ in range(20):
            idle.append(status_kb(t.pid))
            time.sleep(0.05)
        baseline = max(st["VmRSS"] for st in idle)
        idle_anon = max(st["RssAnon"] for st in idle)
        idle_file = max(st["RssFile"] for st in idle)
        log(f"idle: VmRSS {baseline} KiB = RssAnon {idle_anon} KiB + RssFile {idle_file} KiB")

        swarm = fixed_hash(7)
        peers = [(20000 + i, 0 if i % 2 == 0 else 1000, f"127.0.1.{i + 1}") for i in range(20)]
        u = Udp(t)
        for port, left, local in peers:
            c = Udp(t, local=local)
            r = c.announce(swarm, port, left=left, event=2)
            c.close()
            check(r[0] == "ok", f"existing swarm announce: {r}")
        check(u.scrape([swarm])[0] == (10, 0, 10), f"existing swarm before: {u.scrape([swarm])}")

        problems, rounds = [], [0]
        stop = threading.Event()

        def keeper():
            ks = [Udp(t, timeout=1.0, local=local) for _, _, local in peers]
            while not stop.is_set():
                for k, (port, left, _) in zip(ks, peers):
                    try:
                        r = k.announce(swarm, port, left=left, numwant=50)
                    except Failure as e:
                        problems.append(f"re-announce {port}: {e}")
                        continue
                    if r[0] != "ok":
                        problems.append(f"re-announce {port}: {r[1]!r}")
                    elif (r[1], r[2]) != (10, 10):
                        problems.append(f"re-announce {port}: {r[2]} seeders {r[1]} leechers")
                rounds[0] += 1
                stop.wait(0.5)
            for k in ks:
                k.close()

        sampler = RssSampler(t.pid, every=0.02)
        sampler.start()
        keep = threading.Thread(target=keeper, daemon=True)
        keep.start()
        before = t.prom()
        f = run_flood(["udp-announce", t.udp_addr, opts.count, "--threads", opts.threads, "--window", 64,
                       "--hot", 256, "--hot-permille", 500], timeout=1800)
        stop.set()
        keep.join(10)
        time.sleep(0.2)
        peak = sampler.stop()
        log(f"flood: {f}")
        check(t.alive(), "tracker died during the flood:\n" + t.log())
        check(f["exit"] == 0 and f["stalled"] == "false", f"load generator failed: {f}")
        check(f["sent"] == opts.count, f"sent {f['sent']} of {opts.count}")

        after = t.prom()
        refused = after['smoltracker_refused_total{reason="full"}'] - before['smoltracker_refused_total{reason="full"}']
        evicted = after["smoltracker_torrents_evicted_total"]
        rate_refused = after['smoltracker_refused_total{reason="rate"}']
        replaced = after['smoltracker_peers_replaced_total{why="torrent_full"}']
        xml = t.stats("everything")
        m = re.search(r"<refused>\s*<full>(\d+)</full>", xml)
        check(m, "mode=everything has no <refused><full>")
        torrents, capacity = after["smoltracker_torrents"], after["smoltracker_torrents_capacity"]
        peers_stored = after['smoltracker_peers{kind="seeder"}'] + after['smoltracker_peers{kind="leecher"}']
        udp_announces = after['smoltracker_requests_total{proto="udp",kind="announce"}']
        growth = peak - baseline
        series = sampler.samples
        log(f"announces sent {f['sent']} in {f['secs']} s ({f['rate']}/s); replies {f['replies']} "
            f"(ok {f['ok']}, tracker is full {f['full']}, other errors {f['other_error']}), lost {f['lost']}")
        log(f"stats: refused_total{{reason=full}} {refused} (everything: <full>{m.group(1)}</full>), "
            f"{{reason=rate}} {rate_refused}, torrents evicted {evicted}, peers evicted from full torrents "
            f"{replaced}, udp announces {udp_announces}, torrents {torrents}/{capacity}, peers {peers_stored}")
        peak_anon = sampler.peak_anon
        log(f"memory ({len(series)} samples): VmRSS idle {mib(baseline)}, peak {mib(peak)}, growth {mib(growth)}; "
            f"RssAnon idle {mib(idle_anon)}, peak {mib(peak_anon)}; bound cap 4 MiB + 1 MiB = 5.00 MiB "
            f"(absolute VmRSS peak {'within' if peak <= CAP_KB + SLACK_KB else 'over'} 5 MiB: it includes "
            f"{mib(idle_file)} of mapped files)")
        log(f"existing swarm: {rounds[0]} re-announce rounds of 20 peers during the flood, {len(problems)} problems")
        check(growth <= CAP_KB + SLACK_KB, f"VmRSS grew {growth} KiB over idle, more than cap + 1 MiB")
        check(peak_anon <= CAP_KB + SLACK_KB, f"RssAnon peaked at {peak_anon} KiB, more than cap + 1 MiB")
        check(evicted > 0, "the flood never filled the torrent table: nothing was evicted")
        check(refused >= f["full"], f"stats count {refused} refusals, clients saw {f['full']}")
        check(refused <= f["sent"], f"more refusals ({refused}) than announces ({f['sent']})")
        check(int(m.group(1)) == after['smoltracker_refused_total{reason="full"}'], "prom and XML disagree")
        check(f["other_error"] == 0 and f["bad_reply"] == 0, f"unexpected errors: {f}")
        check(f["replies"] >= f["sent"] * 0.5, f"over half the announces unanswered: {f}")
        check(torrents <= capacity, f"{torrents} torrents in a table of {capacity}")
        check(not problems, "existing swarm disturbed: " + "; ".join(problems[:5]))
        check(rounds[0] >= 1, "the existing swarm was not re-announced during the flood")

        # Afterwards: the existing swarm is whole and takes a newcomer; stats answer.
        check(u.scrape([swarm])[0][0::2] == (10, 10), f"existing swarm after: {u.scrape([swarm])}")
        check(t.http_scrape(swarm) == (10, 10), f"HTTP scrape after: {t.http_scrape(swarm)}")
        status, body = t.http_announce(swarm, 31000, left=5)
        check(status == 200 and b"5:peers" in body and b"failure" not in body, f"newcomer: {status} {body[:120]!r}")
        r = u.announce(swarm, 31001, left=5)
        check(r[0] == "ok" and r[1] == 12 and len(r[3]) > 0, f"UDP newcomer: {r}")
        # A brand-new release from another network: accepted at once, its
        # seeder handed to the first leecher.
        t0 = time.monotonic()
        seeder, leecher = Udp(t, local="127.9.0.1"), Udp(t, local="127.9.1.1")
        r = seeder.announce(b"N" * 20, 7001, left=0, event=2)
        check(r[0] == "ok", f"a brand-new torrent after the flood: {r}")
        r = leecher.announce(b"N" * 20, 7002, left=5, event=2)
        took = time.monotonic() - t0
        check(r[0] == "ok" and r[2] == 1 and r[3] == [bytes([127, 9, 0, 1]) + (7001).to_bytes(2, "big")], f"its leecher got {r}")
        check(took < 1.0, f"the new torrent took {took:.2f} s")
        log(f"a brand-new torrent after the flood: seeder and leecher served in {took * 1000:.0f} ms")
        seeder.close()
        leecher.close()
        u.close()
        log(f"RESULT announce_flood: {f['sent']} announces, {f['rate']}/s, evicted {evicted} torrents, refused "
            f"{refused} full + {rate_refused} rate, VmRSS peak {mib(peak)} (idle {mib(baseline)}, growth {mib(growth)}), "
            f"RssAnon peak {mib(peak_anon)}, existing swarm intact, new torrent served in {took * 1000:.0f} ms")
    finally:
        t.close()


if __name__ == "__main__":
    main(run)
