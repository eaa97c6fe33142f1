//! The config file: opentracker.conf's `directive value` lines, looked up
//! in one table. Unknown directives stop start-up with `file:line` and the
//! nearest known one; opentracker directives smoltracker does not implement
//! are warnings; a directive that may appear once and appears twice names
//! both lines.

use super::{Config, ConfigError, DEFAULT_PORT};
use crate::network::Network;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Reads config files into a [`Config`]: remembers where each directive
/// was set, so that a second setting of a once-only directive names both
/// lines, and settings that depend on others resolve after the last file.
#[derive(Default)]
pub struct Parser {
    cfg: Config,
    warnings: Vec<String>,
    /// Once-only directives seen, and the `file:line` that set each.
    seen: Vec<(&'static str, String)>,
}

impl Parser {
    /// A parser that applies files over `cfg`.
    pub fn over(cfg: Config) -> Self {
        Parser {
            cfg,
            ..Parser::default()
        }
    }

    /// Applies the directives of one config file. Malformed values,
    /// unknown directives and repeated once-only ones are errors naming
    /// `file:line`; directives accepted but not acted on become warnings.
    pub fn parse_file(&mut self, text: &str, file: &Path) -> Result<(), ConfigError> {
        // A file saved by Notepad starts with a UTF-8 byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.find(char::is_whitespace) {
                Some(i) => (&line[..i], line[i..].trim()),
                None => (line, ""),
            };
            let here = format!("{}:{}", file.display(), n + 1);
            let at = |msg: String| ConfigError(format!("{here}: {msg}"));
            let Some(&(name, directive)) = DIRECTIVES.iter().find(|(k, _)| *k == key) else {
                if let Some(why) = NOT_IMPLEMENTED.iter().find(|(k, _)| *k == key) {
                    self.warnings
                        .push(format!("{here}: {key}: {}; ignored", why.1));
                    continue;
                }
                return Err(at(unknown(key)));
            };
            if !directive.repeats() {
                if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == name) {
                    return Err(at(format!(
                        "{key} is already set at {first}; it may appear once (remove one of the two lines)"
                    )));
                }
                self.seen.push((name, here.clone()));
            }
            if name == "tracker.max_connections" {
                self.cfg.max_connections_at = Some(here.clone());
            }
            if let Some(w) = apply(&mut self.cfg, key, value).map_err(at)? {
                self.warnings.push(format!("{here}: {w}"));
            }
        }
        Ok(())
    }

    /// The configuration the files gave (defaults elsewhere), with
    /// settings that depend on others resolved, and the warnings.
    pub fn finish(mut self) -> (Config, Vec<String>) {
        if !self.seen.iter().any(|(k, _)| *k == "tracker.peer_timeout") {
            let interval = self.cfg.announce_interval;
            self.cfg.peer_timeout = interval + interval / 2;
        }
        (self.cfg, self.warnings)
    }
}

/// opentracker directives smoltracker reads but does not act on.
const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    (
        "livesync.cluster.listen",
        "livesync (opentracker's cluster sync) is not implemented",
    ),
    (
        "livesync.cluster.node_ip",
        "livesync (opentracker's cluster sync) is not implemented",
    ),
    (
        "batchsync.cluster.admin_ip",
        "batchsync (opentracker's cluster sync) is not implemented",
    ),
];

/// The error for an unknown directive, with the nearest known one.
fn unknown(key: &str) -> String {
    let known = DIRECTIVES
        .iter()
        .map(|(k, _)| *k)
        .chain(NOT_IMPLEMENTED.iter().map(|(k, _)| *k));
    let nearest = known
        .map(|k| (edit_distance(key, k), k))
        .min()
        .filter(|&(d, _)| d <= 3.max(key.len() / 4));
    match nearest {
        Some((_, k)) => format!(
            "unknown directive '{key}'; did you mean {k}? (smoltracker.conf(5) lists them; smoltracker -t checks a config)"
        ),
        None => format!(
            "unknown directive '{key}' (smoltracker.conf(5) lists them; smoltracker -t checks a config)"
        ),
    }
}

