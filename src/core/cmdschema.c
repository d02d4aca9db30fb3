/* cmdschema.c: the control commands' table and the checks of their values.
 *
 * A command is one entry of cmd_schemas[]: its fields with their types,
 * checks and defaults, the roles it runs on, and how omnetctl offers it.
 * Adding a command: an entry here, a handler in src/ctl_cmds.c, and a
 * printer in src/omnetctl.c if its result is more than a confirmation.
 * The checks are the only place these values are judged: omnetd's
 * requests, omnetctl's command line and omnetd.conf's names all use them. */
#include <arpa/inet.h>
#include <string.h>

#include "cmdschema.h"
#include "config.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* --- the checks --------------------------------------------------------- */

/* has_control() - a control character anywhere in s */
static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* is_hex() - exactly n hex digits, either case */
static int is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

const char *cmd_check_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFIG_NAME_MAX ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return "expected a name of 1 to " STR(CONFIG_NAME_MAX)
		       " letters, digits, '.', '_' or '-'";
	return NULL;
}

/* cmd_check_iface() - what the kernel takes as a device name
 * (dev_valid_name(): shorter than IFNAMSIZ, not "." or "..", no '/', ':'
 * or blank), and what the capture's nftables ruleset can quote: printable
 * ASCII without '"' or '\' */
const char *cmd_check_iface(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		goto bad;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr("/:\"\\", s[i]))
			goto bad;
	return NULL;
bad:
	return "expected an interface name of 1 to 15 characters, no '/', ':', quotes or blanks";
}

/* cmd_check_netns() - a name under /run/netns or an absolute path: whether
 * it names a namespace only the daemon can tell.  The provider's privileged
 * helper checks the same again (capns.c), at its own boundary. */
const char *cmd_check_netns(const char *s)
{
	if (*s == '\0' || has_control(s))
		return "expected a non-empty value without control characters";
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || (strchr(s, '/') && s[0] != '/'))
		return "expected a name under /run/netns or an absolute path";
	return NULL;
}

const char *cmd_check_netid(const char *s)
{
	return is_hex(s, NETID_HEXLEN) ? NULL : "expected a network ID of 32 hex digits";
}

const char *cmd_check_fingerprint(const char *s)
{
	if (strncmp(s, "sha256:", 7) == 0 && is_hex(s + 7, 64))
		return NULL;
	return "expected sha256: followed by 64 hex digits";
}

const char *cmd_check_port(const char *s)
{
	uint64_t v;

	return parse_u64(s, 1, 65535, &v) < 0 ? "expected a port number 1..65535" : NULL;
}

const char *cmd_check_proto(const char *s)
{
	return strcmp(s, "tcp") == 0 || strcmp(s, "udp") == 0 ? NULL : "expected tcp or udp";
}

const char *cmd_check_policy_proto(const char *s)
{
	return cmd_check_proto(s) && strcmp(s, "icmp") != 0 ? "expected tcp, udp or icmp" : NULL;
}

const char *cmd_check_map(const char *s)
{
	static const char *const ok[] = { "none", "upnp", "natpmp", "pcp", "auto" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(s, ok[i]) == 0)
			return NULL;
	return "expected none, upnp, natpmp, pcp or auto";
}

/* host_copy() - the n bytes at s as a C string in host; -1 if too long */
static int host_copy(char host[INET6_ADDRSTRLEN], const char *s, size_t n)
{
	if (n >= INET6_ADDRSTRLEN)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* unspecified() - 0.0.0.0 or ::, which reach no peer */
static int unspecified(const uint8_t *bin, size_t len)
{
	size_t i;

	for (i = 0; i < len && !bin[i]; i++)
		;
	return i == len;
}

/* cmd_check_endpoint() - where a peer can be reached: IPV4, IPV4:PORT,
 * IPV6, [IPV6] or [IPV6]:PORT, numeric (omnetd never resolves names);
 * without a port omnetd uses OMNET_DEFAULT_PORT.  A bare IPv6 address is
 * all address ("2001:db8::1:6950" is the address ending in :6950, as in
 * the configuration file): a port needs the brackets. */
const char *cmd_check_endpoint(const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *end, *port = NULL;
	uint8_t bin[16];
	int af = AF_INET;

	if (s[0] == '[') {
		if (!(end = strchr(s, ']')) || (end[1] && end[1] != ':'))
			return "expected ADDR[:PORT] or [IPV6][:PORT]";
		af = AF_INET6;
		port = end[1] ? end + 2 : NULL;
		s++;
	} else if ((end = strchr(s, ':')) && strchr(end + 1, ':')) {
		af = AF_INET6;
		end = s + strlen(s);
	} else {
		port = end ? end + 1 : NULL;
		end = end ? end : s + strlen(s);
	}
	if (host_copy(host, s, (size_t)(end - s)) < 0 || inet_pton(af, host, bin) != 1)
		return af == AF_INET ? "expected a numeric IPv4 address (omnetd does not resolve names)"
				     : "expected a numeric IPv6 address in the brackets";
	if (unspecified(bin, af == AF_INET ? 4 : 16))
		return "expected an address a peer can be reached at, not 0.0.0.0 or ::";
	if (port && cmd_check_port(port))
		return "expected a port number 1..65535 after the address";
	return NULL;
}

int cmd_parse_destination(const char *s, struct ipport *a, int *has_port)
{
	char host[INET6_ADDRSTRLEN];
	const char *end, *port = NULL;
	uint64_t p;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		if (!(end = strchr(++s, ']')) || (end[1] && end[1] != ':'))
			return -1;
		port = end[1] ? end + 2 : NULL;
	} else if ((end = strchr(s, ':')) && !strchr(end + 1, ':')) {
		port = end + 1;
	} else {
		end = s + strlen(s);
	}
	if (end == s || host_copy(host, s, (size_t)(end - s)) < 0)
		return -1;
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -1;
	if (port && parse_u64(port, 1, 65535, &p) < 0)
		return -1;
	a->port = port ? (uint16_t)p : 0;
	*has_port = port != NULL;
	return 0;
}

