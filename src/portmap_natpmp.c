/* portmap_natpmp.c: a port mapping by NAT-PMP (RFC 6886, libnatpmp): the
 * mapping request, then the public address request, over UDP to the
 * default gateway, driven by the event loop and bounded by PM_ATTEMPT_MS.
 * The rounds are portmap.c's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/event.h>
#define ENABLE_STRNATPMPERR
#include <natpmp.h>

#include "log.h"
#include "osutil.h"
#include "portmap_int.h"
#include "util.h"

enum { NP_MAP, NP_ADDR };

/* One NAT-PMP exchange in flight: the mapping, then the public address. */
struct natpmp_xchg {
	natpmp_t n;
	struct event *ev;
	int stage;		/* NP_MAP, NP_ADDR */
	uint64_t deadline_ms;
	struct pm_grant g;
};

static uint64_t remaining_ms(uint64_t deadline_ms, uint64_t now_ms)
{
	return deadline_ms > now_ms ? deadline_ms - now_ms : 0;
}

static int natpmp_proto(int proto)
{
	return proto == IPPROTO_UDP ? NATPMP_PROTOCOL_UDP : NATPMP_PROTOCOL_TCP;
}

static const char *natpmp_gw(const natpmp_t *n, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = n->gateway };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* natpmp_error() - a libnatpmp error as a sentence; the router's refusals
 * with their RFC 6886 §3.5 result code */
static void natpmp_error(const natpmp_t *n, int r, char *err, size_t errlen)
{
	static const struct { int r, code; const char *text; } refusals[] = {
		{ NATPMP_ERR_UNSUPPORTEDVERSION, 1, "Unsupported Version" },
		{ NATPMP_ERR_NOTAUTHORIZED, 2, "Not Authorized/Refused: the router refuses this mapping" },
		{ NATPMP_ERR_NETWORKFAILURE, 3, "Network Failure: the router has no external address now" },
		{ NATPMP_ERR_OUTOFRESOURCES, 4, "Out of resources: the router cannot make more mappings" },
		{ NATPMP_ERR_UNSUPPORTEDOPCODE, 5, "Unsupported opcode" },
	};
	char gw[INET_ADDRSTRLEN];
	size_t i;

	natpmp_gw(n, gw);
	for (i = 0; i < ARRAY_SIZE(refusals); i++)
		if (refusals[i].r == r) {
			snprintf(err, errlen, "NAT-PMP router %s refused: code %d %s", gw,
				 refusals[i].code, refusals[i].text);
			return;
		}
	if (r == NATPMP_ERR_NOGATEWAYSUPPORT)
		snprintf(err, errlen, "no NAT-PMP server at %s:%d (port unreachable)", gw, NATPMP_PORT);
	else if (r == NATPMP_ERR_CANNOTGETGATEWAY)
		snprintf(err, errlen, "no IPv4 default gateway to ask for a NAT-PMP mapping");
	else
		snprintf(err, errlen, "NAT-PMP to %s:%d: %s", gw, NATPMP_PORT, strnatpmperr(r));
}

/* natpmp_init() - initnatpmp(), which finds the gateway in
 * /proc/net/route and connects; without the socket it leaves open on
 * failure, and without leaking it into children */
static int natpmp_init(natpmp_t *n)
{
	int r = initnatpmp(n, 0, 0);

	if (r < 0 && r != NATPMP_ERR_SOCKETERROR && r != NATPMP_ERR_INVALIDARGS)
		close(n->s);
	if (r == 0)
		fcntl(n->s, F_SETFD, FD_CLOEXEC);
	return r;
}

void natpmp_close(struct natpmp_xchg *x)
{
	if (!x)
		return;
	if (x->ev)
		event_free(x->ev);
	closenatpmp(&x->n);
	free(x);
}

static void natpmp_finish(struct portmap *pm, const struct pm_grant *g, const char *err)
{
	struct pm_grant copy;

	if (g) {	/* it may live in the exchange */
		copy = *g;
		g = &copy;
	}
	natpmp_close(pm->np);
	pm->np = NULL;
	pm_attempt_done(pm, g, err);
}

