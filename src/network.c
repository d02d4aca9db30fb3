/* network.c: networks on both roles. */
#include <string.h>
#include <net/if.h>

#include <openssl/sha.h>

#include "capture.h"
#include "daemon.h"
#include "flow.h"
#include "link.h"
#include "log.h"
#include "network.h"
#include "osutil.h"
#include "peer.h"
#include "session.h"
#include "util.h"
#include "vmrun.h"

struct network *network_find(struct daemon *d, const struct netid *id)
{
	struct network *n;

	TAILQ_FOREACH(n, &d->networks, entry)
		if (netid_eq(&n->id, id))
			return n;
	return NULL;
}

struct network *network_for_peer(struct daemon *d, const struct netid *id, const char *peer)
{
	struct network *n = network_find(d, id);

	return n && strcmp(n->peer, peer) == 0 ? n : NULL;
}

/* network_for_open() - the network a flow the peer opened belongs to, or
 * NULL when the flow must go: a network deleted here is dropped and
 * counted, never answered; one never configured for this peer is refused */
struct network *network_for_open(struct session *s, struct link_flow *lf)
{
	struct daemon *d = s->d;
	struct network *n = network_for_peer(d, link_flow_net(lf), s->peer->name);
	char id[NETID_HEXLEN + 1];

	if (n)
		return n;
	if (daemon_network_is_deleted(d, link_flow_net(lf))) {
		d->ctr.dropped_deleted_network++;
		link_flow_drop(lf);
		return NULL;
	}
	netid_fmt(link_flow_net(lf), id);
	d->ctr.flows_unknown_network++;
	log_warnx("peer %s: flow for network %s, which is not configured for it", s->peer->name, id);
	link_flow_reset(lf, RST_NETWORK);
	session_wake(s);
	return NULL;
}

size_t network_flow_count(const struct network *n)
{
	const struct flow *f;
	size_t c = 0;

	TAILQ_FOREACH(f, &n->flows, entry)
		c++;
	return c;
}

/* netns_in_use() - a network of ours is in that namespace already, under
 * whatever name: a second capture would replace the first one's rules */
static int netns_in_use(struct daemon *d, const struct netns_id *id)
{
	struct network *n;

	if (!id->dev && !id->ino)
		return 0; /* unknown here; the capture helper refuses a namespace twice */
	TAILQ_FOREACH(n, &d->networks, entry)
		if (n->netns[0] && n->nsid.dev == id->dev && n->nsid.ino == id->ino)
			return 1;
	return 0;
}

static int check_add(struct daemon *d, const struct netid *id, const char *peer,
		     const char *netns, const char *iface, struct netns_id *nsid, char *err,
		     size_t errlen)
{
	char idstr[NETID_HEXLEN + 1];
	int provider = d->role == ROLE_PROVIDER;

	netid_fmt(id, idstr);
	if (network_find(d, id))
		snprintf(err, errlen, "network %s exists", idstr);
	else if (!peer_find(d, peer))
		snprintf(err, errlen, "no peer named %s", peer);
	else if (provider && (!netns || !*netns || !iface || !*iface))
		snprintf(err, errlen, "a provider's network needs --netns and --iface");
	else if (!provider && ((netns && *netns) || (iface && *iface)))
		snprintf(err, errlen, "--netns and --iface are for a provider's network");
	else if (provider && strlen(netns) >= sizeof(((struct network *)0)->netns))
		snprintf(err, errlen, "namespace name %.64s... too long", netns);
	else if (provider && netns_identity(netns, nsid, err, errlen) < 0)
		; /* err says why */
	else if (provider && netns_in_use(d, nsid))
		snprintf(err, errlen, "namespace %s already holds a network", netns);
	else
		return 0;
	return -1;
}

/* default_prefix6() - a network's own /64 when none is configured: the
 * RFC 4193 form, fd00::/8 and a 40-bit global id, subnet 0.  The global id
 * is the first 40 bits of the network id's SHA-256: as random as RFC 4193
 * asks for an id made at random, and still for ids written by hand
 * (0...01 and 0...02 get prefixes far apart); the same network has the
 * same prefix on every start. */
static void default_prefix6(const struct netid *id, struct in6_addr *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(id->b, sizeof(id->b), md);
	memset(out, 0, sizeof(*out));
	out->s6_addr[0] = 0xfd;
	memcpy(out->s6_addr + 1, md, 5);
}

/* ipv6_available() - a kernel booted with ipv6.disable=1 has none: its
 * networks are IPv4 only, said once each, rather than failing to start */
