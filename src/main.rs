//! `smoltracker`: parse the command line, bind, drop privileges, serve.

use smoltracker::config::{self, Command};
use smoltracker::server::{self, info, privileges, signals, warn};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cfg, warnings) = match config::from_args(&args) {
        Ok(Command::Run(cfg, warnings)) => (cfg, warnings),
        Ok(Command::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("smoltracker {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            warn(e);
            return ExitCode::from(2);
        }
    };
    for w in warnings {
        warn(format_args!("warning: {w}"));
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
    let sockets = match server::bind_all(&cfg) {
        Ok(s) => s,
        Err(e) => {
            warn(e);
            return ExitCode::FAILURE;
        }
    };
    // The access FIFOs are made inside the chroot, for the dropped user.
    let mut prepare = |owner: Option<(u32, u32)>| {
        for path in [&cfg.access.fifo_add, &cfg.access.fifo_delete]
            .into_iter()
            .flatten()
        {
            if let Some(done) = server::fifo::prepare(path, owner)? {
                info(done);
            }
        }
        Ok(())
    };
    match privileges::drop_privileges(cfg.rootdir.as_deref(), cfg.user.as_deref(), &mut prepare) {
        Ok(d) => info(d.summary),
        Err(e) => {
            warn(e);
            return ExitCode::FAILURE;
        }
    }
    match server::run(&cfg, sockets, tracker, signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(e);
            ExitCode::FAILURE
        }
    }
}
