/* hostile_peer.c: a pinned peer that misbehaves, for the tests (issue 13).
 *
 * It completes a real DTLS handshake with an identity omnetd would pin
 * (the format of src/identity.c), runs a real link core inside the
 * session so that it keeps the session alive like any peer (ACKs, pings,
 * PATH_RESPONSEs, accepting flows), and then sends what a malicious
 * consumer or provider would: frames through link_queue_frame() or whole
 * crafted packets, and, outside the session, ClientHello floods and forged
 * DATA datagrams.  Each attack is a scenario, a plain function, chosen on
 * the command line.
 *
 *   hostile_peer -S DIR --as consumer|provider [--connect A:P | --listen A:P]
 *                --peer-fp FP --net ID [options] SCENARIO...
 *
 * What it receives inside the session (every STREAM and DATAGRAM byte,
 * for any flow) is appended to --dump and searched for --marker, a secret
 * the test plants in another tenant's traffic.  With --watch-pid it samples
 * the target daemon's VmRSS, VmHWM and CPU time from /proc around each
 * scenario.  One JSON object per scenario goes to --report. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "dtls.h"
#include "identity.h"
#include "link.h"
#include "link_int.h"
#include "log.h"
#include "osutil.h"
#include "ring.h"
#include "seal.h"
#include "util.h"
#include "wire.h"

#define PKT_MAX 1407               /* omnetd's plaintext at MTU 1500 */
#define FRAMES_MAX (PKT_MAX - 8)   /* after the largest packet number */
#define DTLS_MTU (1500 - 20 - 8 - WIRE_OUTER_HS_LEN - WIRE_OUTER_DATA_LEN)
#define RX_BUF 65536
#define PING_EVERY_US 300000       /* keep our view of the peer's liveness fresh */
#define ALIVE_US 2000000           /* heard within this: the peer is alive */
#define WATCH_EVERY_US 50000
#define PACE_PACKETS 32            /* crafted packets between two service rounds */
#define FLOOD_PENDING 64           /* ClientHellos waiting for their cookie */
#define FORGED_SOCKETS 40

/* ---- options and state --------------------------------------------------- */

struct opts {
	const char *state_dir, *peer_fp, *dump, *report, *marker;
	const char *after;           /* a command run after each scenario */
	const char *go;              /* wait for this file before the scenarios */
	int no_session;              /* out-of-session scenarios only: do not wait */
	int as_provider;             /* we play a provider: even flow ids, OPEN kind 0 */
	int client;                  /* we dial (DTLS client) */
	struct sockaddr_storage listen, connect, target, sink;
	socklen_t listen_len, connect_len, target_len;
	int have_connect, have_target, have_sink;
	struct netid net, victim_net;
	int have_victim_net;
	uint8_t victim_key[WIRE_KEY_LEN];
	int have_victim_key;
	uint32_t victim_session;
	int watch_pid;
	uint32_t max_flows;          /* the target's, for the stride of finding 1 */
	unsigned scale;              /* multiplies the sizes of the floods */
	unsigned repeat;             /* finding-1 packets */
	uint16_t closed_port;        /* a port where nothing listens, for TCP OPENs */
	uint64_t settle_ms, wait_ms, hold_ms, flood_ms;
	int verbose;
};

/* What the target daemon looks like from /proc. */
struct proc_sample {
	int alive;
	uint64_t rss_kb, hwm_kb, cpu_ms;
};

/* Per scenario: what we sent, what came back, what the target did. */
struct sc_counters {
	uint64_t tx_packets, tx_bytes, tx_frames;
	uint64_t rx_packets, rx_stream_bytes, rx_dgram_bytes, marker_hits;
	uint64_t rx_path_responses, rx_resets, rx_windows;
	uint64_t out_tx_datagrams, out_tx_bytes;   /* outside the session */
	uint64_t out_rx_datagrams, out_rx_bytes;
	uint64_t hs_started, hs_cookie_echoed, hs_server_flights;
	uint64_t rss_peak_kb;
	uint64_t max_silence_us;     /* longest gap between the peer's packets */
	char note[256];
};

struct hp {
	struct opts o;
	struct identity id;
	struct dtls_ctx *ctx;
	struct chunk_pool pool;
	int fd;
	/* the session */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct dtls_conn *conn;
	struct seal *seal;           /* sealed records, when the daemon offered them */
	int established;
	uint32_t local_id, remote_id;
	struct link *link;
	unsigned sessions;           /* established so far */
	uint64_t last_rx_us, last_ping_us;
	uint64_t next_id;            /* our next flow id the peer has not seen */
	unsigned since_pace;
	int link_used;               /* a scenario filled this link with flows */
	uint64_t started_us, connect_ms; /* time to the first session */
	/* reporting */
	FILE *dump, *report;
	struct sc_counters cur;
	uint64_t watch_at_us;
	int target_died;
};

