/* test_dhcp.c: the DHCPv4 server core, driven with byte-level client
 * messages built here and a simulated clock. */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp.h"
#include "log.h"

#define DISCOVER	1
#define OFFER		2
#define REQUEST		3
#define DECLINE		4
#define ACK		5
#define NAK		6
#define RELEASE		7
#define INFORM		8

#define LEASE_MS	86400000ull
#define OFFER_HOLD_MS	30000ull
#define DECLINE_HOLD_MS	600000ull

static struct dhcp_server *srv;

/* --- client message builder --- */

struct cmsg {
	uint8_t b[1600];
	size_t len;
};

/* msg_opt() - append option code with n octets of value */
static void msg_opt(struct cmsg *m, uint8_t code, const void *v, uint8_t n)
{
	ck_assert_uint_le(m->len + 2 + n, sizeof(m->b));
	m->b[m->len++] = code;
	m->b[m->len++] = n;
	memcpy(m->b + m->len, v, n);
	m->len += n;
}

/* msg_opt_addr() - append an address option */
static void msg_opt_addr(struct cmsg *m, uint8_t code, const char *dotted)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, dotted, &a), 1);
	msg_opt(m, code, &a, 4);
}

/* msg_raw() - a BOOTREQUEST header from 52:54:00:12:34:<mac> with the
 * cookie and no options */
static void msg_raw(struct cmsg *m, uint8_t mac, uint32_t xid)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };
	uint32_t be = htonl(xid);

	memset(m, 0, sizeof(*m));
	m->b[0] = 1; /* BOOTREQUEST */
	m->b[1] = 1; /* Ethernet */
	m->b[2] = 6;
	memcpy(m->b + 4, &be, 4);
	m->b[10] = 0x80; /* broadcast flag */
	m->b[28] = 0x52;
	m->b[29] = 0x54;
	m->b[30] = 0x00;
	m->b[31] = 0x12;
	m->b[32] = 0x34;
	m->b[33] = mac;
	memcpy(m->b + 236, cookie, 4);
	m->len = 240;
}

/* msg_init() - msg_raw() plus option 53 */
static void msg_init(struct cmsg *m, uint8_t type, uint8_t mac, uint32_t xid)
{
	msg_raw(m, mac, xid);
	msg_opt(m, 53, &type, 1);
}

/* msg_end() - the end option, then pad to 300 octets as real clients do */
static void msg_end(struct cmsg *m)
{
	m->b[m->len++] = 255;
	if (m->len < 300)
		m->len = 300;
}

/* msg_ciaddr() - set ciaddr */
static void msg_ciaddr(struct cmsg *m, const char *dotted)
{
	ck_assert_int_eq(inet_pton(AF_INET, dotted, m->b + 12), 1);
}

/* --- reply parser --- */

struct rep {
	uint8_t b[DHCP_REPLY_MAX];
	int len;
	uint8_t type;
	const uint8_t *opt[256];
	uint8_t optlen[256];
};

/* rep_parse() - check a reply is a well-formed BOOTREPLY and index its options */
static void rep_parse(struct rep *r)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };
	int off = 240;

	ck_assert_int_ge(r->len, 300);
	ck_assert_int_le(r->len, DHCP_REPLY_MAX);
	ck_assert_uint_eq(r->b[0], 2);
	ck_assert_mem_eq(r->b + 236, cookie, 4);
	memset(r->opt, 0, sizeof(r->opt));
	while (r->b[off] != 255) {
		ck_assert_int_lt(off + 1, r->len);
		ck_assert_uint_ne(r->b[off], 0);
		ck_assert_int_le(off + 2 + r->b[off + 1], r->len);
		ck_assert_ptr_null(r->opt[r->b[off]]);
		r->opt[r->b[off]] = r->b + off + 2;
		r->optlen[r->b[off]] = r->b[off + 1];
		off += 2 + r->b[off + 1];
		ck_assert_int_lt(off, r->len);
	}
	ck_assert_ptr_nonnull(r->opt[53]);
	ck_assert_uint_eq(r->optlen[53], 1);
	r->type = r->opt[53][0];
}

/* handle() - feed m to srv at now_ms; the reply, if any, lands parsed in r */
static int handle(const struct cmsg *m, uint64_t now_ms, struct rep *r)
{
	memset(r, 0, sizeof(*r));
	r->len = dhcp_handle(srv, m->b, m->len, now_ms, r->b, sizeof(r->b));
	if (r->len > 0)
		rep_parse(r);
	return r->len;
}

/* ipstr() - dotted quad of 4 octets in network order (rotating buffers) */
static const char *ipstr(const uint8_t *p)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int next;
	char *s = buf[next++ % 4];

	ck_assert_ptr_nonnull(p);
	inet_ntop(AF_INET, p, s, INET_ADDRSTRLEN);
	return s;
}

/* rep_addr() - an address option of r, checked to be 4 octets */
static const char *rep_addr(const struct rep *r, uint8_t code)
{
	ck_assert_ptr_nonnull(r->opt[code]);
	ck_assert_uint_eq(r->optlen[code], 4);
	return ipstr(r->opt[code]);
}

/* rep_u32() - a 32-bit option of r */
static uint32_t rep_u32(const struct rep *r, uint8_t code)
{
	uint32_t v;

	ck_assert_ptr_nonnull(r->opt[code]);
	ck_assert_uint_eq(r->optlen[code], 4);
	memcpy(&v, r->opt[code], 4);
	return ntohl(v);
}

