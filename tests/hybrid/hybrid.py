#!/usr/bin/python3
"""Hybrid (BEP 52) and v2-only releases with real clients, through the
virtual LAN of tests/lab/lab.py.

    /usr/bin/python3 tests/hybrid/hybrid.py TRACKER_BINARY [--timeout S] [--keep]

python3-libtorrent 2.0 makes a hybrid torrent and a v2-only one (random
2 MiB payloads, private, http:// over IPv4). The tracker runs with a
whitelist that names the hybrid on ONE line (`V1HEX V2HEX hybrid.bin`) and
the v2-only torrent by its 64-hex hash. A libtorrent seeder seeds both; a
libtorrent client (hybrid: announces both hashes), ctorrent (v1 only) and
qBittorrent (hybrid) download the hybrid, another libtorrent client the
v2-only torrent, each on its own host.

Why not Transmission 3.00 as the v1-only client: it cannot open a hybrid
torrent at all ("Error parsing .torrent file": its bencode parser refuses the
empty dictionary key of BEP 52's "file tree"), and aria2 1.36 loads it but
computes another info hash (it re-encodes the info dictionary without that
key), so neither ever announces the hybrid's v1 hash. ctorrent hashes the
info dictionary as it is and announces the v1 hash only. The script checks
that Transmission still refuses the file, so a Debian update that fixes it
is noticed. Every copy's SHA-256 is checked.
tcpdump captures the announces the tracker receives; then the status JSON
must show the hybrid as one release with distinct peers (each host once, 4
seeders) and as many downloads as distinct peers that announced `completed`
on either hash, per-hash scrapes must show the completions on each hash, and
the v2-only release must be served and counted.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab  # noqa: E402  (the LAN, the seeder and the clients)
from lab import lt  # noqa: E402

PORT = 6969


def log(msg):
    print(f"hybrid: {msg}", flush=True)


def make(seed_dir, name, flags, url):
    """A random payload and a torrent for it; (torrent path, v1 hex, v2 hex, sha256)."""
    path = os.path.join(seed_dir, name)
    with open(path, "wb") as f:
        f.write(os.urandom(lab.PAYLOAD_SIZE))
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs, lab.PIECE_SIZE, flags=flags)
    t.add_tracker(url)
    t.set_priv(True)
    lt.set_piece_hashes(t, seed_dir)
    torrent = os.path.join(os.path.dirname(seed_dir), name + ".torrent")
    with open(torrent, "wb") as f:
        f.write(lt.bencode(t.generate()))
    ih = lt.torrent_info(torrent).info_hashes()
    v1 = str(ih.v1) if ih.has_v1() else None
    v2 = str(ih.v2) if ih.has_v2() else None
    return torrent, v1, v2, lab.sha256(path)


def fetch(ns, url):
    out = lab.run(["ip", "netns", "exec", ns, "curl", "-sf", "-m", "5", url], timeout=10)
    return out


def scrape(ns, base, hex40):
    q = urllib.parse.quote_from_bytes(bytes.fromhex(hex40))
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "-m", "5",
                          f"{base}/scrape?info_hash={q}"], capture_output=True, timeout=10)
    d = lt.bdecode(out.stdout) or {}
    f = d.get(b"files", {}).get(bytes.fromhex(hex40), {})
    return f.get(b"complete", 0), f.get(b"incomplete", 0), f.get(b"downloaded", 0)


def completions(pcap):
    """{info_hash hex: {(source ip, port)}} of the `completed` announces captured."""
    text = subprocess.run(["tcpdump", "-r", pcap, "-n", "-A", "-s", "0"], capture_output=True,
                          text=True, errors="replace", timeout=30).stdout
    out, src = {}, None
    for line in text.splitlines():
        m = re.match(r"^\S+ IP (\d+\.\d+\.\d+\.\d+)\.\d+ > ", line)
        if m:
            src = m.group(1)
        m = re.search(r"GET /announce\?(\S+) HTTP", line)
        if m and src:
            q = urllib.parse.parse_qs(m.group(1))
            if q.get("event") == ["completed"]:
                ih = urllib.parse.unquote_to_bytes(
                    re.search(r"info_hash=([^&]+)", m.group(1)).group(1)).hex()
                out.setdefault(ih, set()).add((src, q["port"][0]))
    return out


def main_test(args):
    binary = os.path.abspath(args.tracker)
    missing = [x for x in ("ctorrent", "transmission-show", "qbittorrent-nox", "curl",
                           "tcpdump", "ip")
               if shutil.which(x) is None]
    if missing:
        sys.exit(f"hybrid: missing programs: {' '.join(missing)}")
    work = tempfile.mkdtemp(prefix="smoltracker-hybrid.")
    os.chmod(work, 0o755)
    lan, failures, t0 = None, [], time.monotonic()

    def check(ok, what):
        log(("PASS " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    try:
        lan = lab.Lan()
        tns, tv4, _ = lan.host("tracker")
        sns, _, _ = lan.host("seed")
        hosts = {c: lan.host(c) for c in ("lt", "ct", "qb", "v2")}
        base = f"http://{tv4}:{PORT}"
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        hy, hv1, hv2, hsha = make(seed_dir, "hybrid.bin", 0, f"{base}/announce")
        v2t, none, ov2, osha = make(seed_dir, "v2only.bin", lt.create_torrent.v2_only,
                                    f"{base}/announce")
        assert hv1 and hv2 and ov2 and none is None, (hv1, hv2, ov2, none)
        log(f"hybrid v1 {hv1} v2 {hv2}; v2-only {ov2}")
        r = subprocess.run(["transmission-show", hy], capture_output=True, text=True, timeout=10)
        log(f"NOTE Transmission 3 and the hybrid: {(r.stdout + r.stderr).strip()[:80]!r}")
        wl = os.path.join(work, "whitelist")
        with open(wl, "w") as f:
            f.write(f"# one line, one release\n{hv1} {hv2} hybrid.bin\n{ov2} v2only.bin\n")
        pcap = os.path.join(work, "announces.pcap")
        cap = lan.spawn(tns, ["tcpdump", "-i", "eth0", "-n", "-s", "0", "-U", "-w", pcap,
                              "tcp", "dst", "port", str(PORT)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tlog = open(os.path.join(work, "tracker.log"), "w")
        tracker = lan.spawn(tns, [binary, "-i", tv4, "-p", str(PORT), "-w", wl],
                            stdout=tlog, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        if tracker.poll() is not None:
            raise RuntimeError("tracker exited at start-up:\n" + open(tlog.name).read())
        slog = open(os.path.join(work, "seeder.log"), "w")
        seeder = lan.spawn(sns, [lab.PY, lab.__file__, "seeder", "--dir", seed_dir,
                                 "--lifetime", "280", hy, v2t],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slog, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = seeder.stdout.readline().strip()
            if line == "READY" or (not line and seeder.poll() is not None):
                break
        else:
            line = ""
        if line != "READY":
            raise RuntimeError("the seeder had no tracker reply for both torrents in 30 s")
        threading.Thread(target=lambda: [slog.write(x) for x in seeder.stdout],
                         daemon=True).start()
        log(f"LAN up, seeding ({time.monotonic() - t0:.1f} s)")

        runs = []
        for client, host, torrent, name, sha in (
                ("libtorrent", "lt", hy, "hybrid.bin", hsha),
                ("ctorrent", "ct", hy, "hybrid.bin", hsha),
                ("qbittorrent", "qb", hy, "hybrid.bin", hsha),
                ("libtorrent", "v2", v2t, "v2only.bin", osha)):
            d = os.path.join(work, host)
            os.makedirs(os.path.join(d, "dl"))
            ctx = {"ns": hosts[host][0], "work": d, "dl": os.path.join(d, "dl"), "name": name,
                   "torrent": torrent, "log": open(os.path.join(d, "client.log"), "w")}
            start = {"libtorrent": lab.c_libtorrent, "ctorrent": lab.c_ctorrent,
                     "qbittorrent": lab.c_qbittorrent}[client]
            runs.append((f"{client} on {host}", start(lan, ctx),
                         os.path.join(ctx["dl"], name), sha, ctx))

        pending = {r[0] for r in runs}
        deadline = time.monotonic() + args.timeout
        while pending and time.monotonic() < deadline:
            for label, p, target, sha, _ in runs:
                if label in pending and os.path.exists(target) \
                        and os.path.getsize(target) == lab.PAYLOAD_SIZE \
                        and lab.sha256(target) == sha:
                    pending.discard(label)
                    log(f"PASS {label}: downloaded, sha256 ok ({time.monotonic() - t0:.1f} s)")
            time.sleep(0.5)
        for label in sorted(pending):
            check(False, f"{label}: not downloaded in {args.timeout:.0f} s")

        # The counts settle once every client has announced `completed`.
        want_hosts = {hosts[h][1] for h in ("lt", "ct", "qb")}
        deadline, state = time.monotonic() + args.settle, None
        while time.monotonic() < deadline:
            time.sleep(1)
            done = completions(pcap)
            hybrid_peers = done.get(hv1, set()) | done.get(hv2[:40], set())
            if {ip for ip, _ in hybrid_peers} != want_hosts or not done.get(ov2[:40]):
                continue
            j = json.loads(fetch(sns, f"{base}/stats?mode=json"))
            rows = {r["info_hash"]: r for r in j["torrents"]}
            state = (done, hybrid_peers, j, rows)
            h = rows.get(hv1, {})
            if (h.get("seeders"), h.get("leechers"), h.get("completed")) == \
                    (4, 0, len(hybrid_peers)):
                break
        if state is None:
            check(False, "every client's `completed` announce captured "
                         f"(captured: {completions(pcap)})")
        else:
            done, hybrid_peers, j, rows = state
            h, o = rows.get(hv1, {}), rows.get(ov2[:40], {})
            both = done.get(hv1, set()) & done.get(hv2[:40], set())
            log(f"captured completed: v1 {sorted(done.get(hv1, []))}, "
                f"v2 {sorted(done.get(hv2[:40], []))}, v2-only {sorted(done.get(ov2[:40], []))}")
            check(len(both) >= 1, f"a hybrid client completed on both hashes ({sorted(both)})")
            check(hv2[:40] not in rows and h.get("info_hash2") == hv2[:40]
                  and h.get("label") == "hybrid.bin",
                  f"the hybrid is one release row: {h}")
            check((h.get("seeders"), h.get("leechers")) == (4, 0),
                  f"distinct peers: 4 seeders (seeder, libtorrent, ctorrent, qBittorrent), "
                  f"0 leechers: got {h.get('seeders')}/{h.get('leechers')}")
            check(h.get("completed") == len(hybrid_peers),
                  f"release downloads = distinct peers completing on either hash "
                  f"({len(hybrid_peers)}): got {h.get('completed')}")
            check(h.get("daily", [0])[-1] == len(hybrid_peers),
                  f"today's bar of the release: {h.get('daily', [])[-3:]}")
            for hexh in (hv1, hv2[:40]):
                got = scrape(sns, base, hexh)
                check(got[2] == len(done.get(hexh, ())),
                      f"scrape {hexh[:8]}: downloaded {got[2]} = completed announces on it "
                      f"({len(done.get(hexh, ()))})")
            check((o.get("label"), o.get("seeders"), o.get("leechers"), o.get("completed"))
                  == ("v2only.bin", 2, 0, 1), f"the v2-only release is served and counted: {o}")
            check(j["totals"]["completed"] == len(hybrid_peers) + 1,
                  f"totals.completed counts each download once: {j['totals']['completed']}")
            total = j["history"]["total"][-1]
            check(total == len(hybrid_peers) + 1,
                  f"today's total: {total} = {len(hybrid_peers)} + 1")
        check(tracker.poll() is None, "the tracker ran to the end")
        for _, p, _, _, ctx in runs:
            if p.stdin:
                try:
                    p.stdin.close()
                except OSError:
                    pass
            lan.stop(p, signal.SIGTERM, grace=5)
            ctx["log"].close()
        lan.stop(cap, signal.SIGINT, grace=3)
    except Exception as e:
        check(False, f"{type(e).__name__}: {e}")
    finally:
        if lan:
            lan.close()
        if failures:
            try:
                print("--- tracker output:\n" + open(os.path.join(work, "tracker.log")).read()[-3000:])
            except OSError:
                pass
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"{time.monotonic() - t0:.0f} s, {len(failures)} failed")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tracker")
    p.add_argument("--timeout", type=float, default=90, help="seconds for the downloads (90)")
    p.add_argument("--settle", type=float, default=120,
                   help="seconds for every `completed` to be announced and counted (120;"
                        " ctorrent sends it with its next announce, about a minute on)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("hybrid: needs root (ip netns)")
    return main_test(args)


if __name__ == "__main__":
    lab.run_main(main)
