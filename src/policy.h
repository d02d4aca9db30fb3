/* policy.h: the consumer's egress policy.
 *
 * A VM's provider must not get a door into the consumer's own network: for
 * every flow the provider opens, the consumer asks policy_check() whether
 * it may connect to the destination on the VM's behalf.  By default the
 * public internet is allowed and the consumer host itself, its LAN and the
 * special-purpose ranges are not; the configuration adds deny and allow
 * rules.  Pure: the glue feeds in the host's addresses from netlink. */
#ifndef OMNET_POLICY_H
#define OMNET_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define POLICY_PROTO_TCP	6
#define POLICY_PROTO_UDP	17

/* Enough for any reason policy_check() writes, unless a rule or its origin
 * is very long (the reason is then truncated). */
#define POLICY_REASON_MAX	384

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
 * host's own addresses and networks: "allow 192.168.1.20/32 port 631"
 * lets the VM print on the LAN printer, and "allow port 22" opens port 22
 * on loopback and the LAN too).  @origin, e.g. "omnetd.conf:12" (may be
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

/* policy_check() - may the consumer open @proto (6 TCP, 17 UDP) to @dst for
 * the VM?  1 allowed, 0 denied.  @reason (may be NULL) gets one line that
 * names the destination and why, e.g.
 *	"10.1.2.3:80 is in private range 10.0.0.0/8"
 *	"198.51.100.7:25 denied by rule 'deny port 25' (omnetd.conf:14)"
 * and, when allowed, which rule or default allowed it, for debug logs. */
int policy_check(const struct policy *p, uint8_t proto, const struct ipport *dst, char *reason,
		 size_t reasonlen);

#endif
