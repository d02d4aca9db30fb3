/* egress.c: policy and real sockets on the consumer.
 *
 * The provider names a destination either by address or by what it is in
 * the VM's network (its DNS server, its gateway).  The DNS service maps
 * to the consumer's own resolver (resolv.conf), reached without the
 * policy: it is the one service the VM is always meant to use.  The
 * gateway maps to the consumer host's loopback, which the policy denies
 * unless an operator allows it. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "daemon.h"
#include "egress.h"
#include "flow.h"
#include "link.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "peer.h"
#include "policy.h"
#include "resolv.h"
#include "session.h"
#include "util.h"

void egress_load_resolvers(struct daemon *d)
{
	char err[256];
	int n = resolv_nameservers(d->cfg.resolv_conf, d->resolver, ARRAY_SIZE(d->resolver), err,
				   sizeof(err));

	if (n < 0) {
		log_warnx("%s", err);
		n = 0;
	}
	if (n == 0)
		log_warnx("%s: no nameserver: the VM's DNS queries will be refused", d->cfg.resolv_conf);
	d->nresolver = (size_t)n;
}

void egress_refresh_local(struct daemon *d)
{
	struct nl_ifaddr *a;
	size_t n, i;

	if (nl_addr_list(&a, &n) < 0) {
		log_warn("cannot list local addresses (policy keeps the previous set)");
		return;
	}
	policy_clear_local(d->policy);
	for (i = 0; i < n; i++) {
		struct cidr c = { .family = a[i].family, .prefix = a[i].prefixlen };

		memcpy(c.addr, a[i].addr, 16);
		policy_add_local(d->policy, &c, a[i].ifname);
	}
	free(a);
}

/* map_destination() - where the flow really goes; 1 if the policy
 * applies to it, 0 if not (the DNS service), -1 if it cannot go anywhere */
static int map_destination(struct daemon *d, const struct link_flow *lf, struct ipport *dst)
{
	*dst = lf->dst;
	switch (lf->kind) {
	case WIRE_DST_DNS:
		if (!d->nresolver)
			return -1;
		*dst = d->resolver[0];
		return 0;
	case WIRE_DST_GATEWAY:
		memset(dst->addr, 0, sizeof(dst->addr));
		if (dst->family == AF_INET6) {
			dst->addr[15] = 1;
		} else {
			dst->family = AF_INET;
			dst->addr[0] = 127;
			dst->addr[3] = 1;
		}
		return 1;
	default:
		return 1;
	}
}

static void refuse(struct session *s, struct link_flow *lf, uint64_t reason)
{
	link_flow_reset(lf, reason);
	session_wake(s);
}

static int open_udp(struct flow *f, const struct sockaddr *to, socklen_t tolen)
{
	int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, to, tolen) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	flow_attach_udp(f, fd);
	return 0;
}

void egress_open(struct session *s, struct link_flow *lf)
{
	struct daemon *d = s->d;
	char reason[POLICY_REASON_MAX], a[ADDRSTRLEN], b[ADDRSTRLEN];
	struct sockaddr_storage ss;
	struct network *n = network_for_open(s, lf);
	struct ipport dst;
	struct flow *f;
	socklen_t len;
	int apply;

	if (!n)
		return;
	if (!daemon_flow_room(d)) {
		log_info("network %s: %s %s -> %s refused: no file descriptor left", n->idstr,
			 wire_proto_name(lf->proto), ipport_fmt(&lf->src, a), ipport_fmt(&lf->dst, b));
		refuse(s, lf, RST_RESOURCE);
		return;
	}
	if (lf->kind == WIRE_DST_VM) {
		/* only a consumer opens flows towards the VM */
		log_warnx("peer %s: a flow towards a VM, which only a consumer may open: refused",
			  s->peer->name);
		refuse(s, lf, RST_REFUSED);
		return;
	}
	apply = map_destination(d, lf, &dst);
	if (apply < 0) {
		log_info("network %s: %s %s -> DNS refused: no nameserver in %s", n->idstr,
			 wire_proto_name(lf->proto), ipport_fmt(&lf->src, a), d->cfg.resolv_conf);
		refuse(s, lf, RST_UNREACHABLE);
		return;
	}
	if (apply && !policy_check(d->policy, lf->proto, &dst, reason, sizeof(reason))) {
		d->ctr.flows_refused_policy++;
		log_info("network %s: %s %s -> %s refused by policy: %s", n->idstr,
			 wire_proto_name(lf->proto), ipport_fmt(&lf->src, a), ipport_fmt(&lf->dst, b), reason);
		refuse(s, lf, RST_POLICY);
		return;
	}
	f = flow_new(n, s, lf, lf->proto, lf->kind, &lf->src, &dst);
	len = ipport_to_sa(&dst, &ss);
	log_debug("network %s: %s %s -> %s", n->idstr, wire_proto_name(lf->proto),
		  ipport_fmt(&lf->src, a), ipport_fmt(&dst, b));
	if (lf->proto == WIRE_PROTO_UDP) {
		if (open_udp(f, (struct sockaddr *)&ss, len) < 0)
			egress_failed(f, RST_UNREACHABLE, errno);
		return;
	}
	if (flow_connect_tcp(f, -1, (struct sockaddr *)&ss, len, d->cfg.connect_timeout_ms) < 0)
		egress_failed(f, errno == ECONNREFUSED ? RST_REFUSED : RST_UNREACHABLE, errno);
}

void egress_connected(struct flow *f)
{
	flow_connected(f);
}

void egress_failed(struct flow *f, uint64_t reason, int err)
{
	char a[ADDRSTRLEN], b[ADDRSTRLEN];

	f->net->d->ctr.flows_refused_remote++;
	if (f->kind == WIRE_DST_VM)
		log_info("network %s: forward from %s to the VM's %s %s failed: %s", f->net->idstr,
			 ipport_fmt(&f->remote, b), wire_proto_name(f->proto), ipport_fmt(&f->vm, a),
			 strerror(err));
	else
		log_info("network %s: %s %s -> %s failed: %s", f->net->idstr, wire_proto_name(f->proto),
			 ipport_fmt(&f->vm, a), ipport_fmt(&f->remote, b), strerror(err));
	flow_abort(f, reason);
}

void egress_note_public(struct daemon *d, const struct ipport *addr, const char *source)
{
	(void)d, (void)addr, (void)source; /* not kept yet */
}
