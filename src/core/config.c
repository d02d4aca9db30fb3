/* config.c: the configuration file parser.
 *
 * One pass over the lines fills a working copy of the caller's config.  A
 * section is checked for what it must contain when the next one opens;
 * references between sections (a peer may be named before its [peer]) are
 * resolved once the whole file is read.  The caller's config changes only
 * when the whole file is good, so a SIGHUP with a broken file leaves the
 * running configuration alone. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cmdschema.h"
#include "config.h"
#include "log.h"
#include "util.h"

#ifndef OMNET_STATEDIR
#define OMNET_STATEDIR "/var/lib/omnetd"
#endif
#ifdef OMNET_RUNDIR
#define CONFIG_SOCKET OMNET_RUNDIR "/omnetd.sock"
#else
#define CONFIG_SOCKET "/run/omnetd/omnetd.sock"
#endif

#define FSIZE(type, field) sizeof(((type *)0)->field)
#define FIELD(obj, off, type) ((type *)(void *)((char *)(obj) + (off)))

enum section { SEC_GLOBAL, SEC_PEER, SEC_NETWORK, SEC_FORWARD, SEC_EGRESS };

struct parser;

/* A key a section accepts; set() writes at off into the section's object
 * (struct config, or the peer, network or forward being read). */
struct keydef {
	const char *name;
	int (*set)(struct parser *p, const struct keydef *k, void *obj, const char *v);
	size_t off;
	uint64_t min, max;	/* numbers: the range; strings: max is the length */
	const char *unit;	/* for range messages: "ms", "us", "bytes" or "" */
	int repeat;		/* may appear more than once per section */
};

#define SECTION_KEYS_MAX 64

struct parser {
	struct config cfg;		/* the working copy */
	const char *name;		/* file name for messages */
	char *err;
	size_t errlen;
	int line;			/* the line being read, from 1 */
	enum section sec;
	int seen[SECTION_KEYS_MAX];	/* line each key was set at, 0: not yet */
	int late_line;			/* of the first reference error, 0: none */
};

/* vfail_at() - "NAME:LINE: message" into the caller's buffer */
static void __attribute__((format(printf, 3, 0)))
vfail_at(struct parser *p, int line, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (p->errlen)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
}

/* fail_at() - report an error at line; returns -1 */
static int __attribute__((format(printf, 3, 4)))
fail_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(p, line, fmt, ap);
	va_end(ap);
	return -1;
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

/* late_fail() - a reference error found after reading: keep the one on the
 * earliest line, so the order of the checks does not show */
static void __attribute__((format(printf, 3, 4)))
late_fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	if (p->late_line && p->late_line <= line)
		return;
	p->late_line = line;
	va_start(ap, fmt);
	vfail_at(p, line, fmt, ap);
	va_end(ap);
}

/* skip_space() - past blanks; a stray CR counts as one */
static char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return (char *)s;
}

/* append() - grow arr (n elements of size) by one zeroed element */
static void *append(void *arr, size_t *n, size_t size)
{
	arr = xrealloc(arr, (*n + 1) * size);
	memset((char *)arr + *n * size, 0, size);
	(*n)++;
	return arr;
}

/* config_name_valid() - a peer name: [A-Za-z0-9._-]{1,63}, as the control
 * commands take it (cmdschema.c) */
int config_name_valid(const char *name)
{
	return cmd_check_name(name) == NULL;
}

/* --- values --- */

/* range_str() - "MIN..MAX UNIT" for messages */
static const char *range_str(const struct keydef *k, char *buf, size_t len)
{
	snprintf(buf, len, "%llu..%llu%s%s", (unsigned long long)k->min,
		 (unsigned long long)k->max, *k->unit ? " " : "", k->unit);
	return buf;
}

/* number() - a decimal number within the key's range */
static int number(struct parser *p, const struct keydef *k, const char *v, uint64_t *out)
{
	char range[64];
	size_t digits = strspn(v, "0123456789");

	range_str(k, range, sizeof(range));
	if (digits == 0 || v[digits] != '\0')
		return fail(p, "%s: '%.64s' is not a number (%s)", k->name, v, range);
	if (parse_u64(v, k->min, k->max, out) < 0)
		return fail(p, "%s: %.64s is out of range (%s)", k->name, v, range);
	return 0;
}

/* set_u64() - a uint64_t within the key's range */
static int set_u64(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	return number(p, k, v, FIELD(obj, k->off, uint64_t));
}

/* set_uint() - an unsigned within the key's range */
static int set_uint(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	uint64_t n;

	if (number(p, k, v, &n) < 0)
		return -1;
	*FIELD(obj, k->off, unsigned) = (unsigned)n;
	return 0;
}

/* set_port() - a port, 1..65535 */
static int set_port(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	uint64_t n;

	if (number(p, k, v, &n) < 0)
		return -1;
	*FIELD(obj, k->off, uint16_t) = (uint16_t)n;
	return 0;
}

/* set_in_addr() - a dotted-quad IPv4 address */
static int set_in_addr(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	if (inet_pton(AF_INET, v, FIELD(obj, k->off, struct in_addr)) != 1)
		return fail(p, "%s: '%.64s' is not an IPv4 address", k->name, v);
	return 0;
}

/* set_prefix6() - an IPv6 /64 of unique local (fc00::/7) or global
 * unicast (2000::/3) addresses, written ADDR/64 */
static int set_prefix6(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_prefix6 *out = FIELD(obj, k->off, struct config_prefix6);
	char buf[INET6_ADDRSTRLEN + 4];
	const uint8_t *a = out->prefix.s6_addr;
	static const uint8_t zero[8];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", v);
	slash = strchr(buf, '/');
	if (!slash || strcmp(slash, "/64") != 0)
		return fail(p, "%s: '%.64s' is not a /64 (write ADDRESS/64)", k->name, v);
	*slash = '\0';
	if (inet_pton(AF_INET6, buf, &out->prefix) != 1)
		return fail(p, "%s: '%.64s' is not an IPv6 prefix", k->name, v);
	if (!ipv6_unicast_scope(a))
		return fail(p, "%s: %.64s is neither unique local (fc00::/7) nor global unicast "
			    "(2000::/3)", k->name, v);
	if (memcmp(a + 8, zero, sizeof(zero)) != 0)
		return fail(p, "%s: %.64s has host bits set past /64", k->name, v);
	out->set = 1;
	return 0;
}

