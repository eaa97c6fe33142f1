//! Shared pieces: deterministic hashes and peers, options, counters, and the
//! reporter that prints per-second counts and samples the tracker's CPU.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fixed seed of the info-hash sequence ("smoltrkr").
const HASH_SEED: u64 = 0x736d_6f6c_7472_6b72;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Info hash number `i`: 20 bytes from a splitmix64 stream keyed by the fixed
/// seed and `i`. `loadgen hashes --torrents N` prints hashes 0..N.
pub fn info_hash(i: u64) -> [u8; 20] {
    let mut st = HASH_SEED ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut out = [0u8; 20];
    let a = splitmix(&mut st).to_be_bytes();
    let b = splitmix(&mut st).to_be_bytes();
    let c = splitmix(&mut st).to_be_bytes();
    out[..8].copy_from_slice(&a);
    out[8..16].copy_from_slice(&b);
    out[16..].copy_from_slice(&c[..4]);
    out
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A small fast PRNG (xorshift64*).
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut s = seed;
        Rng(splitmix(&mut s) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// Source address number `s`: 127.0.0.2 .. 127.0.0.251.
pub const MAX_SOURCES: usize = 250;
pub fn source_ip(s: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (s % MAX_SOURCES) as u8)
}

/// Peer `p` of any torrent announces from source `p % sources` with port
/// field `1024 + p / sources`: (torrent, p) pairs are distinct (ip, port) peers.
pub fn peer_port(p: u64, sources: usize) -> u16 {
    let port = 1024 + p / sources as u64;
    assert!(port <= 65535, "too many peers per source address");
    port as u16
}

/// Peers whose index is a multiple of 4 are seeders.
pub fn peer_left(p: u64) -> u64 {
    if p % 4 == 0 {
        0
    } else {
        1_000_000
    }
}

pub fn peer_id(src: usize, port: u16) -> [u8; 20] {
    let mut id = *b"-LG0001-000000000000";
    let tail = format!("{:06}{:06}", src, port);
    id[8..20].copy_from_slice(tail.as_bytes());
    id
}

/// `--key value` options.
pub struct Opts {
    map: HashMap<String, String>,
}

impl Opts {
    pub fn parse(args: &[String]) -> Result<Opts, String> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a}"))?;
            let val = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_string(), val.clone());
        }
        Ok(Opts { map })
    }
    pub fn str(&mut self, key: &str, default: &str) -> String {
        self.map.remove(key).unwrap_or_else(|| default.to_string())
    }
    pub fn num<T: std::str::FromStr>(&mut self, key: &str, default: T) -> Result<T, String> {
        match self.map.remove(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key}: bad value {v}")),
        }
    }
    /// The tracker address; only 127.0.0.0/8 is accepted (loopback only).
    pub fn addr(&mut self) -> Result<SocketAddr, String> {
        let a: SocketAddr = self
            .map
            .remove("addr")
            .ok_or("--addr 127.0.0.1:PORT is required")?
            .parse()
            .map_err(|_| "--addr: expected IP:PORT".to_string())?;
        match a {
            SocketAddr::V4(v4) if v4.ip().octets()[0] == 127 => Ok(a),
            _ => Err("--addr must be in 127.0.0.0/8 (loopback only)".into()),
        }
    }
    pub fn finish(self) -> Result<(), String> {
        match self.map.keys().next() {
            Some(k) => Err(format!("unknown option --{k}")),
            None => Ok(()),
        }
    }
}

/// Event counters shared between workers and the reporter.
#[derive(Default)]
pub struct Counters {
    pub responses: AtomicU64,
    pub announces: AtomicU64,
    pub scrapes: AtomicU64,
    pub connects: AtomicU64,
    pub errors: AtomicU64,
    pub lost: AtomicU64,
    pub http_ok: AtomicU64,
    pub http_failure: AtomicU64,
    pub http_other: AtomicU64,
    pub reconnects: AtomicU64,
    pub sent: AtomicU64,
    pub stop: AtomicBool,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        if n != 0 {
            c.fetch_add(n, Relaxed);
        }
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}

/// CPU ticks (utime + stime) of a process, all threads, from /proc/PID/stat.
pub fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that closes comm: state is field 3; utime 14, stime 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub fn clk_tck() -> f64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (busy, softirq) ticks of one core from /proc/stat ("cpuN" line):
/// busy = user + nice + system + irq + softirq + steal.
pub fn core_ticks(cpu: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{cpu} ");
    let line = s.lines().find(|l| l.starts_with(&name))?;
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    if f.len() < 8 {
        return None;
    }
    Some((f[0] + f[1] + f[2] + f[5] + f[6] + f[7], f[6]))
}

/// This process's CPU seconds (user + system, all threads).
pub fn self_cpu() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Where to sample the tracker's CPU: seconds after the load starts.
pub struct Measure {
    pub pid: Option<u32>,
    /// The core the tracker is pinned to, for /proc/stat softirq accounting.
    pub cpu: Option<u32>,
    pub from: f64,
    pub to: f64,
}