/// Levenshtein distance between two (short) ASCII-ish strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// What a directive sets, and how its value is read.
#[derive(Clone, Copy)]
enum Directive {
    /// An address for the TCP and/or the UDP list.
    Listen {
        tcp: bool,
        udp: bool,
    },
    /// `listen.udp.workers`: checked, then ignored.
    Workers,
    /// A non-empty string.
    Text(fn(&mut Config) -> &mut Option<String>),
    /// A non-empty path.
    Path(fn(&mut Config) -> &mut Option<PathBuf>),
    /// A whole number from the first bound to the second.
    Number(fn(&mut Config, usize), u32, u32),
    /// A size (`512K`, `8M`); with `true`, `0` is accepted too.
    Size(fn(&mut Config, usize), bool),
    /// An address or network for a list.
    Network(fn(&mut Config) -> &mut Vec<Network>),
    StatsPath,
    Fullscrape,
    StatsPublic,
}

impl Directive {
    /// Whether the directive adds to a list (and so may appear many times).
    fn repeats(self) -> bool {
        matches!(
            self,
            Directive::Listen { .. } | Directive::Network(_) | Directive::StatsPublic
        )
    }
}

/// Every directive, looked up in a table rather than a `match` on strings:
/// one comparison loop and one copy of each kind of value's parsing.
const DIRECTIVES: &[(&str, Directive)] = {
    use Directive::*;
    const PEERS: u32 = crate::swarm::MAX_PEERS_LIMIT;
    &[
        (
            "listen.tcp",
            Listen {
                tcp: true,
                udp: false,
            },
        ),
        (
            "listen.udp",
            Listen {
                tcp: false,
                udp: true,
            },
        ),
        (
            "listen.tcp_udp",
            Listen {
                tcp: true,
                udp: true,
            },
        ),
        ("listen.udp.workers", Workers),
        ("tracker.redirect_url", Text(|c| &mut c.redirect_url)),
        ("tracker.rootdir", Path(|c| &mut c.rootdir)),
        ("tracker.user", Text(|c| &mut c.user)),
        ("tracker.max_memory", Size(|c, n| c.max_memory = n, false)),
        (
            "tracker.max_torrents",
            Number(|c, n| c.max_torrents = Some(n), 1, 1 << 26),
        ),
        (
            "tracker.max_peers_per_torrent",
            Number(|c, n| c.max_peers_per_torrent = n as u32, 1, PEERS),
        ),
        (
            "tracker.announce_interval",
            Number(|c, n| c.announce_interval = n as u32, 10, 86_400),
        ),
        (
            "tracker.peer_timeout",
            Number(
                |c, n| c.peer_timeout = n as u32,
                10,
                crate::swarm::MAX_PEER_TIMEOUT,
            ),
        ),
        (
            "tracker.max_connections",
            Number(|c, n| c.max_connections = n, 1, 1 << 20),
        ),
        (
            "tracker.max_peers_per_address",
            Number(|c, n| c.policy.max_peers_per_address = n as u32, 1, PEERS),
        ),
        (
            "tracker.new_torrents_per_minute",
            Number(
                |c, n| c.policy.new_torrents_per_minute = n as u32,
                0,
                1 << 24,
            ),
        ),
        (
            "tracker.new_torrents_burst",
            Number(|c, n| c.policy.new_torrents_burst = n as u32, 1, 1 << 24),
        ),
        (
            "tracker.numwant_default",
            Number(|c, n| c.numwant_default = n as u32, 0, 200),
        ),
        (
            "tracker.numwant_max",
            Number(|c, n| c.numwant_max = n as u32, 0, 200),
        ),
        ("tracker.state_file", Path(|c| &mut c.state_file)),
        (
            "tracker.state_interval",
            Number(|c, n| c.state_interval = n as u32, 1, 1 << 30),
        ),
        ("access.whitelist", Path(|c| &mut c.access.whitelist)),
        ("access.blacklist", Path(|c| &mut c.access.blacklist)),
        ("access.stats", Network(|c| &mut c.access.stats)),
        ("access.proxy", Network(|c| &mut c.access.proxies)),
        ("access.stats_path", StatsPath),
        ("access.fullscrape", Fullscrape),
        ("access.stats_public", StatsPublic),
        (
            "tracker.label_memory",
            Size(|c, n| c.label_memory = Some(n), true),
        ),
        (
            "access.reload_interval",
            Number(|c, n| c.access.reload_interval = n as u32, 0, 86_400),
        ),
        ("access.fifo_add", Path(|c| &mut c.access.fifo_add)),
        ("access.fifo_delete", Path(|c| &mut c.access.fifo_delete)),
    ]
};

