//! Configuration: opentracker.conf directives plus opentracker's flags,
//! turned into one typed [`Config`]. Errors name the file and line.

use crate::network::Network;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The port opentracker listens on by default.
pub const DEFAULT_PORT: u16 = 6969;

/// Everything the tracker needs to know at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// TCP (HTTP) addresses to listen on.
    pub tcp: Vec<SocketAddr>,
    /// UDP addresses to listen on.
    pub udp: Vec<SocketAddr>,
    /// Bytes the swarm tables may use.
    pub max_memory: usize,
    /// Torrent table size; derived from `max_memory` when unset.
    pub max_torrents: Option<usize>,
    /// Peers kept per torrent (and address family).
    pub max_peers_per_torrent: u32,
    /// Seconds clients are told to wait between announces.
    pub announce_interval: u32,
    /// Seconds after which a silent peer is forgotten.
    pub peer_timeout: u32,
    /// Simultaneous HTTP connections.
    pub max_connections: usize,
    /// Peers returned when the client does not say.
    pub numwant_default: u32,
    /// Most peers returned.
    pub numwant_max: u32,
    /// Where `GET /` redirects to.
    pub redirect_url: Option<String>,
    /// Directory to chroot (as root) or chdir into.
    pub rootdir: Option<PathBuf>,
    /// User to run as after binding, when started as root.
    pub user: Option<String>,
    /// Access lists, stats and proxies.
    pub access: Access,
    /// File keeping completed counts across restarts.
    pub state_file: Option<PathBuf>,
    /// Seconds between state file writes.
    pub state_interval: u32,
    /// Bytes of `max_memory` set aside for whitelist labels; `None`: a
    /// sixteenth with a whitelist, nothing without.
    pub label_memory: Option<usize>,
    /// Fairness: peers per address in a torrent, new torrents per network.
    pub policy: crate::swarm::Policy,
    /// The line that set `tracker.max_connections` (`file:line`), if any.
    pub max_connections_at: Option<String>,
}

/// `access.*` directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Only these info hashes are served.
    pub whitelist: Option<PathBuf>,
    /// These info hashes are refused.
    pub blacklist: Option<PathBuf>,
    /// Networks allowed to read stats (everyone when empty).
    pub stats: Vec<Network>,
    /// Path of the stats page.
    pub stats_path: String,
    /// Networks of proxies whose X-Forwarded-For / X-Real-IP is trusted.
    pub proxies: Vec<Network>,
    /// Whether `/scrape` without info_hash returns every torrent.
    pub fullscrape: bool,
    /// Seconds between access list mtime checks; 0 = only on SIGHUP.
    pub reload_interval: u32,
    /// Stats modes anyone may read even when `stats` restricts the rest.
    pub stats_public: Vec<String>,
    /// FIFO whose lines (info hashes) are added to the access list at once.
    pub fifo_add: Option<PathBuf>,
    /// FIFO whose lines (info hashes) are removed from the access list at once.
    pub fifo_delete: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tcp: Vec::new(),
            udp: Vec::new(),
            max_memory: 8 << 20,
            max_torrents: None,
            max_peers_per_torrent: 4096,
            announce_interval: 1800,
            peer_timeout: 2700,
            max_connections: 256,
            numwant_default: 50,
            numwant_max: 200,
            redirect_url: None,
            rootdir: None,
            user: None,
            access: Access {
                whitelist: None,
                blacklist: None,
                stats: Vec::new(),
                stats_path: "/stats".into(),
                proxies: Vec::new(),
                fullscrape: false,
                reload_interval: 0,
                stats_public: Vec::new(),
                fifo_add: None,
                fifo_delete: None,
            },
            state_file: None,
            state_interval: 3600,
            label_memory: None,
            policy: crate::swarm::Policy::default(),
            max_connections_at: None,
        }
    }
}

/// A configuration problem, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    /// Run the tracker; warnings (unknown directives) are for stderr.
    Run(Box<Config>, Vec<String>),
    /// Print this and exit 0.
    Help(&'static str),
    /// Print the version and exit 0.
    Version,
}