impl Measure {
    pub fn from_opts(o: &mut Opts, seconds: f64) -> Result<Measure, String> {
        let pid: u32 = o.num("tracker-pid", 0)?;
        let cpu: i64 = o.num("tracker-cpu", -1)?;
        // Default window: skip the first 30% (warm-up), stop 10% before the end.
        let from = o.num("measure-from", (seconds * 0.3).max(0.5).min(seconds))?;
        let to = o.num("measure-to", (seconds * 0.9).max(from))?;
        Ok(Measure {
            pid: if pid == 0 { None } else { Some(pid) },
            cpu: u32::try_from(cpu).ok(),
            from,
            to,
        })
    }
}

struct Snap {
    at: Instant,
    responses: u64,
    tracker_ticks: Option<u64>,
    core: Option<(u64, u64)>,
    self_cpu: f64,
}

fn snap(c: &Counters, pid: Option<u32>, cpu: Option<u32>) -> Snap {
    Snap {
        core: cpu.and_then(core_ticks),
        at: Instant::now(),
        responses: Counters::get(&c.responses),
        tracker_ticks: pid.and_then(proc_cpu_ticks),
        self_cpu: self_cpu(),
    }
}

/// Runs in the calling thread until `stop` is set or `max` elapses: prints a
/// line per second on stderr, samples the tracker's CPU at the window edges,
/// and finally prints one `RESULT key=value ...` line on stdout.
pub fn report(kind: &str, c: &Arc<Counters>, m: &Measure, max: Duration, done: impl Fn() -> bool) {
    let start = Instant::now();
    let tck = clk_tck();
    let mut next_sec = 1u64;
    let mut last_resp = 0u64;
    let mut w0: Option<Snap> = None;
    let mut w1: Option<Snap> = None;
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let el = start.elapsed();
        let t = el.as_secs_f64();
        if w0.is_none() && t >= m.from {
            w0 = Some(snap(c, m.pid, m.cpu));
        }
        if w0.is_some() && w1.is_none() && t >= m.to {
            w1 = Some(snap(c, m.pid, m.cpu));
        }
        if el.as_secs() >= next_sec {
            let r = Counters::get(&c.responses);
            eprintln!(
                "[{kind}] {next_sec:>3}s responses/s={:<8} total={} announce={} scrape={} err={} lost={} http200={} failure={} other={} reconnects={}",
                r - last_resp,
                r,
                Counters::get(&c.announces),
                Counters::get(&c.scrapes),
                Counters::get(&c.errors),
                Counters::get(&c.lost),
                Counters::get(&c.http_ok),
                Counters::get(&c.http_failure),
                Counters::get(&c.http_other),
                Counters::get(&c.reconnects),
            );
            last_resp = r;
            next_sec += 1;
        }
        if done() || el >= max {
            c.stop.store(true, Relaxed);
            break;
        }
    }
    let total_s = start.elapsed().as_secs_f64();
    let r = Counters::get(&c.responses);
    let mut line = format!(
        "RESULT kind={kind} seconds={total_s:.2} responses={r} rps={:.0} announces={} scrapes={} connects={} errors={} lost={} sent={} http_ok={} http_failure={} http_other={} reconnects={}",
        r as f64 / total_s,
        Counters::get(&c.announces),
        Counters::get(&c.scrapes),
        Counters::get(&c.connects),
        Counters::get(&c.errors),
        Counters::get(&c.lost),
        Counters::get(&c.sent),
        Counters::get(&c.http_ok),
        Counters::get(&c.http_failure),
        Counters::get(&c.http_other),
        Counters::get(&c.reconnects),
    );
    if let (Some(a), Some(b)) = (w0.as_ref().filter(|_| m.to > m.from), &w1) {
        let secs = b.at.duration_since(a.at).as_secs_f64();
        let n = b.responses - a.responses;
        line += &format!(
            " window_s={secs:.2} window_responses={n} window_rps={:.0} loadgen_cpu_share={:.3}",
            n as f64 / secs,
            (b.self_cpu - a.self_cpu) / secs
        );
        if let (Some(ta), Some(tb)) = (a.tracker_ticks, b.tracker_ticks) {
            let cpu = (tb - ta) as f64 / tck;
            line += &format!(
                " tracker_cpu_s={cpu:.3} tracker_cpu_share={:.3} cpu_us_per_response={:.2}",
                cpu / secs,
                if n > 0 { cpu * 1e6 / n as f64 } else { f64::NAN }
            );
        }
        if let (Some(ca), Some(cb)) = (a.core, b.core) {
            let busy = (cb.0 - ca.0) as f64 / tck;
            let si = (cb.1 - ca.1) as f64 / tck;
            line += &format!(
                " core_busy_share={:.3} core_softirq_share={:.3} core_softirq_us_per_response={:.2}",
                busy / secs,
                si / secs,
                if n > 0 { si * 1e6 / n as f64 } else { f64::NAN }
            );
        }
    }
    println!("{line}");
}
