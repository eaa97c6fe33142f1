//! A drop-in for today's opentracker: its current config (networks in
//! access.stats / access.proxy, the access FIFOs), its dynamic access lists,
//! every stats page in its layout, and stats answers that close like its.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Lines in the style of opentracker's current sample (a CDN's ranges as
/// proxies, networks allowed to read stats, both FIFOs).
fn sample_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let conf = dir.join("opentracker.conf");
    let text = format!(
        "# opentracker config file, in the style of today's sample\n\
         access.whitelist {wl}\n\
         access.fifo_add {dir}/adder.fifo\n\
         access.fifo_delete {dir}/deleter.fifo\n\
         access.stats 127.0.0.0/31\n\
         access.stats ::1\n\
         access.stats_path stats\n\
         access.proxy 127.0.0.0/31\n\
         access.proxy 173.245.48.0/20\n\
         access.proxy 103.21.244.0/22\n\
         access.proxy 104.16.0.0/13\n\
         access.proxy 2400:cb00::/32\n\
         access.proxy 2606:4700::/32\n\
         access.proxy 2a06:98c0::/29\n\
         access.proxy 173.245.48.0/24\n\
         {extra}",
        wl = dir.join("whitelist").display(),
        dir = dir.display(),
    );
    std::fs::write(&conf, text).unwrap();
    conf
}

fn refused(r: &Response) -> bool {
    r.text().contains("not authorized")
}

fn write_fifo(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn hash(i: u32) -> [u8; 20] {
    let mut h = [0x5a; 20];
    h[..4].copy_from_slice(&i.to_be_bytes());
    h
}

#[test]
fn current_sample_config_starts_clean_and_networks_are_honoured() {
    let dir = scratch_dir("compat-conf");
    std::fs::write(dir.join("whitelist"), "").unwrap();
    let conf = sample_config(&dir, "");
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    let log = t.log();
    assert!(!log.contains("warning"), "{log}");
    assert!(!log.contains("expected an IP"), "{log}");
    for fifo in ["adder.fifo", "deleter.fifo"] {
        let m = std::fs::metadata(dir.join(fifo)).unwrap();
        assert!(m.file_type().is_fifo(), "{fifo} created as a FIFO");
        assert_eq!(m.permissions().mode() & 0o777, 0o620, "{fifo}");
    }
    let h = [0x31; 20];
    write_fifo(&dir.join("adder.fifo"), &format!("{}\n", hex(&h)));
    assert!(eventually(1, || !refused(
        &t.http(&announce_url(&h, 9, "&left=5"))
    )));

    // Proxy: 127.0.0.1 lies in the trusted 127.0.0.0/31, 127.0.0.2 does not.
    let xff = "X-Forwarded-For: 10.1.1.1, 192.0.2.7\r\n";
    let inside = http_get_from(
        "127.0.0.1",
        t.tcp[0],
        &announce_url(&h, 1000, "&left=0"),
        xff,
    );
    assert_eq!(inside.unwrap().status, 200);
    let outside = http_get_from(
        "127.0.0.2",
        t.tcp[0],
        &announce_url(&h, 2000, "&left=0"),
        xff,
    );
    assert_eq!(outside.unwrap().status, 200);
    let r = t.http(&announce_url(&h, 3000, "&left=5"));
    let mut got: Vec<([u8; 4], u16)> = ben_get(&r.body, "peers")
        .unwrap()
        .chunks(6)
        .map(|c| ([c[0], c[1], c[2], c[3]], u16::from_be_bytes([c[4], c[5]])))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ([127, 0, 0, 1], 9),
            ([127, 0, 0, 2], 2000),
            ([192, 0, 2, 7], 1000)
        ],
        "the proxy inside the network is believed, the one outside is not"
    );

    // Stats: allowed to 127.0.0.0/31, not to 127.0.0.2.
    let ok = http_get_from("127.0.0.1", t.tcp[0], "/stats?mode=peer", "").unwrap();
    assert_eq!(ok.status, 200);
    let no = http_get_from("127.0.0.2", t.tcp[0], "/stats?mode=peer", "").unwrap();
    assert_eq!(no.status, 403);
}

