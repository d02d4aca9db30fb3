/* config.h: the configuration file, parsed into a struct config.
 *
 * A pure module: text in, struct out, no sockets and no event loop.  omnetd
 * runs on config_defaults() alone; a file only adds to them.  Every error
 * is one line, "FILE:LINE: message", which `omnetd -t` prints as is.
 * The format is documented in etc/omnetd.conf. */
#ifndef OMNET_CONFIG_H
#define OMNET_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "util.h"

#define CONFIG_LINE_MAX		4096		/* bytes per line, without CR LF */
#define CONFIG_FILE_MAX		(16u << 20)	/* bytes per file */
#define CONFIG_NAME_MAX		63		/* peer names: [A-Za-z0-9._-]{1,63} */
#define CONFIG_ENDPOINTS_MAX	8		/* endpoint keys per [peer] */
#define CONFIG_RELAYS_MAX	4		/* relay keys per [peer] */
#define CONFIG_FINGERPRINT_LEN	71		/* "sha256:" and 64 hex digits */
#define CONFIG_CANDIDATE_ALLOW_MAX 32		/* candidate-allow keys */

/* congestion-control; not the values of enum cc_algo: the glue maps them */
#define CONFIG_CC_CUBIC		0
#define CONFIG_CC_NEWRENO	1
#define CONFIG_CC_BBR		2

enum config_map {
	CONFIG_MAP_NONE,
	CONFIG_MAP_UPNP,
	CONFIG_MAP_NATPMP,
	CONFIG_MAP_PCP,
	CONFIG_MAP_AUTO,
};

/* An egress rule's match, as config_egress_parse() reads "CIDR",
 * "CIDR port N[-M]" or "port N[-M]".  A bare address is a host (/32, /128). */
struct config_egress_match {
	int family;			/* AF_INET, AF_INET6, AF_UNSPEC: any address */
	uint8_t addr[16];		/* network address, host bits zero */
	unsigned prefix_len;
	uint16_t port_min, port_max;	/* 0, 0: any port */
};

struct config_egress_rule {
	int allow;			/* 1 allow, 0 deny */
	char spec[128];			/* the text as written */
	struct config_egress_match match; /* and as parsed */
	int line;
};

struct config_peer {
	char name[CONFIG_NAME_MAX + 1];
	char fingerprint[CONFIG_FINGERPRINT_LEN + 1];	/* hex in lowercase */
	struct sockaddr_storage endpoint[CONFIG_ENDPOINTS_MAX];
	size_t nendpoint;
	char relay[CONFIG_RELAYS_MAX][CONFIG_NAME_MAX + 1];
	size_t nrelay;
	int relay_line[CONFIG_RELAYS_MAX];
	int line;			/* of the [peer] header */
};

/* A VM network's IPv6 /64, when the configuration names one (otherwise
 * each network derives its own from its id). */
struct config_prefix6 {
	int set;
	struct in6_addr prefix;
};

struct config_network {
	struct netid id;
	char peer[CONFIG_NAME_MAX + 1];
	char netns[256];		/* "" unless set: then iface is set too */
	char iface[16];
	struct in_addr gateway, dns, dhcp_start;	/* the global values */
	unsigned prefix_len;				/* unless overridden */
	int ipv6;
	struct config_prefix6 prefix6;
	int line;			/* of the [network] header */
	int peer_line;
};

/* After a successful load, net always names a [network] of the file: the
 * one written, or the only one when has_net is 0. */
struct config_forward {
	struct netid net;
	int has_net;			/* network = ID was written */
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t external_port, vm_port;
	int map;			/* enum config_map */
	int line;			/* of the [forward] header */
	int net_line;
};

struct config {
	char path[4096];		/* last file loaded; "" on embedded defaults */
	struct sockaddr_storage listen;
	socklen_t listen_len;
	char state_dir[4096], control_socket[4096], resolv_conf[4096];
	char user[64];
	int log_level;			/* enum log_level: LOG_LVL_WARN... */
	uint64_t probe_interval_min_ms, probe_interval_max_ms, probe_timeout_ms;
	uint64_t backoff_min_ms, backoff_max_ms;
	uint64_t connect_timeout_ms, udp_idle_timeout_ms, datagram_max_age_ms;
	uint64_t handshake_timeout_ms, dhcp_lease_ms;
	unsigned mtu;
	int pmtu_probe;
	int cc;				/* CONFIG_CC_BBR, _CUBIC or _NEWRENO */
	uint64_t flow_window_max_bytes, link_window_max_bytes;
	uint64_t send_buffer_bytes, link_buffer_bytes, memory_limit_bytes;
	uint64_t relay_bytes_per_second;	/* relay role: per peer; 0: no limit */
	uint64_t port_map_lease_ms;		/* consumer: asked of the router */
	unsigned max_flows, network_max_flows;
	uint64_t busy_poll_us;		/* after a light wake-up, poll this long */
	/* ranges peers and relays may name as candidates though the filter
	 * would drop them (loopback, link-local, this host's networks) */
	struct config_egress_match candidate_allow[CONFIG_CANDIDATE_ALLOW_MAX];
	size_t ncandidate_allow;
	struct in_addr gateway, dns, dhcp_start;
	unsigned prefix_len;
	int ipv6;			/* VM networks are dual stack (default yes) */
	struct config_prefix6 prefix6;

	/* owned by the config: config_free() releases them */
	struct config_peer *peer;
	size_t npeer;
	struct config_network *network;
	size_t nnetwork;
	struct config_forward *forward;
	size_t nforward;
	struct config_egress_rule *egress;
	size_t negress;
};

/* The embedded defaults: a complete configuration with no sections. */
void config_defaults(struct config *c);

/* Add a file to c (normally fresh from config_defaults()).  0, or -1 with
 * err set to "FILE:LINE: message" ("FILE: cannot read: ..." when it cannot
 * be read) and c untouched, so a failed reload keeps the old settings. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* The same for text in memory; name stands for the file in messages. */
int config_load_string(struct config *c, const char *name, const char *text,
		       char *err, size_t errlen);
int config_load_buf(struct config *c, const char *name, const char *buf, size_t len,
		    char *err, size_t errlen);
/* Free the arrays; the global settings stay usable. */
void config_free(struct config *c);

const struct config_peer *config_find_peer(const struct config *c, const char *name);
const struct config_network *config_find_network(const struct config *c,
						 const struct netid *id);
int config_name_valid(const char *name);
int config_egress_parse(const char *spec, struct config_egress_match *m,
			char *why, size_t whylen);

#endif
