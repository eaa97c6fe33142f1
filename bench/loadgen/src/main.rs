//! loadgen: load generator for BitTorrent trackers on loopback.
//!
//! Subcommands (all bounded in time; only 127.0.0.0/8 targets accepted):
//!   hashes --torrents N                 40-hex info hashes 0..N, one a line
//!   udp    --addr A [--torrents 10000] [--peers-per-torrent 64] [--seconds 10]
//!          [--scrape-ratio 0.1] [--scrape-hashes 1] [--sockets 16] [--window 8]
//!          [--numwant 50] [--prefill 1] [--tracker-pid PID]
//!          [--measure-from S] [--measure-to S]
//!   http   --addr A --mode close|keepalive [--conns 64] [--threads 2]
//!          [--torrents 10000] [--peers-per-torrent 64] [--seconds 10]
//!          [--scrape-ratio 0] [--sources 64] [--tracker-pid PID] ...
//!   fill   --addr A --peers P --torrents T [--sockets 64] [--window 16]
//!          [--max-seconds 120] [--verify 1] [--numwant 0]
//!   probe  --addr A [--seconds 5]       wait until the tracker answers a UDP connect
//!
//! Per-second counts go to stderr; one `RESULT key=value ...` line to stdout.
//! With --tracker-pid, utime+stime of that process is read from /proc at
//! --measure-from and --measure-to (seconds into the run) and divided by the
//! responses counted between the two instants (cpu_us_per_response).

mod common;
mod http;
mod udp;

use common::{Counters, Measure, Opts};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: loadgen hashes|udp|http|fill|probe --addr 127.0.0.1:PORT ... (see source header)");
        std::process::exit(2);
    };
    let rest = &args[1..];
    let r = Opts::parse(rest).and_then(|o| match cmd.as_str() {
        "hashes" => cmd_hashes(o),
        "udp" => cmd_udp(o),
        "http" => cmd_http(o),
        "fill" => cmd_fill(o),
        "probe" => cmd_probe(o),
        _ => Err(format!("unknown subcommand {cmd}")),
    });
    if let Err(e) = r {
        eprintln!("loadgen {cmd}: {e}");
        std::process::exit(2);
    }
}

