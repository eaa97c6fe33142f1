//! The stats pages' side of request handling: access by network, the page
//! asked for, and the replies opentracker's readers expect (HTTP/1.0 style,
//! closed after the answer); the top lists as two parts of a stream.

use super::{HttpReply, Stream, StreamBody, Tracker};
use crate::network::Network;
use crate::stats::pages::{PageKind, PageStream};
use crate::stats::{requested_mode, top, Page};
use crate::wire::http::{self, RequestHead};
use crate::wire::{Overflow, Writer};
use std::net::IpAddr;

impl Tracker {
    /// A stats page. Answered like opentracker answers it, HTTP/1.0 style:
    /// `Connection: close` and then the connection closes, whatever the
    /// request asked, so readers that read until the server closes are done
    /// at once.
    pub(super) fn stats_page(
        &mut self,
        head: &RequestHead<'_>,
        peer: IpAddr,
        now: u32,
        out: &mut [u8],
    ) -> HttpReply {
        // Modes `access.stats_public` names are open to everyone.
        let mode = match head.path {
            b"/metrics" => b"prom",
            _ => requested_mode(head.query),
        };
        let public = self
            .settings
            .stats_public
            .iter()
            .any(|m| m.as_bytes() == mode);
        if !public
            && !self.settings.stats_allowed.is_empty()
            && !Network::any_contains(&self.settings.stats_allowed, peer)
        {
            return self.http_error(403, false, out);
        }
        let page = match head.path {
            b"/metrics" => Some(Page::Prometheus),
            _ => Page::parse(head.query),
        };
        let page = match page {
            None => return self.http_error(400, false, out),
            Some(page) => page,
        };
        let body = match page {
            Page::PerTorrent(format) => StreamBody::Torrents(format),
            Page::Json => StreamBody::Releases(PageStream::new(PageKind::Json, now)),
            Page::Html => StreamBody::Releases(PageStream::new(PageKind::Html, now)),
            Page::Prometheus if !self.labels.is_empty() => {
                StreamBody::Releases(PageStream::new(PageKind::Prometheus, now))
            }
            Page::Top(amount) => StreamBody::Top {
                amount,
                seeds: false,
            },
            page => {
                let body = self.body(out, |t, w| t.stats.render(page, &t.swarm, now, w));
                return match body.and_then(|len| http::frame_final(out, len, page.content_type())) {
                    Ok(range) => HttpReply {
                        code: 200,
                        range,
                        keep_alive: false,
                        stream: None,
                    },
                    Err(Overflow) => self.http_error(500, false, out),
                };
            }
        };
        self.start_stream(body, true, page.content_type(), out)
    }

    /// One list of `mode=top10`/`top100` per call: by peers, then by seeds.
    pub(super) fn top_chunk(
        &mut self,
        s: &mut Stream,
        amount: top::Amount,
        seeds: bool,
        out: &mut [u8],
    ) -> usize {
        let rank = if seeds {
            top::Rank::Seeds
        } else {
            top::Rank::Peers
        };
        let mut w = Writer::new(out);
        let written = top::put_list(&mut w, &self.swarm, amount, rank);
        if seeds || written.is_err() {
            s.done = true;
        }
        s.body = StreamBody::Top {
            amount,
            seeds: true,
        };
        if written.is_err() {
            return 0;
        }
        w.len()
    }
}
