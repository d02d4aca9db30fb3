/* test_dhcp6.c: the DHCPv6 server core, driven with client messages built
 * here byte by byte as dhclient -6, busybox udhcpc6 and systemd-networkd
 * send them, and a simulated clock. */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp6.h"
#include "log.h"

#define SOLICIT		1
#define ADVERTISE	2
#define REQUEST		3
#define CONFIRM		4
#define RENEW		5
#define REBIND		6
#define REPLY		7
#define RELEASE		8
#define DECLINE		9
#define RECONFIGURE	10
#define INFO_REQUEST	11
#define RELAY_FORW	12
#define RELAY_REPL	13

#define O_CLIENTID	1
#define O_SERVERID	2
#define O_IA_NA		3
#define O_IA_TA		4
#define O_IAADDR	5
#define O_ORO		6
#define O_PREFERENCE	7
#define O_ELAPSED	8
#define O_STATUS	13
#define O_RAPID		14
#define O_DNS		23
#define O_DOMAINS	24
#define O_IA_PD		25
#define O_IAPREFIX	26

#define S_SUCCESS	0
#define S_NOADDRS	2
#define S_NOBINDING	3
#define S_NOTONLINK	4
#define S_NOPREFIX	6

#define PREFERRED_S	3600u
#define VALID_MS	7200000ull
#define DECLINE_HOLD_MS	600000ull
#define T0		1000000ull

static struct dhcp6_server *srv;

/* the default server's DUID-LL: type 3, Ethernet, 02:6f:6d:6e:65:74 */
static const uint8_t our_duid[10] = { 0, 3, 0, 1, 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74 };

/* --- client message builder --- */

struct cmsg {
	uint8_t b[2048];
	size_t len;
};

static void msg_raw(struct cmsg *m, const void *v, size_t n)
{
	ck_assert_uint_le(m->len + n, sizeof(m->b));
	if (n)
		memcpy(m->b + m->len, v, n);
	m->len += n;
}

static void msg_u16(struct cmsg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	msg_raw(m, b, 2);
}

static void msg_u32(struct cmsg *m, uint32_t v)
{
	msg_u16(m, (uint16_t)(v >> 16));
	msg_u16(m, (uint16_t)v);
}

/* msg_begin() - an option header whose length msg_close() fills in */
static size_t msg_begin(struct cmsg *m, uint16_t code)
{
	size_t at = m->len;

	msg_u16(m, code);
	msg_u16(m, 0);
	return at;
}

static void msg_close(struct cmsg *m, size_t at)
{
	size_t n = m->len - at - 4;

	m->b[at + 2] = (uint8_t)(n >> 8);
	m->b[at + 3] = (uint8_t)n;
}

static void msg_opt(struct cmsg *m, uint16_t code, const void *v, size_t n)
{
	size_t at = msg_begin(m, code);

	msg_raw(m, v, n);
	msg_close(m, at);
}

/* msg_init() - message type and a 24-bit transaction id */
static void msg_init(struct cmsg *m, uint8_t type, uint32_t xid)
{
	memset(m, 0, sizeof(*m));
	m->b[0] = type;
	m->b[1] = (uint8_t)(xid >> 16);
	m->b[2] = (uint8_t)(xid >> 8);
	m->b[3] = (uint8_t)xid;
	m->len = 4;
}

/* msg_client_id() - dhclient's DUID-LLT: type 1, Ethernet, a time, and
 * 52:54:00:12:34:<mac> */
static void msg_client_id(struct cmsg *m, uint8_t mac)
{
	const uint8_t duid[14] = { 0, 1, 0, 1, 0x2c, 0x4f, 0x11, 0x9a,
				   0x52, 0x54, 0x00, 0x12, 0x34, mac };

	msg_opt(m, O_CLIENTID, duid, sizeof(duid));
}

static void msg_server_id(struct cmsg *m)
{
	msg_opt(m, O_SERVERID, our_duid, sizeof(our_duid));
}

/* msg_common() - elapsed time and an ORO for DNS and the domain list, as
 * every client sends */
static void msg_common(struct cmsg *m)
{
	static const uint8_t oro[4] = { 0, O_DNS, 0, O_DOMAINS };
	static const uint8_t elapsed[2] = { 0, 0 };

	msg_opt(m, O_ELAPSED, elapsed, 2);
	msg_opt(m, O_ORO, oro, sizeof(oro));
}

/* msg_iaaddr() - an IAADDR for a client's address, lifetimes its own */
static void msg_iaaddr(struct cmsg *m, const char *addr)
{
	struct in6_addr a;
	size_t at;

	ck_assert_int_eq(inet_pton(AF_INET6, addr, &a), 1);
	at = msg_begin(m, O_IAADDR);
	msg_raw(m, &a, 16);
	msg_u32(m, 7200);
	msg_u32(m, 7500);
	msg_close(m, at);
}

/* msg_ia() - an IA_NA or IA_PD (T1, T2 zero) or IA_TA with up to two
 * addresses */
static void msg_ia(struct cmsg *m, uint16_t code, uint32_t iaid, const char *a1,
		   const char *a2)
{
	size_t at = msg_begin(m, code);

	msg_u32(m, iaid);
	if (code != O_IA_TA) {
		msg_u32(m, 0);
		msg_u32(m, 0);
	}
	if (a1)
		msg_iaaddr(m, a1);
	if (a2)
		msg_iaaddr(m, a2);
	msg_close(m, at);
}

/* msg_client() - a client message from mac about IA_NA iaid listing addr
 * (NULL: none), with our server id when sid */
static void msg_client(struct cmsg *m, uint8_t type, uint8_t mac, uint32_t iaid,
		       const char *addr, int sid)
{
	msg_init(m, type, 0x10000u * type + mac);
	msg_client_id(m, mac);
	if (sid)
		msg_server_id(m);
	msg_common(m);
	msg_ia(m, O_IA_NA, iaid, addr, NULL);
}

/* --- reply parser --- */

struct rep_ia {
	uint16_t code;
	uint32_t iaid, t1, t2;
	int naddr;
	char addr[8][INET6_ADDRSTRLEN];
	uint32_t pref[8], valid[8];
	int status;	/* -1: none */
};