/* note() - one line on stderr; die() - and exit */
static void __attribute__((format(printf, 1, 0))) vnote(const char *fmt, va_list ap)
{
	fprintf(stderr, "hostile_peer: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	exit(1);
}

static uint32_t random_u32(void)
{
	uint32_t v = 0;

	while (v == 0)
		if (getentropy(&v, sizeof(v)) < 0)
			die("getentropy: %s", strerror(errno));
	return v;
}

/* ---- the target daemon, seen from /proc ----------------------------------- */

static void proc_read(int pid, struct proc_sample *s)
{
	char path[64], line[256], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return;
	s->alive = 1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z'))
			s->alive = 0; /* a zombie: dead, not yet reaped */
		sscanf(line, "VmRSS: %" SCNu64, &s->rss_kb);
		sscanf(line, "VmHWM: %" SCNu64, &s->hwm_kb);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return;
	/* fields 14 and 15, after the command name in parentheses */
	if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
	fclose(f);
	s->cpu_ms = (ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

static void watch(struct hp *h, uint64_t now)
{
	struct proc_sample s;

	if (!h->o.watch_pid || now - h->watch_at_us < WATCH_EVERY_US)
		return;
	h->watch_at_us = now;
	proc_read(h->o.watch_pid, &s);
	if (!s.alive) {
		if (!h->target_died)
			note("the target daemon (pid %d) is gone", h->o.watch_pid);
		h->target_died = 1;
		return;
	}
	h->cur.rss_peak_kb = MAX(h->cur.rss_peak_kb, s.rss_kb);
}

/* ---- what we receive ----------------------------------------------------- */

static void record_bytes(struct hp *h, const uint8_t *d, size_t len)
{
	const char *m = h->o.marker;
	size_t mlen = m ? strlen(m) : 0;
	const uint8_t *p = d, *end = d + len;

	if (h->dump && len)
		fwrite(d, 1, len, h->dump);
	if (!mlen)
		return;
	while ((size_t)(end - p) >= mlen && (p = memmem(p, (size_t)(end - p), m, mlen))) {
		h->cur.marker_hits++;
		p += mlen;
	}
}

/* inspect() - every decrypted packet, before the link core sees it: the
 * bytes of every flow, ours or not, and the answers we count */
static void inspect(struct hp *h, const uint8_t *pkt, size_t len)
{
	const uint8_t *p = pkt, *end = pkt + len;
	struct wire_frame fr;
	uint64_t pn;
	int n;

	h->cur.rx_packets++;
	if (wire_get_pn(&p, end, &pn) < 0)
		return;
	while (p < end && (n = wire_frame_decode(p, (size_t)(end - p), &fr)) > 0) {
		p += n;
		switch (fr.type) {
		case WF_STREAM:
			h->cur.rx_stream_bytes += fr.u.stream.len;
			record_bytes(h, fr.u.stream.data, fr.u.stream.len);
			break;
		case WF_DATAGRAM:
			h->cur.rx_dgram_bytes += fr.u.dgram.len;
			record_bytes(h, fr.u.dgram.data, fr.u.dgram.len);
			break;
		case WF_PATH_RESPONSE:
			h->cur.rx_path_responses++;
			break;
		case WF_RESET:
			h->cur.rx_resets++;
			break;
		case WF_WINDOW:
			h->cur.rx_windows++;
			break;
		}
	}
}

/* ---- the session --------------------------------------------------------- */

static int send_to(int fd, const struct sockaddr_storage *to, socklen_t len, const uint8_t *d,
		   size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int tries;

	for (tries = 0; tries < 20; tries++) {
		if (sendto(fd, d, n, MSG_DONTWAIT, (const struct sockaddr *)to, len) >= 0)
			return 0;
		if (errno != EAGAIN && errno != ENOBUFS)
			return -1;
		poll(&pfd, 1, 10); /* bounded: 20 x 10 ms */
	}
	return -1;
}

/* send_record() - a DTLS record behind its outer header */
static int send_record(int fd, const struct sockaddr_storage *to, socklen_t tolen,
		       const struct wire_outer *o, const uint8_t *rec, size_t len)
{
	uint8_t buf[RX_BUF];
	size_t hl = wire_outer_put(buf, o);

	if (hl + len > sizeof(buf))
		return -1;
	memcpy(buf + hl, rec, len);
	return send_to(fd, to, tolen, buf, hl + len);
}

/* session_out() - a record of the session: a client's handshake goes to
 * receiver 0 (the server finds it by address and sender id), everything
 * else to the peer's id */
static void session_out(void *arg, const uint8_t *rec, size_t len)
{
	struct hp *h = arg;
	struct wire_outer o = { .receiver_id = h->remote_id, .sender_id = h->local_id };

	o.type = h->established ? WIRE_DATA : WIRE_HANDSHAKE;
	if (o.type == WIRE_HANDSHAKE && h->o.client)
		o.receiver_id = 0;
	send_record(h->fd, &h->peer, h->peer_len, &o, rec, len);
}

/* The way out of a handshake record no session holds: our stateless
 * HelloVerifyRequest, or a flood's ClientHello (counted). */
struct hs_route {
	struct hp *h;
	int fd, count;
	struct wire_outer o;
	const struct sockaddr_storage *to;
	socklen_t to_len;
};

static void hs_route_out(void *arg, const uint8_t *rec, size_t len)
{
	struct hs_route *r = arg;

	if (send_record(r->fd, r->to, r->to_len, &r->o, rec, len) == 0 && r->count) {
		r->h->cur.out_tx_datagrams++;
		r->h->cur.out_tx_bytes += WIRE_OUTER_HS_LEN + len;
	}
}

static int pinned(void *arg, const char *fp)
{
	struct hp *h = arg;

	return !h->o.peer_fp || strcmp(fp, h->o.peer_fp) == 0;
}

static void session_drop(struct hp *h, const char *why)
{
	if (h->conn && why)
		note("session %08x ended: %s", h->local_id, why);
	link_free(h->link);
	dtls_conn_free(h->conn);
	seal_free(h->seal);
	h->link = NULL;
	h->conn = NULL;
	h->seal = NULL;
	h->established = 0;
}

/* hp_write() - one link packet, sealed as the daemon does when both
 * offered it (src/session.c), else a DTLS record */
static void hp_write(struct hp *h, const uint8_t *pkt, size_t n)
{
	struct wire_outer o = { .type = WIRE_SEALED, .receiver_id = h->remote_id };
	uint8_t rec[RX_BUF];
	size_t len;

	if (!h->seal) {
		dtls_write(h->conn, pkt, n);
		return;
	}
	if (n + SEAL_OVERHEAD <= sizeof(rec) && (len = seal_packet(h->seal, &o, pkt, n, rec)))
		send_record(h->fd, &h->peer, h->peer_len, &o, rec, len);
}

/* Our link core behaves as an ordinary peer: it accepts what the other
 * side opens, reads everything, and answers path challenges. */
static void cb_flow_open(void *arg, struct link_flow *f)
{
	link_flow_accept(f);
}

static void cb_flow_readable(void *arg, struct link_flow *f)
{
	const uint8_t *p;
	size_t n;
	int rounds;

	for (rounds = 0; rounds < 1024 && (n = link_flow_peek(f, &p)) > 0; rounds++)
		link_flow_consume(f, n);
	if (link_flow_at_eof(f) && !f->fin_read) {
		link_flow_shutdown(f);
		link_flow_eof_seen(f);
	}
}

static void cb_path_frame(void *arg, const struct wire_frame *fr)
{
	struct hp *h = arg;
	uint8_t pkt[2048];
	size_t n;

	if (fr->type != WF_PATH_CHALLENGE)
		return;
	/* RFC 9000 8.2.2: we have one path, the one it came on */
	n = link_build_path_packet(h->link, WF_PATH_RESPONSE, fr->u.path_data, pkt, sizeof(pkt),
				   clock_now_us());
	hp_write(h, pkt, n);
}

static void established(struct hp *h)
{
	struct link_config cfg;
	struct link_cb cb = { .arg = h, .flow_open = cb_flow_open,
			      .flow_readable = cb_flow_readable, .path_frame = cb_path_frame };
	uint8_t tx[DTLS_SECRET_LEN], rx[DTLS_SECRET_LEN];
	char a[ADDRSTRLEN];

	link_config_default(&cfg);
	cfg.max_packet = PKT_MAX;
	cfg.opens_even = h->o.as_provider;
	h->link = link_new(&cfg, &cb, &h->pool, clock_now_us());
	if (dtls_data_secrets(h->conn, tx, rx) == 0 && !(h->seal = seal_new(tx, rx)))
		die("cannot set up sealed records");
	h->established = 1;
	h->sessions++;
	h->last_rx_us = clock_now_us();
	if (h->sessions == 1)
		h->connect_ms = (h->last_rx_us - h->started_us) / 1000;
	/* a new session: the peer has seen none of our flow ids */
	h->next_id = h->o.as_provider ? 2 : 1;
	note("session %08x established with %s (peer's id %08x, %s, %s)", h->local_id,
	     addr_fmt((struct sockaddr *)&h->peer, a), h->remote_id, dtls_cipher(h->conn),
	     h->seal ? "sealed records" : "DTLS records");
}

/* heard() - an authenticated packet: our pings keep the peer talking
 * every PING_EVERY_US, so a long gap means it was busy or gone */
static void heard(struct hp *h)
{
	uint64_t now = clock_now_us();

	h->cur.max_silence_us = MAX(h->cur.max_silence_us, now - h->last_rx_us);
	h->last_rx_us = now;
}

static void deliver(void *arg, const uint8_t *plain, size_t len)
{
	struct hp *h = arg;

	if (!h->link)
		return;
	inspect(h, plain, len);
	if (link_recv(h->link, plain, len, clock_now_us()) == 0)
		heard(h);
}

static void feed(struct hp *h, const uint8_t *p, size_t n)
{
	enum dtls_status st = dtls_input(h->conn, p, n, deliver, h);

	if (st == DTLS_FAILED) {
		session_drop(h, dtls_error(h->conn));
		return;
	}
	if (st == DTLS_ESTABLISHED && !h->established)
		established(h);
}

static void open_sealed(struct hp *h, const struct wire_outer *o, const uint8_t *p, size_t n)
{
	uint8_t plain[RX_BUF];
	ssize_t len;

	if (n <= sizeof(plain) && (len = open_packet(h->seal, o, p, n, plain)) >= 0)
		deliver(h, plain, (size_t)len);
}

/* listen_hello() - the peer dials us: the stateless cookie exchange, then
 * a new session replaces any old one (the peer redialled) */
static void listen_hello(struct hp *h, const struct wire_outer *o, const uint8_t *p, size_t n,
			 const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct hs_route so = { h, h->fd, 0, { .type = WIRE_HANDSHAKE, .receiver_id = o->sender_id },
			       from, fromlen };
	uint8_t cookie_in[sizeof(struct sockaddr_storage) + 4];
	struct dtls_conn *c;

	memcpy(cookie_in, from, fromlen);
	memcpy(cookie_in + fromlen, &o->sender_id, 4);
	c = dtls_listen(h->ctx, p, n, cookie_in, fromlen + 4, DTLS_MTU, hs_route_out, &so);
	if (!c)
		return;
	session_drop(h, h->conn ? "the peer dialled again" : NULL);
	h->conn = c;
	h->remote_id = o->sender_id;
	h->local_id = random_u32();
	h->peer = *from;
	h->peer_len = fromlen;
	dtls_conn_set_output(c, session_out, h);
	if (dtls_continue(c) == DTLS_FAILED)
		session_drop(h, dtls_error(c));
}

static void on_datagram(struct hp *h, const uint8_t *p, size_t n,
			const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct wire_outer o;
	int hl = wire_outer_parse(p, n, &o);
	int ours;

	if (hl < 0)
		return;
	ours = h->conn && o.receiver_id == h->local_id;
	if (o.type == WIRE_HANDSHAKE && h->o.client && ours && !h->established) {
		if (o.sender_id && !h->remote_id)
			h->remote_id = o.sender_id;
		feed(h, p + hl, n - (size_t)hl);
	} else if (o.type == WIRE_HANDSHAKE && !h->o.client && o.receiver_id == 0) {
		if (h->conn && o.sender_id == h->remote_id && fromlen == h->peer_len &&
		    addr_eq((const struct sockaddr *)from, (const struct sockaddr *)&h->peer))
			feed(h, p + hl, n - (size_t)hl);
		else
			listen_hello(h, &o, p + hl, n - (size_t)hl, from, fromlen);
	} else if (o.type == WIRE_DATA && ours) {
		feed(h, p + hl, n - (size_t)hl);
	} else if (o.type == WIRE_SEALED && ours && h->seal) {
		open_sealed(h, &o, p + hl, n - (size_t)hl);
	} else {
		/* not for our session: answers to forged datagrams and the like */
		h->cur.out_rx_datagrams++;
		h->cur.out_rx_bytes += n;
	}
}

static void dial(struct hp *h)
{
	session_drop(h, NULL);
	h->peer = h->o.connect;
	h->peer_len = h->o.connect_len;
	h->local_id = random_u32();
	h->remote_id = 0;
	h->conn = dtls_client_new(h->ctx, h->o.peer_fp, DTLS_MTU, session_out, h);
	if (!h->conn)
		die("cannot start a DTLS client");
}

static void flush(struct hp *h, uint64_t now)
{
	uint8_t buf[RX_BUF];
	size_t n;
	int i;

	if (!h->established)
		return;
	if (now - h->last_ping_us >= PING_EVERY_US) {
		link_send_ping(h->link);
		h->last_ping_us = now;
	}
	for (i = 0; i < 4096 && (n = link_send(h->link, buf, sizeof(buf), now)) > 0; i++)
		hp_write(h, buf, n);
}

static void read_socket(struct hp *h)
{
	static uint8_t buf[RX_BUF];
	struct sockaddr_storage from;
	socklen_t fromlen;
	int i;

	for (i = 0; i < 256; i++) {
		ssize_t n;

		fromlen = sizeof(from);
		n = recvfrom(h->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		on_datagram(h, buf, (size_t)n, &from, fromlen);
	}
}

static void run_timers(struct hp *h, uint64_t now)
{
	if (h->conn && !h->established && dtls_timer_us(h->conn) == 0 &&
	    dtls_on_timer(h->conn) == DTLS_FAILED)
		session_drop(h, "handshake timed out");
	if (h->established && link_next_timer_us(h->link, now) <= now)
		link_on_timer(h->link, now);
}

/* service() - keep the session going until until_us (0: one round without
 * waiting): read, run timers, send what the link core wants */
static void service(struct hp *h, uint64_t until_us)
{
	int rounds;

	for (rounds = 0; rounds < 1000000; rounds++) {
		uint64_t now = clock_now_us(), wake = until_us;
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		int ms;

		flush(h, now);
		watch(h, now);
		if (h->conn && !h->established && dtls_timer_us(h->conn) != UINT64_MAX)
			wake = MIN(wake, now + dtls_timer_us(h->conn));
		if (h->established) {
			wake = MIN(wake, link_next_timer_us(h->link, now));
			wake = MIN(wake, h->last_ping_us + PING_EVERY_US);
		}
		wake = MIN(wake, now + WATCH_EVERY_US);
		ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
		if (poll(&pfd, 1, ms) > 0)
			read_socket(h);
		run_timers(h, clock_now_us());
		if (clock_now_us() >= until_us)
			break;
	}
	flush(h, clock_now_us());
}

static int session_alive(const struct hp *h)
{
	return h->established && clock_now_us() - h->last_rx_us < ALIVE_US;
}

/* wait_session() - until a session is up (we dial again if we are the
 * client and the last attempt failed), at most ms */
static int wait_session(struct hp *h, uint64_t ms)
{
	uint64_t end = clock_now_us() + ms * 1000;

	while (!h->established && clock_now_us() < end) {
		if (h->o.client && !h->conn)
			dial(h);
		service(h, MIN(end, clock_now_us() + 100000));
	}
	return h->established;
}

/* ---- crafted packets ------------------------------------------------------ */

/* send_frames() - one crafted packet.  Its number comes from the link core
 * as an MTU probe's, so the core never resends it, never counts it against
 * the congestion window, and its own numbering stays consistent. */
static int send_frames(struct hp *h, const uint8_t *frames, size_t len, unsigned nframes)
{
	uint8_t pkt[PKT_MAX + 32];
	const uint8_t *p = pkt;
	size_t size = MAX(len + 8, (size_t)16);
	uint64_t pn;

	if (!h->established || size > sizeof(pkt))
		return -1;
	if (!link_build_mtu_probe(h->link, size, pkt, sizeof(pkt), clock_now_us()) ||
	    wire_get_pn(&p, pkt + size, &pn) < 0)
		return -1;
	memcpy(pkt + (p - pkt), frames, len);
	hp_write(h, pkt, (size_t)(p - pkt) + len);
	h->cur.tx_packets++;
	h->cur.tx_bytes += (size_t)(p - pkt) + len;
	h->cur.tx_frames += nframes;
	/* let the peer's ACKs and probes through now and then */
	if (++h->since_pace >= PACE_PACKETS) {
		h->since_pace = 0;
		service(h, clock_now_us() + 1000);
	}
	return 0;
}

/* A packet being filled with frames; full, it goes and a new one starts. */
struct fb {
	uint8_t buf[FRAMES_MAX];
	struct wbuf w;
	unsigned n;
};

static void fb_init(struct fb *f)
{
	f->w = (struct wbuf){ f->buf, 0, sizeof(f->buf) };
	f->n = 0;
}

static void fb_send(struct hp *h, struct fb *f)
{
	if (f->w.len)
		send_frames(h, f->buf, f->w.len, f->n);
	fb_init(f);
}

/* PUT() - add a frame (wire_put_* writes nothing when it does not fit) */
#define PUT(h, f, call)                                                       \
	do {                                                                  \
		if ((call) < 0) {                                             \
			fb_send(h, f);                                        \
			if ((call) < 0)                                       \
				die("%s: frame too large for a packet", #call); \
		}                                                             \
		(f)->n++;                                                     \
	} while (0)

/* raw_frame() - bytes that are not a valid frame, in a packet of their own */
static void raw_packet(struct hp *h, const uint8_t *d, size_t len)
{
	send_frames(h, d, len, 1);
}

/* inject() - a frame riding the link core's next packet */
static void inject(struct hp *h, const uint8_t *frame, size_t len)
{
	if (!h->established)
		return; /* the session ended under us */
	if (link_queue_frame(h->link, frame, len) < 0) {
		flush(h, clock_now_us());
		link_queue_frame(h->link, frame, len);
	}
	h->cur.tx_frames++;
}

static uint64_t take_id(struct hp *h)
{
	uint64_t id = h->next_id;

	h->next_id += 2;
	return id;
}

static void ipv4(struct ipport *a, const char *addr, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->port = port;
	inet_pton(AF_INET, addr, a->addr);
}

static void ipv6(struct ipport *a, const char *addr, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET6;
	a->port = port;
	inet_pton(AF_INET6, addr, a->addr);
}

/* open_args() - what an OPEN from our role looks like: a consumer opens
 * towards the VM (kind 3: only the port counts), a provider towards an
 * address; the destination is the test's sink, or a closed port for TCP */
static void open_args(const struct hp *h, uint8_t proto, unsigned i, uint8_t *kind,
		      struct ipport *src, struct ipport *dst)
{
	ipport_from_sa(dst, (const struct sockaddr *)&h->o.sink);
	if (proto == WIRE_PROTO_TCP)
		dst->port = h->o.closed_port;
	if (h->o.as_provider) {
		*kind = WIRE_DST_ADDR;
		ipv4(src, "10.0.2.15", (uint16_t)(20000 + i % 40000));
	} else {
		*kind = WIRE_DST_VM;
		ipv4(src, "203.0.113.99", (uint16_t)(20000 + i % 40000));
	}
}

/* ---- scenarios inside the session ---------------------------------------- */

/* idle: nothing; the figures of an ordinary peer, for comparison */
static void sc_idle(struct hp *h)
{
	service(h, clock_now_us() + 1000000);
}

/* flow-ids-ahead (finding 1): one packet of empty STREAM frames, each
 * naming an id 2 x max-flows beyond the last, which the receiver may take
 * as opening every id in between */
static void sc_flow_ids_ahead(struct hp *h)
{
	uint64_t stride = 2 * (uint64_t)h->o.max_flows;
	unsigned r;
	struct fb f;

	for (r = 0; r < h->o.repeat; r++) {
		fb_init(&f);
		/* first the highest id we used: a receiver that missed a packet
		 * of ours catches up, so the stride is measured from the same id */
		if (h->next_id > 2)
			PUT(h, &f, wire_put_stream(&f.w, h->next_id - 2, 0, 0, (const uint8_t *)"", 0));
		while (1) {
			uint64_t id = h->next_id + stride;

			if (wire_put_stream(&f.w, id, 0, 0, (const uint8_t *)"", 0) < 0)
				break;
			f.n++;
			h->next_id = id + 2;
		}
		snprintf(h->cur.note, sizeof(h->cur.note), "%u packet(s) of %u STREAM frames, ids up to %" PRIu64,
			 h->o.repeat, f.n, h->next_id - 2);
		fb_send(h, &f);
		service(h, clock_now_us() + 200000);
	}
}

/* early-udp-gap (finding 2, the leak): STREAM bytes for a flow not yet
 * open, a length prefix whose datagram the bytes do not fill (a gap over
 * the chunk's old contents), then an OPEN declaring the flow UDP towards
 * the sink.  What the gap held is what leaks. */
static void sc_early_udp_gap(struct hp *h)
{
	const uint16_t len = 16000; /* inside the first 16 KiB chunk of the ring */
	uint8_t prefix[2] = { len >> 8, len & 0xff }, last = 'Z';
	unsigned i, n = 200 * h->o.scale;
	uint64_t *ids = xcalloc(n, sizeof(*ids));
	struct ipport src, dst;
	uint8_t kind;
	struct fb f;

	fb_init(&f);
	for (i = 0; i < n; i++) {
		ids[i] = take_id(h);
		open_args(h, WIRE_PROTO_UDP, i, &kind, &src, &dst);
		/* a packet per flow: the bytes must precede the OPEN */
		PUT(h, &f, wire_put_stream(&f.w, ids[i], 0, 0, prefix, 2));
		PUT(h, &f, wire_put_stream(&f.w, ids[i], 2 + len - 1, 0, &last, 1));
		PUT(h, &f, wire_put_open(&f.w, ids[i], &h->o.net, WIRE_PROTO_UDP, kind, &src, &dst));
		fb_send(h, &f);
		if (i % 16 == 15)
			service(h, clock_now_us() + 2000);
	}
	service(h, clock_now_us() + 300000);
	for (i = 0; i < n; i++)
		PUT(h, &f, wire_put_close(&f.w, ids[i]));
	fb_send(h, &f);
	free(ids);
	snprintf(h->cur.note, sizeof(h->cur.note),
		 "%u flows: 2-byte prefix %u, 1 byte at %u, OPEN udp", n, len, 2 + len - 1);
}

/* early-udp-overrun (finding 2, the crash): a length prefix that points
 * past the bytes sent, then the OPEN */
static void sc_early_udp_overrun(struct hp *h)
{
	const uint8_t bytes[10] = { 0xff, 0xff, 'o', 'v', 'e', 'r', 'r', 'u', 'n', '!' };
	struct ipport src, dst;
	uint8_t kind;
	struct fb f;
	uint64_t id;
	int i;

	fb_init(&f);
	for (i = 0; i < 3; i++) {
		id = take_id(h);
		open_args(h, WIRE_PROTO_UDP, (unsigned)i, &kind, &src, &dst);
		PUT(h, &f, wire_put_stream(&f.w, id, 0, 0, bytes, sizeof(bytes)));
		PUT(h, &f, wire_put_open(&f.w, id, &h->o.net, WIRE_PROTO_UDP, kind, &src, &dst));
		fb_send(h, &f);
		service(h, clock_now_us() + 100000);
	}
	snprintf(h->cur.note, sizeof(h->cur.note), "3 flows: prefix 65535 over 8 bytes, OPEN udp");
}

/* open-flood: OPENs far beyond max-flows, TCP to a closed port and UDP to
 * the sink, alternately */
static void sc_open_flood(struct hp *h)
{
	unsigned i, n = (unsigned)MIN((uint64_t)h->o.max_flows * 5 / 2 * h->o.scale, 200000);
	struct ipport src, dst;
	uint8_t kind, proto;
	struct fb f;

	fb_init(&f);
	for (i = 0; i < n; i++) {
		proto = i & 1 ? WIRE_PROTO_UDP : WIRE_PROTO_TCP;
		open_args(h, proto, i, &kind, &src, &dst);
		PUT(h, &f, wire_put_open(&f.w, take_id(h), &h->o.net, proto, kind, &src, &dst));
	}
	fb_send(h, &f);
	service(h, clock_now_us() + 500000);
	snprintf(h->cur.note, sizeof(h->cur.note), "%u OPENs (max-flows %u)", n, h->o.max_flows);
}

/* dgram-reasm: fragments of 64 KiB datagrams, 32 per flow (every
 * reassembly slot), on flows never opened; a byte in every page of each
 * buffer, so that what the receiver allocates is also resident */
static void sc_dgram_reasm(struct hp *h)
{
	unsigned i, s, n = 64 * h->o.scale;
	uint32_t off;
	struct fb f;

	fb_init(&f);
	for (i = 0; i < n; i++) {
		uint64_t id = take_id(h);

		for (s = 0; s < 32; s++)
			for (off = 0; off < 65535 - 1; off += 4096)
				PUT(h, &f, wire_put_dgram(&f.w, id, s, 65535, off,
							  (const uint8_t *)"x", 1));
	}
	fb_send(h, &f);
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note),
		 "%u flows x 32 datagrams of 64 KiB, a byte per page (%u MiB)", n, n * 2);
}

/* stream-hold: a byte in every page of the first flow window of fresh
 * flows never opened: memory the receiver holds and nobody will ever read */
static void sc_stream_hold(struct hp *h)
{
	uint64_t span = (uint64_t)64 << 20, per_flow = LINK_INITIAL_FLOW_WINDOW, off;
	unsigned i, n = (unsigned)(span * h->o.scale / per_flow);
	struct fb f;

	fb_init(&f);
	for (i = 0; i < n; i++) {
		uint64_t id = take_id(h);

		for (off = 0; off < per_flow; off += 4096)
			PUT(h, &f, wire_put_stream(&f.w, id, off, 0, (const uint8_t *)"h", 1));
	}
	fb_send(h, &f);
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "%u flows x %" PRIu64 " KiB, a byte per page",
		 n, per_flow >> 10);
}

/* window-violation: bytes beyond a flow's window, beyond a FIN, a second
 * FIN elsewhere, huge WINDOW credit, a RESET claiming an absurd final
 * offset, then twice the link window: one byte near the end of the window
 * of each of many fresh flows (each counts a whole window) */
static void sc_window_violation(struct hp *h)
{
	static uint8_t junk[128];
	uint64_t a = take_id(h), b = take_id(h), c = take_id(h), id;
	uint64_t span = (uint64_t)128 << 20, off = LINK_INITIAL_FLOW_WINDOW - 1;
	unsigned i, n = (unsigned)(span / LINK_INITIAL_FLOW_WINDOW) * h->o.scale;
	struct fb f;

	memset(junk, 'w', sizeof(junk));
	fb_init(&f);
	PUT(h, &f, wire_put_stream(&f.w, a, LINK_INITIAL_FLOW_WINDOW + 100, 0, junk, 100));
	PUT(h, &f, wire_put_stream(&f.w, b, 0, 1, junk, 10));
	PUT(h, &f, wire_put_stream(&f.w, b, 10, 0, junk, 10));
	PUT(h, &f, wire_put_stream(&f.w, b, 0, 1, junk, 5));
	PUT(h, &f, wire_put_window(&f.w, 0, VARINT_MAX));
	PUT(h, &f, wire_put_reset(&f.w, c, RST_ABORTED, VARINT_MAX / 2));
	for (id = 1; id < 200; id++)
		PUT(h, &f, wire_put_window(&f.w, id, VARINT_MAX - id));
	fb_send(h, &f);
	for (i = 0; i < n; i++)
		PUT(h, &f, wire_put_stream(&f.w, take_id(h), off, 0, junk, 1));
	fb_send(h, &f);
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "beyond window, beyond FIN, WINDOW 2^62, "
		 "RESET final 2^61, %u flows x 256 KiB of window (%u MiB)", n, n / 4);
}

/* cross-flow: RESET, CLOSE, WINDOW, OPENED and FIN naming every small id,
 * both parities: ids the other tenant's flows have on its own link, and
 * the flows the target opened towards us */
static void sc_cross_flow(struct hp *h)
{
	struct fb f;
	uint64_t id;

	fb_init(&f);
	for (id = 1; id <= 400; id++) {
		PUT(h, &f, wire_put_reset(&f.w, id, RST_ABORTED, 0));
		PUT(h, &f, wire_put_close(&f.w, id));
		PUT(h, &f, wire_put_window(&f.w, id, 0));
		PUT(h, &f, wire_put_opened(&f.w, id));
		PUT(h, &f, wire_put_stream(&f.w, id, 0, 1, (const uint8_t *)"", 0));
	}
	fb_send(h, &f);
	h->next_id = MAX(h->next_id, (uint64_t)(h->o.as_provider ? 402 : 401));
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "RESET/CLOSE/WINDOW/OPENED/FIN for ids 1..400");
}

