#!/usr/bin/python3
"""Real clients through a virtual LAN: network namespaces this script creates.

    /usr/bin/python3 tests/lab/lab.py TRACKER_BINARY [--clients a,b] [--timeout S]

One namespace holds a bridge; every host is a namespace with one veth into it:
the tracker, a python3-libtorrent seeder, and one host per client (libtorrent,
qBittorrent driven through its WebUI API, Transmission, aria2, rtorrent,
ctorrent). Addresses are private (10.77.0.0/24, fd77::/64) and exist only
inside those namespaces; there is no default route, so nothing can leave.
Each client downloads its own private torrent (a random 2 MiB payload) over
http:// and udp://, IPv4 and IPv6 where it can (a skip names the reason),
the copy's SHA-256 is checked, and a scrape over the same scheme and family
must then agree with what was announced: both peers known, the client counted
as a seeder once it has said `completed`. Every process is stopped by its PID
and every namespace deleted on exit (run.sh deletes them again from a trap).

Internal sub-commands, run inside a namespace: seeder, leech, scrape.
Needs root, iproute2, Debian's python3-libtorrent (/usr/bin/python3) and the
clients' Debian packages (a missing client is a failure, not a skip).
"""
import argparse
import hashlib
import json
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import libtorrent as lt

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
PAYLOAD_SIZE = 2 * 1024 * 1024
PIECE_SIZE = 64 * 1024
V4, V6 = "10.77.0.", "fd77::"
TRACKER_PORT = 6969
PEER_PORT = 6881


def log(msg):
    print(f"lab: {msg}", flush=True)


def run(cmd, timeout=10, check=True):
    """A bounded command; its output is returned (and shown on failure)."""
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


# ---------------------------------------------------------------- the LAN

