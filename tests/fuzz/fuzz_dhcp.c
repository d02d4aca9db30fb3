/* fuzz_dhcp.c: the provider's DHCP server (src/dhcp.c) on what a VM sends.
 *
 * One server per input, then a conversation: each message is a 2-byte
 * length, the message, a 2-byte time step in seconds and a byte choosing
 * the reply buffer (full size, or too small).  Every reply must fit its
 * buffer, be a BOOTREPLY to the request's transaction with a well-formed
 * option list, and the leases stay inside the pool. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "dhcp.h"
#include "fuzz.h"
#include "log.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const uint8_t cookie[4] = { 99, 130, 83, 99 };

/* check_reply() - a BOOTREPLY, our xid, options that end inside it */
static void check_reply(const uint8_t *req, size_t reqlen, const uint8_t *r, size_t len)
{
	size_t off = 240;

	CHECK(len >= 240 && len <= DHCP_REPLY_MAX);
	CHECK(r[0] == 2 && memcmp(r + 236, cookie, 4) == 0);
	if (reqlen >= 8)
		CHECK(memcmp(r + 4, req + 4, 4) == 0);
	while (off < len && r[off] != 255) {
		if (r[off] == 0) {
			off++;
			continue;
		}
		CHECK(off + 1 < len);
		off += 2 + r[off + 1];
		CHECK(off <= len);
	}
	CHECK(off < len); /* an END */
}

