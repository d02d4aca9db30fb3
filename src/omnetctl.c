/* omnetctl.c: the command-line client of omnetd's control socket.
 *
 * One request, one reply: the command line becomes one JSON object on one
 * line, omnetd answers with one line, and we print it for people (or as
 * received, with --json).  Each command is its entry in cmd_schemas[]
 * (src/core/cmdschema.c), the table omnetd checks requests against: its
 * words, its fields with the option or position that fills each, the check
 * each must pass and its default.  Here a command adds only how its result
 * is printed (printers[]), and each listing is a column table, a column
 * described once.  Everything that can be checked here is checked here,
 * with the daemon's own checks, so a typo is reported without bothering
 * the daemon.  Exit status: 0 the daemon said ok, 1 it did not (or could
 * not be asked), 2 the command line is wrong.  The protocol is
 * docs/CONTROL.md.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cmdschema.h"
#include "config.h"
#include "osutil.h"
#include "userdirs.h"
#include "util.h"

#ifdef OMNET_RUNDIR
#define CTL_DEFAULT_SOCKET OMNET_RUNDIR "/omnetd.sock"
#else
#define CTL_DEFAULT_SOCKET "/run/omnetd/omnetd.sock"
#endif
#ifndef OMNET_VERSION
#define OMNET_VERSION "0.0.0"
#endif

#define CTL_TIMEOUT_MS 30000
#define CTL_REQUEST_MAX 65536	/* bytes in a request line, newline included */
#define CTL_REPLY_MAX (16 << 20) /* replies are not capped: flows lists grow */
#define CTL_TEXT 512		/* one printed value */


#define EXIT_DAEMON 1
#define EXIT_USAGE 2

/* What the global options asked for. */
struct ctl_opts {
	const char *socket;
	int json;
	int version;
	uint64_t timeout_ms;
};

/* How a command's result is printed for people; a command without a
 * printer prints its confirmation (struct cmd_schema's done). */
struct ctl_printer {
	const char *name; /* the command, as in cmd_schemas[] */
	void (*print)(json_t *req, json_t *result);
};