/* set_path() - an absolute path of at most k->max bytes */
static int set_path(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	if (v[0] != '/')
		return fail(p, "%s: '%.64s' is not an absolute path", k->name, v);
	if (strlen(v) > k->max)
		return fail(p, "%s: path longer than %llu bytes", k->name,
			    (unsigned long long)k->max);
	strcpy(FIELD(obj, k->off, char), v);
	return 0;
}

/* choice() - the index of v in the NULL-terminated words, or -1 */
static int choice(const char *v, const char *const *words)
{
	int i;

	for (i = 0; words[i]; i++)
		if (strcmp(v, words[i]) == 0)
			return i;
	return -1;
}

/* set_log_level() - warn | info | debug, as enum log_level */
static int set_log_level(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	static const char *const words[] = { "warn", "info", "debug", NULL };
	static const int level[] = { LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
	int i = choice(v, words);

	if (i < 0)
		return fail(p, "%s: '%.64s' is not warn, info or debug", k->name, v);
	*FIELD(obj, k->off, int) = level[i];
	return 0;
}

/* set_bool() - yes | no */
static int set_bool(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	static const char *const words[] = { "no", "yes", NULL };
	int i = choice(v, words);

	if (i < 0)
		return fail(p, "%s: '%.64s' is not yes or no", k->name, v);
	*FIELD(obj, k->off, int) = i;
	return 0;
}

/* set_cc() - bbr | cubic | newreno */
static int set_cc(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	static const char *const words[] = { "cubic", "newreno", "bbr", NULL };
	static const int values[] = { CONFIG_CC_CUBIC, CONFIG_CC_NEWRENO, CONFIG_CC_BBR };
	int i = choice(v, words);

	if (i < 0)
		return fail(p, "%s: '%.64s' is not bbr, cubic or newreno", k->name, v);
	*FIELD(obj, k->off, int) = values[i];
	return 0;
}

/* set_user() - a user name to switch to; numeric ids pass too */
static int set_user(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	if (!config_name_valid(v) || v[0] == '-')
		return fail(p, "%s: '%.64s' is not a user name", k->name, v);
	strcpy(FIELD(obj, k->off, char), v);
	return 0;
}

/* set_listen() - what -l takes: ADDRESS[:PORT], ":0" for any port */
static int set_listen(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config *c = obj;
	struct sockaddr_storage ss;
	socklen_t len;

	if (addr_parse(v, OMNET_DEFAULT_PORT, &ss, &len) < 0)
		return fail(p, "%s: '%.64s' is not a numeric ADDRESS[:PORT]", k->name, v);
	c->listen = ss;
	c->listen_len = len;
	return 0;
}

/* --- [peer NAME] --- */

/* set_fingerprint() - "sha256:" and 64 hex digits, kept in lowercase so
 * comparing fingerprints is strcmp() */
static int set_fingerprint(struct parser *p, const struct keydef *k, void *obj,
			   const char *v)
{
	struct config_peer *peer = obj;
	size_t i;

	if (cmd_check_fingerprint(v))
		return fail(p, "%s: '%.80s' is not sha256: followed by 64 hex digits",
			    k->name, v);
	for (i = 0; v[i]; i++)
		peer->fingerprint[i] = (char)tolower((unsigned char)v[i]);
	peer->fingerprint[i] = '\0';
	return 0;
}

/* set_endpoint() - one more address for the peer, up to CONFIG_ENDPOINTS_MAX */
static int set_endpoint(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_peer *peer = obj;
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	/* the same check as the control socket's (cmdschema.c), so a file and
	 * a command accept the same endpoints */
	if (cmd_check_endpoint(v) || addr_parse(v, OMNET_DEFAULT_PORT, &ss, &len) < 0)
		return fail(p, "%s: '%.64s' is not IPV4[:PORT] or [IPV6][:PORT] "
			    "(numeric, port 1..65535)", k->name, v);
	for (i = 0; i < peer->nendpoint; i++)
		if (addr_eq((struct sockaddr *)&peer->endpoint[i], (struct sockaddr *)&ss))
			return fail(p, "%s: %.64s is listed twice", k->name, v);
	if (peer->nendpoint == CONFIG_ENDPOINTS_MAX)
		return fail(p, "%s: more than %d endpoints for [peer %s]", k->name,
			    CONFIG_ENDPOINTS_MAX, peer->name);
	peer->endpoint[peer->nendpoint++] = ss;
	return 0;
}

/* set_relay() - one more relay by name; whether the [peer] exists is
 * checked once the whole file is read */
static int set_relay(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_peer *peer = obj;
	size_t i;

	if (!config_name_valid(v))
		return fail(p, "%s: '%.64s' is not a peer name", k->name, v);
	if (strcmp(v, peer->name) == 0)
		return fail(p, "%s: [peer %s] cannot be its own relay", k->name, v);
	for (i = 0; i < peer->nrelay; i++)
		if (strcmp(peer->relay[i], v) == 0)
			return fail(p, "%s: %s is listed twice", k->name, v);
	if (peer->nrelay == CONFIG_RELAYS_MAX)
		return fail(p, "%s: more than %d relays for [peer %s]", k->name,
			    CONFIG_RELAYS_MAX, peer->name);
	strcpy(peer->relay[peer->nrelay], v);
	peer->relay_line[peer->nrelay++] = p->line;
	return 0;
}

/* --- [network ID] --- */

/* set_net_peer() - the peer a network goes to, checked after reading */
static int set_net_peer(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_network *net = obj;

	if (!config_name_valid(v))
		return fail(p, "%s: '%.64s' is not a peer name", k->name, v);
	strcpy(net->peer, v);
	net->peer_line = p->line;
	return 0;
}

/* set_netns() - a name under /run/netns or an absolute path */
static int set_netns(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_network *net = obj;

	if (!config_name_valid(v) && v[0] != '/')
		return fail(p, "%s: '%.64s' is neither a namespace name nor an absolute path",
			    k->name, v);
	if (strlen(v) >= sizeof(net->netns))
		return fail(p, "%s: longer than %zu bytes", k->name, sizeof(net->netns) - 1);
	strcpy(net->netns, v);
	return 0;
}

/* set_iface() - an interface name as network.add takes it (cmdschema.c) */
static int set_iface(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_network *net = obj;
	const char *why = cmd_check_iface(v);

	if (why)
		return fail(p, "%s: '%.64s' is not an interface name: %s", k->name, v, why);
	snprintf(net->iface, sizeof(net->iface), "%s", v);
	return 0;
}

/* --- [forward] --- */

/* set_fwd_net() - the network a forward goes to, checked after reading */
static int set_fwd_net(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config_forward *fwd = obj;

	if (netid_parse(v, &fwd->net) < 0)
		return fail(p, "%s: '%.64s' is not a network id (32 hex digits)", k->name, v);
	fwd->has_net = 1;
	fwd->net_line = p->line;
	return 0;
}

/* set_proto() - tcp | udp, as the IP protocol number */
static int set_proto(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	static const char *const words[] = { "tcp", "udp", NULL };
	struct config_forward *fwd = obj;
	int i = choice(v, words);

	if (i < 0)
		return fail(p, "%s: '%.64s' is not tcp or udp", k->name, v);
	fwd->proto = i == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	return 0;
}

/* set_map() - how the router is asked to open the port */
static int set_map(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	static const char *const words[] = { "none", "upnp", "natpmp", "pcp", "auto", NULL };
	struct config_forward *fwd = obj;
	int i = choice(v, words);

	/* words[] is in the order of enum config_map */
	if (i < 0)
		return fail(p, "%s: '%.64s' is not none, upnp, natpmp, pcp or auto", k->name, v);
	fwd->map = i;
	return 0;
}

/* --- [egress] --- */

/* why_fail() - the reason a rule is bad, for the caller to place; -1 */
static int __attribute__((format(printf, 3, 4)))
why_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!whylen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* host_bits_clear() - whether addr has no bits set past prefix_len */
static int host_bits_clear(const uint8_t *addr, size_t alen, unsigned prefix_len)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		unsigned bit = (unsigned)i * 8;
		unsigned net_bits = prefix_len > bit ? MIN(prefix_len - bit, 8) : 0;
		uint8_t mask = (uint8_t)(0xff00 >> net_bits);

		if (addr[i] & ~mask)
			return 0;
	}
	return 1;
}