struct rep {
	uint8_t b[DHCP6_REPLY_MAX];
	int len;
	uint8_t type;
	const uint8_t *opt[64];	/* first of each top-level option but IAs */
	uint16_t optlen[64];
	struct rep_ia ia[8];
	int nia;
	int status;		/* top-level; -1: none */
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* rep_status() - a status code option: its code, with a message */
static int rep_status(const uint8_t *v, uint16_t n)
{
	ck_assert_uint_ge(n, 2);
	ck_assert_uint_le(n, 2 + 64);
	return get16(v);
}

/* rep_ia_parse() - an IA option of a reply, strictly */
static void rep_ia_parse(struct rep_ia *ia, uint16_t code, const uint8_t *v, uint16_t n)
{
	size_t hdr = code == O_IA_TA ? 4 : 12, off;

	memset(ia, 0, sizeof(*ia));
	ia->code = code;
	ia->status = -1;
	ck_assert_uint_ge(n, hdr);
	ia->iaid = get32(v);
	if (code != O_IA_TA) {
		ia->t1 = get32(v + 4);
		ia->t2 = get32(v + 8);
	}
	for (off = hdr; off < n;) {
		uint16_t c, l;

		ck_assert_uint_ge(n - off, 4);
		c = get16(v + off);
		l = get16(v + off + 2);
		ck_assert_uint_le(l, n - off - 4);
		if (c == O_IAADDR) {
			ck_assert_uint_eq(l, 24);
			ck_assert_int_lt(ia->naddr, 8);
			inet_ntop(AF_INET6, v + off + 4, ia->addr[ia->naddr], INET6_ADDRSTRLEN);
			ia->pref[ia->naddr] = get32(v + off + 20);
			ia->valid[ia->naddr] = get32(v + off + 24);
			ck_assert_uint_le(ia->pref[ia->naddr], ia->valid[ia->naddr]);
			ia->naddr++;
		} else {
			ck_assert_uint_eq(c, O_STATUS);
			ck_assert_int_eq(ia->status, -1);
			ia->status = rep_status(v + off + 4, l);
		}
		off += 4 + (size_t)l;
	}
	/* a status comes alone (RFC 8415 18.3.x) */
	ck_assert(ia->status < 0 || ia->naddr == 0);
}

/* rep_parse() - check a reply is well formed and index its options */
static void rep_parse(struct rep *r)
{
	size_t off = 4, n = (size_t)r->len;

	ck_assert_int_ge(r->len, 4);
	r->type = r->b[0];
	ck_assert(r->type == ADVERTISE || r->type == REPLY);
	r->status = -1;
	while (off < n) {
		uint16_t c, l;

		ck_assert_uint_ge(n - off, 4);
		c = get16(r->b + off);
		l = get16(r->b + off + 2);
		ck_assert_uint_le(l, n - off - 4);
		if (c == O_IA_NA || c == O_IA_TA || c == O_IA_PD) {
			ck_assert_int_lt(r->nia, 8);
			rep_ia_parse(&r->ia[r->nia++], c, r->b + off + 4, l);
		} else {
			ck_assert_uint_lt(c, 64);
			ck_assert_ptr_null(r->opt[c]);
			r->opt[c] = r->b + off + 4;
			r->optlen[c] = l;
			if (c == O_STATUS)
				r->status = rep_status(r->b + off + 4, l);
		}
		off += 4 + (size_t)l;
	}
}

/* msg_find() - a top-level option of a client message, NULL if absent */
static const uint8_t *msg_find(const struct cmsg *m, uint16_t code, uint16_t *len)
{
	size_t off = 4;

	while (off + 4 <= m->len) {
		uint16_t l = get16(m->b + off + 2);

		if (off + 4 + l > m->len)
			return NULL;
		if (get16(m->b + off) == code) {
			*len = l;
			return m->b + off + 4;
		}
		off += 4 + (size_t)l;
	}
	return NULL;
}

/* check_ids() - what every reply carries (RFC 8415 18.3): the request's
 * transaction id, our Server Identifier, the client's Client Identifier */
static void check_ids(const struct cmsg *m, const struct rep *r)
{
	const uint8_t *cid;
	uint16_t cidlen = 0;

	ck_assert_mem_eq(r->b + 1, m->b + 1, 3);
	ck_assert_ptr_nonnull(r->opt[O_SERVERID]);
	ck_assert_uint_eq(r->optlen[O_SERVERID], sizeof(our_duid));
	ck_assert_mem_eq(r->opt[O_SERVERID], our_duid, sizeof(our_duid));
	cid = msg_find(m, O_CLIENTID, &cidlen);
	if (!cid) {
		ck_assert_ptr_null(r->opt[O_CLIENTID]);
		return;
	}
	ck_assert_ptr_nonnull(r->opt[O_CLIENTID]);
	ck_assert_uint_eq(r->optlen[O_CLIENTID], cidlen);
	ck_assert_mem_eq(r->opt[O_CLIENTID], cid, cidlen);
}

/* handle_cap() - feed m to srv at now_ms with a cap-byte buffer; the reply,
 * if any, lands parsed and checked in r */
static int handle_cap(const struct cmsg *m, uint64_t now_ms, struct rep *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->len = dhcp6_handle(srv, m->b, m->len, now_ms, r->b, cap);
	if (r->len > 0) {
		rep_parse(r);
		check_ids(m, r);
	}
	return r->len;
}

static int handle(const struct cmsg *m, uint64_t now_ms, struct rep *r)
{
	return handle_cap(m, now_ms, r, sizeof(r->b));
}

/* solicit() - a SOLICIT from mac for IA_NA iaid, rapid commit or not */
static void solicit(struct cmsg *m, uint8_t mac, uint32_t iaid, int rapid)
{
	msg_init(m, SOLICIT, 0xabc000u + mac);
	msg_client_id(m, mac);
	msg_common(m);
	if (rapid)
		msg_opt(m, O_RAPID, NULL, 0);
	msg_ia(m, O_IA_NA, iaid, NULL, NULL);
}

/* offered() - the address advertised to mac for iaid, or "none" */
static const char *offered(uint8_t mac, uint32_t iaid, uint64_t now_ms)
{
	static char addr[INET6_ADDRSTRLEN];
	struct cmsg m;
	struct rep r;

	solicit(&m, mac, iaid, 0);
	ck_assert_int_gt(handle(&m, now_ms, &r), 0);
	ck_assert_uint_eq(r.type, ADVERTISE);
	ck_assert_int_eq(r.nia, 1);
	if (r.ia[0].naddr == 0)
		return "none";
	snprintf(addr, sizeof(addr), "%s", r.ia[0].addr[0]);
	return addr;
}

/* reply_addr() - the one address the first IA of r holds, "none" when
 * it holds none */
static const char *reply_addr(const struct rep *r)
{
	ck_assert_int_ge(r->nia, 1);
	return r->ia[0].naddr ? r->ia[0].addr[0] : "none";
}

/* lease_for() - SOLICIT, ADVERTISE, REQUEST, REPLY for mac and iaid at
 * now_ms; returns the address bound */
static const char *lease_for(uint8_t mac, uint32_t iaid, uint64_t now_ms)
{
	static char addr[INET6_ADDRSTRLEN];
	struct cmsg m;
	struct rep r;

	snprintf(addr, sizeof(addr), "%s", offered(mac, iaid, now_ms));
	ck_assert_str_ne(addr, "none");
	msg_client(&m, REQUEST, mac, iaid, addr, 1);
	ck_assert_int_gt(handle(&m, now_ms, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_str_eq(reply_addr(&r), addr);
	return addr;
}

/* first_lease() - dhcp6_lease_first() as a string, "none" when it fails */
static const char *first_lease(uint64_t now_ms)
{
	static char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (dhcp6_lease_first(srv, now_ms, &a) < 0)
		return "none";
	return inet_ntop(AF_INET6, &a, buf, sizeof(buf));
}

/* replace_server() - swap srv for one built from cfg */
static void replace_server(const struct dhcp6_config *cfg)
{
	dhcp6_free(srv);
	srv = dhcp6_new(cfg);
	ck_assert_ptr_nonnull(srv);
}

static void setup(void)
{
	struct dhcp6_config cfg;

	dhcp6_config_default(&cfg);
	srv = dhcp6_new(&cfg);
	ck_assert_ptr_nonnull(srv);
}

static void teardown(void)
{
	dhcp6_free(srv);
	srv = NULL;
}

/* --- configuration --- */

START_TEST(test_default_config)
{
	struct dhcp6_config c;
	char buf[INET6_ADDRSTRLEN];

	memset(&c, 0xaa, sizeof(c));
	dhcp6_config_default(&c);
	ck_assert_str_eq(inet_ntop(AF_INET6, &c.prefix, buf, sizeof(buf)), "fd6f:6d6e:6574::");
	ck_assert_str_eq(inet_ntop(AF_INET6, &c.pool_start, buf, sizeof(buf)),
			 "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(inet_ntop(AF_INET6, &c.dns[0], buf, sizeof(buf)), "fd6f:6d6e:6574::3");
	ck_assert_uint_eq(c.dns_count, 1);
	ck_assert_uint_eq(c.pool_size, 256);
	ck_assert_uint_eq(c.preferred_ms, 3600000);
	ck_assert_uint_eq(c.valid_ms, 7200000);
	ck_assert_str_eq(c.domain, "");
	ck_assert_mem_eq(c.mac, our_duid + 4, 6);
}
END_TEST

START_TEST(test_bad_config_is_refused)
{
	struct dhcp6_config c;

	dhcp6_config_default(&c);
	c.pool_size = 0;
	ck_assert_ptr_null(dhcp6_new(&c));
	c.pool_size = DHCP6_POOL_MAX + 1;
	ck_assert_ptr_null(dhcp6_new(&c));
	dhcp6_config_default(&c);
	inet_pton(AF_INET6, "fd00:1::1000", &c.pool_start); /* another prefix */
	ck_assert_ptr_null(dhcp6_new(&c));
	inet_pton(AF_INET6, "fd6f:6d6e:6574::", &c.pool_start); /* subnet-router anycast */
	ck_assert_ptr_null(dhcp6_new(&c));
	inet_pton(AF_INET6, "fd6f:6d6e:6574:0:fdff:ffff:ffff:ff00", &c.pool_start);
	c.pool_size = 129; /* reaches ...ff80, reserved (RFC 5453) */
	ck_assert_ptr_null(dhcp6_new(&c));
	c.pool_size = 128;
	replace_server(&c);
	dhcp6_config_default(&c);
	inet_pton(AF_INET6, "fd6f:6d6e:6574::1", &c.pool_start); /* holds ::3, the DNS */
	ck_assert_ptr_null(dhcp6_new(&c));
	dhcp6_config_default(&c);
	inet_pton(AF_INET6, "fe80::", &c.prefix);
	ck_assert_ptr_null(dhcp6_new(&c));
	dhcp6_config_default(&c);
	c.dns_count = 0;
	ck_assert_ptr_null(dhcp6_new(&c));
	c.dns_count = DHCP6_DNS_MAX + 1;
	ck_assert_ptr_null(dhcp6_new(&c));
	c.dns_count = 2; /* the second is :: */
	ck_assert_ptr_null(dhcp6_new(&c));
	inet_pton(AF_INET6, "ff02::1", &c.dns[1]);
	ck_assert_ptr_null(dhcp6_new(&c));
	dhcp6_config_default(&c);
	c.preferred_ms = 999;
	ck_assert_ptr_null(dhcp6_new(&c));
	dhcp6_config_default(&c);
	c.valid_ms = c.preferred_ms - 1;
	ck_assert_ptr_null(dhcp6_new(&c));
	dhcp6_config_default(&c);
	strcpy(c.domain, "vm..example");
	ck_assert_ptr_null(dhcp6_new(&c));
	memset(c.domain, 'a', 64);
	c.domain[64] = '\0'; /* a 64-octet label */
	ck_assert_ptr_null(dhcp6_new(&c));
	memset(c.domain, 'a', sizeof(c.domain));
	ck_assert_ptr_null(dhcp6_new(&c));
	strcpy(c.domain, ".");
	ck_assert_ptr_null(dhcp6_new(&c));
	strcpy(c.domain, "vm.example.");
	replace_server(&c);
}
END_TEST

/* --- the exchanges --- */

/* dhclient -6's first SOLICIT, and the ADVERTISE it gets, byte by byte */
START_TEST(test_solicit_advertises_pool_start)
{
	static const uint8_t sol[] = {
		SOLICIT, 0x5a, 0x1b, 0x2c,
		0, O_CLIENTID, 0, 14, 0, 1, 0, 1, 0x2c, 0x4f, 0x11, 0x9a,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
		0, O_ORO, 0, 4, 0, O_DNS, 0, O_DOMAINS,
		0, O_ELAPSED, 0, 2, 0, 0,
		0, O_IA_NA, 0, 12, 0x00, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t adv[] = {
		ADVERTISE, 0x5a, 0x1b, 0x2c,
		0, O_SERVERID, 0, 10, 0, 3, 0, 1, 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74,
		0, O_CLIENTID, 0, 14, 0, 1, 0, 1, 0x2c, 0x4f, 0x11, 0x9a,
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
		0, O_PREFERENCE, 0, 1, 255,
		/* IA_NA: T1 1800, T2 2880 */
		0, O_IA_NA, 0, 40, 0x00, 0x12, 0x34, 0x56,
		0x00, 0x00, 0x07, 0x08, 0x00, 0x00, 0x0b, 0x40,
		/* IAADDR fd6f:6d6e:6574::1000, preferred 3600, valid 7200 */
		0, O_IAADDR, 0, 24,
		0xfd, 0x6f, 0x6d, 0x6e, 0x65, 0x74, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00,
		0x00, 0x00, 0x0e, 0x10, 0x00, 0x00, 0x1c, 0x20,
		/* DNS fd6f:6d6e:6574::3 */
		0, O_DNS, 0, 16,
		0xfd, 0x6f, 0x6d, 0x6e, 0x65, 0x74, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03,
	};
	uint8_t out[DHCP6_REPLY_MAX];
	const struct dhcp6_counters *c = dhcp6_counters(srv);

	ck_assert_int_eq(dhcp6_handle(srv, sol, sizeof(sol), T0, out, sizeof(out)),
			 (int)sizeof(adv));
	ck_assert_mem_eq(out, adv, sizeof(adv));
	/* advertised, not bound */
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 0);
	ck_assert_str_eq(first_lease(T0), "none");
	ck_assert_uint_eq(c->rx, 1);
	ck_assert_uint_eq(c->tx, 1);
	ck_assert_uint_eq(c->advertises, 1);
	ck_assert_uint_eq(c->replies, 0);
}
END_TEST

START_TEST(test_full_exchange_binds_pool_start)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(offered(0x56, 1, T0), "fd6f:6d6e:6574::1000");
	msg_client(&m, REQUEST, 0x56, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.status, -1);
	ck_assert_int_eq(r.nia, 1);
	ck_assert_uint_eq(r.ia[0].code, O_IA_NA);
	ck_assert_uint_eq(r.ia[0].iaid, 1);
	ck_assert_uint_eq(r.ia[0].t1, PREFERRED_S / 2);
	ck_assert_uint_eq(r.ia[0].t2, PREFERRED_S * 4 / 5);
	ck_assert_int_eq(r.ia[0].naddr, 1);
	ck_assert_str_eq(r.ia[0].addr[0], "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(r.ia[0].pref[0], PREFERRED_S);
	ck_assert_uint_eq(r.ia[0].valid[0], VALID_MS / 1000);
	ck_assert_ptr_nonnull(r.opt[O_DNS]);
	ck_assert_ptr_null(r.opt[O_RAPID]);
	ck_assert_ptr_null(r.opt[O_PREFERENCE]);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 1000), 1);
	ck_assert_str_eq(first_lease(T0 + 1000), "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(c->advertises, 1);
	ck_assert_uint_eq(c->replies, 1);
}
END_TEST

START_TEST(test_rapid_commit_solicit_binds_at_once)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	solicit(&m, 0x56, 7, 1);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_ptr_nonnull(r.opt[O_RAPID]);
	ck_assert_uint_eq(r.optlen[O_RAPID], 0);
	ck_assert_ptr_null(r.opt[O_PREFERENCE]);
	ck_assert_str_eq(reply_addr(&r), "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(r.ia[0].valid[0], VALID_MS / 1000);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 1);
	ck_assert_str_eq(first_lease(T0), "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(c->rapid_commits, 1);
	ck_assert_uint_eq(c->replies, 1);
}
END_TEST

/* busybox udhcpc6 identifies itself by DUID-LL and asks only for DNS */
START_TEST(test_udhcpc6_style_solicit)
{
	static const uint8_t sol[] = {
		SOLICIT, 0x00, 0x00, 0x2a,
		0, O_CLIENTID, 0, 10, 0, 3, 0, 1, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc,
		0, O_ELAPSED, 0, 2, 0, 0,
		0, O_IA_NA, 0, 12, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0, 0, 0, 0, 0,
		0, O_ORO, 0, 2, 0, O_DNS,
	};
	struct cmsg m;
	struct rep r;

	memset(&m, 0, sizeof(m));
	msg_raw(&m, sol, sizeof(sol));
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.type, ADVERTISE);
	ck_assert_uint_eq(r.ia[0].iaid, 0xaabbccdd);
	ck_assert_str_eq(reply_addr(&r), "fd6f:6d6e:6574::1000");
}
END_TEST

START_TEST(test_second_client_gets_next_address)
{
	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(lease_for(2, 1, T0), "fd6f:6d6e:6574::1001");
	/* a second IA of the first client is a lease of its own */
	ck_assert_str_eq(lease_for(1, 2, T0), "fd6f:6d6e:6574::1002");
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 3);
}
END_TEST

START_TEST(test_advertised_address_is_held_for_its_client)
{
	ck_assert_str_eq(offered(1, 1, T0), "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(offered(2, 1, T0), "fd6f:6d6e:6574::1001");
	/* after the hold, nobody requested: the first free again */
	ck_assert_str_eq(offered(3, 1, T0 + 31000), "fd6f:6d6e:6574::1000");
}
END_TEST

START_TEST(test_same_client_gets_same_address)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(lease_for(2, 1, T0), "fd6f:6d6e:6574::1001");
	/* rebooted: solicits again, gets its own address */
	ck_assert_str_eq(lease_for(2, 1, T0 + 5000), "fd6f:6d6e:6574::1001");
	/* and after its lease ran out, if nobody took it */
	ck_assert_str_eq(lease_for(2, 1, T0 + VALID_MS * 3), "fd6f:6d6e:6574::1001");
	/* whatever address it names in its REQUEST */
	msg_client(&m, REQUEST, 2, 1, "fd6f:6d6e:6574::1005", 1);
	ck_assert_int_gt(handle(&m, T0 + VALID_MS * 3, &r), 0);
	ck_assert_str_eq(reply_addr(&r), "fd6f:6d6e:6574::1001");
	ck_assert_uint_eq(r.ia[0].naddr, 1);
}
END_TEST

START_TEST(test_two_ia_na_in_one_message)
{
	struct cmsg m;
	struct rep r;

	solicit(&m, 1, 10, 1);
	msg_ia(&m, O_IA_NA, 11, NULL, NULL);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.nia, 2);
	ck_assert_uint_eq(r.ia[0].iaid, 10);
	ck_assert_str_eq(r.ia[0].addr[0], "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(r.ia[1].iaid, 11);
	ck_assert_str_eq(r.ia[1].addr[0], "fd6f:6d6e:6574::1001");
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 2);
}
END_TEST

START_TEST(test_repeated_ia_is_answered_once)
{
	struct cmsg m;
	struct rep r;

	solicit(&m, 1, 10, 1);
	msg_ia(&m, O_IA_NA, 10, NULL, NULL);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.nia, 1);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 1);
}
END_TEST

