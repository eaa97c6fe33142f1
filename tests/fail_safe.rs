//! Fail-safe for the operator (issue 26): a mistake in the config or its
//! files never opens a whitelist tracker nor silently refuses everything;
//! the operator's own releases are never refused by the junk budget; the
//! mode is the first thing said; opentracker's flags mean what they mean
//! there; stats count what opentracker's count.
mod common;
use common::*;
use std::time::Instant;

fn run(args: &[&str]) -> (i32, String, String) {
    run_to_end(args)
}

/// `n` distinct info hashes.
fn hashes(n: u32, tag: u8) -> Vec<[u8; 20]> {
    (0..n)
        .map(|i| {
            let mut h = [tag; 20];
            h[..4].copy_from_slice(&i.to_be_bytes());
            h
        })
        .collect()
}

/// Announces every hash over UDP from one address (one connection id) and
/// returns how many were served and the error texts of the rest.
fn announce_all(t: &Tracker, list: &[[u8; 20]]) -> (usize, Vec<String>) {
    let udp = t.udp_client();
    let mut conn = udp.connect();
    let mut fresh = Instant::now();
    let (mut served, mut refused) = (0, Vec::new());
    for (i, h) in list.iter().enumerate() {
        if fresh.elapsed().as_secs() >= 30 {
            conn = udp.connect();
            fresh = Instant::now();
        }
        let r = udp
            .exchange(&Udp::announce_packet(conn, h, 0, 2, 0, 1000 + i as u16))
            .expect("a reply to every announce");
        match r[3] {
            1 => served += 1,
            3 => refused.push(String::from_utf8_lossy(&r[8..]).into_owned()),
            other => panic!("action {other}: {r:?}"),
        }
    }
    (served, refused)
}

#[test]
fn every_listed_release_from_one_address_is_served_at_once() {
    let dir = scratch_dir("failsafe-burst");
    let releases = hashes(1000, 0x5a);
    let mut text = String::from("\u{feff}# 1000 releases, saved by Notepad\r\n");
    for (i, h) in releases.iter().enumerate() {
        text += &format!("{} release-{i}.iso\r\n", hex(h));
    }
    let wl = dir.join("whitelist");
    std::fs::write(&wl, text).unwrap();
    let t = Tracker::start(&["-w", wl.to_str().unwrap()]);
    let first = t.log().lines().next().unwrap_or("").to_string();
    assert_eq!(
        first,
        format!(
            "smoltracker: whitelist mode: 1000 releases from {}",
            wl.display()
        ),
        "the mode is the first line:\n{}",
        t.log()
    );
    let began = Instant::now();
    let (served, refused) = announce_all(&t, &releases);
    let took = began.elapsed();
    assert_eq!(
        served,
        1000,
        "refused: {:?}",
        &refused[..refused.len().min(3)]
    );
    eprintln!("1000 listed releases from one address: all served in {took:?}");
    // An unlisted one is still refused: the whitelist holds.
    let (served, refused) = announce_all(&t, &hashes(1, 0x77));
    assert_eq!(served, 0);
    assert!(refused[0].contains("not authorized"), "{refused:?}");
}

#[test]
fn the_new_torrent_budget_still_holds_in_open_mode() {
    let t = Tracker::start(&[]);
    assert!(
        t.log()
            .starts_with("smoltracker: open tracker: serving any torrent announced\n"),
        "{}",
        t.log()
    );
    let began = Instant::now();
    let (served, refused) = announce_all(&t, &hashes(20_000, 0x3c));
    let secs = began.elapsed().as_secs_f64();
    // The default budget: 300 at once, 300 a minute after that.
    let most = 300.0 + 5.0 * secs + 1.0;
    eprintln!(
        "20,000 unlisted hashes from one address in {secs:.1} s: {served} served, {} refused",
        refused.len()
    );
    assert!(served >= 300, "{served}");
    assert!((served as f64) <= most, "{served} > {most}");
    assert!(refused
        .iter()
        .all(|r| r == "too many new torrents from your network; try again in a minute"));
}

#[test]
fn an_unreadable_access_list_stops_start_up_and_says_why() {
    let dir = scratch_dir("failsafe-unreadable");
    let missing = dir.join("no-such-whitelist");
    let (code, out, err) = run(&["-i", "127.0.0.1", "-p", "0", "-P", "0", "-w"]
        .into_iter()
        .chain([missing.to_str().unwrap()])
        .collect::<Vec<_>>());
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!(
            "cannot read whitelist {}: No such file or directory",
            missing.display()
        )) && err.contains("; read as ")
            && err.contains("create it or correct the path")
            && err.contains("Not started"),
        "{err}"
    );
    assert!(!out.contains("listening"), "{out}");
    // -t finds the same without binding.
    let (code, _, err2) = run(&["-t", "-w", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err2.contains("cannot read whitelist"), "{err2}");
    assert!(err2.contains("-t: configuration FAILED"), "{err2}");
}

