//! The README stays a user's page (issue 28): short, and every relative link
//! in it and in docs/*.md points at a file that exists in the repository.
//! Plain text checks, no binary needed.

use std::path::{Path, PathBuf};

const MAX_README_LINES: usize = 260;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Targets of `[text](target)` and `![alt](target)` outside fenced code
/// blocks, with their line numbers.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push((n + 1, after[..end].trim().to_string()));
            rest = &after[end..];
        }
    }
    targets
}

/// A target that names a file in the repository: not a URL, not a bare
/// `#anchor`; the anchor and any query are dropped.
fn local_path(target: &str) -> Option<&str> {
    if target.is_empty()
        || target.starts_with('#')
        || target.contains("://")
        || target.starts_with("mailto:")
    {
        return None;
    }
    let path = target.split(['#', '?']).next().unwrap_or("");
    (!path.is_empty()).then_some(path)
}

fn markdown_pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

#[test]
fn readme_is_at_most_260_lines() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= MAX_README_LINES,
        "README.md has {lines} lines; at most {MAX_README_LINES}: move reference and lab notes to docs/, bench/ or cross/"
    );
}

#[test]
fn relative_links_in_readme_and_docs_point_at_existing_files() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in markdown_pages() {
        let dir = page.parent().expect("a page's directory");
        for (line, target) in link_targets(&read(&page)) {
            let Some(path) = local_path(&target) else {
                continue;
            };
            checked += 1;
            if !dir.join(path).exists() {
                broken.push(format!(
                    "{}:{line}: {target}",
                    page.strip_prefix(root()).unwrap_or(&page).display()
                ));
            }
        }
    }
    assert!(
        checked > 0,
        "no relative links found: is the link parser broken?"
    );
    assert!(
        broken.is_empty(),
        "links to missing files:\n{}",
        broken.join("\n")
    );
}

#[test]
fn link_parser_finds_relative_links_and_skips_urls_and_code() {
    let text = "see [a](docs/a.md#x) and ![b](b.png), [c](https://x.org/) [d](#top)\n\
                ```\n[e](not/a/link.md)\n```\n";
    let targets: Vec<String> = link_targets(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["docs/a.md#x", "b.png", "https://x.org/", "#top"]);
    let local: Vec<&str> = targets.iter().filter_map(|t| local_path(t)).collect();
    assert_eq!(local, ["docs/a.md", "b.png"]);
}