START_TEST(test_ias_beyond_the_limit_go_unanswered)
{
	struct cmsg m;
	struct rep r;
	uint32_t i;

	solicit(&m, 1, 100, 1);
	for (i = 1; i < DHCP6_IA_MAX + 3; i++)
		msg_ia(&m, O_IA_NA, 100 + i, NULL, NULL);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.nia, DHCP6_IA_MAX);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), DHCP6_IA_MAX);
}
END_TEST

START_TEST(test_renew_keeps_address_and_extends_lease)
{
	struct cmsg m;
	struct rep r;
	uint64_t t1 = T0 + PREFERRED_S / 2 * 1000ull;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(lease_for(2, 1, T0), "fd6f:6d6e:6574::1001");
	msg_client(&m, RENEW, 2, 1, "fd6f:6d6e:6574::1001", 1);
	ck_assert_int_gt(handle(&m, t1, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.ia[0].naddr, 1);
	ck_assert_str_eq(r.ia[0].addr[0], "fd6f:6d6e:6574::1001");
	ck_assert_uint_eq(r.ia[0].pref[0], PREFERRED_S);
	ck_assert_uint_eq(r.ia[0].t1, PREFERRED_S / 2);
	/* client 1 lapses at T0 + valid, client 2 lives on from t1 */
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + VALID_MS - 1), 2);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + VALID_MS), 1);
	ck_assert_str_eq(first_lease(T0 + VALID_MS), "fd6f:6d6e:6574::1001");
	ck_assert_uint_eq(dhcp6_lease_count(srv, t1 + VALID_MS - 1), 1);
	ck_assert_uint_eq(dhcp6_lease_count(srv, t1 + VALID_MS), 0);
	/* a renewal is no new binding: client 2 stays the latest */
	msg_client(&m, RENEW, 1, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_str_eq(first_lease(T0 + 1000), "fd6f:6d6e:6574::1001");
}
END_TEST