#[test]
fn malformed_network_is_a_config_error_naming_file_and_line() {
    let dir = scratch_dir("compat-badnet");
    let conf = dir.join("ot.conf");
    std::fs::write(
        &conf,
        "# x\naccess.proxy 173.245.48.0/20\naccess.proxy 2400:cb00::/33x\n",
    )
    .unwrap();
    let out = command()
        .args(["-f", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3: access.proxy: expected an IP address or network",
            conf.display()
        )),
        "{err}"
    );
    let out = command().args(["-A", "10.0.0.0/99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fifo_changes_apply_within_a_second_and_reloads_flush_them() {
    let dir = scratch_dir("compat-fifo");
    let (listed, added) = ([0x41; 20], [0x42; 20]);
    let wl = dir.join("whitelist");
    std::fs::write(&wl, format!("{}\n", hex(&listed))).unwrap();
    let conf = sample_config(&dir, "access.reload_interval 1\n");
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    let (add, del) = (dir.join("adder.fifo"), dir.join("deleter.fifo"));
    let allowed = |h: &[u8; 20]| !refused(&t.http(&announce_url(h, 7, "&left=5")));
    assert!(allowed(&listed) && !allowed(&added));

    let start = Instant::now();
    write_fifo(&add, &format!("{}\n", hex(&added)));
    assert!(eventually(1, || allowed(&added)), "added within a second");
    write_fifo(
        &del,
        &format!("not a hash\n{}  release.iso\n", hex(&listed).to_uppercase()),
    );
    assert!(
        eventually(1, || !allowed(&listed)),
        "deleted within a second"
    );
    assert!(start.elapsed() < Duration::from_secs(2 * u64::from(slow())));
    let bad = format!(
        "{}: not a 40- or 64-hex info hash, skipped: \"not a hash\"",
        del.display()
    );
    assert!(eventually(1, || t.log().contains(&bad)), "{}", t.log());

    // The last writer closed: the FIFO is read again by the next one, and a
    // line without its newline still counts.
    let late = [0x43; 20];
    write_fifo(&add, &hex(&late));
    assert!(eventually(1, || allowed(&late)), "{}", t.log());

    // SIGHUP reloads the file: the changes are flushed, the file is the truth.
    signal(&t, "HUP");
    assert!(eventually(2, || allowed(&listed)
        && !allowed(&added)
        && !allowed(&late)));
    // The log is read by another thread: give it a moment to catch up.
    assert!(
        eventually(1, || t.log().contains("FIFO changes flushed (+2 -1)")),
        "{}",
        t.log()
    );

    // So does a reload because the file changed (access.reload_interval).
    write_fifo(&add, &format!("{}\n", hex(&added)));
    assert!(eventually(1, || allowed(&added)));
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&wl, format!("{}\n{}\n", hex(&listed), hex(&late))).unwrap();
    assert!(
        eventually(4, || !allowed(&added) && allowed(&late)),
        "{}",
        t.log()
    );
}