/* yiaddr() - the address a reply gives */
static const char *yiaddr(const struct rep *r)
{
	return ipstr(r->b + 16);
}

/* lease_for() - DISCOVER, OFFER, REQUEST, ACK for client mac at now_ms;
 * returns the address ACKed */
static const char *lease_for(uint8_t mac, uint64_t now_ms)
{
	static char addr[INET_ADDRSTRLEN];
	struct cmsg m;
	struct rep r;

	msg_init(&m, DISCOVER, mac, 0x1000 + mac);
	msg_end(&m);
	ck_assert_int_ge(handle(&m, now_ms, &r), 300);
	ck_assert_uint_eq(r.type, OFFER);
	snprintf(addr, sizeof(addr), "%s", yiaddr(&r));

	msg_init(&m, REQUEST, mac, 0x2000 + mac);
	msg_opt_addr(&m, 50, addr);
	msg_opt_addr(&m, 54, "10.0.2.2");
	msg_end(&m);
	ck_assert_int_ge(handle(&m, now_ms, &r), 300);
	ck_assert_uint_eq(r.type, ACK);
	ck_assert_str_eq(yiaddr(&r), addr);
	return addr;
}

/* renew() - a RENEWING-state REQUEST (ciaddr, no 50, no 54); the reply type */
static int renew(uint8_t mac, const char *addr, uint64_t now_ms)
{
	struct cmsg m;
	struct rep r;

	msg_init(&m, REQUEST, mac, 0x3000 + mac);
	msg_ciaddr(&m, addr);
	msg_end(&m);
	if (handle(&m, now_ms, &r) <= 0)
		return 0;
	return r.type;
}

/* discover_addr() - the address offered to mac, or "none" */
static const char *discover_addr(uint8_t mac, uint64_t now_ms)
{
	static char addr[INET_ADDRSTRLEN];
	struct cmsg m;
	struct rep r;

	msg_init(&m, DISCOVER, mac, 0x4000 + mac);
	msg_end(&m);
	if (handle(&m, now_ms, &r) <= 0)
		return "none";
	ck_assert_uint_eq(r.type, OFFER);
	snprintf(addr, sizeof(addr), "%s", yiaddr(&r));
	return addr;
}

/* send_release() - a RELEASE of addr by mac; dhcp_handle()'s result */
static int send_release(uint8_t mac, const char *addr, uint64_t now_ms)
{
	struct cmsg m;
	struct rep r;

	msg_init(&m, RELEASE, mac, 0x5000 + mac);
	msg_ciaddr(&m, addr);
	msg_opt_addr(&m, 54, "10.0.2.2");
	msg_end(&m);
	return handle(&m, now_ms, &r);
}

/* first_lease() - dhcp_lease_first() as a string, "none" when it fails */
static const char *first_lease(uint64_t now_ms)
{
	struct in_addr a;

	if (dhcp_lease_first(srv, now_ms, &a) < 0)
		return "none";
	return ipstr((const uint8_t *)&a);
}

/* replace_server() - swap srv for one built from cfg */
static void replace_server(const struct dhcp_config *cfg)
{
	dhcp_free(srv);
	srv = dhcp_new(cfg);
	ck_assert_ptr_nonnull(srv);
}

static void setup(void)
{
	struct dhcp_config cfg;

	dhcp_config_default(&cfg);
	srv = dhcp_new(&cfg);
	ck_assert_ptr_nonnull(srv);
}

static void teardown(void)
{
	dhcp_free(srv);
	srv = NULL;
}

/* --- configuration --- */

START_TEST(test_default_config_is_slirp_layout)
{
	struct dhcp_config c;

	memset(&c, 0xaa, sizeof(c));
	dhcp_config_default(&c);
	ck_assert_str_eq(ipstr((uint8_t *)&c.server), "10.0.2.2");
	ck_assert_str_eq(ipstr((uint8_t *)&c.netmask), "255.255.255.0");
	ck_assert_str_eq(ipstr((uint8_t *)&c.router), "10.0.2.2");
	ck_assert_str_eq(ipstr((uint8_t *)&c.dns), "10.0.2.3");
	ck_assert_str_eq(ipstr((uint8_t *)&c.pool_start), "10.0.2.15");
	ck_assert_uint_eq(c.pool_size, 16);
	ck_assert_uint_eq(c.lease_ms, 86400000);
	ck_assert_uint_eq(c.mtu, 0);
	ck_assert_str_eq(c.domain, "");
}
END_TEST

START_TEST(test_bad_config_is_refused)
{
	struct dhcp_config c;

	dhcp_config_default(&c);
	c.pool_size = 0;
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	inet_pton(AF_INET, "10.0.2.1", &c.pool_start); /* holds .2 and .3 */
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	c.pool_size = 250; /* runs past 10.0.2.255 */
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	inet_pton(AF_INET, "192.168.1.10", &c.pool_start);
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	c.lease_ms = 999;
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	c.mtu = 67;
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	memset(c.domain, 'a', sizeof(c.domain));
	ck_assert_ptr_null(dhcp_new(&c));
	dhcp_config_default(&c);
	c.pool_size = 241; /* .15 to .255, the broadcast address */
	ck_assert_ptr_null(dhcp_new(&c));
	c.pool_size = 240; /* .15 to .254 is fine */
	replace_server(&c);
}
END_TEST

/* --- the exchange --- */