/// Applies one directive. `Ok(Some(warning))` for directives that are
/// accepted but ignored.
fn apply(cfg: &mut Config, key: &str, value: &str) -> Result<Option<String>, String> {
    let need = || {
        if value.is_empty() {
            Err(format!("{key} needs a value"))
        } else {
            Ok(value.to_string())
        }
    };
    let Some(&(_, directive)) = DIRECTIVES.iter().find(|(k, _)| *k == key) else {
        return Err(unknown(key));
    };
    match directive {
        Directive::Listen { tcp, udp } => {
            let a = listen_addr(key, value)?;
            if tcp {
                cfg.tcp.push(a);
            }
            if udp {
                cfg.udp.push(a);
            }
        }
        Directive::Workers => {
            number(key, value, 1, 1024)?;
            return Ok(Some(format!(
                "{key}: one event loop serves all sockets; ignored"
            )));
        }
        Directive::Text(field) => *field(cfg) = Some(need()?),
        Directive::Path(field) => *field(cfg) = Some(need()?.into()),
        Directive::Number(set, min, max) => set(cfg, number(key, value, min.into(), max.into())?),
        Directive::Size(set, zero) => set(
            cfg,
            match value {
                "0" if zero => 0,
                _ => size(key, value)?,
            },
        ),
        Directive::Network(list) => {
            let net = network(key, value)?;
            list(cfg).push(net);
        }
        Directive::StatsPath => {
            let v = need()?;
            cfg.access.stats_path = if v.starts_with('/') {
                v
            } else {
                format!("/{v}")
            };
        }
        Directive::Fullscrape => cfg.access.fullscrape = boolean(key, value)?,
        Directive::StatsPublic => {
            for mode in need()?.split_whitespace() {
                let known = mode.bytes().all(|b| b.is_ascii_alphanumeric())
                    && crate::wire::stats_query::Page::parse(format!("mode={mode}").as_bytes())
                        .is_some();
                if !known {
                    return Err(format!(
                        "{key}: '{mode}' is not a stats mode (e.g. html, json, peer, prom)"
                    ));
                }
                cfg.access.stats_public.push(mode.to_string());
            }
        }
    }
    Ok(None)
}

fn number(key: &str, value: &str, min: u64, max: u64) -> Result<usize, String> {
    let err = || format!("{key}: expected a whole number from {min} to {max}, got '{value}'");
    let n: u64 = value.parse().map_err(|_| err())?;
    if n < min || n > max {
        return Err(err());
    }
    usize::try_from(n).map_err(|_| err())
}

fn size(key: &str, value: &str) -> Result<usize, String> {
    let err = || format!("{key}: expected a size such as 65536, 512K, 8M or 1G, got '{value}'");
    let v = value.trim_end_matches(['B', 'b']);
    let (digits, shift) = match v.char_indices().last() {
        Some((i, 'k' | 'K')) => (&v[..i], 10),
        Some((i, 'm' | 'M')) => (&v[..i], 20),
        Some((i, 'g' | 'G')) => (&v[..i], 30),
        _ => (v, 0),
    };
    let n: usize = digits.trim().parse().map_err(|_| err())?;
    let bytes = n.checked_mul(1usize << shift).ok_or_else(err)?;
    if bytes < 64 << 10 {
        return Err(format!("{key}: at least 64K is needed, got '{value}'"));
    }
    Ok(bytes)
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "yes" | "on" | "true" => Ok(true),
        "0" | "no" | "off" | "false" => Ok(false),
        _ => Err(format!("{key}: expected yes or no, got '{value}'")),
    }
}

/// An address or a CIDR network (`a.b.c.d/n`, `v6/n`).
pub(super) fn network(key: &str, value: &str) -> Result<Network, String> {
    value.parse().map_err(|_| {
        format!(
            "{key}: expected an IP address or network such as 192.0.2.1, 173.245.48.0/20 or 2400:cb00::/32, got '{value}'"
        )
    })
}

