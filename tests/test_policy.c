/* test_policy.c: the consumer's egress policy (CIDRs, rules, built-in
 * denies, cloud metadata endpoints, the host's own addresses, its routes
 * and public addresses) and resolv.conf reading. */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "resolv.h"
#include "util.h"

#define TCP POLICY_PROTO_TCP
#define UDP POLICY_PROTO_UDP

static struct policy *pol;

static void setup(void)
{
	pol = policy_new();
}

static void teardown(void)
{
	policy_free(pol);
	pol = NULL;
}

/* ap() - an ipport from a numeric address and a port */
static struct ipport ap(const char *addr, uint16_t port)
{
	struct ipport a;

	memset(&a, 0, sizeof(a));
	a.port = port;
	if (inet_pton(AF_INET, addr, a.addr) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a.addr) == 1)
		a.family = AF_INET6;
	else
		ck_abort_msg("test address %s", addr);
	return a;
}

/* cidr() - a CIDR that must parse */
static struct cidr cidr(const char *s)
{
	struct cidr c;

	ck_assert_msg(cidr_parse(s, &c) == 0, "cidr %s", s);
	return c;
}

/* verdict() - policy_check() on pol, the reason left in reason */
static int verdict(uint8_t proto, const char *addr, uint16_t port, char reason[POLICY_REASON_MAX])
{
	struct ipport a = ap(addr, port);

	reason[0] = '\0';
	return policy_check(pol, proto, &a, reason, POLICY_REASON_MAX);
}

/* denied_because() - assert addr:port is denied and the reason holds both
 * the formatted destination and what */
static void denied_because(uint8_t proto, const char *addr, uint16_t port, const char *what)
{
	char reason[POLICY_REASON_MAX], fmt[ADDRSTRLEN];
	struct ipport a = ap(addr, port);

	ck_assert_msg(verdict(proto, addr, port, reason) == 0, "%s:%u allowed: %s", addr, port,
		      reason);
	ck_assert_msg(strstr(reason, ipport_fmt(&a, fmt)) == reason, "reason '%s' lacks %s",
		      reason, fmt);
	ck_assert_msg(strstr(reason, what), "reason '%s' lacks '%s'", reason, what);
}

static void allowed(uint8_t proto, const char *addr, uint16_t port)
{
	char reason[POLICY_REASON_MAX];

	ck_assert_msg(verdict(proto, addr, port, reason) == 1, "%s:%u denied: %s", addr, port,
		      reason);
}

static void add_rule(int allow, const char *spec, const char *origin)
{
	char err[256] = "";

	ck_assert_msg(policy_add_rule(pol, allow, spec, origin, err, sizeof(err)) == 0,
		      "rule '%s': %s", spec, err);
}

static void add_local(const char *addr, unsigned prefix, const char *ifname)
{
	struct cidr c;
	struct ipport a = ap(addr, 0);

	memset(&c, 0, sizeof(c));
	c.family = a.family;
	memcpy(c.addr, a.addr, 16);
	c.prefix = prefix;
	policy_add_local(pol, &c, ifname);
}

/* --- CIDRs --- */

START_TEST(test_cidr_parse_accepts_ranges_and_bare_addresses)
{
	struct cidr c;
	char buf[ADDRSTRLEN];

	c = cidr("192.0.2.0/24");
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 24);
	ck_assert_str_eq(cidr_fmt(&c, buf), "192.0.2.0/24");
	c = cidr("2001:db8::/32");
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_str_eq(cidr_fmt(&c, buf), "2001:db8::/32");
	c = cidr("198.51.100.7");
	ck_assert_uint_eq(c.prefix, 32);
	c = cidr("2001:db8::1");
	ck_assert_uint_eq(c.prefix, 128);
	c = cidr("0.0.0.0/0");
	ck_assert_uint_eq(c.prefix, 0);
	c = cidr("::/0");
	ck_assert_uint_eq(c.prefix, 0);
	c = cidr("172.16.0.0/12");
	ck_assert_uint_eq(c.addr[1], 16);
	cidr("fe80::/10");
	cidr("10.1.2.3/32");
}
END_TEST

START_TEST(test_cidr_parse_rejects_garbage_and_host_bits)
{
	static const char *bad[] = {
		"", "/", "/24", "10.0.0.0/", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/8x",
		"10.0.0.0/-1", "10.0.0.0/+8", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.1/8",
		"192.168.1.1/24", "2001:db8::1/64", "fe80::1%eth0", "10.0.0", "010.0.0.0/8",
		"example.com", "10.0.0.0/8/8", "::ffff:10.0.0.1/96", "1.2.3.4.5",
	};
	struct cidr c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(cidr_parse(bad[i], &c) == -1, "'%s' parsed", bad[i]);
}
END_TEST

START_TEST(test_cidr_contains_respects_boundaries)
{
	struct cidr c = cidr("172.16.0.0/12");
	struct ipport a;

	a = ap("172.16.0.0", 1);
	ck_assert(cidr_contains(&c, &a));
	a = ap("172.31.255.255", 1);
	ck_assert(cidr_contains(&c, &a));
	a = ap("172.32.0.0", 1);
	ck_assert(!cidr_contains(&c, &a));
	a = ap("172.15.255.255", 1);
	ck_assert(!cidr_contains(&c, &a));
	c = cidr("fe80::/10");
	a = ap("febf:ffff::1", 1);
	ck_assert(cidr_contains(&c, &a));
	a = ap("fec0::1", 1);
	ck_assert(!cidr_contains(&c, &a));
	c = cidr("0.0.0.0/0");
	a = ap("203.0.113.1", 1);
	ck_assert(cidr_contains(&c, &a));
	a = ap("2001:db8::1", 1);
	ck_assert(!cidr_contains(&c, &a)); /* families never mix */
	c = cidr("::/0");
	ck_assert(cidr_contains(&c, &a));
	a = ap("203.0.113.1", 1);
	ck_assert(!cidr_contains(&c, &a));
}
END_TEST

START_TEST(test_cidr_contains_treats_mapped_ipv6_as_ipv4)
{
	struct cidr c = cidr("10.0.0.0/8");
	struct ipport a = ap("::ffff:10.9.8.7", 80);

	ck_assert(cidr_contains(&c, &a));
	a = ap("::ffff:11.0.0.1", 80);
	ck_assert(!cidr_contains(&c, &a));
	/* and a mapped range covers the plain IPv4 address */
	c = cidr("::ffff:10.0.0.0/104");
	a = ap("10.1.1.1", 80);
	ck_assert(cidr_contains(&c, &a));
	a = ap("::ffff:10.1.1.1", 80);
	ck_assert(cidr_contains(&c, &a));
	a = ap("11.1.1.1", 80);
	ck_assert(!cidr_contains(&c, &a));
	/* mapped addresses are IPv4, not part of all-of-IPv6 */
	c = cidr("::/0");
	a = ap("::ffff:10.1.1.1", 80);
	ck_assert(!cidr_contains(&c, &a));
}
END_TEST

/* --- built-in denies --- */

struct builtin_case {
	const char *addr;
	const char *what;
};

