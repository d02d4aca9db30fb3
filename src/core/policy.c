/* policy.c: the consumer's egress policy (see policy.h).
 *
 * Order of decision for a destination: port 0 and unknown families are
 * always refused; explicit deny rules (first match wins); the clouds'
 * metadata endpoints (only an allow rule naming the very address opens
 * one); explicit allow rules; the built-in special-purpose ranges (RFC 6890
 * registries); the consumer host's own addresses; its public addresses;
 * the networks it is attached to; a NAT64 address by the IPv4 address it
 * embeds; then its routes: what it reaches through a default route is the
 * internet and allowed, what is behind any other route is its network and
 * denied.  Pure: no sockets. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "policy.h"
#include "util.h"

/* ::ffff:0:0/96, RFC 4291 2.5.5.2 */
static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
/* 64:ff9b::/96, the NAT64 well-known prefix, RFC 6052 2.1 */
static const uint8_t nat64_prefix[12] = { 0, 0x64, 0xff, 0x9b };

/* A built-in deny: the range and the reason, worded to follow the address. */
struct builtin {
	struct cidr net;
	const char *why;
};

/* Most specific first where ranges nest (0.0.0.0 in 0/8, 255.255.255.255
 * in 240/4, :: and ::1 in ::/96).  Documentation ranges (RFC 5737, RFC
 * 3849) are deliberately absent: tests use them as internet servers. */
static const struct builtin builtins[] = {
	/* Linux connects 0.0.0.0 and :: to the local host */
	{ { AF_INET, { 0, 0, 0, 0 }, 32 }, "is the unspecified address (the consumer host itself)" },
	{ { AF_INET, { 0 }, 8 }, "is in \"this network\" 0.0.0.0/8 (RFC 1122 3.2.1.3)" },
	{ { AF_INET, { 127 }, 8 }, "is loopback (the consumer host itself)" },
	{ { AF_INET, { 169, 254 }, 16 }, "is link-local (cloud metadata and other local services)" },
	{ { AF_INET, { 10 }, 8 }, "is in private range 10.0.0.0/8" },
	{ { AF_INET, { 172, 16 }, 12 }, "is in private range 172.16.0.0/12" },
	{ { AF_INET, { 192, 168 }, 16 }, "is in private range 192.168.0.0/16" },
	{ { AF_INET, { 100, 64 }, 10 },
	  "is in shared address space 100.64.0.0/10 (carrier-grade NAT, RFC 6598)" },
	{ { AF_INET, { 192, 0, 0 }, 24 }, "is in IETF protocol assignments 192.0.0.0/24 (RFC 6890)" },
	{ { AF_INET, { 224 }, 4 }, "is multicast" },
	{ { AF_INET, { 255, 255, 255, 255 }, 32 }, "is the limited broadcast address" },
	{ { AF_INET, { 240 }, 4 }, "is in reserved range 240.0.0.0/4" },
	{ { AF_INET6, { 0 }, 128 }, "is the unspecified address (the consumer host itself)" },
	{ { AF_INET6, { [15] = 1 }, 128 }, "is loopback (the consumer host itself)" },
	{ { AF_INET6, { 0 }, 96 }, "is IPv4-compatible (deprecated, RFC 4291 2.5.5.1)" },
	{ { AF_INET6, { 0xfe, 0x80 }, 10 }, "is link-local (cloud metadata and other local services)" },
	{ { AF_INET6, { 0xfe, 0xc0 }, 10 }, "is site-local (deprecated, RFC 3879)" },
	{ { AF_INET6, { 0xfc }, 7 }, "is in private range fc00::/7 (unique local, RFC 4193)" },
	{ { AF_INET6, { 0xff }, 8 }, "is multicast" },
};

/* The metadata and platform endpoints of the big clouds.  Most lie in a
 * range denied anyway; naming them tells the operator what the VM was
 * after, and only an allow rule naming the very address opens one ("allow
 * 169.254.0.0/16" does not).  Sources: each cloud's documentation (AWS
 * IMDS and its IPv6 endpoint, ECS task metadata, EKS Pod Identity; Azure
 * "What is IP address 168.63.129.16"; Alibaba ECS instance metadata;
 * Akamai "Access the Metadata service API"; OpenStack Neutron metadata over
 * IPv6).  Google's documented endpoint is 169.254.169.254; an IPv6 one
 * that we could not confirm is left to the fc00::/7 deny. */
struct metadata {
	struct cidr host;
	const char *cloud;
	const char *service;
};