static int ipv6_available(const struct network *n)
{
	if (n->d->role != ROLE_PROVIDER || os_has_ipv6())
		return 1;
	log_warnx("network %s: this kernel has no IPv6 (booted with ipv6.disable=1?): the VM's "
		  "network is IPv4 only", n->idstr);
	return 0;
}

static void set_addressing(struct network *n, const struct config *cfg,
			   const struct config_network *cn)
{
	const struct config_prefix6 *p6 = cn ? &cn->prefix6 : &cfg->prefix6;

	n->gateway = cn ? cn->gateway : cfg->gateway;
	n->dns = cn ? cn->dns : cfg->dns;
	n->dhcp_start = cn ? cn->dhcp_start : cfg->dhcp_start;
	n->prefix_len = cn ? cn->prefix_len : cfg->prefix_len;
	n->ipv6 = (cn ? cn->ipv6 : cfg->ipv6) && ipv6_available(n);
	if (p6->set)
		n->prefix6 = p6->prefix;
	else
		default_prefix6(&n->id, &n->prefix6);
}

struct network *network_add(struct daemon *d, const struct netid *id, const char *peer,
			    const char *netns, const char *iface,
			    const struct config_network *cn, char *err, size_t errlen)
{
	struct netns_id nsid = { 0 };
	struct network *n;

	if (check_add(d, id, peer, netns, iface, &nsid, err, errlen) < 0)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->d = d;
	n->id = *id;
	netid_fmt(id, n->idstr);
	snprintf(n->peer, sizeof(n->peer), "%s", peer);
	snprintf(n->netns, sizeof(n->netns), "%s", netns ? netns : "");
	snprintf(n->iface, sizeof(n->iface), "%s", iface ? iface : "");
	n->nsid = nsid;
	set_addressing(n, &d->cfg, cn);
	n->from_config = cn != NULL;
	TAILQ_INIT(&n->flows);
	TAILQ_INSERT_TAIL(&d->networks, n, entry);
	if (d->role == ROLE_PROVIDER) {
		n->cap = capture_new(n, err, errlen);
		if (!n->cap) {
			TAILQ_REMOVE(&d->networks, n, entry);
			free(n);
			return NULL; /* a network deleted before stays deleted */
		}
	}
	n->was_deleted = daemon_network_is_deleted(d, id);
	daemon_network_forget_deleted(d, id);
	log_info("network %s: added for peer %s", n->idstr, peer);
	return n;
}


static void reset_flows(struct network *n, uint64_t reason)
{
	struct flow *f;

	while ((f = TAILQ_FIRST(&n->flows)))
		flow_abort(f, reason);
}

static void remember_deleted(struct daemon *d, const struct netid *id)
{
	if (daemon_network_is_deleted(d, id))
		return;
	d->deleted = xrealloc(d->deleted, (d->ndeleted + 1) * sizeof(*d->deleted));
	d->deleted[d->ndeleted++] = *id;
}

void network_discard(struct network *n)
{
	capture_free(n->cap);
	if (n->was_deleted)
		remember_deleted(n->d, &n->id); /* as it was before the add */
	TAILQ_REMOVE(&n->d->networks, n, entry);
	free(n);
}

void network_delete(struct network *n, int tell_peer)
{
	struct daemon *d = n->d;
	struct peer *p = peer_find(d, n->peer);

	log_info("network %s: deleted (%zu flows reset)", n->idstr, network_flow_count(n));
	reset_flows(n, RST_NETWORK);
	if (tell_peer && p && p->session) {
		link_send_network_deleted(p->session->link, &n->id);
		session_wake(p->session);
	}
	capture_free(n->cap);
	if (n->run)
		vmrun_network_deleted(n->run);
	remember_deleted(d, &n->id);
	TAILQ_REMOVE(&d->networks, n, entry);
	free(n);
}

/* network_peer_deleted() - the peer stopped processing the network: what
 * rides it here cannot go on, so reset it at once rather than let it hang.
 * New flows are still offered: the peer drops and counts them unless it
 * adds the network again, and the VM's connection attempt times out. */
void network_peer_deleted(struct daemon *d, struct peer *p, const struct netid *id)
{
	struct network *n = p ? network_for_peer(d, id, p->name) : NULL;

	if (!n) {
		/* not one of this peer's networks here: nothing to reset, and
		 * never another peer's network */
		d->ctr.network_deleted_unknown++;
		return;
	}
	log_info("network %s: peer %s deleted it; %zu flows reset", n->idstr, p->name,
		 network_flow_count(n));
	n->peer_deleted = 1;
	reset_flows(n, RST_NETWORK);
}