START_TEST(test_discover_offers_pool_start_with_options)
{
	struct cmsg m;
	struct rep r;

	msg_init(&m, DISCOVER, 0x56, 0xdeadbeef);
	msg_opt(&m, 55, (uint8_t[]){ 1, 3, 6 }, 3);
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 0, &r), 300);
	ck_assert_uint_eq(r.type, OFFER);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
	ck_assert_mem_eq(r.b + 1, m.b + 1, 3);		/* htype, hlen, hops */
	ck_assert_mem_eq(r.b + 4, m.b + 4, 4);		/* xid */
	ck_assert_mem_eq(r.b + 10, m.b + 10, 2);	/* flags */
	ck_assert_mem_eq(r.b + 28, m.b + 28, 16);	/* chaddr */
	ck_assert_str_eq(ipstr(r.b + 12), "0.0.0.0");	/* ciaddr */
	ck_assert_str_eq(rep_addr(&r, 54), "10.0.2.2");
	ck_assert_str_eq(rep_addr(&r, 1), "255.255.255.0");
	ck_assert_str_eq(rep_addr(&r, 3), "10.0.2.2");
	ck_assert_str_eq(rep_addr(&r, 6), "10.0.2.3");
	ck_assert(r.opt[1] < r.opt[3]); /* mask before router, RFC 2132 3.3 */
	ck_assert_uint_eq(rep_u32(&r, 51), 86400);
	ck_assert_uint_eq(rep_u32(&r, 58), 43200);
	ck_assert_uint_eq(rep_u32(&r, 59), 75600);
	ck_assert_ptr_null(r.opt[26]);
	ck_assert_ptr_null(r.opt[15]);
	ck_assert_ptr_null(r.opt[61]);
	ck_assert_uint_eq(dhcp_counters(srv)->offers, 1);
	ck_assert_uint_eq(dhcp_lease_count(srv, 0), 0);
}
END_TEST

START_TEST(test_full_exchange_binds_pool_start)
{
	struct cmsg m;
	struct rep r;

	msg_init(&m, DISCOVER, 0x56, 1);
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 1000, &r), 300);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");

	msg_init(&m, REQUEST, 0x56, 2);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_opt_addr(&m, 54, "10.0.2.2");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 1500, &r), 300);
	ck_assert_uint_eq(r.type, ACK);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
	ck_assert_mem_eq(r.b + 4, m.b + 4, 4);
	ck_assert_str_eq(rep_addr(&r, 54), "10.0.2.2");
	ck_assert_str_eq(rep_addr(&r, 1), "255.255.255.0");
	ck_assert_str_eq(rep_addr(&r, 3), "10.0.2.2");
	ck_assert_str_eq(rep_addr(&r, 6), "10.0.2.3");
	ck_assert_uint_eq(rep_u32(&r, 51), 86400);
	ck_assert_uint_eq(rep_u32(&r, 58), 43200);
	ck_assert_uint_eq(rep_u32(&r, 59), 75600);

	ck_assert_uint_eq(dhcp_lease_count(srv, 1500), 1);
	ck_assert_str_eq(first_lease(1500), "10.0.2.15");
	ck_assert_uint_eq(dhcp_counters(srv)->rx, 2);
	ck_assert_uint_eq(dhcp_counters(srv)->tx, 2);
	ck_assert_uint_eq(dhcp_counters(srv)->acks, 1);
}
END_TEST

START_TEST(test_second_client_gets_next_address)
{
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	ck_assert_str_eq(lease_for(0x02, 10), "10.0.2.16");
	ck_assert_uint_eq(dhcp_lease_count(srv, 10), 2);
	ck_assert_str_eq(first_lease(10), "10.0.2.16");
}
END_TEST

START_TEST(test_same_client_gets_same_address)
{
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	ck_assert_str_eq(lease_for(0x02, 0), "10.0.2.16");
	ck_assert_str_eq(discover_addr(0x01, 5000), "10.0.2.15");
	ck_assert_str_eq(lease_for(0x01, 6000), "10.0.2.15");
	/* an unanswered offer is held for the same client too */
	ck_assert_str_eq(discover_addr(0x03, 7000), "10.0.2.17");
	ck_assert_str_eq(discover_addr(0x03, 8000), "10.0.2.17");
	ck_assert_uint_eq(dhcp_lease_count(srv, 8000), 2);
}
END_TEST

START_TEST(test_client_id_names_the_client)
{
	static const uint8_t id[] = { 0, 'v', 'm', '-', 'o', 'n', 'e' };
	static const uint8_t mac_id[] = { 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };
	struct cmsg m;
	struct rep r;

	/* the same client identifier from two MACs is one client */
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 61, id, sizeof(id));
	msg_end(&m);
	ck_assert_int_gt(handle(&m, 0, &r), 0);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
	ck_assert_uint_eq(r.optlen[61], sizeof(id)); /* RFC 6842 echo */
	ck_assert_mem_eq(r.opt[61], id, sizeof(id));
	msg_init(&m, DISCOVER, 0x02, 2);
	msg_opt(&m, 61, id, sizeof(id));
	msg_end(&m);
	ck_assert_int_gt(handle(&m, 0, &r), 0);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");

	/* an identifier of type 1 holding the MAC is that MAC's client */
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.16");
	msg_init(&m, DISCOVER, 0x01, 3);
	msg_opt(&m, 61, mac_id, sizeof(mac_id));
	msg_end(&m);
	ck_assert_int_gt(handle(&m, 0, &r), 0);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.16");
}
END_TEST