static const struct metadata metadata[] = {
	{ { AF_INET, { 169, 254, 169, 254 }, 32 },
	  "AWS, Azure, Google Cloud, Oracle Cloud, OpenStack, Akamai and others",
	  "the instance metadata service" },
	{ { AF_INET, { 169, 254, 170, 2 }, 32 }, "AWS",
	  "the ECS task metadata and credentials endpoint" },
	{ { AF_INET, { 169, 254, 170, 23 }, 32 }, "AWS", "the EKS Pod Identity agent" },
	{ { AF_INET, { 168, 63, 129, 16 }, 32 }, "Azure",
	  "WireServer: the platform agent's channel, DNS, DHCP and health probes" },
	{ { AF_INET, { 100, 100, 100, 200 }, 32 }, "Alibaba Cloud",
	  "the ECS instance metadata service" },
	{ { AF_INET6, { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 }, 128 }, "AWS",
	  "the instance metadata service over IPv6" },
	{ { AF_INET6, { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23 }, 128 }, "AWS",
	  "the EKS Pod Identity agent over IPv6" },
	{ { AF_INET6, { 0xfd, 0x00, 0xa9, 0xfe, 0xa9, 0xfe, [15] = 0x01 }, 128 }, "Akamai (Linode)",
	  "the metadata service over IPv6" },
	{ { AF_INET6, { 0xfe, 0x80, [12] = 0xa9, 0xfe, 0xa9, 0xfe }, 128 }, "OpenStack",
	  "the metadata service over IPv6" },
};

struct rule {
	int allow;
	uint8_t proto;		/* 0: any */
	int has_net;
	struct cidr net;
	uint16_t port_lo, port_hi;
	char *text;		/* "deny tcp port 25", quoted in reasons */
	char *origin;		/* "omnetd.conf:14" or NULL */
};

/* An address of the consumer host, or a network it is attached to. */
struct local {
	int is_host;
	struct cidr net;
	char ifname[IF_NAMESIZE];
};

/* A route as the policy keeps it: classified once, when set. */
struct route_ent {
	struct policy_route r;
	int maximal;		/* no route of its nexthop group contains it */
	int is_default;		/* a default route, or a piece of a split one */
};

enum routes_state {
	ROUTES_NONE,		/* never set: routes are not looked at */
	ROUTES_KNOWN,
	ROUTES_UNKNOWN,		/* could not be read: deny what rules do not allow */
};

/* An address the consumer is seen from on the internet. */
struct public_addr {
	struct cidr host;
	char source[64];
	uint64_t seq;		/* when last noted, for eviction */
};

struct policy {
	struct rule *rules;
	size_t nrules;
	struct local *locals;
	size_t nlocals;
	struct route_ent *routes;
	size_t nroutes;
	enum routes_state routes_state;
	char routes_why[128];
	struct public_addr publics[POLICY_PUBLIC_MAX];
	size_t npublic;
	uint64_t public_seq;
};

/* --- address ranges --- */

static unsigned family_bits(int family)
{
	return family == AF_INET6 ? 128 : family == AF_INET ? 32 : 0;
}

/* prefix_eq() - whether the first @prefix bits of a and b are equal */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, full))
		return 0;
	if (!rest)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* mask_host_bits() - clear every bit of addr after the first @prefix */
static void mask_host_bits(uint8_t addr[16], unsigned prefix)
{
	unsigned i;

	for (i = prefix / 8; i < 16; i++) {
		if (i == prefix / 8 && prefix % 8)
			addr[i] &= (uint8_t)(0xff << (8 - prefix % 8));
		else
			addr[i] = 0;
	}
}

/* cidr_unmap() - c with an IPv4-mapped range (::ffff:0:0/96 or narrower)
 * turned into the IPv4 range it stands for */
static struct cidr cidr_unmap(const struct cidr *c)
{
	struct cidr v4 = *c;

	if (c->family != AF_INET6 || c->prefix < 96 ||
	    memcmp(c->addr, v4mapped_prefix, sizeof(v4mapped_prefix)))
		return v4;
	memset(&v4, 0, sizeof(v4));
	v4.family = AF_INET;
	memcpy(v4.addr, c->addr + 12, 4);
	v4.prefix = c->prefix - 96;
	return v4;
}

/* cidr_parse_loose() - cidr_parse() without the host bits check */
static int cidr_parse_loose(const char *s, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;

	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	prefix = family_bits(out->family);
	if (slash && parse_u64(slash + 1, 0, family_bits(out->family), &prefix) < 0)
		return -1;
	out->prefix = (unsigned)prefix;
	return 0;
}

int cidr_parse(const char *s, struct cidr *out)
{
	struct cidr masked;

	if (cidr_parse_loose(s, out) < 0)
		return -1;
	masked = *out;
	mask_host_bits(masked.addr, masked.prefix);
	return memcmp(masked.addr, out->addr, 16) ? -1 : 0;
}

const char *cidr_fmt(const struct cidr *c, char buf[ADDRSTRLEN])
{
	char host[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "(family %d)", c->family);
	snprintf(buf, ADDRSTRLEN, "%s/%u", host, c->prefix);
	return buf;
}

int cidr_contains(const struct cidr *c, const struct ipport *a)
{
	struct cidr net = cidr_unmap(c), host;

	memset(&host, 0, sizeof(host));
	host.family = a->family;
	memcpy(host.addr, a->addr, 16);
	host.prefix = family_bits(a->family);
	host = cidr_unmap(&host);
	if (!host.prefix || net.family != host.family || net.prefix > host.prefix)
		return 0;
	return prefix_eq(net.addr, host.addr, net.prefix);
}

/* --- rules --- */