/// `ip`, `ip:port`, `[v6]:port` or a bare IPv6 address; port 6969 by default.
pub fn listen_addr(key: &str, value: &str) -> Result<SocketAddr, String> {
    let err = || format!("{key}: expected ip, ip:port or [ipv6]:port, got '{value}'");
    if let Ok(a) = value.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = value
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    Err(err())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
        let mut p = Parser::default();
        p.parse_file(text, Path::new("ot.conf"))?;
        Ok(p.finish())
    }

    #[test]
    fn an_unknown_directive_stops_with_the_nearest_known_one() {
        let e = Parser::default()
            .parse_file(
                "listen.tcp_udp 0.0.0.0:6969\nacess.whitelist /data/wl\n",
                Path::new("typo.conf"),
            )
            .err()
            .unwrap();
        assert!(
            e.0.starts_with(
                "typo.conf:2: unknown directive 'acess.whitelist'; did you mean access.whitelist?"
            ),
            "{e}"
        );
        for (typo, nearest) in [
            ("tracker.max_memroy", "tracker.max_memory"),
            ("listen.tcpudp", "listen.tcp_udp"),
            ("access.whitelst", "access.whitelist"),
            ("livesync.cluster.lisen", "livesync.cluster.listen"),
            ("tracker.peer_timeuot", "tracker.peer_timeout"),
        ] {
            let e = parse(&format!("{typo} 1\n")).err().unwrap();
            assert!(e.0.contains(&format!("did you mean {nearest}?")), "{e}");
        }
        let e = parse("frobnicate yes\n").err().unwrap();
        assert!(
            e.0.starts_with("ot.conf:1: unknown directive 'frobnicate' (smoltracker.conf(5)"),
            "nothing near: no guess: {e}"
        );
        // Every known directive is its own nearest.
        for (k, _) in DIRECTIVES {
            assert_eq!(edit_distance(k, k), 0);
        }
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_once_only_directive_given_twice_names_both_lines() {
        let e = parse("access.whitelist /a\n# x\naccess.whitelist /b\n")
            .err()
            .unwrap();
        assert_eq!(
            e.0,
            "ot.conf:3: access.whitelist is already set at ot.conf:1; it may appear once (remove one of the two lines)"
        );
        let e = parse("tracker.max_memory 8M\ntracker.max_memory 16M\n")
            .err()
            .unwrap();
        assert!(e
            .0
            .starts_with("ot.conf:2: tracker.max_memory is already set at ot.conf:1"));
        // Lists may repeat.
        let (c, _) = parse("listen.tcp 127.0.0.1:1\nlisten.tcp 127.0.0.1:2\naccess.stats 10.0.0.1\naccess.stats 10.0.0.2\naccess.proxy ::1\naccess.proxy ::2\n").unwrap();
        assert_eq!(
            (c.tcp.len(), c.access.stats.len(), c.access.proxies.len()),
            (2, 2, 2)
        );
        // Across files too.
        let mut p = Parser::default();
        p.parse_file("tracker.user nobody\n", Path::new("a.conf"))
            .unwrap();
        let e = p
            .parse_file("\ntracker.user tracker\n", Path::new("b.conf"))
            .err()
            .unwrap();
        assert!(
            e.0.starts_with("b.conf:2: tracker.user is already set at a.conf:1"),
            "{e}"
        );
    }

    #[test]
    fn settings_resolve_in_any_order() {
        for text in [
            "tracker.peer_timeout 600\ntracker.announce_interval 1800\n",
            "tracker.announce_interval 1800\ntracker.peer_timeout 600\n",
        ] {
            let (c, _) = parse(text).unwrap();
            assert_eq!((c.announce_interval, c.peer_timeout), (1800, 600), "{text}");
        }
        // Unset, the timeout follows the interval, wherever it is set.
        let (c, _) = parse("tracker.announce_interval 600\n").unwrap();
        assert_eq!(c.peer_timeout, 900);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_directive() {
        let (c, w) = parse("\u{feff}tracker.max_memory 16M\n").unwrap();
        assert_eq!(c.max_memory, 16 << 20);
        assert!(w.is_empty());
    }

    #[test]
    fn config_file_directives() {
        let text = "# sample\n\
            listen.tcp_udp 127.0.0.1:7000\n\
            listen.tcp [::1]:7001\n\
            listen.udp ::1\n\
            tracker.max_memory 16M\n\
            tracker.announce_interval 600\n\
            access.stats 10.1.1.1\n\
            access.stats_path mystats\n\
            access.fullscrape yes\n\
            livesync.cluster.listen 10.0.0.1:9696\n\
            livesync.cluster.node_ip 10.0.0.2\n\
            access.fifo_add /run/ot/adder.fifo\n\
            access.fifo_delete /run/ot/deleter.fifo\n";
        let (c, w) = parse(text).unwrap();
        assert_eq!(
            c.tcp,
            vec![
                "127.0.0.1:7000".parse().unwrap(),
                "[::1]:7001".parse().unwrap()
            ]
        );
        assert_eq!(
            c.udp,
            vec![
                "127.0.0.1:7000".parse().unwrap(),
                "[::1]:6969".parse().unwrap()
            ]
        );
        assert_eq!(c.max_memory, 16 << 20);
        assert_eq!((c.announce_interval, c.peer_timeout), (600, 900));
        assert_eq!(c.access.stats_path, "/mystats");
        assert!(c.access.fullscrape);
        assert_eq!(c.access.fifo_add, Some("/run/ot/adder.fifo".into()));
        assert_eq!(c.access.fifo_delete, Some("/run/ot/deleter.fifo".into()));
        assert_eq!(w.len(), 2);
        assert!(
            w[0].starts_with("ot.conf:10: livesync.cluster.listen: livesync (opentracker's cluster sync) is not implemented; ignored"),
            "{}",
            w[0]
        );
        assert!(w[1].starts_with("ot.conf:11: livesync.cluster.node_ip"));
    }

    #[test]
    fn malformed_values_name_file_and_line() {
        for (text, expect) in [
            (
                "\n\ntracker.max_memory lots\n",
                "x.conf:3: tracker.max_memory: expected a size",
            ),
            (
                "listen.tcp 1.2.3.4:99999\n",
                "x.conf:1: listen.tcp: expected ip",
            ),
            (
                "tracker.numwant_max 500\n",
                "x.conf:1: tracker.numwant_max: expected a whole number from 0 to 200",
            ),
            (
                "access.stats nothost\n",
                "x.conf:1: access.stats: expected an IP address",
            ),
            ("tracker.user\n", "x.conf:1: tracker.user needs a value"),
            (
                "\naccess.proxy 173.245.48.0/33\n",
                "x.conf:2: access.proxy: expected an IP address or network",
            ),
            (
                "access.stats 2400:cb00::/\n",
                "x.conf:1: access.stats: expected an IP address or network",
            ),
            (
                "tracker.max_memory 1K\n",
                "x.conf:1: tracker.max_memory: at least 64K",
            ),
        ] {
            let err = Parser::default()
                .parse_file(text, Path::new("x.conf"))
                .err()
                .unwrap();
            assert!(err.0.starts_with(expect), "{} vs {}", err.0, expect);
        }
    }

    #[test]
    fn networks_wherever_an_address_is_accepted() {
        let text = "access.stats 192.168.0.23\n\
            access.stats 10.0.0.0/8\n\
            access.stats 2001:db8::/32\n\
            access.proxy 173.245.48.0/20\n\
            access.proxy 173.245.48.0/24\n\
            access.proxy 2400:cb00::/32\n\
            access.proxy ::1\n";
        let (c, w) = parse(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(c.access.stats.len(), 3);
        assert!(Network::any_contains(&c.access.stats, ip("10.200.1.1")));
        assert!(Network::any_contains(&c.access.stats, ip("2001:db8:5::1")));
        assert!(!Network::any_contains(&c.access.stats, ip("192.168.0.24")));
        assert_eq!(c.access.proxies.len(), 4, "overlapping entries are fine");
        assert!(Network::any_contains(&c.access.proxies, ip("173.245.63.1")));
        assert!(!Network::any_contains(
            &c.access.proxies,
            ip("173.245.64.1")
        ));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let Ok(super::super::Command::Run(c, _)) =
            super::super::from_args(&args(&["-A", "127.0.0.0/8", "-A", "::1", "-p", "1"]))
        else {
            panic!("-A networks refused")
        };
        assert!(Network::any_contains(&c.access.stats, ip("127.0.0.2")));
        assert!(Network::any_contains(&c.access.stats, ip("::1")));
        let err = super::super::from_args(&args(&["-A", "10.0.0.0/40"])).unwrap_err();
        assert!(
            err.0.starts_with("-A: expected an IP address or network"),
            "{err}"
        );
    }

    /// `getopt` against getopts 0.2 itself, over tricky command lines:
    /// the same values per option, the same order of `-i`/`-p`/`-P`, the
    #[test]
    fn sizes() {
        assert_eq!(size("k", "65536"), Ok(65536));
        assert_eq!(size("k", "512K"), Ok(512 << 10));
        assert_eq!(size("k", "8MB"), Ok(8 << 20));
        assert_eq!(size("k", "1g"), Ok(1 << 30));
        assert!(size("k", "99999999999999G").is_err());
    }
}
