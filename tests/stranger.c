/* stranger.c: what anyone who can reach the mesh port can send, for the
 * integration tests of issue 13.
 *
 *   stranger flood --to ADDR:PORT [--from ADDR] --seconds N
 *       ClientHellos as fast as sendmmsg() sends them, each with a fresh
 *       session id, and every cookie the daemon returns echoed at once:
 *       the daemon starts a real handshake (ECDHE, signature) for each
 *       echo it accepts.  The ClientHellos come from OpenSSL through
 *       omnet's own DTLS layer (memory BIOs), behind the outer header of
 *       src/wire.h, so they are what a real client sends.
 *
 *   stranger forge --to ADDR:PORT --id HEX [--from ADDR[:PORT]] [--spoof]
 *                  [--vary-port] --count N [--interval-ms N] [--tail-ms N]
 *       DATA datagrams to the session id HEX (it travels in the clear)
 *       holding a DTLS application record that cannot authenticate.  With
 *       --spoof they leave through a raw socket with --from as their
 *       source, which need not be ours; --vary-port gives each datagram
 *       the next source port.
 *
 *   stranger ask --to ADDR:PORT --state DIR --expect FP --ask FP
 *                --count N [--frames N] [--interval-ms N]
 *       Not a stranger: a peer with a pinned key (the identity in DIR),
 *       which completes a real handshake with the relay at ADDR (whose key
 *       is FP) and then sends N packets of --frames RELAY_CONNECT frames
 *       each, naming the peer whose fingerprint is --ask: a peer that asks
 *       a relay for introductions as fast as it can.
 *
 * All count what comes back to them and print one line of key=value
 * pairs for the test to read.  Every loop is bounded by --seconds or
 * --count. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dtls.h"
#include "identity.h"
#include "osutil.h"
#include "util.h"
#include "wire.h"


static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "stranger: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

struct opts {
	struct sockaddr_storage to, from;
	socklen_t tolen, fromlen;
	uint32_t id;
	int spoof, vary_port;
	unsigned seconds, count, interval_ms, tail_ms, frames;
	const char *state, *expect, *ask;
};

static int udp_socket(const struct opts *o)
{
	int fd = socket(o->to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0), buf = 4 << 20;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (o->fromlen && bind(fd, (const struct sockaddr *)&o->from, o->fromlen) < 0)
		die("bind: %s", strerror(errno));
	return fd;
}

/* ---- flood ----------------------------------------------------------------- */

#define IDS (1u << 20)   /* ids remembered: the state of each */
#define BATCH 64

/* The ClientHello itself does not depend on the session id, which is in
 * the outer header: one is made at the start and sent behind every id,
 * so the tool sends as fast as sendmmsg() goes.  Only a cookie that comes
 * back costs a real client: OpenSSL makes the echo. */
struct flood {
	int fd;
	const struct opts *o;
	struct dtls_ctx *ctx;
	uint8_t hello[1500];
	size_t hello_len;
	int keep;                 /* out(): keep the record as the hello, do not send */
	int quiet;                /* out(): drop the record */
	uint32_t sending_id;      /* the id of the record out() sends */
	uint8_t *state;           /* per id: 0 sent, 1 cookie echoed, 2 the daemon answered */
	uint64_t hellos, echoes, hvr, server_dgrams, server_ids, bytes_out, bytes_in, send_fail;
};

static void flood_out(void *arg, const uint8_t *rec, size_t len)
{
	struct flood *f = arg;
	struct wire_outer h = { .type = WIRE_HANDSHAKE, .sender_id = f->sending_id };
	uint8_t buf[2048];
	size_t hl;

	if (f->keep) {
		if (!f->hello_len && len <= sizeof(f->hello)) {
			memcpy(f->hello, rec, len);
			f->hello_len = len;
		}
		return;
	}
	if (f->quiet)
		return;
	hl = wire_outer_put(buf, &h);
	if (hl + len > sizeof(buf))
		return;
	memcpy(buf + hl, rec, len);
	if (sendto(f->fd, buf, hl + len, 0, (const struct sockaddr *)&f->o->to, f->o->tolen) < 0) {
		f->send_fail++;
		return;
	}
	f->bytes_out += hl + len;
}

static void ignore(void *arg, const uint8_t *p, size_t len)
{
}