struct policy *policy_new(void)
{
	return xcalloc(1, sizeof(struct policy));
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++) {
		free(p->rules[i].text);
		free(p->rules[i].origin);
	}
	free(p->rules);
	free(p->locals);
	free(p->routes);
	free(p);
}

/* parse_ports() - "N" or "N-M" within 1-65535, N <= M */
static int parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	char first[8];
	const char *dash = strchr(s, '-');
	size_t n = dash ? (size_t)(dash - s) : strlen(s);
	uint64_t a, b;

	if (n == 0 || n >= sizeof(first))
		return -1;
	memcpy(first, s, n);
	first[n] = '\0';
	if (parse_u64(first, 1, 65535, &a) < 0)
		return -1;
	b = a;
	if (dash && parse_u64(dash + 1, 1, 65535, &b) < 0)
		return -1;
	if (b < a)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* parse_net() - one CIDR token of a rule, with a message that says what is
 * wrong with it */
static int parse_net(const char *tok, const char *spec, struct cidr *net, char *err,
		     size_t errlen)
{
	char buf[ADDRSTRLEN];

	if (cidr_parse_loose(tok, net) < 0) {
		snprintf(err, errlen, "rule '%s': '%s' is not an address or CIDR "
			 "(e.g. 192.0.2.0/24, 2001:db8::/32)", spec, tok);
		return -1;
	}
	if (cidr_parse(tok, net) < 0) {
		mask_host_bits(net->addr, net->prefix);
		snprintf(err, errlen, "rule '%s': %s has host bits set (meant %s?)", spec, tok,
			 cidr_fmt(net, buf));
		return -1;
	}
	return 0;
}

/* rule_parse() - fill r from the tokens of spec:
 *	[tcp|udp] CIDR [port N[-M]]  |  [tcp|udp] port N[-M]  |  icmp CIDR */
static int rule_parse(struct rule *r, char **tok, size_t n, const char *spec, char *err,
		      size_t errlen)
{
	size_t i = 0;

	r->port_lo = 1;
	r->port_hi = 65535;
	if (!strcasecmp(tok[0], "tcp"))
		r->proto = POLICY_PROTO_TCP;
	else if (!strcasecmp(tok[0], "udp"))
		r->proto = POLICY_PROTO_UDP;
	else if (!strcasecmp(tok[0], "icmp"))
		r->proto = POLICY_PROTO_ICMP;
	if (r->proto)
		i++;
	if (i == n) {
		snprintf(err, errlen, "rule '%s': needs an address (CIDR) or 'port N'", spec);
		return -1;
	}
	if (strcasecmp(tok[i], "port")) {
		if (parse_net(tok[i], spec, &r->net, err, errlen) < 0)
			return -1;
		r->has_net = 1;
		i++;
	}
	if (i < n && !strcasecmp(tok[i], "port") && r->proto == POLICY_PROTO_ICMP) {
		snprintf(err, errlen, "rule '%s': a ping has no port ('icmp CIDR')", spec);
		return -1;
	}
	if (i < n && !strcasecmp(tok[i], "port")) {
		if (i + 1 == n || parse_ports(tok[i + 1], &r->port_lo, &r->port_hi) < 0) {
			snprintf(err, errlen, "rule '%s': 'port' needs a port or range in "
				 "1-65535 (e.g. 25 or 8000-8080)", spec);
			return -1;
		}
		i += 2;
	}
	if (i < n) {
		snprintf(err, errlen, "rule '%s': unexpected '%s'", spec, tok[i]);
		return -1;
	}
	return 0;
}

/* rule_text() - "allow"/"deny" and the tokens, one space apart */
static char *rule_text(int allow, char **tok, size_t n)
{
	size_t i, len = 6;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(tok[i]) + 1;
	s = xmalloc(len);
	strcpy(s, allow ? "allow" : "deny");
	for (i = 0; i < n; i++) {
		strcat(s, " ");
		strcat(s, tok[i]);
	}
	return s;
}

int policy_add_rule(struct policy *p, int allow, const char *spec, const char *origin,
		    char *err, size_t errlen)
{
	char *copy = xstrdup(spec), *tok[5], *save = NULL, *t;
	struct rule r;
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	r.allow = !!allow;
	for (t = strtok_r(copy, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == ARRAY_SIZE(tok)) {
			snprintf(err, errlen, "rule '%s': too many words", spec);
			goto fail;
		}
		tok[n++] = t;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty rule: needs an address (CIDR) or 'port N'");
		goto fail;
	}
	if (rule_parse(&r, tok, n, spec, err, errlen) < 0)
		goto fail;
	r.text = rule_text(r.allow, tok, n);
	r.origin = origin ? xstrdup(origin) : NULL;
	p->rules = xrealloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
	p->rules[p->nrules++] = r;
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

/* rule_names_port() - whether r is limited to some ports */
static int rule_names_port(const struct rule *r)
{
	return r->port_lo != 1 || r->port_hi != 65535;
}

/* rule_matches() - whether r applies to proto and dst; with any_port, the
 * port is not looked at and a rule that names ports does not apply (it is
 * counted in *skipped, if given, when it would apply to some port) */
static int rule_matches(const struct rule *r, uint8_t proto, const struct ipport *dst,
			int any_port, int *skipped)
{
	if (r->proto && r->proto != proto)
		return 0;
	if (r->has_net && !cidr_contains(&r->net, dst))
		return 0;
	if (!any_port)
		return dst->port >= r->port_lo && dst->port <= r->port_hi;
	if (!rule_names_port(r))
		return 1;
	if (skipped)
		(*skipped)++;
	return 0;
}

/* rule_find() - the first allow (or deny) rule that applies, or NULL */
static const struct rule *rule_find(const struct policy *p, int allow, uint8_t proto,
				    const struct ipport *dst, int any_port, int *skipped)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].allow == allow &&
		    rule_matches(&p->rules[i], proto, dst, any_port, skipped))
			return &p->rules[i];
	return NULL;
}

