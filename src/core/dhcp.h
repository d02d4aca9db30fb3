/* dhcp.h: a sans-I/O DHCPv4 server (RFC 2131, RFC 2132) for the VM's LAN.
 *
 * The core takes one UDP payload received on port 67 plus the current time
 * and returns the reply payload; the glue broadcasts it to
 * 255.255.255.255:68 on the VM's interface.  No sockets, no clock. */
#ifndef OMNET_DHCP_H
#define OMNET_DHCP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Room for the largest reply dhcp_handle() builds: 240 octets of header and
 * cookie, every option we send with a 63-octet domain name, and a 255-octet
 * client identifier echoed back (RFC 6842). */
#define DHCP_REPLY_MAX 640

/* The largest pool dhcp_new() accepts (a /20); the lease table is scanned
 * linearly on every message. */
#define DHCP_POOL_MAX 4096

struct dhcp_config {
	struct in_addr server;     /* gateway and server identifier, e.g. 10.0.2.2 */
	struct in_addr netmask;    /* 255.255.255.0 */
	struct in_addr router;     /* 10.0.2.2 */
	struct in_addr dns;        /* 10.0.2.3 */
	struct in_addr pool_start; /* 10.0.2.15: first address handed out */
	unsigned pool_size;        /* 16 addresses: .15 to .30 */
	uint64_t lease_ms;         /* lease time in ms (sent as seconds, RFC 2132 9.2), default 86400000 */
	uint16_t mtu;              /* if nonzero, option 26 interface MTU */
	char domain[64];           /* if nonempty, option 15 domain name */
};

struct dhcp_counters {
	uint64_t rx;        /* messages given to dhcp_handle() */
	uint64_t tx;        /* replies returned */
	uint64_t malformed; /* dhcp_handle() returned -1 */
	uint64_t ignored;   /* well-formed but not answered (not DECLINE/RELEASE) */
	uint64_t offers;
	uint64_t acks;      /* including ACKs to INFORM */
	uint64_t naks;
	uint64_t releases;
	uint64_t declines;
	uint64_t informs;
};

struct dhcp_server;

/* dhcp_config_default() - fill cfg with the slirp defaults (10.0.2.0/24,
 * gateway .2, DNS .3, pool .15 to .30, one-day leases) */
void dhcp_config_default(struct dhcp_config *cfg);

/* dhcp_new() - a server for cfg (copied); NULL, with a warning logged, when
 * cfg is inconsistent: empty or oversized pool, pool outside the server's
 * subnet or containing the server, router or DNS address, lease under 1 s,
 * MTU under 68 */
struct dhcp_server *dhcp_new(const struct dhcp_config *cfg);
void dhcp_free(struct dhcp_server *s);

/* dhcp_handle() - process one DHCP message (the UDP payload received on port 67).
 * Returns the length of the reply written to out (up to cap bytes), 0 when there is
 * nothing to answer, -1 when the input is malformed (counted in malformed).
 * A cap of DHCP_REPLY_MAX is always enough; with less, a reply that does not
 * fit is dropped (0, counted in ignored) and the client will retry. */
int dhcp_handle(struct dhcp_server *s, const uint8_t *msg, size_t len, uint64_t now_ms,
		uint8_t *out, size_t cap);

/* dhcp_lease_first() - the address of the most recently bound active lease, for port
 * forwards into the VM; returns 0 and sets *addr, or -1 if no lease is bound.
 * Renewals do not count as new bindings, so the answer stays put while
 * several clients renew. */
int dhcp_lease_first(const struct dhcp_server *s, uint64_t now_ms, struct in_addr *addr);

/* dhcp_lease_count() - number of bound, unexpired leases */
unsigned dhcp_lease_count(const struct dhcp_server *s, uint64_t now_ms);

const struct dhcp_counters *dhcp_counters(const struct dhcp_server *s);

#endif
