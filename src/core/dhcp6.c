/* dhcp6.c: DHCPv6 server core for the VM's LAN (RFC 8415).
 *
 * One lease slot per pool address, owned by a client's DUID and the IAID of
 * one of its IA_NAs.  As in dhcp.c, a slot remembers its last owner after
 * release or expiry, so that client gets the same address back, and a new
 * client takes the lowest free slot, so the first VM always gets
 * pool_start; the slots are leasetab.c's, as dhcp.c's are.  Only IA_NA
 * gets addresses.  IA_TA and IA_PD are answered with NoAddrsAvail and
 * NoPrefixAvail inside the IA rather than left out: RFC 8415 18.3.1 and
 * 18.3.2 say an IA the server will not serve comes back with that status,
 * and a client that asks for a prefix along with its address (dhcpcd,
 * systemd-networkd) learns at once there is none and carries on with the
 * address.  Pure: no sockets, no clock; time comes in as now_ms. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp6.h"
#include "leasetab.h"
#include "log.h"
#include "util.h"

/* RFC 8415 7.3 */
enum dhcp6_type {
	DH6_SOLICIT = 1, DH6_ADVERTISE, DH6_REQUEST, DH6_CONFIRM, DH6_RENEW, DH6_REBIND,
	DH6_REPLY, DH6_RELEASE, DH6_DECLINE, DH6_RECONFIGURE, DH6_INFORMATION_REQUEST
};

/* RFC 8415 21; RFC 3646 for 23 and 24 */
#define OPT_CLIENTID		1
#define OPT_SERVERID		2
#define OPT_IA_NA		3
#define OPT_IA_TA		4
#define OPT_IAADDR		5
#define OPT_PREFERENCE		7
#define OPT_STATUS_CODE		13
#define OPT_RAPID_COMMIT	14
#define OPT_DNS_SERVERS		23
#define OPT_DOMAIN_LIST		24
#define OPT_IA_PD		25
#define OPT_IAPREFIX		26

/* RFC 8415 21.13 */
enum dhcp6_status {
	ST_SUCCESS = 0, ST_UNSPEC_FAIL, ST_NO_ADDRS_AVAIL, ST_NO_BINDING, ST_NOT_ON_LINK,
	ST_USE_MULTICAST, ST_NO_PREFIX_AVAIL
};

#define MSG_HDR_LEN	4	/* msg-type and transaction-id (RFC 8415 8) */
#define OPT_HDR_LEN	4	/* option-code and option-len (21.1) */
#define IA_NA_HDR_LEN	12	/* IAID, T1, T2 (21.4); IA_PD's too (21.21) */
#define IA_TA_HDR_LEN	4	/* IAID (21.5) */
#define IAADDR_LEN	24	/* address, preferred and valid lifetimes (21.6) */
#define IAPREFIX_LEN	25	/* lifetimes, prefix length, prefix (21.22) */
#define DUID_MIN_LEN	3	/* 11.1: a type and at least one octet */
#define DUID_LLT	1
#define DUID_LL		3
#define HW_ETHERNET	1
#define SERVER_DUID_LEN	10	/* DUID-LL of a MAC (11.4) */
/* addresses remembered per IA of a message (all are checked for being on
 * the link, the first few echoed back with lifetime 0 when stale) */
#define IA_ADDRS_MAX	4
/* our status messages are short; longer ones are cut */
#define STATUS_MSG_MAX	48
/* 0xffffffff is infinity (RFC 8415 7.7); longer configured lifetimes are
 * sent as the longest finite one */
#define LIFETIME_MAX_S	0xfffffffeu
/* RFC 5453: the top 128 interface identifiers of a /64 are reserved */
#define IID_RESERVED	0xfdffffffffffff80ull
/* 18.2.1: with 255 the client requests at once instead of waiting a second
 * for other servers; there are none on the VM's LAN */
#define PREFERENCE_MAX	255

/* How long an advertised address stays reserved for its client (18.3.1
 * lets the server reserve it): clients request within seconds. */
#define DHCP6_OFFER_HOLD_MS	(30 * 1000)
/* How long a declined address stays out of the pool: long enough for
 * whatever squats on it to go away (as dhcp.c) */
#define DHCP6_DECLINE_HOLD_MS	(10 * 60 * 1000)

/* The largest reply: header, both identifiers, a status, rapid commit,
 * preference, DNS, domain, and every IA with its address and the stale
 * ones echoed (or a status instead). */
#define IA_REPLY_BOUND (OPT_HDR_LEN + IA_NA_HDR_LEN + \
	MAX((1 + IA_ADDRS_MAX) * (OPT_HDR_LEN + IAADDR_LEN), OPT_HDR_LEN + 2 + STATUS_MSG_MAX))
#define REPLY_BOUND (MSG_HDR_LEN + OPT_HDR_LEN + SERVER_DUID_LEN + OPT_HDR_LEN + DHCP6_DUID_MAX + \
	OPT_HDR_LEN + 2 + STATUS_MSG_MAX + OPT_HDR_LEN + OPT_HDR_LEN + 1 + \
	OPT_HDR_LEN + 16 * DHCP6_DNS_MAX + OPT_HDR_LEN + DHCP6_DOMAIN_MAX + 1 + \
	DHCP6_IA_MAX * IA_REPLY_BOUND)
_Static_assert(REPLY_BOUND <= DHCP6_REPLY_MAX, "DHCP6_REPLY_MAX too small for the largest reply");

/* A lease's owner: the client's DUID and the IAID of its IA_NA. */
struct dhcp6_key {
	uint8_t len;		/* DUID length; 0: nobody */
	uint8_t duid[DHCP6_DUID_MAX];
	uint32_t iaid;
};

struct dhcp6_server {
	struct dhcp6_config cfg;
	uint8_t duid[SERVER_DUID_LEN];
	uint8_t domain[DHCP6_DOMAIN_MAX + 1];	/* option 24's value */
	size_t domain_len;			/* 0: not sent */
	struct leasetab tab;			/* one slot per pool address */
	struct dhcp6_key *owner;		/* each slot's last owner; kept
						 * after release/expiry */
	int exhausted_logged;
	struct dhcp6_counters ctr;
};