static char usage_msg[512];

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* usage_err() - remember what is wrong with the command line; returns -1 */
static int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(usage_msg, sizeof(usage_msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* --- printing values from replies, whatever their type --- */

/* put_safe() - print s with control characters replaced, so a hostile or
 * confused name cannot drive the terminal */
static void put_safe(const char *s, FILE *f)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

static int jnum(json_t *v, double *out)
{
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static const char *jtext(json_t *v, char *buf, size_t len);

/* jtext_array() - the elements of an array, comma separated */
static const char *jtext_array(json_t *a, char *buf, size_t len)
{
	char one[CTL_TEXT];
	size_t i, used = 0;
	json_t *v;

	if (json_array_size(a) == 0)
		return "-";
	buf[0] = '\0';
	json_array_foreach(a, i, v) {
		const char *t = json_is_array(v) ? "?" : jtext(v, one, sizeof(one));
		int n = snprintf(buf + used, len - used, "%s%s", i ? "," : "", t);

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* jtext() - any JSON value as table text: "-" when missing or null, "?"
 * when it is something a table cannot show */
static const char *jtext(json_t *v, char *buf, size_t len)
{
	if (!v)
		return "-";
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) == 0)
			return "-";
		snprintf(buf, len, "%s", json_string_value(v));
		return buf;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "yes";
	case JSON_FALSE:
		return "no";
	case JSON_ARRAY:
		return jtext_array(v, buf, len);
	case JSON_OBJECT:
		return "?";
	case JSON_NULL:
	default:
		return "-";
	}
}

/* fmt_duration() - milliseconds as people read them: "0.35 ms", "1.2 ms",
 * "250 ms", "3.4 s", "12m05s", "2h05m", "3d04h" */
static const char *fmt_duration(json_t *v, char *buf, size_t len)
{
	double ms;
	uint64_t s;

	if (jnum(v, &ms) < 0)
		return jtext(v, buf, len);
	if (ms < 0)
		return "-";
	s = (uint64_t)(ms / 1000);
	if (ms == 0)
		snprintf(buf, len, "0 ms");
	else if (ms < 1)
		snprintf(buf, len, "%.2f ms", ms);
	else if (ms < 100 && ms != (double)(uint64_t)ms)
		snprintf(buf, len, "%.1f ms", ms);
	else if (ms < 1000)
		snprintf(buf, len, "%.0f ms", ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1f s", ms / 1000);
	else if (s < 3600)
		snprintf(buf, len, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
	else
		snprintf(buf, len, "%llud%02uh", (unsigned long long)(s / 86400),
			 (unsigned)(s / 3600 % 24));
	return buf;
}

/* fmt_scaled() - n in steps of base with the given unit names */
static const char *fmt_scaled(double n, double base, const char *const *units,
			      size_t nunits, char *buf, size_t len)
{
	size_t u = 0;

	if (n < base) {
		snprintf(buf, len, "%.0f %s", n, units[0]);
		return buf;
	}
	while (n >= base && u + 1 < nunits) {
		n /= base;
		u++;
	}
	snprintf(buf, len, "%.1f %s", n, units[u]);
	return buf;
}

/* fmt_bytes() - a byte count: "512 B", "1.5 MiB" */
static const char *fmt_bytes(json_t *v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double n;

	if (jnum(v, &n) < 0 || n < 0)
		return jtext(v, buf, len);
	return fmt_scaled(n, 1024, units, ARRAY_SIZE(units), buf, len);
}

/* fmt_rate() - bits per second: "12.5 Mbit/s" */
static const char *fmt_rate(json_t *v, char *buf, size_t len)
{
	static const char *const units[] = { "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s" };
	double n;

	if (jnum(v, &n) < 0 || n < 0)
		return jtext(v, buf, len);
	return fmt_scaled(n, 1000, units, ARRAY_SIZE(units), buf, len);
}

/* --- tables: aligned columns, two spaces apart --- */

struct table {
	size_t ncols;
	size_t ncells;
	char **cells; /* row by row, the header row first */
};

static void table_add(struct table *t, const char *text);

/* table_new() - an empty table of ncols columns: a listing adds its
 * header row first (columns_table()), key-value lines have none */
static struct table *table_new(size_t ncols)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	return t;
}

/* table_add() - the next cell, left to right, then down */
static void table_add(struct table *t, const char *text)
{
	char *s = xstrdup(text), *p;

	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->cells = xrealloc(t->cells, (t->ncells + 1) * sizeof(*t->cells));
	t->cells[t->ncells++] = s;
}

/* width() - columns s takes on a terminal, counting UTF-8 sequences once */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* row_last() - the last non-empty cell of the row starting at cell i, so
 * that lines carry no trailing blanks */
static size_t row_last(const struct table *t, size_t i)
{
	size_t last = i, j;

	for (j = i; j < t->ncells && j < i + t->ncols; j++)
		if (*t->cells[j])
			last = j;
	return last;
}

/* table_print() - every row, each line indented by indent spaces */
static void table_print(const struct table *t, int indent)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w)), i, j, last;

	for (i = 0; i < t->ncells; i++)
		w[i % t->ncols] = MAX(w[i % t->ncols], width(t->cells[i]));
	for (i = 0; i < t->ncells; i += t->ncols) {
		printf("%*s", indent, "");
		last = row_last(t, i);
		for (j = i; j < last; j++)
			printf("%s%*s", t->cells[j],
			       (int)(w[j - i] - width(t->cells[j]) + 2), "");
		printf("%s\n", t->cells[last]);
	}
	free(w);
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* table_done() - print and free */
static void table_done(struct table *t, int indent)
{
	table_print(t, indent);
	table_free(t);
}

/* One column of a listing: its header, the row's field it shows and how.
 * key "a.b" is field b of the row's object a; NULL is the whole row. */
struct column {
	const char *header;
	const char *key;
	const char *(*fmt)(json_t *v, char *buf, size_t len); /* NULL: jtext() */
};

/* row_field() - what key names in row (struct column), or NULL */
static json_t *row_field(json_t *row, const char *key)
{
	const char *dot;
	char outer[64];

	if (!key)
		return row;
	if (!(dot = strchr(key, '.')) || (size_t)(dot - key) >= sizeof(outer))
		return json_object_get(row, key);
	memcpy(outer, key, (size_t)(dot - key));
	outer[dot - key] = '\0';
	return json_object_get(json_object_get(row, outer), dot + 1);
}

/* columns_table() - a table of ncols columns, one line per element of
 * rows; rows whose field need is not an object are left out (need NULL:
 * none is).  NULL when no row is left. */
static struct table *columns_table(const struct column *cols, size_t ncols, json_t *rows,
				   const char *need)
{
	struct table *t = NULL;
	char buf[CTL_TEXT];
	size_t i, c;
	json_t *row;

	json_array_foreach(rows, i, row) {
		if (need && !json_is_object(json_object_get(row, need)))
			continue;
		if (!t) {
			t = table_new(ncols);
			for (c = 0; c < ncols; c++)
				table_add(t, cols[c].header);
		}
		for (c = 0; c < ncols; c++) {
			json_t *v = row_field(row, cols[c].key);

			table_add(t, cols[c].fmt ? cols[c].fmt(v, buf, sizeof(buf))
						 : jtext(v, buf, sizeof(buf)));
		}
	}
	return t;
}

/* print_listing() - the table of rows, or "no WHAT" when there is none */
static void print_listing(const struct column *cols, size_t ncols, json_t *rows,
			  const char *what)
{
	struct table *t = columns_table(cols, ncols, rows, NULL);

	if (!t) {
		printf("no %s\n", what);
		return;
	}
	table_done(t, 0);
}

/* kv() - a key-value line of a header-less two-column table */
static void kv(struct table *t, const char *key, const char *text)
{
	table_add(t, key);
	table_add(t, text);
}

/* result_list() - the array a listing returns; also found inside an
 * object under key, should a daemon wrap it */
static json_t *result_list(json_t *result, const char *key)
{
	if (json_is_object(result))
		return json_object_get(result, key);
	return result;
}

/* --- printing each command's result --- */

/* print_done() - the confirmation line: tmpl with each {field} replaced
 * by that field of the request */
static void print_done(const char *tmpl, json_t *req)
{
	char key[32], buf[CTL_TEXT];
	const char *p, *end;

	for (p = tmpl; *p; p++) {
		end = *p == '{' ? strchr(p, '}') : NULL;
		if (!end || (size_t)(end - p - 1) >= sizeof(key)) {
			putchar(*p);
			continue;
		}
		memcpy(key, p + 1, (size_t)(end - p - 1));
		key[end - p - 1] = '\0';
		put_safe(jtext(json_object_get(req, key), buf, sizeof(buf)), stdout);
		p = end;
	}
	putchar('\n');
}

static void print_identity(json_t *req, json_t *result)
{
	char buf[CTL_TEXT];

	put_safe(jtext(json_object_get(result, "fingerprint"), buf, sizeof(buf)), stdout);
	putchar('\n');
}

/* fmt_flow_counts() - {"tcp":N,"udp":M,"icmp":K} as "N tcp, M udp, K icmp"
 * (icmp only when the daemon reports it); a plain number as itself */
static const char *fmt_flow_counts(json_t *v, char *buf, size_t len)
{
	char tcp[64], udp[64], icmp[64];
	json_t *i;

	if (!json_is_object(v))
		return jtext(v, buf, len);
	i = json_object_get(v, "icmp");
	snprintf(buf, len, "%s tcp, %s udp%s%s%s",
		 jtext(json_object_get(v, "tcp"), tcp, sizeof(tcp)),
		 jtext(json_object_get(v, "udp"), udp, sizeof(udp)), i ? ", " : "",
		 i ? jtext(i, icmp, sizeof(icmp)) : "", i ? " icmp" : "");
	return buf;
}

/* print_status_head() - who the daemon is */
static void print_status_head(json_t *r)
{
	struct table *t = table_new(2);
	char buf[CTL_TEXT];

	kv(t, "role", jtext(json_object_get(r, "role"), buf, sizeof(buf)));
	kv(t, "version", jtext(json_object_get(r, "version"), buf, sizeof(buf)));
	kv(t, "fingerprint", jtext(json_object_get(r, "fingerprint"), buf, sizeof(buf)));
	kv(t, "listen", jtext(json_object_get(r, "listen"), buf, sizeof(buf)));
	kv(t, "uptime", fmt_duration(json_object_get(r, "uptime_ms"), buf, sizeof(buf)));
	table_done(t, 0);
}

/* print_peer_errors() - why each peer that has failed last did; too long
 * for a column */
static void print_peer_errors(json_t *peers)
{
	char name[CTL_TEXT];
	const char *err;
	size_t i;
	json_t *p;

	json_array_foreach(peers, i, p) {
		if (!(err = json_string_value(json_object_get(p, "last_error"))) || !*err)
			continue;
		put_safe(jtext(json_object_get(p, "name"), name, sizeof(name)), stdout);
		fputs(": last error: ", stdout);
		put_safe(err, stdout);
		putchar('\n');
	}
}

/* fmt_peer_path() - where a peer's datagrams go: a relayed path by the
 * relay's name (its channel means nothing here), else the endpoint */
static const char *fmt_peer_path(json_t *p, char *buf, size_t len)
{
	const char *relay = json_string_value(json_object_get(p, "relay"));

	if (!relay)
		return jtext(json_object_get(p, "endpoint"), buf, len);
	snprintf(buf, len, "via %s", relay);
	return buf;
}

static const struct column status_peer_cols[] = {
	{ "NAME", "name", NULL },
	{ "STATE", "state", NULL },
	{ "METHOD", "method", NULL },
	{ "PATH", NULL, fmt_peer_path },
	{ "RTT", "rtt_ms", fmt_duration },
	{ "IN-STATE", "state_ms", fmt_duration },
	{ "NEXT-RETRY", "next_retry_ms", fmt_duration },
};

static void print_status_peers(json_t *peers)
{
	print_listing(status_peer_cols, ARRAY_SIZE(status_peer_cols), peers, "peers");
	print_peer_errors(peers);
}

/* the link counters of the peers that report them */
static const struct column status_link_cols[] = {
	{ "PEER", "name", NULL },
	{ "PKTS-SENT", "link.packets_sent", NULL },
	{ "PKTS-RECV", "link.packets_received", NULL },
	{ "LOST", "link.packets_lost", NULL },
	{ "RETRANS", "link.packets_retransmitted", NULL },
	{ "SENT", "link.bytes_sent", fmt_bytes },
	{ "RECEIVED", "link.bytes_received", fmt_bytes },
	{ "CWND", "link.cwnd_bytes", fmt_bytes },
	{ "PACING", "link.pacing_rate_bps", fmt_rate },
	{ "IN-FLIGHT", "link.in_flight_bytes", fmt_bytes },
	{ "BUFFERED", "link.buffered_bytes", fmt_bytes },
};

static void print_status_links(json_t *peers)
{
	struct table *t = columns_table(status_link_cols, ARRAY_SIZE(status_link_cols), peers,
					"link");

	if (t) {
		putchar('\n');
		table_done(t, 0);
	}
}

static const struct column status_network_cols[] = {
	{ "ID", "id", NULL },
	{ "PEER", "peer", NULL },
	{ "STATE", "state", NULL },
	{ "FLOWS", "flows", fmt_flow_counts },
};

/* fmt_memory() - "1.5 MiB of 64.0 MiB (peak 2.0 MiB)", parts left out
 * when the daemon does not say */
static const char *fmt_memory(json_t *mem, char *buf, size_t len)
{
	json_t *limit = json_object_get(mem, "limit_bytes");
	json_t *peak = json_object_get(mem, "buffers_peak_bytes");
	int has_limit = json_is_number(limit), has_peak = json_is_number(peak);
	char u[64], l[64], p[64];

	snprintf(buf, len, "%s%s%s%s%s%s",
		 fmt_bytes(json_object_get(mem, "buffers_bytes"), u, sizeof(u)),
		 has_limit ? " of " : "", has_limit ? fmt_bytes(limit, l, sizeof(l)) : "",
		 has_peak ? " (peak " : "", has_peak ? fmt_bytes(peak, p, sizeof(p)) : "",
		 has_peak ? ")" : "");
	return buf;
}

/* print_status_tail() - flow counts, counters and memory */
static void print_status_tail(json_t *r)
{
	struct table *t = table_new(2);
	json_t *counters = json_object_get(r, "counters");
	json_t *mem = json_object_get(r, "memory"), *v;
	char buf[CTL_TEXT], used[64];
	const char *key;

	kv(t, "flows", fmt_flow_counts(json_object_get(r, "flows"), buf, sizeof(buf)));
	if (json_is_object(counters)) {
		kv(t, "counters", "");
		json_object_foreach(counters, key, v) {
			snprintf(buf, sizeof(buf), "  %s", key);
			kv(t, buf, jtext(v, used, sizeof(used)));
		}
	}
	kv(t, "memory", fmt_memory(mem, buf, sizeof(buf)));
	table_done(t, 0);
}

static void print_status(json_t *req, json_t *r)
{
	json_t *peers = json_object_get(r, "peers");

	print_status_head(r);
	putchar('\n');
	print_status_peers(peers);
	print_status_links(peers);
	if (json_object_get(r, "networks")) {
		putchar('\n');
		print_listing(status_network_cols, ARRAY_SIZE(status_network_cols),
			      json_object_get(r, "networks"), "networks");
	}
	putchar('\n');
	print_status_tail(r);
}

static const struct column peer_cols[] = {
	{ "NAME", "name", NULL },
	{ "FINGERPRINT", "fingerprint", NULL },
	{ "ENDPOINTS", "endpoints", NULL },
	{ "RELAYS", "relays", NULL },
	{ "STATE", "state", NULL },
	{ "SOURCE", "source", NULL },
};

static void print_peer_list(json_t *req, json_t *result)
{
	print_listing(peer_cols, ARRAY_SIZE(peer_cols), result_list(result, "peers"), "peers");
}

/* fmt_lease() - a DHCP lease: its address, whatever else it carries */
static const char *fmt_lease(json_t *v, char *buf, size_t len)
{
	json_t *addr;

	if (!json_is_object(v))
		return jtext(v, buf, len);
	addr = json_object_get(v, "address");
	return jtext(addr ? addr : json_object_get(v, "ip"), buf, len);
}

/* fmt_ipv6() - a network's IPv6 prefix, "-" when it has none */
static const char *fmt_ipv6(json_t *v, char *buf, size_t len)
{
	if (!json_is_object(v))
		return "-";
	return jtext(json_object_get(v, "prefix"), buf, len);
}

static const struct column network_cols[] = {
	{ "ID", "id", NULL },
	{ "PEER", "peer", NULL },
	{ "NETNS", "netns", NULL },
	{ "IFACE", "iface", NULL },
	{ "STATE", "state", NULL },
	{ "FLOWS", "flows", fmt_flow_counts },
	{ "LEASE", "lease", fmt_lease },
	{ "IPV6", "ipv6", fmt_ipv6 },
	{ "SOURCE", "source", NULL },
};

static void print_network_list(json_t *req, json_t *result)
{
	print_listing(network_cols, ARRAY_SIZE(network_cols), result_list(result, "networks"),
		      "networks");
}

/* fmt_public() - the router's external address and port of a mapping,
 * IPv6 in brackets */
static const char *fmt_public(json_t *m, char *buf, size_t len)
{
	const char *addr = json_string_value(json_object_get(m, "external_address"));
	json_t *port = json_object_get(m, "external_port");
	char p[64];

	if (!addr || !*addr)
		return "-";
	if (!json_is_integer(port))
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, strchr(addr, ':') ? "[%s]:%s" : "%s:%s", addr,
			 jtext(port, p, sizeof(p)));
	return buf;
}

