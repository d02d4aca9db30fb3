/* dhcp.c: DHCPv4 server core for the VM's LAN (RFC 2131, RFC 2132).
 *
 * One lease slot per pool address.  A slot remembers its last client after
 * release or expiry, so that client gets the same address back (RFC 2131
 * 4.3.1); a new client takes the lowest free slot, so the first VM always
 * gets pool_start.  The slots are leasetab.c's (shared with dhcp6.c); the
 * clients owning them are kept here.  Pure: no sockets, no clock; time
 * comes in as now_ms. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp.h"
#include "leasetab.h"
#include "log.h"
#include "util.h"

/* RFC 2131 section 2, figure 1: offsets in the fixed BOOTP header */
#define BOOTP_OP	0
#define BOOTP_HTYPE	1
#define BOOTP_HLEN	2
#define BOOTP_XID	4
#define BOOTP_FLAGS	10
#define BOOTP_CIADDR	12
#define BOOTP_YIADDR	16
#define BOOTP_GIADDR	24
#define BOOTP_CHADDR	28
#define BOOTP_SNAME	44
#define BOOTP_FILE	108
#define BOOTP_COOKIE	236
#define BOOTP_OPTIONS	240

#define BOOTP_CHADDR_LEN	16
#define BOOTP_SNAME_LEN		64
#define BOOTP_FILE_LEN		128
/* RFC 951 fixes the vend field at 64 octets, so a BOOTP message is at
 * least 300 octets; some clients drop anything shorter. */
#define BOOTP_MIN_LEN		300

#define BOOTREQUEST	1
#define BOOTREPLY	2

/* RFC 2132 9.6 */
enum dhcp_type {
	DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE,
	DHCPACK, DHCPNAK, DHCPRELEASE, DHCPINFORM
};

/* RFC 2132 option codes */
#define OPT_PAD		0
#define OPT_SUBNET_MASK	1
#define OPT_ROUTER	3
#define OPT_DNS		6
#define OPT_DOMAIN	15
#define OPT_MTU		26
#define OPT_REQUESTED_IP 50
#define OPT_LEASE_TIME	51
#define OPT_OVERLOAD	52
#define OPT_MSG_TYPE	53
#define OPT_SERVER_ID	54
#define OPT_T1		58
#define OPT_T2		59
#define OPT_CLIENT_ID	61
#define OPT_END		255

/* How long an offered address stays reserved for the client it was
 * offered to (RFC 2131 4.3.1 lets the server reserve it). */
#define DHCP_OFFER_HOLD_MS	(30 * 1000)
/* How long a declined address stays out of the pool (RFC 2131 4.3.3):
 * long enough for whatever squats on it to go away. */
#define DHCP_DECLINE_HOLD_MS	(10 * 60 * 1000)
/* Option 51 is 32 bits and 0xffffffff means infinite (RFC 2131 3.3);
 * longer configured leases are sent as the longest finite one. */
#define DHCP_LEASE_MAX_S	0xfffffffeu

static const uint8_t dhcp_cookie[4] = { 99, 130, 83, 99 };

/* A client's identity: its client identifier (option 61) if it sent one,
 * else htype followed by chaddr (RFC 2131 4.2).  An identifier of type
 * htype holding the hardware address (RFC 2132 9.14) thus equals the
 * chaddr key, so firmware that omits option 61 and the OS that sends it
 * share one lease. */
#define DHCP_KEY_MAX 255
struct dhcp_key {
	uint8_t len;
	uint8_t b[DHCP_KEY_MAX];
};

struct dhcp_server {
	struct dhcp_config cfg;
	struct leasetab tab;		/* one slot per pool address */
	struct dhcp_key *owner;		/* each slot's last client; kept after
					 * release/expiry */
	int exhausted_logged;
	struct dhcp_counters ctr;
};