class Lan:
    """A bridge in its own namespace and hosts on it; every namespace is
    deleted by close() (and listed in NS_FILE for run.sh's trap)."""

    def __init__(self):
        self.prefix = f"stlab{os.getpid() % 100000}"
        self.names = []
        self.procs = []
        self.lock, self.closing = threading.Lock(), False
        self.bridge = self._ns("br")
        run(["ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge",
             "forward_delay", "0", "stp_state", "0"])
        run(["ip", "-n", self.bridge, "link", "set", "br0", "up"])
        self.next_host = 1

    def _ns(self, name):
        ns = f"{self.prefix}-{name}"
        run(["ip", "netns", "add", ns])
        self.names.append(ns)
        if os.environ.get("LAB_NS_FILE"):
            with open(os.environ["LAB_NS_FILE"], "a") as f:
                f.write(ns + "\n")
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        return ns

    def host(self, name):
        """A namespace with eth0 on the bridge; returns (ns, v4 address, v6 address)."""
        n = self.next_host
        self.next_host += 1
        ns = self._ns(name)
        port = f"p{n}"
        run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port,
             "netns", self.bridge])
        run(["ip", "-n", self.bridge, "link", "set", port, "master", "br0", "up"])
        v4, v6 = f"{V4}{n}", f"{V6}{n}"
        run(["ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", "eth0", "nodad"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        return ns, v4, v6

    def spawn(self, ns, cmd, **kw):
        """Start CMD inside NS in its own session; stopped by PID in stop()/close()."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        with self.lock:  # nothing starts once close() has begun
            if self.closing:
                raise RuntimeError("the LAN is shutting down")
            p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, start_new_session=True, **kw)
            self.procs.append(p)
        return p

    @staticmethod
    def stop(p, sig=signal.SIGTERM, grace=8):
        """Stop one process by its PID (then its process group, which it leads)."""
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # leftovers of its own group
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)

    def close(self):
        with self.lock:
            self.closing = True
        for p in reversed(self.procs):
            self.stop(p, grace=3)
        for ns in reversed(self.names):
            subprocess.run(["ip", "netns", "del", ns], timeout=10,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- torrents

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_torrent(seed_dir, torrent_path, name, url):
    """A random payload in SEED_DIR and a v1-only private torrent for it."""
    path = os.path.join(seed_dir, name)
    with open(path, "wb") as f:
        f.write(os.urandom(PAYLOAD_SIZE))
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs, PIECE_SIZE, flags=lt.create_torrent.v1_only)
    t.add_tracker(url)
    t.set_priv(True)
    t.set_creator("smoltracker lab")
    lt.set_piece_hashes(t, seed_dir)
    with open(torrent_path, "wb") as f:
        f.write(lt.bencode(t.generate()))
    return str(lt.torrent_info(torrent_path).info_hashes().v1), sha256(path)


def lt_session(listen):
    cat = lt.alert.category_t
    return lt.session({
        "listen_interfaces": listen,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        # Transmission 3.00 and libtorrent 2.0 stall over uTP here: TCP only.
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        # every torrent active at once (the queue would start a few at a time)
        "active_limit": 100, "active_seeds": 100, "active_downloads": 100,
        "active_tracker_limit": 200,
        "alert_mask": cat.error_notification | cat.status_notification
        | cat.tracker_notification | cat.connect_notification,
    })


def seeder_main(args):
    """Inside the seeder's namespace: seed every torrent given, print READY once
    each has had a tracker reply, keep seeding until stdin closes."""
    ses = lt_session(f"0.0.0.0:{PEER_PORT},[::]:{PEER_PORT}")
    handles = {}
    for t in args.torrents:
        h = ses.add_torrent({"ti": lt.torrent_info(t), "save_path": args.dir})
        h.unset_flags(lt.torrent_flags.auto_managed)
        h.resume()
        handles[str(h.info_hashes().v1)] = h
    waiting, t0 = set(handles), time.monotonic()
    while True:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.tracker_error_alert, lt.tracker_warning_alert,
                              lt.listen_failed_alert)):
                print(f"seeder {time.monotonic() - t0:6.2f} {a.message()}", flush=True)
            if isinstance(a, lt.tracker_reply_alert):
                ih = str(a.handle.info_hashes().v1)
                if ih in waiting:
                    waiting.discard(ih)
                    if not waiting:
                        print("READY", flush=True)
        if time.monotonic() - t0 > args.lifetime:
            break
    return 0


def leech_main(args):
    """Inside a client's namespace: download with libtorrent until stdin closes,
    then pause so that event=stopped is announced."""
    ses = lt_session(f"0.0.0.0:{PEER_PORT},[::]:{PEER_PORT}")
    h = ses.add_torrent({"ti": lt.torrent_info(args.torrent), "save_path": args.dir})
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.lifetime:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.tracker_error_alert, lt.tracker_reply_alert)):
                print(f"leech {time.monotonic() - t0:6.2f} {a.message()}", flush=True)
    h.unset_flags(lt.torrent_flags.auto_managed)
    h.pause(lt.torrent_handle.graceful_pause)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        if any(isinstance(a, lt.tracker_reply_alert) for a in ses.pop_alerts()):
            break
    return 0


# ---------------------------------------------------------------- scrape

def scrape(url, info_hash):
    """(complete, incomplete, downloaded) for INFO_HASH from the tracker at URL."""
    ih = bytes.fromhex(info_hash)
    u = urllib.parse.urlsplit(url)
    if u.scheme == "http":
        q = urllib.parse.quote_from_bytes(ih)
        surl = f"{u.scheme}://{u.netloc}/scrape?info_hash={q}"
        with urllib.request.urlopen(surl, timeout=5) as r:
            d = lt.bdecode(r.read())
        f = d[b"files"].get(ih, {})
        return f.get(b"complete", 0), f.get(b"incomplete", 0), f.get(b"downloaded", 0)
    fam = socket.AF_INET6 if u.hostname and ":" in u.hostname else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.connect((u.hostname, u.port))
        s.send(struct.pack(">QII", 0x41727101980, 0, 7))
        _, _, cid = struct.unpack(">IIQ", s.recv(64)[:16])
        s.send(struct.pack(">QII", cid, 2, 8) + ih)
        r = s.recv(64)
        action, _, seeders, completed, leechers = struct.unpack(">IIIII", r[:20])
        if action != 2:
            raise RuntimeError(f"UDP scrape answered action {action}: {r[8:]!r}")
        return seeders, leechers, completed


def scrape_main(args):
    print(json.dumps(scrape(args.url, args.info_hash)))
    return 0


# ---------------------------------------------------------------- clients
# Each client: which (scheme, family) it can do, or why not, and how to start it.
# start(ctx) returns the Popen; the download lands in ctx["dl"].

def c_libtorrent(lan, ctx):
    return lan.spawn(ctx["ns"], [PY, __file__, "leech", "--torrent", ctx["torrent"],
                                 "--dir", ctx["dl"]],
                     stdin=subprocess.PIPE, stdout=ctx["log"], stderr=subprocess.STDOUT)


def c_transmission(lan, ctx):
    cfg = os.path.join(ctx["work"], "transmission")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "settings.json"), "w") as f:
        json.dump({"dht-enabled": False, "lpd-enabled": False, "pex-enabled": False,
                   "utp-enabled": False, "port-forwarding-enabled": False,
                   "peer-port": PEER_PORT, "download-dir": ctx["dl"],
                   "incomplete-dir-enabled": False, "rpc-enabled": False,
                   "blocklist-enabled": False}, f)
    return lan.spawn(ctx["ns"], ["transmission-cli", "-g", cfg, "-w", ctx["dl"], "-D", "-U",
                                 "-M", "-p", str(PEER_PORT), ctx["torrent"]],
                     stdout=ctx["log"], stderr=subprocess.STDOUT)


def c_aria2(lan, ctx):
    return lan.spawn(ctx["ns"], [
        "aria2c", f"--dir={ctx['dl']}", "--no-conf=true",
        # aria2 sends UDP tracker traffic from its IPv4 DHT socket only; the
        # torrent is private, so DHT itself is never used for it.
        "--enable-dht=true", "--dht-listen-port=6882", "--enable-dht6=false",
        f"--dht-file-path={ctx['work']}/dht.dat",
        "--bt-enable-lpd=false", "--enable-peer-exchange=false",
        f"--listen-port={PEER_PORT}", "--seed-ratio=0.0", "--seed-time=10",
        "--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
        "--bt-tracker-connect-timeout=10", "--bt-tracker-timeout=10", ctx["torrent"]],
        stdout=ctx["log"], stderr=subprocess.STDOUT)


def c_rtorrent(lan, ctx):
    session = os.path.join(ctx["work"], "session")
    os.makedirs(session, exist_ok=True)
    env = dict(os.environ, HOME=ctx["work"], TERM="dumb")
    return lan.spawn(ctx["ns"], [
        "rtorrent", "-n", "-o", "system.daemon.set=true",
        "-o", f"directory.default.set={ctx['dl']}", "-o", f"session.path.set={session}",
        "-o", "dht.mode.set=disable", "-o", "protocol.pex.set=no",
        "-o", "trackers.use_udp.set=yes",
        "-o", f"network.port_range.set={PEER_PORT}-{PEER_PORT}",
        "-o", "network.port_random.set=no",
        "-o", f"load.start_verbose={ctx['torrent']}"],
        stdout=ctx["log"], stderr=subprocess.STDOUT, env=env)


def c_ctorrent(lan, ctx):
    # It sends event=stopped only while its stdin is an open pipe.
    return lan.spawn(ctx["ns"], ["ctorrent", "-e", "1", "-p", str(PEER_PORT),
                                 "-s", os.path.join(ctx["dl"], ctx["name"]), ctx["torrent"]],
                     stdin=subprocess.PIPE, stdout=ctx["log"], stderr=subprocess.STDOUT,
                     cwd=ctx["work"])


def c_qbittorrent(lan, ctx):
    prof = os.path.join(ctx["work"], "profile")
    conf = os.path.join(prof, "qBittorrent", "config")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "qBittorrent.conf"), "w") as f:
        f.write("[LegalNotice]\nAccepted=true\n\n"
                "[BitTorrent]\nSession\\DHTEnabled=false\nSession\\LSDEnabled=false\n"
                f"Session\\PeXEnabled=false\nSession\\Port={PEER_PORT}\n"
                f"Session\\DefaultSavePath={ctx['dl']}\n\n"
                "[Preferences]\nWebUI\\Port=8080\nWebUI\\LocalHostAuth=false\n"
                "WebUI\\Address=127.0.0.1\nWebUI\\CSRFProtection=false\n"
                "WebUI\\HostHeaderValidation=false\nGeneral\\StatusbarExternalIPDisplayed=false\n")
    p = lan.spawn(ctx["ns"], ["qbittorrent-nox", f"--profile={prof}", "--webui-port=8080"],
                  stdout=ctx["log"], stderr=subprocess.STDOUT, env=dict(os.environ, HOME=prof))
    api = "http://127.0.0.1:8080/api/v2"
    deadline = time.monotonic() + 30
    while True:  # the WebUI answers once the session is up
        r = subprocess.run(["ip", "netns", "exec", ctx["ns"], "curl", "-sf", "-m", "2",
                            f"{api}/app/version"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0:
            break
        if time.monotonic() > deadline or p.poll() is not None:
            raise RuntimeError("qBittorrent's WebUI did not come up in 30 s")
        time.sleep(0.5)
    run(["ip", "netns", "exec", ctx["ns"], "curl", "-sf", "-m", "5",
         "-F", f"torrents=@{ctx['torrent']}", "-F", f"savepath={ctx['dl']}",
         f"{api}/torrents/add"], timeout=10)
    return p


# name -> (start, {(scheme, family): skip reason or None}, sends `completed` promptly)
CLIENTS = {
    "libtorrent": (c_libtorrent, {}, True),
    "qbittorrent": (c_qbittorrent, {}, True),
    "transmission": (c_transmission, {
        ("udp", 6): "Transmission 3.00 opens its UDP/IPv6 socket only on a host with a "
                    "global (2000::/3) IPv6 address; the lab's are private (fd77::/64)"}, True),
    "aria2": (c_aria2, {("udp", 6): "aria2 1.36 sends UDP tracker traffic from its IPv4 "
                                    "DHT socket only"}, True),
    "rtorrent": (c_rtorrent, {("udp", 6): "rtorrent 0.9.8 reads 18-byte UDP/IPv6 peers "
                                          "wrongly"},
                 # it holds `completed` back for min interval
                 False),
    "ctorrent": (c_ctorrent, {("udp", 4): "ctorrent speaks HTTP trackers only",
                              ("udp", 6): "ctorrent speaks HTTP trackers only",
                              ("http", 6): "ctorrent rejects [v6] tracker URLs"}, True),
}
COMBOS = [("http", 4), ("udp", 4), ("http", 6), ("udp", 6)]


def tracker_url(scheme, fam, tv4, tv6):
    host = tv4 if fam == 4 else f"[{tv6}]"
    return f"{scheme}://{host}:{TRACKER_PORT}/announce"


def scrape_in(ns, url, ih):
    out = run(["ip", "netns", "exec", ns, PY, __file__, "scrape", url, ih], timeout=15)
    return tuple(json.loads(out))


def run_combo(lan, client, combo, ctx, seed_ns, timeout):
    """Download, check SHA-256, check the scrape; returns (ok, message)."""
    start, _, sends_completed = CLIENTS[client]
    t0 = time.monotonic()
    with open(ctx["logpath"], "w") as logf:
        ctx["log"] = logf
        p = start(lan, ctx)
        try:
            target = os.path.join(ctx["dl"], ctx["name"])
            done = False
            while time.monotonic() - t0 < timeout:
                if p.poll() is not None:
                    return False, f"client exited ({p.returncode}) before the download was done"
                if os.path.exists(target) and os.path.getsize(target) == PAYLOAD_SIZE \
                        and sha256(target) == ctx["sha"]:
                    done = True
                    break
                time.sleep(0.5)
            if not done:
                got = os.path.getsize(target) if os.path.exists(target) else 0
                return False, f"not downloaded after {timeout:.0f} s ({got} bytes there)"
            took = time.monotonic() - t0
            # The tracker must know both peers; a client that has said
            # `completed` is a seeder and counted as one download.
            want = (2, 0, 1) if sends_completed else None
            deadline, got = time.monotonic() + 20, None
            while time.monotonic() < deadline:
                got = scrape_in(seed_ns, ctx["url"], ctx["ih"])
                if (want and got == want) or (not want and got[0] + got[1] == 2
                                              and got[2] <= 1):
                    break
                time.sleep(1)
            else:
                return False, (f"downloaded in {took:.1f} s, but scrape says complete/incomplete/"
                               f"downloaded {got}, expected {want or 'two peers, <= 1 download'}")
            return True, (f"{PAYLOAD_SIZE} bytes in {took:.1f} s, sha256 ok, scrape "
                          f"complete/incomplete/downloaded {got}")
        finally:
            if p.stdin:
                try:
                    p.stdin.close()  # libtorrent leecher and ctorrent: announce stopped
                except OSError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            lan.stop(p, signal.SIGINT if client in ("rtorrent", "qbittorrent") else signal.SIGTERM)


def main_lab(args):
    binary = os.path.abspath(args.tracker)
    clients = args.clients.split(",") if args.clients else list(CLIENTS)
    for c in clients:
        if c not in CLIENTS:
            sys.exit(f"lab: unknown client {c} (known: {', '.join(CLIENTS)})")
    missing = [exe for exe in ("transmission-cli", "aria2c", "rtorrent", "ctorrent",
                               "qbittorrent-nox", "curl", "ip")
               if shutil.which(exe) is None and any(exe.startswith(c[:5]) or exe in ("curl", "ip")
                                                    for c in clients)]
    if missing:
        sys.exit(f"lab: missing programs: {' '.join(missing)}")
    work = tempfile.mkdtemp(prefix="smoltracker-lab.")
    os.chmod(work, 0o755)
    lan = None
    results = []
    t_start = time.monotonic()
    try:
        lan = Lan()
        tns, tv4, tv6 = lan.host("tracker")
        sns, sv4, sv6 = lan.host("seed")
        hosts = {c: lan.host(c[:8]) for c in clients}
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        plan = []  # (client, combo, ctx) or (client, combo, skip reason)
        for c in clients:
            for scheme, fam in COMBOS:
                reason = CLIENTS[c][1].get((scheme, fam))
                if reason:
                    plan.append((c, (scheme, fam), reason))
                    continue
                name = f"lab-{c}-{scheme}{fam}.bin"
                d = os.path.join(work, c, f"{scheme}{fam}")
                os.makedirs(os.path.join(d, "dl"))
                url = tracker_url(scheme, fam, tv4, tv6)
                torrent = os.path.join(d, "lab.torrent")
                ih, sha = make_torrent(seed_dir, torrent, name, url)
                plan.append((c, (scheme, fam), {
                    "ns": hosts[c][0], "work": d, "dl": os.path.join(d, "dl"), "name": name,
                    "torrent": torrent, "url": url, "ih": ih, "sha": sha,
                    "logpath": os.path.join(d, "client.log")}))
        tlog = open(os.path.join(work, "tracker.log"), "w")
        tracker = lan.spawn(tns, [binary, "-i", tv4, "-p", str(TRACKER_PORT), "-P",
                                  str(TRACKER_PORT), "-i", tv6, "-p", str(TRACKER_PORT), "-P",
                                  str(TRACKER_PORT)], stdout=tlog, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if tracker.poll() is not None:
            raise RuntimeError("tracker exited at start-up:\n" + open(tlog.name).read())
        torrents = [x[2]["torrent"] for x in plan if isinstance(x[2], dict)]
        slog = open(os.path.join(work, "seeder.log"), "w")
        seeder = lan.spawn(sns, [PY, __file__, "seeder", "--dir", seed_dir,
                                 "--lifetime", str(int(args.timeout * 6 + 60))] + torrents,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slog, text=True)
        ready = select.select([seeder.stdout], [], [], 30)[0]
        line = seeder.stdout.readline().strip() if ready else ""
        while line and line != "READY":
            slog.write(line + "\n")
            ready = select.select([seeder.stdout], [], [], 30)[0]
            line = seeder.stdout.readline().strip() if ready else ""
        if line != "READY":
            slog.flush()
            raise RuntimeError("the seeder had no tracker reply for every torrent in 30 s:\n"
                               + open(slog.name).read()[-3000:])
        threading.Thread(target=lambda: [slog.write(x) for x in seeder.stdout],
                         daemon=True).start()
        log(f"LAN up: tracker {tv4} [{tv6}], seeder {sv4} [{sv6}], "
            f"{len(torrents)} torrents seeded ({time.monotonic() - t_start:.1f} s)")

        lock = threading.Lock()

        def client_thread(c):
            for cl, combo, ctx in plan:
                if cl != c:
                    continue
                label = f"{c} {combo[0]}:// IPv{combo[1]}"
                if not isinstance(ctx, dict):
                    with lock:
                        results.append((label, None, ctx))
                        log(f"SKIP {label}: {ctx}")
                    continue
                try:
                    ok, msg = run_combo(lan, c, combo, ctx, sns, args.timeout)
                except Exception as e:  # a broken client run fails its line, not the lab
                    ok, msg = False, f"{type(e).__name__}: {e}"
                if not ok:
                    with open(ctx["logpath"], errors="replace") as f:
                        tail = f.read()[-1500:]
                    msg += "\n      client output (tail):\n      " + \
                        "\n      ".join(tail.splitlines()[-15:])
                with lock:
                    results.append((label, ok, msg))
                    log(f"{'PASS' if ok else 'FAIL'} {label}: {msg}")

        threads = [threading.Thread(target=client_thread, args=(c,), daemon=True)
                   for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(1, args.timeout * 4 + 120 - (time.monotonic() - t_start)))
        if any(t.is_alive() for t in threads):
            results.append(("lab", False, "a client thread did not finish in time"))
        if tracker.poll() is not None:
            results.append(("tracker", False, f"tracker died (exit {tracker.returncode})"))
    except Exception as e:
        results.append(("lab", False, f"{type(e).__name__}: {e}"))
    finally:
        if lan:
            lan.close()
        if os.path.exists(os.path.join(work, "tracker.log")):
            with open(os.path.join(work, "tracker.log")) as f:
                tracker_out = f.read()
        else:
            tracker_out = ""
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(1 for r in results if r[1] is True)
    failed = sum(1 for r in results if r[1] is False)
    skipped = sum(1 for r in results if r[1] is None)
    if failed:
        print("--- tracker output:\n" + tracker_out[-3000:] + "---")
        for label, ok, msg in results:
            if ok is False:
                print(f"FAILED {label}: {msg}")
    print(f"lab: {time.monotonic() - t_start:.0f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("seeder")
    s.add_argument("--dir", required=True)
    s.add_argument("--lifetime", type=float, default=600)
    s.add_argument("torrents", nargs="+")
    s = sub.add_parser("leech")
    s.add_argument("--dir", required=True)
    s.add_argument("--torrent", required=True)
    s.add_argument("--lifetime", type=float, default=300)
    s = sub.add_parser("scrape")
    s.add_argument("url")
    s.add_argument("info_hash")
    if len(sys.argv) > 1 and sys.argv[1] in ("seeder", "leech", "scrape"):
        args = p.parse_args()
        return {"seeder": seeder_main, "leech": leech_main, "scrape": scrape_main}[args.cmd](args)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tracker", help="tracker binary (smoltracker's command line)")
    p.add_argument("--clients", help="comma-separated subset of: " + ", ".join(CLIENTS))
    p.add_argument("--timeout", type=float, default=60, help="seconds per download (60)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("lab: needs root (ip netns)")
    random.seed()
    return main_lab(args)


def run_main(main_fn):
    """Runs a test's main: SIGTERM/SIGINT end it through SystemExit (so its
    clean-up runs), once."""
    def on_term(*_):
        # Once: timeout(1) signals both its child and its process group, and a
        # second SystemExit would cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(143)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sys.exit(main_fn())


if __name__ == "__main__":
    run_main(main)