#[test]
fn two_writers_at_once_lose_no_line() {
    let dir = scratch_dir("compat-writers");
    std::fs::write(dir.join("whitelist"), "").unwrap();
    let conf = sample_config(&dir, "");
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    const EACH: u32 = 1000;
    let writers: Vec<_> = (0..2u32)
        .map(|w| {
            let path = dir.join("adder.fifo");
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                for i in 0..EACH {
                    // One write per line: atomic (well under PIPE_BUF).
                    f.write_all(format!("{}\n", hex(&hash(w * EACH + i))).as_bytes())
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let all = format!("changes since the last reload: +{} -0", 2 * EACH);
    assert!(eventually(3, || t.log().contains(&all)), "{}", t.log());
    assert!(!t.log().contains("not a 40- or 64-hex"), "{}", t.log());
    // Every one of them is served, over one kept-alive connection.
    let mut s = connect(t.tcp[0]);
    for i in 0..2 * EACH {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: t\r\n\r\n",
            announce_url(&hash(i), 1, "&left=5")
        );
        s.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut s).expect("reply");
        assert!(!refused(&r), "hash {i} was lost");
    }
}

/// Digit runs become `N`: the shape of a line.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

fn shapes(text: &str) -> Vec<String> {
    text.split('\n').map(shape).collect()
}

#[test]
fn every_stats_mode_answers_in_opentrackers_layout() {
    let t = Tracker::start(&[]);
    let (a, b) = ([0x0a; 20], [0x0b; 20]);
    // a: two seeds (one completed) and a leecher; b: one leecher over UDP.
    t.http(&announce_url(&a, 1, "&left=0&event=completed"));
    t.http(&announce_url(&a, 2, "&left=0"));
    t.http(&announce_url(&a, 3, "&left=9&numwant=7"));
    t.udp_client().announce(&b, 5, 2, 4);
    // A re-announce: opentracker's renew counts it by minutes since the last one.
    t.http(&announce_url(&a, 2, "&left=0&numwant=7"));
    t.http("/nowhere");
    let page = |mode: &str| {
        let r = t.http(&format!("/stats?mode={mode}"));
        assert_eq!(r.status, 200, "mode={mode}");
        r.text()
    };
    let mrtg = |label: &str| {
        vec![
            "N".to_string(),
            "N".to_string(),
            "N seconds (N hours)".to_string(),
            shape(label),
        ]
    };
    assert_eq!(
        page("peer"),
        "4\n2\nopentracker serving 2 torrents\nopentracker"
    );
    assert_eq!(
        page("torr"),
        "2\n0\nopentracker serving 2 torrents\nopentracker"
    );
    assert_eq!(
        shapes(&page("conn")),
        mrtg("opentracker connections, N conns/s :: N success/s.")
    );
    assert_eq!(
        shapes(&page("udp4")),
        mrtg("opentracker udp4 stats, N conns/s :: N success/s.")
    );
    assert_eq!(
        shapes(&page("tcp4")),
        mrtg("opentracker tcp4 stats, N conns/s :: N success/s.")
    );
    assert_eq!(
        shapes(&page("scrp")),
        mrtg("opentracker scrape stats, N scrape/s (tcp and udp)")
    );
    assert_eq!(
        shapes(&page("fscr")),
        mrtg("opentracker full scrape stats, N conns/s :: N bytes/s.")
    );
    assert_eq!(
        shapes(&page("syncs")),
        mrtg("opentracker connections, N conns/s :: N success/s.")
    );
    let completed = page("completed");
    assert_eq!(shapes(&completed), mrtg("opentracker, N completed/h."));
    assert!(completed.starts_with("1\n0\n"), "{completed}");
    assert_eq!(
        page("herr"),
        "302 RED 0\n400 ... 0\n400 PAR 0\n400 COM 0\n403 IP  0\n404 INV 1\n500 SRV 0\n"
    );
    let renew = page("renew");
    let expect: Vec<String> = (0..45)
        .map(|m| format!("{m:02} {}", u8::from(m == 0)))
        .chain([String::new()])
        .collect();
    assert_eq!(renew.split('\n').collect::<Vec<_>>(), expect);
    let numwants = page("numwants");
    let lines: Vec<&str> = numwants.lines().collect();
    assert_eq!(lines.len(), 201);
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| l.starts_with(&format!("{i:03} => "))));
    assert_eq!(
        (lines[7], lines[50]),
        ("007 => 2", "050 => 2"),
        "{numwants}"
    );
    assert!(page("version").starts_with("smoltracker "));
    assert_eq!(page("busy"), "Networks, limit /28:\n\n");
    assert_eq!(page("woodpeckers"), "Networks, limit /28:\n\n");
    // Four stored IPv4 peers, all on loopback: 127.0.0.0/28 and /24.
    assert_eq!(
        page("s24s"),
        "Networks, limit /28:\n00000004: 127.0.0.0\n\nNetworks, limit /24:\n00000004: 127.0.0.0\n\n"
    );
    assert_eq!(page("fulllog"), "");

    let (ha, hb) = (hex(&a).to_uppercase(), hex(&b).to_uppercase());
    for (mode, n) in [("top10", 10), ("top100", 100)] {
        let (head, body) = http_get_all(t.tcp[0], &format!("/stats?mode={mode}"));
        assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!(
                "Top {n} torrents by peers:\n\t3\t{ha}\n\t1\t{hb}\nTop {n} torrents by seeds:\n\t2\t{ha}\n"
            )
        );
    }
    let (_, dump) = http_get_all(t.tcp[0], "/stats?mode=statedump");
    let dump = String::from_utf8_lossy(&dump).into_owned();
    let rows: Vec<&str> = dump.lines().collect();
    assert_eq!(rows.len(), 2, "{dump}");
    assert!(
        rows[0].starts_with(&format!("{ha}:")) && rows[0].ends_with(":1"),
        "{dump}"
    );
    assert!(
        rows[1].starts_with(&format!("{hb}:")) && rows[1].ends_with(":0"),
        "{dump}"
    );
    assert!(rows.iter().all(|r| shape(r).ends_with(":N:N")), "{dump}");
    for (format, expect) in [
        ("txt", format!("{ha}:2:1\n{hb}:0:1\n")),
        ("txtp", format!("{ha}:2:1:1\n{hb}:0:1:0\n")),
    ] {
        let (_, body) = http_get_all(t.tcp[0], &format!("/stats?mode=tpbs&format={format}"));
        assert_eq!(String::from_utf8_lossy(&body), expect);
    }
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=url");
    assert!(String::from_utf8_lossy(&body).starts_with(&format!("{}:2:1\n", "%0A".repeat(20))));
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=bin");
    assert_eq!(body.len(), 56);
    let (_, body) = http_get_all(t.tcp[0], "/stats?mode=tpbs&format=ben");
    assert!(body.starts_with(b"d5:filesd20:") && body.ends_with(b"eee"));
    assert!(page("everything").starts_with("<?xml"));
    assert!(page("prom").contains("smoltracker_torrents 2\n"));
}

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Parses an XML document with Python's XML parser: every element's path
/// and attributes in document order, one a line.
fn xml_outline(xml: &str) -> Vec<String> {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
def walk(e, path):
    p = path + "/" + e.tag
    attrs = "".join(f' {k}="{v}"' for k, v in e.attrib.items())
    text = (e.text or "").strip()
    print(p + attrs + ("=" + ("N" if text.isdigit() else text) if len(e) == 0 else ""))
    for c in e:
        walk(c, p)
walk(root, "")
"#;
    let mut child = std::process::Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 to parse the XML");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not well-formed XML:\n{xml}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn everything_is_opentrackers_xml_and_tracker_id_survives_restarts() {
    let dir = scratch_dir("compat-xml");
    let state = dir.join("state");
    let conf = dir.join("ot.conf");
    std::fs::write(&conf, format!("tracker.state_file {}\n", state.display())).unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    t.http(&announce_url(&[1; 20], 1, "&left=0&event=completed"));
    let r = t.http("/stats?mode=everything");
    assert_eq!(r.status, 200);
    let xml = r.text();
    let outline = xml_outline(&xml);
    let mut expect: Vec<String> = [
        "/stats",
        "/stats/tracker_id=N",
        "/stats/version=smoltracker ",
        "/stats/uptime=N",
        "/stats/torrents",
        "/stats/torrents/count_mutex=N",
        "/stats/torrents/count_iterator=N",
        "/stats/peers",
        "/stats/peers/count=N",
        "/stats/seeds",
        "/stats/seeds/count=N",
        "/stats/completed",
        "/stats/completed/count=N",
        "/stats/connections",
        "/stats/connections/tcp",
        "/stats/connections/tcp/accept=N",
        "/stats/connections/tcp/announce=N",
        "/stats/connections/tcp/scrape=N",
        "/stats/connections/udp",
        "/stats/connections/udp/overall=N",
        "/stats/connections/udp/connect=N",
        "/stats/connections/udp/announce=N",
        "/stats/connections/udp/scrape=N",
        "/stats/connections/udp/missmatch=N",
        "/stats/connections/livesync",
        "/stats/connections/livesync/count=N",
        "/stats/debug",
        "/stats/debug/renew",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expect.extend((0..45).map(|i| format!("/stats/debug/renew/count interval=\"{i:02}\"=N")));
    expect.push("/stats/debug/http_error".into());
    for code in [
        "302 Redirect",
        "400 Parse Error",
        "400 Invalid Parameter",
        "400 Invalid Parameter (compact=0)",
        "400 Not Modest",
        "402 Payment Required",
        "403 Access Denied",
        "404 Not found",
        "500 Internal Server Error",
    ] {
        expect.push(format!("/stats/debug/http_error/count code=\"{code}\"=N"));
    }
    expect.push("/stats/debug/mutex_stall".into());
    expect.push("/stats/debug/mutex_stall/count=N".into());
    // The version text is smoltracker's; compare up to it.
    let got: Vec<String> = outline
        .iter()
        .map(|l| match l.strip_prefix("/stats/version=smoltracker ") {
            Some(_) => "/stats/version=smoltracker ".to_string(),
            None => l.clone(),
        })
        .collect();
    assert_eq!(got[..expect.len()], expect[..], "{xml}");
    assert_eq!(
        got[expect.len()],
        "/stats/smoltracker",
        "own counters after opentracker's"
    );
    assert!(
        xml.contains("  <completed>\n    <count>1</count>\n  </completed>\n"),
        "{xml}"
    );
    let id = |xml: &str| {
        let at = xml.find("<tracker_id>").unwrap() + 12;
        xml[at..at + xml[at..].find('<').unwrap()]
            .parse::<u32>()
            .unwrap()
    };
    let first = id(&xml);
    // The first run is killed (no clean stop, no state written at exit).
    drop(t);
    let mut t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert_eq!(
        id(&t.http("/stats?mode=everything").text()),
        first,
        "same id after a kill"
    );
    signal(&t, "TERM");
    assert!(eventually(3, || !t.alive()));
    drop(t);
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert_eq!(
        id(&t.http("/stats?mode=everything").text()),
        first,
        "and after a stop"
    );
    // Without a state file each start draws a new random id (two trackers
    // do not share one).
    let (x, y) = (Tracker::start(&[]), Tracker::start(&[]));
    let (ix, iy) = (
        id(&x.http("/stats?mode=everything").text()),
        id(&y.http("/stats?mode=everything").text()),
    );
    assert_ne!((ix, iy), (first, first));
}

#[test]
fn changesets_are_bounded_by_the_memory_cap() {
    let dir = scratch_dir("compat-bound");
    std::fs::write(dir.join("whitelist"), "").unwrap();
    // 512K cap (the smallest the one memory budget fits with both FIFOs
    // and the labels): a 32nd (16 KiB) holds 780 changed hashes.
    let conf = sample_config(&dir, "tracker.max_memory 512K\n");
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert!(t.log().contains("room for 780 changes"), "{}", t.log());
    let text: String = (0..783).map(|i| format!("{}\n", hex(&hash(i)))).collect();
    write_fifo(&dir.join("adder.fifo"), &text);
    let full = "3 info hashes NOT added: the changesets are full (780 hashes)";
    assert!(eventually(2, || t.log().contains(full)), "{}", t.log());
    let allowed = |h: &[u8; 20]| !refused(&t.http(&announce_url(h, 7, "&left=5")));
    assert!(allowed(&hash(0)) && allowed(&hash(779)) && !allowed(&hash(782)));
    // A reload flushes them, and there is room again.
    signal(&t, "HUP");
    assert!(eventually(2, || !allowed(&hash(0))));
    write_fifo(&dir.join("adder.fifo"), &format!("{}\n", hex(&hash(782))));
    assert!(eventually(1, || allowed(&hash(782))));
}

/// A stats reader that speaks HTTP/1.1 without `Connection: close` and
/// reads until the server closes gets its answer and the close at once.
#[test]
fn stats_answers_close_right_after_the_answer() {
    let dir = scratch_dir("compat-close");
    let conf = dir.join("ot.conf");
    std::fs::write(&conf, "access.stats 127.0.0.1\n").unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    for target in [
        "/stats",
        "/stats?mode=everything",
        "/stats?mode=conn",
        "/stats?mode=top100",
        "/stats?mode=tpbs&format=txt",
        "/metrics",
        "/stats?mode=nonsense",
    ] {
        let mut s = connect(t.tcp[0]);
        let start = Instant::now();
        let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\nUser-Agent: exporter\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let took = start.elapsed();
        let text = String::from_utf8_lossy(&all);
        assert!(
            took < Duration::from_secs(2 * u64::from(slow())),
            "{target}: closed after {took:?}"
        );
        assert!(text.starts_with("HTTP/1."), "{text}");
        assert!(
            text.contains("\r\nConnection: close\r\n"),
            "{target}: {text}"
        );
        if target != "/stats?mode=nonsense" {
            assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{target}: {text}");
        }
    }
    // Refused stats (403 for an address not allowed) close too.
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
    sock.bind(&local.into()).unwrap();
    sock.connect(&t.tcp[0].into()).unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    s.write_all(b"GET /stats?mode=everything HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert!(start.elapsed() < Duration::from_secs(2 * u64::from(slow())));
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 403 "));
    // Announces and scrapes keep their keep-alive behaviour.
    let mut s = connect(t.tcp[0]);
    for port in [1, 2] {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: t\r\n\r\n",
            announce_url(&[9; 20], port, "&left=1")
        );
        s.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut s).expect("both answered on one connection");
        assert!(r.head.contains("Connection: keep-alive"), "{}", r.head);
    }
}

