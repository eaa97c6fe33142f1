"""Shared harness for the flood and soak scripts: start the release binary on
free loopback ports, sample its RSS, speak BEP 15 and HTTP to it, read stats.

Loopback only. Every script builds on this; nothing here needs a third-party
package.
"""
import os
import re
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SMOLTRACKER_BIN", os.path.join(ROOT, "target", "release", "smoltracker"))
FLOOD_SRC = os.path.join(ROOT, "tests", "flood", "flood.rs")
FLOOD_BIN = os.path.join(ROOT, "target", "flood", "flood")
PROTOCOL_ID = 0x41727101980
NOT_AUTHORIZED = b"Requested download is not authorized for use with this tracker."


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def log(msg):
    print(msg, flush=True)


def build():
    """Builds the tracker (release) and the load generator if missing or stale."""
    if "SMOLTRACKER_BIN" not in os.environ:
        subprocess.run(["nice", "-n", "5", "cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not os.path.exists(FLOOD_BIN) or os.path.getmtime(FLOOD_BIN) < os.path.getmtime(FLOOD_SRC):
        os.makedirs(os.path.dirname(FLOOD_BIN), exist_ok=True)
        subprocess.run(["rustc", "--edition", "2021", "-O", FLOOD_SRC, "-o", FLOOD_BIN], check=True)


def fixed_hash(i):
    """The load generator's torrent `i` (flood.rs: fixed_hash)."""
    return struct.pack(">I", (i ^ 0xA5A5A5A5) & 0xFFFFFFFF) * 5


def status_kb(pid):
    """VmRSS, RssAnon and RssFile of `pid` in KiB (None once it is gone).

    VmRSS counts the mapped binary and libc pages too (RssFile, about 2 MiB
    and constant); RssAnon is the process's own memory: heap, stacks, tables."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(line.split()[1])
    except OSError:
        return None
    return out if "VmRSS" in out else None


def rss_kb(pid):
    st = status_kb(pid)
    return st and st["VmRSS"]


class RssSampler(threading.Thread):
    """Samples VmRSS and RssAnon every `every` seconds; keeps the series and peaks."""

    def __init__(self, pid, every=0.05):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples = []  # (seconds since start, VmRSS KiB, RssAnon KiB)
        self.peak = 0
        self.peak_anon = 0
        self.stop_flag = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop_flag.is_set():
            st = status_kb(self.pid)
            if st is None:
                return
            anon = st.get("RssAnon", 0)
            self.samples.append((time.monotonic() - self.t0, st["VmRSS"], anon))
            self.peak = max(self.peak, st["VmRSS"])
            self.peak_anon = max(self.peak_anon, anon)
            self.stop_flag.wait(self.every)

    def stop(self):
        self.stop_flag.set()
        self.join(2)
        return self.peak


class Tracker:
    """The real binary on 127.0.0.1 with ephemeral ports.

    `conf` is the text of a config file, `{dir}` standing for the temp dir
    where it and `files` are written (world-readable: started as root the
    tracker reads the access list after dropping to `nobody`)."""

    def __init__(self, conf="", extra_args=(), files=None):
        self.dir = tempfile.mkdtemp(prefix="smolflood-")
        os.chmod(self.dir, 0o755)
        for name, text in (files or {}).items():
            self.write(name, text)
        conf_path = self.write("tracker.conf", conf.replace("{dir}", self.dir))
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_file = open(self.log_path, "wb")
        args = [BIN, "-f", conf_path, "-i", "127.0.0.1", "-p", "0", "-P", "0", *extra_args]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=self.log_file, cwd=self.dir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = self.log()
            m = re.search(r"listening on tcp://([\d.]+):(\d+) udp://([\d.]+):(\d+)", text)
            if m:
                self.tcp = (m.group(1), int(m.group(2)))
                self.udp = (m.group(3), int(m.group(4)))
                break
            if self.proc.poll() is not None:
                raise Failure(f"tracker exited at start-up ({self.proc.returncode}):\n{text}")
            time.sleep(0.02)
        else:
            raise Failure("no start-up line within 10 s:\n" + self.log())
        self.pid = self.proc.pid

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
        return path

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def close(self):
        self.stop()
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def udp_addr(self):
        return f"{self.udp[0]}:{self.udp[1]}"

    @property
    def tcp_addr(self):
        return f"{self.tcp[0]}:{self.tcp[1]}"

    # ---- HTTP ---------------------------------------------------------------

    def http(self, target, timeout=5.0, headers=""):
        """One GET on a fresh connection; returns (status, body bytes)."""
        with socket.create_connection(self.tcp, timeout=timeout) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d+)", head)  # stats answers are HTTP/1.0
        check(m, f"no HTTP status line in {data[:80]!r}")
        return int(m.group(1)), body

    def stats(self, mode):
        status, body = self.http(f"/stats?mode={mode}")
        check(status == 200, f"/stats?mode={mode}: {status}")
        return body.decode()

    def prom(self):
        """The Prometheus page as {metric{labels}: value}."""
        out = {}
        for line in self.stats("prom").splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = int(v)
        return out

    def http_announce(self, info_hash, port, left=0, event="", numwant=50):
        q = urllib.parse.urlencode({"info_hash": info_hash, "port": port, "left": left,
                                    "numwant": numwant, "event": event, "compact": 1})
        return self.http("/announce?" + q)

    def http_scrape(self, info_hash):
        status, body = self.http("/scrape?" + urllib.parse.urlencode({"info_hash": info_hash}))
        check(status == 200, f"scrape status {status}")
        m = re.search(rb"8:completei(\d+)e10:downloadedi(\d+)e10:incompletei(\d+)e", body)
        check(m, f"scrape reply {body!r}")
        return int(m.group(1)), int(m.group(3))


class Udp:
    """A BEP 15 client socket bound to `local` (any 127.x address; 127.0.0.1 by default)."""

    def __init__(self, tracker, timeout=2.0, local="127.0.0.1"):
        self.addr = tracker.udp
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((local, 0))
        self.s.settimeout(timeout)
        self.tid = 0
        self.conn = None
        self.conn_at = 0

    def close(self):
        self.s.close()

    def request(self, payload_after_action, action, tries=5):
        for _ in range(tries):
            if action != 0 and (self.conn is None or time.monotonic() - self.conn_at > 60):
                self.connect()
            self.tid = (self.tid + 1) & 0xFFFFFFFF
            head = struct.pack(">QII", PROTOCOL_ID if action == 0 else self.conn, action, self.tid)
            self.s.sendto(head + payload_after_action, self.addr)
            deadline = time.monotonic() + self.s.gettimeout()
            while time.monotonic() < deadline:
                try:
                    data, _ = self.s.recvfrom(4096)
                except socket.timeout:
                    break
                if len(data) >= 8 and struct.unpack(">I", data[4:8])[0] == self.tid:
                    return data
        raise Failure(f"no UDP reply to action {action} after {tries} tries")

    def connect(self):
        self.conn = None
        data = self.request(b"", 0)
        check(len(data) == 16 and data[:4] == b"\0\0\0\0", f"connect reply {data!r}")
        self.conn = struct.unpack(">Q", data[8:16])[0]
        self.conn_at = time.monotonic()

    def announce(self, info_hash, port, left=0, event=0, numwant=50):
        """Returns ('ok', leechers, seeders, peers) or ('error', message)."""
        body = (info_hash + b"-FL0001-pythonclient" + struct.pack(">QQQIIIiH", 0, left, 0, event, 0, 7, numwant, port))
        data = self.request(body, 1)
        action = struct.unpack(">I", data[:4])[0]
        if action == 3:
            return ("error", data[8:])
        check(action == 1 and len(data) >= 20, f"announce reply {data!r}")
        _, _, _interval, leechers, seeders = struct.unpack(">IIIII", data[:20])
        peers = [data[i:i + 6] for i in range(20, len(data), 6)]
        return ("ok", leechers, seeders, peers)

    def scrape(self, hashes):
        data = self.request(b"".join(hashes), 2)
        check(struct.unpack(">I", data[:4])[0] == 2, f"scrape reply {data!r}")
        out = []
        for i in range(len(hashes)):
            seeders, completed, leechers = struct.unpack(">III", data[8 + 12 * i:20 + 12 * i])
            out.append((seeders, completed, leechers))
        return out


def run_flood(args, timeout):
    """Runs the load generator; returns its key=value figures as a dict."""
    p = subprocess.run([FLOOD_BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    figures = dict(kv.split("=", 1) for kv in line.split())
    for k, v in list(figures.items()):
        try:
            figures[k] = float(v) if "." in v else int(v)
        except ValueError:
            pass
    figures["exit"] = p.returncode
    if p.stderr.strip():
        figures["stderr"] = p.stderr.strip()
    return figures


def mib(kb):
    return f"{kb / 1024:.2f} MiB"


def main(run):
    """Runs `run()` and turns a Failure into exit status 1."""
    try:
        run()
    except Failure as e:
        log(f"FAIL: {e}")
        sys.exit(1)
    log("PASS")
