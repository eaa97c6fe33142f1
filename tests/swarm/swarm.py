#!/usr/bin/python3
"""Real-client swarm test: a libtorrent seeder and a libtorrent leecher, in two
processes, find each other only through the tracker named on the command line.

    /usr/bin/python3 tests/swarm/swarm.py http://127.0.0.1:6969/announce
    /usr/bin/python3 tests/swarm/swarm.py --dir D --prepare-only URL   # print info hash
    /usr/bin/python3 tests/swarm/swarm.py --dir D URL                  # run on D's torrent

Exit 0 when the leecher has the whole payload and its SHA-256 matches, else 1
with the tracker alerts both peers saw. Needs Debian's python3-libtorrent, which
exists for /usr/bin/python3 only.
"""
import argparse
import contextlib
import hashlib
import os
import queue
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import libtorrent as lt

PAYLOAD = "payload.bin"
TORRENT = "swarm.torrent"
PAYLOAD_SIZE = 4 * 1024 * 1024
PIECE_SIZE = 64 * 1024
SEEDER_LIFETIME = 180  # the seeder process ends by itself even if its parent vanished
STOP_WAIT = 3  # seconds to let event=stopped reach the tracker


def make_session():
    """A session that can only learn peers from the tracker."""
    cat = lt.alert.category_t
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",  # ephemeral port, loopback only
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        # libtorrent tries uTP first; a TCP-only peer then costs a 3.5 s stall.
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        # Both peers are 127.0.0.1.
        "allow_multiple_connections_per_ip": True,
        "alert_mask": cat.error_notification | cat.status_notification
        | cat.tracker_notification | cat.connect_notification,
    })


def interesting(alert):
    """Alerts worth showing when a tracker is being debugged."""
    cat = lt.alert.category_t
    wanted = cat.error_notification | cat.tracker_notification | cat.connect_notification
    return alert.category() & wanted \
        or isinstance(alert, (lt.torrent_finished_alert, lt.torrent_paused_alert))


def prepare(work, url):
    """Write a random payload and a v1-only private torrent for it; return the info hash."""
    seed_dir = os.path.join(work, "seed")
    os.makedirs(seed_dir, exist_ok=True)
    with open(os.path.join(seed_dir, PAYLOAD), "wb") as f:
        f.write(os.urandom(PAYLOAD_SIZE))
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(seed_dir, PAYLOAD))
    # libtorrent 2.0 makes hybrid v1+v2 torrents by default; v1 is what trackers key on.
    t = lt.create_torrent(fs, PIECE_SIZE, flags=lt.create_torrent.v1_only)
    t.add_tracker(url)
    t.set_priv(True)  # keeps DHT/PEX/LSD out even if a setting slips
    t.set_creator("smoltracker swarm test")
    lt.set_piece_hashes(t, seed_dir)
    with open(os.path.join(work, TORRENT), "wb") as f:
        f.write(lt.bencode(t.generate()))
    return info_hash(work)


def info_hash(work):
    return str(lt.torrent_info(os.path.join(work, TORRENT)).info_hashes().v1)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def add(ses, work, sub):
    return ses.add_torrent({"ti": lt.torrent_info(os.path.join(work, TORRENT)),
                            "save_path": os.path.join(work, sub)})


def stop(ses, handle, log):
    """Pause so libtorrent announces event=stopped, and give the reply time to arrive:
    destroying a session does not send stopped over UDP."""
    # An auto-managed torrent would be resumed by the session's queue right away.
    handle.unset_flags(lt.torrent_flags.auto_managed)
    handle.pause(lt.torrent_handle.graceful_pause)
    paused, deadline = False, time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if interesting(a):
                log(a)
            paused |= isinstance(a, lt.torrent_paused_alert)
            # a reply after the pause answers the stopped announce, not an earlier one
            if paused and isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                return


def run_seeder(work):
    """Child process: seed until stdin closes, printing alerts, then READY or NOT READY
    after the first tracker reply or error."""
    ses = make_session()
    t0 = time.monotonic()

    def log(a):
        print(f"{time.monotonic() - t0:6.2f} {type(a).__name__}: {a.message()}", flush=True)

    handle = add(ses, work, "seed")
    ready = False
    while time.monotonic() - t0 < SEEDER_LIFETIME:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break  # parent closed our stdin: time to go
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if interesting(a):
                log(a)
            # the parent waits for one of these; a tracker error fails the test at once
            if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert)) and not ready:
                ready = True
                print("READY" if isinstance(a, lt.tracker_reply_alert) else "NOT READY", flush=True)
    stop(ses, handle, log)