START_TEST(test_renew_without_binding_gets_no_binding)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	/* an IAID we never bound (the TAHI test's "different IA_NA ID") */
	msg_client(&m, RENEW, 1, 2, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_int_eq(r.status, -1); /* no top-level Success */
	ck_assert_int_eq(r.ia[0].status, S_NOBINDING);
	ck_assert_int_eq(r.ia[0].naddr, 0);
	ck_assert_uint_eq(r.ia[0].t1, 0);
	ck_assert_uint_eq(c->no_binding, 1);
	/* the lease ran out: NoBinding, then a REQUEST gets it back */
	msg_client(&m, RENEW, 1, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + VALID_MS, &r), 0);
	ck_assert_int_eq(r.ia[0].status, S_NOBINDING);
	msg_client(&m, REQUEST, 1, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + VALID_MS, &r), 0);
	ck_assert_str_eq(reply_addr(&r), "fd6f:6d6e:6574::1000");
}
END_TEST

START_TEST(test_renew_returns_stale_address_with_zero_lifetimes)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	msg_init(&m, RENEW, 0x77);
	msg_client_id(&m, 1);
	msg_server_id(&m);
	msg_ia(&m, O_IA_NA, 1, "fd6f:6d6e:6574::1000", "fd6f:6d6e:6574::1042");
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_int_eq(r.ia[0].naddr, 2);
	ck_assert_str_eq(r.ia[0].addr[0], "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(r.ia[0].valid[0], VALID_MS / 1000);
	ck_assert_str_eq(r.ia[0].addr[1], "fd6f:6d6e:6574::1042");
	ck_assert_uint_eq(r.ia[0].pref[1], 0);
	ck_assert_uint_eq(r.ia[0].valid[1], 0);
}
END_TEST