/* fmt_mapping() - "mapped (pcp)", "pending", or "-" without a mapping */
static const char *fmt_mapping(json_t *m, char *buf, size_t len)
{
	const char *state = json_string_value(json_object_get(m, "state"));
	const char *proto = json_string_value(json_object_get(m, "protocol"));

	if (!state)
		return "-";
	if (proto)
		snprintf(buf, len, "%s (%s)", state, proto);
	else
		snprintf(buf, len, "%s", state);
	return buf;
}

/* print_forward_errors() - the last router error of each rule that has one;
 * too long for a column */
static void print_forward_errors(json_t *list)
{
	char proto[64], port[64];
	const char *err;
	size_t i;
	json_t *f;

	json_array_foreach(list, i, f) {
		err = json_string_value(json_object_get(json_object_get(f, "mapping"), "last_error"));
		if (!err || !*err)
			continue;
		printf("%s %s: mapping error: ", jtext(json_object_get(f, "proto"), proto, sizeof(proto)),
		       jtext(json_object_get(f, "external_port"), port, sizeof(port)));
		put_safe(err, stdout);
		putchar('\n');
	}
}

static const struct column forward_cols[] = {
	{ "NETWORK", "network", NULL },
	{ "PROTO", "proto", NULL },
	{ "PORT", "external_port", NULL },
	{ "VM-PORT", "vm_port", NULL },
	{ "MAP", "map", NULL },
	{ "LISTENING", "listening", NULL },
	{ "MAPPING", "mapping", fmt_mapping },
	{ "PUBLIC", "mapping", fmt_public },
	{ "LEASE", "mapping.lease_remaining_ms", fmt_duration },
	{ "ACTIVE", "active", NULL },
};

