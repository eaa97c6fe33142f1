//! Configuration: opentracker.conf directives plus opentracker's flags,
//! turned into one typed [`Config`]. Errors name the file and line.
//!
//! `cli.rs` splits the command line, `directives.rs` reads config files;
//! this file holds the result and puts the two together.

mod cli;
mod directives;

pub use cli::{HELP, USAGE_BRIEF};
pub use directives::listen_addr;

use crate::network::Network;
use cli::{getopt, CHECK_OPTION, HELP_OPTION, OPTIONS, VERSION_OPTION};
use directives::{network, Parser};
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
    /// `-l FILE`: an opentracker state dump whose completed counts are
    /// loaded at start-up.
    pub load_dump: Option<PathBuf>,
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
            load_dump: None,
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
    /// Run the tracker; warnings (directives accepted but not acted on)
    /// are for stderr.
    Run(Box<Config>, Vec<String>),
    /// `-t`: check everything a start would, print the settings, exit.
    Check(Box<Config>, Vec<String>),
    /// `-t` on a configuration that does not parse: say why, exit 2.
    CheckFailed(ConfigError),
    /// Print this and exit 0.
    Help(&'static str),
    /// Print the version and exit 0.
    Version,
}

/// Parses the command line (without the program name).
pub fn from_args(args: &[String]) -> Result<Command, ConfigError> {
    let (given, free) = getopt(args).map_err(|e| ConfigError(format!("{e} (see -h)")))?;
    let check = given.iter().any(|(g, _)| *g == CHECK_OPTION);
    match parse_args(&given, &free) {
        Err(e) if check => Ok(Command::CheckFailed(e)),
        result => result,
    }
}

fn parse_args(given: &cli::Given, free: &[String]) -> Result<Command, ConfigError> {
    let present = |id: usize| given.iter().any(|(g, _)| *g == id);
    if present(HELP_OPTION) {
        return Ok(Command::Help(HELP));
    }
    if present(VERSION_OPTION) || present(cli::SHORT_VERSION_OPTION) {
        return Ok(Command::Version);
    }
    if let Some(extra) = free.first() {
        return Err(ConfigError(format!(
            "unexpected argument '{extra}' (see -h)"
        )));
    }
    let mut parser = Parser::default();
    for (_, file) in given.iter().filter(|(g, _)| *g == 0) {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ConfigError(format!("{file}: cannot read config: {e}")))?;
        parser.parse_file(&text, Path::new(file))?;
    }
    let (mut cfg, mut warnings) = parser.finish();
    // -i applies to the -p/-P options after it: `given` is in command-line order.
    let mut ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    for (id, value) in given {
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
    for (id, value) in given {
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
            'l' => cfg.load_dump = Some(value.into()),
            's' => {
                let _: u16 = value
                    .parse()
                    .map_err(|_| ConfigError(format!("-s {value}: expected a port number")))?;
                warnings.push(format!(
                    "-s {value}: livesync (opentracker's cluster sync) is not implemented; ignored"
                ));
            }
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
    if present(CHECK_OPTION) {
        return Ok(Command::Check(Box::new(cfg), warnings));
    }
    Ok(Command::Run(Box::new(cfg), warnings))
}

/// Applies one config file's text over `base` (tests, tools).
pub fn parse_config(
    text: &str,
    file: &Path,
    base: Config,
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut p = Parser::over(base);
    p.parse_file(text, file)?;
    Ok(p.finish())
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
}