/* One received message, checked and with the options we act on. */
struct dhcp_req {
	const uint8_t *raw;	/* at least BOOTP_OPTIONS octets */
	uint8_t type;		/* option 53, 0 when absent */
	uint8_t overload;	/* option 52, 0 when absent */
	uint8_t seen[256 / 8];	/* option codes parsed so far */
	struct in_addr ciaddr;
	struct in_addr requested;	/* option 50, 0 when absent */
	struct in_addr server_id;	/* option 54, 0 when absent */
	const uint8_t *client_id;	/* option 61 */
	uint8_t client_id_len;		/* 0 when absent */
	struct dhcp_key key;		/* len 0: client cannot be told apart */
};

struct dhcp_reply {
	uint8_t b[DHCP_REPLY_MAX];
	size_t len;
	int overflow;
};

/* ip_fmt() - dotted quad of a, for logs */
static const char *ip_fmt(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* hw_fmt() - the client's hardware address as aa:bb:..., for logs */
static const char *hw_fmt(const struct dhcp_req *req, char buf[3 * BOOTP_CHADDR_LEN + 2])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t i, hlen = req->raw[BOOTP_HLEN];
	char *p = buf;

	if (hlen == 0)
		return "(no chaddr)";
	for (i = 0; i < hlen; i++) {
		*p++ = hex[req->raw[BOOTP_CHADDR + i] >> 4];
		*p++ = hex[req->raw[BOOTP_CHADDR + i] & 15];
		*p++ = ':';
	}
	p[-1] = '\0';
	return buf;
}

/* type_name() - the RFC 2131 name of a message type, for logs */
static const char *type_name(uint8_t type)
{
	static const char *const names[] = {
		"message", "DISCOVER", "OFFER", "REQUEST", "DECLINE",
		"ACK", "NAK", "RELEASE", "INFORM"
	};

	return type < ARRAY_SIZE(names) ? names[type] : "message";
}

