//! The man pages stay honest: docs/smoltracker.conf.5 documents exactly the
//! directives opentracker.conf shows, and every directive src/config/directives.rs
//! accepts; docs/smoltracker.1 documents every flag src/config/cli.rs accepts.
//! Plain text checks of the sources, no binary needed. (Lint:
//! tests/man/run.sh.)

use std::collections::BTreeSet;
use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sections opentracker's directives live in; a comment line such as
/// `# e.g. more` is prose, not a directive.
const SECTIONS: [&str; 4] = ["listen", "access", "tracker", "livesync"];

/// A directive name: `section.word[.word…]`, lower case and `_`.
fn directive_name(token: &str) -> bool {
    let Some((section, rest)) = token.split_once('.') else {
        return false;
    };
    SECTIONS.contains(&section)
        && !rest.is_empty()
        && !rest.starts_with('.')
        && !rest.ends_with('.')
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
}

/// Directives named in opentracker.conf, active or commented out: lines
/// matching `^#? ?[a-z_]+\.[a-z_.]+ ` whose first word is a directive name.
fn sample_directives(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let line = line.strip_prefix('#').unwrap_or(line);
        let line = line.strip_prefix(' ').unwrap_or(line);
        if let Some((token, _)) = line.split_once(' ') {
            if directive_name(token) {
                found.insert(token.to_string());
            }
        }
    }
    found
}

/// Directives with an entry of their own in the page: `.It Ic NAME ...`.
fn page_directives(page: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix(".It Ic ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            assert!(
                directive_name(name),
                "docs/smoltracker.conf.5: '.It Ic {name}' is not a directive name"
            );
            assert!(
                found.insert(name.to_string()),
                "docs/smoltracker.conf.5: {name} has two entries"
            );
        }
    }
    found
}

/// The first element of each `("name", …)` tuple in src/config/directives.rs's
/// `DIRECTIVES` table (rustfmt may put the name on the line after the `(`).
fn source_directives(source: &str) -> BTreeSet<String> {
    let start = source
        .find("const DIRECTIVES")
        .expect("src/config/directives.rs has no DIRECTIVES table");
    let table = &source[start..];
    let table = &table[..table.find("\n};").expect("end of DIRECTIVES")];
    let mut found = BTreeSet::new();
    for (i, _) in table.match_indices('(') {
        let after = table[i + 1..].trim_start();
        let Some(quoted) = after.strip_prefix('"') else {
            continue;
        };
        let name = &quoted[..quoted.find('"').expect("closing quote")];
        if quoted[name.len() + 1..].starts_with(',') {
            found.insert(name.to_string());
        }
    }
    assert!(
        found.len() >= 20,
        "only {} directives found in src/config/directives.rs's DIRECTIVES table: {found:?}",
        found.len()
    );
    found
}

fn missing(from: &BTreeSet<String>, wanted: &BTreeSet<String>) -> Vec<String> {
    wanted.difference(from).cloned().collect()
}

#[test]
fn conf_page_documents_the_directives_of_opentracker_conf() {
    let sample = sample_directives(&read("opentracker.conf"));
    let page = page_directives(&read("docs/smoltracker.conf.5"));
    assert!(sample.len() >= 20, "opentracker.conf: {sample:?}");
    let undocumented = missing(&page, &sample);
    let not_in_sample = missing(&sample, &page);
    assert!(
        undocumented.is_empty() && not_in_sample.is_empty(),
        "directives in opentracker.conf without an '.It Ic' entry in docs/smoltracker.conf.5: \
         {undocumented:?}; entries in docs/smoltracker.conf.5 that opentracker.conf does not \
         show: {not_in_sample:?}"
    );
}

#[test]
fn conf_page_documents_every_directive_config_rs_accepts() {
    let source = source_directives(&read("src/config/directives.rs"));
    let page = page_directives(&read("docs/smoltracker.conf.5"));
    let undocumented = missing(&page, &source);
    assert!(
        undocumented.is_empty(),
        "directives in src/config/directives.rs's DIRECTIVES without an '.It Ic' entry in \
         docs/smoltracker.conf.5: {undocumented:?}"
    );
}

/// Flags in src/config/cli.rs's `OPTIONS` table: `('f', "", …)`; `'\0'` has none.
fn source_flags(source: &str) -> BTreeSet<char> {
    let start = source
        .find("const OPTIONS")
        .expect("src/config/cli.rs has no OPTIONS table");
    let table = &source[start..];
    let table = &table[..table.find("];").expect("end of OPTIONS")];
    let mut found = BTreeSet::new();
    for (i, _) in table.match_indices("('") {
        let mut chars = table[i + 2..].chars();
        if let (Some(c), Some('\'')) = (chars.next(), chars.next()) {
            if c.is_ascii_alphanumeric() {
                found.insert(c);
            }
        }
    }
    assert!(found.len() >= 10, "OPTIONS flags: {found:?}");
    found
}

#[test]
fn command_page_documents_every_flag_config_rs_accepts() {
    let page = read("docs/smoltracker.1");
    let documented: BTreeSet<char> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".It Fl "))
        .filter_map(|rest| rest.chars().next())
        .collect();
    let undocumented: Vec<char> = source_flags(&read("src/config/cli.rs"))
        .difference(&documented)
        .copied()
        .collect();
    assert!(
        undocumented.is_empty(),
        "flags in src/config/cli.rs's OPTIONS without an '.It Fl' entry in docs/smoltracker.1: \
         {undocumented:?}"
    );
    assert!(
        page.contains(".Xr smoltracker.conf 5"),
        "docs/smoltracker.1 refers to smoltracker.conf(5)"
    );
}
