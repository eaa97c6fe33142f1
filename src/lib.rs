//! smoltracker: a small BitTorrent tracker with bounded memory.
//!
//! `wire` parses and emits bytes, `swarm` holds torrents and peers, and
//! `server` runs the smol I/O loops on top of them.

pub mod wire;
pub mod swarm;
