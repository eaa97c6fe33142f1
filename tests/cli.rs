//! Command line and configuration behaviour of the real binary.
mod common;
use common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    run_to_end(args)
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smoltracker-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["-h"]);
    assert_eq!(code, 0);
    for flag in ["-f", "-i", "-p", "-P", "-A", "-w", "-b", "-d", "-u", "-r"] {
        assert!(
            out.contains(&format!("{flag} ")),
            "help mentions {flag}:\n{out}"
        );
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("smoltracker "));
    // opentracker's -v: the version, exit 0, nothing started.
    let (code, v, _) = run(&["-v"]);
    assert_eq!(code, 0);
    assert_eq!(v, out);
    assert_eq!(v, format!("smoltracker {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flags_exit_non_zero_with_a_message() {
    let (code, _, err) = run(&["-z"]);
    assert_eq!(code, 2);
    assert!(err.contains("-z") || err.contains("Unrecognized"), "{err}");
    let (code, _, err) = run(&["-p", "http"]);
    assert_eq!(code, 2);
    assert!(err.contains("-p http: expected a port number"), "{err}");
}

#[test]
fn malformed_config_value_names_file_and_line() {
    let p = temp_file(
        "bad.conf",
        "# comment\nlisten.tcp 127.0.0.1:0\ntracker.max_memory plenty\n",
    );
    let (code, _, err) = run(&["-f", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "{}:3: tracker.max_memory: expected a size",
            p.display()
        )),
        "{err}"
    );
    let (code, _, err) = run(&["-f", "/nonexistent/opentracker.conf"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/opentracker.conf: cannot read config"),
        "{err}"
    );
}

#[test]
fn opentracker_directives_not_implemented_warn_and_the_tracker_runs() {
    let p = temp_file(
        "warn.conf",
        "listen.tcp_udp 127.0.0.1:0\nlivesync.cluster.listen 224.0.42.23:9696\nlisten.udp.workers 4\ntracker.max_memory 1M\n",
    );
    let t = Tracker::start_raw(&["-f", p.to_str().unwrap()]);
    let log = t.log();
    assert!(
        log.contains(":2: livesync.cluster.listen: livesync (opentracker's cluster sync) is not implemented; ignored"),
        "{log}"
    );
    assert!(
        log.contains(":3: listen.udp.workers: one event loop"),
        "{log}"
    );
    assert!(log.contains("memory cap 1024 KiB"), "{log}");
    assert_eq!(t.tcp.len(), 1);
    assert_eq!(t.udp.len(), 1);
    assert_eq!(t.http("/nope").status, 404);
    assert_eq!(t.udp_client().announce(&[1; 20], 0, 2, 1).0, 1800);
}

/// A typo in a whitelist tracker's config used to be a warning, and the
/// tracker then served every torrent: now it stops start-up (exit 2) with
/// file:line and the directive meant.
#[test]
fn an_unknown_directive_stops_start_up_with_the_nearest_known_one() {
    let wl = temp_file("typo-wl", "");
    let p = temp_file(
        "typo.conf",
        &format!(
            "listen.tcp_udp 127.0.0.1:0\nacess.whitelist {}\n",
            wl.display()
        ),
    );
    let (code, out, err) = run(&["-f", p.to_str().unwrap()]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains(&format!(
            "{}:2: unknown directive 'acess.whitelist'; did you mean access.whitelist?",
            p.display()
        )),
        "{err}"
    );
    assert!(!out.contains("listening"), "{out}");
    // -t says the same, and so does a directive nothing is near.
    let (code, _, err) = run(&["-t", "-f", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean access.whitelist?"), "{err}");
    assert!(err.contains("-t: configuration FAILED"), "{err}");
    let q = temp_file("frob.conf", "frobnicate yes\n");
    let (code, _, err) = run(&["-f", q.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(":1: unknown directive 'frobnicate'"), "{err}");
}

#[test]
fn sample_config_is_usable_as_is() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/opentracker.conf");
    let text = std::fs::read_to_string(sample).unwrap();
    // Same file, but on ephemeral loopback ports so the test can run anywhere.
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("listen."))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "listen.tcp_udp 127.0.0.1:0\n";
    let p = temp_file("sample.conf", &text);
    let t = Tracker::start_raw(&["-f", p.to_str().unwrap()]);
    assert!(!t.log().contains("error"), "{}", t.log());
    let (code, _, err) = run(&["-f", sample, "-h"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn no_arguments_listen_on_6969_everywhere() {
    // Only when the default port is free on this machine.
    if std::net::TcpListener::bind("0.0.0.0:6969").is_err()
        || std::net::UdpSocket::bind("0.0.0.0:6969").is_err()
    {
        eprintln!("skipped: port 6969 is in use here");
        return;
    }
    let mut t = Tracker::start_raw(&[]);
    let log = t.log();
    assert!(log.contains("tcp://0.0.0.0:6969"), "{log}");
    assert!(log.contains("udp://0.0.0.0:6969"), "{log}");
    assert!(log.contains("memory cap 8192 KiB"), "{log}");
    if ipv6_loopback_works() {
        assert!(
            log.contains("tcp://[::]:6969") && log.contains("udp://[::]:6969"),
            "{log}"
        );
    }
    let r = http_get(
        "127.0.0.1:6969".parse().unwrap(),
        &announce_url(&[7; 20], 1, "&left=0"),
    );
    assert_eq!(ben_int(&r.body, "complete"), Some(1));
    assert!(t.alive());
    // A second instance cannot silently share the port.
    let (code, _, err) = run(&[]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot listen on tcp 0.0.0.0:6969"), "{err}");
}
