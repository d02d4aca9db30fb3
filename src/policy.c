/* policy.c: the consumer's egress policy (see policy.h).
 *
 * Order of decision for a destination: port 0 and unknown families are
 * always refused; explicit deny rules (first match wins); explicit allow
 * rules; the built-in special-purpose ranges (RFC 6890 registries); the
 * consumer host's own addresses; the networks it is attached to.  What is
 * left is the public internet and is allowed.  Pure: no sockets. */
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

struct policy {
	struct rule *rules;
	size_t nrules;
	struct local *locals;
	size_t nlocals;
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
 *	[tcp|udp] CIDR [port N[-M]]  |  [tcp|udp] port N[-M] */
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

/* rule_matches() - whether r applies to proto and dst */
static int rule_matches(const struct rule *r, uint8_t proto, const struct ipport *dst)
{
	if (r->proto && r->proto != proto)
		return 0;
	if (dst->port < r->port_lo || dst->port > r->port_hi)
		return 0;
	return !r->has_net || cidr_contains(&r->net, dst);
}

/* rule_find() - the first allow (or deny) rule that applies, or NULL */
static const struct rule *rule_find(const struct policy *p, int allow, uint8_t proto,
				    const struct ipport *dst)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].allow == allow && rule_matches(&p->rules[i], proto, dst))
			return &p->rules[i];
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

/* --- the decision --- */

/* builtin_why() - the built-in range that denies a, or NULL */
static const char *builtin_why(const struct ipport *a)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtins); i++)
		if (cidr_contains(&builtins[i].net, a))
			return builtins[i].why;
	return NULL;
}

/* local_why() - write why a is the consumer's own into why; 0 if it is not.
 * Host addresses are looked at before networks, so the reason is the more
 * precise one. */
static int local_why(const struct policy *p, const struct ipport *a, char *why, size_t n)
{
	char net[ADDRSTRLEN];
	size_t i;

	for (i = 0; i < p->nlocals; i++) {
		const struct local *l = &p->locals[i];

		if (l->is_host && cidr_contains(&l->net, a)) {
			snprintf(why, n, "is an address of the consumer host (%s)", l->ifname);
			return 1;
		}
	}
	for (i = 0; i < p->nlocals; i++) {
		const struct local *l = &p->locals[i];

		if (!l->is_host && cidr_contains(&l->net, a)) {
			snprintf(why, n, "is on the consumer's network %s (%s)",
				 cidr_fmt(&l->net, net), l->ifname);
			return 1;
		}
	}
	return 0;
}

/* default_why() - write why the built-in policy denies a into why; 0 if it
 * does not.  A NAT64 address (RFC 6052) is judged by the IPv4 address it
 * embeds: a translator on the consumer's network would reach it for us. */
static int default_why(const struct policy *p, const struct ipport *a, char *why, size_t n)
{
	const char *what = builtin_why(a);
	char inner[POLICY_REASON_MAX / 2], v4s[INET_ADDRSTRLEN];
	struct ipport v4;

	if (what) {
		snprintf(why, n, "%s", what);
		return 1;
	}
	if (local_why(p, a, why, n))
		return 1;
	if (a->family != AF_INET6 || memcmp(a->addr, nat64_prefix, sizeof(nat64_prefix)))
		return 0;
	memset(&v4, 0, sizeof(v4));
	v4.family = AF_INET;
	v4.port = a->port;
	memcpy(v4.addr, a->addr + 12, 4);
	if (!default_why(p, &v4, inner, sizeof(inner)))
		return 0;
	inet_ntop(AF_INET, v4.addr, v4s, sizeof(v4s));
	snprintf(why, n, "maps to %s (NAT64, RFC 6052), which %s", v4s, inner);
	return 1;
}

/* say() - "ADDR:PORT " followed by fmt into reason, if the caller wants it */
static void say(char *reason, size_t len, const struct ipport *dst, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(char *reason, size_t len, const struct ipport *dst, const char *fmt, ...)
{
	char a[ADDRSTRLEN];
	va_list ap;
	int n;

	if (!reason || !len)
		return;
	n = snprintf(reason, len, "%s ", ipport_fmt(dst, a));
	if (n < 0 || (size_t)n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(reason + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

int policy_check(const struct policy *p, uint8_t proto, const struct ipport *dst, char *reason,
		 size_t reasonlen)
{
	char why[POLICY_REASON_MAX];
	const struct rule *r;

	if (!family_bits(dst->family)) {
		say(reason, reasonlen, dst, "is not an IPv4 or IPv6 address");
		return 0;
	}
	if (dst->port == 0) {
		say(reason, reasonlen, dst, "has port 0, which no server listens on");
		return 0;
	}
	if ((r = rule_find(p, 0, proto, dst))) {
		say(reason, reasonlen, dst, "denied by rule '%s'%s%s%s", r->text,
		    r->origin ? " (" : "", r->origin ? r->origin : "", r->origin ? ")" : "");
		return 0;
	}
	if ((r = rule_find(p, 1, proto, dst))) {
		say(reason, reasonlen, dst, "allowed by rule '%s'%s%s%s", r->text,
		    r->origin ? " (" : "", r->origin ? r->origin : "", r->origin ? ")" : "");
		return 1;
	}
	if (default_why(p, dst, why, sizeof(why))) {
		say(reason, reasonlen, dst, "%s", why);
		return 0;
	}
	say(reason, reasonlen, dst, "allowed (public address)");
	return 1;
}
