//! Black-box harness: starts the real `smoltracker` binary and speaks HTTP
//! and UDP to it. `SMOLTRACKER_BIN` picks another binary (a cross build) and
//! `SMOLTRACKER_RUNNER` a command prefix for it (e.g. `qemu-mipsel-static`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Tracker {
    child: Child,
    pub tcp: Vec<SocketAddr>,
    pub udp: Vec<SocketAddr>,
    /// stdout and stderr interleaved, as procd or a terminal shows them.
    log: Arc<Mutex<String>>,
    /// Each stream alone (informational lines go to stdout, warnings and
    /// errors to stderr).
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// A pipe (read end, write end), both close-on-exec (the child gets dups).
fn pipe() -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds` (checked for
    // failure); each is then owned by exactly one OwnedFd/File.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// Copies a child's output stream line by line into `all` and `own`, and
/// sends the start-up line to `tx`.
fn collect(
    stream: impl Read + Send + 'static,
    all: Arc<Mutex<String>>,
    own: Arc<Mutex<String>>,
    tx: std::sync::mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            for sink in [&all, &own] {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
            if line.contains("listening on") {
                let _ = tx.send(line.clone());
            }
        }
    });
}

/// Runs the binary with `args` to its end: (exit code, stdout, stderr).
pub fn run_to_end(args: &[&str]) -> (i32, String, String) {
    let out = command().args(args).stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn command() -> Command {
    let bin = std::env::var("SMOLTRACKER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_smoltracker").to_string());
    match std::env::var("SMOLTRACKER_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut parts = runner.split_whitespace();
            let mut c = Command::new(parts.next().unwrap());
            c.args(parts).arg(bin);
            c
        }
        _ => Command::new(bin),
    }
}

/// Time allowances scale up under emulation.
pub fn slow() -> u32 {
    if std::env::var("SMOLTRACKER_RUNNER")
        .map(|r| !r.trim().is_empty())
        .unwrap_or(false)
    {
        5
    } else {
        1
    }
}

impl Tracker {
    /// Starts the tracker on 127.0.0.1 with ephemeral ports plus `extra` args.
    pub fn start(extra: &[&str]) -> Tracker {
        let mut args = vec!["-i", "127.0.0.1", "-p", "0", "-P", "0"];
        args.extend_from_slice(extra);
        Self::start_raw(&args)
    }

    /// Starts the tracker with exactly `args` and waits for its start-up line.
    /// stdout and stderr share one pipe (as `2>&1`), so `log()` keeps their order.
    pub fn start_raw(args: &[&str]) -> Tracker {
        Self::spawn(args, false)
    }

    /// Like `start_raw`, with stdout and stderr on pipes of their own, so
    /// `stdout_log()` and `stderr_log()` tell them apart (`log()` then
    /// interleaves them in no particular order).
    pub fn start_split(args: &[&str]) -> Tracker {
        Self::spawn(args, true)
    }

    fn spawn(args: &[&str], split: bool) -> Tracker {
        let mut cmd = command();
        cmd.args(args).stdin(Stdio::null());
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut child = if split {
            let mut child = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start smoltracker");
            let out = child.stdout.take().unwrap();
            collect(out, log.clone(), stdout.clone(), tx.clone());
            let err = child.stderr.take().unwrap();
            collect(err, log.clone(), stderr.clone(), tx);
            child
        } else {
            let (reader, writer) = pipe();
            let child = cmd
                .stdout(writer.try_clone().expect("pipe"))
                .stderr(writer)
                .spawn()
                .expect("start smoltracker");
            // The Command still holds the write ends: drop it so EOF comes.
            drop(cmd);
            collect(reader, log.clone(), Arc::new(Mutex::new(String::new())), tx);
            child
        };
        let line = match rx.recv_timeout(Duration::from_secs(10 * u64::from(slow()))) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("no start-up line; log:\n{}", log.lock().unwrap());
            }
        };
        let mut tcp = Vec::new();
        let mut udp = Vec::new();
        for word in line.split_whitespace() {
            let word = word.trim_end_matches(';');
            if let Some(a) = word.strip_prefix("tcp://") {
                tcp.push(a.parse().unwrap());
            } else if let Some(a) = word.strip_prefix("udp://") {
                udp.push(a.parse().unwrap());
            }
        }
        Tracker {
            child,
            tcp,
            udp,
            log,
            stdout,
            stderr,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn stdout_log(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr_log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit code once the process has ended.
    pub fn wait(&mut self) -> Option<i32> {
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn http(&self, target: &str) -> Response {
        http_get(self.tcp[0], target)
    }

    pub fn udp_client(&self) -> Udp {
        Udp::new(self.udp[0])
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10 * u64::from(slow()))))
        .unwrap();
    s
}

/// Reads one response (head + Content-Length body) from a stream.
pub fn read_response(s: &mut TcpStream) -> Option<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(Response { status, head, body })
}

pub fn http_get(addr: SocketAddr, target: &str) -> Response {
    let mut s = connect(addr);
    let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut s).expect("a response")
}

/// Percent-encodes every byte.
pub fn enc(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

pub fn announce_url(hash: &[u8; 20], port: u16, extra: &str) -> String {
    format!("/announce?info_hash={}&peer_id=-XX0001-abcdefghijkl&port={port}&uploaded=0&downloaded=0{extra}", enc(hash))
}

/// Value bytes of `key` in a flat bencoded dictionary: `<len>:<bytes>` or `i<n>e`.
pub fn ben_get<'a>(body: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let pat = format!("{}:{}", key.len(), key);
    let at = body.windows(pat.len()).position(|w| w == pat.as_bytes())? + pat.len();
    let rest = &body[at..];
    if rest.first() == Some(&b'i') {
        let end = rest.iter().position(|&b| b == b'e')?;
        return Some(&rest[1..end]);
    }
    let colon = rest.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    rest.get(colon + 1..colon + 1 + len)
}

pub fn ben_int(body: &[u8], key: &str) -> Option<i64> {
    std::str::from_utf8(ben_get(body, key)?).ok()?.parse().ok()
}

pub struct Udp {
    pub sock: UdpSocket,
    pub to: SocketAddr,
}

pub const PROTOCOL_ID: u64 = 0x41727101980;

impl Udp {
    pub fn new(to: SocketAddr) -> Udp {
        let bind = if to.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let sock = UdpSocket::bind(bind).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3 * u64::from(slow()))))
            .unwrap();
        Udp { sock, to }
    }

    pub fn exchange(&self, req: &[u8]) -> Option<Vec<u8>> {
        self.sock.send_to(req, self.to).unwrap();
        let mut buf = [0u8; 2048];
        match self.sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(buf[..n].to_vec()),
            Err(_) => None,
        }
    }

    /// Sends `req` and checks that nothing comes back within half a second
    /// (scaled under emulation); a following request's reply proves liveness.
    pub fn silent(&self, req: &[u8]) -> bool {
        let wait = Duration::from_millis(500 * u64::from(slow()));
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let quiet = self.exchange(req).is_none();
        self.sock
            .set_read_timeout(Some(Duration::from_secs(3 * u64::from(slow()))))
            .unwrap();
        quiet
    }

    pub fn connect(&self) -> u64 {
        let mut req = PROTOCOL_ID.to_be_bytes().to_vec();
        req.extend_from_slice(&0u32.to_be_bytes());
        req.extend_from_slice(&0x1234u32.to_be_bytes());
        // Like a real client, retransmit a lost connect (a busy or emulated
        // tracker's socket queue may drop one); three tries.
        let r = (0..3)
            .find_map(|_| self.exchange(&req))
            .expect("connect reply");
        assert_eq!(r.len(), 16);
        assert_eq!(&r[..8], &[0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        u64::from_be_bytes(r[8..16].try_into().unwrap())
    }

    pub fn announce_packet(
        conn: u64,
        hash: &[u8; 20],
        left: u64,
        event: u32,
        numwant: i32,
        port: u16,
    ) -> Vec<u8> {
        let mut b = conn.to_be_bytes().to_vec();
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&0xabcdu32.to_be_bytes());
        b.extend_from_slice(hash);
        b.extend_from_slice(b"-XX0001-abcdefghijkl");
        b.extend_from_slice(&0u64.to_be_bytes());
        b.extend_from_slice(&left.to_be_bytes());
        b.extend_from_slice(&0u64.to_be_bytes());
        b.extend_from_slice(&event.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&7u32.to_be_bytes());
        b.extend_from_slice(&numwant.to_be_bytes());
        b.extend_from_slice(&port.to_be_bytes());
        b
    }

    /// Announces and returns (interval, leechers, seeders, peer records).
    pub fn announce(
        &self,
        hash: &[u8; 20],
        left: u64,
        event: u32,
        port: u16,
    ) -> (u32, u32, u32, Vec<u8>) {
        let conn = self.connect();
        let r = self
            .exchange(&Self::announce_packet(conn, hash, left, event, -1, port))
            .expect("announce reply");
        assert_eq!(&r[..8], &[0, 0, 0, 1, 0, 0, 0xab, 0xcd], "reply {r:?}");
        let u = |i: usize| u32::from_be_bytes(r[i..i + 4].try_into().unwrap());
        (u(8), u(12), u(16), r[20..].to_vec())
    }
}

/// Waits until `f` holds, for at most `secs` (scaled under emulation).
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs * u64::from(slow()));
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn ipv6_loopback_works() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// An HTTP GET from a chosen local address (e.g. 127.0.0.2) with extra headers.
pub fn http_get_from(
    local: &str,
    addr: SocketAddr,
    target: &str,
    headers: &str,
) -> Option<Response> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    let local: SocketAddr = format!("{local}:0").parse().ok()?;
    sock.bind(&local.into()).ok()?;
    sock.connect_timeout(&addr.into(), Duration::from_secs(5))
        .ok()?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10 * u64::from(slow()))))
        .ok()?;
    let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    read_response(&mut s)
}

/// Reads until the server closes (streamed replies have no Content-Length).
pub fn http_get_all(addr: SocketAddr, target: &str) -> (String, Vec<u8>) {
    let mut s = connect(addr);
    let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    (
        String::from_utf8_lossy(&all[..split]).into_owned(),
        all[split..].to_vec(),
    )
}

/// Sends a signal to the tracker process.
pub fn signal(t: &Tracker, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([format!("-{sig}"), t.pid().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig}");
}

/// A fresh directory anyone can write (the tracker drops to `nobody` when run as root).
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("smoltracker-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

pub fn hex(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