/* rule_naming() - the first allow rule that applies and whose range is one
 * host (a /32 or /128), or NULL: what it takes to open a metadata endpoint */
static const struct rule *rule_naming(const struct policy *p, uint8_t proto,
				      const struct ipport *dst, int any_port)
{
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (r->allow && r->has_net && r->net.prefix == family_bits(r->net.family) &&
		    rule_matches(r, proto, dst, any_port, NULL))
			return r;
	}
	return NULL;
}

/* --- the consumer host --- */

void policy_clear_local(struct policy *p)
{
	free(p->locals);
	p->locals = NULL;
	p->nlocals = 0;
}

/* local_add() - append one host address or network */
static void local_add(struct policy *p, int is_host, const struct cidr *net, const char *ifname)
{
	struct local *l;

	p->locals = xrealloc(p->locals, (p->nlocals + 1) * sizeof(*p->locals));
	l = &p->locals[p->nlocals++];
	l->is_host = is_host;
	l->net = *net;
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname ? ifname : "?");
}

void policy_add_local(struct policy *p, const struct cidr *addr_with_prefix, const char *ifname)
{
	unsigned bits = family_bits(addr_with_prefix->family);
	struct cidr host = *addr_with_prefix, net = *addr_with_prefix;

	if (!bits || addr_with_prefix->prefix > bits) {
		log_warnx("policy: ignoring local address of family %d, prefix %u on %s",
			  addr_with_prefix->family, addr_with_prefix->prefix, ifname ? ifname : "?");
		return;
	}
	host.prefix = bits;
	local_add(p, 1, &host, ifname);
	mask_host_bits(net.addr, net.prefix);
	if (net.prefix < bits)
		local_add(p, 0, &net, ifname);
}

/* --- routes --- */

/* cidr_in() - whether all of a is inside b (same family) */
static int cidr_in(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->prefix >= b->prefix &&
	       prefix_eq(a->addr, b->addr, b->prefix);
}

/* pow2_neg() - 2^-n, without libm */
static double pow2_neg(unsigned n)
{
	double v = 1.0;

	while (n-- > 0)
		v /= 2;
	return v;
}

/* coverage() - the share of the address space that c covers: of all of
 * IPv4, of IPv6's global unicast 2000::/3 (RFC 4291 2.4), as VPNs that
 * route "all of IPv6" route 2000::/3 or its halves */
static double coverage(const struct cidr *c)
{
	static const struct cidr global6 = { AF_INET6, { 0x20 }, 3 };

	if (c->family == AF_INET)
		return pow2_neg(c->prefix);
	if (cidr_in(c, &global6))
		return pow2_neg(c->prefix - global6.prefix);
	return cidr_in(&global6, c) ? 1.0 : 0.0;
}

/* nexthops_cmp() - order of two routes' ways out; 0: the same nexthops */
static int nexthops_cmp(const struct policy_route *a, const struct policy_route *b)
{
	unsigned i, n = MIN(a->nnh, POLICY_NEXTHOPS_MAX);
	int c;

	if (a->nh_id != b->nh_id)
		return a->nh_id < b->nh_id ? -1 : 1;
	if (a->nnh != b->nnh)
		return a->nnh < b->nnh ? -1 : 1;
	for (i = 0; i < n; i++) {
		const struct policy_nexthop *x = &a->nh[i], *y = &b->nh[i];

		if (x->ifindex != y->ifindex)
			return x->ifindex < y->ifindex ? -1 : 1;
		if (x->gw_family != y->gw_family)
			return x->gw_family < y->gw_family ? -1 : 1;
		if ((c = memcmp(x->gw, y->gw, sizeof(x->gw))))
			return c;
	}
	return 0;
}

/* group_cmp() - routes of one family, type and nexthops are one group */
static int group_cmp(const struct policy_route *a, const struct policy_route *b)
{
	if (a->dst.family != b->dst.family)
		return a->dst.family < b->dst.family ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return nexthops_cmp(a, b);
}

/* route_cmp() - by group, then address, then prefix: a route comes before
 * every route it contains */