START_TEST(test_request_for_wrong_address_is_naked)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	/* INIT-REBOOT asking for another pool address */
	msg_init(&m, REQUEST, 0x01, 7);
	msg_opt_addr(&m, 50, "10.0.2.20");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 100, &r), 300);
	ck_assert_uint_eq(r.type, NAK);
	ck_assert_str_eq(yiaddr(&r), "0.0.0.0");
	ck_assert_str_eq(ipstr(r.b + 12), "0.0.0.0");
	ck_assert_str_eq(rep_addr(&r, 54), "10.0.2.2");
	ck_assert_ptr_null(r.opt[51]);
	ck_assert_ptr_null(r.opt[1]);
	ck_assert_mem_eq(r.b + 4, m.b + 4, 4);
	/* a new client asking for an address outside the pool */
	msg_init(&m, REQUEST, 0x02, 8);
	msg_opt_addr(&m, 50, "192.168.1.5");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 100, &r), 300);
	ck_assert_uint_eq(r.type, NAK);
	/* SELECTING for an address other than the one offered */
	ck_assert_str_eq(discover_addr(0x03, 100), "10.0.2.16");
	msg_init(&m, REQUEST, 0x03, 9);
	msg_opt_addr(&m, 50, "10.0.2.17");
	msg_opt_addr(&m, 54, "10.0.2.2");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 100, &r), 300);
	ck_assert_uint_eq(r.type, NAK);
	/* renewing an address held by someone else */
	ck_assert_int_eq(renew(0x04, "10.0.2.15", 100), NAK);

	ck_assert_uint_eq(dhcp_counters(srv)->naks, 4);
	ck_assert_uint_eq(dhcp_lease_count(srv, 100), 1);
	ck_assert_str_eq(first_lease(100), "10.0.2.15");
}
END_TEST

START_TEST(test_init_reboot_for_due_address_is_acked)
{
	struct cmsg m;
	struct rep r;

	/* a client the server never saw asks for what it would get anyway */
	msg_init(&m, REQUEST, 0x09, 7);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 0, &r), 300);
	ck_assert_uint_eq(r.type, ACK);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
	ck_assert_uint_eq(dhcp_lease_count(srv, 0), 1);
}
END_TEST

START_TEST(test_request_for_other_server_is_ignored)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(discover_addr(0x01, 0), "10.0.2.15");
	msg_init(&m, REQUEST, 0x01, 7);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_opt_addr(&m, 54, "10.0.2.99");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 10, &r), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 1);
	ck_assert_uint_eq(dhcp_counters(srv)->acks, 0);
	ck_assert_uint_eq(dhcp_counters(srv)->naks, 0);
	ck_assert_uint_eq(dhcp_lease_count(srv, 10), 0);
	/* the client took the other offer, so ours is free again */
	ck_assert_str_eq(discover_addr(0x02, 20), "10.0.2.15");
}
END_TEST

START_TEST(test_renewing_extends_lease)
{
	struct rep r;
	struct cmsg m;

	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	msg_init(&m, REQUEST, 0x01, 77);
	msg_ciaddr(&m, "10.0.2.15");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, LEASE_MS / 2, &r), 300);
	ck_assert_uint_eq(r.type, ACK);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
	ck_assert_str_eq(ipstr(r.b + 12), "10.0.2.15"); /* ciaddr copied */
	ck_assert_uint_eq(rep_u32(&r, 51), 86400);
	/* the renewal counts from LEASE_MS / 2 */
	ck_assert_uint_eq(dhcp_lease_count(srv, LEASE_MS + 1), 1);
	ck_assert_uint_eq(dhcp_lease_count(srv, LEASE_MS / 2 + LEASE_MS - 1), 1);
	ck_assert_uint_eq(dhcp_lease_count(srv, LEASE_MS / 2 + LEASE_MS), 0);
}
END_TEST

START_TEST(test_release_lets_another_client_reuse)
{
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	ck_assert_int_eq(send_release(0x01, "10.0.2.15", 100), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->releases, 1);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 0);
	ck_assert_uint_eq(dhcp_lease_count(srv, 100), 0);
	ck_assert_str_eq(first_lease(100), "none");
	ck_assert_str_eq(lease_for(0x02, 200), "10.0.2.15");
	/* the first client comes back to the next address */
	ck_assert_str_eq(lease_for(0x01, 300), "10.0.2.16");
}
END_TEST

START_TEST(test_release_keeps_address_for_its_client)
{
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	ck_assert_str_eq(lease_for(0x02, 0), "10.0.2.16");
	ck_assert_int_eq(send_release(0x02, "10.0.2.16", 100), 0);
	ck_assert_str_eq(lease_for(0x02, 200), "10.0.2.16");
}
END_TEST

START_TEST(test_release_by_other_client_is_ignored)
{
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	ck_assert_int_eq(send_release(0x02, "10.0.2.15", 100), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->releases, 0);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 1);
	ck_assert_uint_eq(dhcp_lease_count(srv, 100), 1);
}
END_TEST

