/* ra.c: router advertisements for the VM's IPv6 LAN (RFC 4861, RFC 8106).
 *
 * The LAN has one router, us, and usually one host, the VM; nothing here
 * needs to coexist with other routers beyond what RFC 4861 asks of every
 * router.  Pure: no sockets, no clock; time comes in as now_ms. */
#include <arpa/inet.h>
#include <string.h>

#include "log.h"
#include "ra.h"
#include "util.h"

/* RFC 4861 4.1, 4.2, 4.6; RFC 8106 5.1 */
#define ND_RS			133
#define ND_RA			134
#define RS_HDR_LEN		8
#define RA_HDR_LEN		16
#define OPT_SLLA		1
#define OPT_PREFIX		3
#define OPT_MTU			5
#define OPT_RDNSS		25
#define OPT_SLLA_LEN		8
#define OPT_PREFIX_LEN		32
#define OPT_MTU_LEN		8
#define OPT_RDNSS_LEN		24	/* one address */
#define RA_FLAG_MANAGED		0x80
#define RA_FLAG_OTHER		0x40
#define PREFIX_FLAG_ONLINK	0x80
#define PREFIX_FLAG_AUTO	0x40
/* RFC 4861 6.3.2 suggests 64 for AdvCurHopLimit; RFC 8200 too */
#define RA_CUR_HOP_LIMIT	64
/* RFC 4861 6.2.1: AdvDefaultLifetime is 0 or MaxRtrAdvInterval..9000 s */
#define ROUTER_LIFETIME_MAX_S	9000u
#define IPV6_MIN_MTU		1280u
/* xorshift32 must not start at 0, where it stays */
#define RNG_NONZERO		0x9e3779b9u

/* put16() - v in network order at p */
static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* put32() - v in network order at p */
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* addr_is_unspec() - whether a is :: */
static int addr_is_unspec(const struct in6_addr *a)
{
	static const struct in6_addr any = IN6ADDR_ANY_INIT;

	return memcmp(a, &any, sizeof(any)) == 0;
}

/* --- configuration --- */

/* ra_config_default() - a unique-local /64 spelling "omnet" in its global
 * id, DNS at ::3 as the capture names it, RFC 4861 6.2.1 default router
 * lifetime (3 x MaxRtrAdvInterval) and RFC 4861 prefix lifetimes scaled
 * down to a VM's life: a day valid, four hours preferred.  M and O are set
 * because the DHCPv6 server hands out an address the daemon knows (port
 * forwards go to it) and DNS to hosts that ignore RDNSS; A stays set so
 * that a host without a DHCPv6 client configures itself by SLAAC. */
void ra_config_default(struct ra_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	inet_pton(AF_INET6, "fd6f:6d6e:6574::", &cfg->prefix);
	inet_pton(AF_INET6, "fd6f:6d6e:6574::3", &cfg->dns);
	cfg->router_lifetime_s = 3 * RA_MAX_INTERVAL_MS / 1000;
	cfg->prefix_valid_s = 86400;
	cfg->prefix_preferred_s = 14400;
	cfg->rdnss_lifetime_s = 3 * RA_MAX_INTERVAL_MS / 1000;
	cfg->managed = 1;
	cfg->other = 1;
}

/* config_check_dns() - the RDNSS address and lifetime, if there is one */
static int config_check_dns(const struct ra_config *c)
{
	if (addr_is_unspec(&c->dns))
		return 0;
	if (c->dns.s6_addr[0] == 0xff) {
		log_warnx("ra: DNS address is multicast");
		return -1;
	}
	if (c->rdnss_lifetime_s < RA_MAX_INTERVAL_MS / 1000) {
		log_warnx("ra: RDNSS lifetime %u s under the %u s between advertisements",
			  c->rdnss_lifetime_s, RA_MAX_INTERVAL_MS / 1000);
		return -1;
	}
	return 0;
}

/* ra_config_check() - refuse what a host would reject or misuse */
int ra_config_check(const struct ra_config *c)
{
	char p[INET6_ADDRSTRLEN];

	/* SLAAC in global or unique-local space only: on link-local,
	 * multicast or :: it makes no sense */
	if (!ipv6_unicast_scope(c->prefix.s6_addr)) {
		log_warnx("ra: prefix %s/64 is not global or unique-local unicast",
			  inet_ntop(AF_INET6, &c->prefix, p, sizeof(p)));
		return -1;
	}
	/* RFC 4862 5.5.3 c: hosts ignore such a prefix */
	if (c->prefix_preferred_s > c->prefix_valid_s) {
		log_warnx("ra: prefix preferred lifetime %u s over its valid lifetime %u s",
			  c->prefix_preferred_s, c->prefix_valid_s);
		return -1;
	}
	if (c->router_lifetime_s &&
	    (c->router_lifetime_s < RA_MAX_INTERVAL_MS / 1000 ||
	     c->router_lifetime_s > ROUTER_LIFETIME_MAX_S)) {
		log_warnx("ra: router lifetime %u s not 0 or %u..%u", c->router_lifetime_s,
			  RA_MAX_INTERVAL_MS / 1000, ROUTER_LIFETIME_MAX_S);
		return -1;
	}
	if (c->mtu && c->mtu < IPV6_MIN_MTU) {
		log_warnx("ra: MTU %u under the IPv6 minimum of %u", c->mtu, IPV6_MIN_MTU);
		return -1;
	}
	return config_check_dns(c);
}