/* egress_cidr() - "ADDR/LEN" or a bare address (a host) */
static int egress_cidr(const char *s, struct config_egress_match *m, char *why,
		       size_t whylen)
{
	char addr[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned maxlen;
	uint64_t len;

	if (strlen(s) >= sizeof(addr))
		return why_fail(why, whylen, "'%.64s' is not an address", s);
	strcpy(addr, s);
	slash = strchr(addr, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, addr, m->addr) == 1) {
		m->family = AF_INET;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, addr, m->addr) == 1) {
		m->family = AF_INET6;
		maxlen = 128;
	} else {
		return why_fail(why, whylen, "'%s' is not an IPv4 or IPv6 address", addr);
	}
	if (!slash)
		len = maxlen;
	else if (parse_u64(slash + 1, 0, maxlen, &len) < 0)
		return why_fail(why, whylen, "prefix length '%s' is not 0..%u", slash + 1, maxlen);
	m->prefix_len = (unsigned)len;
	if (!host_bits_clear(m->addr, maxlen / 8, m->prefix_len))
		return why_fail(why, whylen, "%s has bits set past the /%u prefix", addr,
				m->prefix_len);
	return 0;
}

/* egress_ports() - "N" or "N-M", ports 1..65535 */
static int egress_ports(const char *s, struct config_egress_match *m, char *why,
			size_t whylen)
{
	char buf[16];
	char *dash;
	uint64_t lo, hi;

	if (strlen(s) >= sizeof(buf))
		return why_fail(why, whylen, "'%.32s' is not a port or port range", s);
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u64(buf, 1, 65535, &lo) < 0 ||
	    (dash && parse_u64(dash + 1, 1, 65535, &hi) < 0))
		return why_fail(why, whylen, "'%s' is not a port 1..65535 or range N-M", s);
	if (!dash)
		hi = lo;
	if (lo > hi)
		return why_fail(why, whylen, "port range %s runs backwards", s);
	m->port_min = (uint16_t)lo;
	m->port_max = (uint16_t)hi;
	return 0;
}

/* config_egress_parse() - "CIDR", "CIDR port N[-M]" or "port N[-M]" into m;
 * -1 with the reason in why */
int config_egress_parse(const char *spec, struct config_egress_match *m, char *why,
			size_t whylen)
{
	char buf[FSIZE(struct config_egress_rule, spec)];
	char *word[3], *save, *t;
	size_t n = 0;

	memset(m, 0, sizeof(*m));
	m->family = AF_UNSPEC;
	if (strlen(spec) >= sizeof(buf))
		return why_fail(why, whylen, "longer than %zu bytes", sizeof(buf) - 1);
	strcpy(buf, spec);
	for (t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == ARRAY_SIZE(word))
			goto syntax;
		word[n++] = t;
	}
	if (n == 2 && strcmp(word[0], "port") == 0)
		return egress_ports(word[1], m, why, whylen);
	if (n == 1 && strcmp(word[0], "port") != 0)
		return egress_cidr(word[0], m, why, whylen);
	if (n == 3 && strcmp(word[1], "port") == 0) {
		if (egress_cidr(word[0], m, why, whylen) < 0)
			return -1;
		return egress_ports(word[2], m, why, whylen);
	}
