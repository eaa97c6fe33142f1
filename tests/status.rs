//! Release labels from the whitelist on the status pages: `mode=json`
//! (parsed), `mode=html`, Prometheus per-release series (checked by
//! `promtool check metrics` when installed; `SMOLTRACKER_REQUIRE_PROMTOOL=1`
//! makes its absence a failure), hostile labels, reloads and the public-page
//! directive.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Whitelist lines the pages must survive, and the label each must show.
fn hostile() -> Vec<([u8; 20], Vec<u8>, String)> {
    let long = "L".repeat(70);
    let cases: Vec<(&[u8], String)> = vec![
        (
            b"driverpacks-11.09-main.7z",
            "driverpacks-11.09-main.7z".into(),
        ),
        (
            b"<script>alert('x')</script><img src=x onerror=alert(1)>",
            "<script>alert('x')</script><img src=x onerror=alert(1)>".into(),
        ),
        (
            b"say \"hi\" \\ back\\slash \\\"",
            "say \"hi\" \\ back\\slash \\\"".into(),
        ),
        (b"line\rbreak\x0bvt\x1b[31mred", "linebreakvt[31mred".into()),
        (
            b"bad utf8 \xff\xfe end",
            "bad utf8 \u{FFFD}\u{FFFD} end".into(),
        ),
        (long.as_bytes(), "L".repeat(64)),
        (
            "caf\u{e9} \u{2014} \u{65e5}\u{672c} }{ #x".as_bytes(),
            "caf\u{e9} \u{2014} \u{65e5}\u{672c} }{ #x".into(),
        ),
        (b"</td></tr></table><!--", "</td></tr></table><!--".into()),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (raw, shown))| ([0x10 + i as u8; 20], raw.to_vec(), shown))
        .collect()
}

fn whitelist(entries: &[([u8; 20], Vec<u8>, String)], extra: &[[u8; 20]]) -> Vec<u8> {
    let mut text = b"# releases\n".to_vec();
    for (h, raw, _) in entries {
        text.extend_from_slice(hex(h).as_bytes());
        text.extend_from_slice(b"  ");
        text.extend_from_slice(raw);
        text.push(b'\n');
    }
    for h in extra {
        text.extend_from_slice(format!("{}\n", hex(h)).as_bytes());
    }
    text
}

/// Seeders, leechers, completed as a scrape reports them.
fn scrape(t: &Tracker, h: &[u8; 20]) -> (u64, u64, u64) {
    let r = t.http(&format!("/scrape?info_hash={}", enc(h)));
    let n = |k| ben_int(&r.body, k).unwrap_or(-1) as u64;
    (n("complete"), n("incomplete"), n("downloaded"))
}

fn json(t: &Tracker) -> serde_json::Value {
    let (head, body) = http_get_all(t.tcp[0], "/stats?mode=json");
    assert!(
        head.contains("200 OK") && head.contains("application/json"),
        "{head}"
    );
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&body)))
}

/// (info_hash, label) of every torrent in `mode=json`, in order.
fn labels(t: &Tracker) -> Vec<(String, serde_json::Value)> {
    json(t)["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["info_hash"].as_str().unwrap().to_string(),
                r["label"].clone(),
            )
        })
        .collect()
}

/// Undoes the Prometheus text format's label-value escaping.
fn prom_unescape(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `name{labels} value` lines parsed into (name, labels, value).
fn prom_series(text: &str) -> Vec<(String, BTreeMap<String, String>, u64)> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = line.split_once('{').unwrap_or((line, ""));
        let mut labels = BTreeMap::new();
        let mut value = line;
        if !rest.is_empty() {
            // label="value" pairs; values may hold escaped quotes.
            let mut s = rest;
            loop {
                let (k, after) = s.split_once("=\"").expect("label");
                let mut end = 0;
                let b = after.as_bytes();
                while b[end] != b'"' {
                    end += if b[end] == b'\\' { 2 } else { 1 };
                }
                labels.insert(k.to_string(), prom_unescape(&after[..end]));
                s = &after[end + 1..];
                if let Some(r) = s.strip_prefix(',') {
                    s = r;
                } else {
                    value = s.strip_prefix('}').expect("}");
                    break;
                }
            }
        }
        let name = name.split_whitespace().next().unwrap().to_string();
        let v = value.split_whitespace().last().unwrap().parse().unwrap();
        out.push((name, labels, v));
    }
    out
}