/* --- the advertisement --- */

/* ra_len() - how long the advertisement for c is */
static size_t ra_len(const struct ra_config *c)
{
	return RA_HDR_LEN + (c->have_mac ? OPT_SLLA_LEN : 0) + (c->mtu ? OPT_MTU_LEN : 0) +
	       OPT_PREFIX_LEN + (addr_is_unspec(&c->dns) ? 0 : OPT_RDNSS_LEN);
}

/* put_header() - RFC 4861 4.2; the checksum stays 0 for the kernel */
static uint8_t *put_header(const struct ra_config *c, uint8_t *p)
{
	memset(p, 0, RA_HDR_LEN);
	p[0] = ND_RA;
	p[4] = RA_CUR_HOP_LIMIT;
	p[5] = (uint8_t)((c->managed ? RA_FLAG_MANAGED : 0) | (c->other ? RA_FLAG_OTHER : 0));
	/* a 16-bit field; ra_config_check() keeps it under 9000 anyway */
	put16(p + 6, MIN(c->router_lifetime_s, 0xffffu));
	return p + RA_HDR_LEN;
}

/* opt_start() - an option of len octets at p, zeroed (reserved fields
 * must be), with its type and its length in units of 8 octets (RFC 4861
 * 4.6) */
static void opt_start(uint8_t *p, uint8_t type, size_t len)
{
	memset(p, 0, len);
	p[0] = type;
	p[1] = (uint8_t)(len / 8);
}

/* put_slla() - RFC 4861 4.6.1: the router's MAC, so that the host need not
 * resolve it before its first packet */
static uint8_t *put_slla(const struct ra_config *c, uint8_t *p)
{
	opt_start(p, OPT_SLLA, OPT_SLLA_LEN);
	memcpy(p + 2, c->mac, 6);
	return p + OPT_SLLA_LEN;
}

/* put_mtu() - RFC 4861 4.6.4 */
static uint8_t *put_mtu(const struct ra_config *c, uint8_t *p)
{
	opt_start(p, OPT_MTU, OPT_MTU_LEN);
	put32(p + 4, c->mtu);
	return p + OPT_MTU_LEN;
}

/* put_prefix() - RFC 4861 4.6.2: the /64, on-link and for SLAAC; the
 * bits past the prefix length must be zero */
static uint8_t *put_prefix(const struct ra_config *c, uint8_t *p)
{
	opt_start(p, OPT_PREFIX, OPT_PREFIX_LEN);
	p[2] = 64;
	p[3] = PREFIX_FLAG_ONLINK | PREFIX_FLAG_AUTO;
	put32(p + 4, c->prefix_valid_s);
	put32(p + 8, c->prefix_preferred_s);
	memcpy(p + 16, &c->prefix, 8);
	return p + OPT_PREFIX_LEN;
}

/* put_rdnss() - RFC 8106 5.1 with one address */
static uint8_t *put_rdnss(const struct ra_config *c, uint8_t *p)
{
	opt_start(p, OPT_RDNSS, OPT_RDNSS_LEN);
	put32(p + 4, c->rdnss_lifetime_s);
	memcpy(p + 8, &c->dns, 16);
	return p + OPT_RDNSS_LEN;
}

/* ra_build() - the advertisement for c; see ra.h */
size_t ra_build(const struct ra_config *c, uint8_t *out, size_t cap)
{
	size_t len = ra_len(c);
	uint8_t *p;

	if (cap < len)
		return 0;
	p = put_header(c, out);
	if (c->have_mac)
		p = put_slla(c, p);
	if (c->mtu)
		p = put_mtu(c, p);
	p = put_prefix(c, p);
	if (!addr_is_unspec(&c->dns))
		put_rdnss(c, p);
	return len;
}

/* --- solicitations --- */

/* rs_bad() - log why a solicitation is dropped; returns -1 */
static int rs_bad(const char *why)
{
	log_debug("ra: router solicitation dropped: %s", why);
	return -1;
}

