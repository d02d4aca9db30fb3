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
	/* IPv6: the VM network's /64 (ULA or global unicast), in which the
	 * gateway is ::2 and the DNS service ::3; the router's link-local
	 * address is fe80::2 (as slirp's).  Off: none of the v6 sockets. */
	uint32_t ipv6;
	struct in6_addr prefix6;
};

/* The addresses in a VM network's IPv6 prefix, by their last octet. */
#define CAPNS_GW6_HOST	2
#define CAPNS_DNS6_HOST	3
/* capns_addr6() - the address prefix::host (host < 256) */
void capns_addr6(const struct in6_addr *prefix, uint8_t host, struct in6_addr *out);
/* capns_router_ll() - the router's link-local address, fe80::2 */
void capns_router_ll(struct in6_addr *out);

/* The sockets a capture runs on, in the capture namespace. */
enum capns_sock {
	CAPNS_TCP,      /* transparent listener for the VM's TCP */
	CAPNS_UDP,      /* transparent UDP with IP_RECVORIGDSTADDR */
	CAPNS_DHCP,     /* UDP port 67 on the VM's interface */
	CAPNS_PKT,      /* packet socket: the SYN gate's copy of held SYNs */
	CAPNS_INJECT,   /* raw, with the capture's fwmark: re-injects SYNs */
	CAPNS_REPLY,    /* raw: RSTs and ICMP errors for refused SYNs */
	/* IPv6, only when the network has it (and then all of them) */
	CAPNS_TCP6,
	CAPNS_UDP6,
	CAPNS_PKT6,
	CAPNS_INJECT6,
	CAPNS_REPLY6,
	CAPNS_ND6,      /* raw ICMPv6: router solicitations in, advertisements out */
	CAPNS_DHCP6,    /* UDP port 547 on the VM's interface */
	CAPNS_NSOCK
};
#define CAPNS_NSOCK_V4	CAPNS_TCP6

struct capns_socks {
	int fd[CAPNS_NSOCK];
	uint16_t tcp_port, udp_port;
	uint16_t tcp_port6, udp_port6;
};

/* capns_nsock() - how many of the sockets a set-up with p makes: the
 * IPv4 ones, then the IPv6 ones if it has IPv6 */
size_t capns_nsock(const struct capns_params *p);

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
/* capns_unicast() - an address a flow may have at either end: for IPv4
 * not 0/8, loopback, multicast or the broadcast address; for IPv6 not ::,
 * loopback, IPv4-mapped or -compatible, link-local or multicast */
int capns_unicast(const struct ipport *a);
/* capns_check_socket() - 0 if a per-flow socket may be made: TCP bound to
 * a unicast address and not connected, or UDP bound likewise and
 * connected to one of the same family; -1 with why */
int capns_check_socket(int type, const struct ipport *local, const struct ipport *peer,
		       char *err, size_t errlen);
/* capns_socket() - a socket in the capture namespace, transparent and
 * bound to local (an address that is not ours: the VM's destination, a
 * forward's client), connected to peer if given; -1 with errno */
int capns_socket(struct capns *ns, int type, const struct ipport *local,
		 const struct ipport *peer);

#endif