static void print_forward_list(json_t *req, json_t *result)
{
	json_t *list = result_list(result, "forwards");

	print_listing(forward_cols, ARRAY_SIZE(forward_cols), list, "forwards");
	print_forward_errors(list);
}

/* print_forward_added() - the confirmation, and what the router said */
static void print_forward_added(json_t *req, json_t *result)
{
	json_t *m = json_object_get(result, "mapping");
	char buf[CTL_TEXT], p[64], l[64];

	print_done("forward {proto} {external_port} -> VM port {vm_port} added (map {map})", req);
	if (!json_is_object(m))
		return;
	printf("router: %s maps %s, lease %s ms\n",
	       jtext(json_object_get(m, "protocol"), p, sizeof(p)), fmt_public(m, buf, sizeof(buf)),
	       jtext(json_object_get(m, "lease_remaining_ms"), l, sizeof(l)));
}

static const struct column flow_cols[] = {
	{ "PROTO", "proto", NULL },
	{ "VM", "vm", NULL },
	{ "REMOTE", "remote", NULL },
	{ "STATE", "state", NULL },
	{ "UP", "bytes_up", fmt_bytes },
	{ "DOWN", "bytes_down", fmt_bytes },
	{ "AGE", "age_ms", fmt_duration },
};

static void print_flows(json_t *req, json_t *result)
{
	print_listing(flow_cols, ARRAY_SIZE(flow_cols), result_list(result, "flows"), "flows");
}

/* policy_labels - "decided by" for people, by the daemon's decided_by */
static const struct {
	const char *by, *label;
} policy_labels[] = {
	{ "rule", "rule" },
	{ "metadata", "cloud metadata endpoint" },
	{ "builtin", "built-in range" },
	{ "local_address", "an address of the consumer host" },
	{ "public_address", "a public address of the consumer" },
	{ "local_network", "a network of the consumer host" },
	{ "route", "route" },
	{ "no_route", "no route" },
	{ "routes_unknown", "routes unknown" },
	{ "default_route", "default route" },
	{ "public", "no range or address of the consumer (routes not read)" },
	{ "invalid", "not a destination" },
};

/* fmt_decider() - "route 203.0.113.0/24 via 192.0.2.1 dev eth0", "rule
 * 'deny port 25' (omnetd.conf:3)", "built-in range 10.0.0.0/8" */