START_TEST(test_lease_expires_and_address_is_reused)
{
	struct dhcp_config c;

	dhcp_config_default(&c);
	c.lease_ms = 60000;
	replace_server(&c);
	ck_assert_str_eq(lease_for(0x01, 1000), "10.0.2.15");
	ck_assert_uint_eq(dhcp_lease_count(srv, 60999), 1);
	ck_assert_str_eq(first_lease(60999), "10.0.2.15");
	ck_assert_str_eq(discover_addr(0x02, 60999), "10.0.2.16");
	ck_assert_uint_eq(dhcp_lease_count(srv, 61000), 0);
	ck_assert_str_eq(first_lease(61000), "none");
	/* .16 is still held for client 2's offer; .15 is free again */
	ck_assert_str_eq(lease_for(0x03, 61000), "10.0.2.15");
	/* renewing the expired, reassigned lease is refused */
	ck_assert_int_eq(renew(0x01, "10.0.2.15", 61001), NAK);
}
END_TEST

START_TEST(test_expired_lease_renews_if_untouched)
{
	struct dhcp_config c;

	dhcp_config_default(&c);
	c.lease_ms = 60000;
	replace_server(&c);
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	/* a VM suspended past its lease comes back and renews */
	ck_assert_int_eq(renew(0x01, "10.0.2.15", 500000), ACK);
	ck_assert_uint_eq(dhcp_lease_count(srv, 500000 + 59999), 1);
}
END_TEST

START_TEST(test_pool_exhaustion_gets_no_offer)
{
	char want[INET_ADDRSTRLEN];
	unsigned i;

	for (i = 0; i < 16; i++) {
		snprintf(want, sizeof(want), "10.0.2.%u", 15 + i);
		ck_assert_str_eq(lease_for((uint8_t)(0x10 + i), i), want);
	}
	ck_assert_uint_eq(dhcp_lease_count(srv, 100), 16);
	ck_assert_str_eq(discover_addr(0x99, 100), "none");
	ck_assert_str_eq(discover_addr(0x99, 100 + OFFER_HOLD_MS), "none");
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 2);
	ck_assert_uint_eq(dhcp_counters(srv)->offers, 16);
	/* clients already bound still get their offers */
	ck_assert_str_eq(discover_addr(0x13, 200), "10.0.2.18");
	/* one release makes room */
	ck_assert_int_eq(send_release(0x14, "10.0.2.19", 300), 0);
	ck_assert_str_eq(discover_addr(0x99, 400), "10.0.2.19");
}
END_TEST

START_TEST(test_unanswered_offers_expire)
{
	char name[INET_ADDRSTRLEN];
	unsigned i;

	for (i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "10.0.2.%u", 15 + i);
		ck_assert_str_eq(discover_addr((uint8_t)(0x10 + i), 0), name);
	}
	ck_assert_str_eq(discover_addr(0x99, OFFER_HOLD_MS - 1), "none");
	ck_assert_str_eq(discover_addr(0x99, OFFER_HOLD_MS), "10.0.2.15");
}
END_TEST

START_TEST(test_decline_holds_address_back)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	msg_init(&m, DECLINE, 0x01, 5);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_opt_addr(&m, 54, "10.0.2.2");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 100, &r), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->declines, 1);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 0);
	ck_assert_uint_eq(dhcp_lease_count(srv, 100), 0);
	ck_assert_str_eq(lease_for(0x01, 200), "10.0.2.16");
	ck_assert_str_eq(discover_addr(0x02, 300), "10.0.2.17");
	ck_assert_str_eq(discover_addr(0x03, 100 + DECLINE_HOLD_MS), "10.0.2.15");
}
END_TEST

START_TEST(test_decline_by_other_client_is_ignored)
{
	struct cmsg m;
	struct rep r;

	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	msg_init(&m, DECLINE, 0x02, 5);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 100, &r), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->declines, 0);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 1);
	ck_assert_uint_eq(dhcp_lease_count(srv, 100), 1);
}
END_TEST

START_TEST(test_inform_acks_without_lease)
{
	struct cmsg m;
	struct rep r;

	msg_init(&m, INFORM, 0x01, 9);
	msg_ciaddr(&m, "10.0.2.99");
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 0, &r), 300);
	ck_assert_uint_eq(r.type, ACK);
	ck_assert_str_eq(yiaddr(&r), "0.0.0.0");
	ck_assert_str_eq(ipstr(r.b + 12), "10.0.2.99");
	ck_assert_ptr_null(r.opt[51]);
	ck_assert_ptr_null(r.opt[58]);
	ck_assert_ptr_null(r.opt[59]);
	ck_assert_str_eq(rep_addr(&r, 54), "10.0.2.2");
	ck_assert_str_eq(rep_addr(&r, 1), "255.255.255.0");
	ck_assert_str_eq(rep_addr(&r, 3), "10.0.2.2");
	ck_assert_str_eq(rep_addr(&r, 6), "10.0.2.3");
	ck_assert_uint_eq(dhcp_lease_count(srv, 0), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->informs, 1);
	ck_assert_uint_eq(dhcp_counters(srv)->acks, 1);
	/* INFORM took no address: the first client still gets .15 */
	ck_assert_str_eq(discover_addr(0x01, 0), "10.0.2.15");
}
END_TEST