/* ack-unsent: ACKs for packet numbers never sent, and for everything */
static void sc_ack_unsent(struct hp *h)
{
	struct wire_ack_range r[WIRE_MAX_ACK_RANGES];
	uint64_t bases[] = { 1000000, (uint64_t)1 << 40, VARINT_MAX - 1 };
	unsigned i, k;
	struct fb f;

	fb_init(&f);
	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		r[0].hi = bases[i];
		r[0].lo = 0;
		PUT(h, &f, wire_put_ack(&f.w, 0, r, 1));
		/* every range the frame may hold, all in the future */
		for (k = 0; k < WIRE_MAX_ACK_RANGES; k++) {
			r[k].hi = bases[i] - 4 * k;
			r[k].lo = r[k].hi - 1;
		}
		PUT(h, &f, wire_put_ack(&f.w, UINT32_MAX, r, WIRE_MAX_ACK_RANGES));
	}
	fb_send(h, &f);
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "ACKs up to 10^6, 2^40, 2^62-1, 64 ranges");
}

/* network-deleted: NETWORK_DELETED for the other tenant's network and a
 * hundred random ones (our own last: it costs us our flows) */
static void sc_network_deleted(struct hp *h)
{
	struct netid id;
	struct fb f;
	int i;

	fb_init(&f);
	if (h->o.have_victim_net)
		for (i = 0; i < 3; i++)
			PUT(h, &f, wire_put_network_deleted(&f.w, &h->o.victim_net));
	for (i = 0; i < 100; i++) {
		if (getentropy(id.b, sizeof(id.b)) < 0)
			die("getentropy");
		PUT(h, &f, wire_put_network_deleted(&f.w, &id));
	}
	fb_send(h, &f);
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "%s100 random network ids",
		 h->o.have_victim_net ? "the other tenant's network id, " : "");
}