static void conversation(struct dhcp_server *s, const struct dhcp_config *cfg, struct fin *in)
{
	uint64_t now = 1000000;
	int n = 0;

	while (in->n && n++ < 64) {
		const uint8_t *msg;
		size_t len = fin_take(in, fin_u16(in) % 1500, &msg);
		uint8_t *copy = malloc(len ? len : 1), *out;
		size_t cap = fin_u8(in) & 1 ? DHCP_REPLY_MAX : fin_u8(in) % DHCP_REPLY_MAX;
		struct in_addr a;
		int r;

		now += (uint64_t)fin_u16(in) * 1000;
		memcpy(copy, msg, len);
		out = malloc(cap ? cap : 1);
		r = dhcp_handle(s, copy, len, now, out, cap);
		CHECK(r >= -1 && r <= (int)cap);
		if (r > 0)
			check_reply(copy, len, out, (size_t)r);
		CHECK(dhcp_lease_count(s, now) <= cfg->pool_size);
		if (dhcp_lease_first(s, now, &a) == 0) {
			uint32_t off = ntohl(a.s_addr) - ntohl(cfg->pool_start.s_addr);

			CHECK(off < cfg->pool_size);
		}
		free(out);
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct dhcp_config cfg;
	struct dhcp_server *s;
	uint8_t shape = fin_u8(&in);

	dhcp_config_default(&cfg);
	if (shape & 1)
		cfg.mtu = 1400;
	if (shape & 2)
		strcpy(cfg.domain, "vm.example");
	if (shape & 4)
		cfg.pool_size = 2; /* a pool that runs out */
	s = dhcp_new(&cfg);
	CHECK(s != NULL);
	conversation(s, &cfg, &in);
	dhcp_counters(s);
	dhcp_free(s);
	return 0;
}

/* ---- seeds: conversations a real client has, the server's answers fed
 * back into the next request ------------------------------------------- */

struct msg {
	uint8_t b[548];
	size_t n;
};

static void msg_new(struct msg *m, uint8_t type, uint32_t xid, uint8_t mac)
{
	memset(m, 0, sizeof(*m));
	m->b[0] = 1; /* BOOTREQUEST */
	m->b[1] = 1; /* Ethernet */
	m->b[2] = 6;
	memcpy(m->b + 4, &xid, 4);
	m->b[28] = 0x52;
	m->b[29] = 0x54;
	m->b[33] = mac;
	memcpy(m->b + 236, cookie, 4);
	m->n = 240;
	m->b[m->n++] = 53;
	m->b[m->n++] = 1;
	m->b[m->n++] = type;
}

static void msg_opt(struct msg *m, uint8_t code, const void *v, uint8_t len)
{
	m->b[m->n++] = code;
	m->b[m->n++] = len;
	memcpy(m->b + m->n, v, len);
	m->n += len;
}

static void msg_end(struct msg *m)
{
	static const uint8_t params[] = { 1, 3, 6, 15, 26, 51 };

	msg_opt(m, 55, params, sizeof(params));
	m->b[m->n++] = 255;
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

/* offered() - the address and server id of the server's answer to m */
static int offered(struct dhcp_server *s, const struct msg *m, uint8_t yiaddr[4], uint8_t sid[4])
{
	uint8_t out[DHCP_REPLY_MAX];
	int r = dhcp_handle(s, m->b, m->n, 1000000, out, sizeof(out));

	size_t off = 240;

	if (r < 240)
		return -1;
	memcpy(yiaddr, out + 16, 4);
	while (off + 1 < (size_t)r && out[off] != 255) {
		if (out[off] == 54 && out[off + 1] == 4 && off + 6 <= (size_t)r) {
			memcpy(sid, out + off + 2, 4);
			return 0;
		}
		off += out[off] ? 2 + out[off + 1] : 1;
	}
	return -1;
}

static void seeds(const char *dir)
{
	struct dhcp_config cfg;
	struct dhcp_server *s;
	struct prog p = { .b = { 0 }, .n = 1 };
	struct msg m;
	uint8_t ip[4], sid[4], cid[7] = { 1, 0x52, 0x54, 0, 0, 0, 9 };
	static const uint8_t lease[4] = { 0, 0, 0x0e, 0x10 };

	dhcp_config_default(&cfg);
	s = dhcp_new(&cfg);
	msg_new(&m, 1, 0x11223344, 9); /* DISCOVER */
	msg_opt(&m, 61, cid, sizeof(cid));
	msg_end(&m);
	prog_add(&p, &m, 0);
	fuzz_seed(dir, "discover", p.b, p.n);
	if (offered(s, &m, ip, sid) < 0)
		abort();
	msg_new(&m, 3, 0x11223344, 9); /* REQUEST, selecting */
	msg_opt(&m, 50, ip, 4);
	msg_opt(&m, 54, sid, 4);
	msg_opt(&m, 51, lease, 4);
	msg_end(&m);
	prog_add(&p, &m, 1);
	fuzz_seed(dir, "discover-request", p.b, p.n);
	msg_new(&m, 3, 0x55667788, 9); /* REQUEST, renewing: ciaddr */
	memcpy(m.b + 12, ip, 4);
	msg_end(&m);
	prog_add(&p, &m, 43200);
	msg_new(&m, 8, 0x55667789, 9); /* INFORM */
	memcpy(m.b + 12, ip, 4);
	msg_end(&m);
	prog_add(&p, &m, 1);
	msg_new(&m, 4, 0x5566778a, 9); /* DECLINE */
	msg_opt(&m, 50, ip, 4);
	msg_opt(&m, 54, sid, 4);
	msg_end(&m);
	prog_add(&p, &m, 1);
	msg_new(&m, 7, 0x5566778b, 9); /* RELEASE */
	memcpy(m.b + 12, ip, 4);
	msg_opt(&m, 54, sid, 4);
	msg_end(&m);
	prog_add(&p, &m, 1);
	fuzz_seed(dir, "lease-lifecycle", p.b, p.n);
	p.n = 1;
	msg_new(&m, 3, 0x01020304, 10); /* INIT-REBOOT: a remembered address */
	msg_opt(&m, 50, ip, 4);
	msg_end(&m);
	prog_add(&p, &m, 0);
	msg_new(&m, 1, 0x01020305, 11);
	m.b[m.n++] = 52; /* overload: options in file and sname */
	m.b[m.n++] = 1;
	m.b[m.n++] = 3;
	m.b[108] = 255;
	m.b[44] = 255;
	msg_end(&m);
	prog_add(&p, &m, 0);
	fuzz_seed(dir, "reboot-overload", p.b, p.n);
	dhcp_free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
