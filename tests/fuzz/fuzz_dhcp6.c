/* fuzz_dhcp6.c: the provider's DHCPv6 server (src/core/dhcp6.c) on what a
 * VM sends.
 *
 * One server per input (the first byte shapes its configuration), then a
 * conversation: each message is a 2-byte length, the message, a byte
 * choosing the reply buffer (full size, or too small) and a 2-byte time
 * step in seconds.  Every reply must fit its buffer, be an ADVERTISE or
 * REPLY to the request's transaction carrying our Server Identifier, its
 * options (and those inside IAs) well formed; the leases stay inside the
 * pool. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "dhcp6.h"
#include "fuzz.h"
#include "log.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const uint8_t our_duid[10] = { 0, 3, 0, 1, 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74 };

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* check_opts() - options that end inside their n octets; the IAs' own
 * options too (depth 1), and a Server Identifier that is ours at the top */
static void check_opts(const uint8_t *p, size_t n, int top)
{
	size_t off = 0;
	int sid = 0;

	while (off < n) {
		uint16_t code, len;

		CHECK(n - off >= 4);
		code = get16(p + off);
		len = get16(p + off + 2);
		CHECK(len <= n - off - 4);
		if (top && code == 2) {
			CHECK(len == sizeof(our_duid) && memcmp(p + off + 4, our_duid, len) == 0);
			sid++;
		}
		if (top && (code == 3 || code == 25)) {
			CHECK(len >= 12);
			check_opts(p + off + 4 + 12, len - 12u, 0);
		}
		if (top && code == 4) {
			CHECK(len >= 4);
			check_opts(p + off + 4 + 4, len - 4u, 0);
		}
		off += 4 + (size_t)len;
	}
	CHECK(!top || sid == 1);
}

static void check_reply(const uint8_t *req, const uint8_t *r, size_t len)
{
	CHECK(len >= 4 && len <= DHCP6_REPLY_MAX);
	CHECK(r[0] == 2 || r[0] == 7);
	CHECK(memcmp(r + 1, req + 1, 3) == 0);
	check_opts(r + 4, len - 4, 1);
}