static const char *fmt_decider(json_t *r, char *buf, size_t len)
{
	const char *by = json_string_value(json_object_get(r, "decided_by"));
	const char *label = by ? by : "-", *what = NULL, *paren = NULL;
	json_t *rule = json_object_get(r, "rule"), *route = json_object_get(r, "route");
	size_t i;

	for (i = 0; by && i < ARRAY_SIZE(policy_labels); i++)
		if (!strcmp(by, policy_labels[i].by))
			label = policy_labels[i].label;
	if (json_is_object(rule)) {
		what = json_string_value(json_object_get(rule, "text"));
		paren = json_string_value(json_object_get(rule, "origin"));
	} else if (json_is_object(route)) {
		what = json_string_value(json_object_get(route, "text"));
	} else {
		what = json_string_value(json_object_get(r, "range"));
	}
	if (!paren)
		paren = json_string_value(json_object_get(r, "interface"));
	if (!paren)
		paren = json_string_value(json_object_get(r, "reported_by"));
	if (!paren)
		paren = json_string_value(json_object_get(r, "cloud"));
	snprintf(buf, len, "%s%s%s%s%s%s%s", label, what ? " " : "",
		 json_is_object(rule) && what ? "'" : "", what ? what : "",
		 json_is_object(rule) && what ? "'" : "", paren ? " (" : "", paren ? paren : "");
	if (paren && strlen(buf) + 1 < len)
		strcat(buf, ")");
	return buf;
}

/* print_policy_check() - the verdict, what decided, and why */
static void print_policy_check(json_t *req, json_t *r)
{
	struct table *t = table_new(2);
	json_t *skipped = json_object_get(r, "port_rules_skipped");
	char buf[CTL_TEXT], dst[CTL_TEXT], proto[16];

	snprintf(buf, sizeof(buf), "%s %s: %s",
		 jtext(json_object_get(r, "destination"), dst, sizeof(dst)),
		 jtext(json_object_get(r, "proto"), proto, sizeof(proto)),
		 json_is_true(json_object_get(r, "allowed")) ? "allowed" : "denied");
	put_safe(buf, stdout);
	putchar('\n');
	kv(t, "decided by", fmt_decider(r, buf, sizeof(buf)));
	kv(t, "reason", jtext(json_object_get(r, "reason"), buf, sizeof(buf)));
	if (json_is_integer(skipped) && json_integer_value(skipped) > 0) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT " rule(s) naming ports not "
			 "tried: give a port", json_integer_value(skipped));
		kv(t, "note", buf);
	}
	table_done(t, 0);
}

/* --- the commands: cmd_schemas[], and how each result is printed --- */

static const struct ctl_printer printers[] = {
	{ "status", print_status },
	{ "identity", print_identity },
	{ "peer.list", print_peer_list },
	{ "network.list", print_network_list },
	{ "forward.add", print_forward_added },
	{ "forward.list", print_forward_list },
	{ "flows", print_flows },
	{ "policy.check", print_policy_check },
};

/* find_printer() - how the result of command name is printed, or NULL */
static const struct ctl_printer *find_printer(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(printers); i++)
		if (strcmp(printers[i].name, name) == 0)
			return &printers[i];
	return NULL;
}

/* cmd_words() - the command's words: its name up to the dot, and what
 * follows it (NULL for a one-word command) */
static void cmd_words(const struct cmd_schema *c, char first[32], const char **second)
{
	const char *dot = strchr(c->name, '.');
	size_t n = dot ? (size_t)(dot - c->name) : strlen(c->name);

	snprintf(first, 32, "%.*s", (int)n, c->name);
	*second = dot ? dot + 1 : NULL;
}

/* cmd_label() - the command as typed: "peer add" */
static const char *cmd_label(const struct cmd_schema *c, char *buf, size_t len)
{
	char first[32];
	const char *second;

	cmd_words(c, first, &second);
	snprintf(buf, len, "%s%s%s", first, second ? " " : "", second ? second : "");
	return buf;
}

static void usage(FILE *f)
{
	char name[64];
	size_t i;

	fprintf(f, "usage: omnetctl [-s CONTROL_SOCKET] [--json] [--timeout-ms MS] COMMAND ...\n"
		   "\n"
		   "  -s, --socket PATH  control socket (default: $OMNETCTL_SOCKET, else\n"
		   "                     for an ordinary user whose own omnetd runs,\n"
		   "                     $XDG_RUNTIME_DIR/omnetd/omnetd.sock, else\n"
		   "                     " CTL_DEFAULT_SOCKET ")\n"
		   "  --json             print the daemon's JSON reply as one line\n"
		   "  --timeout-ms MS    how long to wait for the reply (default %d)\n"
		   "  -h, --help         print this help\n"
		   "  --version          print the version\n"
		   "\n"
		   "commands:\n", CTL_TIMEOUT_MS);
	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];

		fprintf(f, "  %s%s%s\n      %s\n", cmd_label(c, name, sizeof(name)),
			*c->args ? " " : "", c->args, c->about);
	}
	fprintf(f, "\nExit status: 0 done, 1 the daemon refused or could not be reached,\n"
		   "2 usage error.\n");
}

/* --- the command line --- */

/* opt_value() - the value of option arg at argv[*i], as --opt=VALUE or
 * as the next argument; NULL after usage_err() */
static const char *opt_value(const char *opt, int argc, char **argv, int *i)
{
	const char *eq = strchr(argv[*i], '=');

	if (strncmp(argv[*i], "--", 2) == 0 && eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		usage_err("%s needs a value", opt);
		return NULL;
	}
	return argv[++*i];
}

/* opt_is() - whether arg is option name, alone or as name=VALUE */
static int opt_is(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* global_opt() - take argv[*i] if it is a global option: 1 taken, 0 not
 * one, -1 after usage_err() */
static int global_opt(int argc, char **argv, int *i, struct ctl_opts *o)
{
	const char *arg = argv[*i], *v;

	if (strcmp(arg, "--json") == 0)
		o->json = 1;
	else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		; /* wants_help() has seen it */
	else if (strcmp(arg, "--version") == 0)
		o->version = 1;
	else if (strncmp(arg, "-s", 2) == 0 && arg[2] != '\0')
		o->socket = arg + 2;
	else if (strcmp(arg, "-s") == 0 || opt_is(arg, "--socket")) {
		if (!(v = opt_value("-s", argc, argv, i)))
			return -1;
		if (*v == '\0')
			return usage_err("-s: empty socket path");
		o->socket = v;
	} else if (opt_is(arg, "--timeout-ms")) {
		if (!(v = opt_value("--timeout-ms", argc, argv, i)))
			return -1;
		if (parse_u64(v, 1, 86400000, &o->timeout_ms) < 0)
			return usage_err("--timeout-ms '%s': expected milliseconds 1..86400000", v);
	} else
		return 0;
	return 1;
}

/* parse_globals() - the options before the command; returns the index of
 * the command's first word, or -1 after usage_err() */
static int parse_globals(int argc, char **argv, struct ctl_opts *o)
{
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			return i;
		if ((r = global_opt(argc, argv, &i, o)) < 0)
			return -1;
		if (r == 0)
			return usage_err("unknown option '%s'", argv[i]);
	}
	return i;
}