START_TEST(test_mtu_and_domain_are_sent_when_set)
{
	struct dhcp_config c;
	struct cmsg m;
	struct rep r;

	dhcp_config_default(&c);
	c.mtu = 1400;
	snprintf(c.domain, sizeof(c.domain), "omnet.lan");
	c.lease_ms = 3600500; /* sent rounded down to whole seconds */
	replace_server(&c);
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_end(&m);
	/* 240 + 53, 54, 51, 58, 59, 1, 3, 6 (45) + 26 (4) + 15 (11) + end */
	ck_assert_int_eq(handle(&m, 0, &r), 301);
	ck_assert_ptr_nonnull(r.opt[26]);
	ck_assert_uint_eq(r.optlen[26], 2);
	ck_assert_uint_eq(r.opt[26][0] << 8 | r.opt[26][1], 1400);
	ck_assert_ptr_nonnull(r.opt[15]);
	ck_assert_uint_eq(r.optlen[15], 9);
	ck_assert_mem_eq(r.opt[15], "omnet.lan", 9);
	ck_assert_uint_eq(rep_u32(&r, 51), 3600);
	ck_assert_uint_eq(rep_u32(&r, 58), 1800);
	ck_assert_uint_eq(rep_u32(&r, 59), 3150);
}
END_TEST

START_TEST(test_lease_first_is_latest_binding)
{
	ck_assert_str_eq(first_lease(0), "none");
	ck_assert_str_eq(lease_for(0x01, 0), "10.0.2.15");
	ck_assert_str_eq(lease_for(0x02, 0), "10.0.2.16");
	ck_assert_str_eq(first_lease(0), "10.0.2.16");
	/* a renewal is not a new binding */
	ck_assert_int_eq(renew(0x01, "10.0.2.15", 1000), ACK);
	ck_assert_str_eq(first_lease(1000), "10.0.2.16");
	ck_assert_int_eq(send_release(0x02, "10.0.2.16", 2000), 0);
	ck_assert_str_eq(first_lease(2000), "10.0.2.15");
}
END_TEST

START_TEST(test_small_buffer_drops_reply)
{
	struct cmsg m;
	uint8_t out[299];

	msg_init(&m, DISCOVER, 0x01, 1);
	msg_end(&m);
	ck_assert_int_eq(dhcp_handle(srv, m.b, m.len, 0, out, sizeof(out)), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 1);
	ck_assert_uint_eq(dhcp_counters(srv)->tx, 0);
}
END_TEST

START_TEST(test_long_client_id_fits_reply_max)
{
	struct dhcp_config c;
	uint8_t id[255];
	struct cmsg m;
	struct rep r;

	dhcp_config_default(&c);
	c.mtu = 1500;
	memset(c.domain, 'd', sizeof(c.domain) - 1);
	c.domain[sizeof(c.domain) - 1] = '\0';
	replace_server(&c);
	memset(id, 0x77, sizeof(id));
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 61, id, sizeof(id));
	msg_end(&m);
	ck_assert_int_eq(handle(&m, 0, &r), 612);
	ck_assert_uint_eq(r.optlen[61], 255);
	ck_assert_uint_eq(r.optlen[15], 63);
}
END_TEST

/* --- hostile input --- */

/* handle_exact() - dhcp_handle() on a heap copy of exactly len octets of
 * m, so the sanitizer sees any read past the end */
static int handle_exact(const uint8_t *b, size_t len, uint64_t now_ms, struct rep *r)
{
	uint8_t *copy = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, b, len);
	memset(r, 0, sizeof(*r));
	r->len = dhcp_handle(srv, copy, len, now_ms, r->b, sizeof(r->b));
	free(copy);
	if (r->len > 0)
		rep_parse(r);
	return r->len;
}

/* expect() - the result of feeding m at now_ms */
static int expect(const struct cmsg *m)
{
	struct rep r;

	return handle_exact(m->b, m->len, 0, &r);
}

START_TEST(test_every_prefix_of_discover)
{
	static const uint8_t id[] = { 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct cmsg m;
	struct rep r;
	size_t len;
	int n, answered;

	/* 53 at 240..242, 61 at 243..251, 55 at 252..257, end at 258 */
	msg_init(&m, DISCOVER, 0x56, 1);
	msg_opt(&m, 61, id, sizeof(id));
	msg_opt(&m, 55, (uint8_t[]){ 1, 3, 6, 15 }, 4);
	msg_end(&m);
	for (len = 0; len <= m.len; len++) {
		n = handle_exact(m.b, len, 0, &r);
		answered = len == 243 || len == 252 || len >= 258;
		if (!answered) {
			ck_assert_msg(n == -1, "prefix %zu: got %d, want -1", len, n);
			continue;
		}
		ck_assert_msg(n == 300, "prefix %zu: got %d, want 300", len, n);
		ck_assert_uint_eq(r.type, OFFER);
		ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
	}
	ck_assert_uint_eq(dhcp_counters(srv)->rx, m.len + 1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 243 + 8 + 5);
	ck_assert_uint_eq(dhcp_counters(srv)->offers, m.len + 1 - (243 + 8 + 5));
}
END_TEST

START_TEST(test_every_prefix_of_request)
{
	struct cmsg m;
	struct rep r;
	size_t len;
	int n;

	msg_init(&m, REQUEST, 0x56, 1);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_opt_addr(&m, 54, "10.0.2.2");
	msg_opt(&m, 12, "vm", 2);
	msg_end(&m);
	for (len = 0; len <= m.len; len++) {
		n = handle_exact(m.b, len, len, &r);
		if (len < 249) { /* 50 ends at 248 */
			ck_assert_msg(n == -1, "prefix %zu: got %d, want -1", len, n);
			continue;
		}
		ck_assert_msg(n == -1 || n == 300, "prefix %zu: got %d", len, n);
		if (n > 0)
			ck_assert_uint_eq(r.type, ACK);
	}
	ck_assert_uint_eq(r.type, ACK);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.15");
}
END_TEST

START_TEST(test_option_past_end_is_malformed)
{
	struct cmsg m;

	msg_init(&m, DISCOVER, 0x01, 1);
	m.b[m.len++] = 12;
	m.b[m.len++] = 200;
	m.b[m.len++] = 'x';
	ck_assert_int_eq(expect(&m), -1);
	/* a code octet with no length octet after it */
	msg_init(&m, DISCOVER, 0x01, 1);
	m.b[m.len++] = 12;
	ck_assert_int_eq(expect(&m), -1);
	/* option 53 itself cut short */
	msg_raw(&m, 0x01, 1);
	m.b[m.len++] = 53;
	m.b[m.len++] = 1;
	ck_assert_int_eq(expect(&m), -1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 3);
	ck_assert_uint_eq(dhcp_counters(srv)->offers, 0);
}
END_TEST

START_TEST(test_weird_hlen_is_malformed)
{
	struct cmsg m;

	msg_init(&m, DISCOVER, 0x01, 1);
	msg_end(&m);
	m.b[2] = 200;
	ck_assert_int_eq(expect(&m), -1);
	m.b[2] = 17;
	ck_assert_int_eq(expect(&m), -1);
	m.b[2] = 16;
	ck_assert_int_eq(expect(&m), 300);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 2);
}
END_TEST