/* natpmp_arm() - wake at libnatpmp's next retransmission or the deadline */
static void natpmp_arm(struct natpmp_xchg *x)
{
	struct timeval tv;
	uint64_t now = clock_now_ms(), wait = 0;

	if (getnatpmprequesttimeout(&x->n, &tv) == 0 && tv.tv_sec >= 0)
		wait = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1;
	pm_arm_ms(x->ev, MIN(wait, remaining_ms(x->deadline_ms, now)));
}

/* natpmp_mapped() - the mapping reply came: note it and ask for the public
 * address, which only this second request tells (RFC 6886 §3.2); -1 and
 * err if the reply does not fit the request */
static int natpmp_mapped(struct portmap *pm, struct natpmp_xchg *x, const natpmpresp_t *r,
			 char *err, size_t errlen)
{
	int want = pm->proto == IPPROTO_UDP ? NATPMP_RESPTYPE_UDPPORTMAPPING :
					      NATPMP_RESPTYPE_TCPPORTMAPPING;
	char gw[INET_ADDRSTRLEN];

	natpmp_gw(&x->n, gw);
	if (r->type != want || r->pnu.newportmapping.privateport != pm->port) {
		snprintf(err, errlen, "NAT-PMP router %s answered another request", gw);
		return -1;
	}
	if (r->pnu.newportmapping.lifetime == 0) {
		snprintf(err, errlen, "NAT-PMP router %s granted a lifetime of 0 s", gw);
		return -1;
	}
	x->g.ext_port = r->pnu.newportmapping.mappedpublicport;
	x->g.lease_ms = (uint64_t)r->pnu.newportmapping.lifetime * 1000;
	snprintf(x->g.router, sizeof(x->g.router), "%s", gw);
	x->stage = NP_ADDR;
	if (sendpublicaddressrequest(&x->n) < 0)
		return 1;	/* mapped all the same, address unknown */
	return 0;
}

/* natpmp_read() - readnatpmpresponseorretry(), after dropping a reply too
 * short for its kind: libnatpmp does not look at the length it received
 * and would read the rest of the reply from its own stack (RFC 6886 3.2,
 * 3.3: 12 bytes for the public address, 16 for a mapping) */
static int natpmp_read(natpmp_t *n, natpmpresp_t *resp)
{
	uint8_t head[2];
	ssize_t len = recv(n->s, head, sizeof(head), MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

	if (len >= 0 && (len < 2 || len < (head[1] == 128 ? 12 : 16))) {
		if (recv(n->s, head, sizeof(head), MSG_DONTWAIT) < 0)
			log_debug("portmap: NAT-PMP: dropping a short reply: %s", strerror(errno));
		log_warnx("portmap: NAT-PMP reply of %zd bytes from the router: too short, dropped",
			  len);
		return NATPMP_TRYAGAIN;
	}
	return readnatpmpresponseorretry(n, resp);
}

/* natpmp_on_event() - a reply, or time to retransmit or to give up */
static void natpmp_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;
	struct natpmp_xchg *x = pm->np;
	natpmpresp_t resp;
	char err[256], gw[INET_ADDRSTRLEN];
	int r = natpmp_read(&x->n, &resp);

	if (r == NATPMP_TRYAGAIN && clock_now_ms() < x->deadline_ms) {
		natpmp_arm(x);
		return;
	}
	if (x->stage == NP_ADDR) {
		/* a late duplicate of the mapping reply ends libnatpmp's
		 * request: ask again */
		if (r == 0 && resp.type != NATPMP_RESPTYPE_PUBLICADDRESS &&
		    clock_now_ms() < x->deadline_ms && sendpublicaddressrequest(&x->n) >= 0) {
			natpmp_arm(x);
			return;
		}
		/* the mapping stands even if the address does not come */
		if (r == 0 && resp.type == NATPMP_RESPTYPE_PUBLICADDRESS)
			inet_ntop(AF_INET, &resp.pnu.publicaddress.addr, x->g.ext_addr,
				  sizeof(x->g.ext_addr));
		natpmp_finish(pm, &x->g, NULL);
		return;
	}
	if (r == NATPMP_TRYAGAIN) {
		snprintf(err, sizeof(err), "no NAT-PMP answer from %s:%d within %d ms",
			 natpmp_gw(&x->n, gw), NATPMP_PORT, PM_ATTEMPT_MS);
		natpmp_finish(pm, NULL, err);
		return;
	}
	if (r < 0) {
		natpmp_error(&x->n, r, err, sizeof(err));
		natpmp_finish(pm, NULL, err);
		return;
	}
	r = natpmp_mapped(pm, x, &resp, err, sizeof(err));
	if (r != 0) {
		natpmp_finish(pm, r > 0 ? &x->g : NULL, err);
		return;
	}
	natpmp_arm(x);
}