/* One IA option of a message. */
struct dhcp6_ia {
	uint16_t code;		/* OPT_IA_NA, OPT_IA_TA or OPT_IA_PD */
	uint32_t iaid;
	unsigned naddr;		/* IAADDR options in it, up to IA_ADDRS_MAX kept */
	struct in6_addr addr[IA_ADDRS_MAX];
	int off_link;		/* one of its addresses lies outside the prefix */
};

/* One received message, checked, with the options we act on. */
struct dhcp6_req {
	const uint8_t *raw;	/* at least MSG_HDR_LEN octets */
	uint8_t type;
	const uint8_t *client_id;	/* option 1, NULL when absent */
	uint16_t client_id_len;
	const uint8_t *server_id;	/* option 2, NULL when absent */
	uint16_t server_id_len;
	int rapid_commit;
	int has_ia;		/* any IA option, also those not kept */
	struct dhcp6_ia ia[DHCP6_IA_MAX];
	unsigned nia;
	unsigned naddr;		/* addresses in all IA_NAs and IA_TAs */
	int off_link;		/* one of them lies outside the prefix */
};

struct dhcp6_reply {
	uint8_t b[DHCP6_REPLY_MAX];
	size_t len;
	int overflow;
};

/* --- helpers --- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* iid() - the interface identifier of a: its low 64 bits */
static uint64_t iid(const struct in6_addr *a)
{
	return (uint64_t)get32(a->s6_addr + 8) << 32 | get32(a->s6_addr + 12);
}

/* secs() - a lifetime in ms as the 32-bit seconds of the wire */
static uint32_t secs(uint64_t ms)
{
	return (uint32_t)MIN(ms / 1000, (uint64_t)LIFETIME_MAX_S);
}

/* in_prefix() - whether a lies in the LAN's /64: what RFC 8415 calls
 * appropriate for the link */
static int in_prefix(const struct dhcp6_config *c, const struct in6_addr *a)
{
	return memcmp(a->s6_addr, c->prefix.s6_addr, 8) == 0;
}

/* ip6_fmt() - a for logs */
static const char *ip6_fmt(const struct in6_addr *a, char buf[INET6_ADDRSTRLEN])
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

#define CLIENT_STRLEN 48

/* client_fmt() - the client for logs: the MAC of a DUID-LLT or DUID-LL of
 * Ethernet (what the operator knows the VM by), else the DUID in hex,
 * its first 16 octets */
static const char *client_fmt(const struct dhcp6_req *req, char buf[CLIENT_STRLEN])
{
	const uint8_t *d = req->client_id;
	size_t n = req->client_id_len, i, o;

	if (!d)
		return "(no client id)";
	if (n >= 4 && get16(d + 2) == HW_ETHERNET &&
	    ((get16(d) == DUID_LLT && n == 14) || (get16(d) == DUID_LL && n == 10))) {
		d += n - 6;
		snprintf(buf, CLIENT_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
			 d[0], d[1], d[2], d[3], d[4], d[5]);
		return buf;
	}
	o = (size_t)snprintf(buf, CLIENT_STRLEN, "duid ");
	for (i = 0; i < n && i < 16; i++)
		o += (size_t)snprintf(buf + o, CLIENT_STRLEN - o, "%02x", d[i]);
	if (n > 16)
		snprintf(buf + o, CLIENT_STRLEN - o, "...");
	return buf;
}

/* type_name() - the RFC 8415 name of a message type, for logs */
static const char *type_name(uint8_t type)
{
	static const char *const names[] = {
		"message", "SOLICIT", "ADVERTISE", "REQUEST", "CONFIRM", "RENEW", "REBIND",
		"REPLY", "RELEASE", "DECLINE", "RECONFIGURE", "INFORMATION-REQUEST"
	};

	return type < ARRAY_SIZE(names) ? names[type] : "message";
}

/* key_make() - the owner of a lease for ia of req */
static void key_make(const struct dhcp6_req *req, const struct dhcp6_ia *ia,
		     struct dhcp6_key *key)
{
	memset(key, 0, sizeof(*key));
	key->len = (uint8_t)req->client_id_len;
	memcpy(key->duid, req->client_id, req->client_id_len);
	key->iaid = ia->iaid;
}

/* key_eq() - whether two owners are the same client's same IA */
static int key_eq(const struct dhcp6_key *a, const struct dhcp6_key *b)
{
	return a->len == b->len && a->iaid == b->iaid && memcmp(a->duid, b->duid, a->len) == 0;
}

/* --- lease table --- */

/* lease_addr() - the address of slot i: the prefix and pool_start's
 * interface identifier plus i */
static struct in6_addr lease_addr(const struct dhcp6_server *s, unsigned i)
{
	struct in6_addr a = s->cfg.prefix;
	uint64_t id = iid(&s->cfg.pool_start) + i;
	int k;

	for (k = 15; k >= 8; k--, id >>= 8)
		a.s6_addr[k] = (uint8_t)id;
	return a;
}

/* lease_of_client() - the slot key holds or last held, -1 if none.  A
 * decline clears the owner, so this never returns a declined slot. */
static int lease_of_client(const struct dhcp6_server *s, const struct dhcp6_key *key)
{
	unsigned i;

	for (i = 0; i < s->cfg.pool_size; i++)
		if (key_eq(&s->owner[i], key))
			return (int)i;
	return -1;
}

/* lease_bound() - the slot bound to key at now_ms: its binding, -1 if none */
static int lease_bound(const struct dhcp6_server *s, const struct dhcp6_key *key,
		       uint64_t now_ms)
{
	int i = lease_of_client(s, key);

	if (i < 0 || leasetab_state(&s->tab, (unsigned)i, now_ms) != LEASE_BOUND)
		return -1;
	return i;
}

/* lease_pick() - the slot for key: its current or previous address first,
 * else the lowest free; -1 if the pool is exhausted.  Addresses the client
 * suggests do not steer the choice, so a VM gets the same address whatever
 * it remembers from an earlier run. */
static int lease_pick(const struct dhcp6_server *s, const struct dhcp6_key *key,
		      uint64_t now_ms)
{
	int i = lease_of_client(s, key);

	return i >= 0 ? i : leasetab_lowest_free(&s->tab, now_ms);
}