fn promtool_check(text: &str) {
    use std::io::Write;
    let spawned = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let required = std::env::var("SMOLTRACKER_REQUIRE_PROMTOOL").is_ok_and(|v| v == "1");
            assert!(!required, "promtool required but not runnable: {e}");
            eprintln!("promtool not installed ({e}); skipping its check");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn labels_show_in_json_prometheus_and_html_with_scrape_counts() {
    let dir = scratch_dir("labels");
    let wl = dir.join("whitelist");
    let entries = hostile();
    let bare = [0xE0u8; 20];
    std::fs::write(&wl, whitelist(&entries, &[bare])).unwrap();
    let t = Tracker::start(&["-w", wl.to_str().unwrap()]);
    // A cleaned label is reported with file:line (line 1 is the comment).
    assert!(
        eventually(5, || t.log().contains(&format!(
            "{}:5: label: control characters dropped",
            wl.display()
        ))),
        "{}",
        t.log()
    );
    assert!(t.log().contains(&format!(
        "{}:6: label: invalid UTF-8 replaced",
        wl.display()
    )));
    assert!(t
        .log()
        .contains(&format!("{}:7: label: cut to 64 bytes", wl.display())));
    // Different counts per torrent: i seeders, 2 leechers, one completed for even i.
    for (i, (h, _, _)) in entries.iter().enumerate() {
        for s in 0..i {
            let ev = if s == 0 && i % 2 == 0 {
                "&event=completed"
            } else {
                ""
            };
            t.http(&announce_url(h, 2000 + s as u16, &format!("&left=0{ev}")));
        }
        for l in 0..2 {
            t.http(&announce_url(h, 3000 + l, "&left=7"));
        }
    }
    t.http(&announce_url(&bare, 4000, "&left=7"));

    // JSON: parses; every labelled release, then the unlabelled torrent.
    let doc = json(&t);
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["totals"]["torrents"], entries.len() as u64 + 1);
    assert!(doc["memory"]["used"].as_u64().unwrap() > 0);
    assert!(doc["memory"]["used"].as_u64() < doc["memory"]["cap"].as_u64());
    assert_eq!(doc["labels"]["count"], entries.len() as u64);
    let list = doc["torrents"].as_array().unwrap();
    assert_eq!(list.len(), entries.len() + 1);
    for (rec, (h, _, shown)) in list.iter().zip(&entries) {
        assert_eq!(rec["info_hash"], hex(h));
        assert_eq!(rec["label"].as_str(), Some(shown.as_str()));
        let (s, l, c) = scrape(&t, h);
        assert_eq!(
            (
                rec["seeders"].as_u64(),
                rec["leechers"].as_u64(),
                rec["completed"].as_u64()
            ),
            (Some(s), Some(l), Some(c)),
            "{rec}"
        );
    }
    let last = &list[entries.len()];
    assert_eq!(last["info_hash"], hex(&bare));
    assert!(last["label"].is_null());
    assert_eq!(last["leechers"], 1);

    // Prometheus: valid for promtool; per-release series with the labels.
    for path in ["/metrics", "/stats?mode=prom"] {
        let (head, body) = http_get_all(t.tcp[0], path);
        assert!(head.contains("200 OK"), "{head}");
        let text = String::from_utf8(body).expect("Prometheus text is UTF-8");
        promtool_check(&text);
        let series = prom_series(&text);
        for (h, _, shown) in &entries {
            let (s, l, c) = scrape(&t, h);
            let find = |name: &str, kind: Option<&str>| {
                let found: Vec<_> = series
                    .iter()
                    .filter(|(n, labels, _)| {
                        n == name
                            && labels.get("info_hash") == Some(&hex(h))
                            && labels.get("kind").map(String::as_str) == kind
                    })
                    .collect();
                assert_eq!(found.len(), 1, "{name} {kind:?} for {}", hex(h));
                assert_eq!(found[0].1["label"], *shown);
                found[0].2
            };
            assert_eq!(find("smoltracker_release_peers", Some("seeder")), s);
            assert_eq!(find("smoltracker_release_peers", Some("leecher")), l);
            assert_eq!(find("smoltracker_release_completed_total", None), c);
        }
        assert!(
            !series
                .iter()
                .any(|(_, labels, _)| labels.get("info_hash") == Some(&hex(&bare))),
            "no per-release series for an unlabelled torrent"
        );
        assert!(
            text.contains("\nsmoltracker_torrents 9\n"),
            "totals as before"
        );
    }

    // HTML: one document, the page's own script only, labels escaped.
    let (head, body) = http_get_all(t.tcp[0], "/stats?mode=html");
    assert!(head.contains("text/html; charset=utf-8"), "{head}");
    let html = String::from_utf8(body).expect("UTF-8");
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert_eq!(html.matches("</table>").count(), 1);
    assert_eq!(html.matches("<!--").count(), 0);
    assert!(!html.contains("onerror=alert(1)>"));
    assert!(html.contains(
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    ));
    assert!(html.contains("say &quot;hi&quot; \\ back\\slash \\&quot;"));
    for (h, _, _) in &entries {
        let (s, l, c) = scrape(&t, h);
        // The counts, then the release's 30-day chart: 30 focusable bars.
        let cells = format!("</td><td>{s}</td><td>{l}</td><td>{c}</td><td class=\"c\">");
        let row = html
            .lines()
            .find(|line| line.contains(&format!("title=\"{}\"", hex(h))))
            .unwrap_or_else(|| panic!("row for {}", hex(h)));
        assert!(row.contains(&cells), "{row} vs {cells}");
        assert!(row.ends_with("</svg></td></tr>"), "{row}");
        assert_eq!(row.matches("<rect ").count(), 30, "{row}");
        assert_eq!(row.matches("tabindex=\"0\"").count(), 30, "{row}");
    }
    assert!(html.contains(&format!("title=\"{}\">e0e0e0e0\u{2026}</td>", hex(&bare))));
}