/* candidates: addresses the target must never probe (its own loopback,
 * link-local, metadata, multicast and broadcast, its own LAN and the other
 * tenant's address), then enough others to fill a candidate table */
static void sc_candidates(struct hp *h)
{
	static const char *bad4[] = { "127.0.0.1", "127.0.0.53", "169.254.169.254", "169.254.1.1",
				      "10.0.2.2", "10.0.2.3", "224.0.0.1", "255.255.255.255",
				      "0.0.0.0", "192.0.2.1", "192.0.2.2", "192.0.2.130",
				      "203.0.113.1", "203.0.113.17" };
	static const char *bad6[] = { "::1", "fe80::1" };
	uint8_t method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	uint8_t frame[1024];
	size_t n = 0, i;
	int round, j;

	memset(method, WIRE_CAND_DIRECT, sizeof(method));
	for (round = 0; round < 3; round++) {
		struct wbuf b = { frame, 0, sizeof(frame) };

		n = 0;
		for (i = 0; i < ARRAY_SIZE(bad4); i++)
			ipv4(&addr[n++], bad4[i], 6950);
		for (i = 0; i < ARRAY_SIZE(bad6); i++)
			ipv6(&addr[n++], bad6[i], 6950);
		wire_put_candidates(&b, method, addr, n);
		inject(h, frame, b.len);
		flush(h, clock_now_us());
		/* 48 more, 16 per frame */
		for (j = 0; j < 3; j++) {
			char a[32];

			b.len = 0;
			for (n = 0; n < WIRE_MAX_CANDIDATES; n++) {
				snprintf(a, sizeof(a), "198.51.100.%zu", 100 + (size_t)j * 16 + n);
				ipv4(&addr[n], a, (uint16_t)(6950 + round));
			}
			wire_put_candidates(&b, method, addr, n);
			inject(h, frame, b.len);
			flush(h, clock_now_us());
		}
		service(h, clock_now_us() + 400000);
	}
	snprintf(h->cur.note, sizeof(h->cur.note), "%zu forbidden + 48 other candidates, 3 rounds",
		 ARRAY_SIZE(bad4) + ARRAY_SIZE(bad6));
}