/* subcommands() - the second words that follow group, comma separated */
static const char *subcommands(const char *group, char *buf, size_t len)
{
	size_t i, used = 0;
	const char *second;
	char first[32];

	buf[0] = '\0';
	for (i = 0; i < cmd_schemas_count; i++) {
		int n;

		cmd_words(&cmd_schemas[i], first, &second);
		if (!second || strcmp(first, group) != 0)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", second);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* find_cmd() - the command named by the first words of argv; *nwords says
 * how many it took.  NULL after usage_err(). */
static const struct cmd_schema *find_cmd(int argc, char **argv, int *nwords)
{
	const char *second;
	char subs[256], first[32];
	size_t i;

	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];

		cmd_words(c, first, &second);
		if (strcmp(first, argv[0]) != 0)
			continue;
		if (!second) {
			*nwords = 1;
			return c;
		}
		if (argc > 1 && strcmp(second, argv[1]) == 0) {
			*nwords = 2;
			return c;
		}
	}
	if (*subcommands(argv[0], subs, sizeof(subs)) == '\0')
		usage_err("unknown command '%s'", argv[0]);
	else if (argc < 2)
		usage_err("%s: missing subcommand (%s)", argv[0], subs);
	else
		usage_err("%s: unknown subcommand '%s' (%s)", argv[0], argv[1], subs);
	return NULL;
}

/* The arguments of one command as they are parsed. */
struct parse {
	const struct cmd_schema *cmd;
	char name[64];			/* "peer add", for messages */
	json_t *vals[CMD_FIELDS_MAX];	/* by field */
	int npos;			/* positional arguments seen */
	int argv_k;			/* the CMD_ARGV field whose option was given, or -1 */
};

/* on_line() - whether field f is given on the command line (some are
 * for scripts only) */
static int on_line(const struct cmd_field *f)
{
	return f->meta != NULL;
}

/* fold() - value in lower case, in buf; value itself if it does not fit */
static const char *fold(const char *value, char *buf, size_t len)
{
	size_t i;

	if (strlen(value) >= len)
		return value;
	for (i = 0; value[i]; i++)
		buf[i] = (char)tolower((unsigned char)value[i]);
	buf[i] = '\0';
	return buf;
}

/* param_value() - value folded if the field says so, checked with the
 * daemon's check, and made a JSON value of the field's type; NULL after
 * usage_err() */
static json_t *param_value(struct parse *ps, const struct cmd_field *f, const char *value)
{
	const char *label = f->flag ? f->flag : f->meta, *v = value, *why;
	char low[CTL_TEXT];
	json_t *j = NULL;
	uint64_t n;

	if (f->flags & CMDF_FOLD)
		v = fold(value, low, sizeof(low));
	if (f->check && (why = f->check(v))) {
		usage_err("%s: %s '%s': %s", ps->name, label, value, why);
		return NULL;
	}
	if (f->type == CMD_INT && parse_u64(v, 0, INT64_MAX, &n) == 0)
		j = json_integer((json_int_t)n);
	else if (f->type != CMD_INT)
		j = json_string(v); /* NULL unless UTF-8 */
	if (!j)
		usage_err("%s: %s '%s': not a valid value", ps->name, label, value);
	return j;
}

/* set_param() - record argument value of field index k */
static int set_param(struct parse *ps, int k, const char *value)
{
	const struct cmd_field *f = &ps->cmd->fields[k];
	json_t *v;

	if (ps->vals[k] && f->type != CMD_LIST)
		return usage_err("%s: %s given more than once", ps->name, f->flag);
	if (!(v = param_value(ps, f, value)))
		return -1;
	if (f->type != CMD_LIST) {
		ps->vals[k] = v;
		return 0;
	}
	if (!ps->vals[k])
		ps->vals[k] = json_array();
	json_array_append_new(ps->vals[k], v);
	if (f->max_items && json_array_size(ps->vals[k]) > f->max_items)
		return usage_err("%s: at most %zu %s options", ps->name, f->max_items, f->flag);
	return 0;
}

/* flag_param() - an option without a value: a CMD_BOOL field is true; a
 * CMD_ARGV field takes the words after `--` */
static int flag_param(struct parse *ps, int k, const char *arg)
{
	const struct cmd_field *f = &ps->cmd->fields[k];

	if (strcmp(arg, f->flag) != 0)
		return usage_err("%s: %s takes no value", ps->name, f->flag);
	if (ps->vals[k] || ps->argv_k == k)
		return usage_err("%s: %s given more than once", ps->name, f->flag);
	if (f->type == CMD_BOOL)
		ps->vals[k] = json_true();
	else
		ps->argv_k = k;
	return 0;
}

/* take_argv() - the words after `--` into the CMD_ARGV field whose option
 * was given; at least one */
static int take_argv(struct parse *ps, int argc, char **argv)
{
	const struct cmd_field *f = &ps->cmd->fields[ps->argv_k];
	int i;

	if (argc == 0)
		return usage_err("%s: %s needs -- %s [ARG]...", ps->name, f->flag, f->meta);
	if ((size_t)argc > CMD_ARGV_MAX)
		return usage_err("%s: %s: at most %d words", ps->name, f->flag, CMD_ARGV_MAX);
	ps->vals[ps->argv_k] = json_array();
	for (i = 0; i < argc; i++) {
		json_t *w = json_string(argv[i]);

		if (!w)
			return usage_err("%s: %s: '%s' is not UTF-8", ps->name, f->flag, argv[i]);
		json_array_append_new(ps->vals[ps->argv_k], w);
	}
	return 0;
}