#[test]
fn reload_changes_labels() {
    let dir = scratch_dir("relabel");
    let wl = dir.join("whitelist");
    let (a, b) = ([0xA1; 20], [0xB2; 20]);
    std::fs::write(&wl, format!("{}  old name\n{}\n", hex(&a), hex(&b))).unwrap();
    let t = Tracker::start(&["-w", wl.to_str().unwrap()]);
    t.http(&announce_url(&b, 1, "&left=0"));
    assert_eq!(
        labels(&t),
        vec![
            (hex(&a), "old name".into()),
            (hex(&b), serde_json::Value::Null)
        ]
    );
    std::fs::write(
        &wl,
        format!("{}  new name\n{}  now named\n", hex(&a), hex(&b)),
    )
    .unwrap();
    signal(&t, "HUP");
    assert!(
        eventually(5, || t.log().contains("SIGHUP: whitelist")),
        "{}",
        t.log()
    );
    assert_eq!(
        labels(&t),
        vec![(hex(&a), "new name".into()), (hex(&b), "now named".into())]
    );
    // Dropped from the whitelist: no label, no per-release series.
    std::fs::write(&wl, format!("{}\n", hex(&b))).unwrap();
    signal(&t, "HUP");
    assert!(eventually(5, || labels(&t) == vec![(hex(&b), serde_json::Value::Null)]));
    let (_, body) = http_get_all(t.tcp[0], "/metrics");
    assert!(!String::from_utf8_lossy(&body).contains("smoltracker_release_"));
}

#[test]
fn public_modes_open_while_the_rest_stays_private() {
    let dir = scratch_dir("public");
    let conf = dir.join("smoltracker.conf");
    std::fs::write(
        &conf,
        "listen.tcp_udp 127.0.0.1:0\naccess.stats 127.0.0.2\naccess.stats_public html json\n",
    )
    .unwrap();
    let t = Tracker::start_raw(&["-f", conf.to_str().unwrap()]);
    for (path, code) in [
        ("/stats?mode=html", 200),
        ("/stats?mode=json", 200),
        ("/stats?mode=peer", 403),
        ("/stats", 403),
        ("/stats?mode=prom", 403),
        ("/metrics", 403),
        ("/stats?mode=tpbs&format=txt", 403),
        ("/stats?mode=json&mode=peer", 403),
    ] {
        let r = http_get_from("127.0.0.1", t.tcp[0], path, "").expect("reply");
        assert_eq!(r.status, code, "{path}");
    }
    // The allowed address still reads everything.
    let r = http_get_from("127.0.0.2", t.tcp[0], "/stats?mode=peer", "").expect("reply");
    assert_eq!(r.status, 200);

    // A mode that does not exist is a config error naming file and line.
    std::fs::write(&conf, "\naccess.stats_public html jsn\n").unwrap();
    let out = command()
        .args(["-f", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:2: access.stats_public: 'jsn' is not a stats mode",
            conf.display()
        )),
        "{err}"
    );
}

#[test]
fn json_counts_evictions_and_refusals() {
    let dir = scratch_dir("evict");
    let conf = dir.join("smoltracker.conf");
    std::fs::write(
        &conf,
        "listen.tcp_udp 127.0.0.1:0\ntracker.max_peers_per_torrent 2\n",
    )
    .unwrap();
    let t = Tracker::start_raw(&["-f", conf.to_str().unwrap()]);
    for port in 1..=3 {
        t.http(&announce_url(&[0x77; 20], port, "&left=0"));
    }
    t.http("/announce?info_hash=short&port=1");
    let doc = json(&t);
    assert_eq!(doc["evictions"], 1, "{doc}");
    assert_eq!(doc["totals"]["seeders"], 2);
    assert_eq!(doc["errors"]["http"]["bad_parameter"], 1);
    // Answered announces, as for UDP: the malformed one is a bad_parameter.
    assert_eq!(doc["requests"]["tcp_announces"], 3);
    assert_eq!(doc["labels"]["count"], 0, "no whitelist, no labels");
    assert_eq!(doc["memory"]["labels_cap"], 0);
    assert!(doc["torrents"][0]["label"].is_null());
}