/// As root the tracker reads its files as the dropped user, inside the
/// chroot: a path that exists outside it, or a file `nobody` cannot read,
/// stops start-up with the path opened and the user named.
#[test]
fn as_root_files_are_read_as_the_dropped_user_inside_the_chroot() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() || std::env::var("SMOLTRACKER_RUNNER").is_ok_and(|r| !r.is_empty()) {
        eprintln!("skipped: needs root (and a native binary) to chroot and setuid");
        return;
    }
    let dir = scratch_dir("failsafe-chroot");
    let wl = dir.join("whitelist");
    std::fs::write(&wl, format!("{}\n", hex(&[1; 20]))).unwrap();
    // The path as the operator sees it, which inside the chroot is elsewhere.
    let conf = dir.join("ot.conf");
    std::fs::write(
        &conf,
        format!(
            "listen.tcp_udp 127.0.0.1:0\ntracker.rootdir {}\ntracker.user nobody\naccess.whitelist {}\n",
            dir.display(),
            wl.display()
        ),
    )
    .unwrap();
    let (code, _, err) = run(&["-f", conf.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let inside = dir.join(wl.strip_prefix("/").unwrap());
    assert!(
        err.contains(&format!(
            "cannot read whitelist {}: No such file",
            wl.display()
        )) && err.contains("read as nobody (uid ")
            && err.contains(&format!(
                "inside the chroot {} (tracker.rootdir / -d), so the file opened was {} outside it",
                dir.display(),
                inside.display()
            )),
        "{err}"
    );
    // Named as seen from inside the chroot, but unreadable for nobody.
    std::fs::write(
        &conf,
        format!(
            "listen.tcp_udp 127.0.0.1:0\ntracker.rootdir {}\ntracker.user nobody\naccess.whitelist /whitelist\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, err) = run(&["-f", conf.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read whitelist /whitelist: Permission denied")
            && err.contains("make it (and every directory above it) readable by nobody"),
        "{err}"
    );
    let (code, _, err) = run(&["-t", "-f", conf.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("Permission denied"), "{err}");
    // Readable: it starts, in whitelist mode.
    std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o644)).unwrap();
    let t = Tracker::start_raw(&["-f", conf.to_str().unwrap()]);
    assert!(
        t.log()
            .starts_with("smoltracker: whitelist mode: 1 releases from /whitelist\n"),
        "{}",
        t.log()
    );
    // A state file nobody may not read stops start-up too.
    let state = dir.join("state");
    std::fs::write(&state, "# smoltracker state v1\n# end 0\n").unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        &conf,
        format!(
            "listen.tcp_udp 127.0.0.1:0\ntracker.rootdir {}\ntracker.state_file /state\n",
            dir.display()
        ),
    )
    .unwrap();
    let (code, _, err) = run(&["-f", conf.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read state file /state: Permission denied")
            && err.contains("read as nobody (uid "),
        "{err}"
    );
}

#[test]
fn dash_t_checks_without_binding_and_prints_the_settings() {
    // A port that is taken: -t does not bind, so it does not mind.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let dir = scratch_dir("failsafe-t");
    let wl = dir.join("whitelist");
    std::fs::write(
        &wl,
        format!(
            "{}  one.iso\nnot a hash\n{}\n",
            hex(&[1; 20]),
            hex(&[2; 20])
        ),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "-t",
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-w",
        wl.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    for want in [
        format!(
            "mode         whitelist mode: 2 releases from {} (1 bad lines skipped)",
            wl.display()
        ),
        format!("listen       tcp://127.0.0.1:{port}"),
        "memory       memory budget 8192 KiB: tables ".to_string(),
        "peers        announce interval 1800 s, peer timeout 2700 s".to_string(),
        "smoltracker -t: configuration OK".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} not in:\n{out}");
    }
    assert!(
        err.contains(":2: not a 40- or 64-hex info hash, skipped: \"not a hash\""),
        "{err}"
    );
    // The sample config checks out as shipped.
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/opentracker.conf");
    let (code, out, err) = run(&["-t", "-f", sample]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("mode         open tracker"), "{out}");
    // A broken one does not.
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "tracker.max_memory 8M\ntracker.max_memory 16M\n").unwrap();
    let (code, out, err) = run(&["-t", "-f", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains(&format!(
            "{0}:2: tracker.max_memory is already set at {0}:1",
            bad.display()
        )),
        "{err}"
    );
}

