//! Running it like opentracker: access lists and reloads, stats, proxies,
//! redirects, privileges, signals and the state file — against the real binary.
mod common;
use common::*;
use std::io::Write;
use std::time::Duration;

const NOT_AUTHORIZED: &str = "Requested download is not authorized for use with this tracker.";

fn failure(r: &Response) -> Option<String> {
    ben_get(&r.body, "failure reason").map(|f| String::from_utf8_lossy(f).into_owned())
}

fn udp_announce_result(t: &Tracker, hash: &[u8; 20], port: u16) -> Result<Vec<u8>, String> {
    let u = t.udp_client();
    let conn = u.connect();
    let r = u
        .exchange(&Udp::announce_packet(conn, hash, 0, 2, -1, port))
        .unwrap();
    match r[..4] {
        [0, 0, 0, 1] => Ok(r[20..].to_vec()),
        _ => Err(String::from_utf8_lossy(&r[8..]).into_owned()),
    }
}

#[test]
fn whitelist_is_enforced_and_sighup_adds_hashes_without_losing_peers() {
    let dir = scratch_dir("wl");
    let wl = dir.join("whitelist");
    let (a, b) = ([0xA0; 20], [0xB0; 20]);
    std::fs::write(
        &wl,
        format!("# releases\n{}  first.iso\nthis line is broken\n", hex(&a)),
    )
    .unwrap();
    let t = Tracker::start(&["-w", wl.to_str().unwrap()]);
    assert!(
        eventually(5, || t.log().contains(&format!(
            "{}:3: not a 40- or 64-hex info hash, skipped",
            wl.display()
        ))),
        "{}",
        t.log()
    );
    assert!(
        t.log().contains(&format!(
            "whitelist mode: 1 releases from {} (1 bad lines skipped)",
            wl.display()
        )),
        "{}",
        t.log()
    );
    // Listed hash: served on both protocols. Unlisted: refused on both, nothing stored.
    let r = t.http(&announce_url(&a, 1001, "&left=0"));
    assert_eq!(failure(&r), None);
    assert_eq!(ben_int(&r.body, "complete"), Some(1));
    assert!(udp_announce_result(&t, &a, 1002).is_ok());
    assert_eq!(
        failure(&t.http(&announce_url(&b, 1003, "&left=0"))).as_deref(),
        Some(NOT_AUTHORIZED)
    );
    assert_eq!(
        udp_announce_result(&t, &b, 1004),
        Err(NOT_AUTHORIZED.to_string())
    );
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=txt");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("{}:2:0\n", hex(&a).to_uppercase())
    );

    // Append b, SIGHUP: b is accepted, a's peers are still there, and an open
    // keep-alive connection carries on across the reload.
    let mut kept = connect(t.tcp[0]);
    let req = format!("GET {} HTTP/1.1\r\n\r\n", announce_url(&a, 1010, "&left=5"));
    kept.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_response(&mut kept).unwrap().status, 200);
    let mut text = std::fs::read_to_string(&wl).unwrap();
    text.push_str(&format!("{}\n", hex(&b).to_uppercase()));
    std::fs::write(&wl, text).unwrap();
    signal(&t, "HUP");
    assert!(
        eventually(5, || t.log().contains("SIGHUP: whitelist")),
        "{}",
        t.log()
    );
    let r = t.http(&announce_url(&b, 1005, "&left=5"));
    assert_eq!(failure(&r), None, "accepted after reload");
    let r = t.http(&announce_url(&a, 1006, "&left=5"));
    assert_eq!(
        ben_int(&r.body, "complete"),
        Some(2),
        "peers of a survived the reload"
    );
    assert_eq!(ben_get(&r.body, "peers").map(|p| p.len()), Some(18));
    let req = format!("GET {} HTTP/1.1\r\n\r\n", announce_url(&b, 1011, "&left=5"));
    kept.write_all(req.as_bytes()).unwrap();
    let r = read_response(&mut kept).expect("the connection survived the reload");
    assert_eq!(ben_int(&r.body, "incomplete"), Some(2));

    // A deleted file keeps the old list, and says so.
    std::fs::remove_file(&wl).unwrap();
    signal(&t, "HUP");
    assert!(
        eventually(5, || t
            .log()
            .contains("keeping the previous list (2 info hashes)")),
        "{}",
        t.log()
    );
    assert_eq!(failure(&t.http(&announce_url(&b, 1007, "&left=5"))), None);
    assert_eq!(
        failure(&t.http(&announce_url(&[0xC0; 20], 1, "&left=0"))).as_deref(),
        Some(NOT_AUTHORIZED)
    );
}