/// The options as getopts would declare them: the `-h` text and the
/// parser below are checked against it.
#[cfg(test)]
fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optmulti("f", "", "read configuration from FILE", "FILE");
    o.optmulti(
        "i",
        "",
        "IP for the -p/-P options that follow (default 0.0.0.0)",
        "IP",
    );
    o.optmulti("p", "", "listen for HTTP on PORT (at the -i IP)", "PORT");
    o.optmulti("P", "", "listen for UDP on PORT (at the -i IP)", "PORT");
    o.optmulti(
        "A",
        "",
        "allow IP or NETWORK (a.b.c.d/n, v6/n) to read /stats",
        "IP",
    );
    o.optopt(
        "w",
        "",
        "serve only the info hashes in FILE (whitelist)",
        "FILE",
    );
    o.optopt(
        "b",
        "",
        "refuse the info hashes in FILE (blacklist)",
        "FILE",
    );
    o.optopt("d", "", "chroot (as root) or chdir into DIR", "DIR");
    o.optopt(
        "u",
        "",
        "run as USER after binding (as root; default nobody)",
        "USER",
    );
    o.optopt("r", "", "redirect GET / to URL", "URL");
    o.optflag("h", "help", "print this help");
    o.optflag("", "version", "print the version");
    o
}

/// First lines of the `-h` text.
pub const USAGE_BRIEF: &str =
    "Usage: smoltracker [-f config] [-i ip] [-p tcpport] [-P udpport] [-A ip] \
     [-w whitelist] [-b blacklist] [-d dir] [-u user] [-r redirect-url]\n\n\
     With no options it listens on 0.0.0.0:6969 and [::]:6969, TCP and UDP.";

/// The `-h` text: what getopts' `usage` makes of [`options`] and
/// [`USAGE_BRIEF`], written out so that the binary carries no usage
/// formatter (-3,392 B on mipsel). A test keeps the two equal.
pub const HELP: &str = r"Usage: smoltracker [-f config] [-i ip] [-p tcpport] [-P udpport] [-A ip] [-w whitelist] [-b blacklist] [-d dir] [-u user] [-r redirect-url]

With no options it listens on 0.0.0.0:6969 and [::]:6969, TCP and UDP.

Options:
    -f FILE             read configuration from FILE
    -i IP               IP for the -p/-P options that follow (default 0.0.0.0)
    -p PORT             listen for HTTP on PORT (at the -i IP)
    -P PORT             listen for UDP on PORT (at the -i IP)
    -A IP               allow IP or NETWORK (a.b.c.d/n, v6/n) to read /stats
    -w FILE             serve only the info hashes in FILE (whitelist)
    -b FILE             refuse the info hashes in FILE (blacklist)
    -d DIR              chroot (as root) or chdir into DIR
    -u USER             run as USER after binding (as root; default nobody)
    -r URL              redirect GET / to URL
    -h, --help          print this help
        --version       print the version
";

/// The command-line options: short name (`\0`: none), long name (empty:
/// none), whether it takes a value, whether it may be given more than once.
const OPTIONS: [(char, &str, bool, bool); 12] = [
    ('f', "", true, true),
    ('i', "", true, true),
    ('p', "", true, true),
    ('P', "", true, true),
    ('A', "", true, true),
    ('w', "", true, false),
    ('b', "", true, false),
    ('d', "", true, false),
    ('u', "", true, false),
    ('r', "", true, false),
    ('h', "help", false, false),
    ('\0', "version", false, false),
];
/// `-h`/`--help` and `--version` in [`OPTIONS`].
const HELP_OPTION: usize = 10;
const VERSION_OPTION: usize = 11;

/// The options given, in command-line order: index into [`OPTIONS`] and value.
type Given = Vec<(usize, String)>;

/// The index of option `-name` (one byte) or `--name`, as getopts finds it.
fn option(name: &str) -> Result<usize, String> {
    OPTIONS
        .iter()
        .position(|&(short, long, _, _)| match name.len() {
            1 => name.starts_with(short),
            _ => !long.is_empty() && name == long,
        })
        .ok_or_else(|| format!("Unrecognized option: '{name}'"))
}