syntax:
	return why_fail(why, whylen, "expected CIDR, CIDR port N[-M] or port N[-M]");
}

/* set_egress() - one more allow or deny rule, in file order */
static int set_egress(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config *c = obj;
	struct config_egress_match m;
	struct config_egress_rule *r;
	char why[160];

	if (config_egress_parse(v, &m, why, sizeof(why)) < 0)
		return fail(p, "%s: '%.64s': %s", k->name, v, why);
	c->egress = append(c->egress, &c->negress, sizeof(*c->egress));
	r = &c->egress[c->negress - 1];
	r->allow = strcmp(k->name, "allow") == 0;
	strcpy(r->spec, v);
	r->match = m;
	r->line = p->line;
	return 0;
}

/* set_candidate_allow() - one more range candidates may come from */
static int set_candidate_allow(struct parser *p, const struct keydef *k, void *obj, const char *v)
{
	struct config *c = obj;
	struct config_egress_match m;
	char why[160];

	if (config_egress_parse(v, &m, why, sizeof(why)) < 0)
		return fail(p, "%s: '%.64s': %s", k->name, v, why);
	if (m.family == AF_UNSPEC || m.port_min)
		return fail(p, "%s: '%.64s': expected an address range (CIDR), no port", k->name, v);
	if (c->ncandidate_allow == CONFIG_CANDIDATE_ALLOW_MAX)
		return fail(p, "%s: at most %d ranges", k->name, CONFIG_CANDIDATE_ALLOW_MAX);
	c->candidate_allow[c->ncandidate_allow++] = m;
	return 0;
}

/* --- key tables --- */

#define GLOBAL(name, set, field, min, max, unit) \
	{ name, set, offsetof(struct config, field), min, max, unit, 0 }
#define GLOBAL_PATH(name, field, max) \
	{ name, set_path, offsetof(struct config, field), 0, max, "", 0 }
#define NETWORK(name, set, field, min, max, unit) \
	{ name, set, offsetof(struct config_network, field), min, max, unit, 0 }
#define FORWARD(name, set, field) \
	{ name, set, offsetof(struct config_forward, field), 1, 65535, "", 0 }

static const struct keydef global_keys[] = {
	GLOBAL("listen", set_listen, listen, 0, 0, ""),
	GLOBAL_PATH("state-dir", state_dir, FSIZE(struct config, state_dir) - 1),
	/* a UNIX socket address holds 107 bytes of path */
	GLOBAL_PATH("control-socket", control_socket, FSIZE(struct sockaddr_un, sun_path) - 1),
	GLOBAL("user", set_user, user, 0, 0, ""),
	GLOBAL("log-level", set_log_level, log_level, 0, 0, ""),
	GLOBAL_PATH("resolv-conf", resolv_conf, FSIZE(struct config, resolv_conf) - 1),
	GLOBAL("probe-interval-min-ms", set_u64, probe_interval_min_ms, 10, 3600000, "ms"),
	GLOBAL("probe-interval-max-ms", set_u64, probe_interval_max_ms, 10, 3600000, "ms"),
	GLOBAL("probe-timeout-ms", set_u64, probe_timeout_ms, 10, 600000, "ms"),
	GLOBAL("backoff-min-ms", set_u64, backoff_min_ms, 10, 3600000, "ms"),
	GLOBAL("backoff-max-ms", set_u64, backoff_max_ms, 10, 3600000, "ms"),
	GLOBAL("connect-timeout-ms", set_u64, connect_timeout_ms, 100, 3600000, "ms"),
	GLOBAL("udp-idle-timeout-ms", set_u64, udp_idle_timeout_ms, 1000, 86400000, "ms"),
	GLOBAL("datagram-max-age-ms", set_u64, datagram_max_age_ms, 1, 60000, "ms"),
	GLOBAL("handshake-timeout-ms", set_u64, handshake_timeout_ms, 100, 600000, "ms"),
	/* 576: the smallest datagram every IPv4 host must accept (RFC 791) */
	GLOBAL("mtu", set_uint, mtu, 576, 65535, "bytes"),
	GLOBAL("pmtu-probe", set_bool, pmtu_probe, 0, 0, ""),
	GLOBAL("congestion-control", set_cc, cc, 0, 0, ""),
	/* not below the windows both ends assume before any WINDOW frame */
	GLOBAL("flow-window-max-bytes", set_u64, flow_window_max_bytes,
	       262144, 1073741824, "bytes"),
	GLOBAL("link-window-max-bytes", set_u64, link_window_max_bytes,
	       16777216, 17179869184ull, "bytes"),
	GLOBAL("send-buffer-bytes", set_u64, send_buffer_bytes, 65536, 1073741824, "bytes"),
	GLOBAL("link-buffer-bytes", set_u64, link_buffer_bytes, 1048576, 1099511627776ull, "bytes"),
	GLOBAL("memory-limit-bytes", set_u64, memory_limit_bytes,
	       1048576, 1099511627776ull, "bytes"),
	GLOBAL("relay-bytes-per-second", set_u64, relay_bytes_per_second, 0, 1ull << 40,
	       "bytes"),
	GLOBAL("max-flows", set_uint, max_flows, 1, 1048576, "flows"),
	/* microseconds, unlike every other duration: a wake-up costs tens of
	 * them, and polling for more than a millisecond only burns the CPU */
	GLOBAL("busy-poll-us", set_u64, busy_poll_us, 0, 1000, "us"),
	GLOBAL("network-max-flows", set_uint, network_max_flows, 1, 1048576, "flows"),
	{ "candidate-allow", set_candidate_allow, 0, 0, 0, "", 1 },
	/* PCP and NAT-PMP carry lifetimes in 32-bit seconds; a day is plenty */
	GLOBAL("port-map-lease-ms", set_u64, port_map_lease_ms, 4000, 86400000, "ms"),
	GLOBAL("gateway", set_in_addr, gateway, 0, 0, ""),
	GLOBAL("dns", set_in_addr, dns, 0, 0, ""),
	GLOBAL("dhcp-start", set_in_addr, dhcp_start, 0, 0, ""),
	GLOBAL("prefix-length", set_uint, prefix_len, 8, 30, "bits"),
	GLOBAL("ipv6", set_bool, ipv6, 0, 0, ""),
	GLOBAL("ipv6-prefix", set_prefix6, prefix6, 0, 0, ""),
	/* DHCP sends the lease in 32-bit seconds (RFC 2132 9.2); a year is plenty */
	GLOBAL("dhcp-lease-ms", set_u64, dhcp_lease_ms, 10000, 31536000000ull, "ms"),
};