/* echo() - a cookie came for id: a client made for it answers with the
 * ClientHello that carries the cookie (its own first one is not sent) */
static void echo(struct flood *f, uint32_t id, const uint8_t *rec, size_t len)
{
	struct dtls_conn *c;

	/* a fingerprint nobody has: the handshake is never meant to finish */
	f->quiet = 1;
	c = dtls_client_new(f->ctx, "sha256:00", 1400, flood_out, f);
	f->quiet = 0;
	if (!c)
		return;
	f->sending_id = id;
	dtls_input(c, rec, len, ignore, NULL);
	dtls_conn_free(c);
	f->state[id % IDS] = 1;
	f->echoes++;
}

static void flood_rx(struct flood *f, const uint8_t *p, size_t len)
{
	struct wire_outer h;
	int hl = wire_outer_parse(p, len, &h);
	uint8_t *st;

	f->bytes_in += len;
	if (hl < 0 || h.type != WIRE_HANDSHAKE || !h.receiver_id)
		return;
	st = &f->state[h.receiver_id % IDS];
	if (h.sender_id) {
		/* the daemon keeps a handshake for us: its first flight */
		f->server_dgrams++;
		if (*st == 1) {
			f->server_ids++;
			*st = 2;
		}
		return;
	}
	f->hvr++;
	if (*st == 0)
		echo(f, h.receiver_id, p + hl, len - (size_t)hl);
}

static void flood_drain(struct flood *f)
{
	uint8_t buf[4096];
	ssize_t n;
	int i;

	for (i = 0; i < 256; i++) {
		n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return;
		flood_rx(f, buf, (size_t)n);
	}
}

/* flood_send() - BATCH ClientHellos, each with a new id */
static void flood_send(struct flood *f, uint32_t *next)
{
	static uint8_t hdr[BATCH][WIRE_OUTER_HS_LEN];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH][2];
	int i, sent;

	memset(msg, 0, sizeof(msg));
	for (i = 0; i < BATCH; i++) {
		struct wire_outer h = { .type = WIRE_HANDSHAKE, .sender_id = *next + (uint32_t)i };

		f->state[h.sender_id % IDS] = 0;
		wire_outer_put(hdr[i], &h);
		iov[i][0].iov_base = hdr[i];
		iov[i][0].iov_len = WIRE_OUTER_HS_LEN;
		iov[i][1].iov_base = f->hello;
		iov[i][1].iov_len = f->hello_len;
		msg[i].msg_hdr.msg_iov = iov[i];
		msg[i].msg_hdr.msg_iovlen = 2;
		msg[i].msg_hdr.msg_name = (void *)&f->o->to;
		msg[i].msg_hdr.msg_namelen = f->o->tolen;
	}
	sent = sendmmsg(f->fd, msg, BATCH, MSG_DONTWAIT);
	if (sent <= 0) {
		f->send_fail++;
		return;
	}
	*next += (uint32_t)sent;
	f->hellos += (uint64_t)sent;
	f->bytes_out += (uint64_t)sent * (WIRE_OUTER_HS_LEN + f->hello_len);
}

static int run_flood(const struct opts *o)
{
	static struct flood f;
	struct identity id;
	struct dtls_conn *c;
	char dir[] = "/tmp/omnet-stranger-XXXXXX", err[256], path[64];
	uint64_t end;
	uint32_t next;

	if (!mkdtemp(dir) || identity_load(&id, dir, err, sizeof(err)) < 0)
		die("identity: %s", err);
	snprintf(path, sizeof(path), "%s/identity.pem", dir);
	unlink(path);
	rmdir(dir);
	f.ctx = dtls_ctx_new(&id, NULL, NULL, err, sizeof(err));
	if (!f.ctx)
		die("%s", err);
	f.o = o;
	f.fd = udp_socket(o);
	f.state = calloc(IDS, 1);
	f.keep = 1;
	c = dtls_client_new(f.ctx, "sha256:00", 1400, flood_out, &f);
	f.keep = 0;
	dtls_conn_free(c);
	if (!f.state || !f.hello_len)
		die("no ClientHello");
	if (getentropy(&next, sizeof(next)) < 0)
		next = 1;
	next |= 1u << 31;
	end = clock_now_ms() + (uint64_t)o->seconds * 1000;
	while (clock_now_ms() < end) {
		flood_send(&f, &next);
		flood_drain(&f);
	}
	free(f.state);
	dtls_ctx_free(f.ctx);
	identity_free(&id);
	printf("hellos=%llu cookies_echoed=%llu hello_verify=%llu handshakes_started=%llu "
	       "server_datagrams=%llu bytes_out=%llu bytes_in=%llu send_failed=%llu\n",
	       (unsigned long long)f.hellos, (unsigned long long)f.echoes,
	       (unsigned long long)f.hvr, (unsigned long long)f.server_ids,
	       (unsigned long long)f.server_dgrams, (unsigned long long)f.bytes_out,
	       (unsigned long long)f.bytes_in, (unsigned long long)f.send_fail);
	return 0;
}