/* key_eq() - whether two client identities are the same client */
static int key_eq(const struct dhcp_key *a, const struct dhcp_key *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* --- lease table --- */

/* lease_addr() - the address of slot i */
static struct in_addr lease_addr(const struct dhcp_server *s, unsigned i)
{
	struct in_addr a;

	a.s_addr = htonl(ntohl(s->cfg.pool_start.s_addr) + i);
	return a;
}

/* lease_index() - the slot of address a, -1 when a is outside the pool */
static int lease_index(const struct dhcp_server *s, struct in_addr a)
{
	uint32_t off = ntohl(a.s_addr) - ntohl(s->cfg.pool_start.s_addr);

	return off < s->cfg.pool_size ? (int)off : -1;
}

/* lease_of_client() - the slot key holds or last held, -1 if none.  A
 * decline clears the owner, so this never returns a declined slot. */
static int lease_of_client(const struct dhcp_server *s, const struct dhcp_key *key)
{
	unsigned i;

	for (i = 0; i < s->cfg.pool_size; i++)
		if (key_eq(&s->owner[i], key))
			return (int)i;
	return -1;
}

/* lease_pick() - the slot this server gives key: its current or previous
 * address first (RFC 2131 4.3.1), else the lowest free; -1 if the pool is
 * exhausted.  Option 50 does not steer the choice, so a VM gets the same
 * address whatever it remembers from an earlier run. */
static int lease_pick(const struct dhcp_server *s, const struct dhcp_key *key,
		      uint64_t now_ms)
{
	int i = lease_of_client(s, key);

	return i >= 0 ? i : leasetab_lowest_free(&s->tab, now_ms);
}

/* lease_offer() - reserve slot i for key while it considers our offer; a
 * bound lease stays bound (a rebooting client DISCOVERs again) */
static void lease_offer(struct dhcp_server *s, unsigned i, const struct dhcp_key *key,
			uint64_t now_ms)
{
	if (leasetab_offer(&s->tab, i, now_ms, DHCP_OFFER_HOLD_MS))
		s->owner[i] = *key;
}

/* lease_bind() - bind slot i to the client of req for lease_ms; a renewal
 * keeps its place in the order dhcp_lease_first() goes by */
static void lease_bind(struct dhcp_server *s, unsigned i, const struct dhcp_req *req,
		       uint64_t now_ms)
{
	char a[INET_ADDRSTRLEN], hw[3 * BOOTP_CHADDR_LEN + 2];

	if (leasetab_bind(&s->tab, i, now_ms, s->cfg.lease_ms))
		log_info("dhcp: %s bound to %s for %" PRIu64 " s",
			 ip_fmt(lease_addr(s, i), a), hw_fmt(req, hw), s->cfg.lease_ms / 1000);
	s->owner[i] = req->key;
}

/* --- parsing --- */

/* req_bad() - log why a message is malformed; returns -1 */
static int req_bad(const char *why)
{
	log_debug("dhcp: malformed message: %s", why);
	return -1;
}

/* opt_wanted() - whether we act on option code */
static int opt_wanted(uint8_t code)
{
	return code == OPT_MSG_TYPE || code == OPT_REQUESTED_IP || code == OPT_SERVER_ID ||
	       code == OPT_CLIENT_ID || code == OPT_OVERLOAD;
}

/* opt_store() - check the length of one option we act on and record it */
static int opt_store(struct dhcp_req *req, uint8_t code, const uint8_t *v, uint8_t n)
{
	switch (code) {
	case OPT_MSG_TYPE:
		if (n != 1)
			return req_bad("option 53 length");
		req->type = v[0];
		return 0;
	case OPT_REQUESTED_IP:
	case OPT_SERVER_ID:
		if (n != 4)
			return req_bad("address option length");
		memcpy(code == OPT_SERVER_ID ? &req->server_id : &req->requested, v, 4);
		return 0;
	case OPT_CLIENT_ID:
		if (n < 2) /* RFC 2132 9.14: type and at least one octet */
			return req_bad("option 61 length");
		req->client_id = v;
		req->client_id_len = n;
		return 0;
	default: /* OPT_OVERLOAD, RFC 2132 9.3 */
		if (n != 1 || v[0] < 1 || v[0] > 3)
			return req_bad("option 52 value");
		req->overload = v[0];
		return 0;
	}
}

/* opt_parse() - record one option.  Repeats are malformed: RFC 3396 would
 * concatenate them, giving our fixed-length ones a bad length anyway. */
static int opt_parse(struct dhcp_req *req, uint8_t code, const uint8_t *v, uint8_t n,
		     int options_field)
{
	/* RFC 2132 9.3: option 52 means something only in the options field */
	if (code == OPT_OVERLOAD && !options_field)
		return 0;
	if (!opt_wanted(code))
		return 0;
	if (req->seen[code / 8] & (1u << (code % 8)))
		return req_bad("repeated option");
	req->seen[code / 8] |= 1u << (code % 8);
	return opt_store(req, code, v, n);
}

/* opts_parse() - walk one options area of n octets (RFC 2132 section 2):
 * pad and end are one octet, the rest code, length, value.  An option
 * running past the area is malformed; the area may end without an end. */
static int opts_parse(struct dhcp_req *req, const uint8_t *p, size_t n, int options_field)
{
	size_t off = 0;

	while (off < n) {
		if (p[off] == OPT_END)
			return 0;
		if (p[off] == OPT_PAD) {
			off++;
			continue;
		}
		if (n - off < 2 || n - off - 2 < p[off + 1])
			return req_bad("option runs past the end");
		if (opt_parse(req, p[off], p + off + 2, p[off + 1], options_field) < 0)
			return -1;
		off += 2 + (size_t)p[off + 1];
	}
	return 0;
}

/* key_make() - the client's identity (see struct dhcp_key); left empty
 * when it has neither client identifier nor hardware address */
static void key_make(struct dhcp_req *req)
{
	uint8_t hlen = req->raw[BOOTP_HLEN];

	if (req->client_id_len) {
		memcpy(req->key.b, req->client_id, req->client_id_len);
		req->key.len = req->client_id_len;
	} else if (hlen) {
		req->key.b[0] = req->raw[BOOTP_HTYPE];
		memcpy(req->key.b + 1, req->raw + BOOTP_CHADDR, hlen);
		req->key.len = (uint8_t)(1 + hlen);
	}
}

/* req_parse() - check the fixed header of msg and read its options into
 * req; -1 when msg is not a well-formed DHCP message */
static int req_parse(struct dhcp_req *req, const uint8_t *msg, size_t len)
{
	memset(req, 0, sizeof(*req));
	if (!msg || len < BOOTP_OPTIONS)
		return req_bad("shorter than the BOOTP header and cookie");
	if (msg[BOOTP_HLEN] > BOOTP_CHADDR_LEN)
		return req_bad("hlen over 16");
	if (memcmp(msg + BOOTP_COOKIE, dhcp_cookie, sizeof(dhcp_cookie)) != 0)
		return req_bad("no magic cookie");
	req->raw = msg;
	memcpy(&req->ciaddr, msg + BOOTP_CIADDR, 4);
	if (opts_parse(req, msg + BOOTP_OPTIONS, len - BOOTP_OPTIONS, 1) < 0)
		return -1;
	/* RFC 2132 9.3: the file field is read before sname */
	if ((req->overload & 1) && opts_parse(req, msg + BOOTP_FILE, BOOTP_FILE_LEN, 0) < 0)
		return -1;
	if ((req->overload & 2) && opts_parse(req, msg + BOOTP_SNAME, BOOTP_SNAME_LEN, 0) < 0)
		return -1;
	if (req->type == 0)
		return req_bad("no message type (option 53)");
	key_make(req);
	return 0;
}

/* --- replies --- */

/* opt_put() - append option code with n octets of value */
static void opt_put(struct dhcp_reply *r, uint8_t code, const void *v, size_t n)
{
	if (n > 255 || r->len + 2 + n > sizeof(r->b)) {
		r->overflow = 1;
		return;
	}
	r->b[r->len++] = code;
	r->b[r->len++] = (uint8_t)n;
	memcpy(r->b + r->len, v, n);
	r->len += n;
}

/* opt_put_u32() - append a 32-bit option in network order */
static void opt_put_u32(struct dhcp_reply *r, uint8_t code, uint32_t v)
{
	uint32_t be = htonl(v);

	opt_put(r, code, &be, 4);
}

/* reply_start() - a BOOTREPLY for req (RFC 2131 4.3.1, table 3): xid,
 * flags, giaddr, htype, hlen and chaddr copied, hops, siaddr, sname and
 * file zero; then the cookie, message type and server identifier, which
 * table 3 makes mandatory in OFFER, ACK and NAK */
static void reply_start(const struct dhcp_server *s, struct dhcp_reply *r,
			const struct dhcp_req *req, uint8_t type,
			struct in_addr ciaddr, struct in_addr yiaddr)
{
	memset(r, 0, sizeof(*r));
	r->b[BOOTP_OP] = BOOTREPLY;
	r->b[BOOTP_HTYPE] = req->raw[BOOTP_HTYPE];
	r->b[BOOTP_HLEN] = req->raw[BOOTP_HLEN];
	memcpy(r->b + BOOTP_XID, req->raw + BOOTP_XID, 4);
	memcpy(r->b + BOOTP_FLAGS, req->raw + BOOTP_FLAGS, 2);
	memcpy(r->b + BOOTP_CIADDR, &ciaddr, 4);
	memcpy(r->b + BOOTP_YIADDR, &yiaddr, 4);
	memcpy(r->b + BOOTP_GIADDR, req->raw + BOOTP_GIADDR, 4);
	memcpy(r->b + BOOTP_CHADDR, req->raw + BOOTP_CHADDR, BOOTP_CHADDR_LEN);
	memcpy(r->b + BOOTP_COOKIE, dhcp_cookie, sizeof(dhcp_cookie));
	r->len = BOOTP_OPTIONS;
	opt_put(r, OPT_MSG_TYPE, &type, 1);
	opt_put(r, OPT_SERVER_ID, &s->cfg.server, 4);
}

/* reply_lease_times() - options 51, 58 and 59 in seconds, T1 and T2 at the
 * defaults of RFC 2131 4.4.5: 50% and 87.5% of the lease */
static void reply_lease_times(const struct dhcp_server *s, struct dhcp_reply *r)
{
	uint64_t lease_s = MIN(s->cfg.lease_ms / 1000, DHCP_LEASE_MAX_S);

	opt_put_u32(r, OPT_LEASE_TIME, (uint32_t)lease_s);
	opt_put_u32(r, OPT_T1, (uint32_t)(lease_s / 2));
	opt_put_u32(r, OPT_T2, (uint32_t)(lease_s * 7 / 8));
}

/* reply_config() - the LAN's configuration.  Sent whatever option 55 asks
 * for, which RFC 2131 4.3.1 allows; the mask goes before the router
 * (RFC 2132 3.3). */
static void reply_config(const struct dhcp_server *s, struct dhcp_reply *r)
{
	const struct dhcp_config *c = &s->cfg;
	uint16_t mtu = htons(c->mtu);

	opt_put(r, OPT_SUBNET_MASK, &c->netmask, 4);
	opt_put(r, OPT_ROUTER, &c->router, 4);
	opt_put(r, OPT_DNS, &c->dns, 4);
	if (c->mtu)
		opt_put(r, OPT_MTU, &mtu, 2);
	if (c->domain[0])
		opt_put(r, OPT_DOMAIN, c->domain, strlen(c->domain));
}

/* reply_client_id() - echo option 61, as RFC 6842 section 3 requires in
 * OFFER, ACK and NAK */
static void reply_client_id(struct dhcp_reply *r, const struct dhcp_req *req)
{
	if (req->client_id_len)
		opt_put(r, OPT_CLIENT_ID, req->client_id, req->client_id_len);
}

/* reply_lease() - an OFFER or ACK granting yiaddr with the full configuration */
static void reply_lease(const struct dhcp_server *s, struct dhcp_reply *r,
			const struct dhcp_req *req, uint8_t type,
			struct in_addr ciaddr, struct in_addr yiaddr)
{
	reply_start(s, r, req, type, ciaddr, yiaddr);
	reply_lease_times(s, r);
	reply_config(s, r);
	reply_client_id(r, req);
}

/* reply_emit() - end the options, pad to the BOOTP minimum and copy the
 * reply to out; its length, or 0 (counted as ignored) if it does not fit */
static int reply_emit(struct dhcp_server *s, struct dhcp_reply *r, uint8_t *out, size_t cap)
{
	if (r->len < sizeof(r->b))
		r->b[r->len++] = OPT_END;
	else
		r->overflow = 1;
	r->len = MAX(r->len, (size_t)BOOTP_MIN_LEN);
	if (r->overflow || r->len > cap) {
		log_warnx("dhcp: reply of %zu bytes dropped: %zu-byte buffer%s",
			  r->len, cap, r->overflow ? " overflowed" : " too small");
		s->ctr.ignored++;
		return 0;
	}
	memcpy(out, r->b, r->len);
	s->ctr.tx++;
	return (int)r->len;
}

/* --- messages --- */

/* dhcp_ignore() - count and log a well-formed message we do not answer */
static int dhcp_ignore(struct dhcp_server *s, const struct dhcp_req *req, const char *why)
{
	char hw[3 * BOOTP_CHADDR_LEN + 2];

	log_debug("dhcp: ignored %s from %s: %s", type_name(req->type), hw_fmt(req, hw), why);
	s->ctr.ignored++;
	return 0;
}

/* server_is_other() - whether req names another server in option 54 */
static int server_is_other(const struct dhcp_server *s, const struct dhcp_req *req)
{
	return req->server_id.s_addr && req->server_id.s_addr != s->cfg.server.s_addr;
}

/* pool_exhausted() - warn once per episode that a client got no offer */
static int pool_exhausted(struct dhcp_server *s, const struct dhcp_req *req)
{
	char a[INET_ADDRSTRLEN], hw[3 * BOOTP_CHADDR_LEN + 2];

	if (!s->exhausted_logged)
		log_warnx("dhcp: pool %s+%u exhausted, no offer for %s",
			  ip_fmt(s->cfg.pool_start, a), s->cfg.pool_size, hw_fmt(req, hw));
	s->exhausted_logged = 1;
	return dhcp_ignore(s, req, "pool exhausted");
}

/* dhcp_discover() - DHCPDISCOVER: offer the client its address and hold it
 * for DHCP_OFFER_HOLD_MS (RFC 2131 4.3.1); nothing if the pool is full */
static int dhcp_discover(struct dhcp_server *s, const struct dhcp_req *req, uint64_t now_ms,
			 struct dhcp_reply *r)
{
	struct in_addr zero = { 0 };
	int i = lease_pick(s, &req->key, now_ms);

	if (i < 0)
		return pool_exhausted(s, req);
	s->exhausted_logged = 0;
	lease_offer(s, (unsigned)i, &req->key, now_ms);
	reply_lease(s, r, req, DHCPOFFER, zero, lease_addr(s, (unsigned)i));
	s->ctr.offers++;
	return 1;
}

/* dhcp_nak() - DHCPNAK for an address the client may not have: no
 * addresses, no configuration (RFC 2131 4.3.2, table 3) */
static int dhcp_nak(struct dhcp_server *s, const struct dhcp_req *req, struct in_addr want,
		    struct dhcp_reply *r)
{
	struct in_addr zero = { 0 };
	char a[INET_ADDRSTRLEN], hw[3 * BOOTP_CHADDR_LEN + 2];

	log_info("dhcp: NAK %s requested by %s: not the address it is due",
		 ip_fmt(want, a), hw_fmt(req, hw));
	reply_start(s, r, req, DHCPNAK, zero, zero);
	reply_client_id(r, req);
	s->ctr.naks++;
	return 1;
}

/* withdraw_offer() - the client took another server's offer: ours is void
 * (RFC 2131 4.3.2, SELECTING), the address goes back to the pool */
static void withdraw_offer(struct dhcp_server *s, const struct dhcp_req *req, uint64_t now_ms)
{
	int i = lease_of_client(s, &req->key);

	if (i >= 0 && leasetab_state(&s->tab, (unsigned)i, now_ms) == LEASE_OFFERED)
		leasetab_release(&s->tab, (unsigned)i);
}

/* dhcp_request() - DHCPREQUEST in the SELECTING, INIT-REBOOT, RENEWING or
 * REBINDING state (RFC 2131 4.3.2).  We are the only server on the VM's
 * LAN, hence authoritative: a client asking for anything but the address
 * lease_pick() gives it is NAKed and starts over, also in INIT-REBOOT. */
static int dhcp_request(struct dhcp_server *s, const struct dhcp_req *req, uint64_t now_ms,
			struct dhcp_reply *r)
{
	struct in_addr want;
	int i;

	if (server_is_other(s, req)) {
		withdraw_offer(s, req, now_ms);
		return dhcp_ignore(s, req, "client chose another server");
	}
	/* SELECTING and INIT-REBOOT name the address in option 50,
	 * RENEWING and REBINDING in ciaddr */
	want = req->requested.s_addr ? req->requested : req->ciaddr;
	if (!want.s_addr)
		return req_bad("REQUEST names no address");
	i = lease_pick(s, &req->key, now_ms);
	if (i < 0 || lease_addr(s, (unsigned)i).s_addr != want.s_addr)
		return dhcp_nak(s, req, want, r);
	lease_bind(s, (unsigned)i, req, now_ms);
	reply_lease(s, r, req, DHCPACK, req->ciaddr, want);
	s->ctr.acks++;
	return 1;
}

/* dhcp_decline() - DHCPDECLINE: the client found option 50's address in
 * use (RFC 2131 4.3.3).  Keep it out of the pool a while and tell the
 * operator, since something on the LAN squats on it. */
static int dhcp_decline(struct dhcp_server *s, const struct dhcp_req *req, uint64_t now_ms)
{
	char a[INET_ADDRSTRLEN], hw[3 * BOOTP_CHADDR_LEN + 2];
	int i;

	if (server_is_other(s, req))
		return dhcp_ignore(s, req, "for another server");
	i = lease_index(s, req->requested);
	if (i < 0 || !key_eq(&s->owner[i], &req->key))
		return dhcp_ignore(s, req, "address not leased to this client");
	leasetab_decline(&s->tab, (unsigned)i, now_ms, DHCP_DECLINE_HOLD_MS);
	s->owner[i].len = 0;
	log_warnx("dhcp: %s declined by %s: in use on the LAN, held back for %d s",
		  ip_fmt(req->requested, a), hw_fmt(req, hw), DHCP_DECLINE_HOLD_MS / 1000);
	s->ctr.declines++;
	return 0;
}

/* dhcp_release() - DHCPRELEASE: free ciaddr but remember its client, who
 * gets it back if nobody took it meanwhile (RFC 2131 4.3.4) */
static int dhcp_release(struct dhcp_server *s, const struct dhcp_req *req, uint64_t now_ms)
{
	char a[INET_ADDRSTRLEN], hw[3 * BOOTP_CHADDR_LEN + 2];
	int i;

	if (server_is_other(s, req))
		return dhcp_ignore(s, req, "for another server");
	i = lease_index(s, req->ciaddr);
	if (i < 0)
		return dhcp_ignore(s, req, "address outside the pool");
	if (leasetab_state(&s->tab, (unsigned)i, now_ms) != LEASE_BOUND ||
	    !key_eq(&s->owner[i], &req->key))
		return dhcp_ignore(s, req, "address not bound to this client");
	leasetab_release(&s->tab, (unsigned)i);
	log_info("dhcp: %s released by %s", ip_fmt(req->ciaddr, a), hw_fmt(req, hw));
	s->ctr.releases++;
	return 0;
}

/* dhcp_inform() - DHCPINFORM: the client has an address and wants only the
 * configuration: ACK with yiaddr 0 and no lease times (RFC 2131 4.3.5) */
static int dhcp_inform(struct dhcp_server *s, const struct dhcp_req *req,
		       struct dhcp_reply *r)
{
	struct in_addr zero = { 0 };

	reply_start(s, r, req, DHCPACK, req->ciaddr, zero);
	reply_config(s, r);
	reply_client_id(r, req);
	s->ctr.acks++;
	s->ctr.informs++;
	return 1;
}

/* dhcp_dispatch() - act on a parsed message; 1 with a reply in r, 0 for
 * none, -1 if malformed */
static int dhcp_dispatch(struct dhcp_server *s, const struct dhcp_req *req, uint64_t now_ms,
			 struct dhcp_reply *r)
{
	if (req->raw[BOOTP_OP] != BOOTREQUEST)
		return dhcp_ignore(s, req, "not a BOOTREQUEST");
	if (req->key.len == 0)
		return dhcp_ignore(s, req, "no client identifier and no chaddr");
	switch (req->type) {
	case DHCPDISCOVER:
		return dhcp_discover(s, req, now_ms, r);
	case DHCPREQUEST:
		return dhcp_request(s, req, now_ms, r);
	case DHCPDECLINE:
		return dhcp_decline(s, req, now_ms);
	case DHCPRELEASE:
		return dhcp_release(s, req, now_ms);
	case DHCPINFORM:
		return dhcp_inform(s, req, r);
	default:
		return dhcp_ignore(s, req, "not a client message type");
	}
}

/* dhcp_handle() - one message in, at most one reply out; see dhcp.h */
int dhcp_handle(struct dhcp_server *s, const uint8_t *msg, size_t len, uint64_t now_ms,
		uint8_t *out, size_t cap)
{
	struct dhcp_req req;
	struct dhcp_reply r;
	int n;

	s->ctr.rx++;
	n = req_parse(&req, msg, len);
	if (n == 0)
		n = dhcp_dispatch(s, &req, now_ms, &r);
	if (n < 0) {
		s->ctr.malformed++;
		return -1;
	}
	if (n == 0)
		return 0;
	return reply_emit(s, &r, out, cap);
}

/* --- queries --- */

/* dhcp_lease_first() - the bound lease with the latest binding */
int dhcp_lease_first(const struct dhcp_server *s, uint64_t now_ms, struct in_addr *addr)
{
	int i = leasetab_latest(&s->tab, now_ms);

	if (i < 0)
		return -1;
	*addr = lease_addr(s, (unsigned)i);
	return 0;
}

/* dhcp_lease_count() - how many leases are bound at now_ms */
unsigned dhcp_lease_count(const struct dhcp_server *s, uint64_t now_ms)
{
	return leasetab_count(&s->tab, now_ms);
}

/* dhcp_counters() - the server's counters, live */
const struct dhcp_counters *dhcp_counters(const struct dhcp_server *s)
{
	return &s->ctr;
}

/* --- set-up --- */

/* dhcp_config_default() - the slirp layout: 10.0.2.0/24, gateway .2,
 * DNS .3, pool .15 to .30, one-day leases */
void dhcp_config_default(struct dhcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	inet_pton(AF_INET, "10.0.2.2", &cfg->server);
	inet_pton(AF_INET, "255.255.255.0", &cfg->netmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg->router);
	inet_pton(AF_INET, "10.0.2.3", &cfg->dns);
	inet_pton(AF_INET, "10.0.2.15", &cfg->pool_start);
	cfg->pool_size = 16;
	cfg->lease_ms = 86400000;
}

/* in_pool() - whether a falls in c's pool */
static int in_pool(const struct dhcp_config *c, struct in_addr a)
{
	return ntohl(a.s_addr) - ntohl(c->pool_start.s_addr) < c->pool_size;
}

/* config_check_pool() - the pool must sit inside the server's subnet, off
 * its network and broadcast addresses and off the addresses the LAN uses
 * for the gateway and DNS, or we would hand out a duplicate */
static int config_check_pool(const struct dhcp_config *c)
{
	uint32_t mask = ntohl(c->netmask.s_addr), net = ntohl(c->server.s_addr) & mask;
	uint32_t first = ntohl(c->pool_start.s_addr), last;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN];

	if (leasetab_size_check("dhcp", c->pool_size, DHCP_POOL_MAX) < 0)
		return -1;
	last = first + (c->pool_size - 1);
	if (last < first || (first & mask) != net || (last & mask) != net ||
	    (first & ~mask) == 0 || (last & ~mask) == ~mask) {
		log_warnx("dhcp: pool %s+%u not inside subnet %s/%s or holds its ends",
			  ip_fmt(c->pool_start, a), c->pool_size, ip_fmt(c->server, b),
			  ip_fmt(c->netmask, m));
		return -1;
	}
	if (in_pool(c, c->server) || in_pool(c, c->router) || in_pool(c, c->dns)) {
		log_warnx("dhcp: pool holds the server, router or DNS address");
		return -1;
	}
	return 0;
}

