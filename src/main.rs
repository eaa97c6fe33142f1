//! `smoltracker`: parse the command line, bind, serve.

use smoltracker::config::{self, Command};
use smoltracker::server;
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
            eprintln!("smoltracker: {e}");
            return ExitCode::from(2);
        }
    };
    for w in warnings {
        eprintln!("smoltracker: warning: {w}");
    }
    let tracker = match server::build_tracker(&cfg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("smoltracker: {e}");
            return ExitCode::from(2);
        }
    };
    let sockets = match server::bind_all(&cfg, &mut |w| eprintln!("smoltracker: warning: {w}")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smoltracker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cap = tracker.swarm.capacity();
    eprintln!(
        "smoltracker {}: listening on {}; memory cap {} KiB ({} torrents, {} IPv4 peers)",
        env!("CARGO_PKG_VERSION"),
        sockets.describe(),
        cfg.max_memory >> 10,
        cap.torrents,
        cap.ipv4_peers
    );
    match server::run(&cfg, sockets, tracker) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smoltracker: {e}");
            ExitCode::FAILURE
        }
    }
}