static int route_cmp(const void *pa, const void *pb)
{
	const struct policy_route *a = &((const struct route_ent *)pa)->r;
	const struct policy_route *b = &((const struct route_ent *)pb)->r;
	int c = group_cmp(a, b);

	if (c)
		return c;
	if ((c = memcmp(a->dst.addr, b->dst.addr, sizeof(a->dst.addr))))
		return c;
	return a->dst.prefix < b->dst.prefix ? -1 : a->dst.prefix > b->dst.prefix;
}

/* is_nat64_route() - a route into the NAT64 well-known prefix leads to the
 * IPv4 internet only (RFC 6052 3.1: it never stands for non-global IPv4) */
static int is_nat64_route(const struct cidr *dst)
{
	return dst->family == AF_INET6 && dst->prefix >= 96 &&
	       !memcmp(dst->addr, nat64_prefix, sizeof(nat64_prefix));
}

/* classify_group() - mark the default routes of one group [lo, hi) of
 * unicast routes: a route to prefix 0; and, when the group's outermost routes (those no
 * other route of the group contains, the prefix-0 route left aside) cover
 * half of the address space or more, each of those: the pieces of a split
 * default route.  A route inside one of them is more specific. */
static void classify_group(struct route_ent *e, size_t lo, size_t hi)
{
	const struct cidr *top = NULL;
	double covered = 0;
	size_t i;

	if (e[lo].r.type != POLICY_ROUTE_UNICAST)
		return;
	for (i = lo; i < hi; i++) {
		const struct cidr *dst = &e[i].r.dst;

		e[i].is_default = dst->prefix == 0 || is_nat64_route(dst);
		if (dst->prefix == 0)
			continue;
		if (top && cidr_in(dst, top)) {
			e[i].maximal = dst->prefix == top->prefix; /* a duplicate */
			continue;
		}
		top = dst;
		e[i].maximal = 1;
		covered += coverage(dst);
	}
	if (covered < 0.5)
		return;
	for (i = lo; i < hi; i++)
		e[i].is_default |= e[i].maximal;
}

/* route_normalize() - host bits and unused gateway bytes cleared, so that
 * equal routes compare equal */
static int route_normalize(struct policy_route *r)
{
	unsigned bits = family_bits(r->dst.family), i;

	if (!bits || r->dst.prefix > bits)
		return -1;
	mask_host_bits(r->dst.addr, r->dst.prefix);
	for (i = 0; i < MIN(r->nnh, POLICY_NEXTHOPS_MAX); i++) {
		struct policy_nexthop *nh = &r->nh[i];

		nh->ifname[sizeof(nh->ifname) - 1] = '\0';
		if (nh->gw_family == AF_INET) {
			memset(nh->gw + 4, 0, sizeof(nh->gw) - 4);
		} else if (nh->gw_family != AF_INET6) {
			memset(nh->gw, 0, sizeof(nh->gw));
			nh->gw_family = 0;
		}
	}
	for (; i < POLICY_NEXTHOPS_MAX; i++)
		memset(&r->nh[i], 0, sizeof(r->nh[i]));
	return 0;
}

void policy_set_routes(struct policy *p, const struct policy_route *routes, size_t n)
{
	size_t i, lo;

	free(p->routes);
	p->routes = n ? xcalloc(MIN(n, (size_t)POLICY_ROUTES_MAX), sizeof(*p->routes)) : NULL;
	p->nroutes = 0;
	for (i = 0; i < n && p->nroutes < POLICY_ROUTES_MAX; i++) {
		struct route_ent *e = &p->routes[p->nroutes];

		e->r = routes[i];
		if (route_normalize(&e->r) == 0)
			p->nroutes++;
	}
	if (p->nroutes)
		qsort(p->routes, p->nroutes, sizeof(*p->routes), route_cmp);
	for (lo = 0; lo < p->nroutes; lo = i) {
		for (i = lo + 1; i < p->nroutes && !group_cmp(&p->routes[i].r, &p->routes[lo].r); i++)
			;
		classify_group(p->routes, lo, i);
	}
	p->routes_state = ROUTES_KNOWN;
	p->routes_why[0] = '\0';
}

void policy_routes_unknown(struct policy *p, const char *why)
{
	free(p->routes);
	p->routes = NULL;
	p->nroutes = 0;
	p->routes_state = ROUTES_UNKNOWN;
	snprintf(p->routes_why, sizeof(p->routes_why), "%s", why ? why : "unknown");
}

/* route_allows() - whether what is behind e is the internet */
static int route_allows(const struct route_ent *e)
{
	return e->r.type == POLICY_ROUTE_UNICAST && e->is_default;
}

/* route_better() - whether a wins over b for a destination both contain:
 * the longer prefix, then the lower metric (as the kernel chooses within a
 * table), then, across tables where rules decide, the one that denies */
static int route_better(const struct route_ent *a, const struct route_ent *b)
{
	if (a->r.dst.prefix != b->r.dst.prefix)
		return a->r.dst.prefix > b->r.dst.prefix;
	if (a->r.metric != b->r.metric)
		return a->r.metric < b->r.metric;
	return route_allows(b) && !route_allows(a);
}