/* ---- forge ----------------------------------------------------------------- */

/* forged() - a datagram no key opens: every other one a DATA datagram
 * with an application-data record of epoch 1 (8 + 13 + 40 bytes), the
 * rest a sealed record with a fresh counter (8 + 8 + 40 bytes) */
static size_t forged(uint8_t *buf, uint32_t id, uint64_t seq)
{
	struct wire_outer h = { .type = seq & 1 ? WIRE_SEALED : WIRE_DATA, .receiver_id = id };
	size_t n = wire_outer_put(buf, &h), i, hl = 13;
	uint8_t *r = buf + n;

	if (h.type == WIRE_SEALED) {
		for (i = 0; i < 8; i++)
			r[i] = (uint8_t)(seq >> (8 * (7 - i)));
		hl = 8;
	} else {
		r[0] = 23;          /* application_data */
		r[1] = 0xfe;        /* DTLS 1.2 */
		r[2] = 0xfd;
		r[3] = 0;           /* epoch 1 */
		r[4] = 1;
		for (i = 0; i < 6; i++)
			r[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
		r[11] = 0;
		r[12] = 40;
	}
	if (getentropy(r + hl, 40) < 0)
		memset(r + hl, 0x5a, 40);
	return n + hl + 40;
}

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* spoofed_send() - IPv4 and UDP headers of our own: any source */
static int spoofed_send(int raw, const struct opts *o, const uint8_t *p, size_t len,
			unsigned nth)
{
	const struct sockaddr_in *src = (const struct sockaddr_in *)&o->from;
	const struct sockaddr_in *dst = (const struct sockaddr_in *)&o->to;
	uint8_t pkt[1500];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));

	memset(pkt, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = src->sin_addr.s_addr;
	ip->daddr = dst->sin_addr.s_addr;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + len));
	ip->check = csum(ip, sizeof(*ip));
	udp->source = htons((uint16_t)(ntohs(src->sin_port) + (o->vary_port ? nth : 0)));
	udp->dest = dst->sin_port;
	udp->len = htons((uint16_t)(sizeof(*udp) + len));
	udp->check = 0; /* optional over IPv4 */
	memcpy(pkt + sizeof(*ip) + sizeof(*udp), p, len);
	return (int)sendto(raw, pkt, sizeof(*ip) + sizeof(*udp) + len, 0,
			   (const struct sockaddr *)&o->to, o->tolen);
}