static const struct keydef peer_keys[] = {
	{ "fingerprint", set_fingerprint, 0, 0, 0, "", 0 },
	{ "endpoint", set_endpoint, 0, 0, 0, "", 1 },
	{ "relay", set_relay, 0, 0, 0, "", 1 },
};

static const struct keydef network_keys[] = {
	NETWORK("peer", set_net_peer, peer, 0, 0, ""),
	NETWORK("netns", set_netns, netns, 0, 0, ""),
	NETWORK("iface", set_iface, iface, 0, 0, ""),
	NETWORK("gateway", set_in_addr, gateway, 0, 0, ""),
	NETWORK("dns", set_in_addr, dns, 0, 0, ""),
	NETWORK("dhcp-start", set_in_addr, dhcp_start, 0, 0, ""),
	NETWORK("prefix-length", set_uint, prefix_len, 8, 30, "bits"),
	NETWORK("ipv6", set_bool, ipv6, 0, 0, ""),
	NETWORK("ipv6-prefix", set_prefix6, prefix6, 0, 0, ""),
};

static const struct keydef forward_keys[] = {
	FORWARD("network", set_fwd_net, net),
	FORWARD("proto", set_proto, proto),
	FORWARD("external-port", set_port, external_port),
	FORWARD("vm-port", set_port, vm_port),
	FORWARD("map", set_map, map),
};

static const struct keydef egress_keys[] = {
	{ "allow", set_egress, 0, 0, 0, "", 1 },
	{ "deny", set_egress, 0, 0, 0, "", 1 },
};

/* --- sections --- */

/* open_peer() - a new [peer NAME]; names are unique */
static int open_peer(struct parser *p, const char *arg)
{
	struct config *c = &p->cfg;
	const struct config_peer *old;

	if (!arg)
		return fail(p, "[peer] needs a name: [peer NAME]");
	if (!config_name_valid(arg))
		return fail(p, "[peer %.64s]: bad name (1..63 of A-Z a-z 0-9 . _ -)", arg);
	if ((old = config_find_peer(c, arg)))
		return fail(p, "duplicate [peer %s] (first at line %d)", arg, old->line);
	c->peer = append(c->peer, &c->npeer, sizeof(*c->peer));
	strcpy(c->peer[c->npeer - 1].name, arg);
	c->peer[c->npeer - 1].line = p->line;
	return 0;
}

/* open_network() - a new network, starting from the global addresses */
static int open_network(struct parser *p, const char *arg)
{
	struct config *c = &p->cfg;
	const struct config_network *old;
	struct config_network *net;
	struct netid id;

	if (!arg)
		return fail(p, "[network] needs an id: [network <32 hex digits>]");
	if (netid_parse(arg, &id) < 0)
		return fail(p, "[network %.64s]: bad network id (32 hex digits)", arg);
	if ((old = config_find_network(c, &id)))
		return fail(p, "duplicate [network %s] (first at line %d)", arg, old->line);
	c->network = append(c->network, &c->nnetwork, sizeof(*c->network));
	net = &c->network[c->nnetwork - 1];
	net->id = id;
	net->gateway = c->gateway;
	net->dns = c->dns;
	net->dhcp_start = c->dhcp_start;
	net->prefix_len = c->prefix_len;
	net->ipv6 = c->ipv6;
	net->prefix6 = c->prefix6;
	net->line = p->line;
	return 0;
}

/* open_forward() - a new [forward]; each header is one rule */
static int open_forward(struct parser *p, const char *arg)
{
	struct config *c = &p->cfg;

	if (arg)
		return fail(p, "[forward] takes no argument");
	c->forward = append(c->forward, &c->nforward, sizeof(*c->forward));
	c->forward[c->nforward - 1].map = CONFIG_MAP_NONE;
	c->forward[c->nforward - 1].line = p->line;
	return 0;
}

/* open_egress() - [egress] again just adds rules */
static int open_egress(struct parser *p, const char *arg)
{
	if (arg)
		return fail(p, "[egress] takes no argument");
	return 0;
}

/* key_index() - where name is in keys, or -1 */
static int key_index(const struct keydef *keys, size_t nkeys, const char *name)
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* check_order() - global lo <= hi, reported at the later of their lines */
static int check_order(struct parser *p, const char *lo, const char *hi)
{
	int ilo = key_index(global_keys, ARRAY_SIZE(global_keys), lo);
	int ihi = key_index(global_keys, ARRAY_SIZE(global_keys), hi);
	uint64_t vlo = *FIELD(&p->cfg, global_keys[ilo].off, uint64_t);
	uint64_t vhi = *FIELD(&p->cfg, global_keys[ihi].off, uint64_t);

	if (vlo <= vhi)
		return 0;
	return fail_at(p, MAX(p->seen[ilo], p->seen[ihi]),
		       "%s (%llu ms) is greater than %s (%llu ms)", lo,
		       (unsigned long long)vlo, hi, (unsigned long long)vhi);
}

