//! The command line: opentracker's flags (`-f -i -p -P -A -w -b -d -u -r
//! -l -s -v`) plus `-t`, split the way getopts 0.2 splits them (a test holds
//! the two equal), without linking getopts into the binary.

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
    o.optopt(
        "l",
        "",
        "load completed counts from an opentracker state dump",
        "FILE",
    );
    o.optmulti(
        "s",
        "",
        "livesync port (not implemented: warned, ignored)",
        "PORT",
    );
    o.optflag(
        "t",
        "",
        "check the configuration and files as a start would, print the settings, exit",
    );
    o.optflag("v", "", "print the version");
    o.optflag("h", "help", "print this help");
    o.optflag("", "version", "print the version");
    o
}

/// First lines of the `-h` text.
pub const USAGE_BRIEF: &str =
    "Usage: smoltracker [-tv] [-f config] [-i ip] [-p tcpport] [-P udpport] [-A ip] \
     [-w whitelist] [-b blacklist] [-d dir] [-u user] [-r redirect-url] [-l statedump]\n\n\
     With no options it listens on 0.0.0.0:6969 and [::]:6969, TCP and UDP.";

/// The `-h` text: what getopts' `usage` makes of [`options`] and
/// [`USAGE_BRIEF`], written out so that the binary carries no usage
/// formatter (-3,392 B on mipsel). A test keeps the two equal.
pub const HELP: &str = r"Usage: smoltracker [-tv] [-f config] [-i ip] [-p tcpport] [-P udpport] [-A ip] [-w whitelist] [-b blacklist] [-d dir] [-u user] [-r redirect-url] [-l statedump]

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
    -l FILE             load completed counts from an opentracker state dump
    -s PORT             livesync port (not implemented: warned, ignored)
    -t                  check the configuration and files as a start would,
                        print the settings, exit
    -v                  print the version
    -h, --help          print this help
        --version       print the version
";

/// The command-line options: short name (`\0`: none), long name (empty:
/// none), whether it takes a value, whether it may be given more than once.
pub(super) const OPTIONS: [(char, &str, bool, bool); 16] = [
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
    ('l', "", true, false),
    ('s', "", true, true),
    ('t', "", false, false),
    ('v', "", false, false),
    ('h', "help", false, false),
    ('\0', "version", false, false),
];
/// `-t`, `-v`, `-h`/`--help` and `--version` in [`OPTIONS`].
pub(super) const CHECK_OPTION: usize = 12;
pub(super) const SHORT_VERSION_OPTION: usize = 13;
pub(super) const HELP_OPTION: usize = 14;
pub(super) const VERSION_OPTION: usize = 15;

/// The options given, in command-line order: index into [`OPTIONS`] and value.
pub(super) type Given = Vec<(usize, String)>;

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
pub(super) fn getopt(args: &[String]) -> Result<(Given, Vec<String>), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

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
            &["-tv", "-l", "dump", "-s", "9696", "-s9697"],
            &["-t", "-t"],
            &["-vt", "-f", "x"],
            &["-l"],
        ];
        let names = [
            "f", "i", "p", "P", "A", "w", "b", "d", "u", "r", "l", "s", "t", "v", "h", "version",
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
        let usage = options().usage(USAGE_BRIEF);
        assert_eq!(usage, HELP, "getopts prints:\n{usage}");
    }
}