START_TEST(test_no_hardware_address_needs_client_id)
{
	static const uint8_t id[] = { 0, 'x', 'y' };
	struct cmsg m;

	msg_init(&m, DISCOVER, 0x01, 1);
	msg_end(&m);
	m.b[2] = 0;
	ck_assert_int_eq(expect(&m), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 1);
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 61, id, sizeof(id));
	msg_end(&m);
	m.b[2] = 0;
	ck_assert_int_eq(expect(&m), 300);
}
END_TEST

START_TEST(test_missing_cookie_is_malformed)
{
	struct cmsg m;

	msg_init(&m, DISCOVER, 0x01, 1);
	msg_end(&m);
	m.b[239] = 0x62;
	ck_assert_int_eq(expect(&m), -1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 1);
}
END_TEST

START_TEST(test_missing_message_type_is_malformed)
{
	struct cmsg m;

	msg_raw(&m, 0x01, 1);
	msg_opt_addr(&m, 50, "10.0.2.15");
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	msg_raw(&m, 0x01, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 2);
}
END_TEST

START_TEST(test_bad_option_lengths_are_malformed)
{
	struct cmsg m;

	msg_raw(&m, 0x01, 1);
	msg_opt(&m, 53, "", 0);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	msg_raw(&m, 0x01, 1);
	msg_opt(&m, 53, (uint8_t[]){ 1, 1 }, 2);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	msg_init(&m, REQUEST, 0x01, 1);
	msg_opt(&m, 50, (uint8_t[]){ 10, 0, 2 }, 3);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 61, (uint8_t[]){ 1 }, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 53, (uint8_t[]){ DISCOVER }, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 5);
}
END_TEST

START_TEST(test_pad_and_empty_options_are_skipped)
{
	struct cmsg m;
	struct rep r;

	msg_raw(&m, 0x01, 1);
	memset(m.b + m.len, 0, 20);
	m.len += 20;
	msg_opt(&m, 12, "", 0);		/* empty host name */
	msg_opt(&m, 224, "", 0);	/* empty site-specific option */
	msg_opt(&m, 53, (uint8_t[]){ DISCOVER }, 1);
	m.b[m.len++] = 0;
	msg_end(&m);
	ck_assert_int_eq(handle_exact(m.b, m.len, 0, &r), 300);
	ck_assert_uint_eq(r.type, OFFER);
	/* no end option: the options field just stops */
	msg_init(&m, DISCOVER, 0x02, 1);
	ck_assert_int_eq(handle_exact(m.b, m.len, 0, &r), 300);
	ck_assert_str_eq(yiaddr(&r), "10.0.2.16");
}
END_TEST

START_TEST(test_overloaded_fields_are_parsed_safely)
{
	struct cmsg m;
	struct rep r;

	/* message type in the file field (RFC 2132 9.3) */
	msg_raw(&m, 0x01, 1);
	msg_opt(&m, 52, (uint8_t[]){ 1 }, 1);
	msg_end(&m);
	m.b[108] = 53;
	m.b[109] = 1;
	m.b[110] = DISCOVER;
	m.b[111] = 255;
	ck_assert_int_eq(handle_exact(m.b, m.len, 0, &r), 300);
	ck_assert_uint_eq(r.type, OFFER);
	/* an option in sname running past its 64 octets */
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 52, (uint8_t[]){ 3 }, 1);
	msg_end(&m);
	memset(m.b + 44, 0, 64);
	m.b[44 + 60] = 12;
	m.b[44 + 61] = 10;
	ck_assert_int_eq(expect(&m), -1);
	/* file and sname all 0xff: empty areas */
	memset(m.b + 44, 0xff, 64 + 128);
	ck_assert_int_eq(expect(&m), 300);
	/* overload values other than 1..3 */
	msg_init(&m, DISCOVER, 0x01, 1);
	msg_opt(&m, 52, (uint8_t[]){ 4 }, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 2);
}
END_TEST