const char *cmd_check_destination(const char *s)
{
	struct ipport a;
	int has_port;

	if (cmd_parse_destination(s, &a, &has_port) < 0)
		return "expected ADDR, ADDR:PORT, [IPV6] or [IPV6]:PORT, numeric (omnetd does "
		       "not resolve names), with a port 1..65535";
	return NULL;
}

/* --- the table ---------------------------------------------------------- */

#define ALL CMD_ROLES_ALL
#define CONSUMER CMD_ROLE_CONSUMER
#define REQ CMDF_REQUIRED
#define FOLD CMDF_FOLD

/* fields that several commands share */
#define F_NAME(key, meta) { key, CMD_STRING, REQ, cmd_check_name, 0, NULL, NULL, meta }
#define F_NETID(key) { key, CMD_STRING, REQ | FOLD, cmd_check_netid, 0, NULL, NULL, "ID" }
#define F_NETWORK { "network", CMD_STRING, FOLD, cmd_check_netid, 0, NULL, "--network", "ID" }
#define F_PROTO { "proto", CMD_STRING, REQ | FOLD, cmd_check_proto, 0, NULL, NULL, "tcp|udp" }
#define F_PORT(key, meta) { key, CMD_INT, REQ, cmd_check_port, 0, NULL, NULL, meta }

#define FORWARD_ROLE "port forwards are set up on the consumer"