#[test]
fn opentrackers_l_loads_a_state_dump_and_s_is_warned_about() {
    let dir = scratch_dir("failsafe-l");
    let dump = dir.join("statedump");
    let h = [0xd1; 20];
    std::fs::write(
        &dump,
        format!(
            "{}:0:41\n{}:5:7\n",
            hex(&h).to_uppercase(),
            hex(&[0xd2; 20])
        ),
    )
    .unwrap();
    let t = Tracker::start(&["-l", dump.to_str().unwrap(), "-s", "9696"]);
    assert!(
        t.log()
            .contains("-s 9696: livesync (opentracker's cluster sync) is not implemented; ignored"),
        "{}",
        t.log()
    );
    assert!(
        t.log()
            .contains("-l: loaded 2 completed counts of 2 in the state dump"),
        "{}",
        t.log()
    );
    let r = t.http(&format!("/scrape?info_hash={}", enc(&h)));
    assert!(
        r.body
            .ends_with(b"d8:completei0e10:downloadedi41e10:incompletei0eeee"),
        "{}",
        r.text()
    );
    let (code, _, err) = run(&["-l", "/nonexistent/dump"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("-l /nonexistent/dump: cannot read the state dump"),
        "{err}"
    );
}

#[test]
fn stats_count_what_opentrackers_count() {
    let dir = scratch_dir("failsafe-stats");
    let wl = dir.join("whitelist");
    std::fs::write(&wl, format!("{}\n", hex(&[1; 20]))).unwrap();
    let conf = dir.join("ot.conf");
    std::fs::write(
        &conf,
        format!(
            "listen.tcp_udp 127.0.0.1:0\ntracker.max_memory 4M\naccess.whitelist {}\n",
            wl.display()
        ),
    )
    .unwrap();
    let t = Tracker::start_raw(&["-f", conf.to_str().unwrap()]);
    // One served and one refused announce on each protocol.
    assert!(t
        .http(&announce_url(&[1; 20], 1, ""))
        .text()
        .contains("interval"));
    assert!(t
        .http(&announce_url(&[2; 20], 1, ""))
        .text()
        .contains("not authorized"));
    let udp = t.udp_client();
    udp.announce(&[1; 20], 0, 2, 2);
    let conn = udp.connect();
    let r = udp
        .exchange(&Udp::announce_packet(conn, &[2; 20], 0, 2, 0, 3))
        .unwrap();
    assert_eq!(r[3], 3, "refused");
    // Two requests with a connection id that proves nothing.
    assert!(udp.silent(&Udp::announce_packet(0x1234, &[1; 20], 0, 2, 0, 4)));
    assert!(udp.silent(&Udp::announce_packet(99, &[1; 20], 0, 2, 0, 4)));
    let x = t.http("/stats?mode=everything").text();
    let tag = |name: &str| -> String {
        let open = format!("<{name}>");
        let from = x.find(&format!("<{}>", "udp")).unwrap();
        let at = x[from..].find(&open).unwrap() + from + open.len();
        x[at..at + x[at..].find('<').unwrap()].to_string()
    };
    assert_eq!(tag("missmatch"), "2", "{x}");
    assert_eq!(tag("announce"), "1", "UDP: answered announces only\n{x}");
    assert!(x.contains("<tcp>\n      <accept>"), "{x}");
    let tcp = &x[x.find("<tcp>").unwrap()..x.find("</tcp>").unwrap()];
    assert!(
        tcp.contains("<announce>1</announce>"),
        "TCP likewise: {tcp}"
    );
    assert!(
        x.contains(&format!("<memory_cap_bytes>{}</memory_cap_bytes>", 4 << 20)),
        "{x}"
    );
    // The cap is tracker.max_memory, its parts add up to no more.
    let prom = t.http("/stats?mode=prom").text();
    assert!(
        prom.contains(&format!("smoltracker_memory_cap_bytes {}\n", 4 << 20)),
        "{prom}"
    );
    let parts: u64 = prom
        .lines()
        .filter(|l| l.starts_with("smoltracker_memory_budget_bytes{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(parts > (3 << 20) && parts <= 4 << 20, "{parts}\n{prom}");
    let json = String::from_utf8(http_get_all(t.tcp[0], "/stats?mode=json").1).unwrap();
    assert!(json.contains(&format!(",\"cap\":{},", 4 << 20)), "{json}");
    let html = String::from_utf8(http_get_all(t.tcp[0], "/stats?mode=html").1).unwrap();
    assert!(
        html.contains("of 4.0 MiB"),
        "{}",
        &html[..html.len().min(3000)]
    );
}
