/* dhcp6.h: a sans-I/O DHCPv6 server (RFC 8415) for the VM's LAN.
 *
 * The core takes one UDP payload received on port 547 (the glue joins
 * ff02::1:2 on the VM's interface) plus the current time and returns the
 * reply payload; the glue sends it to the client's address and port 546.
 * Clients on the LAN talk to us directly: relay messages are ignored, and
 * we never offer unicast (no option 12), so clients always multicast.
 * No sockets, no clock. */
#ifndef OMNET_DHCP6_H
#define OMNET_DHCP6_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* The buffer dhcp6_handle() needs: the most a UDP payload holds unfragmented
 * at the IPv6 minimum MTU (1280 - 40 - 8).  The largest reply built (four
 * IAs, a 130-octet client DUID, three DNS servers, a 253-character domain)
 * fits; dhcp6.c asserts it. */
#define DHCP6_REPLY_MAX 1232

/* The largest pool dhcp6_new() accepts; the lease table is scanned linearly
 * on every message. */
#define DHCP6_POOL_MAX 4096
/* DNS servers sent in option 23 */
#define DHCP6_DNS_MAX 3
/* The search domain for option 24: 253 characters and the NUL (RFC 1035
 * 3.1: 255 octets encoded) */
#define DHCP6_DOMAIN_MAX 254
/* RFC 8415 11.1: a DUID is a 2-octet type and 1 to 128 octets more */
#define DHCP6_DUID_MAX 130
/* IA options answered per message (IA_NA, IA_TA and IA_PD together); the
 * rest go unanswered, which a client takes as nothing assigned */
#define DHCP6_IA_MAX 4

struct dhcp6_config {
	uint8_t mac[6];             /* the router's MAC: the server DUID is DUID-LL of it */
	struct in6_addr prefix;     /* the LAN's /64 (the host half is ignored) */
	struct in6_addr pool_start; /* first address handed out, in the prefix: prefix::1000 */
	unsigned pool_size;         /* 256 addresses: prefix::1000 to prefix::10ff */
	struct in6_addr dns[DHCP6_DNS_MAX]; /* option 23 */
	unsigned dns_count;         /* 1: prefix::3 */
	char domain[DHCP6_DOMAIN_MAX]; /* if nonempty, option 24 with this one domain */
	uint64_t preferred_ms;      /* address preferred lifetime, default 3600000 (1 h) */
	uint64_t valid_ms;          /* address valid lifetime and lease, default 7200000 (2 h) */
};

struct dhcp6_counters {
	uint64_t rx;            /* messages given to dhcp6_handle() */
	uint64_t tx;            /* replies returned */
	uint64_t malformed;     /* dhcp6_handle() returned -1 */
	uint64_t ignored;       /* well-formed but not answered */
	uint64_t advertises;
	uint64_t replies;       /* every REPLY, to whatever message */
	uint64_t rapid_commits; /* REPLYs to a SOLICIT */
	uint64_t confirms;
	uint64_t releases;      /* addresses released */
	uint64_t declines;      /* addresses declined */
	uint64_t info_requests;
	uint64_t no_addrs;      /* IAs answered NoAddrsAvail or NoPrefixAvail */
	uint64_t no_binding;    /* IAs answered NoBinding */
	uint64_t not_on_link;   /* IAs and CONFIRMs answered NotOnLink */
};

struct dhcp6_server;

/* dhcp6_config_default() - fill cfg: the /64 fd6f:6d6e:6574:: (the same as
 * ra_config_default()), DNS at ::3, pool ::1000 to ::10ff, lifetimes 1 h
 * preferred and 2 h valid, DUID from 02:6f:6d:6e:65:74, no domain */
void dhcp6_config_default(struct dhcp6_config *cfg);

/* dhcp6_new() - a server for cfg (copied); NULL, with a warning logged, when
 * cfg is inconsistent: a prefix not global or unique-local unicast, an empty
 * or oversized pool, a pool outside the prefix or holding its subnet-router
 * anycast, reserved (RFC 5453) or DNS addresses, no or too many DNS servers
 * or a multicast one, lifetimes under 1 s or preferred over valid, a domain
 * not terminated or not a DNS name */
struct dhcp6_server *dhcp6_new(const struct dhcp6_config *cfg);
void dhcp6_free(struct dhcp6_server *s);

/* dhcp6_handle() - process one DHCPv6 message (the UDP payload received on
 * port 547).  Returns the length of the reply written to out (up to cap
 * bytes), 0 when there is nothing to answer, -1 when the input is malformed
 * (counted in malformed).  A cap of DHCP6_REPLY_MAX is always enough; with
 * less, a reply that does not fit is dropped (0, counted in ignored) and
 * the client will retransmit. */
int dhcp6_handle(struct dhcp6_server *s, const uint8_t *msg, size_t len, uint64_t now_ms,
		 uint8_t *out, size_t cap);

/* dhcp6_lease_first() - the address of the most recently bound active lease,
 * for port forwards into the VM; returns 0 and sets *out, or -1 if no lease
 * is bound.  Renewals do not count as new bindings. */
int dhcp6_lease_first(const struct dhcp6_server *s, uint64_t now_ms, struct in6_addr *out);

/* dhcp6_lease_count() - number of bound, unexpired leases */
unsigned dhcp6_lease_count(const struct dhcp6_server *s, uint64_t now_ms);

const struct dhcp6_counters *dhcp6_counters(const struct dhcp6_server *s);

#endif