START_TEST(test_non_client_messages_are_ignored)
{
	struct cmsg m;

	msg_init(&m, DISCOVER, 0x01, 1);
	msg_end(&m);
	m.b[0] = 2; /* BOOTREPLY */
	ck_assert_int_eq(expect(&m), 0);
	msg_init(&m, OFFER, 0x01, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), 0);
	msg_init(&m, 42, 0x01, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), 0);
	ck_assert_uint_eq(dhcp_counters(srv)->ignored, 3);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 0);
	ck_assert_uint_eq(dhcp_counters(srv)->tx, 0);
}
END_TEST

START_TEST(test_request_without_address_is_malformed)
{
	struct cmsg m;

	msg_init(&m, REQUEST, 0x01, 1);
	msg_end(&m);
	ck_assert_int_eq(expect(&m), -1);
	ck_assert_uint_eq(dhcp_counters(srv)->malformed, 1);
}
END_TEST

/* xorshift32() - a fixed pseudo-random sequence, so failures replay */
static uint32_t xorshift32(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

START_TEST(test_mutated_messages_are_safe)
{
	const struct dhcp_counters *c = dhcp_counters(srv);
	struct cmsg base[3], m;
	uint32_t seed = 0x6d6e7421;
	struct rep r;
	unsigned i, j;
	int n;

	msg_init(&base[0], DISCOVER, 0x01, 1);
	msg_opt(&base[0], 61, (uint8_t[]){ 1, 2, 3 }, 3);
	msg_end(&base[0]);
	msg_init(&base[1], REQUEST, 0x01, 1);
	msg_opt_addr(&base[1], 50, "10.0.2.15");
	msg_opt(&base[1], 52, (uint8_t[]){ 3 }, 1);
	msg_end(&base[1]);
	msg_init(&base[2], RELEASE, 0x01, 1);
	msg_ciaddr(&base[2], "10.0.2.15");
	msg_end(&base[2]);
	for (i = 0; i < 20000; i++) {
		m = base[i % 3];
		for (j = xorshift32(&seed) % 8; j > 0; j--)
			m.b[xorshift32(&seed) % m.len] = (uint8_t)xorshift32(&seed);
		if (xorshift32(&seed) % 4 == 0)
			m.len = xorshift32(&seed) % (m.len + 1);
		n = handle_exact(m.b, m.len, i * 1000ull, &r);
		ck_assert_msg(n == -1 || n == 0 || (n >= 300 && n <= DHCP_REPLY_MAX),
			      "iteration %u: got %d", i, n);
	}
	ck_assert_uint_eq(c->rx, 20000);
	ck_assert_uint_eq(c->rx, c->malformed + c->ignored + c->tx + c->releases + c->declines);
	ck_assert_uint_gt(c->malformed, 0);
	ck_assert_uint_gt(c->tx, 0);
}
END_TEST

static Suite *dhcp_suite(void)
{
	Suite *s = suite_create("dhcp");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_default_config_is_slirp_layout);
	tcase_add_test(tc, test_bad_config_is_refused);
	tcase_add_test(tc, test_discover_offers_pool_start_with_options);
	tcase_add_test(tc, test_full_exchange_binds_pool_start);
	tcase_add_test(tc, test_second_client_gets_next_address);
	tcase_add_test(tc, test_same_client_gets_same_address);
	tcase_add_test(tc, test_client_id_names_the_client);
	tcase_add_test(tc, test_request_for_wrong_address_is_naked);
	tcase_add_test(tc, test_init_reboot_for_due_address_is_acked);
	tcase_add_test(tc, test_request_for_other_server_is_ignored);
	tcase_add_test(tc, test_renewing_extends_lease);
	tcase_add_test(tc, test_release_lets_another_client_reuse);
	tcase_add_test(tc, test_release_keeps_address_for_its_client);
	tcase_add_test(tc, test_release_by_other_client_is_ignored);
	tcase_add_test(tc, test_lease_expires_and_address_is_reused);
	tcase_add_test(tc, test_expired_lease_renews_if_untouched);
	tcase_add_test(tc, test_pool_exhaustion_gets_no_offer);
	tcase_add_test(tc, test_unanswered_offers_expire);
	tcase_add_test(tc, test_decline_holds_address_back);
	tcase_add_test(tc, test_decline_by_other_client_is_ignored);
	tcase_add_test(tc, test_inform_acks_without_lease);
	tcase_add_test(tc, test_mtu_and_domain_are_sent_when_set);
	tcase_add_test(tc, test_lease_first_is_latest_binding);
	tcase_add_test(tc, test_small_buffer_drops_reply);
	tcase_add_test(tc, test_long_client_id_fits_reply_max);
	tcase_add_test(tc, test_every_prefix_of_discover);
	tcase_add_test(tc, test_every_prefix_of_request);
	tcase_add_test(tc, test_option_past_end_is_malformed);
	tcase_add_test(tc, test_weird_hlen_is_malformed);
	tcase_add_test(tc, test_no_hardware_address_needs_client_id);
	tcase_add_test(tc, test_missing_cookie_is_malformed);
	tcase_add_test(tc, test_missing_message_type_is_malformed);
	tcase_add_test(tc, test_bad_option_lengths_are_malformed);
	tcase_add_test(tc, test_pad_and_empty_options_are_skipped);
	tcase_add_test(tc, test_overloaded_fields_are_parsed_safely);
	tcase_add_test(tc, test_non_client_messages_are_ignored);
	tcase_add_test(tc, test_request_without_address_is_malformed);
	tcase_add_test(tc, test_mutated_messages_are_safe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1); /* warnings only: tests provoke many info lines */
	sr = srunner_create(dhcp_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