/* route_lookup() - the route that takes dst, or NULL */
static const struct route_ent *route_lookup(const struct policy *p, const struct ipport *dst)
{
	const struct route_ent *best = NULL;
	size_t i;

	for (i = 0; i < p->nroutes; i++) {
		const struct route_ent *e = &p->routes[i];

		if (cidr_contains(&e->r.dst, dst) && (!best || route_better(e, best)))
			best = e;
	}
	return best;
}

/* append() - printf at the end of buf[len], *used advanced; truncates */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = MIN(len - 1, *used + (size_t)n);
}

static const char *const route_type_word[] = {
	[POLICY_ROUTE_UNICAST] = "",
	[POLICY_ROUTE_UNREACHABLE] = "unreachable ",
	[POLICY_ROUTE_BLACKHOLE] = "blackhole ",
	[POLICY_ROUTE_PROHIBIT] = "prohibit ",
};

const char *policy_route_fmt(const struct policy_route *r, char *buf, size_t len)
{
	char net[ADDRSTRLEN], gw[INET6_ADDRSTRLEN];
	const struct policy_nexthop *nh = &r->nh[0];
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	append(buf, len, &used, "%s%s", (unsigned)r->type < ARRAY_SIZE(route_type_word) ?
	       route_type_word[r->type] : "", r->dst.prefix ? cidr_fmt(&r->dst, net) : "default");
	if (r->nnh && nh->gw_family && inet_ntop(nh->gw_family, nh->gw, gw, sizeof(gw)))
		append(buf, len, &used, " via %s", gw);
	if (r->nnh && nh->ifname[0])
		append(buf, len, &used, " dev %s", nh->ifname);
	else if (r->nnh && nh->ifindex)
		append(buf, len, &used, " dev #%d", nh->ifindex);
	if (r->nnh > 1)
		append(buf, len, &used, " (+%u nexthops)", r->nnh - 1);
	if (r->nh_id && !r->nnh)
		append(buf, len, &used, " nhid %u", r->nh_id);
	if (r->table != POLICY_ROUTE_TABLE_MAIN)
		append(buf, len, &used, " table %u", r->table);
	return buf;
}

/* --- public addresses --- */

/* host_cidr() - a as a /32 or /128, an IPv4-mapped address as IPv4 */
static struct cidr host_cidr(const struct ipport *a)
{
	struct cidr h;

	memset(&h, 0, sizeof(h));
	h.family = a->family;
	memcpy(h.addr, a->addr, sizeof(h.addr));
	h.prefix = family_bits(a->family);
	return cidr_unmap(&h);
}

/* builtin_find() - the built-in range that denies a, or NULL */
static const struct builtin *builtin_find(const struct ipport *a)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtins); i++)
		if (cidr_contains(&builtins[i].net, a))
			return &builtins[i];
	return NULL;
}

/* cidr_eq() - same family, prefix and address */
static int cidr_eq(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* public_slot() - where h goes: its own entry, a free one, or the least
 * recently noted when all are taken; *known says if it was there */
static struct public_addr *public_slot(struct policy *p, const struct cidr *h, int *known)
{
	size_t i, oldest = 0;

	for (i = 0; i < p->npublic; i++) {
		if (cidr_eq(&p->publics[i].host, h)) {
			*known = 1;
			return &p->publics[i];
		}
		if (p->publics[i].seq < p->publics[oldest].seq)
			oldest = i;
	}
	*known = 0;
	if (p->npublic < POLICY_PUBLIC_MAX)
		return &p->publics[p->npublic++];
	return &p->publics[oldest];
}

int policy_note_public(struct policy *p, const struct ipport *addr, const char *source)
{
	struct public_addr *slot;
	struct cidr h;
	int known;

	if (!family_bits(addr->family) || builtin_find(addr))
		return -1;
	h = host_cidr(addr);
	slot = public_slot(p, &h, &known);
	slot->host = h;
	slot->seq = ++p->public_seq;
	snprintf(slot->source, sizeof(slot->source), "%s", source ? source : "?");
	return known ? 0 : 1;
}

void policy_adopt_host(struct policy *to, struct policy *from)
{
	free(to->locals);
	free(to->routes);
	to->locals = from->locals;
	to->nlocals = from->nlocals;
	to->routes = from->routes;
	to->nroutes = from->nroutes;
	to->routes_state = from->routes_state;
	memcpy(to->routes_why, from->routes_why, sizeof(to->routes_why));
	memcpy(to->publics, from->publics, sizeof(to->publics));
	to->npublic = from->npublic;
	to->public_seq = from->public_seq;
	from->locals = NULL;
	from->nlocals = 0;
	from->routes = NULL;
	from->nroutes = 0;
	from->routes_state = ROUTES_NONE;
	from->npublic = 0;
}

/* --- the decision --- */

static const char *const basis_names[] = {
	[POLICY_BY_INVALID] = "invalid",
	[POLICY_BY_RULE] = "rule",
	[POLICY_BY_METADATA] = "metadata",
	[POLICY_BY_BUILTIN] = "builtin",
	[POLICY_BY_LOCAL_ADDRESS] = "local_address",
	[POLICY_BY_PUBLIC_ADDRESS] = "public_address",
	[POLICY_BY_LOCAL_NETWORK] = "local_network",
	[POLICY_BY_ROUTE] = "route",
	[POLICY_BY_NO_ROUTE] = "no_route",
	[POLICY_BY_ROUTES_UNKNOWN] = "routes_unknown",
	[POLICY_BY_DEFAULT_ROUTE] = "default_route",
	[POLICY_BY_PUBLIC] = "public",
};

const char *policy_basis_name(enum policy_basis b)
{
	return (unsigned)b < ARRAY_SIZE(basis_names) ? basis_names[b] : "?";
}

/* nat64_inner() - the IPv4 address a NAT64 address (64:ff9b::/96, RFC
 * 6052 2.1) embeds into *v4; 0 if a is not one */
static int nat64_inner(const struct ipport *a, struct ipport *v4)
{
	if (a->family != AF_INET6 || memcmp(a->addr, nat64_prefix, sizeof(nat64_prefix)))
		return 0;
	memset(v4, 0, sizeof(*v4));
	v4->family = AF_INET;
	v4->port = a->port;
	memcpy(v4->addr, a->addr + 12, 4);
	return 1;
}

/* nat64_wrap() - why = "maps to V4 (NAT64, RFC 6052), which INNER" */
static void nat64_wrap(const struct ipport *v4, const char *inner, char *why, size_t n)
{
	char s[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, v4->addr, s, sizeof(s));
	snprintf(why, n, "maps to %s (NAT64, RFC 6052), which %s", s, inner);
}

/* metadata_why() - whether a is a cloud metadata endpoint, directly or
 * through NAT64; v and why say which */
static int metadata_why(const struct ipport *a, struct policy_verdict *v, char *why, size_t n)
{
	char inner[POLICY_REASON_MAX / 2];
	struct ipport v4;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(metadata); i++) {
		if (!cidr_contains(&metadata[i].host, a))
			continue;
		v->basis = POLICY_BY_METADATA;
		v->range = metadata[i].host;
		v->detail = metadata[i].cloud;
		snprintf(why, n, "is a cloud metadata endpoint: %s (%s)", metadata[i].service,
			 metadata[i].cloud);
		return 1;
	}
	if (!nat64_inner(a, &v4) || !metadata_why(&v4, v, inner, sizeof(inner)))
		return 0;
	nat64_wrap(&v4, inner, why, n);
	return 1;
}