/// A tracker with a whitelist holding `text` and both access FIFOs, in a
/// scratch directory `name`: the tracker and the add and delete FIFOs' paths.
fn with_fifos(name: &str, text: &str) -> (Tracker, PathBuf, PathBuf) {
    let dir = scratch_dir(name);
    let (wl, add, del) = (dir.join("whitelist"), dir.join("add"), dir.join("delete"));
    let conf = dir.join("smoltracker.conf");
    std::fs::write(&wl, text).unwrap();
    std::fs::write(
        &conf,
        format!(
            "listen.tcp_udp 127.0.0.1:0\naccess.whitelist {}\naccess.fifo_add {}\naccess.fifo_delete {}\n",
            wl.display(),
            add.display(),
            del.display()
        ),
    )
    .unwrap();
    (
        Tracker::start_raw(&["-f", conf.to_str().unwrap()]),
        add,
        del,
    )
}

/// Writes `line` to an access FIFO in one write.
fn write(fifo: &Path, line: String) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    f.write_all(line.as_bytes()).unwrap();
}

#[test]
fn labels_follow_fifo_changes() {
    let (a, b) = ([0xA1; 20], [0xB2; 20]);
    let (t, add, del) = with_fifos("fifolabels", &format!("{}  from the file\n", hex(&a)));
    assert_eq!(labels(&t), vec![(hex(&a), "from the file".into())]);
    // Added with a name: labelled at once, <script> and all.
    write(&add, format!("{}  <b>fifo</b> \"release\"\n", hex(&b)));
    assert!(eventually(5, || labels(&t).len() == 2), "{}", t.log());
    assert_eq!(
        labels(&t),
        vec![
            (hex(&a), "from the file".into()),
            (hex(&b), "<b>fifo</b> \"release\"".into())
        ]
    );
    let (_, html) = http_get_all(t.tcp[0], "/stats?mode=html");
    assert!(String::from_utf8_lossy(&html).contains("&lt;b&gt;fifo&lt;/b&gt; &quot;release&quot;"));
    // Deleted: the label goes with it (Prometheus too).
    write(&del, format!("{}\n", hex(&a)));
    assert!(eventually(5, || labels(&t)
        == vec![(hex(&b), "<b>fifo</b> \"release\"".into())]));
    let (_, prom) = http_get_all(t.tcp[0], "/metrics");
    let prom = String::from_utf8_lossy(&prom);
    assert!(
        !prom.contains(&hex(&a)) && prom.contains(&hex(&b)),
        "{prom}"
    );
    // A reload makes the file the truth again.
    signal(&t, "HUP");
    assert!(eventually(5, || labels(&t) == vec![(hex(&a), "from the file".into())]));
}

#[test]
fn a_hybrid_line_through_the_fifo_is_one_release_and_goes_whole() {
    let v1 = [0xC1; 20];
    let v2_hex = format!("{}{}", "d2".repeat(20), "ee".repeat(12));
    let v2 = [0xD2; 20];
    let (t, add, del) = with_fifos("fifohybrid", "# empty at first\n");
    let served = |h: &[u8; 20], port: u16| {
        !t.http(&announce_url(h, port, "&left=0"))
            .text()
            .contains("not authorized")
    };
    assert!(!served(&v1, 1) && !served(&v2, 1));
    // One line, both hashes (the v2 one as 64 hex digits), one name.
    write(&add, format!("{} {v2_hex}  hybrid-1.0.iso\n", hex(&v1)));
    assert!(eventually(5, || served(&v1, 1)), "{}", t.log());
    assert!(
        served(&v2, 1),
        "the v2 hash is served as its first 20 bytes"
    );
    assert!(served(&v2, 2));
    let j = json(&t);
    let rows = j["torrents"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["info_hash"], hex(&v1));
    assert_eq!(rows[0]["info_hash2"], hex(&v2));
    assert_eq!(rows[0]["label"], "hybrid-1.0.iso");
    // Port 1 is in both swarms: one peer; port 2 only in the v2 one.
    assert_eq!(rows[0]["seeders"], 2);
    assert_eq!(j["labels"]["pairs"], 1);
    // Deleting the line takes both hashes away.
    write(&del, format!("{} {v2_hex}\n", hex(&v1)));
    assert!(eventually(5, || !served(&v1, 3)), "{}", t.log());
    assert!(!served(&v2, 3));
    assert_eq!(json(&t)["labels"]["pairs"], 0);
}