/* lease_offer() - reserve slot i for key while its client considers our
 * ADVERTISE; a bound lease stays bound (a rebooting client solicits) */
static void lease_offer(struct dhcp6_server *s, unsigned i, const struct dhcp6_key *key,
			uint64_t now_ms)
{
	if (leasetab_offer(&s->tab, i, now_ms, DHCP6_OFFER_HOLD_MS))
		s->owner[i] = *key;
}

/* lease_bind() - bind slot i to key for the valid lifetime; a renewal
 * keeps its place in the order dhcp6_lease_first() goes by */
static void lease_bind(struct dhcp6_server *s, unsigned i, const struct dhcp6_key *key,
		       const struct dhcp6_req *req, uint64_t now_ms)
{
	char a[INET6_ADDRSTRLEN], c[CLIENT_STRLEN];
	struct in6_addr addr;

	if (leasetab_bind(&s->tab, i, now_ms, s->cfg.valid_ms)) {
		addr = lease_addr(s, i);
		log_info("dhcp6: %s bound to %s (IAID 0x%08x) for %" PRIu64 " s",
			 ip6_fmt(&addr, a), client_fmt(req, c), key->iaid,
			 s->cfg.valid_ms / 1000);
	}
	s->owner[i] = *key;
}

/* --- parsing --- */

/* req_bad() - log why a message is malformed; returns -1 */
static int req_bad(const char *why)
{
	log_debug("dhcp6: malformed message: %s", why);
	return -1;
}

typedef int (*opt_fn)(void *ctx, uint16_t code, const uint8_t *v, uint16_t n);

/* opts_walk() - give each option in the n octets at p to fn (NULL: only
 * check the bounds); -1 if one runs past the end or fn refuses it */
static int opts_walk(const uint8_t *p, size_t n, opt_fn fn, void *ctx)
{
	size_t off = 0;
	uint16_t len;

	while (off < n) {
		if (n - off < OPT_HDR_LEN)
			return req_bad("option header cut off");
		len = get16(p + off + 2);
		if (len > n - off - OPT_HDR_LEN)
			return req_bad("option runs past the end");
		if (fn && fn(ctx, get16(p + off), p + off + OPT_HDR_LEN, len) < 0)
			return -1;
		off += OPT_HDR_LEN + (size_t)len;
	}
	return 0;
}

struct parse_ctx {
	const struct dhcp6_config *cfg;
	struct dhcp6_req *req;
	struct dhcp6_ia *ia;	/* the IA being read */
};

/* ia_addr() - an IAADDR in an IA_NA or IA_TA: note it, and whether it
 * belongs on this link */
static int ia_addr(struct parse_ctx *c, const uint8_t *v, uint16_t n)
{
	struct in6_addr a;

	if (n < IAADDR_LEN)
		return req_bad("IA address option too short");
	memcpy(&a, v, sizeof(a));
	if (!in_prefix(c->cfg, &a)) {
		c->ia->off_link = 1;
		c->req->off_link = 1;
	}
	if (c->ia->naddr < IA_ADDRS_MAX)
		c->ia->addr[c->ia->naddr] = a;
	c->ia->naddr++;
	c->req->naddr++;
	return opts_walk(v + IAADDR_LEN, n - IAADDR_LEN, NULL, NULL);
}

/* ia_opt() - one option inside an IA: addresses in IA_NA and IA_TA,
 * prefixes in IA_PD (checked, not used); the rest is skipped */
static int ia_opt(void *ctx, uint16_t code, const uint8_t *v, uint16_t n)
{
	struct parse_ctx *c = ctx;

	if (code == OPT_IAADDR && c->ia->code != OPT_IA_PD)
		return ia_addr(c, v, n);
	if (code == OPT_IAPREFIX && c->ia->code == OPT_IA_PD) {
		if (n < IAPREFIX_LEN)
			return req_bad("IA prefix option too short");
		return opts_walk(v + IAPREFIX_LEN, n - IAPREFIX_LEN, NULL, NULL);
	}
	return 0;
}

/* ia_known() - whether req already holds an IA of this kind and IAID */
static int ia_known(const struct dhcp6_req *req, const struct dhcp6_ia *ia)
{
	unsigned i;

	for (i = 0; i < req->nia; i++)
		if (req->ia[i].code == ia->code && req->ia[i].iaid == ia->iaid)
			return 1;
	return 0;
}

/* parse_ia() - an IA_NA, IA_TA or IA_PD: read in full, kept unless it
 * repeats one or DHCP6_IA_MAX are kept already (neither is answered) */
static int parse_ia(struct parse_ctx *c, uint16_t code, const uint8_t *v, uint16_t n)
{
	size_t hdr = code == OPT_IA_TA ? IA_TA_HDR_LEN : IA_NA_HDR_LEN;
	struct dhcp6_ia ia = { .code = code };

	if (n < hdr)
		return req_bad("IA option shorter than its header");
	ia.iaid = get32(v);
	c->ia = &ia;
	if (opts_walk(v + hdr, n - hdr, ia_opt, c) < 0)
		return -1;
	c->req->has_ia = 1;
	if (ia_known(c->req, &ia))
		log_debug("dhcp6: IA 0x%08x repeated, answered once", ia.iaid);
	else if (c->req->nia == DHCP6_IA_MAX)
		log_debug("dhcp6: IA 0x%08x beyond the first %d, not answered", ia.iaid,
			  DHCP6_IA_MAX);
	else
		c->req->ia[c->req->nia++] = ia;
	return 0;
}

/* msg_opt() - one top-level option.  A repeated identifier is malformed:
 * it would make the client, or the server it names, ambiguous. */
static int msg_opt(void *ctx, uint16_t code, const uint8_t *v, uint16_t n)
{
	struct parse_ctx *c = ctx;
	struct dhcp6_req *req = c->req;

	switch (code) {
	case OPT_CLIENTID:
		if (req->client_id)
			return req_bad("repeated client identifier");
		if (n < DUID_MIN_LEN || n > DHCP6_DUID_MAX)
			return req_bad("client DUID not 3 to 130 octets");
		req->client_id = v;
		req->client_id_len = n;
		return 0;
	case OPT_SERVERID:
		if (req->server_id)
			return req_bad("repeated server identifier");
		req->server_id = v;
		req->server_id_len = n;
		return 0;
	case OPT_RAPID_COMMIT:
		if (n != 0)
			return req_bad("rapid commit option with a value");
		req->rapid_commit = 1;
		return 0;
	case OPT_IA_NA:
	case OPT_IA_TA:
	case OPT_IA_PD:
		return parse_ia(c, code, v, n);
	default: /* elapsed time, ORO, vendor class...: nothing we act on */
		return 0;
	}
}