#[test]
fn whitelist_reloads_by_itself_when_the_file_changes() {
    let dir = scratch_dir("mtime");
    let wl = dir.join("whitelist");
    let conf = dir.join("ot.conf");
    std::fs::write(&wl, "").unwrap();
    std::fs::write(
        &conf,
        format!(
            "access.whitelist {}\naccess.reload_interval 1\n",
            wl.display()
        ),
    )
    .unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    let h = [0xD0; 20];
    assert_eq!(
        failure(&t.http(&announce_url(&h, 1, "&left=0"))).as_deref(),
        Some(NOT_AUTHORIZED)
    );
    std::fs::write(&wl, format!("{}\n", hex(&h))).unwrap();
    assert!(
        eventually(10, || failure(&t.http(&announce_url(&h, 1, "&left=0")))
            .is_none()),
        "mtime reload picked up the new hash; log:\n{}",
        t.log()
    );
    assert!(t.log().contains("file changed: whitelist"), "{}", t.log());
}

#[test]
fn blacklist_refuses_listed_hashes() {
    let dir = scratch_dir("bl");
    let bl = dir.join("blacklist");
    std::fs::write(&bl, format!("{}\n", hex(&[0xE0; 20]))).unwrap();
    let t = Tracker::start(&["-b", bl.to_str().unwrap()]);
    assert_eq!(
        failure(&t.http(&announce_url(&[0xE0; 20], 1, "&left=0"))).as_deref(),
        Some(NOT_AUTHORIZED)
    );
    assert_eq!(
        failure(&t.http(&announce_url(&[0xE1; 20], 1, "&left=0"))),
        None
    );
}

#[test]
fn stats_pages_line_by_line() {
    let t = Tracker::start(&[]);
    let (a, b) = ([0x01; 20], [0x02; 20]);
    t.http(&announce_url(&a, 1, "&left=0&event=completed"));
    t.http(&announce_url(&a, 2, "&left=9"));
    t.http(&announce_url(&b, 3, "&left=9"));
    t.udp_client().announce(&b, 0, 2, 4);
    t.http("/nowhere");
    let page = |mode: &str| t.http(&format!("/stats?mode={mode}")).text();
    assert_eq!(
        page("peer"),
        "4\n2\nopentracker serving 2 torrents\nopentracker"
    );
    assert_eq!(
        t.http("/stats").text(),
        page("peer"),
        "peer is the default mode"
    );
    assert_eq!(
        page("torr"),
        "2\n0\nopentracker serving 2 torrents\nopentracker"
    );
    let lines = |mode: &str| page(mode).lines().map(str::to_string).collect::<Vec<_>>();
    let tcp = lines("tcp4");
    assert_eq!(tcp.len(), 4);
    assert!(tcp[0].parse::<u64>().unwrap() >= 4, "{tcp:?}");
    assert_eq!(tcp[1], "3", "three HTTP announces");
    assert!(tcp[2].ends_with(" seconds (0 hours)"), "{tcp:?}");
    assert!(tcp[3].starts_with("opentracker tcp4 stats, "), "{tcp:?}");
    let udp = lines("udp4");
    assert_eq!(
        udp[..2],
        ["2".to_string(), "2".to_string()],
        "connect + announce"
    );
    assert!(udp[3].starts_with("opentracker udp4 stats, "));
    let conn = lines("conn");
    assert_eq!(conn[1], "5", "4 announces + 1 connect");
    assert!(conn[3].starts_with("opentracker connections, "));
    let scrp = lines("scrp");
    assert_eq!(scrp[..2], ["0".to_string(), "0".to_string()]);
    assert!(scrp[3].starts_with("opentracker scrape stats"));
    assert!(lines("fscr")[3].starts_with("opentracker full scrape stats"));
    let herr = lines("herr");
    assert_eq!(herr.len(), 7);
    assert_eq!(herr[5], "404 INV 1");
    assert_eq!(herr[0], "302 RED 0");
    assert!(page("version").starts_with("smoltracker "));
    let xml = page("everything");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stats>"));
    assert!(
        xml.contains("  <peers>\n    <count>4</count>\n  </peers>\n")
            && xml.contains("  <seeds>\n    <count>2</count>\n  </seeds>\n"),
        "{xml}"
    );
    assert!(
        xml.contains("  <completed>\n    <count>1</count>\n  </completed>\n"),
        "{xml}"
    );
    let prom = page("prom");
    assert!(prom.contains("smoltracker_torrents 2\n"), "{prom}");
    assert!(
        prom.contains("smoltracker_peers{kind=\"seeder\"} 2\n"),
        "{prom}"
    );
    assert!(t
        .http("/metrics")
        .text()
        .contains("smoltracker_torrents 2\n"));
    assert_eq!(t.http("/stats?mode=nonsense").status, 400);

    // Per-torrent pages, streamed.
    let (head, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=txt");
    assert!(
        head.contains("Connection: close") && !head.contains("Content-Length"),
        "{head}"
    );
    // In info-hash order, as bencoded full scrapes need their keys.
    let rows: Vec<String> = String::from_utf8_lossy(&body)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        rows,
        vec![
            format!("{}:1:1", "01".repeat(20)),
            format!("{}:1:1", "02".repeat(20))
        ]
    );
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=txtp");
    assert!(String::from_utf8_lossy(&body).contains(&format!("{}:1:1:1\n", "01".repeat(20))));
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=bin");
    assert_eq!(body.len(), 2 * 28);
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=ben");
    assert!(body.starts_with(b"d5:filesd20:") && body.ends_with(b"eee"));
}