/// Splits the command line the way getopts 0.2 does for [`OPTIONS`]:
/// `-abc` clusters, `-pVALUE`, `--name=value`, `--` ending the options,
/// arguments that are no option kept apart; with getopts' error texts.
fn getopt(args: &[String]) -> Result<(Given, Vec<String>), String> {
    let mut given: Given = Vec::new();
    let mut free = Vec::new();
    let mut args = args.iter();
    while let Some(cur) = args.next() {
        if cur.len() < 2 || !cur.starts_with('-') {
            free.push(cur.clone());
            continue;
        }
        if cur == "--" {
            free.extend(args.cloned());
            break;
        }
        // The option that takes a value (or a long flag), and a value
        // written into the same argument.
        let (name, id, inline) = if let Some(tail) = cur.strip_prefix("--") {
            let (name, inline) = match tail.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (tail, None),
            };
            (name, option(name)?, inline)
        } else {
            let mut found = None;
            for (j, ch) in cur.char_indices().skip(1) {
                let name = &cur[j..j + ch.len_utf8()];
                let id = option(name)?;
                if OPTIONS[id].2 {
                    let rest = &cur[j + ch.len_utf8()..];
                    found = Some((name, id, (!rest.is_empty()).then_some(rest)));
                    break;
                }
                given.push((id, String::new()));
            }
            let Some(found) = found else { continue };
            found
        };
        let value = match (OPTIONS[id].2, inline) {
            (false, None) => String::new(),
            (false, Some(_)) => return Err(format!("Option '{name}' does not take an argument")),
            (true, Some(v)) => v.to_string(),
            (true, None) => match args.next() {
                Some(v) => v.clone(),
                None => return Err(format!("Argument to option '{name}' missing")),
            },
        };
        given.push((id, value));
    }
    for (id, &(short, long, _, multi)) in OPTIONS.iter().enumerate() {
        if !multi && given.iter().filter(|(g, _)| *g == id).count() > 1 {
            let name = if long.is_empty() {
                short.to_string()
            } else {
                long.to_string()
            };
            return Err(format!("Option '{name}' given more than once"));
        }
    }
    Ok((given, free))
}

/// Parses the command line (without the program name).
pub fn from_args(args: &[String]) -> Result<Command, ConfigError> {
    let (given, free) = getopt(args).map_err(|e| ConfigError(format!("{e} (see -h)")))?;
    let present = |id: usize| given.iter().any(|(g, _)| *g == id);
    if present(HELP_OPTION) {
        return Ok(Command::Help(HELP));
    }
    if present(VERSION_OPTION) {
        return Ok(Command::Version);
    }
    if let Some(extra) = free.first() {
        return Err(ConfigError(format!(
            "unexpected argument '{extra}' (see -h)"
        )));
    }
    let mut cfg = Config::default();
    let mut warnings = Vec::new();
    for (_, file) in given.iter().filter(|(g, _)| *g == 0) {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ConfigError(format!("{file}: cannot read config: {e}")))?;
        parse_file(&text, Path::new(file), &mut cfg, &mut warnings)?;
    }
    // -i applies to the -p/-P options after it: `given` is in command-line order.
    let mut ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    for (id, value) in &given {
        let flag = OPTIONS[*id].0;
        let bad = |what: &str| ConfigError(format!("-{flag} {value}: expected {what}"));
        match flag {
            'i' => ip = value.parse().map_err(|_| bad("an IP address"))?,
            'p' | 'P' => {
                let port: u16 = value.parse().map_err(|_| bad("a port number"))?;
                let list = if flag == 'p' {
                    &mut cfg.tcp
                } else {
                    &mut cfg.udp
                };
                list.push(SocketAddr::new(ip, port));
            }
            _ => {}
        }
    }
    // The rest after the listen options (their errors come first).
    for (id, value) in &given {
        match OPTIONS[*id].0 {
            'A' => cfg
                .access
                .stats
                .push(network("-A", value).map_err(ConfigError)?),
            'w' => cfg.access.whitelist = Some(value.into()),
            'b' => cfg.access.blacklist = Some(value.into()),
            'd' => cfg.rootdir = Some(value.into()),
            'u' => cfg.user = Some(value.clone()),
            'r' => cfg.redirect_url = Some(value.clone()),
            _ => {}
        }
    }
    if cfg.tcp.is_empty() && cfg.udp.is_empty() {
        let any4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT);
        let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), DEFAULT_PORT);
        cfg.tcp = vec![any4, any6];
        cfg.udp = vec![any4, any6];
    }
    validate(&cfg)?;
    Ok(Command::Run(Box::new(cfg), warnings))
}

fn validate(cfg: &Config) -> Result<(), ConfigError> {
    if cfg.access.whitelist.is_some() && cfg.access.blacklist.is_some() {
        return Err(ConfigError(
            "a whitelist and a blacklist cannot be used together".into(),
        ));
    }
    if cfg.access.fifo_add.is_some() && cfg.access.fifo_add == cfg.access.fifo_delete {
        return Err(ConfigError(
            "access.fifo_add and access.fifo_delete must be different files".into(),
        ));
    }
    Ok(())
}