/* req_parse() - check the header of msg and read the options of a client
 * message into req; -1 when msg is malformed.  Other messages (ours,
 * relays') are left for dhcp6_dispatch() to ignore unread: a relay message
 * is laid out differently. */
static int req_parse(const struct dhcp6_server *s, struct dhcp6_req *req, const uint8_t *msg,
		     size_t len)
{
	struct parse_ctx c = { .cfg = &s->cfg, .req = req };

	memset(req, 0, sizeof(*req));
	if (!msg || len < MSG_HDR_LEN)
		return req_bad("shorter than the 4-octet header");
	req->raw = msg;
	req->type = msg[0];
	if (req->type == DH6_ADVERTISE || req->type == DH6_REPLY ||
	    req->type == DH6_RECONFIGURE || req->type > DH6_INFORMATION_REQUEST || req->type == 0)
		return 0;
	return opts_walk(msg + MSG_HDR_LEN, len - MSG_HDR_LEN, msg_opt, &c);
}

/* --- replies --- */

static void put_raw(struct dhcp6_reply *r, const void *v, size_t n)
{
	if (r->overflow || n > sizeof(r->b) - r->len) {
		r->overflow = 1;
		return;
	}
	if (n)
		memcpy(r->b + r->len, v, n);
	r->len += n;
}

static void put_u16(struct dhcp6_reply *r, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put_raw(r, b, sizeof(b));
}

static void put_u32(struct dhcp6_reply *r, uint32_t v)
{
	put_u16(r, (uint16_t)(v >> 16));
	put_u16(r, (uint16_t)v);
}

/* opt_begin() - an option header whose length opt_end() fills in once its
 * contents (options of its own, perhaps) are written; returns where it is */
static size_t opt_begin(struct dhcp6_reply *r, uint16_t code)
{
	size_t at = r->len;

	put_u16(r, code);
	put_u16(r, 0);
	return at;
}

static void opt_end(struct dhcp6_reply *r, size_t at)
{
	size_t n = r->len - at - OPT_HDR_LEN;

	if (r->overflow)
		return;
	r->b[at + 2] = (uint8_t)(n >> 8);
	r->b[at + 3] = (uint8_t)n;
}

/* opt_put() - an option with n octets of value */
static void opt_put(struct dhcp6_reply *r, uint16_t code, const void *v, size_t n)
{
	size_t at = opt_begin(r, code);

	put_raw(r, v, n);
	opt_end(r, at);
}

/* put_status() - RFC 8415 21.13: a code and a message for the user */
static void put_status(struct dhcp6_reply *r, uint16_t code, const char *msg)
{
	size_t at = opt_begin(r, OPT_STATUS_CODE);

	put_u16(r, code);
	put_raw(r, msg, MIN(strlen(msg), (size_t)STATUS_MSG_MAX));
	opt_end(r, at);
}

/* reply_start() - an ADVERTISE or REPLY to req: its transaction id, our
 * Server Identifier and the client's Client Identifier (RFC 8415 18.3) */
static void reply_start(const struct dhcp6_server *s, struct dhcp6_reply *r,
			const struct dhcp6_req *req, uint8_t type)
{
	r->len = 0;
	r->overflow = 0;
	put_raw(r, &type, 1);
	put_raw(r, req->raw + 1, 3);
	opt_put(r, OPT_SERVERID, s->duid, sizeof(s->duid));
	if (req->client_id)
		opt_put(r, OPT_CLIENTID, req->client_id, req->client_id_len);
}

/* reply_config() - DNS servers (RFC 3646 3) and the search domain (4).
 * Sent whatever the Option Request option asks for, which 18.3 allows:
 * some clients ask in one message and not the next. */
static void reply_config(const struct dhcp6_server *s, struct dhcp6_reply *r)
{
	if (s->cfg.dns_count)
		opt_put(r, OPT_DNS_SERVERS, s->cfg.dns, 16 * (size_t)s->cfg.dns_count);
	if (s->domain_len)
		opt_put(r, OPT_DOMAIN_LIST, s->domain, s->domain_len);
}

/* ia_begin() - an IA option like ia with times t1 and t2 (IA_TA has none) */
static size_t ia_begin(struct dhcp6_reply *r, const struct dhcp6_ia *ia, uint32_t t1,
		       uint32_t t2)
{
	size_t at = opt_begin(r, ia->code);

	put_u32(r, ia->iaid);
	if (ia->code != OPT_IA_TA) {
		put_u32(r, t1);
		put_u32(r, t2);
	}
	return at;
}

/* put_iaaddr() - an IAADDR with its lifetimes in seconds */
static void put_iaaddr(struct dhcp6_reply *r, const struct in6_addr *a, uint32_t pref_s,
		       uint32_t valid_s)
{
	size_t at = opt_begin(r, OPT_IAADDR);

	put_raw(r, a, sizeof(*a));
	put_u32(r, pref_s);
	put_u32(r, valid_s);
	opt_end(r, at);
}

/* ia_status() - ia with no address and a status (RFC 8415 18.3.x) */
static void ia_status(struct dhcp6_reply *r, const struct dhcp6_ia *ia, uint16_t code,
		      const char *msg)
{
	size_t at = ia_begin(r, ia, 0, 0);

	put_status(r, code, msg);
	opt_end(r, at);
}

/* ia_lease() - ia holding slot i's address, T1 and T2 at 0.5 and 0.8 of the
 * preferred lifetime (RFC 8415 21.4); with stale, every other address the
 * client listed comes back with lifetimes 0 so that it drops them at once
 * (18.3.4) */