const struct cmd_schema cmd_schemas[] = {
	{ "status", ALL, NULL, { NULL }, "",
	  "role, fingerprint, link address, peers (state, method, RTT), networks,\n"
	  "      flow counts", NULL, { { 0 } } },
	{ "identity", ALL, NULL, { NULL }, "", "print the daemon's fingerprint", NULL,
	  { { 0 } } },
	{ "peer.add", ALL, NULL, { NULL },
	  "NAME --fingerprint FP [--endpoint ADDR[:PORT]]... [--relay NAME]...",
	  "pin a peer by fingerprint, with zero or more known endpoints (port "
	  STR(OMNET_DEFAULT_PORT) "\n      if left out)", "peer {name} added",
	  { F_NAME("name", "NAME"),
	    { "fingerprint", CMD_STRING, REQ | FOLD, cmd_check_fingerprint, 0, NULL,
	      "--fingerprint", "FP" },
	    { "endpoints", CMD_LIST, 0, cmd_check_endpoint, CONFIG_ENDPOINTS_MAX, NULL,
	      "--endpoint", "ADDR[:PORT]" },
	    { "relays", CMD_LIST, 0, cmd_check_name, CONFIG_RELAYS_MAX, NULL, "--relay", "NAME" },
	    { "relay", CMD_STRING, 0, cmd_check_name, 0, NULL, NULL, NULL } } },
	{ "peer.list", ALL, NULL, { NULL }, "", "list the pinned peers", NULL, { { 0 } } },
	{ "peer.remove", ALL, NULL, { NULL }, "NAME", "forget a peer", "peer {name} removed",
	  { F_NAME("name", "NAME") } },
	{ "network.add", CMD_ROLE_PROVIDER | CONSUMER, "a relay carries no networks",
	  { "netns", "iface" },
	  "ID --peer NAME [--netns NETNS --iface IFACE]\n"
	  "      network add ID --peer NAME --run [--container] [--keep] -- COMMAND [ARG]...",
	  "consumer: accept network ID from the peer; provider: carry the traffic of\n"
	  "      the VM behind IFACE in namespace NETNS to the peer; with --run, make a\n"
	  "      namespace with tap0 in it (--container: COMMAND's own, its eth0) and\n"
	  "      run COMMAND there; the network goes when it exits, unless --keep",
	  "network {id} added for peer {peer}",
	  { F_NETID("id"),
	    { "peer", CMD_STRING, REQ, cmd_check_name, 0, NULL, "--peer", "NAME" },
	    { "netns", CMD_STRING, 0, cmd_check_netns, 0, NULL, "--netns", "NETNS" },
	    { "iface", CMD_STRING, 0, cmd_check_iface, 0, NULL, "--iface", "IFACE" },
	    { "run", CMD_ARGV, 0, NULL, CMD_ARGV_MAX, NULL, "--run", "COMMAND" },
	    { "container", CMD_BOOL, 0, NULL, 0, NULL, "--container", "" },
	    { "keep", CMD_BOOL, 0, NULL, 0, NULL, "--keep", "" } } },
	{ "network.list", ALL, NULL, { NULL }, "", "list the networks", NULL, { { 0 } } },
	{ "network.delete", ALL, NULL, { NULL }, "ID",
	  "delete local state for the network and stop processing its ID",
	  "network {id} deleted", { F_NETID("id") } },
	{ "forward.add", CONSUMER, FORWARD_ROLE, { NULL },
	  "[--network ID] tcp|udp EXTERNAL_PORT VM_PORT [--map none|upnp|natpmp|pcp|auto]",
	  "consumer: expose a VM port on this network (--network is needed only\n"
	  "      when there is more than one)", NULL,
	  { F_NETWORK, F_PROTO, F_PORT("external_port", "EXTERNAL_PORT"),
	    F_PORT("vm_port", "VM_PORT"),
	    { "map", CMD_STRING, FOLD, cmd_check_map, 0, "none", "--map",
	      "none|upnp|natpmp|pcp|auto" } } },
	{ "forward.list", CONSUMER, FORWARD_ROLE, { NULL }, "",
	  "list port forwards, their router mappings and external addresses", NULL, { { 0 } } },
	{ "forward.remove", CONSUMER, FORWARD_ROLE, { NULL }, "[--network ID] tcp|udp EXTERNAL_PORT",
	  "remove a port forward", "forward {proto} {external_port} removed",
	  { F_NETWORK, F_PROTO, F_PORT("external_port", "EXTERNAL_PORT") } },
	{ "flows", ALL, NULL, { NULL }, "[--network ID]",
	  "open flows: protocol, VM side, remote side, bytes each way, age", NULL, { F_NETWORK } },
	{ "disconnect", ALL, NULL, { NULL }, "PEER", "stop the link to a peer and its retries",
	  "peer {peer} disconnected", { F_NAME("peer", "PEER") } },
	{ "connect", ALL, NULL, { NULL }, "PEER", "resume the link to a peer stopped by disconnect",
	  "peer {peer}: connecting", { F_NAME("peer", "PEER") } },
	{ "policy.check", CONSUMER, "only a consumer has an egress policy", { NULL },
	  "ADDR[:PORT] [--proto tcp|udp|icmp]",
	  "consumer: would the egress policy let the VM reach ADDR, and what\n"
	  "      decides (rule, route, address of this host, built-in range)", NULL,
	  { { "destination", CMD_STRING, REQ, cmd_check_destination, 0, NULL, NULL, "ADDR[:PORT]" },
	    { "port", CMD_INT, 0, cmd_check_port, 0, NULL, NULL, NULL },
	    { "proto", CMD_STRING, FOLD, cmd_check_policy_proto, 0, "tcp", "--proto", "tcp|udp|icmp" } } },
	{ "reload", ALL, NULL, { NULL }, "",
	  "re-read the configuration file as SIGHUP does; fails with FILE:LINE:\n"
	  "      message if it does not load (the running configuration is kept)",
	  "configuration reloaded", { { 0 } } },
};

const size_t cmd_schemas_count = ARRAY_SIZE(cmd_schemas);

const struct cmd_schema *cmd_schema_find(const char *name)
{
	size_t i;

	for (i = 0; i < cmd_schemas_count; i++)
		if (strcmp(cmd_schemas[i].name, name) == 0)
			return &cmd_schemas[i];
	return NULL;
}

size_t cmd_schema_nfields(const struct cmd_schema *c)
{
	size_t n = 0;

	while (n < CMD_FIELDS_MAX && c->fields[n].key)
		n++;
	return n;
}