/// Applies the directives of one config file to `cfg`. Unknown directives
/// become warnings; malformed values are errors naming `file:line`.
pub fn parse_file(
    text: &str,
    file: &Path,
    cfg: &mut Config,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        let at = |msg: String| ConfigError(format!("{}:{}: {}", file.display(), n + 1, msg));
        if key == "tracker.max_connections" {
            cfg.max_connections_at = Some(format!("{}:{}", file.display(), n + 1));
        }
        if let Some(w) = apply(cfg, key, value).map_err(at)? {
            warnings.push(format!("{}:{}: {}", file.display(), n + 1, w));
        }
    }
    Ok(())
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
            Number(
                |c, n| {
                    c.announce_interval = n as u32;
                    c.peer_timeout = c.announce_interval + c.announce_interval / 2;
                },
                10,
                86_400,
            ),
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
        if key.starts_with("livesync.") {
            return Ok(Some(format!("{key}: livesync is not supported; ignored")));
        }
        return Ok(Some(format!("unknown directive '{key}' ignored")));
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
                    && crate::stats::Page::parse(format!("mode={mode}").as_bytes()).is_some();
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
fn network(key: &str, value: &str) -> Result<Network, String> {
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

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn run(a: &[&str]) -> Config {
        match from_args(&args(a)) {
            Ok(Command::Run(c, _)) => *c,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn no_arguments_listen_everywhere_on_6969() {
        let c = run(&[]);
        let v4: SocketAddr = "0.0.0.0:6969".parse().unwrap();
        let v6: SocketAddr = "[::]:6969".parse().unwrap();
        assert_eq!(c.tcp, vec![v4, v6]);
        assert_eq!(c.udp, vec![v4, v6]);
        assert_eq!(c.max_memory, 8 << 20);
        assert_eq!(c.peer_timeout, 2700);
    }

    #[test]
    fn ip_applies_to_the_ports_after_it() {
        let c = run(&[
            "-p",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            "2",
            "-P",
            "3",
            "-i",
            "::1",
            "-P",
            "4",
        ]);
        assert_eq!(
            c.tcp,
            vec!["0.0.0.0:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap()]
        );
        assert_eq!(
            c.udp,
            vec!["127.0.0.1:3".parse().unwrap(), "[::1]:4".parse().unwrap()]
        );
    }

    #[test]
    fn flags_map_to_settings() {
        let c = run(&[
            "-A",
            "10.0.0.1",
            "-w",
            "/wl",
            "-d",
            "/var/x",
            "-u",
            "tracker",
            "-r",
            "http://e/",
            "-p",
            "80",
        ]);
        assert_eq!(c.access.stats, vec!["10.0.0.1".parse::<Network>().unwrap()]);
        assert_eq!(c.access.whitelist, Some("/wl".into()));
        assert_eq!(c.rootdir, Some("/var/x".into()));
        assert_eq!(c.user.as_deref(), Some("tracker"));
        assert_eq!(c.redirect_url.as_deref(), Some("http://e/"));
        assert!(c.udp.is_empty(), "explicit listens replace the defaults");
        assert!(matches!(from_args(&args(&["-h"])), Ok(Command::Help(_))));
        assert!(matches!(
            from_args(&args(&["--version"])),
            Ok(Command::Version)
        ));
        assert!(from_args(&args(&["-x"])).is_err());
        assert!(from_args(&args(&["-p", "port"])).is_err());
        assert!(from_args(&args(&["-w", "a", "-b", "b"])).is_err());
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
            bogus.directive 1\n\
            access.fifo_add /run/ot/adder.fifo\n\
            access.fifo_delete /run/ot/deleter.fifo\n";
        let mut c = Config::default();
        let mut w = Vec::new();
        parse_file(text, Path::new("ot.conf"), &mut c, &mut w).unwrap();
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
        assert!(w[0].starts_with("ot.conf:10: livesync"), "{}", w[0]);
        assert!(w[1].starts_with("ot.conf:11: unknown directive 'bogus.directive'"));
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
            let err = parse_file(
                text,
                Path::new("x.conf"),
                &mut Config::default(),
                &mut Vec::new(),
            )
            .unwrap_err();
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
        let mut c = Config::default();
        let mut w = Vec::new();
        parse_file(text, Path::new("ot.conf"), &mut c, &mut w).unwrap();
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
        let c = run(&["-A", "127.0.0.0/8", "-A", "::1", "-p", "1"]);
        assert!(Network::any_contains(&c.access.stats, ip("127.0.0.2")));
        assert!(Network::any_contains(&c.access.stats, ip("::1")));
        let err = from_args(&args(&["-A", "10.0.0.0/40"])).unwrap_err();
        assert!(
            err.0.starts_with("-A: expected an IP address or network"),
            "{err}"
        );
    }

    /// `getopt` against getopts 0.2 itself, over tricky command lines:
    /// the same values per option, the same order of `-i`/`-p`/`-P`, the
    /// same arguments left over, the same error texts.
    #[test]
    fn command_line_splits_as_getopts_does() {
        let lines: &[&[&str]] = &[
            &[],
            &[
                "-p",
                "80",
                "-i",
                "::1",
                "-P",
                "81",
                "-p82",
                "-i1.2.3.4",
                "-P",
                "83",
            ],
            &["-hp80"],
            &["-ph"],
            &["-h", "-h"],
            &["--help", "--h"],
            &["--version"],
            &["--version", "--version"],
            &["--version=1"],
            &["--help=x"],
            &["--h=x"],
            &["--p=80", "--P", "81"],
            &["--p"],
            &["-p"],
            &["-hp"],
            &["-x"],
            &["-hx"],
            &["-\u{e9}"],
            &["--\u{e9}"],
            &["--=x"],
            &["--"],
            &["--", "-h", "x"],
            &["-", "-p", "1"],
            &["free", "-p", "1", "more"],
            &["-w", "a", "-w", "b"],
            &[
                "-w",
                "a",
                "-b",
                "b",
                "-d",
                "d",
                "-u",
                "u",
                "-r",
                "r",
                "-A",
                "10.0.0.0/8",
            ],
            &["-f", "-h"],
            &["-fconf", "-f", "other", "-A1.2.3.4", "-A", "::1"],
            &["-u", "a", "-u", "b", "-d", "x", "-d", "y"],
            &["--foo"],
            &["--foo=bar"],
            &["-version"],
            &["-i", "x", "-p"],
            &["---"],
        ];
        let names = [
            "f", "i", "p", "P", "A", "w", "b", "d", "u", "r", "h", "version",
        ];
        for line in lines {
            let a = args(line);
            let ours = getopt(&a);
            let theirs = options().parse(&a);
            match (&ours, &theirs) {
                (Ok((given, free)), Ok(m)) => {
                    assert_eq!(free, &m.free, "{line:?}");
                    for (id, name) in names.iter().enumerate() {
                        let mine: Vec<&String> = given
                            .iter()
                            .filter(|(g, _)| *g == id)
                            .map(|(_, v)| v)
                            .collect();
                        assert_eq!(mine.len(), m.opt_count(name), "{line:?} {name}");
                        if OPTIONS[id].2 {
                            let vals = m.opt_strs(name);
                            assert_eq!(mine, vals.iter().collect::<Vec<_>>(), "{line:?}");
                        }
                    }
                    let mut order: Vec<(usize, String)> = ["i", "p", "P"]
                        .iter()
                        .flat_map(|n| {
                            m.opt_strs_pos(n)
                                .into_iter()
                                .map(move |(p, v)| (p, format!("{n}{v}")))
                        })
                        .collect();
                    order.sort();
                    let mine: Vec<String> = given
                        .iter()
                        .filter(|(g, _)| (1..=3).contains(g))
                        .map(|(g, v)| format!("{}{v}", OPTIONS[*g].0))
                        .collect();
                    assert_eq!(mine, order.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
                }
                (Err(e), Err(f)) => assert_eq!(e, &f.to_string(), "{line:?}"),
                _ => panic!("{line:?}: ours {ours:?}, getopts {:?}", theirs.map(|_| ())),
            }
        }
    }

    #[test]
    fn help_text_is_what_getopts_would_print() {
        assert_eq!(options().usage(USAGE_BRIEF), HELP);
    }

    #[test]
    fn sizes() {
        assert_eq!(size("k", "65536"), Ok(65536));
        assert_eq!(size("k", "512K"), Ok(512 << 10));
        assert_eq!(size("k", "8MB"), Ok(8 << 20));
        assert_eq!(size("k", "1g"), Ok(1 << 30));
        assert!(size("k", "99999999999999G").is_err());
    }
}