#[test]
fn stats_are_forbidden_to_addresses_not_allowed() {
    let t = Tracker::start(&["-A", "127.0.0.2"]);
    assert_eq!(t.http("/stats?mode=peer").status, 403);
    let r = http_get_from("127.0.0.2", t.tcp[0], "/stats?mode=peer", "").expect("reply");
    assert_eq!(r.status, 200);
    assert!(r
        .text()
        .ends_with("opentracker serving 0 torrents\nopentracker"));
    // Announces are not restricted.
    assert_eq!(t.http(&announce_url(&[3; 20], 1, "&left=0")).status, 200);
}

#[test]
fn forwarded_address_is_believed_only_from_a_trusted_proxy() {
    let dir = scratch_dir("proxy");
    let conf = dir.join("ot.conf");
    std::fs::write(&conf, "access.proxy 127.0.0.1\n").unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    let h = [0x44; 20];
    let xff = "X-Forwarded-For: 10.1.1.1, 192.0.2.7\r\n";
    http_get_from(
        "127.0.0.1",
        t.tcp[0],
        &announce_url(&h, 1000, "&left=0"),
        xff,
    )
    .unwrap();
    http_get_from(
        "127.0.0.3",
        t.tcp[0],
        &announce_url(&h, 2000, "&left=0"),
        xff,
    )
    .unwrap();
    let r = t.http(&announce_url(&h, 3000, "&left=5"));
    let peers = ben_get(&r.body, "peers").unwrap();
    let mut got: Vec<([u8; 4], u16)> = peers
        .chunks(6)
        .map(|c| ([c[0], c[1], c[2], c[3]], u16::from_be_bytes([c[4], c[5]])))
        .collect();
    got.sort();
    assert_eq!(got, vec![([127, 0, 0, 3], 2000), ([192, 0, 2, 7], 1000)]);
    // X-Real-IP from the proxy, too.
    http_get_from(
        "127.0.0.1",
        t.tcp[0],
        &announce_url(&h, 4000, "&left=0"),
        "X-Real-IP: 198.51.100.9\r\n",
    )
    .unwrap();
    let r = t.http(&announce_url(&h, 3000, "&left=5"));
    assert!(ben_get(&r.body, "peers")
        .unwrap()
        .windows(6)
        .any(|w| w == [198, 51, 100, 9, 0x0f, 0xa0]));
}

#[test]
fn redirect_and_full_scrape() {
    let dir = scratch_dir("fs");
    let conf = dir.join("ot.conf");
    std::fs::write(&conf, "access.fullscrape yes\n").unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap(), "-r", "https://example.org/"]);
    let r = t.http("/");
    assert_eq!(r.status, 302);
    assert!(
        r.head.contains("Location: https://example.org/"),
        "{}",
        r.head
    );
    t.http(&announce_url(&[5; 20], 1, "&left=0"));
    let (_, body) = http_get_all(t.tcp[0], "/scrape");
    let mut expect = b"d5:filesd20:".to_vec();
    expect.extend_from_slice(&[5; 20]);
    expect.extend_from_slice(b"d8:completei1e10:downloadedi0e10:incompletei0eeee");
    assert_eq!(body, expect);
}