START_TEST(test_rebind_extends_binding)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	msg_client(&m, REBIND, 1, 1, "fd6f:6d6e:6574::1000", 0);
	ck_assert_int_gt(handle(&m, T0 + VALID_MS - 1000, &r), 0);
	ck_assert_str_eq(reply_addr(&r), "fd6f:6d6e:6574::1000");
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 2 * VALID_MS - 2000), 1);
}
END_TEST

START_TEST(test_rebind_without_binding)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	/* an address from another network: lifetimes 0, drop it now */
	msg_client(&m, REBIND, 1, 1, "2001:db8::1000", 0);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.ia[0].status, -1);
	ck_assert_int_eq(r.ia[0].naddr, 1);
	ck_assert_str_eq(r.ia[0].addr[0], "2001:db8::1000");
	ck_assert_uint_eq(r.ia[0].valid[0], 0);
	ck_assert_uint_eq(c->not_on_link, 1);
	/* one of ours we do not know (we restarted): NoBinding */
	msg_client(&m, REBIND, 1, 1, "fd6f:6d6e:6574::1000", 0);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.ia[0].status, S_NOBINDING);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 0);
}
END_TEST

START_TEST(test_request_off_link_gets_not_on_link)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	msg_client(&m, REQUEST, 1, 1, "2001:db8::1000", 1);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.ia[0].status, S_NOTONLINK);
	ck_assert_int_eq(r.ia[0].naddr, 0);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 0);
	ck_assert_uint_eq(c->not_on_link, 1);
}
END_TEST

START_TEST(test_confirm)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	msg_client(&m, CONFIRM, 1, 1, "fd6f:6d6e:6574::1000", 0);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.status, S_SUCCESS);
	ck_assert_int_eq(r.nia, 0);
	/* the VM moved here from another network */
	msg_init(&m, CONFIRM, 0x99);
	msg_client_id(&m, 1);
	msg_ia(&m, O_IA_NA, 1, "fd6f:6d6e:6574::1000", "2001:db8::1000");
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.status, S_NOTONLINK);
	/* IA_TA addresses count too */
	msg_init(&m, CONFIRM, 0x9a);
	msg_client_id(&m, 1);
	msg_ia(&m, O_IA_TA, 1, "2001:db8::5", NULL);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.status, S_NOTONLINK);
	/* no addresses: nothing to say (18.3.3) */
	msg_client(&m, CONFIRM, 1, 1, NULL, 0);
	ck_assert_int_eq(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(c->confirms, 3);
	ck_assert_uint_eq(c->ignored, 1);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 0);
}
END_TEST

START_TEST(test_release_frees_address)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	msg_client(&m, RELEASE, 1, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.status, S_SUCCESS);
	ck_assert_int_eq(r.nia, 0);
	ck_assert_ptr_null(r.opt[O_DNS]);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 1000), 0);
	ck_assert_uint_eq(c->releases, 1);
	/* another client may take it now */
	ck_assert_str_eq(lease_for(2, 1, T0 + 2000), "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(lease_for(1, 1, T0 + 3000), "fd6f:6d6e:6574::1001");
}
END_TEST

START_TEST(test_released_address_comes_back_to_its_client)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	ck_assert_str_eq(lease_for(2, 1, T0), "fd6f:6d6e:6574::1001");
	msg_client(&m, RELEASE, 2, 1, "fd6f:6d6e:6574::1001", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_str_eq(lease_for(2, 1, T0 + 2000), "fd6f:6d6e:6574::1001");
}
END_TEST

START_TEST(test_release_without_binding_gets_no_binding)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	/* another client releasing client 1's address: not its binding */
	msg_client(&m, RELEASE, 2, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_int_eq(r.status, S_SUCCESS);
	ck_assert_int_eq(r.nia, 1);
	ck_assert_int_eq(r.ia[0].status, S_NOBINDING);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 1000), 1);
	/* its own binding, but another address: nothing released */
	msg_client(&m, RELEASE, 1, 1, "fd6f:6d6e:6574::1001", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_int_eq(r.status, S_SUCCESS);
	ck_assert_int_eq(r.nia, 0);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 1000), 1);
}
END_TEST

START_TEST(test_decline_holds_address_back)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	msg_client(&m, DECLINE, 1, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.status, S_SUCCESS);
	ck_assert_int_eq(r.nia, 0);
	ck_assert_uint_eq(c->declines, 1);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 1000), 0);
	/* the client gets another address, and so does a newcomer */
	ck_assert_str_eq(lease_for(1, 1, T0 + 2000), "fd6f:6d6e:6574::1001");
	ck_assert_str_eq(offered(2, 1, T0 + 2000), "fd6f:6d6e:6574::1002");
	/* until the hold ends */
	ck_assert_str_eq(offered(3, 1, T0 + 1000 + DECLINE_HOLD_MS), "fd6f:6d6e:6574::1000");
}
END_TEST

START_TEST(test_decline_without_binding_gets_no_binding)
{
	struct cmsg m;
	struct rep r;

	msg_client(&m, DECLINE, 1, 1, "fd6f:6d6e:6574::1000", 1);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.status, S_SUCCESS);
	ck_assert_int_eq(r.ia[0].status, S_NOBINDING);
	ck_assert_str_eq(offered(1, 1, T0), "fd6f:6d6e:6574::1000");
}
END_TEST

START_TEST(test_information_request_is_stateless)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct dhcp6_config cfg;
	struct cmsg m;
	struct rep r;

	dhcp6_config_default(&cfg);
	strcpy(cfg.domain, "vm.example");
	replace_server(&cfg);
	c = dhcp6_counters(srv);
	/* from a SLAAC host: no client id, which 16.12 allows */
	msg_init(&m, INFO_REQUEST, 0x4242);
	msg_common(&m);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_int_eq(r.nia, 0);
	ck_assert_int_eq(r.status, -1);
	ck_assert_ptr_nonnull(r.opt[O_DNS]);
	ck_assert_ptr_nonnull(r.opt[O_DOMAINS]);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 0);
	/* with a client id and our server id */
	msg_init(&m, INFO_REQUEST, 0x4243);
	msg_client_id(&m, 1);
	msg_server_id(&m);
	msg_common(&m);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(c->info_requests, 2);
	/* with an IA: discarded (16.12) */
	msg_client(&m, INFO_REQUEST, 1, 1, NULL, 0);
	ck_assert_int_eq(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(c->ignored, 1);
}
END_TEST

