//! Replays the fuzz corpus and crash reproducers through the fuzz targets'
//! bodies on stable Rust, so every input that ever found a bug (and the
//! committed seed corpus) stays a regression test of `cargo test`.
//!
//! Inputs, each at most `MAX_BYTES`: `fuzz/regressions/<target>/*`
//! (minimised crashes), the committed corpus `fuzz/corpus/<target>/seed/`
//! (hand-written valid requests and files) and `cmin/` (a minimised fuzzing
//! corpus), and at most `MAX_LOCAL` further files per target that a local
//! `fuzz/run.sh` left in `fuzz/corpus/<target>/` (all of them with
//! `FUZZ_REPLAY_ALL=1`), so a big local corpus cannot slow the suite.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

const MAX_BYTES: u64 = 64 << 10;
const MAX_LOCAL: usize = 300;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("http_head", targets::http_head),
    ("query", targets::query),
    ("udp", targets::udp),
    ("config", targets::config),
    ("whitelist", targets::whitelist),
    ("state", targets::state),
    ("swarm_ops", targets::swarm_ops),
];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

fn replay(name: &str, run: Target) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut regressions = Vec::new();
    files_under(&root.join("regressions").join(name), &mut regressions);
    let mut corpus = Vec::new();
    files_under(&root.join("corpus").join(name), &mut corpus);
    regressions.sort();
    let committed = |p: &PathBuf| {
        p.components()
            .any(|c| c.as_os_str() == "seed" || c.as_os_str() == "cmin")
    };
    let (mut corpus, mut local): (Vec<_>, Vec<_>) = corpus.into_iter().partition(committed);
    corpus.sort();
    local.sort();
    if std::env::var_os("FUZZ_REPLAY_ALL").is_none() {
        local.truncate(MAX_LOCAL);
    }
    corpus.extend(local);
    let mut n = 0;
    for path in regressions.iter().chain(&corpus) {
        let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_BYTES);
        if !small
            || path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{name}: {} fails", path.display());
        n += 1;
    }
    n
}

#[test]
fn corpus_and_regressions_replay_clean() {
    let mut total = 0;
    for (name, run) in TARGETS {
        let n = replay(name, run);
        eprintln!("fuzz_regressions: {name}: {n} inputs");
        total += n;
    }
    assert!(
        total > 0,
        "no fuzz inputs found under fuzz/corpus or fuzz/regressions"
    );
}

/// The swarm_ops inputs must reach the store's hard paths: refusals,
/// compaction (both modes), sweeps.
#[test]
fn swarm_ops_corpus_exercises_compaction_and_refusals() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/swarm_ops");
    let mut files = Vec::new();
    files_under(&root.join("seed"), &mut files);
    files_under(&root.join("cmin"), &mut files);
    let mut total = targets::OpsReport::default();
    let (mut tiny_compacted, mut roomy_compacted) = (0, 0);
    for path in &files {
        let r = targets::run_swarm_ops(&std::fs::read(path).unwrap());
        total.announces += r.announces;
        total.refused += r.refused;
        total.compactions += r.compactions;
        total.sweeps += r.sweeps;
        total.evicted += r.evicted;
        total.replaced_own += r.replaced_own;
        total.rate_refused += r.rate_refused;
        if r.compactions > 0 {
            if r.tiny {
                tiny_compacted += 1;
            } else {
                roomy_compacted += 1;
            }
        }
    }
    eprintln!(
        "swarm_ops corpus: {} inputs, {total:?}, compacting inputs: {tiny_compacted} tiny, {roomy_compacted} roomy",
        files.len()
    );
    assert!(total.refused > 0, "no input reaches a refusal");
    assert!(tiny_compacted > 0, "no tiny-table input compacts the arena");
    assert!(
        roomy_compacted > 0,
        "no exact-model input compacts the arena"
    );
    assert!(total.sweeps > 0);
    assert!(total.evicted > 0, "no input evicts a torrent");
    assert!(
        total.replaced_own > 0,
        "no input reaches the per-address cap"
    );
    assert!(
        total.rate_refused > 0,
        "no input reaches the per-network budget"
    );
}

#[test]
fn bencode_checker_accepts_and_rejects() {
    assert!(targets::is_bencode(b"d8:completei1e5:peers0:e", true));
    assert!(!targets::is_bencode(b"d5:peers0:8:completei1ee", true));
    assert!(targets::is_bencode(b"d5:peers0:8:completei1ee", false));
    assert!(!targets::is_bencode(b"i01e", false));
    assert!(!targets::is_bencode(b"5:abc", false));
    assert!(!targets::is_bencode(b"le0:", false));
}