START_TEST(test_builtin_categories_are_denied_with_reason)
{
	static const struct builtin_case cases[] = {
		{ "0.0.0.0", "unspecified" },
		{ "0.1.2.3", "\"this network\" 0.0.0.0/8" },
		{ "127.0.0.1", "is loopback (the consumer host itself)" },
		{ "127.255.255.254", "loopback" },
		{ "169.254.42.1", "is link-local (cloud metadata" },
		{ "169.254.0.1", "link-local" },
		{ "10.1.2.3", "is in private range 10.0.0.0/8" },
		{ "172.16.0.1", "private range 172.16.0.0/12" },
		{ "172.31.255.255", "private range 172.16.0.0/12" },
		{ "192.168.1.1", "private range 192.168.0.0/16" },
		{ "100.64.0.1", "shared address space 100.64.0.0/10" },
		{ "100.127.255.255", "carrier-grade NAT" },
		{ "192.0.0.8", "IETF protocol assignments 192.0.0.0/24" },
		{ "224.0.0.251", "multicast" },
		{ "239.255.255.250", "multicast" },
		{ "255.255.255.255", "limited broadcast" },
		{ "240.0.0.1", "reserved range 240.0.0.0/4" },
		{ "255.255.255.254", "reserved" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		denied_because(TCP, cases[i].addr, 80, cases[i].what);
		denied_because(UDP, cases[i].addr, 53, cases[i].what);
	}
}
END_TEST

START_TEST(test_builtin_reasons_read_as_documented)
{
	char reason[POLICY_REASON_MAX];

	ck_assert_int_eq(verdict(TCP, "127.0.0.1", 22, reason), 0);
	ck_assert_str_eq(reason, "127.0.0.1:22 is loopback (the consumer host itself)");
	ck_assert_int_eq(verdict(TCP, "169.254.42.1", 80, reason), 0);
	ck_assert_str_eq(reason,
			 "169.254.42.1:80 is link-local (cloud metadata and other local services)");
	ck_assert_int_eq(verdict(TCP, "10.1.2.3", 80, reason), 0);
	ck_assert_str_eq(reason, "10.1.2.3:80 is in private range 10.0.0.0/8");
	ck_assert_int_eq(verdict(TCP, "::1", 22, reason), 0);
	ck_assert_str_eq(reason, "[::1]:22 is loopback (the consumer host itself)");
}
END_TEST

START_TEST(test_ipv6_equivalents_are_denied)
{
	static const struct builtin_case cases[] = {
		{ "::", "unspecified" },
		{ "::1", "loopback" },
		{ "fe80::1", "link-local" },
		{ "febf:ffff::1", "link-local" },
		{ "fc00::1", "private range fc00::/7" },
		{ "fd12:3456:789a::1", "unique local" },
		{ "ff02::1", "multicast" },
		{ "ff05::1:3", "multicast" },
		{ "fec0::1", "site-local" },
		{ "::10.0.0.1", "IPv4-compatible" },
		{ "::8.8.8.8", "IPv4-compatible" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		denied_because(TCP, cases[i].addr, 443, cases[i].what);
}
END_TEST

START_TEST(test_mapped_ipv6_is_judged_as_ipv4)
{
	char reason[POLICY_REASON_MAX];

	denied_because(TCP, "::ffff:127.0.0.1", 22, "loopback");
	denied_because(TCP, "::ffff:10.0.0.1", 80, "private range 10.0.0.0/8");
	denied_because(TCP, "::ffff:169.254.42.1", 80, "link-local");
	denied_because(UDP, "::ffff:255.255.255.255", 67, "limited broadcast");
	denied_because(TCP, "::ffff:0.0.0.0", 80, "unspecified");
	allowed(TCP, "::ffff:198.51.100.7", 443);
	ck_assert_int_eq(verdict(TCP, "::ffff:10.0.0.1", 80, reason), 0);
	ck_assert_str_eq(reason, "[::ffff:10.0.0.1]:80 is in private range 10.0.0.0/8");
}
END_TEST

START_TEST(test_nat64_is_judged_by_embedded_ipv4)
{
	char reason[POLICY_REASON_MAX];

	ck_assert_int_eq(verdict(TCP, "64:ff9b::10.0.0.1", 80, reason), 0);
	ck_assert_str_eq(reason, "[64:ff9b::a00:1]:80 maps to 10.0.0.1 (NAT64, RFC 6052), "
				 "which is in private range 10.0.0.0/8");
	denied_because(TCP, "64:ff9b::127.0.0.1", 22, "loopback");
	allowed(TCP, "64:ff9b::198.51.100.7", 443);
	add_local("192.0.2.2", 24, "eth0");
	denied_because(TCP, "64:ff9b::192.0.2.9", 80, "on the consumer's network 192.0.2.0/24");
}
END_TEST

START_TEST(test_public_and_documentation_ranges_are_allowed)
{
	static const char *ok[] = {
		"192.0.2.1", "198.51.100.7", "203.0.113.9", "100.128.0.5", "100.128.0.255",
		"2001:db8::1", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "2001:4860:4860::8888",
		/* just outside the built-in ranges */
		"9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
		"192.169.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255", "169.255.0.0",
		"126.255.255.255", "128.0.0.0", "192.0.1.255", "192.0.3.0", "223.255.255.255",
		"1.0.0.0", "fbff:ffff::1", "fe00::1", "fe7f::1", "::1:0:0:1", "64:ff9c::10.0.0.1",
	};
	char reason[POLICY_REASON_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		allowed(TCP, ok[i], 443);
		allowed(UDP, ok[i], 443);
	}
	ck_assert_int_eq(verdict(TCP, "198.51.100.7", 443, reason), 1);
	ck_assert_str_eq(reason, "198.51.100.7:443 allowed (public address)");
}
END_TEST

START_TEST(test_port_zero_is_always_denied)
{
	add_rule(1, "0.0.0.0/0", "test.conf:1");
	add_rule(1, "::/0", "test.conf:2");
	denied_because(TCP, "198.51.100.7", 0, "port 0");
	denied_because(UDP, "2001:db8::1", 0, "port 0");
	allowed(TCP, "198.51.100.7", 1);
}
END_TEST

START_TEST(test_unknown_family_is_denied)
{
	struct ipport a = ap("198.51.100.7", 80);
	char reason[POLICY_REASON_MAX];

	a.family = AF_UNIX;
	ck_assert_int_eq(policy_check(pol, TCP, &a, reason, sizeof(reason)), 0);
	ck_assert_ptr_nonnull(strstr(reason, "not an IPv4 or IPv6 address"));
}
END_TEST

/* --- rules --- */

START_TEST(test_allow_overrides_private_range)
{
	char reason[POLICY_REASON_MAX];

	add_rule(1, "10.1.0.0/16", "test.conf:3");
	ck_assert_int_eq(verdict(TCP, "10.1.2.3", 80, reason), 1);
	ck_assert_str_eq(reason, "10.1.2.3:80 allowed by rule 'allow 10.1.0.0/16' (test.conf:3)");
	allowed(UDP, "::ffff:10.1.2.3", 53);
	denied_because(TCP, "10.2.0.1", 80, "private range 10.0.0.0/8");
}
END_TEST

START_TEST(test_allow_overrides_loopback_and_link_local)
{
	add_rule(1, "tcp 127.0.0.1 port 8080", NULL);
	add_rule(1, "fe80::/10 port 631", NULL);
	allowed(TCP, "127.0.0.1", 8080);
	denied_because(TCP, "127.0.0.1", 8081, "loopback");
	denied_because(UDP, "127.0.0.1", 8080, "loopback");
	allowed(UDP, "fe80::1", 631);
}
END_TEST

START_TEST(test_allow_overrides_attached_network_and_host_address)
{
	char reason[POLICY_REASON_MAX];

	add_local("192.168.1.5", 24, "eth0");
	add_local("192.0.2.2", 24, "eth1");
	add_rule(1, "tcp 192.168.1.20/32 port 631", "omnetd.conf:20");
	add_rule(1, "192.0.2.2 port 22", "omnetd.conf:21");
	allowed(TCP, "192.168.1.20", 631);
	denied_because(UDP, "192.168.1.20", 631, "private range 192.168.0.0/16");
	denied_because(TCP, "192.168.1.21", 631, "private range 192.168.0.0/16");
	allowed(TCP, "192.0.2.2", 22);
	ck_assert_int_eq(verdict(TCP, "192.0.2.2", 23, reason), 0);
	ck_assert_str_eq(reason, "192.0.2.2:23 is an address of the consumer host (eth1)");
	ck_assert_int_eq(verdict(TCP, "192.0.2.3", 22, reason), 0);
	ck_assert_str_eq(reason, "192.0.2.3:22 is on the consumer's network 192.0.2.0/24 (eth1)");
}
END_TEST

START_TEST(test_deny_by_port)
{
	char reason[POLICY_REASON_MAX];

	add_rule(0, "port 25", "omnetd.conf:14");
	ck_assert_int_eq(verdict(TCP, "198.51.100.7", 25, reason), 0);
	ck_assert_str_eq(reason, "198.51.100.7:25 denied by rule 'deny port 25' (omnetd.conf:14)");
	denied_because(UDP, "2001:db8::25", 25, "denied by rule 'deny port 25'");
	allowed(TCP, "198.51.100.7", 24);
	allowed(TCP, "198.51.100.7", 26);
}
END_TEST

START_TEST(test_deny_by_cidr_and_port_range)
{
	add_rule(0, "203.0.113.0/24 port 8000-8080", "omnetd.conf:15");
	denied_because(TCP, "203.0.113.9", 8000, "'deny 203.0.113.0/24 port 8000-8080'");
	denied_because(TCP, "203.0.113.9", 8080, "(omnetd.conf:15)");
	denied_because(UDP, "203.0.113.255", 8042, "denied by rule");
	denied_because(TCP, "::ffff:203.0.113.9", 8001, "denied by rule");
	allowed(TCP, "203.0.113.9", 7999);
	allowed(TCP, "203.0.113.9", 8081);
	allowed(TCP, "198.51.100.7", 8000);
}
END_TEST

START_TEST(test_deny_by_cidr_alone)
{
	add_rule(0, "2001:db8:bad::/48", "c:1");
	add_rule(0, "198.51.100.66", "c:2");
	denied_because(TCP, "2001:db8:bad::1", 1, "'deny 2001:db8:bad::/48' (c:1)");
	denied_because(UDP, "2001:db8:bad:ffff::1", 65535, "denied by rule");
	denied_because(TCP, "198.51.100.66", 443, "'deny 198.51.100.66' (c:2)");
	allowed(TCP, "2001:db8:bae::1", 443);
	allowed(TCP, "198.51.100.67", 443);
}
END_TEST

START_TEST(test_deny_wins_over_allow_and_first_deny_wins)
{
	add_rule(1, "198.51.100.0/24", "c:1");
	add_rule(0, "198.51.100.0/25 port 1-1024", "c:2");
	add_rule(0, "port 25", "c:3");
	denied_because(TCP, "198.51.100.7", 25, "(c:2)");
	denied_because(TCP, "203.0.113.1", 25, "(c:3)");
	allowed(TCP, "198.51.100.7", 1025);
	allowed(TCP, "198.51.100.200", 80);
}
END_TEST

START_TEST(test_protocol_specific_rules)
{
	add_rule(0, "udp port 53", "c:1");
	add_rule(0, "TCP 198.51.100.0/24 port 23", "c:2");
	add_rule(1, "udp 10.0.0.53 port 53", "c:3");
	denied_because(UDP, "198.51.100.7", 53, "'deny udp port 53'");
	allowed(TCP, "198.51.100.7", 53);
	denied_because(TCP, "198.51.100.7", 23, "'deny TCP 198.51.100.0/24 port 23'");
	allowed(UDP, "198.51.100.7", 23);
	/* the deny of udp/53 comes first, even for the allowed resolver */
	denied_because(UDP, "10.0.0.53", 53, "(c:1)");
	/* other protocols only see rules without one */
	allowed(1, "198.51.100.7", 53);
}
END_TEST

/* ping_allowed() - the consumer's question for an ICMP flow: the address
 * alone (any_port), protocol ICMP */
static int ping_allowed(const char *addr, struct policy_verdict *v)
{
	struct ipport a = ap(addr, 0);

	return policy_decide(pol, POLICY_PROTO_ICMP, &a, 1, v);
}

/* Pings: a rule naming icmp applies to them alone; one naming tcp or udp,
 * or a port, does not apply to them; one naming neither applies to all. */
START_TEST(test_icmp_rules)
{
	struct policy_verdict v;

	add_rule(0, "icmp 198.51.100.0/25", "c:1");
	add_rule(0, "tcp 198.51.100.128/25", "c:2");
	add_rule(0, "203.0.113.0/25", "c:3");
	add_rule(0, "203.0.113.128/25 port 80", "c:4");
	ck_assert_int_eq(ping_allowed("198.51.100.7", &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_RULE);
	ck_assert_msg(strstr(v.reason, "'deny icmp 198.51.100.0/25'"), "%s", v.reason);
	allowed(TCP, "198.51.100.7", 80);
	allowed(UDP, "198.51.100.7", 53);
	ck_assert_int_eq(ping_allowed("198.51.100.200", &v), 1);
	ck_assert_int_eq(ping_allowed("203.0.113.7", &v), 0);
	ck_assert_int_eq(ping_allowed("203.0.113.200", &v), 1);
	ck_assert_int_eq(v.port_rules_skipped, 1);
	/* the built-in ranges hold for pings as for the rest */
	ck_assert_int_eq(ping_allowed("127.0.0.1", &v), 0);
	ck_assert_int_eq(ping_allowed("169.254.169.254", &v), 0);
}
END_TEST

START_TEST(test_rule_text_is_normalised_whitespace)
{
	add_rule(0, "  tcp\t198.51.100.0/24   port  25 \n", "c:9");
	denied_because(TCP, "198.51.100.1", 25, "'deny tcp 198.51.100.0/24 port 25' (c:9)");
}
END_TEST

struct bad_rule {
	const char *spec;
	const char *msg;
};

START_TEST(test_rule_syntax_errors_are_explained)
{
	static const struct bad_rule bad[] = {
		{ "", "empty rule" },
		{ "  \t", "empty rule" },
		{ "tcp", "needs an address (CIDR) or 'port N'" },
		{ "udp", "rule 'udp': needs an address" },
		{ "port", "'port' needs a port or range in 1-65535" },
		{ "port 0", "1-65535" },
		{ "port 65536", "1-65535" },
		{ "port 10-5", "'port' needs a port" },
		{ "port abc", "'port' needs a port" },
		{ "port 1-", "'port' needs a port" },
		{ "port -1", "'port' needs a port" },
		{ "port 1-2-3", "'port' needs a port" },
		{ "port 1234567", "'port' needs a port" },
		{ "10.0.0.1/8", "10.0.0.1/8 has host bits set (meant 10.0.0.0/8?)" },
		{ "2001:db8::1/32", "(meant 2001:db8::/32?)" },
		{ "10.0.0.0/33", "'10.0.0.0/33' is not an address or CIDR" },
		{ "bogus", "rule 'bogus': 'bogus' is not an address or CIDR" },
		{ "sctp port 1", "'sctp' is not an address or CIDR" },
		{ "10.0.0.0/8 port", "'port' needs a port" },
		{ "10.0.0.0/8 25", "unexpected '25'" },
		{ "10.0.0.0/8 port 25 extra", "unexpected 'extra'" },
		{ "tcp udp port 1", "'udp' is not an address" },
		{ "port 25 10.0.0.0/8", "unexpected '10.0.0.0/8'" },
		{ "a b c d e f g", "too many words" },
		{ "icmp port 7", "a ping has no port ('icmp CIDR')" },
		{ "icmp 10.0.0.0/8 port 7", "a ping has no port" },
		{ "icmp", "needs an address" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(policy_add_rule(pol, 0, bad[i].spec, "c:1", err, sizeof(err)) == -1,
			      "'%s' accepted", bad[i].spec);
		ck_assert_msg(strstr(err, bad[i].msg), "'%s': message '%s' lacks '%s'", bad[i].spec,
			      err, bad[i].msg);
	}
	/* nothing half-added: the defaults still decide */
	allowed(TCP, "198.51.100.7", 1);
	allowed(TCP, "198.51.100.7", 25);
}
END_TEST

START_TEST(test_error_message_is_truncated_safely)
{
	char err[8];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(policy_add_rule(pol, 1, "bogus rule here", NULL, err, sizeof(err)), -1);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
}
END_TEST

/* --- the consumer host --- */

START_TEST(test_host_addresses_and_attached_networks)
{
	char reason[POLICY_REASON_MAX];

	add_local("192.0.2.2", 24, "eth0");
	add_local("2001:db8:1::5", 64, "wlan0");
	add_local("203.0.113.7", 32, "ppp0");
	ck_assert_int_eq(verdict(TCP, "192.0.2.2", 22, reason), 0);
	ck_assert_str_eq(reason, "192.0.2.2:22 is an address of the consumer host (eth0)");
	denied_because(TCP, "192.0.2.77", 80, "is on the consumer's network 192.0.2.0/24 (eth0)");
	denied_because(UDP, "192.0.2.255", 80, "consumer's network");
	denied_because(TCP, "2001:db8:1::5", 22, "is an address of the consumer host (wlan0)");
	denied_because(TCP, "2001:db8:1::9", 22,
		       "is on the consumer's network 2001:db8:1::/64 (wlan0)");
	denied_because(TCP, "203.0.113.7", 80, "address of the consumer host (ppp0)");
	denied_because(TCP, "::ffff:192.0.2.2", 22, "address of the consumer host (eth0)");
	allowed(TCP, "192.0.3.1", 80);
	allowed(TCP, "203.0.113.8", 80);
	allowed(TCP, "2001:db8:2::1", 80);
}
END_TEST

START_TEST(test_host_address_reason_beats_network_reason)
{
	/* the network was added first; the host address still names the host */
	add_local("192.0.2.9", 24, "eth0");
	add_local("192.0.2.2", 24, "eth0");
	denied_because(TCP, "192.0.2.2", 22, "address of the consumer host");
	denied_because(TCP, "192.0.2.9", 22, "address of the consumer host");
}
END_TEST

START_TEST(test_clear_local_replaces_the_set)
{
	add_local("192.0.2.2", 24, "eth0");
	denied_because(TCP, "192.0.2.50", 80, "eth0");
	policy_clear_local(pol);
	allowed(TCP, "192.0.2.50", 80);
	allowed(TCP, "192.0.2.2", 80);
	add_local("198.51.100.2", 25, "eth1");
	denied_because(TCP, "198.51.100.100", 80, "198.51.100.0/25 (eth1)");
	allowed(TCP, "198.51.100.200", 80);
	policy_clear_local(pol);
	policy_clear_local(pol);
	allowed(TCP, "198.51.100.100", 80);
}
END_TEST

START_TEST(test_builtin_reason_wins_over_local)
{
	/* a LAN in 192.168/16 is reported as private, the broader truth */
	add_local("192.168.1.5", 24, "eth0");
	denied_because(TCP, "192.168.1.1", 80, "private range 192.168.0.0/16");
	add_local("127.0.0.1", 8, "lo");
	denied_because(TCP, "127.0.0.1", 80, "loopback");
}
END_TEST

START_TEST(test_bad_local_address_is_ignored)
{
	struct cidr c = cidr("198.51.100.0/24");

	c.prefix = 33;
	policy_add_local(pol, &c, "eth0");
	c.family = AF_UNIX;
	c.prefix = 8;
	policy_add_local(pol, &c, NULL);
	allowed(TCP, "198.51.100.7", 80);
}
END_TEST

START_TEST(test_reason_is_optional_and_truncated_safely)
{
	struct ipport a = ap("10.1.2.3", 80);
	char small[12];

	ck_assert_int_eq(policy_check(pol, TCP, &a, NULL, 0), 0);
	ck_assert_int_eq(policy_check(pol, TCP, &a, small, 0), 0);
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(policy_check(pol, TCP, &a, small, sizeof(small)), 0);
	ck_assert_str_eq(small, "10.1.2.3:80");
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(policy_check(pol, TCP, &a, small, 5), 0);
	ck_assert_str_eq(small, "10.1");
}
END_TEST

/* --- resolv.conf --- */

static char tmpl[64];

/* conf() - write text to a fresh temporary file, its name in tmpl */
static const char *conf(const char *text)
{
	int fd;

	snprintf(tmpl, sizeof(tmpl), "/tmp/omnet-resolv-XXXXXX");
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmpl;
}

static void resolv_teardown(void)
{
	if (tmpl[0])
		unlink(tmpl);
	tmpl[0] = '\0';
}

static void assert_ns(const struct ipport *ns, const char *addr)
{
	struct ipport want = ap(addr, 53);

	ck_assert_msg(ipport_eq(ns, &want), "nameserver is not %s", addr);
}

START_TEST(test_resolv_reads_nameservers_in_order)
{
	struct ipport ns[8];
	char err[128] = "";

	conf("# generated by NetworkManager\n"
	     "search example.org\n"
	     "options edns0 trust-ad\n"
	     "nameserver 192.0.2.53\n"
	     "; nameserver 192.0.2.99\n"
	     "#nameserver 192.0.2.98\n"
	     "nameserver 2001:db8::53\n"
	     "nameserver fe80::1%eth0\n"
	     "nameserver bogus\n"
	     "nameserver\n"
	     "nameservers 192.0.2.97\n"
	     "nameserver 198.51.100.53 # with a comment\n"
	     "\tnameserver\t203.0.113.53\t\n"
	     "nameserver 127.0.0.53;comment\n"
	     "nameserver 192.0.2.1 extra words\n"
	     "nameserver 203.0.113.1");
	ck_assert_int_eq(resolv_nameservers(tmpl, ns, ARRAY_SIZE(ns), err, sizeof(err)), 8);
	assert_ns(&ns[0], "192.0.2.53");
	assert_ns(&ns[1], "2001:db8::53");
	assert_ns(&ns[2], "fe80::1");
	assert_ns(&ns[3], "198.51.100.53");
	assert_ns(&ns[4], "203.0.113.53");
	assert_ns(&ns[5], "127.0.0.53");
	assert_ns(&ns[6], "192.0.2.1");
	assert_ns(&ns[7], "203.0.113.1");
}
END_TEST

START_TEST(test_resolv_stops_at_max)
{
	struct ipport ns[3];
	char err[128] = "";

	memset(ns, 0xee, sizeof(ns));
	conf("nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n");
	ck_assert_int_eq(resolv_nameservers(tmpl, ns, 2, err, sizeof(err)), 2);
	assert_ns(&ns[0], "192.0.2.1");
	assert_ns(&ns[1], "192.0.2.2");
	ck_assert_uint_eq(ns[2].family, 0xee); /* untouched */
	ck_assert_int_eq(resolv_nameservers(tmpl, ns, 0, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_resolv_without_nameservers_is_zero)
{
	struct ipport ns[3];
	char err[128] = "";

	conf("");
	ck_assert_int_eq(resolv_nameservers(tmpl, ns, 3, err, sizeof(err)), 0);
	resolv_teardown();
	conf("# nothing here\nsearch lan\n\n;\n");
	ck_assert_int_eq(resolv_nameservers(tmpl, ns, 3, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_resolv_long_lines_are_fine)
{
	struct ipport ns[2];
	char err[128] = "", *text = malloc(20000);

	ck_assert_ptr_nonnull(text);
	memset(text, 0, 20000);
	strcpy(text, "search ");
	memset(text + 7, 'a', 10000);
	strcat(text, "\nnameserver 192.0.2.7\n");
	conf(text);
	free(text);
	ck_assert_int_eq(resolv_nameservers(tmpl, ns, 2, err, sizeof(err)), 1);
	assert_ns(&ns[0], "192.0.2.7");
}
END_TEST

START_TEST(test_resolv_unreadable_file_is_an_error)
{
	struct ipport ns[2];
	char err[128] = "";

	ck_assert_int_eq(resolv_nameservers("/nonexistent/resolv.conf", ns, 2, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "/nonexistent/resolv.conf: No such file or directory");
	ck_assert_int_eq(resolv_nameservers("/tmp", ns, 2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/tmp: "));
}
END_TEST

/* --- cloud metadata endpoints --- */

START_TEST(test_metadata_endpoints_are_denied_naming_the_cloud)
{
	static const struct builtin_case cases[] = {
		{ "169.254.169.254", "instance metadata service (AWS, Azure, Google Cloud" },
		{ "169.254.170.2", "ECS task metadata and credentials endpoint (AWS)" },
		{ "169.254.170.23", "EKS Pod Identity agent (AWS)" },
		{ "168.63.129.16", "WireServer" },
		{ "100.100.100.200", "ECS instance metadata service (Alibaba Cloud)" },
		{ "fd00:ec2::254", "instance metadata service over IPv6 (AWS)" },
		{ "fd00:ec2::23", "EKS Pod Identity agent over IPv6 (AWS)" },
		{ "fd00:a9fe:a9fe::1", "metadata service over IPv6 (Akamai (Linode))" },
		{ "fe80::a9fe:a9fe", "metadata service over IPv6 (OpenStack)" },
		{ "::ffff:169.254.169.254", "instance metadata service (AWS" },
		{ "::ffff:168.63.129.16", "(Azure)" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		denied_because(TCP, cases[i].addr, 80, "is a cloud metadata endpoint: ");
		denied_because(TCP, cases[i].addr, 80, cases[i].what);
		denied_because(UDP, cases[i].addr, 53, cases[i].what);
	}
	/* a public address: no built-in range covered Azure's */
	allowed(TCP, "168.63.129.17", 80);
}
END_TEST

START_TEST(test_metadata_reason_reads_as_documented)
{
	char reason[POLICY_REASON_MAX];

	ck_assert_int_eq(verdict(UDP, "168.63.129.16", 53, reason), 0);
	ck_assert_str_eq(reason, "168.63.129.16:53 is a cloud metadata endpoint: WireServer: the "
				 "platform agent's channel, DNS, DHCP and health probes (Azure)");
	ck_assert_int_eq(verdict(TCP, "64:ff9b::a9fe:aa02", 80, reason), 0);
	ck_assert_str_eq(reason, "[64:ff9b::a9fe:aa02]:80 maps to 169.254.170.2 (NAT64, RFC 6052), "
				 "which is a cloud metadata endpoint: the ECS task metadata and "
				 "credentials endpoint (AWS)");
}
END_TEST

START_TEST(test_metadata_opens_only_to_a_rule_naming_it)
{
	add_rule(1, "169.254.0.0/16", NULL);
	add_rule(1, "100.64.0.0/10", NULL);
	allowed(TCP, "169.254.42.1", 80);
	allowed(TCP, "100.100.100.201", 80);
	denied_because(TCP, "169.254.169.254", 80, "cloud metadata endpoint");
	denied_because(TCP, "100.100.100.200", 80, "Alibaba Cloud");
	add_rule(1, "port 80", NULL);
	denied_because(TCP, "169.254.170.2", 80, "cloud metadata endpoint");
	add_rule(1, "tcp 169.254.169.254 port 80", "omnetd.conf:3");
	allowed(TCP, "169.254.169.254", 80);
	denied_because(UDP, "169.254.169.254", 80, "cloud metadata endpoint");
	denied_because(TCP, "169.254.169.254", 8080, "cloud metadata endpoint");
	add_rule(0, "169.254.169.254", NULL);
	denied_because(TCP, "169.254.169.254", 80, "denied by rule 'deny 169.254.169.254'");
}
END_TEST

/* --- routes --- */

/* ifindex_of() - a made-up interface index per name */
static int ifindex_of(const char *name)
{
	static const char *const names[] = { "lo", "lan0", "lan1", "tun0", "wg0", "eth0",
					     "tailscale0" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(names[i], name))
			return (int)i + 1;
	ck_abort_msg("test interface %s", name);
	return 0;
}

/* nexthop() - "via GW" and/or "dev IF" from tok[*i] on, into nh */
static void nexthop(char **tok, size_t n, size_t *i, struct policy_nexthop *nh)
{
	struct ipport gw;

	for (; *i + 1 < n; *i += 2) {
		if (!strcmp(tok[*i], "via")) {
			gw = ap(tok[*i + 1], 0);
			nh->gw_family = gw.family;
			memcpy(nh->gw, gw.addr, 16);
		} else if (!strcmp(tok[*i], "dev")) {
			snprintf(nh->ifname, sizeof(nh->ifname), "%s", tok[*i + 1]);
			nh->ifindex = ifindex_of(tok[*i + 1]);
		} else {
			return;
		}
	}
}

/* route() - "[unreachable|blackhole|prohibit] CIDR [via GW] [dev IF]
 * [nexthop via GW dev IF]... [metric N] [table N]" */
static struct policy_route route(const char *spec)
{
	static const char *const types[] = { "unicast", "unreachable", "blackhole", "prohibit" };
	char *copy = strdup(spec), *tok[32], *save = NULL, *t;
	struct policy_route r;
	size_t n = 0, i = 0, k;

	memset(&r, 0, sizeof(r));
	r.table = POLICY_ROUTE_TABLE_MAIN;
	for (t = strtok_r(copy, " ", &save); t && n < ARRAY_SIZE(tok); t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	for (k = 0; k < ARRAY_SIZE(types); k++)
		if (!strcmp(tok[0], types[k]))
			r.type = (enum policy_route_type)k, i = 1;
	r.dst = cidr(tok[i++]);
	while (i < n) {
		if (!strcmp(tok[i], "nexthop")) {
			i++;
			nexthop(tok, n, &i, &r.nh[r.nnh++]);
		} else if (!strcmp(tok[i], "via") || !strcmp(tok[i], "dev")) {
			r.nnh = 1;
			nexthop(tok, n, &i, &r.nh[0]);
		} else if (!strcmp(tok[i], "metric") && i + 1 < n) {
			r.metric = (uint32_t)strtoul(tok[i + 1], NULL, 10), i += 2;
		} else if (!strcmp(tok[i], "table") && i + 1 < n) {
			r.table = (uint32_t)strtoul(tok[i + 1], NULL, 10), i += 2;
		} else {
			ck_abort_msg("route spec '%s' at '%s'", spec, tok[i]);
		}
	}
	free(copy);
	return r;
}

/* set_routes() - the routes of a NULL-terminated list of specs */
static void set_routes(const char *const *specs)
{
	struct policy_route r[64];
	size_t n = 0;

	for (; *specs; specs++) {
		ck_assert_uint_lt(n, ARRAY_SIZE(r));
		r[n++] = route(*specs);
	}
	policy_set_routes(pol, r, n);
}

/* decide() - policy_decide() on pol for addr:port (any_port: port 0) */
static int decide(uint8_t proto, const char *addr, uint16_t port, int any_port,
		  struct policy_verdict *v)
{
	struct ipport a = ap(addr, port);

	return policy_decide(pol, proto, &a, any_port, v);
}

/* A home: a LAN with its router, a second router on the LAN side to
 * another site's network. */
static const char *const home_routes[] = {
	"0.0.0.0/0 via 192.0.2.129 dev lan0 metric 100",
	"192.0.2.128/25 dev lan0",
	"203.0.113.0/25 via 203.0.113.253 dev lan1",
	"203.0.113.252/30 dev lan1",
	NULL,
};

START_TEST(test_more_specific_route_is_the_consumers_network)
{
	struct policy_verdict v;
	char reason[POLICY_REASON_MAX];

	set_routes(home_routes);
	ck_assert_int_eq(verdict(TCP, "198.51.100.10", 80, reason), 1);
	ck_assert_str_eq(reason, "198.51.100.10:80 allowed: the consumer reaches it through its "
				 "default route 'default via 192.0.2.129 dev lan0'");
	ck_assert_int_eq(verdict(TCP, "203.0.113.10", 80, reason), 0);
	ck_assert_str_eq(reason, "203.0.113.10:80 is behind the consumer's route '203.0.113.0/25 "
				 "via 203.0.113.253 dev lan1': the consumer's own network, not its "
				 "default route");
	ck_assert_int_eq(decide(UDP, "203.0.113.127", 53, 0, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_ROUTE);
	ck_assert_ptr_nonnull(v.route);
	ck_assert_uint_eq(v.route->dst.prefix, 25);
	ck_assert_str_eq(v.route->nh[0].ifname, "lan1");
	ck_assert_int_eq(decide(TCP, "203.0.113.128", 80, 0, &v), 1);
	ck_assert_int_eq(v.basis, POLICY_BY_DEFAULT_ROUTE);
	ck_assert_uint_eq(v.route->dst.prefix, 0);
}
END_TEST

START_TEST(test_route_through_the_default_gateway_is_still_more_specific)
{
	static const char *const routes[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0",
		"198.51.100.0/24 via 192.0.2.129 dev lan0",
		NULL,
	};

	set_routes(routes);
	denied_because(TCP, "198.51.100.10", 443,
		       "behind the consumer's route '198.51.100.0/24 via 192.0.2.129 dev lan0'");
	allowed(TCP, "203.0.113.10", 443);
}
END_TEST

START_TEST(test_split_default_of_a_vpn_is_a_default_route)
{
	/* OpenVPN's redirect-gateway def1: two halves through the tunnel, a
	 * pinned route to the VPN server, and a company network */
	static const char *const routes[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0",
		"0.0.0.0/1 via 10.8.0.1 dev tun0",
		"128.0.0.0/1 via 10.8.0.1 dev tun0",
		"10.8.0.0/24 dev tun0",
		"198.51.100.99/32 via 192.0.2.129 dev lan0",
		"203.0.113.0/24 via 10.8.0.1 dev tun0",
		NULL,
	};
	char reason[POLICY_REASON_MAX];

	set_routes(routes);
	ck_assert_int_eq(verdict(TCP, "198.51.100.10", 443, reason), 1);
	ck_assert_str_eq(reason, "198.51.100.10:443 allowed: the consumer reaches it through its "
				 "default route '128.0.0.0/1 via 10.8.0.1 dev tun0'");
	allowed(TCP, "100.128.0.1", 443);
	denied_because(TCP, "203.0.113.5", 443, "route '203.0.113.0/24 via 10.8.0.1 dev tun0'");
	denied_because(TCP, "198.51.100.99", 1194, "route '198.51.100.99/32 via 192.0.2.129");
	denied_because(TCP, "10.8.0.1", 53, "private range");
}
END_TEST

START_TEST(test_one_half_alone_is_a_default_route)
{
	static const char *const routes[] = {
		"0.0.0.0/1 dev wg0",
		"203.0.113.0/24 via 192.0.2.129 dev lan0",
		NULL,
	};

	set_routes(routes);
	allowed(TCP, "100.128.0.1", 443);
	/* the other half has no route at all */
	denied_because(TCP, "198.51.100.10", 443, "has no route on the consumer");
	denied_because(TCP, "203.0.113.1", 443, "route '203.0.113.0/24 via 192.0.2.129 dev lan0'");
}
END_TEST

START_TEST(test_vpn_excluding_private_ranges_is_a_default_route)
{
	/* WireGuard's "exclude private IPs": 0.0.0.0/0 less RFC 1918 and
	 * friends, as disjoint pieces; one company network inside a piece */
	static const char *const routes[] = {
		"0.0.0.0/5 dev wg0", "8.0.0.0/7 dev wg0", "11.0.0.0/8 dev wg0",
		"12.0.0.0/6 dev wg0", "16.0.0.0/4 dev wg0", "32.0.0.0/3 dev wg0",
		"64.0.0.0/2 dev wg0", "128.0.0.0/3 dev wg0", "160.0.0.0/5 dev wg0",
		"168.0.0.0/6 dev wg0", "172.0.0.0/12 dev wg0", "172.32.0.0/11 dev wg0",
		"172.64.0.0/10 dev wg0", "172.128.0.0/9 dev wg0", "173.0.0.0/8 dev wg0",
		"174.0.0.0/7 dev wg0", "176.0.0.0/4 dev wg0", "192.0.0.0/9 dev wg0",
		"192.128.0.0/11 dev wg0", "192.160.0.0/13 dev wg0", "192.169.0.0/16 dev wg0",
		"192.170.0.0/15 dev wg0", "192.172.0.0/14 dev wg0", "192.176.0.0/12 dev wg0",
		"192.192.0.0/10 dev wg0", "193.0.0.0/8 dev wg0", "194.0.0.0/7 dev wg0",
		"196.0.0.0/6 dev wg0", "200.0.0.0/5 dev wg0", "208.0.0.0/4 dev wg0",
		"203.0.113.0/24 dev wg0",
		"0.0.0.0/0 via 192.0.2.129 dev lan0",
		NULL,
	};

	set_routes(routes);
	allowed(TCP, "198.51.100.10", 443);
	allowed(TCP, "192.169.1.1", 443);
	denied_because(TCP, "203.0.113.9", 443, "route '203.0.113.0/24 dev wg0'");
}
END_TEST

START_TEST(test_routes_covering_less_than_half_are_networks)
{
	static const char *const routes[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0",
		"11.0.0.0/8 dev tun0",
		"30.0.0.0/8 dev tun0",
		"64.0.0.0/3 dev wg0",
		"128.0.0.0/3 dev wg0",
		NULL,
	};

	set_routes(routes);
	denied_because(TCP, "11.1.2.3", 22, "route '11.0.0.0/8 dev tun0'");
	denied_because(TCP, "30.0.0.1", 22, "route '30.0.0.0/8 dev tun0'");
	denied_because(TCP, "72.0.0.1", 22, "route '64.0.0.0/3 dev wg0'");
	allowed(TCP, "198.51.100.10", 22);
}
END_TEST

START_TEST(test_ipv6_routes)
{
	static const char *const routes[] = {
		"::/0 via fe80::1 dev eth0 metric 1024",
		"2001:db8:5::/48 via fe80::2 dev eth0",
		"fe80::/64 dev eth0",
		NULL,
	};
	struct policy_verdict v;

	set_routes(routes);
	allowed(TCP, "2001:db8:7::1", 443);
	denied_because(TCP, "2001:db8:5::1", 443,
		       "behind the consumer's route '2001:db8:5::/48 via fe80::2 dev eth0'");
	ck_assert_int_eq(decide(TCP, "2001:db8:7::1", 443, 0, &v), 1);
	ck_assert_str_eq(v.reason, "[2001:db8:7::1]:443 allowed: the consumer reaches it through "
				   "its default route 'default via fe80::1 dev eth0'");
	/* IPv4 has no route at all here */
	denied_because(TCP, "198.51.100.10", 443, "has no route on the consumer");
	denied_because(TCP, "::ffff:198.51.100.10", 443, "has no route on the consumer");
}
END_TEST

START_TEST(test_ipv6_split_default_routes)
{
	static const char *const halves[] = {
		"::/0 via fe80::1 dev eth0",
		"::/1 dev tun0",
		"8000::/1 dev tun0",
		"2001:db8:99::/48 dev tun0",
		NULL,
	};
	static const char *const openvpn[] = {
		"::/3 dev tun0", "2000::/4 dev tun0", "3000::/4 dev tun0", "fc00::/7 dev tun0",
		NULL,
	};
	static const char *const global[] = { "2000::/3 via fe80::1 dev wg0", NULL };

	set_routes(halves);
	allowed(TCP, "2001:db8::1", 443);
	denied_because(TCP, "2001:db8:99::1", 443, "route '2001:db8:99::/48 dev tun0'");
	set_routes(openvpn);
	allowed(TCP, "2001:db8::1", 443);
	allowed(TCP, "3fff::1", 443);
	set_routes(global);
	allowed(TCP, "2001:db8::1", 443);
	denied_because(TCP, "4000::1", 443, "has no route");
}
END_TEST

START_TEST(test_reject_routes_are_denied_naming_their_type)
{
	static const char *const routes[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0",
		"unreachable 198.51.100.128/25",
		"blackhole 203.0.113.0/24",
		"prohibit 192.0.2.0/25 table 100",
		NULL,
	};
	struct policy_verdict v;

	set_routes(routes);
	allowed(TCP, "198.51.100.10", 80);
	denied_because(TCP, "198.51.100.200", 80, "route 'unreachable 198.51.100.128/25', which "
						  "rejects it");
	denied_because(TCP, "203.0.113.1", 80, "route 'blackhole 203.0.113.0/24'");
	denied_because(TCP, "192.0.2.10", 80, "route 'prohibit 192.0.2.0/25 table 100'");
	ck_assert_int_eq(decide(TCP, "203.0.113.1", 80, 0, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_ROUTE);
	ck_assert_int_eq(v.route->type, POLICY_ROUTE_BLACKHOLE);
}
END_TEST

START_TEST(test_lowest_metric_wins_between_equal_prefixes)
{
	static const char *const fallback[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0 metric 100",
		"unreachable 0.0.0.0/0 metric 4278198272",
		NULL,
	};
	static const char *const killswitch[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0 metric 100",
		"blackhole 0.0.0.0/0 metric 10",
		NULL,
	};

	set_routes(fallback);
	allowed(TCP, "198.51.100.10", 80);
	set_routes(killswitch);
	denied_because(TCP, "198.51.100.10", 80, "route 'blackhole default'");
}
END_TEST

START_TEST(test_routes_of_other_tables_count)
{
	static const char *const routes[] = {
		"0.0.0.0/0 via 192.0.2.129 dev lan0",
		"0.0.0.0/0 dev wg0 table 51820",
		"203.0.113.0/24 dev tailscale0 table 52",
		NULL,
	};

	set_routes(routes);
	allowed(TCP, "198.51.100.10", 443);
	denied_because(TCP, "203.0.113.9", 443, "route '203.0.113.0/24 dev tailscale0 table 52'");
}
END_TEST

START_TEST(test_nat64_prefix_route_reaches_the_ipv4_internet)
{
	static const char *const routes[] = {
		"::/0 via fe80::1 dev eth0",
		"64:ff9b::/96 via fe80::64 dev eth0",
		NULL,
	};

	set_routes(routes);
	allowed(TCP, "64:ff9b::c633:640a", 443);
	denied_because(TCP, "64:ff9b::a00:1", 443, "maps to 10.0.0.1 (NAT64, RFC 6052), which is "
						   "in private range");
}
END_TEST

START_TEST(test_allow_rule_overrides_a_route)
{
	set_routes(home_routes);
	add_rule(1, "tcp 203.0.113.0/25 port 443", "omnetd.conf:9");
	allowed(TCP, "203.0.113.10", 443);
	denied_because(TCP, "203.0.113.10", 80, "route '203.0.113.0/25");
	denied_because(UDP, "203.0.113.10", 443, "route '203.0.113.0/25");
}
END_TEST

START_TEST(test_unknown_routes_deny_what_rules_do_not_allow)
{
	struct policy_verdict v;

	policy_routes_unknown(pol, "more than 16384 routes");
	denied_because(TCP, "198.51.100.10", 443, "its routes are unknown (more than 16384 routes)");
	add_rule(1, "198.51.100.0/24", NULL);
	allowed(TCP, "198.51.100.10", 443);
	ck_assert_int_eq(decide(TCP, "203.0.113.1", 443, 0, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_ROUTES_UNKNOWN);
	set_routes(home_routes);
	allowed(TCP, "203.0.113.200", 443);
}
END_TEST

START_TEST(test_local_networks_and_addresses_beat_routes)
{
	set_routes(home_routes);
	add_local("192.0.2.130", 25, "lan0");
	add_local("203.0.113.254", 30, "lan1");
	denied_because(TCP, "192.0.2.130", 80, "is an address of the consumer host (lan0)");
	denied_because(TCP, "192.0.2.129", 80, "is on the consumer's network 192.0.2.128/25 (lan0)");
	denied_because(TCP, "203.0.113.253", 80, "on the consumer's network 203.0.113.252/30");
}
END_TEST

START_TEST(test_multipath_route_reads_well)
{
	static const char *const routes[] = {
		"203.0.113.0/24 nexthop via 192.0.2.1 dev lan0 nexthop via 192.0.2.2 dev lan1",
		"0.0.0.0/0 nexthop via 192.0.2.129 dev lan0 nexthop via 192.0.2.130 dev lan1",
		NULL,
	};

	set_routes(routes);
	allowed(TCP, "198.51.100.10", 443);
	denied_because(TCP, "203.0.113.1", 443,
		       "route '203.0.113.0/24 via 192.0.2.1 dev lan0 (+1 nexthops)'");
}
END_TEST

START_TEST(test_set_routes_replaces_and_adopt_moves)
{
	struct policy *next = policy_new();
	struct ipport a = ap("203.0.113.10", 80), b = ap("198.51.100.77", 80);
	char reason[POLICY_REASON_MAX];

	set_routes(home_routes);
	add_local("192.0.2.130", 25, "lan0");
	ck_assert_int_eq(policy_note_public(pol, &b, "relay r1"), 1);
	policy_adopt_host(next, pol);
	ck_assert_int_eq(policy_check(next, TCP, &a, reason, sizeof(reason)), 0);
	ck_assert_ptr_nonnull(strstr(reason, "route '203.0.113.0/25"));
	ck_assert_int_eq(policy_check(next, TCP, &b, reason, sizeof(reason)), 0);
	ck_assert_ptr_nonnull(strstr(reason, "relay r1"));
	/* what was moved out is gone from the old policy */
	allowed(TCP, "203.0.113.10", 80);
	allowed(TCP, "198.51.100.77", 80);
	allowed(TCP, "192.0.2.130", 80);
	policy_free(next);
	set_routes(home_routes);
	policy_set_routes(pol, NULL, 0);
	denied_because(TCP, "198.51.100.10", 80, "has no route on the consumer");
}
END_TEST

/* --- public addresses --- */

START_TEST(test_public_address_is_denied_naming_who_reported_it)
{
	struct ipport a = ap("198.51.100.77", 6950), v6 = ap("2001:db8::7", 0);
	struct ipport mapped = ap("::ffff:198.51.100.78", 0), priv = ap("10.0.0.1", 0);
	char reason[POLICY_REASON_MAX];

	set_routes(home_routes);
	ck_assert_int_eq(policy_note_public(pol, &a, "relay r1"), 1);
	ck_assert_int_eq(verdict(TCP, "198.51.100.77", 443, reason), 0);
	ck_assert_str_eq(reason, "198.51.100.77:443 is a public address of the consumer (reported "
				 "by relay r1): the way back in to its forwarded services");
	allowed(TCP, "198.51.100.76", 443);
	ck_assert_int_eq(policy_note_public(pol, &a, "router 192.0.2.129 (PCP)"), 0);
	denied_because(UDP, "198.51.100.77", 53, "reported by router 192.0.2.129 (PCP)");
	denied_because(TCP, "::ffff:198.51.100.77", 22, "public address of the consumer");
	ck_assert_int_eq(policy_note_public(pol, &v6, "relay r2"), 1);
	denied_because(TCP, "2001:db8::7", 443, "reported by relay r2");
	ck_assert_int_eq(policy_note_public(pol, &mapped, "relay r3"), 1);
	denied_because(TCP, "198.51.100.78", 443, "reported by relay r3");
	ck_assert_int_eq(policy_note_public(pol, &priv, "router"), -1);
	denied_because(TCP, "10.0.0.1", 80, "private range");
	add_rule(1, "198.51.100.77 port 443", NULL);
	allowed(TCP, "198.51.100.77", 443);
}
END_TEST

START_TEST(test_public_addresses_are_bounded_least_recent_first)
{
	char addr[32];
	struct ipport a;
	int i;

	for (i = 0; i < POLICY_PUBLIC_MAX; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", 100 + i);
		a = ap(addr, 0);
		ck_assert_int_eq(policy_note_public(pol, &a, "relay"), 1);
	}
	a = ap("198.51.100.100", 0);
	ck_assert_int_eq(policy_note_public(pol, &a, "relay"), 0); /* the most recent now */
	a = ap("198.51.100.200", 0);
	ck_assert_int_eq(policy_note_public(pol, &a, "relay"), 1); /* .101 makes room */
	allowed(TCP, "198.51.100.101", 80);
	denied_because(TCP, "198.51.100.100", 80, "public address");
	denied_because(TCP, "198.51.100.102", 80, "public address");
	denied_because(TCP, "198.51.100.115", 80, "public address");
	denied_because(TCP, "198.51.100.200", 80, "public address");
}
END_TEST

/* --- explaining a decision --- */

START_TEST(test_decide_says_what_decided)
{
	struct policy_verdict v;
	char buf[ADDRSTRLEN];

	add_rule(0, "port 25", "omnetd.conf:2");
	add_rule(1, "10.0.0.0/8 port 22", "omnetd.conf:3");
	add_local("192.0.2.130", 25, "lan0");
	ck_assert_int_eq(decide(TCP, "198.51.100.1", 25, 0, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_RULE);
	ck_assert_str_eq(v.detail, "deny port 25");
	ck_assert_str_eq(v.origin, "omnetd.conf:2");
	ck_assert_int_eq(v.range.family, 0);
	ck_assert_int_eq(decide(TCP, "10.1.1.1", 22, 0, &v), 1);
	ck_assert_str_eq(cidr_fmt(&v.range, buf), "10.0.0.0/8");
	/* any port: the rules that name ports are not tried, and say so */
	ck_assert_int_eq(decide(TCP, "10.1.1.1", 0, 1, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_BUILTIN);
	ck_assert_int_eq(v.port_rules_skipped, 2);
	ck_assert_str_eq(v.reason, "10.1.1.1 is in private range 10.0.0.0/8");
	ck_assert_int_eq(decide(TCP, "198.51.100.1", 0, 1, &v), 1);
	ck_assert_int_eq(v.basis, POLICY_BY_PUBLIC);
	ck_assert_int_eq(v.port_rules_skipped, 1);
	ck_assert_str_eq(v.reason, "198.51.100.1 allowed (public address)");
	ck_assert_int_eq(decide(TCP, "192.0.2.129", 0, 1, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_LOCAL_NETWORK);
	ck_assert_str_eq(v.detail, "lan0");
	ck_assert_int_eq(decide(TCP, "169.254.169.254", 80, 0, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_METADATA);
	ck_assert_str_eq(cidr_fmt(&v.range, buf), "169.254.169.254/32");
	ck_assert_int_eq(decide(TCP, "198.51.100.1", 0, 0, &v), 0);
	ck_assert_int_eq(v.basis, POLICY_BY_INVALID);
}
END_TEST

START_TEST(test_basis_names)
{
	ck_assert_str_eq(policy_basis_name(POLICY_BY_RULE), "rule");
	ck_assert_str_eq(policy_basis_name(POLICY_BY_METADATA), "metadata");
	ck_assert_str_eq(policy_basis_name(POLICY_BY_LOCAL_ADDRESS), "local_address");
	ck_assert_str_eq(policy_basis_name(POLICY_BY_PUBLIC_ADDRESS), "public_address");
	ck_assert_str_eq(policy_basis_name(POLICY_BY_ROUTE), "route");
	ck_assert_str_eq(policy_basis_name(POLICY_BY_NO_ROUTE), "no_route");
	ck_assert_str_eq(policy_basis_name(POLICY_BY_DEFAULT_ROUTE), "default_route");
	ck_assert_str_eq(policy_basis_name((enum policy_basis)99), "?");
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	TCase *rc = tcase_create("resolv");
	TCase *ro = tcase_create("routes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cidr_parse_accepts_ranges_and_bare_addresses);
	tcase_add_test(tc, test_cidr_parse_rejects_garbage_and_host_bits);
	tcase_add_test(tc, test_cidr_contains_respects_boundaries);
	tcase_add_test(tc, test_cidr_contains_treats_mapped_ipv6_as_ipv4);
	tcase_add_test(tc, test_builtin_categories_are_denied_with_reason);
	tcase_add_test(tc, test_builtin_reasons_read_as_documented);
	tcase_add_test(tc, test_ipv6_equivalents_are_denied);
	tcase_add_test(tc, test_mapped_ipv6_is_judged_as_ipv4);
	tcase_add_test(tc, test_nat64_is_judged_by_embedded_ipv4);
	tcase_add_test(tc, test_public_and_documentation_ranges_are_allowed);
	tcase_add_test(tc, test_port_zero_is_always_denied);
	tcase_add_test(tc, test_unknown_family_is_denied);
	tcase_add_test(tc, test_allow_overrides_private_range);
	tcase_add_test(tc, test_allow_overrides_loopback_and_link_local);
	tcase_add_test(tc, test_allow_overrides_attached_network_and_host_address);
	tcase_add_test(tc, test_deny_by_port);
	tcase_add_test(tc, test_deny_by_cidr_and_port_range);
	tcase_add_test(tc, test_deny_by_cidr_alone);
	tcase_add_test(tc, test_deny_wins_over_allow_and_first_deny_wins);
	tcase_add_test(tc, test_protocol_specific_rules);
	tcase_add_test(tc, test_icmp_rules);
	tcase_add_test(tc, test_rule_text_is_normalised_whitespace);
	tcase_add_test(tc, test_rule_syntax_errors_are_explained);
	tcase_add_test(tc, test_error_message_is_truncated_safely);
	tcase_add_test(tc, test_host_addresses_and_attached_networks);
	tcase_add_test(tc, test_host_address_reason_beats_network_reason);
	tcase_add_test(tc, test_clear_local_replaces_the_set);
	tcase_add_test(tc, test_builtin_reason_wins_over_local);
	tcase_add_test(tc, test_bad_local_address_is_ignored);
	tcase_add_test(tc, test_reason_is_optional_and_truncated_safely);
	tcase_add_test(tc, test_metadata_endpoints_are_denied_naming_the_cloud);
	tcase_add_test(tc, test_metadata_reason_reads_as_documented);
	tcase_add_test(tc, test_metadata_opens_only_to_a_rule_naming_it);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(ro, setup, teardown);
	tcase_add_test(ro, test_more_specific_route_is_the_consumers_network);
	tcase_add_test(ro, test_route_through_the_default_gateway_is_still_more_specific);
	tcase_add_test(ro, test_split_default_of_a_vpn_is_a_default_route);
	tcase_add_test(ro, test_one_half_alone_is_a_default_route);
	tcase_add_test(ro, test_vpn_excluding_private_ranges_is_a_default_route);
	tcase_add_test(ro, test_routes_covering_less_than_half_are_networks);
	tcase_add_test(ro, test_ipv6_routes);
	tcase_add_test(ro, test_ipv6_split_default_routes);
	tcase_add_test(ro, test_reject_routes_are_denied_naming_their_type);
	tcase_add_test(ro, test_lowest_metric_wins_between_equal_prefixes);
	tcase_add_test(ro, test_routes_of_other_tables_count);
	tcase_add_test(ro, test_nat64_prefix_route_reaches_the_ipv4_internet);
	tcase_add_test(ro, test_allow_rule_overrides_a_route);
	tcase_add_test(ro, test_unknown_routes_deny_what_rules_do_not_allow);
	tcase_add_test(ro, test_local_networks_and_addresses_beat_routes);
	tcase_add_test(ro, test_multipath_route_reads_well);
	tcase_add_test(ro, test_set_routes_replaces_and_adopt_moves);
	tcase_add_test(ro, test_public_address_is_denied_naming_who_reported_it);
	tcase_add_test(ro, test_public_addresses_are_bounded_least_recent_first);
	tcase_add_test(ro, test_decide_says_what_decided);
	tcase_add_test(ro, test_basis_names);
	suite_add_tcase(s, ro);

	tcase_add_checked_fixture(rc, NULL, resolv_teardown);
	tcase_add_test(rc, test_resolv_reads_nameservers_in_order);
	tcase_add_test(rc, test_resolv_stops_at_max);
	tcase_add_test(rc, test_resolv_without_nameservers_is_zero);
	tcase_add_test(rc, test_resolv_long_lines_are_fine);
	tcase_add_test(rc, test_resolv_unreadable_file_is_an_error);
	suite_add_tcase(s, rc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1);
	sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
