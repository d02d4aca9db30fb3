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
/* egress_refresh_local() - re-read the host's addresses for the policy */
void egress_refresh_local(struct daemon *d);
/* egress_load_resolvers() - re-read resolv-conf */
void egress_load_resolvers(struct daemon *d);

#endif