static void ia_lease(const struct dhcp6_server *s, struct dhcp6_reply *r,
		     const struct dhcp6_ia *ia, unsigned i, int stale)
{
	uint32_t pref = secs(s->cfg.preferred_ms), valid = secs(s->cfg.valid_ms);
	struct in6_addr a = lease_addr(s, i);
	size_t at = ia_begin(r, ia, pref / 2, (uint32_t)((uint64_t)pref * 4 / 5));
	unsigned k;

	put_iaaddr(r, &a, pref, valid);
	for (k = 0; stale && k < MIN(ia->naddr, IA_ADDRS_MAX); k++)
		if (memcmp(&ia->addr[k], &a, sizeof(a)) != 0)
			put_iaaddr(r, &ia->addr[k], 0, 0);
	opt_end(r, at);
}

/* ia_invalid() - ia with the addresses the client listed, lifetimes 0: they
 * are not for this link (18.3.4, 18.3.5) */
static void ia_invalid(struct dhcp6_reply *r, const struct dhcp6_ia *ia)
{
	size_t at = ia_begin(r, ia, 0, 0);
	unsigned k;

	for (k = 0; k < MIN(ia->naddr, IA_ADDRS_MAX); k++)
		put_iaaddr(r, &ia->addr[k], 0, 0);
	opt_end(r, at);
}

/* reply_emit() - copy the reply to out; its length, or 0 (counted as
 * ignored) if it does not fit */
static int reply_emit(struct dhcp6_server *s, const struct dhcp6_reply *r, uint8_t *out,
		      size_t cap)
{
	if (r->overflow || r->len > cap) {
		log_warnx("dhcp6: reply of %zu bytes dropped: %zu-byte buffer%s", r->len, cap,
			  r->overflow ? " overflowed" : " too small");
		s->ctr.ignored++;
		return 0;
	}
	memcpy(out, r->b, r->len);
	if (r->b[0] == DH6_ADVERTISE)
		s->ctr.advertises++;
	else
		s->ctr.replies++;
	s->ctr.tx++;
	return (int)r->len;
}

/* --- messages --- */

/* dhcp6_ignore() - count and log a well-formed message we do not answer */
static int dhcp6_ignore(struct dhcp6_server *s, const struct dhcp6_req *req, const char *why)
{
	char c[CLIENT_STRLEN];

	log_debug("dhcp6: ignored %s from %s: %s", type_name(req->type), client_fmt(req, c), why);
	s->ctr.ignored++;
	return 0;
}

/* ia_unavailable() - an IA we assign nothing to: IA_TA and IA_PD always,
 * IA_NA when the pool is exhausted */
static void ia_unavailable(struct dhcp6_server *s, struct dhcp6_reply *r,
			   const struct dhcp6_ia *ia)
{
	if (ia->code == OPT_IA_PD)
		ia_status(r, ia, ST_NO_PREFIX_AVAIL, "no prefix delegation here");
	else if (ia->code == OPT_IA_TA)
		ia_status(r, ia, ST_NO_ADDRS_AVAIL, "no temporary addresses here");
	else
		ia_status(r, ia, ST_NO_ADDRS_AVAIL, "address pool exhausted");
	s->ctr.no_addrs++;
}

/* pool_exhausted() - warn once per episode that a client got no address */
static void pool_exhausted(struct dhcp6_server *s, const struct dhcp6_req *req,
			   struct dhcp6_reply *r, const struct dhcp6_ia *ia)
{
	char a[INET6_ADDRSTRLEN], c[CLIENT_STRLEN];

	if (!s->exhausted_logged)
		log_warnx("dhcp6: pool %s+%u exhausted, no address for %s",
			  ip6_fmt(&s->cfg.pool_start, a), s->cfg.pool_size, client_fmt(req, c));
	s->exhausted_logged = 1;
	ia_unavailable(s, r, ia);
}

/* ia_no_binding() - ia with status NoBinding: we hold nothing for it */
static void ia_no_binding(struct dhcp6_server *s, struct dhcp6_reply *r,
			  const struct dhcp6_ia *ia)
{
	ia_status(r, ia, ST_NO_BINDING, "no binding for this IA");
	s->ctr.no_binding++;
}

/* ia_lists() - whether the client listed a in ia */
static int ia_lists(const struct dhcp6_ia *ia, const struct in6_addr *a)
{
	unsigned k;

	for (k = 0; k < MIN(ia->naddr, IA_ADDRS_MAX); k++)
		if (memcmp(&ia->addr[k], a, sizeof(*a)) == 0)
			return 1;
	return 0;
}

/* assign_ia() - an IA_NA of a SOLICIT or REQUEST: the client's address,
 * reserved (an ADVERTISE) or bound (rapid commit, REQUEST) */
static void assign_ia(struct dhcp6_server *s, const struct dhcp6_req *req,
		      const struct dhcp6_ia *ia, int bind, uint64_t now_ms, struct dhcp6_reply *r)
{
	struct dhcp6_key key;
	int i;

	if (ia->code != OPT_IA_NA) {
		ia_unavailable(s, r, ia);
		return;
	}
	key_make(req, ia, &key);
	i = lease_pick(s, &key, now_ms);
	if (i < 0) {
		pool_exhausted(s, req, r, ia);
		return;
	}
	/* the episode ends when a newcomer gets an address, not when a
	 * client already holding one renews it */
	if (!key_eq(&s->owner[i], &key))
		s->exhausted_logged = 0;
	if (bind)
		lease_bind(s, (unsigned)i, &key, req, now_ms);
	else
		lease_offer(s, (unsigned)i, &key, now_ms);
	ia_lease(s, r, ia, (unsigned)i, 0);
}

/* dhcp6_solicit() - RFC 8415 18.3.1: an ADVERTISE with preference 255, or
 * with the client's Rapid Commit option (21.14) a REPLY that binds */
static int dhcp6_solicit(struct dhcp6_server *s, const struct dhcp6_req *req,
			 uint64_t now_ms, struct dhcp6_reply *r)
{
	uint8_t pref = PREFERENCE_MAX;
	unsigned i;

	reply_start(s, r, req, req->rapid_commit ? DH6_REPLY : DH6_ADVERTISE);
	if (req->rapid_commit)
		opt_put(r, OPT_RAPID_COMMIT, NULL, 0);
	else
		opt_put(r, OPT_PREFERENCE, &pref, 1);
	for (i = 0; i < req->nia; i++)
		assign_ia(s, req, &req->ia[i], req->rapid_commit, now_ms, r);
	reply_config(s, r);
	if (req->rapid_commit)
		s->ctr.rapid_commits++;
	return 1;
}