/* close_global() - pairs of global settings that must agree */
static int close_global(struct parser *p)
{
	if (check_order(p, "probe-interval-min-ms", "probe-interval-max-ms") < 0)
		return -1;
	return check_order(p, "backoff-min-ms", "backoff-max-ms");
}

/* close_peer() - a peer without a fingerprint could never be pinned */
static int close_peer(struct parser *p)
{
	const struct config_peer *peer = &p->cfg.peer[p->cfg.npeer - 1];

	if (!peer->fingerprint[0])
		return fail_at(p, peer->line, "[peer %s] has no fingerprint", peer->name);
	return 0;
}

/* close_network() - a network needs its peer; a provider needs both
 * netns and iface */
static int close_network(struct parser *p)
{
	const struct config_network *net = &p->cfg.network[p->cfg.nnetwork - 1];
	char id[NETID_HEXLEN + 1];

	netid_fmt(&net->id, id);
	if (!net->peer[0])
		return fail_at(p, net->line, "[network %s] has no peer", id);
	if (!net->netns[0] != !net->iface[0])
		return fail_at(p, net->line, "[network %s] sets %s without %s", id,
			       net->netns[0] ? "netns" : "iface",
			       net->netns[0] ? "iface" : "netns");
	return 0;
}

/* close_forward() - a forward needs proto and both ports */
static int close_forward(struct parser *p)
{
	const struct config_forward *fwd = &p->cfg.forward[p->cfg.nforward - 1];
	const char *missing = !fwd->proto ? "proto (tcp or udp)" :
			      !fwd->external_port ? "external-port" :
			      !fwd->vm_port ? "vm-port" : NULL;

	if (missing)
		return fail_at(p, fwd->line, "[forward] has no %s", missing);
	return 0;
}

struct sectdef {
	const char *type;		/* as in the header; NULL for global */
	const struct keydef *keys;
	size_t nkeys;
	int (*open)(struct parser *p, const char *arg);
	int (*close)(struct parser *p);
};

/* indexed by enum section */
static const struct sectdef sections[] = {
	{ NULL, global_keys, ARRAY_SIZE(global_keys), NULL, close_global },
	{ "peer", peer_keys, ARRAY_SIZE(peer_keys), open_peer, close_peer },
	{ "network", network_keys, ARRAY_SIZE(network_keys), open_network, close_network },
	{ "forward", forward_keys, ARRAY_SIZE(forward_keys), open_forward, close_forward },
	{ "egress", egress_keys, ARRAY_SIZE(egress_keys), open_egress, NULL },
};

_Static_assert(ARRAY_SIZE(global_keys) <= SECTION_KEYS_MAX, "parser.seen too small");

/* section_obj() - what the current section's keys write into */
static void *section_obj(struct parser *p)
{
	struct config *c = &p->cfg;

	switch (p->sec) {
	case SEC_PEER:
		return &c->peer[c->npeer - 1];
	case SEC_NETWORK:
		return &c->network[c->nnetwork - 1];
	case SEC_FORWARD:
		return &c->forward[c->nforward - 1];
	default:
		return c;
	}
}

/* section_desc() - the current section as messages name it */
static const char *section_desc(struct parser *p, char *buf, size_t len)
{
	const struct config *c = &p->cfg;
	char id[NETID_HEXLEN + 1];

	switch (p->sec) {
	case SEC_GLOBAL:
		return "the global section";
	case SEC_PEER:
		snprintf(buf, len, "[peer %s]", c->peer[c->npeer - 1].name);
		return buf;
	case SEC_NETWORK:
		netid_fmt(&c->network[c->nnetwork - 1].id, id);
		snprintf(buf, len, "[network %s]", id);
		return buf;
	default:
		snprintf(buf, len, "[%s]", sections[p->sec].type);
		return buf;
	}
}

/* section_close() - check the section that ends here, if it has checks */
static int section_close(struct parser *p)
{
	return sections[p->sec].close ? sections[p->sec].close(p) : 0;
}

/* --- lines --- */

/* header_words() - "[TYPE]" or "[TYPE ARG]" split in place; s is past '[' */
static int header_words(struct parser *p, char *s, char **type, char **arg)
{
	char *end = strchr(s, ']');
	char *rest;

	if (!end)
		return fail(p, "unterminated section header (missing ']')");
	*end = '\0';
	rest = skip_space(end + 1);
	if (*rest && *rest != '#')
		return fail(p, "unexpected text after section header");
	*type = skip_space(s);
	s = *type + strcspn(*type, " \t");
	*arg = skip_space(s);
	*s = '\0';
	s = *arg + strcspn(*arg, " \t");
	if (*skip_space(s))
		return fail(p, "too many words in section header");
	*s = '\0';
	if (!**type)
		return fail(p, "empty section header");
	if (!**arg)
		*arg = NULL;
	return 0;
}

/* parse_header() - close the current section and open the one named */
static int parse_header(struct parser *p, char *s)
{
	char *type = NULL, *arg = NULL;
	size_t i;

	if (section_close(p) < 0 || header_words(p, s + 1, &type, &arg) < 0)
		return -1;
	for (i = SEC_PEER; i < ARRAY_SIZE(sections); i++)
		if (strcmp(type, sections[i].type) == 0)
			break;
	if (i == ARRAY_SIZE(sections))
		return fail(p, "unknown section type '%.64s' (peer, network, forward or egress)",
			    type);
	p->sec = (enum section)i;
	memset(p->seen, 0, sizeof(p->seen));
	return sections[i].open(p, arg);
}

/* read_quoted() - a "..." value, s past the opening quote; \" and \\ escape */
static int read_quoted(struct parser *p, const char *s, char *out)
{
	size_t n = 0;

	for (; *s != '"'; s++) {
		int escaped = *s == '\\';

		s += escaped;
		if (*s == '\0')
			return fail(p, "unterminated quote");
		if (escaped && *s != '"' && *s != '\\')
			return fail(p, "unknown escape '\\%c' in quoted value", *s);
		out[n++] = *s;
	}
	out[n] = '\0';
	s = skip_space(s + 1);
	if (*s && *s != '#')
		return fail(p, "unexpected text after closing quote");
	return 0;
}