START_TEST(test_dns_servers_and_domain_are_encoded)
{
	static const uint8_t domain[] = { 2, 'v', 'm', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	struct dhcp6_config cfg;
	struct in6_addr d[2];
	struct cmsg m;
	struct rep r;

	dhcp6_config_default(&cfg);
	strcpy(cfg.domain, "vm.example.");
	inet_pton(AF_INET6, "2001:4860:4860::8888", &cfg.dns[1]);
	cfg.dns_count = 2;
	replace_server(&cfg);
	memcpy(d, cfg.dns, sizeof(d));
	msg_client(&m, SOLICIT, 1, 1, NULL, 0);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.optlen[O_DNS], 32);
	ck_assert_mem_eq(r.opt[O_DNS], d, 32);
	ck_assert_uint_eq(r.optlen[O_DOMAINS], sizeof(domain));
	ck_assert_mem_eq(r.opt[O_DOMAINS], domain, sizeof(domain));
}
END_TEST

START_TEST(test_pool_exhaustion_gives_no_addrs_avail)
{
	const struct dhcp6_counters *c;
	struct dhcp6_config cfg;
	struct cmsg m;
	struct rep r;

	dhcp6_config_default(&cfg);
	cfg.pool_size = 2;
	replace_server(&cfg);
	c = dhcp6_counters(srv);
	lease_for(1, 1, T0);
	lease_for(2, 1, T0);
	msg_client(&m, SOLICIT, 3, 1, NULL, 0);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_uint_eq(r.type, ADVERTISE);
	ck_assert_int_eq(r.ia[0].status, S_NOADDRS);
	ck_assert_int_eq(r.ia[0].naddr, 0);
	msg_client(&m, REQUEST, 3, 1, NULL, 1);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.ia[0].status, S_NOADDRS);
	solicit(&m, 3, 1, 1);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	ck_assert_int_eq(r.ia[0].status, S_NOADDRS);
	ck_assert_uint_eq(c->no_addrs, 3);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 2);
	/* once a lease runs out there is room */
	ck_assert_str_eq(lease_for(3, 1, T0 + VALID_MS), "fd6f:6d6e:6574::1000");
}
END_TEST

START_TEST(test_ia_ta_and_ia_pd_get_status_in_ia)
{
	struct cmsg m;
	struct rep r;
	int i;

	msg_init(&m, SOLICIT, 0x1234);
	msg_client_id(&m, 1);
	msg_common(&m);
	msg_ia(&m, O_IA_NA, 1, NULL, NULL);
	msg_ia(&m, O_IA_TA, 2, NULL, NULL);
	msg_ia(&m, O_IA_PD, 3, NULL, NULL);
	for (i = 0; i < 2; i++) { /* ADVERTISE, then with rapid commit */
		ck_assert_int_gt(handle(&m, T0, &r), 0);
		ck_assert_int_eq(r.nia, 3);
		ck_assert_uint_eq(r.ia[0].code, O_IA_NA);
		ck_assert_str_eq(r.ia[0].addr[0], "fd6f:6d6e:6574::1000");
		ck_assert_uint_eq(r.ia[1].code, O_IA_TA);
		ck_assert_uint_eq(r.ia[1].iaid, 2);
		ck_assert_int_eq(r.ia[1].status, S_NOADDRS);
		ck_assert_uint_eq(r.ia[2].code, O_IA_PD);
		ck_assert_uint_eq(r.ia[2].iaid, 3);
		ck_assert_int_eq(r.ia[2].status, S_NOPREFIX);
		msg_opt(&m, O_RAPID, NULL, 0);
	}
	ck_assert_uint_eq(r.type, REPLY);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 1);
}
END_TEST

START_TEST(test_wrong_server_id_is_ignored)
{
	static const uint8_t other[10] = { 0, 3, 0, 1, 0x02, 0, 0, 0, 0, 1 };
	static const uint8_t types[] = { REQUEST, RENEW, RELEASE, DECLINE, INFO_REQUEST };
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;
	size_t i;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	for (i = 0; i < sizeof(types); i++) {
		msg_init(&m, types[i], 0x100 + (uint32_t)i);
		msg_client_id(&m, 1);
		msg_opt(&m, O_SERVERID, other, sizeof(other));
		if (types[i] != INFO_REQUEST)
			msg_ia(&m, O_IA_NA, 1, "fd6f:6d6e:6574::1000", NULL);
		ck_assert_msg(handle(&m, T0 + 1000, &r) == 0, "type %u", types[i]);
	}
	ck_assert_uint_eq(c->ignored, sizeof(types));
	ck_assert_uint_eq(c->malformed, 0);
	/* nothing was released or declined */
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0 + 1000), 1);
}
END_TEST

START_TEST(test_server_id_required_or_forbidden)
{
	static const uint8_t need[] = { REQUEST, RENEW, RELEASE, DECLINE };
	static const uint8_t forbid[] = { SOLICIT, REBIND, CONFIRM };
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;
	size_t i;

	ck_assert_str_eq(lease_for(1, 1, T0), "fd6f:6d6e:6574::1000");
	for (i = 0; i < sizeof(need); i++) {
		msg_client(&m, need[i], 1, 1, "fd6f:6d6e:6574::1000", 0);
		ck_assert_msg(handle(&m, T0, &r) == 0, "type %u", need[i]);
	}
	/* even ours: these go to every server */
	for (i = 0; i < sizeof(forbid); i++) {
		msg_client(&m, forbid[i], 1, 1, "fd6f:6d6e:6574::1000", 1);
		ck_assert_msg(handle(&m, T0, &r) == 0, "type %u", forbid[i]);
	}
	ck_assert_uint_eq(c->ignored, sizeof(need) + sizeof(forbid));
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 1);
}
END_TEST

START_TEST(test_client_id_required)
{
	static const uint8_t types[] = { SOLICIT, REQUEST, CONFIRM, RENEW, REBIND, RELEASE,
					 DECLINE };
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		int sid = types[i] != SOLICIT && types[i] != CONFIRM && types[i] != REBIND;

		msg_init(&m, types[i], 0x200 + (uint32_t)i);
		if (sid)
			msg_server_id(&m);
		msg_common(&m);
		msg_ia(&m, O_IA_NA, 1, "fd6f:6d6e:6574::1000", NULL);
		ck_assert_msg(handle(&m, T0, &r) == 0, "type %u", types[i]);
	}
	ck_assert_uint_eq(c->ignored, sizeof(types));
	ck_assert_uint_eq(c->tx, 0);
}
END_TEST

START_TEST(test_non_client_messages_are_ignored)
{
	static const uint8_t types[] = { 0, ADVERTISE, REPLY, RECONFIGURE, RELAY_FORW,
					 RELAY_REPL, 14, 36, 255 };
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		msg_client(&m, types[i], 1, 1, NULL, 1);
		m.b[0] = types[i];
		ck_assert_msg(handle(&m, T0, &r) == 0, "type %u", types[i]);
	}
	ck_assert_uint_eq(c->ignored, sizeof(types));
	ck_assert_uint_eq(c->malformed, 0);
}
END_TEST