/* not_on_link() - an IA naming an address outside the prefix (the VM moved
 * from another network): NotOnLink, so that it solicits afresh */
static void not_on_link(struct dhcp6_server *s, const struct dhcp6_req *req,
			const struct dhcp6_ia *ia, struct dhcp6_reply *r)
{
	char c[CLIENT_STRLEN];

	log_info("dhcp6: %s asked for an address not on this link (IAID 0x%08x)",
		 client_fmt(req, c), ia->iaid);
	ia_status(r, ia, ST_NOT_ON_LINK, "address not on this link");
	s->ctr.not_on_link++;
}

/* dhcp6_request() - RFC 8415 18.3.2: bind each IA_NA, NotOnLink for one
 * naming an address off the link.  We are the only server on the LAN, so
 * the client gets its own address whatever it names on the link. */
static int dhcp6_request(struct dhcp6_server *s, const struct dhcp6_req *req,
			 uint64_t now_ms, struct dhcp6_reply *r)
{
	unsigned i;

	reply_start(s, r, req, DH6_REPLY);
	for (i = 0; i < req->nia; i++) {
		if (req->ia[i].code == OPT_IA_NA && req->ia[i].off_link)
			not_on_link(s, req, &req->ia[i], r);
		else
			assign_ia(s, req, &req->ia[i], 1, now_ms, r);
	}
	reply_config(s, r);
	return 1;
}

/* extend_ia() - an IA of a RENEW or REBIND (18.3.4, 18.3.5): a binding is
 * extended; without one, addresses off the link come back with lifetimes
 * 0, others get NoBinding and the client requests anew (RFC 8415 adopted
 * NoBinding for REBIND too, from RFC 7550 4.4) */
static void extend_ia(struct dhcp6_server *s, const struct dhcp6_req *req,
		      const struct dhcp6_ia *ia, uint64_t now_ms, struct dhcp6_reply *r)
{
	struct dhcp6_key key;
	int i = -1;

	if (ia->code == OPT_IA_NA) {
		key_make(req, ia, &key);
		i = lease_bound(s, &key, now_ms);
	}
	if (i >= 0) {
		lease_bind(s, (unsigned)i, &key, req, now_ms);
		ia_lease(s, r, ia, (unsigned)i, 1);
	} else if (ia->off_link) {
		ia_invalid(r, ia);
		s->ctr.not_on_link++;
	} else {
		ia_no_binding(s, r, ia);
	}
}

/* dhcp6_extend() - RENEW and REBIND */
static int dhcp6_extend(struct dhcp6_server *s, const struct dhcp6_req *req,
			uint64_t now_ms, struct dhcp6_reply *r)
{
	unsigned i;

	reply_start(s, r, req, DH6_REPLY);
	for (i = 0; i < req->nia; i++)
		extend_ia(s, req, &req->ia[i], now_ms, r);
	reply_config(s, r);
	return 1;
}

/* dhcp6_confirm() - RFC 8415 18.3.3: whether the client's addresses are
 * still on this link; no reply when it lists none */
static int dhcp6_confirm(struct dhcp6_server *s, const struct dhcp6_req *req,
			 struct dhcp6_reply *r)
{
	if (req->naddr == 0)
		return dhcp6_ignore(s, req, "no addresses to confirm");
	reply_start(s, r, req, DH6_REPLY);
	if (req->off_link) {
		put_status(r, ST_NOT_ON_LINK, "not on this link");
		s->ctr.not_on_link++;
	} else {
		put_status(r, ST_SUCCESS, "all addresses on link");
	}
	s->ctr.confirms++;
	return 1;
}

/* drop_ia() - an IA of a RELEASE or DECLINE: the slot bound to it, if the
 * client names its address; NoBinding in r when we hold nothing for it
 * (18.3.7, 18.3.8); -1 when there is nothing to drop */
static int drop_ia(struct dhcp6_server *s, const struct dhcp6_req *req,
		   const struct dhcp6_ia *ia, uint64_t now_ms, struct dhcp6_reply *r)
{
	struct dhcp6_key key;
	struct in6_addr a;
	int i = -1;

	if (ia->code == OPT_IA_NA) {
		key_make(req, ia, &key);
		i = lease_bound(s, &key, now_ms);
	}
	if (i < 0) {
		ia_no_binding(s, r, ia);
		return -1;
	}
	a = lease_addr(s, (unsigned)i);
	return ia_lists(ia, &a) ? i : -1;
}

/* what a RELEASE or DECLINE does to one slot the client names */
typedef void (*drop_fn)(struct dhcp6_server *s, const struct dhcp6_req *req, unsigned i,
			uint64_t now_ms);

/* release_slot() - RFC 8415 18.3.7: free slot i, remembering its client,
 * who gets the address back if nobody took it meanwhile */
static void release_slot(struct dhcp6_server *s, const struct dhcp6_req *req, unsigned i,
			 uint64_t now_ms)
{
	char a[INET6_ADDRSTRLEN], c[CLIENT_STRLEN];
	struct in6_addr addr = lease_addr(s, i);

	(void)now_ms;
	leasetab_release(&s->tab, i);
	log_info("dhcp6: %s released by %s", ip6_fmt(&addr, a), client_fmt(req, c));
	s->ctr.releases++;
}

/* decline_slot() - RFC 8415 18.3.8: the client's duplicate address
 * detection found slot i's address in use.  Keep it out of the pool a
 * while and tell the operator, since something on the LAN squats on it. */
static void decline_slot(struct dhcp6_server *s, const struct dhcp6_req *req, unsigned i,
			 uint64_t now_ms)
{
	char a[INET6_ADDRSTRLEN], c[CLIENT_STRLEN];
	struct in6_addr addr = lease_addr(s, i);

	leasetab_decline(&s->tab, i, now_ms, DHCP6_DECLINE_HOLD_MS);
	s->owner[i].len = 0;
	log_warnx("dhcp6: %s declined by %s: in use on the LAN, held back for %d s",
		  ip6_fmt(&addr, a), client_fmt(req, c), DHCP6_DECLINE_HOLD_MS / 1000);
	s->ctr.declines++;
}