/* read_value() - the text after '=', unquoted, without comment and
 * surrounding space; out holds a whole line */
static int read_value(struct parser *p, const char *s, char *out)
{
	size_t n;

	s = skip_space(s);
	if (*s == '"')
		return read_quoted(p, s + 1, out);
	n = strcspn(s, "#");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (memchr(s, '"', n))
		return fail(p, "'\"' inside an unquoted value (quote the whole value)");
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* unknown_key() - name the section, and say where a misplaced global goes */
static int unknown_key(struct parser *p, const char *key)
{
	char desc[128];
	int global = key_index(global_keys, ARRAY_SIZE(global_keys), key) >= 0;

	return fail(p, "unknown key '%.64s' in %s%s", key, section_desc(p, desc, sizeof(desc)),
		    global ? " (global keys go before the first section)" : "");
}

/* parse_setting() - "key = value" in the current section */
static int parse_setting(struct parser *p, char *s)
{
	const struct sectdef *sec = &sections[p->sec];
	char value[CONFIG_LINE_MAX + 1], desc[128];
	size_t n = strcspn(s, " \t=");
	char *eq = skip_space(s + n);
	int i;

	if (n == 0)
		return fail(p, "missing key before '='");
	if (*eq != '=')
		return fail(p, "missing '=' after '%.*s' (expected key = value)",
			    (int)MIN(n, 64), s);
	s[n] = '\0';
	if ((i = key_index(sec->keys, sec->nkeys, s)) < 0)
		return unknown_key(p, s);
	if (!sec->keys[i].repeat && p->seen[i])
		return fail(p, "duplicate key '%s' in %s (first at line %d)", s,
			    section_desc(p, desc, sizeof(desc)), p->seen[i]);
	if (read_value(p, eq + 1, value) < 0)
		return -1;
	if (!value[0])
		return fail(p, "%s: missing value", s);
	p->seen[i] = p->line;
	return sec->keys[i].set(p, &sec->keys[i], section_obj(p), value);
}

/* parse_line() - one line, without its terminator and NUL-terminated */
static int parse_line(struct parser *p, char *s)
{
	s = skip_space(s);
	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[')
		return parse_header(p, s);
	return parse_setting(p, s);
}

/* take_line() - copy n bytes of one line into out, refusing what no text
 * file holds; a CR before the LF is dropped */
static int take_line(struct parser *p, const char *s, size_t n, char *out)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (n > CONFIG_LINE_MAX)
		return fail(p, "line longer than %d bytes", CONFIG_LINE_MAX);
	if (memchr(s, '\0', n))
		return fail(p, "NUL byte in line");
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* --- references, once the whole file is read --- */

/* check_network_peers() - every network names a [peer] of the file */
static void check_network_peers(struct parser *p)
{
	const struct config *c = &p->cfg;
	size_t i;

	for (i = 0; i < c->nnetwork; i++)
		if (!config_find_peer(c, c->network[i].peer))
			late_fail(p, c->network[i].peer_line,
				  "peer: '%s' is not defined (no [peer %s])",
				  c->network[i].peer, c->network[i].peer);
}

/* check_relays() - every relay names a [peer] of the file */
static void check_relays(struct parser *p)
{
	const struct config *c = &p->cfg;
	size_t i, j;

	for (i = 0; i < c->npeer; i++)
		for (j = 0; j < c->peer[i].nrelay; j++)
			if (!config_find_peer(c, c->peer[i].relay[j]))
				late_fail(p, c->peer[i].relay_line[j],
					  "relay: '%s' is not defined (no [peer %s])",
					  c->peer[i].relay[j], c->peer[i].relay[j]);
}

/* resolve_forwards() - give every forward the network it goes to */
static void resolve_forwards(struct parser *p)
{
	struct config *c = &p->cfg;
	char id[NETID_HEXLEN + 1];
	size_t i;

	for (i = 0; i < c->nforward; i++) {
		struct config_forward *fwd = &c->forward[i];

		if (fwd->has_net && !config_find_network(c, &fwd->net)) {
			netid_fmt(&fwd->net, id);
			late_fail(p, fwd->net_line,
				  "network: '%s' is not defined (no [network %s])", id, id);
		} else if (!fwd->has_net && c->nnetwork == 1) {
			fwd->net = c->network[0].id;
		} else if (!fwd->has_net) {
			late_fail(p, fwd->line, "[forward] needs network = ID: %zu networks are "
				  "defined, not exactly one", c->nnetwork);
		}
	}
}

/* check_forward_ports() - the consumer listens once per protocol and
 * external port, whatever network the connections go to */
static void check_forward_ports(struct parser *p)
{
	const struct config *c = &p->cfg;
	size_t i, j;

	for (i = 0; i < c->nforward; i++) {
		const struct config_forward *b = &c->forward[i];

		for (j = 0; j < i; j++) {
			const struct config_forward *a = &c->forward[j];

			if (a->proto != b->proto || a->external_port != b->external_port)
				continue;
			late_fail(p, b->line, "duplicate forward: %s external-port %u is "
				  "already forwarded at line %d",
				  b->proto == IPPROTO_TCP ? "tcp" : "udp", b->external_port,
				  a->line);
			break;
		}
	}
}

/* check_references() - all checks between sections; 0 or -1 with the
 * earliest error */
static int check_references(struct parser *p)
{
	check_network_peers(p);
	check_relays(p);
	resolve_forwards(p);
	check_forward_ports(p);
	return p->late_line ? -1 : 0;
}

/* parse_buf() - every line of buf, then what spans sections */
static int parse_buf(struct parser *p, const char *buf, size_t len)
{
	char line[CONFIG_LINE_MAX + 1];
	size_t off = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		off = 3; /* a UTF-8 byte order mark some editors write */
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		p->line++;
		if (take_line(p, buf + off, n, line) < 0 || parse_line(p, line) < 0)
			return -1;
		off += n + 1;
	}
	if (section_close(p) < 0)
		return -1;
	return check_references(p);
}

/* --- the API --- */

/* config_defaults() - the embedded configuration omnetd runs on without a file */
void config_defaults(struct config *c)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->listen;

	memset(c, 0, sizeof(*c));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	sin->sin_port = htons(OMNET_DEFAULT_PORT);
	c->listen_len = sizeof(*sin);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", OMNET_STATEDIR);
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", CONFIG_SOCKET);
	snprintf(c->resolv_conf, sizeof(c->resolv_conf), "/etc/resolv.conf");
	snprintf(c->user, sizeof(c->user), "omnet");
	c->log_level = LOG_LVL_INFO;
	c->probe_interval_min_ms = 500;
	c->probe_interval_max_ms = 15000;
	c->probe_timeout_ms = 2500;
	c->backoff_min_ms = 500;
	c->backoff_max_ms = 15000;
	c->connect_timeout_ms = 30000;
	c->udp_idle_timeout_ms = 60000;
	c->datagram_max_age_ms = 2000;
	c->handshake_timeout_ms = 10000;
	c->dhcp_lease_ms = 86400000;
	c->mtu = 1500;
	c->pmtu_probe = 0;
	c->relay_bytes_per_second = 12500000; /* 100 Mbit/s */
	c->port_map_lease_ms = 3600000;
	c->cc = CONFIG_CC_BBR;
	c->flow_window_max_bytes = 16777216;
	c->link_window_max_bytes = 67108864;
	c->send_buffer_bytes = 16777216;
	c->link_buffer_bytes = 67108864;
	c->memory_limit_bytes = 268435456;
	c->max_flows = 65536;
	c->busy_poll_us = 50;
	c->network_max_flows = 16384;
	/* slirp's addresses, which VM images and users already know */
	inet_pton(AF_INET, "10.0.2.2", &c->gateway);
	inet_pton(AF_INET, "10.0.2.3", &c->dns);
	inet_pton(AF_INET, "10.0.2.15", &c->dhcp_start);
	c->prefix_len = 24;
	c->ipv6 = 1;
}

