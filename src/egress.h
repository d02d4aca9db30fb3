/* egress.h: the consumer opens real connections for the VM's flows. */
#ifndef OMNET_EGRESS_H
#define OMNET_EGRESS_H

#include <stdint.h>

struct session;
struct link_flow;
struct flow;
struct daemon;

/* egress_open() - the provider opened a flow: check the network and the
 * policy, then connect (TCP) or open a socket (UDP) */
void egress_open(struct session *s, struct link_flow *lf);
void egress_connected(struct flow *f);
void egress_failed(struct flow *f, uint64_t reason, int err);
/* egress_watch_start() - read the host's addresses and routes into the
 * policy, and again whenever netlink says they changed (a burst of changes
 * is read once, 50 ms after its first event); consumer only */
void egress_watch_start(struct daemon *d);
void egress_watch_stop(struct daemon *d);
/* egress_explain() - what the policy says of @dst now, as a flow would be
 * judged (@any_port: of the address, whatever the port) */
struct policy_verdict;
struct ipport;
int egress_explain(struct daemon *d, uint8_t proto, const struct ipport *dst, int any_port,
		   struct policy_verdict *v);
/* egress_load_resolvers() - re-read resolv-conf */
void egress_load_resolvers(struct daemon *d);

/* egress_note_public() - an address the consumer is seen from on the
 * internet (a relay's RELAY_OBSERVED, the router's external address):
 * the policy denies it, so the VM cannot come back in through it.
 * source names who told us, for the policy's reasons and logs.  Any role
 * may call it; only a consumer keeps it. */
void egress_note_public(struct daemon *d, const struct ipport *addr, const char *source);

#endif
