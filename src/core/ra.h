/* ra.h: router advertisements for the VM's IPv6 LAN (RFC 4861, RFC 8106).
 *
 * Three pure pieces the glue strings together on its raw IPPROTO_ICMPV6
 * socket: ra_build() writes an advertisement, ra_parse_rs() checks a router
 * solicitation, and struct ra_sched says when the next multicast
 * advertisement is due.  No sockets, no clock, no randomness of its own:
 * time comes in as now_ms, the scheduler's randomness from a seed. */
#ifndef OMNET_RA_H
#define OMNET_RA_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* The longest advertisement ra_build() writes: the 16-octet header, source
 * link-layer address (8), MTU (8), prefix information (32), RDNSS with one
 * address (24). */
#define RA_MAX 88

struct ra_config {
	struct in6_addr prefix;      /* the LAN's /64; the host half is sent as zero */
	struct in6_addr dns;         /* the RDNSS option's address; :: for none */
	uint16_t mtu;                /* if nonzero, the MTU option */
	uint8_t mac[6];              /* the router's address on the LAN ... */
	int have_mac;                /* ... sent as the source link-layer option if set */
	uint32_t router_lifetime_s;  /* 1800; 0: not a default router */
	uint32_t prefix_valid_s;     /* 86400 */
	uint32_t prefix_preferred_s; /* 14400 */
	uint32_t rdnss_lifetime_s;   /* 1800: 3 x MaxRtrAdvInterval (RFC 8106 5.1) */
	int managed;                 /* M flag: addresses from DHCPv6 as well; default 1 */
	int other;                   /* O flag: other configuration from DHCPv6; default 1 */
};

/* ra_config_default() - prefix fd6f:6d6e:6574::/64, DNS prefix::3, no MTU,
 * no MAC, the lifetimes above, M and O set (see ra.c) */
void ra_config_default(struct ra_config *cfg);

/* ra_config_check() - 0 if hosts can live with cfg; -1, with a warning
 * logged, for a prefix that is not global or unique-local unicast, a
 * preferred lifetime over the valid one, a router lifetime other than 0 or
 * 600..9000 s (RFC 4861 6.2.1), a multicast DNS address or an RDNSS
 * lifetime under 600 s (it would lapse between advertisements), an MTU
 * under 1280 (RFC 8200 5) */
int ra_config_check(const struct ra_config *cfg);

/* ra_build() - the ICMPv6 router advertisement for cfg in out: type 134,
 * code 0, checksum 0 (the kernel fills it in on a raw IPPROTO_ICMPV6
 * socket), current hop limit 64, M and O from cfg, reachable time and
 * retransmission timer unspecified; then the options: source link-layer
 * address if have_mac, MTU if mtu, prefix information (/64, L and A set),
 * RDNSS if dns is not ::.  Returns the length, or 0 if cap is too small
 * (RA_MAX always suffices).  The glue sends it with hop limit 255 from the
 * router's link-local address (RFC 4861 6.1.2). */
size_t ra_build(const struct ra_config *cfg, uint8_t *out, size_t cap);

/* ra_parse_rs() - check an ICMPv6 message as RFC 4861 6.1.1 asks of a
 * router solicitation: type 133, code 0, at least 8 octets, every option
 * of nonzero length and inside the message.  A source link-layer address
 * option must be 8 octets (Ethernet, RFC 2464 6; Linux drops others too);
 * the first one's address goes to mac_out and *have_mac is set, else
 * mac_out is zeroed and *have_mac is 0 (always so for an invalid message).
 * Returns 0 if valid, -1 if not.
 *
 * What the message alone does not show is the caller's to check: the IP
 * hop limit must be 255 (IPV6_RECVHOPLIMIT), the kernel has verified the
 * checksum, and a solicitation from the unspecified address (::) that
 * carries a source link-layer address must be dropped. */
int ra_parse_rs(const uint8_t *msg, size_t len, uint8_t mac_out[6], int *have_mac);

/* RFC 4861 10, router constants and our intervals.  The initial interval
 * is 4 s, not MAX_INITIAL_RTR_ADVERT_INTERVAL's 16: see ra.c. */
#define RA_INITIAL_ADVERTS	3		/* MAX_INITIAL_RTR_ADVERTISEMENTS */
#define RA_INITIAL_INTERVAL_MS	4000u
#define RA_MIN_INTERVAL_MS	200000u		/* MinRtrAdvInterval */
#define RA_MAX_INTERVAL_MS	600000u		/* MaxRtrAdvInterval */
#define RA_MAX_DELAY_MS		500u		/* MAX_RA_DELAY_TIME */
#define RA_MIN_GAP_MS		3000u		/* MIN_DELAY_BETWEEN_RAS */

/* When the multicast advertisements go out.  The caller owns it (embed it
 * anywhere); its fields are the scheduler's. */
struct ra_sched {
	uint64_t next_ms;	/* deadline of the next multicast advertisement */
	uint64_t last_ms;	/* when the last one went out, if sent > 0 */
	unsigned sent;		/* how many went out, counted up to RA_INITIAL_ADVERTS */
	uint32_t rng;		/* xorshift32 state, never 0 */
};

/* ra_sched_init() - a scheduler whose first advertisement is due at now_ms,
 * its random intervals drawn from seed (any value; the glue passes a
 * random one so that routers sharing a link do not advertise in step) */
void ra_sched_init(struct ra_sched *s, uint64_t now_ms, uint32_t seed);
/* ra_sched_next() - when the next multicast advertisement is due; the
 * glue sends one once now_ms reaches it, then calls ra_sched_sent() */
uint64_t ra_sched_next(const struct ra_sched *s);
/* ra_sched_sent() - a multicast advertisement went out at now_ms, solicited
 * or not: the next is due after a random interval (RFC 4861 6.2.4) */
void ra_sched_sent(struct ra_sched *s, uint64_t now_ms);
/* ra_sched_solicited() - a valid router solicitation arrived at now_ms:
 * bring the next advertisement forward to within RA_MAX_DELAY_MS, but no
 * sooner than RA_MIN_GAP_MS after the previous one (RFC 4861 6.2.6) */
void ra_sched_solicited(struct ra_sched *s, uint64_t now_ms);

#endif