/* path-challenge-flood: packets full of PATH_CHALLENGEs, each of which may
 * draw a 1200-byte PATH_RESPONSE packet */
static void sc_path_challenge_flood(struct hp *h)
{
	unsigned i, n = 100 * h->o.scale;
	uint8_t data[WIRE_PATH_DATA_LEN];
	struct fb f;

	fb_init(&f);
	for (i = 0; i < n; i++) {
		while (1) {
			if (getentropy(data, sizeof(data)) < 0)
				die("getentropy");
			if (wire_put_path(&f.w, WF_PATH_CHALLENGE, data) < 0)
				break;
			f.n++;
		}
		fb_send(h, &f);
	}
	service(h, clock_now_us() + 500000);
	snprintf(h->cur.note, sizeof(h->cur.note), "%u packets of PATH_CHALLENGEs", n);
}

/* relay-frames: what only a relay may say, and what only a peer asks a
 * relay, naming the other tenant's key and local addresses */
static void sc_relay_frames(struct hp *h)
{
	uint8_t method[4] = { WIRE_CAND_DIRECT, WIRE_CAND_REFLEXIVE, WIRE_CAND_DIRECT,
			      WIRE_CAND_DIRECT };
	struct ipport addr[4], obs;
	uint8_t key[WIRE_KEY_LEN];
	struct fb f;
	int i;

	memset(key, 0x5a, sizeof(key));
	if (h->o.have_victim_key)
		memcpy(key, h->o.victim_key, sizeof(key));
	ipv4(&addr[0], "127.0.0.1", 6950);
	ipv4(&addr[1], "198.51.100.201", 6950);
	ipv4(&addr[2], "10.0.2.2", 6950);
	ipv6(&addr[3], "fe80::1", 6950);
	ipv4(&obs, "198.51.100.202", 1);
	fb_init(&f);
	for (i = 0; i < 10; i++) {
		PUT(h, &f, wire_put_relay_observed(&f.w, &obs));
		PUT(h, &f, wire_put_relay_cand(&f.w, WF_RELAY_CONNECT, key, 0, method, addr, 4));
		PUT(h, &f, wire_put_relay_cand(&f.w, WF_RELAY_INTRO, key, (uint32_t)(7 + i), method,
					       addr, 4));
		PUT(h, &f, wire_put_path_method(&f.w, (uint8_t)(i % 3)));
	}
	fb_send(h, &f);
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "RELAY_OBSERVED/CONNECT/INTRO x10 %s",
		 h->o.have_victim_key ? "with the other tenant's key" : "");
}

/* malformed: frames that break the format, each in a packet of its own;
 * then records that are not DTLS and headers that are not ours */
