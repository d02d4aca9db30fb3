/* network.h: a VM network carried over a link, by its 128-bit id.
 *
 * On the provider a network is a capture namespace with a VM behind an
 * interface; on the consumer it is the permission for one peer to open
 * flows under that id.  Deleting a network deletes only this side's
 * state: the id stops being processed, late frames for it are dropped
 * and counted, and the peer is told so it can reset its flows. */
#ifndef OMNET_NETWORK_H
#define OMNET_NETWORK_H

#include <netinet/in.h>
#include <sys/queue.h>

#include "config.h"
#include "daemon.h"
#include "netns.h"
#include "util.h"

struct capture;

struct network {
	TAILQ_ENTRY(network) entry;
	struct daemon *d;
	struct netid id;
	char idstr[NETID_HEXLEN + 1];
	char peer[CONFIG_NAME_MAX + 1];
	char netns[256];                    /* provider */
	struct netns_id nsid;               /* provider: what netns names */
	char iface[16];
	struct in_addr gateway, dns, dhcp_start;
	unsigned prefix_len;
	int ipv6;                           /* dual stack: prefix6 is its /64 */
	struct in6_addr prefix6;
	struct capture *cap;
	struct vmrun *run;                  /* provider, --run: its command */
	int from_run;                       /* made by --run: never saved */
	int was_deleted;                    /* its id was deleted here before this add */
	int from_config;
	int peer_deleted;                   /* the peer deleted it on its side */
	struct flow_list flows;
	uint64_t flows_total;
};

struct network *network_find(struct daemon *d, const struct netid *id);
/* network_add() - provider: netns and iface set up a capture; consumer:
 * both empty.  A network of the configuration file is added with its
 * section (cn), whose addressing it takes; others take the globals. */
struct network *network_add(struct daemon *d, const struct netid *id, const char *peer,
			    const char *netns, const char *iface,
			    const struct config_network *cn, char *err, size_t errlen);
/* network_discard() - undo a network_add() of a moment ago that cannot go
 * on (no flow yet, the peer not told, its id not remembered as deleted) */
void network_discard(struct network *n);
/* network_delete() - tear down, reset its flows, tell the peer */
void network_delete(struct network *n, int tell_peer);
/* network_peer_deleted() - the peer said it deleted the network */
void network_peer_deleted(struct daemon *d, struct peer *p, const struct netid *id);
size_t network_flow_count(const struct network *n);
/* network_for_peer() - the network a peer may open flows in, or NULL */
struct network *network_for_peer(struct daemon *d, const struct netid *id, const char *peer);
/* network_for_open() - the network of a flow the peer opened; NULL when
 * it has none here (the flow was dropped or refused, and counted) */
struct session;
struct link_flow;
struct network *network_for_open(struct session *s, struct link_flow *lf);

#endif