/* dhcp6_drop() - RELEASE or DECLINE: a REPLY with status Success whatever
 * happens (18.3.7, 18.3.8), fn on each slot the client names */
static int dhcp6_drop(struct dhcp6_server *s, const struct dhcp6_req *req, uint64_t now_ms,
		      struct dhcp6_reply *r, const char *status, drop_fn fn)
{
	unsigned k;
	int i;

	reply_start(s, r, req, DH6_REPLY);
	put_status(r, ST_SUCCESS, status);
	for (k = 0; k < req->nia; k++) {
		i = drop_ia(s, req, &req->ia[k], now_ms, r);
		if (i >= 0)
			fn(s, req, (unsigned)i, now_ms);
	}
	return 1;
}

/* dhcp6_info() - RFC 8415 18.3.6: configuration only, for a client that
 * has its address (SLAAC) and wants DNS */
static int dhcp6_info(struct dhcp6_server *s, const struct dhcp6_req *req,
		      struct dhcp6_reply *r)
{
	if (req->has_ia) /* 16.12 */
		return dhcp6_ignore(s, req, "IA options in an INFORMATION-REQUEST");
	reply_start(s, r, req, DH6_REPLY);
	reply_config(s, r);
	s->ctr.info_requests++;
	return 1;
}

/* What RFC 8415 16 asks of each client message's identifiers: a Client
 * Identifier required or not, a Server Identifier absent, ours, or either. */
enum sid_rule { SID_ABSENT, SID_OURS, SID_ABSENT_OR_OURS };
struct id_rule {
	uint8_t client_required;
	uint8_t sid;
};

/* id_problem() - why req's identifiers disqualify it, NULL if they do not */
static const char *id_problem(const struct dhcp6_server *s, const struct dhcp6_req *req)
{
	static const struct id_rule rules[] = {
		[DH6_SOLICIT] = { 1, SID_ABSENT },	/* 16.2 */
		[DH6_REQUEST] = { 1, SID_OURS },	/* 16.4 */
		[DH6_CONFIRM] = { 1, SID_ABSENT },	/* 16.5 */
		[DH6_RENEW] = { 1, SID_OURS },		/* 16.6 */
		[DH6_REBIND] = { 1, SID_ABSENT },	/* 16.7 */
		[DH6_RELEASE] = { 1, SID_OURS },	/* 16.9 */
		[DH6_DECLINE] = { 1, SID_OURS },	/* 16.8 */
		[DH6_INFORMATION_REQUEST] = { 0, SID_ABSENT_OR_OURS },	/* 16.12 */
	};
	const struct id_rule *rule = &rules[req->type];
	int ours = req->server_id && req->server_id_len == sizeof(s->duid) &&
		   memcmp(req->server_id, s->duid, sizeof(s->duid)) == 0;

	if (rule->client_required && !req->client_id)
		return "no client identifier";
	if (rule->sid == SID_ABSENT && req->server_id)
		return "server identifier where none belongs";
	if (rule->sid == SID_OURS && !req->server_id)
		return "no server identifier";
	if (req->server_id && !ours)
		return "for another server";
	return NULL;
}

/* dhcp6_dispatch() - act on a parsed message; 1 with a reply in r, 0 for
 * none */
static int dhcp6_dispatch(struct dhcp6_server *s, const struct dhcp6_req *req,
			  uint64_t now_ms, struct dhcp6_reply *r)
{
	const char *why;

	switch (req->type) {
	case DH6_SOLICIT: case DH6_REQUEST: case DH6_CONFIRM: case DH6_RENEW:
	case DH6_REBIND: case DH6_RELEASE: case DH6_DECLINE: case DH6_INFORMATION_REQUEST:
		break;
	default:
		return dhcp6_ignore(s, req, "not a client message (relays are not served)");
	}
	why = id_problem(s, req);
	if (why)
		return dhcp6_ignore(s, req, why);
	switch (req->type) {
	case DH6_SOLICIT:
		return dhcp6_solicit(s, req, now_ms, r);
	case DH6_REQUEST:
		return dhcp6_request(s, req, now_ms, r);
	case DH6_CONFIRM:
		return dhcp6_confirm(s, req, r);
	case DH6_RENEW:
	case DH6_REBIND:
		return dhcp6_extend(s, req, now_ms, r);
	case DH6_RELEASE:
		return dhcp6_drop(s, req, now_ms, r, "released", release_slot);
	case DH6_DECLINE:
		return dhcp6_drop(s, req, now_ms, r, "declined", decline_slot);
	default:
		return dhcp6_info(s, req, r);
	}
}

/* dhcp6_handle() - one message in, at most one reply out; see dhcp6.h */
int dhcp6_handle(struct dhcp6_server *s, const uint8_t *msg, size_t len, uint64_t now_ms,
		 uint8_t *out, size_t cap)
{
	struct dhcp6_req req;
	struct dhcp6_reply r;
	int n;

	s->ctr.rx++;
	n = req_parse(s, &req, msg, len);
	if (n == 0)
		n = dhcp6_dispatch(s, &req, now_ms, &r);
	if (n < 0) {
		s->ctr.malformed++;
		return -1;
	}
	if (n == 0)
		return 0;
	return reply_emit(s, &r, out, cap);
}

/* --- queries --- */

/* dhcp6_lease_first() - the bound lease with the latest binding */
int dhcp6_lease_first(const struct dhcp6_server *s, uint64_t now_ms, struct in6_addr *out)
{
	int i = leasetab_latest(&s->tab, now_ms);

	if (i < 0)
		return -1;
	*out = lease_addr(s, (unsigned)i);
	return 0;
}

/* dhcp6_lease_count() - how many leases are bound at now_ms */
unsigned dhcp6_lease_count(const struct dhcp6_server *s, uint64_t now_ms)
{
	return leasetab_count(&s->tab, now_ms);
}

/* dhcp6_counters() - the server's counters, live */
const struct dhcp6_counters *dhcp6_counters(const struct dhcp6_server *s)
{
	return &s->ctr;
}