static void sc_malformed(struct hp *h)
{
	static const struct {
		size_t len;
		uint8_t b[48];
	} bad[] = {
		{ 1, { 0x12 } },                                   /* unknown type */
		{ 1, { 0xff } },
		{ 2, { WF_STREAM, 0xc0 } },                        /* varint cut short */
		{ 6, { WF_STREAM, 0x01, 0x00, 0x00, 0x10, 'a' } },  /* length past the end */
		{ 5, { WF_STREAM, 0x01, 0x00, 0x02, 0x00 } },       /* unknown flag */
		{ 12, { WF_STREAM, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01 } },
		{ 5, { WF_ACK, 0x01, 0x00, 0x00, 0x05 } },          /* range below 0 */
		{ 6, { WF_ACK, 0x05, 0x00, 0x40, 0x41, 0x00 } },    /* 65 ranges */
		{ 2, { WF_CANDIDATES, 17 } },                      /* too many */
		{ 9, { WF_CANDIDATES, 1, 1, 5, 1, 2, 3, 4, 0 } },   /* family 5 */
		{ 2, { WF_PATH_METHOD, 3 } },
		{ 7, { WF_DATAGRAM, 0x01, 0x00, 0x80, 0x01, 0x11, 0x70 } }, /* total 70000 */
		{ 8, { WF_DATAGRAM, 0x01, 0x00, 0x0a, 0x08, 0x05, 'a', 'b' } }, /* frag+len > total */
		{ 2, { WF_WINDOW, 0x01 } },
		{ 3, { WF_RESET, 0x01, 0x05 } },                   /* no final offset */
		{ 5, { WF_PATH_CHALLENGE, 1, 2, 3, 4 } },
		{ 12, { WF_NETWORK_DELETED, 1, 2, 3 } },
		{ 46, { WF_OPEN, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0,
			4, 10, 0, 2, 15, 0, 80,                    /* IPv4 source ... */
			6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80 } }, /* IPv6 dest */
		{ 3, { WF_RELAY_OBSERVED, 9, 9 } },
	};
	uint8_t junk[256];
	struct wire_outer o = { .type = WIRE_DATA };
	uint8_t dgram[300];
	size_t i, hl;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		raw_packet(h, bad[i].b, bad[i].len);
		/* and after a valid PING, so the packet is not empty before it */
		{
			uint8_t two[64] = { WF_PING };

			memcpy(two + 1, bad[i].b, bad[i].len);
			raw_packet(h, two, bad[i].len + 1);
		}
	}
	/* records our session's peer cannot decrypt, headers it cannot parse */
	if (getentropy(junk, sizeof(junk)) < 0)
		die("getentropy");
	o.receiver_id = h->remote_id;
	hl = wire_outer_put(dgram, &o);
	for (i = 0; i < 20; i++) {
		memcpy(dgram + hl, junk, 100 + i);
		send_to(h->fd, &h->peer, h->peer_len, dgram, hl + 100 + i);
		h->cur.out_tx_datagrams++;
		h->cur.out_tx_bytes += hl + 100 + i;
	}
	for (i = 0; i < 8; i++) {
		dgram[0] = (uint8_t)(i == 0 ? 2 : 1);
		dgram[1] = (uint8_t)(i + 4);
		send_to(h->fd, &h->peer, h->peer_len, dgram, i);
		h->cur.out_tx_datagrams++;
		h->cur.out_tx_bytes += i;
	}
	service(h, clock_now_us() + 300000);
	snprintf(h->cur.note, sizeof(h->cur.note), "%zu malformed frames x2, 20 bad records, 8 bad headers",
		 ARRAY_SIZE(bad));
}

/* ---- scenarios outside the session --------------------------------------- */

static const struct sockaddr_storage *target_of(const struct hp *h, socklen_t *len)
{
	if (h->o.have_target) {
		*len = h->o.target_len;
		return &h->o.target;
	}
	*len = h->peer_len;
	return &h->peer;
}

/* a socket beside the session's, on the same address, any port */
static int side_socket(const struct hp *h)
{
	struct sockaddr_storage a = h->o.listen;
	int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
	if (bind(fd, (struct sockaddr *)&a, addr_len((struct sockaddr *)&a)) < 0)
		die("bind: %s", strerror(errno));
	return fd;
}

static void ignore_plain(void *arg, const uint8_t *p, size_t len)
{
}

struct attempt {
	struct hs_route r;   /* r.o.sender_id: the attempt's session id */
	struct dtls_conn *c;
	uint64_t at_us;
};

/* flood_input() - the target's answers: a HelloVerifyRequest makes the
 * attempt echo its cookie (the target then keeps state), and the attempt
 * is abandoned; what else comes (the server's flight) is only counted */
static void flood_input(struct hp *h, int fd, struct attempt *att, size_t natt)
{
	static uint8_t buf[RX_BUF];
	struct wire_outer o;
	size_t i;
	int k;

	for (k = 0; k < 256; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int hl;

		if (n < 0)
			return;
		h->cur.out_rx_datagrams++;
		h->cur.out_rx_bytes += (size_t)n;
		if ((hl = wire_outer_parse(buf, (size_t)n, &o)) < 0 || o.type != WIRE_HANDSHAKE)
			continue;
		if (o.sender_id) {
			h->cur.hs_server_flights++;
			continue;
		}
		for (i = 0; i < natt; i++) {
			if (!att[i].c || att[i].r.o.sender_id != o.receiver_id)
				continue;
			dtls_input(att[i].c, buf + hl, (size_t)n - (size_t)hl, ignore_plain, NULL);
			h->cur.hs_cookie_echoed++;
			dtls_conn_free(att[i].c);
			att[i].c = NULL;
		}
	}
}

/* hello-flood: ClientHellos from one address, as fast as the target
 * answers, each echoing its cookie so the target keeps a handshake */
static void sc_hello_flood(struct hp *h)
{
	static const char *any_fp =
		"sha256:0000000000000000000000000000000000000000000000000000000000000000";
	struct attempt att[FLOOD_PENDING];
	socklen_t tlen;
	const struct sockaddr_storage *to = target_of(h, &tlen);
	uint64_t end = clock_now_us() + h->o.flood_ms * 1000, now;
	int fd = side_socket(h);
	size_t i;

	memset(att, 0, sizeof(att));
	while ((now = clock_now_us()) < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		for (i = 0; i < FLOOD_PENDING; i++) {
			if (att[i].c && now - att[i].at_us > 300000) {
				dtls_conn_free(att[i].c); /* no answer: give up on it */
				att[i].c = NULL;
			}
			if (att[i].c)
				continue;
			att[i] = (struct attempt){ { h, fd, 1, { .type = WIRE_HANDSHAKE }, to, tlen },
						   NULL, now };
			att[i].r.o.sender_id = random_u32();
			att[i].c = dtls_client_new(h->ctx, any_fp, DTLS_MTU, hs_route_out, &att[i].r);
			h->cur.hs_started++;
		}
		if (poll(&pfd, 1, 1) > 0)
			flood_input(h, fd, att, FLOOD_PENDING);
		service(h, 0);
	}
	for (i = 0; i < FLOOD_PENDING; i++)
		dtls_conn_free(att[i].c);
	close(fd);
	service(h, clock_now_us() + 200000);
	snprintf(h->cur.note, sizeof(h->cur.note), "%" PRIu64 " ClientHellos, %" PRIu64
		 " cookies echoed in %" PRIu64 " ms", h->cur.hs_started, h->cur.hs_cookie_echoed,
		 h->o.flood_ms);
}

/* forged-data: 61-byte DATA datagrams to the other tenant's session id
 * (it travels in clear), from 40 ports of ours; whatever the target sends
 * back to those ports is counted: the amplification */
static void sc_forged_data(struct hp *h)
{
	int fds[FORGED_SOCKETS];
	uint8_t d[61], buf[RX_BUF];
	struct wire_outer o = { .type = WIRE_DATA, .receiver_id = h->o.victim_session };
	socklen_t tlen;
	const struct sockaddr_storage *to = target_of(h, &tlen);
	uint64_t end;
	int i, round;

	if (!h->o.victim_session) {
		snprintf(h->cur.note, sizeof(h->cur.note), "skipped: no --victim-session");
		return;
	}
	for (i = 0; i < FORGED_SOCKETS; i++)
		fds[i] = side_socket(h);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < FORGED_SOCKETS; i++) {
			/* an application-data record of epoch 1: it fails authentication */
			size_t hl = wire_outer_put(d, &o);
			static const uint8_t rec[] = { 23, 0xfe, 0xfd, 0, 1 };

			if (getentropy(d + hl, sizeof(d) - hl) < 0)
				die("getentropy");
			memcpy(d + hl, rec, sizeof(rec));
			d[hl + 11] = 0;
			d[hl + 12] = (uint8_t)(sizeof(d) - hl - 13);
			if (send_to(fds[i], to, tlen, d, sizeof(d)) == 0) {
				h->cur.out_tx_datagrams++;
				h->cur.out_tx_bytes += sizeof(d);
			}
		}
		service(h, clock_now_us() + 200000);
	}
	end = clock_now_us() + 2000000;
	while (clock_now_us() < end) {
		for (i = 0; i < FORGED_SOCKETS; i++) {
			ssize_t n;

			while ((n = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
				h->cur.out_rx_datagrams++;
				h->cur.out_rx_bytes += (size_t)n;
			}
		}
		service(h, clock_now_us() + 20000);
	}
	for (i = 0; i < FORGED_SOCKETS; i++)
		close(fds[i]);
	snprintf(h->cur.note, sizeof(h->cur.note), "%d x 3 forged DATA to session %08x",
		 FORGED_SOCKETS, h->o.victim_session);
}

