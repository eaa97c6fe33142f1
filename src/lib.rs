//! smoltracker: a small BitTorrent tracker with bounded memory.
//!
//! `wire` parses and emits bytes, `swarm` holds torrents and peers,
//! `tracker` answers requests over them, and `server` runs the smol I/O
//! loops on top.

pub mod access;
pub mod budget;
pub mod config;
pub mod connection_id;
pub mod history;
pub mod info_hash;
pub mod labels;
pub mod network;
pub mod region;
pub mod releases;
pub mod server;
pub mod state;
pub mod stats;
pub mod swarm;
pub mod tracker;
pub mod wire;