#[test]
fn sigterm_saves_completed_counts_and_a_restart_restores_them() {
    let dir = scratch_dir("state");
    let state = dir.join("state");
    let conf = dir.join("ot.conf");
    std::fs::write(&conf, format!("tracker.state_file {}\n", state.display())).unwrap();
    let h = [0x77; 20];
    let mut t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    for port in [1, 2, 3] {
        t.http(&announce_url(&h, port, "&left=0&event=completed"));
    }
    signal(&t, "TERM");
    assert!(
        eventually(2, || !t.alive()),
        "exits within a second or two of SIGTERM"
    );
    assert!(
        eventually(2, || t.log().contains("SIGTERM: stopping")),
        "{}",
        t.log()
    );
    assert!(std::fs::read_to_string(&state)
        .unwrap()
        .contains(&format!("{} 3", hex(&h))));
    drop(t);

    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert!(
        t.log().contains("restored 1 completed counts"),
        "{}\nstate file:\n{:?}",
        t.log(),
        std::fs::read_to_string(&state)
    );
    let r = t.http(&format!("/scrape?info_hash={}", enc(&h)));
    assert!(
        r.body
            .ends_with(b"d8:completei0e10:downloadedi3e10:incompletei0eeee"),
        "{}",
        r.text()
    );
    drop(t);

    // The download history follows the counts' end marker: the three
    // downloads, counted today, in the total (open mode: no release rows).
    let text = std::fs::read_to_string(&state).unwrap();
    let history = text.find("# history ").expect("a history section");
    assert!(text[history..].starts_with("# history newest "), "{text}");
    assert!(text.ends_with(":3\n# history end 0\n"), "{text}");
    // Then only the counts are kept for the truncation checks below.
    let text = text[..history].to_string();
    // A truncated state file is reported and ignored: cut after a whole line…
    let cut = text.trim_end().rfind('\n').unwrap() + 1;
    std::fs::write(&state, &text[..cut]).unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert!(
        t.log()
            .contains("truncated: no end marker; ignored, starting from zero"),
        "{}",
        t.log()
    );
    let r = t.http(&format!("/scrape?info_hash={}", enc(&h)));
    assert!(r
        .body
        .ends_with(b"d8:completei0e10:downloadedi0e10:incompletei0eeee"));
    drop(t);
    // …or in the middle of one.
    std::fs::write(&state, &text[..text.len() - 5]).unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert!(
        t.log()
            .contains("line 4: expected 'HEX40 COUNT'; ignored, starting from zero"),
        "{}",
        t.log()
    );
}

#[test]
fn sigint_exits_zero() {
    let mut t = Tracker::start(&[]);
    signal(&t, "INT");
    assert!(eventually(2, || !t.alive()));
    let _ = t.alive();
    let status = t.wait();
    assert_eq!(status, Some(0));
}

#[test]
fn chroot_and_user_drop_when_root() {
    if !is_root() || std::env::var("SMOLTRACKER_RUNNER").is_ok_and(|r| !r.is_empty()) {
        eprintln!("skipped: needs root (and a native binary) to chroot and setuid");
        return;
    }
    let dir = scratch_dir("chroot");
    std::fs::write(dir.join("whitelist"), format!("{}\n", hex(&[9; 20]))).unwrap();
    // The whitelist path resolves inside the chroot.
    let t = Tracker::start(&[
        "-d",
        dir.to_str().unwrap(),
        "-u",
        "nobody",
        "-w",
        "/whitelist",
    ]);
    assert!(
        t.log()
            .contains(&format!("chroot {}, running as nobody", dir.display())),
        "{}",
        t.log()
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", t.pid())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid.split_whitespace().skip(1).all(|u| u == "65534"),
        "{uid}"
    );
    let root = std::fs::read_link(format!("/proc/{}/root", t.pid())).unwrap();
    assert_eq!(root, dir);
    assert_eq!(
        failure(&t.http(&announce_url(&[9; 20], 1, "&left=0"))),
        None
    );
    assert_eq!(
        failure(&t.http(&announce_url(&[8; 20], 1, "&left=0"))).as_deref(),
        Some(NOT_AUTHORIZED)
    );
    // A missing user is a clear start-up error.
    let out = command()
        .args(["-i", "127.0.0.1", "-p", "0", "-u", "no-such-user-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("user 'no-such-user-here' does not exist")
    );
    std::thread::sleep(Duration::from_millis(10));
}