static void forge_drain(int fd, uint64_t *n, uint64_t *bytes, unsigned wait_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t buf[4096];
	uint64_t end = clock_now_ms() + wait_ms;
	ssize_t got;

	if (fd < 0) {
		/* nothing to listen on (a raw socket sends only): just wait */
		poll(NULL, 0, (int)wait_ms);
		return;
	}
	for (;;) {
		uint64_t now = clock_now_ms();

		if (poll(&pfd, 1, now >= end ? 0 : (int)(end - now)) <= 0)
			return;
		while ((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
			(*n)++;
			*bytes += (uint64_t)got;
		}
	}
}

static int run_forge(const struct opts *o)
{
	int fd = -1, raw = -1;
	uint64_t sent = 0, sent_bytes = 0, got = 0, got_bytes = 0;
	uint8_t buf[128];
	unsigned i;

	if (o->vary_port && !o->spoof)
		die("--vary-port goes with --spoof");
	if (o->spoof) {
		if (o->to.ss_family != AF_INET || o->from.ss_family != AF_INET)
			die("--spoof needs IPv4 addresses in --to and --from");
		raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
		if (raw < 0)
			die("raw socket: %s", strerror(errno));
	} else {
		fd = udp_socket(o);
	}
	for (i = 0; i < o->count; i++) {
		size_t n = forged(buf, o->id, 1000 + i);
		ssize_t r = o->spoof ? spoofed_send(raw, o, buf, n, i)
				     : sendto(fd, buf, n, 0, (const struct sockaddr *)&o->to, o->tolen);

		if (r >= 0) {
			sent++;
			sent_bytes += n;
		}
		forge_drain(fd, &got, &got_bytes, o->interval_ms);
	}
	forge_drain(fd, &got, &got_bytes, o->tail_ms);
	printf("sent=%llu sent_bytes=%llu received=%llu received_bytes=%llu\n",
	       (unsigned long long)sent, (unsigned long long)sent_bytes, (unsigned long long)got,
	       (unsigned long long)got_bytes);
	if (fd >= 0)
		close(fd);
	if (raw >= 0)
		close(raw);
	return 0;
}

/* ---- ask ------------------------------------------------------------------- */

static uint32_t random_id(void)
{
	uint32_t r;

	if (getentropy(&r, sizeof(r)) < 0)
		r = (uint32_t)random();
	return r | 1u;
}

struct asker {
	int fd;
	const struct opts *o;
	struct dtls_conn *c;
	uint32_t local_id, remote_id;
	int established;
	uint64_t pn, sent, sent_bytes, got, got_bytes;
};

static void ask_out(void *arg, const uint8_t *rec, size_t len)
{
	struct asker *a = arg;
	struct wire_outer h = { .type = WIRE_HANDSHAKE, .sender_id = a->local_id };
	uint8_t buf[2048];
	size_t hl;

	if (a->established) {
		h.type = WIRE_DATA;
		h.receiver_id = a->remote_id;
	}
	hl = wire_outer_put(buf, &h);
	if (hl + len > sizeof(buf))
		return;
	memcpy(buf + hl, rec, len);
	if (sendto(a->fd, buf, hl + len, 0, (const struct sockaddr *)&a->o->to, a->o->tolen) >= 0) {
		a->sent++;
		a->sent_bytes += hl + len;
	}
}

/* ask_rx() - whatever the relay sends, for up to wait_ms: the handshake
 * goes on, anything after it is read and dropped */
static void ask_rx(struct asker *a, unsigned wait_ms)
{
	struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
	uint64_t end = clock_now_ms() + wait_ms;
	uint8_t buf[4096];
	struct wire_outer h;
	ssize_t n;
	int hl;

	for (;;) {
		uint64_t now = clock_now_ms();

		if (poll(&pfd, 1, now >= end ? 0 : (int)(end - now)) <= 0)
			return;
		while ((n = recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
			a->got++;
			a->got_bytes += (uint64_t)n;
			hl = wire_outer_parse(buf, (size_t)n, &h);
			if (hl < 0 || h.receiver_id != a->local_id)
				continue;
			if (h.type == WIRE_HANDSHAKE && h.sender_id && !a->remote_id)
				a->remote_id = h.sender_id;
			if (dtls_input(a->c, buf + hl, (size_t)n - (size_t)hl, ignore, NULL) ==
			    DTLS_ESTABLISHED)
				a->established = 1;
		}
	}
}

static void ask_send(struct asker *a, const uint8_t key[WIRE_KEY_LEN])
{
	uint8_t pkt[1400];
	struct wbuf b = { pkt, 0, sizeof(pkt) };
	unsigned i;

	wire_put_pn(&b, a->pn++);
	for (i = 0; i < a->o->frames; i++)
		if (wire_put_relay_cand(&b, WF_RELAY_CONNECT, key, 0, NULL, NULL, 0) < 0)
			break;
	dtls_write(a->c, pkt, b.len);
}

static int run_ask(const struct opts *o)
{
	static struct asker a;
	struct identity id;
	struct dtls_ctx *ctx;
	uint8_t key[WIRE_KEY_LEN];
	char err[256];
	unsigned i;

	if (strncmp(o->ask, "sha256:", 7) != 0 || hex_decode(o->ask + 7, key, sizeof(key)) < 0)
		die("--ask: not a fingerprint");
	if (identity_load(&id, o->state, err, sizeof(err)) < 0)
		die("identity: %s", err);
	ctx = dtls_ctx_new(&id, NULL, NULL, err, sizeof(err));
	if (!ctx)
		die("%s", err);
	a.o = o;
	a.fd = udp_socket(o);
	a.local_id = random_id();
	a.c = dtls_client_new(ctx, o->expect, 1400, ask_out, &a);
	/* the handshake, retransmitting on DTLS's own timer, for 10 s at most */
	for (i = 0; i < 100 && !a.established && dtls_status(a.c) == DTLS_PENDING; i++) {
		ask_rx(&a, 100);
		if (dtls_timer_us(a.c) == 0)
			dtls_on_timer(a.c);
	}
	if (!a.established)
		die("no session with the relay: %s", dtls_error(a.c));
	for (i = 0; i < o->count; i++) {
		ask_send(&a, key);
		ask_rx(&a, o->interval_ms);
	}
	printf("packets=%u frames=%u sent=%llu sent_bytes=%llu received=%llu received_bytes=%llu\n",
	       o->count, o->count * o->frames, (unsigned long long)a.sent,
	       (unsigned long long)a.sent_bytes, (unsigned long long)a.got,
	       (unsigned long long)a.got_bytes);
	dtls_conn_free(a.c);
	dtls_ctx_free(ctx);
	identity_free(&id);
	return 0;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: stranger flood --to ADDR:PORT [--from ADDR] --seconds N\n"
		"       stranger forge --to ADDR:PORT --id HEX [--from ADDR[:PORT]] [--spoof]\n"
		"                      [--vary-port] --count N [--interval-ms N] [--tail-ms N]\n"
		"       stranger ask --to ADDR:PORT --state DIR --expect FP --ask FP --count N\n"
		"                    [--frames N] [--interval-ms N]\n");
	exit(2);
}

static unsigned num(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_u64(s, min, max, &v) < 0)
		die("bad number '%s'", s);
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", 1, NULL, 't' },      { "from", 1, NULL, 'f' },
		{ "id", 1, NULL, 'i' },      { "spoof", 0, NULL, 'S' },
		{ "vary-port", 0, NULL, 'V' },
		{ "seconds", 1, NULL, 's' },
		{ "count", 1, NULL, 'c' },   { "interval-ms", 1, NULL, 'I' },
		{ "tail-ms", 1, NULL, 'T' }, { "state", 1, NULL, 'D' },
		{ "expect", 1, NULL, 'E' },  { "ask", 1, NULL, 'A' },
		{ "frames", 1, NULL, 'F' },  { NULL, 0, NULL, 0 },
	};
	struct opts o = { .seconds = 5, .count = 40, .interval_ms = 25,
			  .tail_ms = 1000, .frames = 1 };
	const char *mode;
	int c;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (addr_parse(optarg, 0, &o.to, &o.tolen) < 0)
				die("bad address '%s'", optarg);
			break;
		case 'f':
			if (addr_parse(optarg, 0, &o.from, &o.fromlen) < 0)
				die("bad address '%s'", optarg);
			break;
		case 'i':
			o.id = (uint32_t)strtoul(optarg, NULL, 16);
			break;
		case 'S':
			o.spoof = 1;
			break;
		case 'V':
			o.vary_port = 1;
			break;
		case 's':
			o.seconds = num(optarg, 1, 3600);
			break;
		case 'c':
			o.count = num(optarg, 1, 1000000);
			break;
		case 'I':
			o.interval_ms = num(optarg, 0, 60000);
			break;
		case 'T':
			o.tail_ms = num(optarg, 0, 60000);
			break;
		case 'D':
			o.state = optarg;
			break;
		case 'E':
			o.expect = optarg;
			break;
		case 'A':
			o.ask = optarg;
			break;
		case 'F':
			o.frames = num(optarg, 1, 64);
			break;
		default:
			usage();
		}
	}
	if (!o.tolen)
		usage();
	if (strcmp(mode, "flood") == 0)
		return run_flood(&o);
	if (strcmp(mode, "forge") == 0 && o.id)
		return run_forge(&o);
	if (strcmp(mode, "ask") == 0 && o.state && o.expect && o.ask)
		return run_ask(&o);
	usage();
	return 2;
}
