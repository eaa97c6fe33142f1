/* bench/floor.c — the floor: a stateless tracker-shaped responder.
 *
 *   floor PORT close|keepalive
 *
 * Listens on 127.0.0.1:PORT for UDP and TCP in one epoll loop (one thread,
 * no timers, no state beyond the bytes of a request still arriving) and
 * answers without looking anything up:
 *   UDP (BEP 15), in recvmmsg/sendmmsg batches of 16: connect -> a fixed
 *     connection id; announce -> interval and counts plus min(numwant, 50)
 *     fixed peers; scrape -> zeros for each hash; anything else -> silence.
 *   HTTP: every request head (up to "\r\n\r\n", pipelined ones included)
 *     gets the same bencoded announce answer with 50 compact peers.
 *     close:     the answer says "Connection: close" and the socket is closed
 *                right after it is written (the server closes first);
 *     keepalive: the connection stays open for more requests until the client
 *                closes it (read returns 0), whatever the request said.
 * It is the cost of receiving and answering, nothing else: what a tracker's
 * CPU per response is compared against in bench/compare. Built there with
 * `cc -O2`; stops on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 16
#define DGRAM 2048
#define MAXFD 8192
#define HEAD 2048

static int keepalive;
static char head_buf[MAXFD][HEAD];   /* anonymous pages: touched only when used */
static unsigned head_len[MAXFD];
static char http_reply[1024];
static int http_reply_len;

static void die(const char *what) { perror(what); exit(1); }

static void put32(unsigned char *p, unsigned v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* One UDP answer for request q (n bytes) into r; returns its length or 0. */
static int udp_answer(const unsigned char *q, int n, unsigned char *r) {
    if (n < 16) return 0;
    unsigned action = (unsigned)q[8] << 24 | q[9] << 16 | q[10] << 8 | q[11];
    memcpy(r + 4, q + 12, 4); /* transaction id */
    if (action == 0) {
        put32(r, 0);
        memcpy(r + 8, "\x12\x34\x56\x78\x9a\xbc\xde\xf0", 8);
        return 16;
    }
    if (action == 1 && n >= 98) {
        int want = (int)((unsigned)q[92] << 24 | q[93] << 16 | q[94] << 8 | q[95]);
        if (want < 0 || want > 50) want = 50;
        put32(r, 1);
        put32(r + 8, 1800);
        put32(r + 12, 1);
        put32(r + 16, 1);
        for (int i = 0; i < want; i++) {
            unsigned char *p = r + 20 + 6 * i;
            p[0] = 127; p[1] = 0; p[2] = 0; p[3] = 2 + i; p[4] = 0x1a; p[5] = 0xe1;
        }
        return 20 + 6 * want;
    }
    if (action == 2) {
        int hashes = (n - 16) / 20;
        if (hashes > 74) hashes = 74;
        put32(r, 2);
        memset(r + 8, 0, 12 * hashes);
        return 8 + 12 * hashes;
    }
    return 0;
}

static void udp_ready(int fd) {
    static unsigned char in[BATCH][DGRAM], out[BATCH][DGRAM];
    static struct sockaddr_in from[BATCH];
    static struct iovec iin[BATCH], iout[BATCH];
    static struct mmsghdr min[BATCH], mout[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iin[i] = (struct iovec){in[i], DGRAM};
            min[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                             .msg_iov = &iin[i], .msg_iovlen = 1};
        }
        int got = recvmmsg(fd, min, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) return;
        int k = 0;
        for (int i = 0; i < got; i++) {
            int len = udp_answer(in[i], (int)min[i].msg_len, out[k]);
            if (!len) continue;
            iout[k] = (struct iovec){out[k], (size_t)len};
            mout[k].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                              .msg_namelen = min[i].msg_hdr.msg_namelen,
                                              .msg_iov = &iout[k], .msg_iovlen = 1};
            k++;
        }
        for (int sent = 0; sent < k;) {
            int s = sendmmsg(fd, mout + sent, k - sent, MSG_DONTWAIT);
            if (s <= 0) break; /* a full socket buffer drops the rest, as UDP may */
            sent += s;
        }
        if (got < BATCH) return;
    }
}

static void conn_close(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    head_len[fd] = 0;
    close(fd);
}

static void conn_ready(int ep, int fd) {
    char *b = head_buf[fd];
    ssize_t n = read(fd, b + head_len[fd], HEAD - head_len[fd]);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) return;
        conn_close(ep, fd);
        return;
    }
    head_len[fd] += (unsigned)n;
    static char out[16 * sizeof http_reply];
    unsigned start = 0, answers = 0, outlen = 0;
    for (unsigned i = 3; i < head_len[fd]; i++) {
        if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') {
            if (answers < 16) {
                memcpy(out + outlen, http_reply, http_reply_len);
                outlen += http_reply_len;
                answers++;
            }
            start = i + 1;
        }
    }
    if (!answers) {
        if (head_len[fd] == HEAD) conn_close(ep, fd); /* too long: not ours to parse */
        return;
    }
    if (write(fd, out, outlen) < 0 && errno != EAGAIN) {
        conn_close(ep, fd);
        return;
    }
    if (!keepalive) {
        conn_close(ep, fd);
        return;
    }
    memmove(b, b + start, head_len[fd] - start);
    head_len[fd] -= start;
}

static void on_signal(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "close") && strcmp(argv[2], "keepalive"))) {
        fprintf(stderr, "usage: floor PORT close|keepalive\n");
        return 2;
    }
    keepalive = !strcmp(argv[2], "keepalive");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    char body[512];
    int blen = snprintf(body, sizeof body,
                        "d8:completei1e10:incompletei1e8:intervali1800e12:min intervali900e"
                        "5:peers300:");
    for (int i = 0; i < 50; i++) {
        unsigned char p[6] = {127, 0, 0, (unsigned char)(2 + i), 0x1a, 0xe1};
        memcpy(body + blen, p, 6);
        blen += 6;
    }
    body[blen++] = 'e';
    http_reply_len = snprintf(http_reply, sizeof http_reply,
                              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%s"
                              "Content-Length: %d\r\n\r\n",
                              keepalive ? "" : "Connection: close\r\n", blen);
    memcpy(http_reply + http_reply_len, body, blen);
    http_reply_len += blen;

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof a)) die("udp bind");
    int rcv = 4 << 20;
    setsockopt(u, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1024)) die("tcp bind");
    setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted ones */

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = u};
    epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev);
    ev.data.fd = l;
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == u) {
                udp_ready(u);
            } else if (fd == l) {
                for (;;) {
                    int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break;
                    if (c >= MAXFD) { close(c); continue; }
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
            } else {
                conn_ready(ep, fd);
            }
        }
    }
}
