//! The key of everything the tracker keeps: a torrent's 20-byte info hash
//! (a v1 SHA-1, or a v2 SHA-256 cut to 20 bytes as clients announce it).
//! Its own module, so the wire decoders, the store, the access lists, the
//! labels and the state file share it without depending on one another.

/// A torrent's info hash.
pub type InfoHash = [u8; 20];