/* parse_option() - the option at argv[*i]: one of the command's or a global */
static int parse_option(struct parse *ps, int argc, char **argv, int *i, struct ctl_opts *o)
{
	int k, n = (int)cmd_schema_nfields(ps->cmd), r;
	const char *v;

	for (k = 0; k < n; k++) {
		const struct cmd_field *f = &ps->cmd->fields[k];

		if (!on_line(f) || !f->flag || !opt_is(argv[*i], f->flag))
			continue;
		if (f->type == CMD_BOOL || f->type == CMD_ARGV)
			return flag_param(ps, k, argv[*i]);
		if (!(v = opt_value(f->flag, argc, argv, i)))
			return usage_err("%s: %s needs a value (%s)", ps->name, f->flag, f->meta);
		return set_param(ps, k, v);
	}
	if ((r = global_opt(argc, argv, i, o)) != 0)
		return r;
	return usage_err("%s: unknown option '%s'", ps->name, argv[*i]);
}

/* parse_positional() - the next positional argument */
static int parse_positional(struct parse *ps, const char *arg)
{
	int k, n = (int)cmd_schema_nfields(ps->cmd), seen = 0;

	for (k = 0; k < n; k++) {
		const struct cmd_field *f = &ps->cmd->fields[k];

		if (!on_line(f) || f->flag)
			continue;
		if (seen++ == ps->npos) {
			ps->npos++;
			return set_param(ps, k, arg);
		}
	}
	return usage_err("%s: unexpected argument '%s'", ps->name, arg);
}

/* field_flag() - how the command line names field key of c */
static const char *field_flag(const struct cmd_schema *c, const char *key)
{
	size_t k, n = cmd_schema_nfields(c);

	for (k = 0; k < n; k++)
		if (strcmp(c->fields[k].key, key) == 0)
			return c->fields[k].flag ? c->fields[k].flag : c->fields[k].meta;
	return key;
}

/* finish_request() - every field into req in table order, defaults for
 * absent ones, errors for missing required ones and for a pair given
 * apart */
static int finish_request(struct parse *ps, json_t *req)
{
	int k, n = (int)cmd_schema_nfields(ps->cmd);
	const struct cmd_schema *c = ps->cmd;

	for (k = 0; k < n; k++) {
		const struct cmd_field *f = &c->fields[k];

		if (!on_line(f))
			continue;
		if (!ps->vals[k] && (f->flags & CMDF_REQUIRED))
			return usage_err("%s: missing %s%s%s", ps->name, f->flag ? f->flag : "",
					 f->flag ? " " : "", f->meta);
		if (!ps->vals[k] && f->dflt)
			ps->vals[k] = json_string(f->dflt);
		if (!ps->vals[k] && f->type == CMD_LIST)
			ps->vals[k] = json_array();
		if (ps->vals[k])
			json_object_set_new(req, f->key, ps->vals[k]);
		ps->vals[k] = NULL;
	}
	if (c->pair[0] && !json_object_get(req, c->pair[0]) != !json_object_get(req, c->pair[1]))
		return usage_err("%s: %s and %s go together", ps->name, field_flag(c, c->pair[0]),
				 field_flag(c, c->pair[1]));
	return 0;
}

/* build_request() - the request for cmd from its arguments, each checked;
 * NULL after usage_err() */
static json_t *build_request(const struct cmd_schema *cmd, int argc, char **argv,
			     struct ctl_opts *o)
{
	struct parse ps = { .cmd = cmd, .argv_k = -1 };
	json_t *req;
	int i, k, only_pos = 0, r = 0;

	cmd_label(cmd, ps.name, sizeof(ps.name));
	for (i = 0; i < argc && r == 0; i++) {
		if (!only_pos && strcmp(argv[i], "--") == 0 && ps.argv_k >= 0) {
			r = take_argv(&ps, argc - i - 1, argv + i + 1);
			break;
		} else if (!only_pos && strcmp(argv[i], "--") == 0)
			only_pos = 1;
		else if (!only_pos && argv[i][0] == '-' && argv[i][1] != '\0')
			r = parse_option(&ps, argc, argv, &i, o);
		else
			r = parse_positional(&ps, argv[i]);
	}
	if (r == 0 && ps.argv_k >= 0 && !ps.vals[ps.argv_k])
		r = take_argv(&ps, 0, NULL);
	req = json_pack("{ss}", "cmd", cmd->name);
	if (r < 0 || finish_request(&ps, req) < 0) {
		for (k = 0; k < CMD_FIELDS_MAX; k++)
			json_decref(ps.vals[k]);
		json_decref(req);
		return NULL;
	}
	return req;
}

/* --- talking to the daemon --- */

/* ctl_connect() - a stream connection to the daemon's socket; -1 with errno
 * set.  SO_SNDTIMEO also bounds connect(): on a UNIX socket it blocks while
 * the daemon's listen backlog is full. */
static int ctl_connect(const char *path, uint64_t timeout_ms)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	tv = timeval_from_ms(timeout_ms);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* send_all() - all of buf; MSG_NOSIGNAL turns a vanished daemon into EPIPE
 * instead of killing us */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			errno = ETIMEDOUT;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

enum read_result { RD_OK, RD_ERROR, RD_TIMEOUT, RD_CLOSED, RD_TOOLONG };

/* wait_readable() - poll fd until it is readable or deadline (ms) passes */
static enum read_result wait_readable(int fd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t now;
	int r;

	for (;;) {
		if ((now = clock_now_ms()) >= deadline)
			return RD_TIMEOUT;
		r = poll(&pfd, 1, (int)MIN(deadline - now, (uint64_t)INT_MAX));
		if (r > 0)
			return RD_OK;
		if (r < 0 && errno != EINTR)
			return RD_ERROR;
	}
}

/* read_line() - one reply line, without its newline, into *linep (to be
 * freed) and *lenp.  A last line cut short by the daemon closing counts. */