/* builtin_why() - whether a built-in range denies a */
static int builtin_why(const struct ipport *a, struct policy_verdict *v, char *why, size_t n)
{
	const struct builtin *b = builtin_find(a);

	if (!b)
		return 0;
	v->basis = POLICY_BY_BUILTIN;
	v->range = b->net;
	snprintf(why, n, "%s", b->why);
	return 1;
}

/* local_why() - whether a is an address of the host (is_host 1) or on a
 * network it is attached to (0).  Host addresses are looked at first, so
 * the reason is the more precise one. */
static int local_why(const struct policy *p, int is_host, const struct ipport *a,
		     struct policy_verdict *v, char *why, size_t n)
{
	char net[ADDRSTRLEN];
	size_t i;

	for (i = 0; i < p->nlocals; i++) {
		const struct local *l = &p->locals[i];

		if (l->is_host != is_host || !cidr_contains(&l->net, a))
			continue;
		v->basis = is_host ? POLICY_BY_LOCAL_ADDRESS : POLICY_BY_LOCAL_NETWORK;
		v->range = l->net;
		v->detail = l->ifname;
		if (is_host)
			snprintf(why, n, "is an address of the consumer host (%s)", l->ifname);
		else
			snprintf(why, n, "is on the consumer's network %s (%s)",
				 cidr_fmt(&l->net, net), l->ifname);
		return 1;
	}
	return 0;
}

/* public_why() - whether a is one of the consumer's public addresses */
static int public_why(const struct policy *p, const struct ipport *a, struct policy_verdict *v,
		      char *why, size_t n)
{
	size_t i;

	for (i = 0; i < p->npublic; i++) {
		const struct public_addr *pa = &p->publics[i];

		if (!cidr_contains(&pa->host, a))
			continue;
		v->basis = POLICY_BY_PUBLIC_ADDRESS;
		v->range = pa->host;
		v->detail = pa->source;
		snprintf(why, n, "is a public address of the consumer (reported by %s): the way "
			 "back in to its forwarded services", pa->source);
		return 1;
	}
	return 0;
}

/* host_why() - whether a is the consumer's own: a built-in range, an
 * address of the host, a public address, an attached network; a NAT64
 * address by the IPv4 address it embeds, as a translator on the consumer's
 * network would reach it for us */
static int host_why(const struct policy *p, const struct ipport *a, struct policy_verdict *v,
		    char *why, size_t n)
{
	char inner[POLICY_REASON_MAX / 2];
	struct ipport v4;

	if (builtin_why(a, v, why, n) || local_why(p, 1, a, v, why, n) ||
	    public_why(p, a, v, why, n) || local_why(p, 0, a, v, why, n))
		return 1;
	if (!nat64_inner(a, &v4) || !host_why(p, &v4, v, inner, sizeof(inner)))
		return 0;
	nat64_wrap(&v4, inner, why, n);
	return 1;
}

