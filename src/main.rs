//! `smoltracker`: parse the command line, bind, drop privileges, read the
//! access list and state file, serve. Exit status: 0 after a clean stop, 2
//! for anything the operator must fix in the configuration or its files, 1
//! for failures of the system (a port taken, a signal handler refused).

use smoltracker::config::{self, Command};
use smoltracker::server::{self, privileges, signals, startup, warn};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cfg, warnings, check) = match config::from_args(&args) {
        Ok(Command::Run(cfg, warnings)) => (cfg, warnings, false),
        Ok(Command::Check(cfg, warnings)) => (cfg, warnings, true),
        Ok(Command::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("smoltracker {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::CheckFailed(e)) => {
            warn(e);
            warn("-t: configuration FAILED");
            return ExitCode::from(2);
        }
        Err(e) => {
            warn(e);
            return ExitCode::from(2);
        }
    };
    for w in warnings {
        warn(format_args!("warning: {w}"));
    }
    if check {
        return match startup::check(&cfg) {
            Ok(settings) => {
                print!("{settings}");
                println!("smoltracker -t: configuration OK");
                ExitCode::SUCCESS
            }
            Err(e) => {
                warn(e);
                warn("-t: configuration FAILED");
                ExitCode::from(2)
            }
        };
    }
    let signals = match signals::install() {
        Ok(s) => s,
        Err(e) => {
            warn(format_args!("cannot install signal handlers: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let tracker = match server::build_tracker(&cfg) {
        Ok(t) => t,
        Err(e) => {
            warn(e);
            return ExitCode::from(2);
        }
    };
    // `-l` names a file on the command line: read as the user who started
    // the tracker, before any chroot.
    let dump = match cfg.load_dump.as_deref().map(startup::read_dump) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            warn(e);
            return ExitCode::from(2);
        }
        None => None,
    };
    let sockets = match server::bind_all(&cfg) {
        Ok(s) => s,
        Err(e) => {
            warn(e);
            return ExitCode::FAILURE;
        }
    };
    // The access FIFOs are made inside the chroot, for the dropped user.
    let mut notes = Vec::new();
    let mut prepare = |owner: Option<(u32, u32)>| {
        for path in [&cfg.access.fifo_add, &cfg.access.fifo_delete]
            .into_iter()
            .flatten()
        {
            if let Some(done) = server::fifo::prepare(path, owner)? {
                notes.push(done);
            }
        }
        Ok(())
    };
    let dropped = match privileges::drop_privileges(
        cfg.rootdir.as_deref(),
        cfg.user.as_deref(),
        &mut prepare,
    ) {
        Ok(d) => d,
        Err(e) => {
            warn(e);
            return ExitCode::FAILURE;
        }
    };
    notes.insert(0, dropped.summary.clone());
    let files = match startup::read_files(&cfg, &dropped) {
        Ok(f) => f,
        Err(e) => {
            warn(e);
            return ExitCode::from(2);
        }
    };
    let start = server::Start { files, dump, notes };
    match server::run(&cfg, sockets, tracker, signals, start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(e);
            ExitCode::FAILURE
        }
    }
}