static enum read_result read_line(int fd, uint64_t timeout_ms, char **linep, size_t *lenp)
{
	uint64_t deadline = clock_now_ms() + timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap + 1), *nl;
	enum read_result rr;
	ssize_t n;

	for (;;) {
		if ((rr = wait_readable(fd, deadline)) != RD_OK)
			break;
		if (len == cap) {
			if ((cap *= 2) > CTL_REPLY_MAX) {
				rr = RD_TOOLONG;
				break;
			}
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			rr = n < 0 ? RD_ERROR : len > 0 ? RD_OK : RD_CLOSED;
			break;
		}
		if ((nl = memchr(buf + len, '\n', (size_t)n))) {
			len = (size_t)(nl - buf);
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*linep = buf;
	*lenp = len;
	return rr;
}

/* print_error() - the daemon's error as "omnetctl: message (code)" */
static void print_error(json_t *reply)
{
	json_t *err = json_object_get(reply, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *msg = json_string_value(json_object_get(err, "message"));

	fputs("omnetctl: ", stderr);
	put_safe(msg && *msg ? msg : "request failed", stderr);
	fputs(" (", stderr);
	put_safe(code && *code ? code : "unknown", stderr);
	fputs(")\n", stderr);
}

/* handle_reply() - print the reply line; returns the exit status */
static int handle_reply(const struct cmd_schema *cmd, const struct ctl_opts *o, json_t *req,
			const char *line, size_t len)
{
	const struct ctl_printer *pr;
	json_error_t jerr;
	json_t *reply, *ok;
	int rc = 0;

	if (o->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	}
	reply = json_loadb(line, len, 0, &jerr);
	ok = json_object_get(reply, "ok");
	if (!json_is_boolean(ok)) {
		fprintf(stderr, "omnetctl: malformed reply from omnetd: %s\n",
			reply ? "not an object with a boolean \"ok\"" : jerr.text);
		json_decref(reply);
		return EXIT_DAEMON;
	}
	if (json_is_false(ok)) {
		print_error(reply);
		rc = EXIT_DAEMON;
	} else if (!o->json && (pr = find_printer(cmd->name))) {
		pr->print(req, json_object_get(reply, "result"));
	} else if (!o->json && cmd->done) {
		print_done(cmd->done, req);
	}
	json_decref(reply);
	return rc;
}

/* report_read() - say why no reply line came */
static void report_read(enum read_result rr, const char *path, const struct ctl_opts *o)
{
	switch (rr) {
	case RD_TIMEOUT:
		fprintf(stderr, "omnetctl: no reply from %s within %llu ms\n", path,
			(unsigned long long)o->timeout_ms);
		break;
	case RD_CLOSED:
		fprintf(stderr, "omnetctl: %s closed the connection without a reply\n", path);
		break;
	case RD_TOOLONG:
		fprintf(stderr, "omnetctl: reply from %s longer than %d bytes\n", path,
			CTL_REPLY_MAX);
		break;
	case RD_ERROR:
		fprintf(stderr, "omnetctl: reading the reply from %s: %s\n", path,
			strerror(errno));
		break;
	case RD_OK:
		break;
	}
}

/* run() - send req to the daemon, print its reply; returns the exit status */
static int run(const struct cmd_schema *cmd, const struct ctl_opts *o, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT), *line = NULL;
	size_t len, linelen;
	enum read_result rr;
	int fd, rc = EXIT_DAEMON;

	len = strlen(text);
	if (len + 1 > CTL_REQUEST_MAX) {
		fprintf(stderr, "omnetctl: request longer than %d bytes; see omnetctl --help\n",
			CTL_REQUEST_MAX);
		free(text);
		return EXIT_USAGE;
	}
	text[len++] = '\n'; /* replaces the NUL: text is not a C string any more */
	if ((fd = ctl_connect(o->socket, o->timeout_ms)) < 0) {
		fprintf(stderr, "omnetctl: cannot connect to %s: %s (is omnetd running?)\n",
			o->socket, strerror(errno));
		free(text);
		return EXIT_DAEMON;
	}
	/* a daemon that refused the connection (busy, permission_denied) has
	 * said why before closing: read that even if sending failed */
	if (send_all(fd, text, len) < 0 && errno != EPIPE && errno != ECONNRESET)
		fprintf(stderr, "omnetctl: sending to %s: %s\n", o->socket, strerror(errno));
	else if ((rr = read_line(fd, o->timeout_ms, &line, &linelen)) != RD_OK)
		report_read(rr, o->socket, o);
	else
		rc = handle_reply(cmd, o, req, line, linelen);
	free(line);
	free(text);
	close(fd);
	return rc;
}

/* usage_fail() - report a usage error; returns the exit status */
static int usage_fail(void)
{
	fprintf(stderr, "omnetctl: %s; see omnetctl --help\n", usage_msg);
	return EXIT_USAGE;
}

/* wants_help() - -h or --help anywhere before "--": help wins over any
 * other mistake on the line */
static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/* pick_socket() - -s, else $OMNETCTL_SOCKET; else, for an ordinary user
 * whose own omnetd runs, its socket (userdirs.h); else the system's */
static void pick_socket(struct ctl_opts *o)
{
	static char user_sock[108];
	const char *env = getenv("OMNETCTL_SOCKET");
	char rt[64], err[512];
	struct stat st;

	if (o->socket)
		return;
	if (env && *env) {
		o->socket = env;
		return;
	}
	o->socket = CTL_DEFAULT_SOCKET;
	if (geteuid() != 0 &&
	    userdirs_socket(NULL, user_runtime_dir(rt, sizeof(rt)), user_sock, sizeof(user_sock),
			    err, sizeof(err)) == 0 &&
	    stat(user_sock, &st) == 0 && S_ISSOCK(st.st_mode))
		o->socket = user_sock;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { .timeout_ms = CTL_TIMEOUT_MS };
	const struct cmd_schema *cmd;
	json_t *req;
	int i, nwords, rc;

	if (wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	if ((i = parse_globals(argc, argv, &o)) < 0)
		return usage_fail();
	if (o.version) {
		printf("omnetctl %s\n", OMNET_VERSION);
		return 0;
	}
	if (i >= argc) {
		usage_err("missing command");
		return usage_fail();
	}
	if (!(cmd = find_cmd(argc - i, argv + i, &nwords)))
		return usage_fail();
	if (!(req = build_request(cmd, argc - i - nwords, argv + i + nwords, &o)))
		return usage_fail();
	if (o.version) {
		printf("omnetctl %s\n", OMNET_VERSION);
		json_decref(req);
		return 0;
	}
	pick_socket(&o);
	rc = run(cmd, &o, req);
	json_decref(req);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "omnetctl: writing output: %s\n", strerror(errno));
		rc = EXIT_DAEMON;
	}
	return rc;
}