/* ---- the run --------------------------------------------------------------- */

struct scenario {
	const char *name;
	void (*run)(struct hp *h);
	int in_session;
	int fresh;        /* needs a link no earlier scenario filled with flows */
};

/* in the order "all" runs them: the crash last.  A scenario that fills the
 * link with flows or uses up its window gets a fresh session (we close
 * ours, the peer redials or we do), so that the next one meets a link
 * below its limits as an attacker would. */
static const struct scenario scenarios[] = {
	{ "idle", sc_idle, 1, 0 },
	{ "malformed", sc_malformed, 1, 0 },
	{ "ack-unsent", sc_ack_unsent, 1, 0 },
	{ "cross-flow", sc_cross_flow, 1, 0 },
	{ "network-deleted", sc_network_deleted, 1, 0 },
	{ "relay-frames", sc_relay_frames, 1, 0 },
	{ "candidates", sc_candidates, 1, 0 },
	{ "path-challenge-flood", sc_path_challenge_flood, 1, 0 },
	{ "early-udp-gap", sc_early_udp_gap, 1, 1 },
	{ "dgram-reasm", sc_dgram_reasm, 1, 1 },
	{ "stream-hold", sc_stream_hold, 1, 1 },
	{ "window-violation", sc_window_violation, 1, 1 },
	{ "open-flood", sc_open_flood, 1, 1 },
	{ "forged-data", sc_forged_data, 0, 0 },
	{ "hello-flood", sc_hello_flood, 0, 0 },
	{ "flow-ids-ahead", sc_flow_ids_ahead, 1, 1 },
	{ "early-udp-overrun", sc_early_udp_overrun, 1, 1 },
};

static void report(struct hp *h, const char *name, const struct proc_sample *before,
		   const struct proc_sample *after, uint64_t wall_ms, int ran)
{
	const struct sc_counters *c = &h->cur;
	FILE *f = h->report ? h->report : stdout;
	const char *q;

	fprintf(f, "{\"scenario\":\"%s\",\"ran\":%s,\"wall_ms\":%" PRIu64
		",\"session_alive\":%s,\"sessions\":%u,\"connect_ms\":%" PRIu64 ",\"target_alive\":%s",
		name, ran ? "true" : "false", wall_ms, session_alive(h) ? "true" : "false",
		h->sessions, h->connect_ms, h->o.watch_pid ? (after->alive ? "true" : "false") : "null");
	if (h->o.watch_pid)
		fprintf(f, ",\"rss_kb_before\":%" PRIu64 ",\"rss_kb_peak\":%" PRIu64
			",\"rss_kb_after\":%" PRIu64 ",\"hwm_kb\":%" PRIu64 ",\"cpu_ms\":%" PRIu64,
			before->rss_kb, MAX(c->rss_peak_kb, after->rss_kb), after->rss_kb,
			after->hwm_kb, after->cpu_ms - MIN(after->cpu_ms, before->cpu_ms));
	fprintf(f, ",\"max_silence_ms\":%" PRIu64,
		MAX(c->max_silence_us, h->established ? clock_now_us() - h->last_rx_us : 0) / 1000);
	fprintf(f, ",\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"tx_frames\":%" PRIu64
		",\"rx_packets\":%" PRIu64 ",\"rx_stream_bytes\":%" PRIu64 ",\"rx_dgram_bytes\":%" PRIu64
		",\"marker_hits\":%" PRIu64 ",\"rx_path_responses\":%" PRIu64 ",\"rx_resets\":%" PRIu64
		",\"out_tx_datagrams\":%" PRIu64 ",\"out_tx_bytes\":%" PRIu64
		",\"out_rx_datagrams\":%" PRIu64 ",\"out_rx_bytes\":%" PRIu64
		",\"hs_started\":%" PRIu64 ",\"hs_cookie_echoed\":%" PRIu64
		",\"hs_server_flights\":%" PRIu64 ",\"note\":\"",
		c->tx_packets, c->tx_bytes, c->tx_frames, c->rx_packets, c->rx_stream_bytes,
		c->rx_dgram_bytes, c->marker_hits, c->rx_path_responses, c->rx_resets,
		c->out_tx_datagrams, c->out_tx_bytes, c->out_rx_datagrams, c->out_rx_bytes,
		c->hs_started, c->hs_cookie_echoed, c->hs_server_flights);
	for (q = c->note; *q; q++)
		fputc(*q == '"' || *q == '\\' ? '\'' : *q, f);
	fprintf(f, "\"}\n");
	fflush(f);
	if (h->dump)
		fflush(h->dump);
}

/* renew() - a fresh session: close ours (close_notify) and wait for the
 * next, which we dial or the peer does */
static void renew(struct hp *h)
{
	note("closing session %08x for a fresh link", h->local_id);
	if (h->established)
		dtls_close_notify(h->conn);
	session_drop(h, NULL);
	h->link_used = 0;
	wait_session(h, h->o.wait_ms);
}

/* run_after() - the test's hook (a snapshot of the target's status, say),
 * with the scenario's name in HOSTILE_SCENARIO; our session is kept alive
 * by servicing it while the command runs */
static void run_after(struct hp *h, const char *name)
{
	pid_t pid;
	int status, i;

	if (!h->o.after)
		return;
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("HOSTILE_SCENARIO", name, 1);
		execl("/bin/sh", "sh", "-c", h->o.after, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 3000 && waitpid(pid, &status, WNOHANG) == 0; i++)
		service(h, clock_now_us() + 10000); /* at most 30 s */
	if (i == 3000) {
		note("--after command still running after 30 s: killed");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
}

static void run_scenario(struct hp *h, const struct scenario *sc)
{
	struct proc_sample before, after;
	uint64_t t0;
	int ran = 1;

	note("scenario %s", sc->name);
	if (sc->fresh && h->link_used)
		renew(h);
	memset(&h->cur, 0, sizeof(h->cur));
	proc_read(h->o.watch_pid, &before);
	h->cur.rss_peak_kb = before.rss_kb;
	t0 = clock_now_us();
	if (sc->in_session && !session_alive(h) &&
	    (h->o.no_session || !wait_session(h, h->o.wait_ms))) {
		snprintf(h->cur.note, sizeof(h->cur.note), "not run: no session");
		ran = 0;
	} else {
		sc->run(h);
		h->link_used |= sc->fresh;
	}
	/* settle: the target digests what it got, our ping shows it answers */
	service(h, clock_now_us() + h->o.settle_ms * 1000);
	proc_read(h->o.watch_pid, &after);
	report(h, sc->name, &before, &after, (clock_now_us() - t0) / 1000, ran);
	run_after(h, sc->name);
}

static const struct scenario *find_scenario(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: hostile_peer -S STATE_DIR --as consumer|provider --peer-fp FP --net ID\n"
		"         [--listen A:P] [--connect A:P] [--target A:P] [--sink A:P]\n"
		"         [--victim-net ID] [--victim-fp FP] [--victim-session HEX]\n"
		"         [--watch-pid PID] [--marker S] [--dump F] [--report F]\n"
		"         [--max-flows N] [--scale N] [--repeat N] [--closed-port P]\n"
		"         [--settle-ms MS] [--wait-ms MS] [--hold-ms MS] [--flood-ms MS]\n"
		"         [--after CMD] [--no-session] [--go FILE] [-v]\n"
		"         SCENARIO... | all\n"
		"  --as          the role we play: its flow ids and OPEN kinds\n"
		"  --connect     dial this peer (DTLS client); otherwise wait to be dialled\n"
		"  --target      where ClientHellos and forged datagrams go (default: the peer)\n"
		"  --sink        destination of our UDP OPENs (a consumer's kind-3 OPEN uses its port)\n"
		"  --after       run this shell command after each scenario (HOSTILE_SCENARIO=name)\n"
		"  --no-session  do not wait for a session (ClientHello flood, forged datagrams)\n"
		"  --go          once the session is up, behave until FILE exists (at most 300 s)\n"
		"scenarios:");
	for (i = 0; i < ARRAY_SIZE(scenarios); i++)
		fprintf(f, " %s", scenarios[i].name);
	fputc('\n', f);
}

static void parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	if (addr_parse(s, OMNET_DEFAULT_PORT, ss, len) < 0)
		die("bad address: %s", s);
}