/* config_check() - refuse a configuration clients could not live with */
static int config_check(const struct dhcp_config *c)
{
	if (config_check_pool(c) < 0)
		return -1;
	if (c->lease_ms < 1000) {
		log_warnx("dhcp: lease of %" PRIu64 " ms under one second", c->lease_ms);
		return -1;
	}
	if (c->mtu && c->mtu < 68) { /* RFC 2132 5.1 */
		log_warnx("dhcp: MTU %u under 68", c->mtu);
		return -1;
	}
	if (!memchr(c->domain, '\0', sizeof(c->domain))) {
		log_warnx("dhcp: domain name not terminated");
		return -1;
	}
	return 0;
}

/* dhcp_new() - a server with an empty lease table for a checked copy of cfg */
struct dhcp_server *dhcp_new(const struct dhcp_config *cfg)
{
	struct dhcp_server *s;

	if (config_check(cfg) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	leasetab_init(&s->tab, cfg->pool_size);
	s->owner = xcalloc(cfg->pool_size, sizeof(*s->owner));
	return s;
}

/* dhcp_free() - free s and its lease table; NULL is fine */
void dhcp_free(struct dhcp_server *s)
{
	if (!s)
		return;
	leasetab_fini(&s->tab);
	free(s->owner);
	free(s);
}