/* malformed() - whether m is refused as malformed */
static int malformed(const struct cmsg *m)
{
	struct rep r;

	return handle(m, T0, &r) == -1;
}

START_TEST(test_truncated_and_overrunning_options_are_malformed)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	size_t at;

	msg_init(&m, SOLICIT, 1);
	m.len = 3; /* no room for the transaction id */
	ck_assert(malformed(&m));
	solicit(&m, 1, 1, 0);
	m.b[m.len - 13] = 13; /* the IA_NA claims 13 octets, 12 follow */
	ck_assert(malformed(&m));
	solicit(&m, 1, 1, 0);
	m.len -= 2; /* the IA_NA cut short */
	ck_assert(malformed(&m));
	solicit(&m, 1, 1, 0);
	msg_raw(&m, "\0\x08\0", 3); /* an option header cut off */
	ck_assert(malformed(&m));
	/* an IA_NA shorter than IAID, T1, T2 */
	solicit(&m, 1, 1, 0);
	msg_opt(&m, O_IA_NA, "\0\0\0\1\0\0\0\0", 8);
	ck_assert(malformed(&m));
	/* an IAADDR shorter than an address and two lifetimes */
	msg_init(&m, SOLICIT, 1);
	msg_client_id(&m, 1);
	at = msg_begin(&m, O_IA_NA);
	msg_raw(&m, "\0\0\0\1\0\0\0\0\0\0\0\0", 12);
	msg_opt(&m, O_IAADDR, "\xfd\x6f\x6d\x6e\x65\x74\0\0\0\0\0\0\0\0\x10\0\0\0\0\0", 20);
	msg_close(&m, at);
	ck_assert(malformed(&m));
	/* an IAADDR running past its IA, though not past the message */
	msg_init(&m, SOLICIT, 1);
	msg_client_id(&m, 1);
	msg_ia(&m, O_IA_NA, 1, "fd6f:6d6e:6574::1000", NULL);
	m.b[m.len - 28 - 12 - 1] = 40 - 1; /* the IA's length: one less */
	msg_opt(&m, O_ELAPSED, "\0\0", 2);
	ck_assert(malformed(&m));
	/* an IAADDR's own option running past the IAADDR */
	msg_init(&m, SOLICIT, 1);
	msg_client_id(&m, 1);
	at = msg_begin(&m, O_IA_NA);
	msg_raw(&m, "\0\0\0\1\0\0\0\0\0\0\0\0", 12);
	msg_opt(&m, O_IAADDR, "\xfd\x6f\x6d\x6e\x65\x74\0\0\0\0\0\0\0\0\x10\0"
			      "\0\0\0\0\0\0\0\0" "\0\x0d\0\x09\0\0", 30);
	msg_close(&m, at);
	ck_assert(malformed(&m));
	/* an IA_PD prefix too short, an IA_TA without its IAID */
	solicit(&m, 1, 1, 0);
	at = msg_begin(&m, O_IA_PD);
	msg_raw(&m, "\0\0\0\1\0\0\0\0\0\0\0\0", 12);
	msg_opt(&m, O_IAPREFIX, "\0\0\0\0\0\0\0\0\x40", 9);
	msg_close(&m, at);
	ck_assert(malformed(&m));
	solicit(&m, 1, 1, 0);
	msg_opt(&m, O_IA_TA, "\0\0\1", 3);
	ck_assert(malformed(&m));
	ck_assert_uint_eq(c->malformed, 10);
	ck_assert_uint_eq(c->tx, 0);
	ck_assert_uint_eq(dhcp6_lease_count(srv, T0), 0);
}
END_TEST

START_TEST(test_bad_identifiers_are_malformed)
{
	uint8_t duid[DHCP6_DUID_MAX + 1];
	struct cmsg m;
	struct rep r;

	memset(duid, 0x11, sizeof(duid));
	msg_init(&m, SOLICIT, 1);
	msg_opt(&m, O_CLIENTID, duid, 2); /* a type and nothing */
	msg_ia(&m, O_IA_NA, 1, NULL, NULL);
	ck_assert(malformed(&m));
	msg_init(&m, SOLICIT, 1);
	msg_opt(&m, O_CLIENTID, duid, sizeof(duid)); /* 131 octets */
	ck_assert(malformed(&m));
	msg_init(&m, SOLICIT, 1);
	msg_opt(&m, O_CLIENTID, duid, DHCP6_DUID_MAX); /* 130: the longest */
	msg_ia(&m, O_IA_NA, 1, NULL, NULL);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	msg_client(&m, REQUEST, 1, 1, NULL, 1);
	msg_client_id(&m, 2); /* two clients in one */
	ck_assert(malformed(&m));
	msg_client(&m, REQUEST, 1, 1, NULL, 1);
	msg_server_id(&m);
	ck_assert(malformed(&m));
	solicit(&m, 1, 1, 0);
	msg_opt(&m, O_RAPID, "\1", 1);
	ck_assert(malformed(&m));
}
END_TEST

START_TEST(test_every_prefix_of_solicit)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg full, m;
	struct rep r;
	size_t len, off, bounds[16];
	int nb = 0, n, i, at_bound;

	solicit(&full, 1, 1, 1);
	/* the option boundaries: cutting there leaves a whole message */
	for (off = 4; off <= full.len; off += 4 + get16(full.b + off + 2)) {
		bounds[nb++] = off;
		if (off == full.len)
			break;
	}
	for (len = 0; len <= full.len; len++) {
		m = full;
		m.len = len;
		n = handle(&m, T0, &r);
		for (at_bound = 0, i = 0; i < nb; i++)
			at_bound |= bounds[i] == len;
		if (at_bound) /* answered, or ignored: no client id yet */
			ck_assert_msg(n >= 0, "length %zu: %d", len, n);
		else
			ck_assert_msg(n == -1, "length %zu: %d", len, n);
	}
	ck_assert_uint_eq(c->rx, full.len + 1);
	ck_assert_uint_eq(c->rx, c->malformed + c->ignored + c->tx);
}
END_TEST

START_TEST(test_small_buffer_drops_reply)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg m;
	struct rep r;
	int full;

	solicit(&m, 1, 1, 0);
	full = handle(&m, T0, &r);
	ck_assert_int_gt(full, 0);
	ck_assert_int_eq(handle_cap(&m, T0, &r, (size_t)full - 1), 0);
	ck_assert_uint_eq(c->ignored, 1);
	ck_assert_int_eq(handle_cap(&m, T0, &r, (size_t)full), full);
	ck_assert_int_eq(handle_cap(&m, T0, &r, 0), 0);
}
END_TEST