fn cmd_hashes(mut o: Opts) -> Result<(), String> {
    let n: u64 = o.num("torrents", 10_000)?;
    o.finish()?;
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    for i in 0..n {
        writeln!(w, "{}", common::hex(&common::info_hash(i))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn cmd_probe(mut o: Opts) -> Result<(), String> {
    let addr = o.addr()?;
    let secs: f64 = o.num("seconds", 5.0)?;
    o.finish()?;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        match udp::Engine::new(addr, 1, 1, Duration::from_millis(500)) {
            Ok(_) => {
                println!("ok");
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn cmd_udp(mut o: Opts) -> Result<(), String> {
    let addr = o.addr()?;
    let torrents: u64 = o.num("torrents", 10_000)?;
    let k: u64 = o.num("peers-per-torrent", 64)?;
    let seconds: f64 = o.num("seconds", 10.0)?;
    let scrape_ratio: f64 = o.num("scrape-ratio", 0.1)?;
    let scrape_hashes: usize = o.num("scrape-hashes", 1)?;
    let sockets: usize = o.num("sockets", 16)?;
    let window: usize = o.num("window", 8)?;
    let numwant: i32 = o.num("numwant", 50)?;
    let prefill: u32 = o.num("prefill", 1)?;
    let timeout_ms: u64 = o.num("timeout-ms", 500)?;
    let m = Measure::from_opts(&mut o, seconds)?;
    o.finish()?;
    if seconds <= 0.0 || seconds > 300.0 {
        return Err("--seconds must be in (0, 300]".into());
    }
    if torrents == 0 || k == 0 || !(1..=udp::MAX_SCRAPE).contains(&scrape_hashes) {
        return Err("bad --torrents/--peers-per-torrent/--scrape-hashes".into());
    }
    let sockets = sockets.clamp(1, common::MAX_SOURCES).min(k as usize);
    let window = window.clamp(1, 256);
    let mut eng = udp::Engine::new(addr, sockets, window, Duration::from_millis(timeout_ms))?;
    if prefill != 0 {
        // Announce every one of the N x K peers once so the swarms are in
        // steady state (full numwant replies) before measuring.
        let t0 = Instant::now();
        let c = Counters::default();
        let mut f = udp::Fill::new(torrents * k, torrents, sockets, 0);
        eng.run(&mut f, &c, Instant::now() + Duration::from_secs(120));
        eprintln!(
            "[udp] prefill: {} of {} peers acknowledged in {:.1} s ({} lost, {} errors)",
            f.acked,
            torrents * k,
            t0.elapsed().as_secs_f64(),
            Counters::get(&c.lost),
            Counters::get(&c.errors)
        );
    }
    let c = Arc::new(Counters::default());
    let done = Arc::new(AtomicBool::new(false));
    let (c2, d2) = (c.clone(), done.clone());
    let worker = std::thread::spawn(move || {
        let mut load = udp::Load {
            torrents,
            peers_per_torrent: k,
            sources: sockets,
            scrape_ratio,
            scrape_hashes,
            numwant,
            rng: common::Rng::new(0x5eed),
        };
        eng.run(&mut load, &c2, Instant::now() + Duration::from_secs_f64(seconds + 5.0));
        d2.store(true, Relaxed);
    });
    common::report("udp", &c, &m, Duration::from_secs_f64(seconds), || done.load(Relaxed));
    worker.join().map_err(|_| "worker panicked".to_string())?;
    Ok(())
}

fn cmd_http(mut o: Opts) -> Result<(), String> {
    let addr = o.addr()?;
    let mode = match o.str("mode", "close").as_str() {
        "close" => http::Mode::Close,
        "keepalive" | "keep-alive" => http::Mode::KeepAlive,
        m => return Err(format!("--mode close|keepalive, not {m}")),
    };
    let conns: usize = o.num("conns", 64)?;
    let threads: usize = o.num("threads", 2)?;
    let seconds: f64 = o.num("seconds", 10.0)?;
    let p = http::Params {
        addr,
        mode,
        torrents: o.num("torrents", 10_000)?,
        peers_per_torrent: o.num("peers-per-torrent", 64)?,
        sources: o.num::<usize>("sources", 16)?.clamp(1, common::MAX_SOURCES),
        scrape_ratio: o.num("scrape-ratio", 0.0)?,
        numwant: o.num("numwant", 50)?,
        timeout: Duration::from_millis(o.num("timeout-ms", 5000)?),
    };
    let m = Measure::from_opts(&mut o, seconds)?;
    o.finish()?;
    if seconds <= 0.0 || seconds > 300.0 {
        return Err("--seconds must be in (0, 300]".into());
    }
    if p.torrents == 0 || p.peers_per_torrent < p.sources as u64 {
        return Err("--peers-per-torrent must be at least --sources".into());
    }
    let threads = threads.clamp(1, 64).min(conns.max(1));
    let conns = conns.clamp(1, 4096);
    let p = Arc::new(p);
    let c = Arc::new(Counters::default());
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(threads));
    let mut hs = Vec::new();
    for t in 0..threads {
        let n = conns / threads + usize::from(t < conns % threads);
        let first = (t * conns) / threads;
        let (p, c, running) = (p.clone(), c.clone(), running.clone());
        hs.push(std::thread::spawn(move || {
            http::worker(
                &p,
                n,
                first,
                0x4777 + t as u64,
                &c,
                Instant::now() + Duration::from_secs_f64(seconds + 5.0),
            );
            running.fetch_sub(1, Relaxed);
        }));
    }
    let kind = match mode {
        http::Mode::Close => "http-close",
        http::Mode::KeepAlive => "http-keepalive",
    };
    common::report(kind, &c, &m, Duration::from_secs_f64(seconds), || running.load(Relaxed) == 0);
    for h in hs {
        h.join().map_err(|_| "worker panicked".to_string())?;
    }
    Ok(())
}

fn cmd_fill(mut o: Opts) -> Result<(), String> {
    let addr = o.addr()?;
    let peers: u64 = o.num("peers", 100_000)?;
    let torrents: u64 = o.num("torrents", 10_000)?;
    let sockets: usize = o.num("sockets", 64)?;
    let window: usize = o.num("window", 8)?;
    let max_seconds: f64 = o.num("max-seconds", 120.0)?;
    let verify: u32 = o.num("verify", 1)?;
    let numwant: i32 = o.num("numwant", 0)?;
    let timeout_ms: u64 = o.num("timeout-ms", 500)?;
    let m = Measure::from_opts(&mut o, 0.0)?;
    let m = Measure { from: 0.0, to: 0.0, ..m };
    o.finish()?;
    if torrents == 0 || peers == 0 || max_seconds <= 0.0 || max_seconds > 600.0 {
        return Err("bad --peers/--torrents/--max-seconds".into());
    }
    let sockets = sockets.clamp(1, common::MAX_SOURCES);
    let mut eng = udp::Engine::new(addr, sockets, window.clamp(1, 256), Duration::from_millis(timeout_ms))?;
    let c = Arc::new(Counters::default());
    let done = Arc::new(AtomicBool::new(false));
    let (c2, d2) = (c.clone(), done.clone());
    let worker = std::thread::spawn(move || {
        let mut f = udp::Fill::new(peers, torrents, sockets, numwant);
        eng.run(&mut f, &c2, Instant::now() + Duration::from_secs_f64(max_seconds));
        d2.store(true, Relaxed);
        (eng, f)
    });
    let m = Measure { pid: None, cpu: None, ..m };
    common::report("fill", &c, &m, Duration::from_secs_f64(max_seconds + 1.0), || done.load(Relaxed));
    let (mut eng, f) = worker.join().map_err(|_| "worker panicked".to_string())?;
    let mut line = format!("FILL peers={peers} torrents={torrents} acked={} given_up={}", f.acked, f.given_up);
    if verify != 0 {
        let mut s = udp::ScrapeAll::new(torrents);
        let c = Counters::default();
        eng.run(&mut s, &c, Instant::now() + Duration::from_secs(60));
        line += &format!(
            " scrape_replies={} nonempty_torrents={} stored_peers={} seeders={} leechers={}",
            s.answered,
            s.known,
            s.seeders + s.leechers,
            s.seeders,
            s.leechers
        );
    }
    println!("{line}");
    Ok(())
}
