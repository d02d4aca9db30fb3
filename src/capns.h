/* capns.h: the privileged half of a capture.
 *
 * What a capture needs privileges for happens here: opening and entering
 * the VM's namespace, its addresses, fwmark rule and local route, the
 * nftables rules, and the sockets that need a capability when they are
 * made (transparent, raw, packet, SO_MARK, UDP port 67, binding a port
 * below 1024).  What comes out is open sockets; using them needs nothing
 * (checked on Linux 6.18, see DESIGN.md 11.27).
 *
 * Run as root, the provider calls these in its privileged helper
 * (privsep.c), which the process that reads the wire asks for sockets;
 * started with no capability at all, it calls them itself (and they fail
 * as they always did).  The parameters come from the operator through
 * that less trusted process, so every entry point checks them. */
#ifndef OMNET_CAPNS_H
#define OMNET_CAPNS_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "util.h"

/* A capture's set-up, as `network add` and the configuration give it. */
struct capns_params {
	char idstr[NETID_HEXLEN + 1];   /* the network, for messages */
	char netns[256];                /* a name in /run/netns, or a path */
	char iface[16];                 /* the VM's interface in it */
	struct in_addr gateway, dns;
	uint32_t prefix_len;
};

/* The sockets a capture runs on, in the capture namespace. */
enum capns_sock {
	CAPNS_TCP,      /* transparent listener for the VM's TCP */
	CAPNS_UDP,      /* transparent UDP with IP_RECVORIGDSTADDR */
	CAPNS_DHCP,     /* UDP port 67 on the VM's interface */
	CAPNS_PKT,      /* packet socket: the SYN gate's copy of held SYNs */
	CAPNS_INJECT,   /* raw, with the capture's fwmark: re-injects SYNs */
	CAPNS_REPLY,    /* raw: RSTs and ICMP errors for refused SYNs */
	CAPNS_NSOCK
};

struct capns_socks {
	int fd[CAPNS_NSOCK];
	uint16_t tcp_port, udp_port;
};

struct capns;

/* capns_check() - 0 if the parameters are well formed (a network id, a
 * namespace name or absolute path, an interface name nftables can quote,
 * unicast addresses, a prefix of 8..30), or -1 with why */
int capns_check(const struct capns_params *p, char *err, size_t errlen);
/* capns_open() - open the namespace p names, or at in its place (a
 * descriptor's /proc/self/fd/N) if not NULL; NULL with why if it is not a
 * network namespace, or is this process's own or the host's (pid 1's) */
struct capns *capns_open(const struct capns_params *p, const char *at, char *err,
			 size_t errlen);
/* capns_same() - both name one namespace, however spelled */
int capns_same(const struct capns *a, const struct capns *b);
const char *capns_netns(const struct capns *ns);
/* capns_setup() - addresses, routes, rules and sockets; 0, or -1 with why
 * and nothing left behind.  The sockets are the caller's. */
int capns_setup(struct capns *ns, struct capns_socks *s, char *err, size_t errlen);
/* capns_free() - remove what capns_setup() put in the namespace (if it
 * did), close it */
void capns_free(struct capns *ns);
/* capns_check_socket() - 0 if a per-flow socket may be made: TCP bound to
 * an IPv4 unicast address and not connected, or UDP bound likewise and
 * connected to one; -1 with why */
int capns_check_socket(int type, const struct ipport *local, const struct ipport *peer,
		       char *err, size_t errlen);
/* capns_socket() - a socket in the capture namespace, transparent and
 * bound to local (an address that is not ours: the VM's destination, a
 * forward's client), connected to peer if given; -1 with errno */
int capns_socket(struct capns *ns, int type, const struct ipport *local,
		 const struct ipport *peer);

#endif