/* route_why() - 1 if the route that takes a is a default route, 0 if it
 * is any other (or there is none); v and why say which */
static int route_why(const struct policy *p, const struct ipport *a, struct policy_verdict *v,
		     char *why, size_t n)
{
	const struct route_ent *e;
	char r[POLICY_REASON_MAX / 2];

	if (p->routes_state == ROUTES_NONE) {
		v->basis = POLICY_BY_PUBLIC;
		snprintf(why, n, "allowed (public address)");
		return 1;
	}
	if (p->routes_state == ROUTES_UNKNOWN) {
		v->basis = POLICY_BY_ROUTES_UNKNOWN;
		snprintf(why, n, "cannot be told from the consumer's own networks: its routes are "
			 "unknown (%s)", p->routes_why);
		return 0;
	}
	if (!(e = route_lookup(p, a))) {
		v->basis = POLICY_BY_NO_ROUTE;
		snprintf(why, n, "has no route on the consumer: no default route covers it");
		return 0;
	}
	v->route = &e->r;
	v->range = e->r.dst;
	policy_route_fmt(&e->r, r, sizeof(r));
	v->basis = route_allows(e) ? POLICY_BY_DEFAULT_ROUTE : POLICY_BY_ROUTE;
	if (route_allows(e))
		snprintf(why, n, "allowed: the consumer reaches it through its default route '%s'", r);
	else if (e->r.type != POLICY_ROUTE_UNICAST)
		snprintf(why, n, "is behind the consumer's route '%s', which rejects it: the "
			 "consumer cannot reach it either", r);
	else
		snprintf(why, n, "is behind the consumer's route '%s': the consumer's own network, "
			 "not its default route", r);
	return route_allows(e);
}

/* decided() - the verdict: allowed or not, and the reason "DST WHY"
 * (the destination without its port when any port was asked about) */
static int decided(struct policy_verdict *v, const struct ipport *dst, int any_port, int allowed,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int decided(struct policy_verdict *v, const struct ipport *dst, int any_port, int allowed,
		   const char *fmt, ...)
{
	char a[ADDRSTRLEN];
	va_list ap;
	int n;

	v->allowed = allowed;
	if (any_port && family_bits(dst->family))
		inet_ntop(dst->family, dst->addr, a, sizeof(a));
	else
		ipport_fmt(dst, a);
	n = snprintf(v->reason, sizeof(v->reason), "%s ", a);
	if (n < 0 || (size_t)n >= sizeof(v->reason))
		return allowed;
	va_start(ap, fmt);
	vsnprintf(v->reason + n, sizeof(v->reason) - (size_t)n, fmt, ap);
	va_end(ap);
	return allowed;
}

/* by_rule() - the verdict of rule r */
static int by_rule(struct policy_verdict *v, const struct ipport *dst, int any_port,
		   const struct rule *r)
{
	v->basis = POLICY_BY_RULE;
	v->detail = r->text;
	v->origin = r->origin;
	memset(&v->range, 0, sizeof(v->range));
	if (r->has_net)
		v->range = r->net;
	return decided(v, dst, any_port, r->allow, "%s by rule '%s'%s%s%s",
		       r->allow ? "allowed" : "denied", r->text, r->origin ? " (" : "",
		       r->origin ? r->origin : "", r->origin ? ")" : "");
}

int policy_decide(const struct policy *p, uint8_t proto, const struct ipport *dst, int any_port,
		  struct policy_verdict *v)
{
	char why[POLICY_REASON_MAX];
	const struct rule *r;
	int allowed;

	memset(v, 0, sizeof(*v));
	if (!family_bits(dst->family))
		return decided(v, dst, any_port, 0, "is not an IPv4 or IPv6 address");
	if (!any_port && dst->port == 0)
		return decided(v, dst, any_port, 0, "has port 0, which no server listens on");
	if ((r = rule_find(p, 0, proto, dst, any_port, &v->port_rules_skipped)))
		return by_rule(v, dst, any_port, r);
	if (metadata_why(dst, v, why, sizeof(why))) {
		if ((r = rule_naming(p, proto, dst, any_port)))
			return by_rule(v, dst, any_port, r);
		return decided(v, dst, any_port, 0, "%s", why);
	}
	if ((r = rule_find(p, 1, proto, dst, any_port, &v->port_rules_skipped)))
		return by_rule(v, dst, any_port, r);
	if (host_why(p, dst, v, why, sizeof(why)))
		return decided(v, dst, any_port, 0, "%s", why);
	allowed = route_why(p, dst, v, why, sizeof(why));
	return decided(v, dst, any_port, allowed, "%s", why);
}

int policy_check(const struct policy *p, uint8_t proto, const struct ipport *dst, char *reason,
		 size_t reasonlen)
{
	struct policy_verdict v;
	int allowed = policy_decide(p, proto, dst, 0, &v);

	if (reason && reasonlen)
		snprintf(reason, reasonlen, "%s", v.reason);
	return allowed;
}
