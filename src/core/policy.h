/* policy.h: the consumer's egress policy.
 *
 * A VM's provider must not get a door into the consumer's own network: for
 * every flow the provider opens, the consumer asks policy_check() whether
 * it may connect to the destination on the VM's behalf.  By default the VM
 * reaches what the consumer reaches through its default route, and nothing
 * else: not the consumer host, not the networks it is attached to or
 * reaches through a more specific route, not its public addresses, not the
 * special-purpose ranges nor the clouds' metadata services.  The
 * configuration adds deny and allow rules.  Pure: the glue feeds in the
 * host's addresses and routes (netlink) and its public addresses (relays,
 * the router). */
#ifndef OMNET_POLICY_H
#define OMNET_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define POLICY_PROTO_TCP	6
#define POLICY_PROTO_UDP	17
#define POLICY_PROTO_ICMP	1	/* pings: a rule for them names no port */

/* Enough for any reason policy_check() writes, unless a rule, its origin or
 * a multipath route is very long (the reason is then truncated). */
#define POLICY_REASON_MAX	512

/* An address range: family AF_INET or AF_INET6, addr in network order
 * (IPv4 in the first 4 bytes), prefix 0-32 or 0-128. */
struct cidr {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

/* cidr_parse() - "192.0.2.0/24", "2001:db8::/32", or a bare address as /32
 * or /128; -1 on anything else, including host bits set past the prefix */
int cidr_parse(const char *s, struct cidr *out);

/* cidr_fmt() - "192.0.2.0/24" or "2001:db8::/32" into buf */
const char *cidr_fmt(const struct cidr *c, char buf[ADDRSTRLEN]);

/* cidr_contains() - whether a's address is inside c (port ignored).  An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d), in either argument, counts as
 * the IPv4 address: a dual-stack socket connecting to it reaches IPv4. */
int cidr_contains(const struct cidr *c, const struct ipport *a);

struct policy;

/* policy_new() - a policy with the built-in denies only */
struct policy *policy_new(void);
void policy_free(struct policy *p);

/* policy_add_rule() - add a config rule.  @spec is
 *	[tcp|udp] CIDR [port N[-M]]    or    [tcp|udp] port N[-M]
 * @allow: 1 for an allow rule, 0 for deny.  Deny rules are tried first, in
 * order; then allow rules, which override every built-in deny (also the
 * host's own addresses, networks and routes: "allow 192.168.1.20/32 port
 * 631" lets the VM print on the LAN printer, and "allow port 22" opens
 * port 22 on loopback and the LAN too) but a cloud metadata endpoint,
 * which only an allow rule for that very address (/32, /128) opens.  @origin, e.g. "omnetd.conf:12" (may be
 * NULL), is quoted in reasons.  Returns 0, or -1 with a message in err
 * that names the rule but not the origin (the caller prefixes it). */
int policy_add_rule(struct policy *p, int allow, const char *spec, const char *origin,
		    char *err, size_t errlen);

/* policy_clear_local() - forget the host's addresses and networks, before
 * the glue adds the current set (netlink dump or change) */
void policy_clear_local(struct policy *p);

/* policy_add_local() - deny an address of the consumer host, as /32 or
 * /128, and the network it is attached to (address masked to the prefix);
 * @ifname names the interface in reasons */
void policy_add_local(struct policy *p, const struct cidr *addr_with_prefix, const char *ifname);

/* --- routes --- */

enum policy_route_type {
	POLICY_ROUTE_UNICAST,
	POLICY_ROUTE_UNREACHABLE,
	POLICY_ROUTE_BLACKHOLE,
	POLICY_ROUTE_PROHIBIT,
};

#define POLICY_NEXTHOPS_MAX	4	/* kept per route; a route may have more */
#define POLICY_ROUTES_MAX	16384	/* more: the policy cannot tell networks apart */
#define POLICY_ROUTE_TABLE_MAIN	254

/* One way out of a route: an interface, a gateway unless on-link. */
struct policy_nexthop {
	int ifindex;
	char ifname[16];	/* IFNAMSIZ; "" if unknown */
	int gw_family;		/* 0: no gateway (on-link) */
	uint8_t gw[16];
};

/* A route of the consumer host, as the glue reads it from the kernel (any
 * table but "local"; unicast, unreachable, blackhole or prohibit). */
struct policy_route {
	struct cidr dst;
	enum policy_route_type type;
	uint32_t table;
	uint32_t metric;
	uint32_t nh_id;		/* a kernel nexthop object, 0 if none */
	unsigned nnh;		/* nexthops it has; the first POLICY_NEXTHOPS_MAX in nh */
	struct policy_nexthop nh[POLICY_NEXTHOPS_MAX];
};

/* policy_set_routes() - the host's routes now (a copy is kept), replacing
 * what was set before.  Until the first call the policy knows no routes and
 * allows what no other check denies (the public internet, as far as it can
 * tell).  A route to prefix 0, or one of a set of routes through the same
 * nexthops that together cover at least half of the address space (IPv6:
 * of global unicast, 2000::/3) and that no route of the set contains, is a
 * default route: "0.0.0.0/1 + 128.0.0.0/1" or "::/1 + 8000::/1" of a VPN.
 * Every other unicast route is a more specific route, and what is behind
 * it is the consumer's network.  At most POLICY_ROUTES_MAX are read; with
 * more, call policy_routes_unknown(). */
void policy_set_routes(struct policy *p, const struct policy_route *routes, size_t n);

/* policy_routes_unknown() - the host's routes cannot be read (@why says
 * why, for reasons): every destination that no rule allows is denied, as
 * the policy cannot tell the consumer's networks from the internet */
void policy_routes_unknown(struct policy *p, const char *why);

/* --- public addresses --- */

#define POLICY_PUBLIC_MAX	16

/* policy_note_public() - @addr (its port ignored) is an address the
 * consumer is seen from on the internet, as @source ("relay r1", "router
 * 192.168.1.1 (PCP)") says: the VM must not come back in through it.  The
 * POLICY_PUBLIC_MAX most recently noted are kept.  Returns 1 if it is new,
 * 0 if it was known (its source is updated), -1 if it is ignored (not IPv4
 * or IPv6, or denied by a built-in range already). */
int policy_note_public(struct policy *p, const struct ipport *addr, const char *source);

/* policy_adopt_host() - move the host's addresses, routes and public
 * addresses from @from into @to (a reloaded policy), leaving @from without */
void policy_adopt_host(struct policy *to, struct policy *from);

/* --- the decision --- */

/* What decided, as policy_basis_name() spells it for the control socket. */
enum policy_basis {
	POLICY_BY_INVALID,		/* "invalid": no family, port 0 */
	POLICY_BY_RULE,			/* "rule": a deny or allow rule */
	POLICY_BY_METADATA,		/* "metadata": a cloud metadata endpoint */
	POLICY_BY_BUILTIN,		/* "builtin": a special-purpose range */
	POLICY_BY_LOCAL_ADDRESS,	/* "local_address": of the consumer host */
	POLICY_BY_PUBLIC_ADDRESS,	/* "public_address": the consumer's */
	POLICY_BY_LOCAL_NETWORK,	/* "local_network": attached to the host */
	POLICY_BY_ROUTE,		/* "route": a more specific or reject route */
	POLICY_BY_NO_ROUTE,		/* "no_route": no route covers it */
	POLICY_BY_ROUTES_UNKNOWN,	/* "routes_unknown": see policy_routes_unknown() */
	POLICY_BY_DEFAULT_ROUTE,	/* "default_route": allowed, reached by it */
	POLICY_BY_PUBLIC,		/* "public": allowed, no routes known */
};

const char *policy_basis_name(enum policy_basis b);

/* The whole decision.  Pointers point into the policy (or static data) and
 * stay valid until the policy next changes. */
struct policy_verdict {
	int allowed;
	enum policy_basis basis;
	/* the range that decided: a rule's CIDR, a built-in range, the
	 * metadata endpoint, a host or public address, a network, a route's
	 * destination; family 0 when there is none (a rule of ports only) */
	struct cidr range;
	/* rule: its text; metadata: the service; local address or network:
	 * the interface; public address: who reported it; NULL otherwise */
	const char *detail;
	const char *origin;		/* rule: "omnetd.conf:14", or NULL */
	const struct policy_route *route; /* route, default route, or NULL */
	int port_rules_skipped;		/* any_port: rules naming ports that were not tried */
	char reason[POLICY_REASON_MAX];
};

/* policy_decide() - policy_check() with everything that decided in @v.
 * @any_port: ignore dst->port and the rules that name ports (counted in
 * port_rules_skipped): what the policy says of the address as such. */
int policy_decide(const struct policy *p, uint8_t proto, const struct ipport *dst, int any_port,
		  struct policy_verdict *v);

/* policy_route_fmt() - "203.0.113.0/24 via 192.0.2.1 dev eth0", "default
 * dev wg0 table 51820", "unreachable 198.51.100.0/24" into buf */
const char *policy_route_fmt(const struct policy_route *r, char *buf, size_t len);

/* policy_check() - may the consumer open @proto (6 TCP, 17 UDP) to @dst for
 * the VM?  1 allowed, 0 denied.  @reason (may be NULL) gets one line that
 * names the destination and why, e.g.
 *	"10.1.2.3:80 is in private range 10.0.0.0/8"
 *	"198.51.100.7:25 denied by rule 'deny port 25' (omnetd.conf:14)"
 *	"203.0.113.9:443 is behind the consumer's route 203.0.113.0/24 via
 *	 192.0.2.1 dev eth0, not its default route"
 * and, when allowed, which rule or route allowed it, for debug logs. */
int policy_check(const struct policy *p, uint8_t proto, const struct ipport *dst, char *reason,
		 size_t reasonlen);

#endif