/* --- set-up --- */

/* dhcp6_config_default() - the layout of ra_config_default() and the
 * capture: fd6f:6d6e:6574::/64 (a unique-local prefix whose global id
 * spells "omnet"), DNS at ::3, 256 addresses from ::1000, well clear of
 * the router's and DNS's low ones; lifetimes of an hour preferred, two
 * valid, so a VM renews every half hour; DUID from the locally
 * administered 02:6f:6d:6e:65:74 until the glue gives the router's MAC */
void dhcp6_config_default(struct dhcp6_config *cfg)
{
	static const uint8_t mac[6] = { 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74 };

	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, mac, sizeof(mac));
	inet_pton(AF_INET6, "fd6f:6d6e:6574::", &cfg->prefix);
	inet_pton(AF_INET6, "fd6f:6d6e:6574::1000", &cfg->pool_start);
	cfg->pool_size = 256;
	inet_pton(AF_INET6, "fd6f:6d6e:6574::3", &cfg->dns[0]);
	cfg->dns_count = 1;
	cfg->preferred_ms = 3600000;
	cfg->valid_ms = 7200000;
}

/* domain_encode() - name in DNS wire form (RFC 1035 3.1) as option 24
 * carries it (RFC 8415 10): labels of 1 to 63 octets, one trailing dot
 * allowed; its length, or -1 if name is not a domain name that fits */
static int domain_encode(const char *name, uint8_t out[DHCP6_DOMAIN_MAX + 1])
{
	size_t n = strlen(name), o = 0, start = 0, i, l;

	if (n && name[n - 1] == '.')
		n--;
	for (i = 0; i <= n; i++) {
		if (i < n && name[i] != '.')
			continue;
		l = i - start;
		if (l == 0 || l > 63 || o + 1 + l + 1 > DHCP6_DOMAIN_MAX + 1)
			return -1;
		out[o++] = (uint8_t)l;
		memcpy(out + o, name + start, l);
		o += l;
		start = i + 1;
	}
	out[o++] = 0;
	return (int)o;
}

/* in_pool() - whether a falls in c's pool */
static int in_pool(const struct dhcp6_config *c, const struct in6_addr *a)
{
	return in_prefix(c, a) && iid(a) - iid(&c->pool_start) < c->pool_size;
}

/* config_check_pool() - the pool inside the prefix, off the subnet-router
 * anycast address (RFC 4291 2.6.1) and the reserved ids at the top (RFC
 * 5453), and off the DNS servers, or we would hand out a duplicate */
static int config_check_pool(const struct dhcp6_config *c)
{
	uint64_t first = iid(&c->pool_start);
	char a[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];
	unsigned i;

	if (leasetab_size_check("dhcp6", c->pool_size, DHCP6_POOL_MAX) < 0)
		return -1;
	if (!in_prefix(c, &c->pool_start) || first == 0 ||
	    first >= IID_RESERVED - (c->pool_size - 1)) {
		log_warnx("dhcp6: pool %s+%u not inside %s/64 or holds reserved addresses",
			  ip6_fmt(&c->pool_start, a), c->pool_size, ip6_fmt(&c->prefix, p));
		return -1;
	}
	for (i = 0; i < c->dns_count; i++)
		if (in_pool(c, &c->dns[i])) {
			log_warnx("dhcp6: pool holds DNS server %s", ip6_fmt(&c->dns[i], a));
			return -1;
		}
	return 0;
}

/* config_check_dns() - one to DHCP6_DNS_MAX unicast DNS servers */
static int config_check_dns(const struct dhcp6_config *c)
{
	static const struct in6_addr any = IN6ADDR_ANY_INIT;
	unsigned i;

	if (c->dns_count == 0 || c->dns_count > DHCP6_DNS_MAX) {
		log_warnx("dhcp6: %u DNS servers, not 1..%d", c->dns_count, DHCP6_DNS_MAX);
		return -1;
	}
	for (i = 0; i < c->dns_count; i++)
		if (c->dns[i].s6_addr[0] == 0xff || memcmp(&c->dns[i], &any, sizeof(any)) == 0) {
			log_warnx("dhcp6: DNS server %u is multicast or unspecified", i + 1);
			return -1;
		}
	return 0;
}

/* config_check() - refuse a configuration clients could not live with */
static int config_check(const struct dhcp6_config *c)
{
	uint8_t wire[DHCP6_DOMAIN_MAX + 1];

	if (!ipv6_unicast_scope(c->prefix.s6_addr)) {
		log_warnx("dhcp6: prefix not global or unique-local unicast");
		return -1;
	}
	if (config_check_dns(c) < 0 || config_check_pool(c) < 0)
		return -1;
	if (c->preferred_ms < 1000 || c->valid_ms < c->preferred_ms) {
		log_warnx("dhcp6: lifetimes %" PRIu64 " ms preferred, %" PRIu64
			  " ms valid: need 1 s at least and valid not shorter",
			  c->preferred_ms, c->valid_ms);
		return -1;
	}
	if (!memchr(c->domain, '\0', sizeof(c->domain)) ||
	    (c->domain[0] && domain_encode(c->domain, wire) < 0)) {
		log_warnx("dhcp6: domain is not a domain name");
		return -1;
	}
	return 0;
}

/* dhcp6_new() - a server with an empty lease table for a checked copy of
 * cfg, its DUID-LL (RFC 8415 11.4) made from the MAC */
struct dhcp6_server *dhcp6_new(const struct dhcp6_config *cfg)
{
	struct dhcp6_server *s;

	if (config_check(cfg) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->duid[1] = DUID_LL;
	s->duid[3] = HW_ETHERNET;
	memcpy(s->duid + 4, cfg->mac, 6);
	if (cfg->domain[0])
		s->domain_len = (size_t)domain_encode(cfg->domain, s->domain);
	leasetab_init(&s->tab, cfg->pool_size);
	s->owner = xcalloc(cfg->pool_size, sizeof(*s->owner));
	return s;
}

/* dhcp6_free() - free s and its lease table; NULL is fine */
void dhcp6_free(struct dhcp6_server *s)
{
	if (!s)
		return;
	leasetab_fini(&s->tab);
	free(s->owner);
	free(s);
}
