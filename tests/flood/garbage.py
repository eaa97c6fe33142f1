#!/usr/bin/env python3
"""garbage: random datagrams and random/malformed HTTP requests at full speed.

UDP: datagrams of random length (0..1500) and content, some with a valid
connection id, BEP 15 magic, announce/scrape actions, one byte short, with
trailing options, too many scrape hashes, unknown actions. HTTP: random
bytes, announces with random parameters, POST/bodies, heads over 8 KiB,
chunked encoding, pipelined runs ending in garbage, unfinished heads,
60 headers, flipped bytes, connections closed without reading (RST).

After a warm-up (which also fills the 1 MiB torrent table with the random
torrents that the garbage happens to announce), RSS must stay flat: the end
RSS may exceed the post-warm-up RSS by at most 256 KiB. Then the tracker must
answer normal UDP and HTTP requests correctly, and stop cleanly on SIGTERM.

    tests/flood/garbage.py [--seconds N]
"""
import argparse
import subprocess
import time

from common import (FLOOD_BIN, RssSampler, Tracker, Udp, build, check, fixed_hash, log, main, mib, run_flood,
                    status_kb)

GROWTH_KB = 256


def flood(t, seconds, seed):
    """UDP and HTTP garbage at once; returns both figure dicts."""
    procs = [subprocess.Popen([FLOOD_BIN, "udp-garbage", t.udp_addr, str(seconds), "--threads", "2", "--window", "64",
                               "--seed", str(seed)], stdout=subprocess.PIPE, text=True),
             subprocess.Popen([FLOOD_BIN, "http-garbage", t.tcp_addr, str(seconds), "--threads", "4",
                               "--seed", str(seed + 1)], stdout=subprocess.PIPE, text=True)]
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=seconds + 60)
        line = stdout.strip().splitlines()[-1]
        f = {k: v for k, v in (kv.split("=", 1) for kv in line.split())}
        f["exit"] = p.returncode
        out.append(f)
    return out


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    opts = ap.parse_args()
    build()
    t = Tracker("tracker.max_memory 1M\naccess.fullscrape yes\n")
    try:
        log(f"tracker pid {t.pid}: {t.log().strip().splitlines()[-1]}")
        u = Udp(t)
        swarm = fixed_hash(3)
        for port in range(40000, 40010):
            check(u.announce(swarm, port, left=port % 2, event=2)[0] == "ok", "set-up announce")
        warm = max(3, opts.seconds // 6)
        wu, wh = flood(t, warm, 1)
        check(t.alive(), "tracker died during warm-up:\n" + t.log())
        time.sleep(0.5)
        st = status_kb(t.pid)
        base, base_anon = st["VmRSS"], st["RssAnon"]
        log(f"warm-up {warm} s: udp {wu['sent']} datagrams, http {wh['http_conns']} connections; "
            f"VmRSS {base} KiB (RssAnon {base_anon} KiB)")
        sampler = RssSampler(t.pid, every=0.1)
        sampler.start()
        fu, fh = flood(t, opts.seconds, 2)
        time.sleep(0.5)
        sampler.stop()
        check(t.alive(), "tracker died during the garbage flood:\n" + t.log())
        end = status_kb(t.pid)
        log(f"udp garbage: {fu}")
        log(f"http garbage: {fh}")
        check(fu["exit"] == 0 and fh["exit"] == 0, "load generator stalled: the tracker stopped answering")
        rss = [s[1] for s in sampler.samples]
        log(f"RSS over {opts.seconds} s ({len(rss)} samples): start {mib(base)}, min {mib(min(rss))}, "
            f"max {mib(max(rss))}, end {mib(end['VmRSS'])} (RssAnon {base_anon} -> {end['RssAnon']} KiB)")
        check(end["VmRSS"] - base <= GROWTH_KB, f"RSS grew {end['VmRSS'] - base} KiB during the garbage flood")
        check(max(rss) - base <= 4 * GROWTH_KB, f"RSS peaked {max(rss) - base} KiB above the post-warm-up level")

        # Normal requests still get correct answers.
        u2 = Udp(t)
        r = u2.announce(swarm, 40100, left=7, event=2)
        check(r[0] == "ok" and r[2] == 5 and len(r[3]) > 0, f"UDP announce after: {r}")
        check(u2.scrape([swarm])[0][0::2] == (5, 6), f"UDP scrape after: {u2.scrape([swarm])}")
        status, body = t.http_announce(swarm, 40101, left=0)
        check(status == 200 and b"8:completei" in body, f"HTTP announce after: {status} {body[:100]!r}")
        check(t.http_scrape(swarm) == (6, 6), f"HTTP scrape after: {t.http_scrape(swarm)}")
        herr = t.stats("herr")
        log("HTTP errors counted: " + " | ".join(herr.strip().splitlines()))
        status, body = t.http("/stats?mode=tpbs&format=ben")
        check(status == 200 and body.startswith(b"d5:filesd") and body.endswith(b"ee"), "full scrape page after")
        u.close()
        u2.close()
        code = t.stop()
        check(code == 0, f"SIGTERM exit code {code}")
        log(f"RESULT garbage: {opts.seconds} s: {fu['sent']} UDP datagrams ({fu['rate']}/s, {fu['replies']} "
            f"replies), {fh['http_conns']} HTTP connections (2xx {fh['http_2xx']}, 4xx {fh['http_4xx']}, "
            f"5xx {fh['http_5xx']}, no reply {fh['http_none']}, reset {fh['http_reset']}); "
            f"RSS {mib(base)} -> {mib(end['VmRSS'])}, still answering, clean exit")
    finally:
        t.close()


if __name__ == "__main__":
    main(run)