#[test]
fn an_opentracker_statedump_seeds_the_state_file() {
    let t = Tracker::start(&[]);
    let (a, b) = ([0x21; 20], [0x22; 20]);
    for port in [1, 2, 3] {
        t.http(&announce_url(&a, port, "&left=0&event=completed"));
    }
    t.http(&announce_url(&b, 1, "&left=0&event=completed"));
    let (_, dump) = http_get_all(t.tcp[0], "/stats?mode=statedump");
    drop(t);
    let dir = scratch_dir("compat-dump");
    let state = dir.join("state");
    std::fs::write(&state, &dump).unwrap();
    let conf = dir.join("ot.conf");
    std::fs::write(&conf, format!("tracker.state_file {}\n", state.display())).unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    assert!(
        t.log().contains("restored 2 completed counts"),
        "{}",
        t.log()
    );
    let r = t.http(&format!(
        "/scrape?info_hash={}&info_hash={}",
        enc(&a),
        enc(&b)
    ));
    let body = r.body;
    let expect_a = b"d8:completei0e10:downloadedi3e10:incompletei0ee";
    let expect_b = b"d8:completei0e10:downloadedi1e10:incompletei0ee";
    assert!(
        body.windows(expect_a.len()).any(|w| w == expect_a),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(body.windows(expect_b.len()).any(|w| w == expect_b));
}

/// As root with a chroot: the FIFOs are made inside it, owned by the user the
/// tracker drops to, and read by it after the drop, writer after writer.
#[test]
fn fifos_live_inside_the_chroot_and_are_read_after_the_drop() {
    use std::os::unix::fs::MetadataExt;
    if !is_root() || std::env::var("SMOLTRACKER_RUNNER").is_ok_and(|r| !r.is_empty()) {
        eprintln!("skipped: needs root (and a native binary) to chroot and setuid");
        return;
    }
    let dir = scratch_dir("compat-chroot");
    std::fs::create_dir(dir.join("run")).unwrap();
    std::fs::write(dir.join("whitelist"), "").unwrap();
    let conf = dir.join("ot.conf");
    std::fs::write(
        &conf,
        "tracker.user nobody\naccess.whitelist /whitelist\naccess.fifo_add /run/adder.fifo\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap(), "-d", d]);
    let fifo = dir.join("run/adder.fifo");
    let m = std::fs::metadata(&fifo).expect("the FIFO inside the chroot");
    assert!(m.file_type().is_fifo());
    assert_eq!(
        (m.uid(), m.mode() & 0o777),
        (65534, 0o620),
        "owned by nobody"
    );
    for (i, h) in [[0x61; 20], [0x62; 20], [0x63; 20]].iter().enumerate() {
        write_fifo(&fifo, &format!("{}\n", hex(h)));
        assert!(
            eventually(1, || !refused(&t.http(&announce_url(h, 5, "&left=1")))),
            "writer {i}: {}",
            t.log()
        );
    }
    assert!(t.log().contains("running as nobody"), "{}", t.log());
}

#[test]
fn ipv6_networks_for_stats_and_proxies() {
    if !ipv6_loopback_works() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let dir = scratch_dir("compat-v6");
    let start = |name: &str, text: &str| {
        let conf = dir.join(name);
        std::fs::write(&conf, text).unwrap();
        Tracker::start_raw(&[
            "-i",
            "::1",
            "-p",
            "0",
            "-P",
            "0",
            "-f",
            conf.to_str().unwrap(),
        ])
    };
    let outside = start(
        "a.conf",
        "access.stats 2001:db8::/32\naccess.proxy 2001:db8::/32\n",
    );
    assert_eq!(outside.http("/stats").status, 403);
    let inside = start("b.conf", "access.stats ::/127\naccess.proxy ::/120\n");
    assert_eq!(inside.http("/stats").status, 200);
    let h = [0x66; 20];
    for t in [&outside, &inside] {
        let mut s = connect(t.tcp[0]);
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.9\r\nConnection: close\r\n\r\n",
            announce_url(&h, 4000, "&left=0")
        );
        s.write_all(req.as_bytes()).unwrap();
        read_response(&mut s).unwrap();
    }
    let peers = |t: &Tracker| {
        let r = t.http(&announce_url(&h, 5000, "&left=5"));
        (
            ben_get(&r.body, "peers").map(<[u8]>::to_vec),
            ben_get(&r.body, "peers6").map(<[u8]>::to_vec),
        )
    };
    assert_eq!(
        peers(&inside).0.as_deref(),
        Some([192, 0, 2, 9, 0x0f, 0xa0].as_slice()),
        "believed from a proxy in ::/120"
    );
    let (v4, v6) = peers(&outside);
    assert!(
        v4.is_none_or(|p| p.is_empty()),
        "not believed outside 2001:db8::/32"
    );
    assert!(
        v6.is_some_and(|p| p.len() == 18 && p[15] == 1),
        "the proxy itself (::1) is the peer"
    );
}

/// With a blacklist (or no list at all) the FIFOs change the blacklist: an
/// added hash is refused, a deleted one served again.
#[test]
fn fifos_change_the_blacklist_when_there_is_no_whitelist() {
    let dir = scratch_dir("compat-black");
    let (banned, other) = ([0x71; 20], [0x72; 20]);
    std::fs::write(dir.join("blacklist"), format!("{}\n", hex(&banned))).unwrap();
    for list in [true, false] {
        let conf = dir.join("ot.conf");
        let mut text = format!(
            "access.fifo_add {d}/add.fifo\naccess.fifo_delete {d}/del.fifo\n",
            d = dir.display()
        );
        if list {
            text += &format!("access.blacklist {}/blacklist\n", dir.display());
        }
        std::fs::write(&conf, text).unwrap();
        let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
        let allowed = |h: &[u8; 20]| !refused(&t.http(&announce_url(h, 7, "&left=5")));
        assert_eq!(allowed(&banned), !list);
        write_fifo(&dir.join("add.fifo"), &format!("{}\n", hex(&other)));
        assert!(eventually(1, || !allowed(&other)), "added to the blacklist");
        write_fifo(&dir.join("del.fifo"), &format!("{}\n", hex(&banned)));
        assert!(eventually(1, || allowed(&banned)), "deleted from it");
        signal(&t, "HUP");
        assert!(
            eventually(2, || allowed(&other) && allowed(&banned) != list),
            "{}",
            t.log()
        );
    }
}
