//! Counters the tracker keeps about its own work.

/// HTTP error classes, in the order opentracker's `mode=herr` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// 302 redirect of `/`.
    Redirect = 0,
    /// 400 unparseable request.
    BadRequest = 1,
    /// 400 bad announce/scrape parameters.
    BadParameter = 2,
    /// 400 compression / oversized request.
    TooLarge = 3,
    /// 403 stats from a non-allowed address, or a refused hash.
    Forbidden = 4,
    /// 404 unknown path.
    NotFound = 5,
    /// 500 internal error (response did not fit, …).
    Internal = 6,
}

/// Labels for `mode=herr`, in [`HttpError`] order.
pub const HTTP_ERROR_LABELS: [&str; 7] = [
    "302 RED", "400 ...", "400 PAR", "400 COM", "403 IP ", "404 INV", "500 SRV",
];

/// Counters since start-up.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// HTTP connections accepted.
    pub tcp_connections: u64,
    /// HTTP connections refused because `max_connections` were open.
    pub tcp_refused: u64,
    /// HTTP announces answered.
    pub tcp_announces: u64,
    /// HTTP scrapes answered.
    pub tcp_scrapes: u64,
    /// UDP connect requests answered.
    pub udp_connects: u64,
    /// UDP announces answered.
    pub udp_announces: u64,
    /// UDP scrapes answered.
    pub udp_scrapes: u64,
    /// UDP datagrams answered with an error or dropped.
    pub udp_errors: u64,
    /// Announces refused because the tracker was full.
    pub refused_full: u64,
    /// Announces refused by the access list.
    pub refused_access: u64,
    /// HTTP errors by class.
    pub http_errors: [u64; 7],
}

impl Stats {
    /// Counts one HTTP error.
    pub fn http_error(&mut self, e: HttpError) {
        self.http_errors[e as usize] += 1;
    }
}