static uint64_t parse_num(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_u64(s, min, max, &v) < 0)
		die("bad number: %s", s);
	return v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_AS = 256, O_LISTEN, O_CONNECT, O_TARGET, O_SINK, O_PEERFP, O_NET, O_VNET, O_VFP,
	       O_VSESS, O_WATCH, O_MARKER, O_DUMP, O_REPORT, O_MAXFLOWS, O_SCALE, O_REPEAT,
	       O_CLOSED, O_SETTLE, O_WAIT, O_HOLD, O_FLOOD, O_AFTER, O_NOSESS, O_GO };
	static const struct option lo[] = {
		{ "state-dir", required_argument, NULL, 'S' }, { "as", required_argument, NULL, O_AS },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "target", required_argument, NULL, O_TARGET },
		{ "sink", required_argument, NULL, O_SINK },
		{ "peer-fp", required_argument, NULL, O_PEERFP },
		{ "net", required_argument, NULL, O_NET },
		{ "victim-net", required_argument, NULL, O_VNET },
		{ "victim-fp", required_argument, NULL, O_VFP },
		{ "victim-session", required_argument, NULL, O_VSESS },
		{ "watch-pid", required_argument, NULL, O_WATCH },
		{ "marker", required_argument, NULL, O_MARKER },
		{ "dump", required_argument, NULL, O_DUMP },
		{ "report", required_argument, NULL, O_REPORT },
		{ "max-flows", required_argument, NULL, O_MAXFLOWS },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "closed-port", required_argument, NULL, O_CLOSED },
		{ "settle-ms", required_argument, NULL, O_SETTLE },
		{ "wait-ms", required_argument, NULL, O_WAIT },
		{ "hold-ms", required_argument, NULL, O_HOLD },
		{ "flood-ms", required_argument, NULL, O_FLOOD },
		{ "after", required_argument, NULL, O_AFTER },
		{ "no-session", no_argument, NULL, O_NOSESS },
		{ "go", required_argument, NULL, O_GO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->max_flows = 65536;
	o->scale = o->repeat = 1;
	o->closed_port = 9;
	o->settle_ms = 1000;
	o->wait_ms = 15000;
	o->flood_ms = 3000;
	o->as_provider = -1;
	while ((c = getopt_long(argc, argv, "S:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'S': o->state_dir = optarg; break;
		case 'v': o->verbose++; break;
		case 'h': usage(stdout); exit(0);
		case O_AS:
			if (strcmp(optarg, "consumer") && strcmp(optarg, "provider"))
				die("--as consumer or provider");
			o->as_provider = strcmp(optarg, "provider") == 0;
			break;
		case O_LISTEN: parse_addr(optarg, &o->listen, &o->listen_len); break;
		case O_CONNECT:
			parse_addr(optarg, &o->connect, &o->connect_len);
			o->have_connect = o->client = 1;
			break;
		case O_TARGET:
			parse_addr(optarg, &o->target, &o->target_len);
			o->have_target = 1;
			break;
		case O_SINK: {
			socklen_t l;

			parse_addr(optarg, &o->sink, &l);
			o->have_sink = 1;
			break;
		}
		case O_PEERFP:
			if (!fingerprint_valid(optarg))
				die("bad fingerprint: %s", optarg);
			o->peer_fp = optarg;
			break;
		case O_NET:
			if (netid_parse(optarg, &o->net) < 0)
				die("bad network id: %s", optarg);
			break;
		case O_VNET:
			if (netid_parse(optarg, &o->victim_net) < 0)
				die("bad network id: %s", optarg);
			o->have_victim_net = 1;
			break;
		case O_VFP:
			if (!fingerprint_valid(optarg) ||
			    hex_decode(optarg + 7, o->victim_key, sizeof(o->victim_key)) < 0)
				die("bad fingerprint: %s", optarg);
			o->have_victim_key = 1;
			break;
		case O_VSESS: o->victim_session = (uint32_t)strtoul(optarg, NULL, 16); break;
		case O_WATCH: o->watch_pid = (int)parse_num(optarg, 1, 1 << 22); break;
		case O_MARKER: o->marker = optarg; break;
		case O_DUMP: o->dump = optarg; break;
		case O_REPORT: o->report = optarg; break;
		case O_MAXFLOWS: o->max_flows = (uint32_t)parse_num(optarg, 1, 1 << 20); break;
		case O_SCALE: o->scale = (unsigned)parse_num(optarg, 1, 64); break;
		case O_REPEAT: o->repeat = (unsigned)parse_num(optarg, 1, 64); break;
		case O_CLOSED: o->closed_port = (uint16_t)parse_num(optarg, 1, 65535); break;
		case O_SETTLE: o->settle_ms = parse_num(optarg, 0, 600000); break;
		case O_WAIT: o->wait_ms = parse_num(optarg, 0, 600000); break;
		case O_HOLD: o->hold_ms = parse_num(optarg, 0, 3600000); break;
		case O_FLOOD: o->flood_ms = parse_num(optarg, 1, 600000); break;
		case O_AFTER: o->after = optarg; break;
		case O_NOSESS: o->no_session = 1; break;
		case O_GO: o->go = optarg; break;
		default: usage(stderr); exit(2);
		}
	}
	if (!o->state_dir || o->as_provider < 0 || optind >= argc) {
		usage(stderr);
		exit(2);
	}
	if (!o->listen_len)
		parse_addr(o->client ? "0.0.0.0:0" : "0.0.0.0:6950", &o->listen, &o->listen_len);
	if (o->no_session && !o->have_target)
		die("--no-session needs --target");
	if (o->client && !o->peer_fp)
		die("--connect needs --peer-fp (the key we expect)");
	if (!o->have_sink)
		parse_addr("127.0.0.1:9999", &o->sink, &(socklen_t){ 0 });
}

static void open_socket(struct hp *h)
{
	int buf = 8 << 20;

	h->fd = socket(h->o.listen.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(h->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(h->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	if (bind(h->fd, (struct sockaddr *)&h->o.listen, h->o.listen_len) < 0)
		die("bind: %s", strerror(errno));
	/* our datagrams are sized for the path, as omnetd's */
	setsockopt(h->fd, IPPROTO_IP, IP_MTU_DISCOVER, &(int){ IP_PMTUDISC_PROBE }, sizeof(int));
}

int main(int argc, char **argv)
{
	static struct hp h;
	char err[256];
	int i;

	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv, &h.o);
	log_init(h.o.verbose);
	for (i = optind; i < argc; i++)
		if (strcmp(argv[i], "all") && !find_scenario(argv[i]))
			die("unknown scenario %s", argv[i]);
	if (identity_load(&h.id, h.o.state_dir, err, sizeof(err)) < 0)
		die("%s", err);
	if (!(h.ctx = dtls_ctx_new(&h.id, pinned, &h, err, sizeof(err))))
		die("%s", err);
	chunk_pool_init(&h.pool, (size_t)256 << 20);
	if (h.o.dump && !(h.dump = fopen(h.o.dump, "a")))
		die("%s: %s", h.o.dump, strerror(errno));
	if (h.o.report && !(h.report = fopen(h.o.report, "a")))
		die("%s: %s", h.o.report, strerror(errno));
	open_socket(&h);
	h.started_us = clock_now_us();
	note("identity %s, %s, %s", h.id.fingerprint, h.o.as_provider ? "as a provider" : "as a consumer",
	     h.o.client ? "dialling" : "waiting to be dialled");
	if (!h.o.no_session && !wait_session(&h, h.o.wait_ms))
		die("no session within %" PRIu64 " ms", h.o.wait_ms);
	for (i = 0; h.o.go && i < 3000 && access(h.o.go, F_OK) < 0; i++)
		service(&h, clock_now_us() + 100000);
	for (i = optind; i < argc; i++) {
		size_t k;

		if (strcmp(argv[i], "all") != 0) {
			run_scenario(&h, find_scenario(argv[i]));
			continue;
		}
		for (k = 0; k < ARRAY_SIZE(scenarios); k++)
			run_scenario(&h, &scenarios[k]);
	}
	service(&h, clock_now_us() + h.o.hold_ms * 1000);
	session_drop(&h, NULL);
	dtls_ctx_free(h.ctx);
	identity_free(&h.id);
	chunk_pool_destroy(&h.pool);
	if (h.dump)
		fclose(h.dump);
	if (h.report)
		fclose(h.report);
	close(h.fd);
	return 0;
}