int natpmp_begin(struct portmap *pm, char *err, size_t errlen)
{
	struct natpmp_xchg *x = xcalloc(1, sizeof(*x));
	uint16_t ext = pm->made ? pm->grant.ext_port : pm->port;
	int r = natpmp_init(&x->n);

	if (r < 0) {
		natpmp_error(&x->n, r, err, errlen);
		free(x);
		return -1;
	}
	r = sendnewportmappingrequest(&x->n, natpmp_proto(pm->proto), pm->port, ext, pm->lease_s);
	if (r < 0) {
		natpmp_error(&x->n, r, err, errlen);
		natpmp_close(x);
		return -1;
	}
	x->stage = NP_MAP;
	x->deadline_ms = clock_now_ms() + PM_ATTEMPT_MS;
	x->ev = event_new(pm->base, x->n.s, EV_READ | EV_PERSIST, natpmp_on_event, pm);
	pm->np = x;
	natpmp_arm(x);
	return 0;
}

/* natpmp_delete_sync() - delete our mapping (RFC 6886 §3.4: lifetime 0,
 * external port 0); blocks until the router answers or deadline_ms.
 * Without wait, one datagram. */
void natpmp_delete_sync(struct portmap *pm, uint64_t deadline_ms, int wait)
{
	natpmp_t n;
	natpmpresp_t resp;
	char err[256] = "", gw[INET_ADDRSTRLEN];
	uint64_t start = clock_now_ms(), now;
	int r = natpmp_init(&n);

	if (r < 0) {
		natpmp_error(&n, r, err, sizeof(err));
		goto out;
	}
	r = sendnewportmappingrequest(&n, natpmp_proto(pm->proto), pm->port, 0, 0);
	while (wait && (r >= 0 || r == NATPMP_TRYAGAIN) && (now = clock_now_ms()) < deadline_ms) {
		struct pollfd p = { .fd = n.s, .events = POLLIN };
		struct timeval tv;
		uint64_t ms = remaining_ms(deadline_ms, now);

		if (getnatpmprequesttimeout(&n, &tv) == 0 && tv.tv_sec >= 0)
			ms = MIN(ms, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1);
		poll(&p, 1, (int)ms);
		r = natpmp_read(&n, &resp);
		if (r != NATPMP_TRYAGAIN)
			break;
	}
	if (r == NATPMP_TRYAGAIN)
		snprintf(err, sizeof(err), "no NAT-PMP answer from %s:%d within %" PRIu64 " ms",
			 natpmp_gw(&n, gw), NATPMP_PORT, clock_now_ms() - start);
	else if (r < 0)
		natpmp_error(&n, r, err, sizeof(err));
	else if (wait)
		log_info("portmap %s: NAT-PMP mapping %s:%u deleted at %s (%" PRIu64 " ms)",
			 pm->name, pm->grant.ext_addr, pm->grant.ext_port, natpmp_gw(&n, gw),
			 clock_now_ms() - start);
	closenatpmp(&n);
out:
	if (wait && r < 0)
		log_warnx("portmap %s: NAT-PMP mapping %s:%u not deleted: %s", pm->name,
			  pm->grant.ext_addr, pm->grant.ext_port, err);
}
