//! Where the log lines go: informational ones (start-up, reloads, stop) to
//! stdout, which procd logs as daemon.info; warnings and errors to stderr
//! (daemon.err). Under systemd, stderr lines carry the journal's `<4>` prefix.
mod common;
use common::*;
use std::process::Stdio;

#[test]
fn information_goes_to_stdout_and_problems_to_stderr() {
    let dir = scratch_dir("streams");
    let wl = dir.join("whitelist");
    std::fs::write(&wl, format!("{}\nnot a hash\n", hex(&[0xC1; 20]))).unwrap();
    let conf = dir.join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "listen.tcp_udp 127.0.0.1:0\nlivesync.cluster.listen 224.0.42.23:9696\naccess.whitelist {}\n",
            wl.display()
        ),
    )
    .unwrap();
    let mut t = Tracker::start_split(&["-f", conf.to_str().unwrap()]);
    let pid = t.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(t.wait(), Some(0));
    let infos = [
        "listening on tcp://127.0.0.1:",
        "whitelist mode: 1 releases from ",
        " (1 bad lines skipped)",
        "SIGTERM: stopping",
    ];
    let problems = [
        ":2: livesync.cluster.listen: livesync (opentracker's cluster sync) is not implemented; ignored",
        ":2: not a 40- or 64-hex info hash, skipped",
    ];
    // The process has exited; wait for both readers to reach the end.
    eventually(5, || {
        let (out, err) = (t.stdout_log(), t.stderr_log());
        infos.iter().all(|i| out.contains(i)) && problems.iter().all(|p| err.contains(p))
    });
    let (out, err) = (t.stdout_log(), t.stderr_log());
    for info in infos {
        assert!(out.contains(info), "{info:?} not on stdout:\n{out}");
        assert!(!err.contains(info), "{info:?} on stderr:\n{err}");
    }
    for problem in problems {
        assert!(err.contains(problem), "{problem:?} not on stderr:\n{err}");
        assert!(!out.contains(problem), "{problem:?} on stdout:\n{out}");
    }
    assert!(!err.contains("<4>"), "no journal here, no prefix:\n{err}");
}

/// Runs the tracker with stderr sent to a file and `JOURNAL_STREAM` set to
/// `stream(dev, ino)` of that file; returns what landed in it.
fn stderr_with_journal_stream(name: &str, stream: impl Fn(u64, u64) -> String) -> String {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch_dir(name);
    let path = dir.join("stderr");
    let file = std::fs::File::create(&path).unwrap();
    let meta = file.metadata().unwrap();
    let out = command()
        .args(["-i", "127.0.0.1", "-p", "0", "-x"])
        .env("JOURNAL_STREAM", stream(meta.dev(), meta.ino()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(2));
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn under_the_journal_stderr_lines_are_marked_as_warnings() {
    let err = stderr_with_journal_stream("journal", |dev, ino| format!("{dev}:{ino}"));
    assert!(err.starts_with("<4>smoltracker: "), "{err}");
    // The same variable naming another stream (stderr redirected away from the
    // journal): no prefix.
    let err = stderr_with_journal_stream("journal-other", |dev, ino| format!("{dev}:{}", ino + 1));
    assert!(err.starts_with("smoltracker: "), "{err}");
}