/* dup_array() - a copy of n elements of size, NULL for none */
static void *dup_array(const void *a, size_t n, size_t size)
{
	void *p;

	if (!n)
		return NULL;
	p = xmalloc(n * size);
	memcpy(p, a, n * size);
	return p;
}

/* config_copy() - dst becomes a deep copy of src */
static void config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	dst->peer = dup_array(src->peer, src->npeer, sizeof(*src->peer));
	dst->network = dup_array(src->network, src->nnetwork, sizeof(*src->network));
	dst->forward = dup_array(src->forward, src->nforward, sizeof(*src->forward));
	dst->egress = dup_array(src->egress, src->negress, sizeof(*src->egress));
}

/* config_load_buf() - add the len bytes of buf (which may hold NULs, to be
 * refused) to c; name is the file name in messages.  c is untouched on -1. */
int config_load_buf(struct config *c, const char *name, const char *buf, size_t len,
		    char *err, size_t errlen)
{
	struct parser *p = xcalloc(1, sizeof(*p));
	int rc;

	config_copy(&p->cfg, c);
	p->name = name;
	p->err = err;
	p->errlen = err ? errlen : 0;
	p->sec = SEC_GLOBAL;
	snprintf(p->cfg.path, sizeof(p->cfg.path), "%s", name);
	rc = parse_buf(p, buf, len);
	if (rc == 0) {
		config_free(c);
		*c = p->cfg;
	} else {
		config_free(&p->cfg);
	}
	free(p);
	return rc;
}

/* config_load_string() - config_load_buf() on a C string */
int config_load_string(struct config *c, const char *name, const char *text, char *err,
		       size_t errlen)
{
	return config_load_buf(c, name, text, strlen(text), err, errlen);
}

/* read_file() - the whole of path into *buf, which the caller frees */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	int e;

	*buf = NULL;
	*len = 0;
	if (!f)
		goto fail;
	while (!feof(f) && !ferror(f) && *len <= CONFIG_FILE_MAX) {
		if (*len == cap) {
			cap = cap ? 2 * cap : 65536;
			*buf = xrealloc(*buf, cap);
		}
		*len += fread(*buf + *len, 1, cap - *len, f);
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	if (*len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: cannot read: larger than %u bytes", path,
			 CONFIG_FILE_MAX);
		free(*buf);
		return -1;
	}
	return 0;
fail:
	e = errno;
	if (f)
		fclose(f);
	free(*buf);
	snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
	return -1;
}

/* config_load_file() - add the file at path to c; c is untouched on -1 */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	char dummy[1];
	char *buf;
	size_t len;
	int rc;

	if (!err || !errlen)
		err = dummy, errlen = sizeof(dummy);
	if (read_file(path, &buf, &len, err, errlen) < 0)
		return -1;
	rc = config_load_buf(c, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* config_free() - release the arrays; the global settings stay usable */
void config_free(struct config *c)
{
	free(c->peer);
	free(c->network);
	free(c->forward);
	free(c->egress);
	c->peer = NULL;
	c->network = NULL;
	c->forward = NULL;
	c->egress = NULL;
	c->npeer = c->nnetwork = c->nforward = c->negress = 0;
}

/* config_find_peer() - the [peer] called name, or NULL */
const struct config_peer *config_find_peer(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->npeer; i++)
		if (strcmp(c->peer[i].name, name) == 0)
			return &c->peer[i];
	return NULL;
}

/* config_find_network() - the [network] with that id, or NULL */
const struct config_network *config_find_network(const struct config *c,
						 const struct netid *id)
{
	size_t i;

	for (i = 0; i < c->nnetwork; i++)
		if (netid_eq(&c->network[i].id, id))
			return &c->network[i];
	return NULL;
}