static void conversation(struct dhcp6_server *s, const struct dhcp6_config *cfg, struct fin *in)
{
	uint64_t now = 1000000;
	int n = 0;

	while (in->n && n++ < 64) {
		const uint8_t *msg;
		size_t len = fin_take(in, fin_u16(in) % 1500, &msg);
		uint8_t *copy = malloc(len ? len : 1), *out;
		size_t cap = fin_u8(in) & 1 ? DHCP6_REPLY_MAX : fin_u8(in) % 128;
		struct in6_addr a;
		int r;

		now += (uint64_t)fin_u16(in) * 1000;
		memcpy(copy, msg, len);
		out = malloc(cap ? cap : 1);
		r = dhcp6_handle(s, copy, len, now, out, cap);
		CHECK(r >= -1 && r <= (int)cap);
		if (r > 0)
			check_reply(copy, out, (size_t)r);
		CHECK(dhcp6_lease_count(s, now) <= cfg->pool_size);
		if (dhcp6_lease_first(s, now, &a) == 0) {
			CHECK(memcmp(&a, &cfg->pool_start, 14) == 0);
			CHECK((unsigned)(get16(a.s6_addr + 14) - get16(cfg->pool_start.s6_addr + 14)) <
			      cfg->pool_size);
		}
		free(out);
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct dhcp6_config cfg;
	struct dhcp6_server *s;
	const struct dhcp6_counters *c;
	uint8_t shape = fin_u8(&in);

	dhcp6_config_default(&cfg);
	if (shape & 1)
		strcpy(cfg.domain, "vm.example");
	if (shape & 2)
		cfg.pool_size = 2; /* a pool that runs out */
	if (shape & 4) {
		cfg.dns_count = DHCP6_DNS_MAX;
		inet_pton(AF_INET6, "2001:db8::53", &cfg.dns[1]);
		inet_pton(AF_INET6, "2001:db8::54", &cfg.dns[2]);
	}
	if (shape & 8) { /* leases that lapse within a conversation */
		cfg.preferred_ms = 30000;
		cfg.valid_ms = 60000;
	}
	s = dhcp6_new(&cfg);
	CHECK(s != NULL);
	conversation(s, &cfg, &in);
	c = dhcp6_counters(s);
	CHECK(c->rx == c->malformed + c->ignored + c->tx);
	dhcp6_free(s);
	return 0;
}

/* ---- seeds: conversations real clients have ------------------------- */

struct msg {
	uint8_t b[512];
	size_t n;
};

static void put16(struct msg *m, uint16_t v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void msg_opt(struct msg *m, uint16_t code, const void *v, uint16_t len)
{
	put16(m, code);
	put16(m, len);
	if (len)
		memcpy(m->b + m->n, v, len);
	m->n += len;
}

/* msg_new() - dhclient's opening: client id (DUID-LLT), elapsed time, ORO */
static void msg_new(struct msg *m, uint8_t type, uint32_t xid, uint8_t mac, int sid)
{
	const uint8_t duid[14] = { 0, 1, 0, 1, 0x2c, 0x4f, 0x11, 0x9a,
				   0x52, 0x54, 0x00, 0x12, 0x34, mac };
	static const uint8_t oro[4] = { 0, 23, 0, 24 }, elapsed[2];

	memset(m, 0, sizeof(*m));
	m->b[0] = type;
	m->b[1] = (uint8_t)(xid >> 16);
	m->b[2] = (uint8_t)(xid >> 8);
	m->b[3] = (uint8_t)xid;
	m->n = 4;
	msg_opt(m, 1, duid, sizeof(duid));
	if (sid)
		msg_opt(m, 2, our_duid, sizeof(our_duid));
	msg_opt(m, 8, elapsed, sizeof(elapsed));
	msg_opt(m, 6, oro, sizeof(oro));
}

/* msg_ia() - an IA_NA (or IA_PD: code 25) naming addr if not NULL */
static void msg_ia(struct msg *m, uint16_t code, uint32_t iaid, const struct in6_addr *addr)
{
	put16(m, code);
	put16(m, addr ? 12 + 28 : 12);
	put32(m, iaid);
	put32(m, 0);
	put32(m, 0);
	if (!addr)
		return;
	put16(m, 5);
	put16(m, 24);
	memcpy(m->b + m->n, addr, 16);
	m->n += 16;
	put32(m, 3600);
	put32(m, 7200);
}

struct prog {
	uint8_t b[8192];
	size_t n;
};

static void prog_add(struct prog *p, const struct msg *m, uint16_t step_s)
{
	p->b[p->n++] = (uint8_t)(m->n >> 8);
	p->b[p->n++] = (uint8_t)m->n;
	memcpy(p->b + p->n, m->b, m->n);
	p->n += m->n;
	p->b[p->n++] = 1; /* a full reply buffer */
	p->b[p->n++] = (uint8_t)(step_s >> 8);
	p->b[p->n++] = (uint8_t)step_s;
}

static void seeds(const char *dir)
{
	struct prog p = { .b = { 0 }, .n = 1 };
	struct in6_addr addr, off;
	struct msg m;

	inet_pton(AF_INET6, "fd6f:6d6e:6574::1000", &addr);
	inet_pton(AF_INET6, "2001:db8::1000", &off);
	msg_new(&m, 1, 0x5a1b2c, 9, 0); /* SOLICIT */
	msg_ia(&m, 3, 0x1234, NULL);
	prog_add(&p, &m, 0);
	fuzz_seed(dir, "solicit", p.b, p.n);
	msg_new(&m, 3, 0x5a1b2d, 9, 1); /* REQUEST */
	msg_ia(&m, 3, 0x1234, &addr);
	prog_add(&p, &m, 1);
	fuzz_seed(dir, "solicit-request", p.b, p.n);
	msg_new(&m, 5, 0x010203, 9, 1); /* RENEW */
	msg_ia(&m, 3, 0x1234, &addr);
	prog_add(&p, &m, 1800);
	msg_new(&m, 6, 0x010204, 9, 0); /* REBIND */
	msg_ia(&m, 3, 0x1234, &addr);
	prog_add(&p, &m, 2880);
	msg_new(&m, 4, 0x010205, 9, 0); /* CONFIRM */
	msg_ia(&m, 3, 0x1234, &addr);
	prog_add(&p, &m, 1);
	msg_new(&m, 11, 0x010206, 9, 0); /* INFORMATION-REQUEST */
	prog_add(&p, &m, 1);
	msg_new(&m, 9, 0x010207, 9, 1); /* DECLINE */
	msg_ia(&m, 3, 0x1234, &addr);
	prog_add(&p, &m, 1);
	msg_new(&m, 8, 0x010208, 9, 1); /* RELEASE */
	msg_ia(&m, 3, 0x1234, &addr);
	prog_add(&p, &m, 1);
	fuzz_seed(dir, "lease-lifecycle", p.b, p.n);
	p.n = 1;
	p.b[0] = 2; /* a pool of two */
	msg_new(&m, 1, 0x111111, 10, 0); /* rapid commit, with IA_PD */
	msg_opt(&m, 14, NULL, 0);
	msg_ia(&m, 3, 1, NULL);
	msg_ia(&m, 3, 2, NULL);
	msg_ia(&m, 25, 3, NULL);
	prog_add(&p, &m, 0);
	msg_new(&m, 1, 0x111112, 11, 0);
	msg_opt(&m, 14, NULL, 0);
	msg_ia(&m, 3, 1, NULL);
	prog_add(&p, &m, 0);
	msg_new(&m, 3, 0x111113, 12, 1); /* off the link */
	msg_ia(&m, 3, 1, &off);
	prog_add(&p, &m, 0);
	fuzz_seed(dir, "rapid-exhausted-offlink", p.b, p.n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