/* rs_options() - walk the options of a solicitation (4.1, 4.6): each of
 * nonzero length and inside the message; the first source link-layer
 * address to mac, *have_mac set; -1 if one is bad */
static int rs_options(const uint8_t *p, size_t len, uint8_t mac[6], int *have_mac)
{
	size_t off, n;

	for (off = 0; off < len; off += n) {
		if (len - off < 2)
			return rs_bad("option header cut off");
		n = (size_t)p[off + 1] * 8;
		if (n == 0)
			return rs_bad("option of length 0");
		if (n > len - off)
			return rs_bad("option runs past the end");
		if (p[off] != OPT_SLLA)
			continue; /* 4.1: unknown options are skipped */
		if (n != OPT_SLLA_LEN)
			return rs_bad("source link-layer address not 6 octets");
		if (!*have_mac) /* Linux too keeps the first of a repeated option */
			memcpy(mac, p + off + 2, 6);
		*have_mac = 1;
	}
	return 0;
}

/* ra_parse_rs() - RFC 4861 6.1.1 as far as the message shows; see ra.h.
 * Nothing of an invalid solicitation reaches the caller. */
int ra_parse_rs(const uint8_t *msg, size_t len, uint8_t mac_out[6], int *have_mac)
{
	uint8_t mac[6] = { 0 };
	int have = 0;

	*have_mac = 0;
	memset(mac_out, 0, 6);
	if (!msg || len < RS_HDR_LEN)
		return rs_bad("shorter than 8 octets");
	if (msg[0] != ND_RS || msg[1] != 0)
		return rs_bad("not type 133 code 0");
	/* the 4 reserved octets after the checksum are ignored (4.1) */
	if (rs_options(msg + RS_HDR_LEN, len - RS_HDR_LEN, mac, &have) < 0)
		return -1;
	memcpy(mac_out, mac, 6);
	*have_mac = have;
	return 0;
}

/* --- the scheduler --- */

/* rng_next() - xorshift32 (Marsaglia 2003): a caller's seed in, the same
 * intervals out, so the tests can replay them */
static uint32_t rng_next(struct ra_sched *s)
{
	uint32_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return s->rng = x;
}

/* rng_between() - uniform in lo..hi inclusive (the modulo bias of a 32-bit
 * draw over 400001 values is immaterial here) */
static uint64_t rng_between(struct ra_sched *s, uint32_t lo, uint32_t hi)
{
	return lo + rng_next(s) % (hi - lo + 1);
}

/* ra_sched_init() - the first advertisement is due at once: no other router
 * shares the VM's link to collide with, and the VM's SLAAC waits for it */
void ra_sched_init(struct ra_sched *s, uint64_t now_ms, uint32_t seed)
{
	memset(s, 0, sizeof(*s));
	s->next_ms = now_ms;
	s->rng = seed ? seed : RNG_NONZERO;
}

uint64_t ra_sched_next(const struct ra_sched *s)
{
	return s->next_ms;
}

/* ra_sched_sent() - RFC 4861 6.2.4: the next unsolicited advertisement
 * after a random MinRtrAdvInterval..MaxRtrAdvInterval, but the first
 * RA_INITIAL_ADVERTS at most RA_INITIAL_INTERVAL_MS apart.  The RFC says
 * 16 s (MAX_INITIAL_RTR_ADVERT_INTERVAL) to spare shared links; ours links
 * one VM to us, an advertisement costs it one packet, and a VM whose
 * solicitation was lost while its interface came up configures in seconds
 * instead of a minute.  4 s keeps clear of MIN_DELAY_BETWEEN_RAS (3 s). */
void ra_sched_sent(struct ra_sched *s, uint64_t now_ms)
{
	uint64_t interval = rng_between(s, RA_MIN_INTERVAL_MS, RA_MAX_INTERVAL_MS);

	if (s->sent < RA_INITIAL_ADVERTS)
		s->sent++;
	if (s->sent < RA_INITIAL_ADVERTS)
		interval = MIN(interval, RA_INITIAL_INTERVAL_MS);
	s->last_ms = now_ms;
	s->next_ms = now_ms + interval;
}

/* ra_sched_solicited() - RFC 4861 6.2.6: a random delay of up to
 * MAX_RA_DELAY_TIME, counted from the previous multicast advertisement
 * plus MIN_DELAY_BETWEEN_RAS if that was more recent than that; an
 * advertisement already due sooner stays as it is */
void ra_sched_solicited(struct ra_sched *s, uint64_t now_ms)
{
	uint64_t at = rng_between(s, 0, RA_MAX_DELAY_MS);

	if (s->sent && now_ms < s->last_ms + RA_MIN_GAP_MS)
		at += s->last_ms + RA_MIN_GAP_MS;
	else
		at += now_ms;
	s->next_ms = MIN(s->next_ms, at);
}