START_TEST(test_largest_reply_fits)
{
	struct dhcp6_config cfg;
	uint8_t duid[DHCP6_DUID_MAX];
	struct cmsg m;
	struct rep r;
	uint32_t i;
	int k;

	dhcp6_config_default(&cfg);
	memset(cfg.domain, 'a', sizeof(cfg.domain) - 1);
	for (k = 63; k < (int)sizeof(cfg.domain) - 1; k += 64)
		cfg.domain[k] = '.';
	cfg.domain[sizeof(cfg.domain) - 1] = '\0';
	cfg.dns_count = DHCP6_DNS_MAX;
	inet_pton(AF_INET6, "2001:db8::53", &cfg.dns[1]);
	inet_pton(AF_INET6, "2001:db8::54", &cfg.dns[2]);
	replace_server(&cfg);
	memset(duid, 0x42, sizeof(duid));
	/* bind four IAs by rapid commit, then renew each listing stale ones */
	msg_init(&m, SOLICIT, 1);
	msg_opt(&m, O_CLIENTID, duid, sizeof(duid));
	msg_opt(&m, O_RAPID, NULL, 0);
	for (i = 0; i < DHCP6_IA_MAX; i++)
		msg_ia(&m, O_IA_NA, i, NULL, NULL);
	ck_assert_int_gt(handle(&m, T0, &r), 0);
	msg_init(&m, RENEW, 2);
	msg_opt(&m, O_CLIENTID, duid, sizeof(duid));
	msg_server_id(&m);
	for (i = 0; i < DHCP6_IA_MAX; i++) {
		size_t at = msg_begin(&m, O_IA_NA);

		msg_u32(&m, i);
		msg_u32(&m, 0);
		msg_u32(&m, 0);
		for (k = 0; k < 6; k++) /* more than are echoed */
			msg_iaaddr(&m, k % 2 ? "fd6f:6d6e:6574::2000" : "fd6f:6d6e:6574::2001");
		msg_close(&m, at);
	}
	ck_assert_int_gt(handle(&m, T0 + 1000, &r), 0);
	ck_assert_int_le(r.len, DHCP6_REPLY_MAX);
	ck_assert_int_eq(r.nia, DHCP6_IA_MAX);
	ck_assert_int_eq(r.ia[0].naddr, 5); /* its own and four stale */
	ck_assert_uint_eq(r.optlen[O_DOMAINS], 255);
}
END_TEST

START_TEST(test_lease_first_is_latest_binding)
{
	ck_assert_str_eq(first_lease(T0), "none");
	lease_for(1, 1, T0);
	ck_assert_str_eq(first_lease(T0), "fd6f:6d6e:6574::1000");
	lease_for(2, 1, T0 + 1000);
	ck_assert_str_eq(first_lease(T0 + 1000), "fd6f:6d6e:6574::1001");
	/* the earlier lapses first; the latest stays first while it lives */
	ck_assert_str_eq(first_lease(T0 + VALID_MS), "fd6f:6d6e:6574::1001");
	ck_assert_str_eq(first_lease(T0 + 1000 + VALID_MS), "none");
}
END_TEST

static uint32_t xorshift32(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

START_TEST(test_mutated_messages_are_safe)
{
	const struct dhcp6_counters *c = dhcp6_counters(srv);
	struct cmsg base[4], m;
	uint32_t seed = 0x36646863;
	struct rep r;
	unsigned i, j;
	int n;

	solicit(&base[0], 1, 1, 1);
	msg_ia(&base[0], O_IA_PD, 3, NULL, NULL);
	msg_client(&base[1], REQUEST, 1, 1, "fd6f:6d6e:6574::1000", 1);
	msg_client(&base[2], RENEW, 1, 1, "fd6f:6d6e:6574::1000", 1);
	msg_ia(&base[2], O_IA_TA, 1, "fd6f:6d6e:6574::1", NULL);
	msg_client(&base[3], RELEASE, 1, 1, "fd6f:6d6e:6574::1000", 1);
	for (i = 0; i < 20000; i++) {
		m = base[i % 4];
		for (j = xorshift32(&seed) % 8; j > 0; j--)
			m.b[xorshift32(&seed) % m.len] = (uint8_t)xorshift32(&seed);
		if (xorshift32(&seed) % 4 == 0)
			m.len = xorshift32(&seed) % (m.len + 1);
		memset(&r, 0, sizeof(r));
		n = dhcp6_handle(srv, m.b, m.len, i * 1000ull, r.b, sizeof(r.b));
		ck_assert_msg(n >= -1 && n <= DHCP6_REPLY_MAX, "iteration %u: got %d", i, n);
		if (n > 0) {
			r.len = n;
			rep_parse(&r);
		}
	}
	ck_assert_uint_eq(c->rx, 20000);
	ck_assert_uint_eq(c->rx, c->malformed + c->ignored + c->tx);
	ck_assert_uint_gt(c->malformed, 0);
	ck_assert_uint_gt(c->tx, 0);
}
END_TEST

static Suite *dhcp6_suite(void)
{
	Suite *s = suite_create("dhcp6");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_default_config);
	tcase_add_test(tc, test_bad_config_is_refused);
	tcase_add_test(tc, test_solicit_advertises_pool_start);
	tcase_add_test(tc, test_full_exchange_binds_pool_start);
	tcase_add_test(tc, test_rapid_commit_solicit_binds_at_once);
	tcase_add_test(tc, test_udhcpc6_style_solicit);
	tcase_add_test(tc, test_second_client_gets_next_address);
	tcase_add_test(tc, test_advertised_address_is_held_for_its_client);
	tcase_add_test(tc, test_same_client_gets_same_address);
	tcase_add_test(tc, test_two_ia_na_in_one_message);
	tcase_add_test(tc, test_repeated_ia_is_answered_once);
	tcase_add_test(tc, test_ias_beyond_the_limit_go_unanswered);
	tcase_add_test(tc, test_renew_keeps_address_and_extends_lease);
	tcase_add_test(tc, test_renew_without_binding_gets_no_binding);
	tcase_add_test(tc, test_renew_returns_stale_address_with_zero_lifetimes);
	tcase_add_test(tc, test_rebind_extends_binding);
	tcase_add_test(tc, test_rebind_without_binding);
	tcase_add_test(tc, test_request_off_link_gets_not_on_link);
	tcase_add_test(tc, test_confirm);
	tcase_add_test(tc, test_release_frees_address);
	tcase_add_test(tc, test_released_address_comes_back_to_its_client);
	tcase_add_test(tc, test_release_without_binding_gets_no_binding);
	tcase_add_test(tc, test_decline_holds_address_back);
	tcase_add_test(tc, test_decline_without_binding_gets_no_binding);
	tcase_add_test(tc, test_information_request_is_stateless);
	tcase_add_test(tc, test_dns_servers_and_domain_are_encoded);
	tcase_add_test(tc, test_pool_exhaustion_gives_no_addrs_avail);
	tcase_add_test(tc, test_ia_ta_and_ia_pd_get_status_in_ia);
	tcase_add_test(tc, test_wrong_server_id_is_ignored);
	tcase_add_test(tc, test_server_id_required_or_forbidden);
	tcase_add_test(tc, test_client_id_required);
	tcase_add_test(tc, test_non_client_messages_are_ignored);
	tcase_add_test(tc, test_truncated_and_overrunning_options_are_malformed);
	tcase_add_test(tc, test_bad_identifiers_are_malformed);
	tcase_add_test(tc, test_every_prefix_of_solicit);
	tcase_add_test(tc, test_small_buffer_drops_reply);
	tcase_add_test(tc, test_largest_reply_fits);
	tcase_add_test(tc, test_lease_first_is_latest_binding);
	tcase_add_test(tc, test_mutated_messages_are_safe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1); /* warnings only: tests provoke many info lines */
	sr = srunner_create(dhcp6_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
