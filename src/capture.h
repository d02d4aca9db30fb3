/* capture.h: the provider's side of a VM network.
 *
 * omnetd sets up the capture namespace itself: gateway and DNS addresses
 * on the VM's interface, a DHCP server, nftables rules that send every
 * TCP and UDP packet from the VM to transparent listeners, and a rule
 * that forwards nothing.  A VM's TCP SYN is held (dropped by nftables, seen
 * on a packet socket) until the consumer has connected to the destination;
 * then it is re-injected through loopback and the kernel completes the
 * handshake with our listener.  So the VM sees "connection refused" when
 * the destination refuses, exactly as on a real network. */
#ifndef OMNET_CAPTURE_H
#define OMNET_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct network;
struct flow;
struct session;
struct link_flow;
struct syn_info;

struct capture_counters {
	uint64_t syns, syns_no_link, syn_retransmits, syns_refused_limit, accepted, accept_unmatched;
	uint64_t udp_flows, udp_no_link, dhcp_replies;
	uint64_t inbound;            /* port-forward flows from the consumer */
	uint64_t echo_requests, echo_replies, echo_no_link;
	uint64_t unreach_sent;       /* ICMP errors for UDP and ICMP flows the far side refused */
	uint64_t packets_ignored;    /* the packet socket's, neither a SYN nor an echo request */
	uint64_t misaddressed;       /* from outside the VM's network, or to no unicast address */
	uint64_t socket_failures;    /* per-flow transparent sockets the helper could not make */
};

struct capture *capture_new(struct network *n, char *err, size_t errlen);
/* capture_free() - remove rules, addresses and listeners */
void capture_free(struct capture *c);
void capture_flow_destroyed(struct capture *c, struct flow *f);
/* capture_syn_accepted() - the consumer connected: let the SYN through */
void capture_syn_accepted(struct capture *c, struct flow *f);
/* capture_echo_reply() - an echo reply for the VM's ICMP flow f, from the
 * far side's ping socket: to the VM, with its own identifier; or a
 * destination unreachable a router sent the far side about it: to the VM
 * from that router */
void capture_echo_reply(struct capture *c, struct flow *f, const uint8_t *msg, size_t len);
/* capture_dgram_unreach() - the far side refused the VM's UDP or ICMP
 * flow f for reason: the ICMP error the VM would get on a real network
 * (port unreachable from the destination; host unreachable or
 * administratively prohibited from the gateway); other reasons get none */
void capture_dgram_unreach(struct capture *c, const struct flow *f, uint64_t reason);
/* capture_reject_syn() - answer a held SYN: RST (refused) or ICMP */
void capture_reject_syn(struct capture *c, const struct syn_info *syn, uint64_t reason);
/* capture_inbound_retry4() - a forward's TCP connection to the VM's IPv6
 * address failed with err (its service may listen on IPv4 alone, or the
 * address was a temporary one, gone): try the VM's IPv4 address, from the
 * gateway, as for a network without IPv6.  0 if a connect was started
 * (the flow goes on), -1 if not (the flow fails as it would have). */
int capture_inbound_retry4(struct capture *c, struct flow *f, int err);
/* capture_inbound_open() - the consumer opened a flow towards the VM */
void capture_inbound_open(struct session *s, struct link_flow *lf);
/* capture_lease() - the VM's address as leased by DHCP, or -1 */
int capture_lease(const struct capture *c, struct in_addr *addr);
/* capture_vm_addr() - the VM's address for a port forward: its lease, else
 * the source of its last new flow (a provider restarted while the VM kept
 * its address); 0, or -1 if neither */
int capture_vm_addr(const struct capture *c, struct in_addr *addr);
/* capture_vm_addr6() - the VM's IPv6 address for a port forward: the
 * source of its last IPv6 flow, else its DHCPv6 lease; 0, or -1 */
int capture_vm_addr6(const struct capture *c, struct in6_addr *addr);
const struct capture_counters *capture_counters(const struct capture *c);
/* capture_lan6() - the network's IPv6 router and DHCPv6 server, or NULL */
struct lan6;
const struct lan6 *capture_lan6(const struct capture *c);
/* capture_housekeeping() - expire held SYNs the peer never answered */
void capture_housekeeping(struct capture *c, uint64_t now_ms);

#endif