class Seeder:
    """The seeder child process and the lines it prints."""

    def __init__(self, work):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--seeder", work],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines, self.ready = [], queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line in ("READY", "NOT READY"):
                self.ready.put(line == "READY")
            else:
                self.lines.append(line)
        self.ready.put(False)  # exited before any tracker reply

    def wait_ready(self, timeout):
        try:
            return self.ready.get(timeout=timeout)
        except queue.Empty:
            return False

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=STOP_WAIT + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=2)  # collect its last lines


def run_swarm(work, timeout):
    """Returns (ok, message, leecher log lines, seeder log lines)."""
    seeder = Seeder(work)
    leech_log = []
    try:
        # Start the leecher only once the tracker knows the seeder, so the
        # leecher's own announce is what introduces them.
        if not seeder.wait_ready(timeout / 2):
            return False, "seeder's first announce got no reply (see its alerts)", \
                leech_log, seeder.lines

        shutil.rmtree(os.path.join(work, "leech"), ignore_errors=True)  # always download afresh
        ses = make_session()
        t0 = time.monotonic()

        def log(a):
            leech_log.append(f"{time.monotonic() - t0:6.2f} {type(a).__name__}: {a.message()}")

        handle = add(ses, work, "leech")
        peers_from_tracker, st = None, handle.status()
        while time.monotonic() - t0 < timeout:
            ses.wait_for_alert(100)
            for a in ses.pop_alerts():
                if interesting(a):
                    log(a)
                if isinstance(a, lt.tracker_reply_alert) and peers_from_tracker is None:
                    peers_from_tracker = a.num_peers
            st = handle.status()
            if st.is_seeding:
                break
        elapsed = time.monotonic() - t0
        stop(ses, handle, log)
        seeder.close()  # its stopped announce and last lines, before judging

        if not st.is_seeding:
            why = "no tracker reply" if peers_from_tracker is None else \
                f"tracker reply had {peers_from_tracker} peers"
            return False, (f"leecher not done after {timeout:.0f} s ({why}; state {st.state}, "
                           f"{st.progress * 100:.0f} %, {st.num_peers} peers connected, "
                           f"{st.num_seeds} seeds)"), leech_log, seeder.lines
        original = sha256(os.path.join(work, "seed", PAYLOAD))
        copy = sha256(os.path.join(work, "leech", PAYLOAD))
        if copy != original:
            return False, f"sha256 mismatch {copy} != {original}", leech_log, seeder.lines
        return True, (f"{st.total_wanted} bytes in {elapsed:.1f} s, sha256 verified "
                      f"({peers_from_tracker} peers in the leecher's tracker reply)"), \
            leech_log, seeder.lines
    finally:
        seeder.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", nargs="?", help="tracker announce URL (path must start with /announce)")
    p.add_argument("--dir", help="work dir; reuses DIR/swarm.torrent if present (default: temp)")
    p.add_argument("--prepare-only", action="store_true",
                   help="write payload + torrent, print the info hash")
    p.add_argument("--timeout", type=float, default=60, help="seconds (default 60)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the alert logs on success")
    p.add_argument("--seeder", metavar="DIR", help=argparse.SUPPRESS)  # internal: child process
    args = p.parse_args()
    if args.seeder:
        return run_seeder(args.seeder)
    if not args.url:
        p.error("a tracker URL is required")

    with contextlib.nullcontext(args.dir) if args.dir else \
            tempfile.TemporaryDirectory(prefix="swarm-") as work:
        if not os.path.exists(os.path.join(work, TORRENT)):
            prepare(work, args.url)
        elif [t.url for t in lt.torrent_info(os.path.join(work, TORRENT)).trackers()] != [args.url]:
            p.error(f"{work}/{TORRENT} announces elsewhere than {args.url}")
        if args.prepare_only:
            print(info_hash(work))
            return 0
        ok, msg, leech_log, seed_log = run_swarm(work, args.timeout)
        print(f"swarm {args.url}: {'OK' if ok else 'FAIL'} {msg} [info hash {info_hash(work)}]",
              flush=True)
        if not ok or args.verbose:
            for name, lines in (("seeder", seed_log), ("leecher", leech_log)):
                print(f"  {name} alerts:" + ("" if lines else " none"))
                for line in lines:
                    print(f"    {line}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
