/* portmap_pcp.c: a port mapping by PCP (RFC 6887): the MAP request, over
 * UDP to the default gateway, driven by the event loop and bounded by
 * PM_ATTEMPT_MS; the codec is pcp.c.  The rounds are portmap.c's. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "log.h"
#include "osutil.h"
#include "pcp.h"
#include "portmap_int.h"
#include "util.h"

/* RFC 6887 §8.1.1 starts retransmitting at 3 s, which would leave our 2 s
 * budget a single try; we start at NAT-PMP's 250 ms (RFC 6886 §3.1) and
 * keep PCP's doubling and its ±10% jitter. */
#define PCP_FIRST_RT_MS		250

/* One PCP request in flight. */
struct pcp_xchg {
	int fd;			/* UDP, connected to the gateway's port 5351 */
	struct event *ev;
	char gw[INET_ADDRSTRLEN];
	struct pcp_map_request req;
	uint64_t deadline_ms, next_send_ms, rt_ms;
	int last_drop;		/* why the last reply was dropped; 0: none came */
};

void pcp_close(struct pcp_xchg *x)
{
	if (!x)
		return;
	if (x->ev)
		event_free(x->ev);
	if (x->fd >= 0)
		close(x->fd);
	free(x);
}

/* pcp_open() - a socket connected to the gateway's PCP port and the MAP
 * request for lifetime_s.  Connecting makes the kernel pick our client
 * address (§8.1 wants the source address in the request) and drop replies
 * from elsewhere (§8.3).  NULL and err on failure. */
static struct pcp_xchg *pcp_open(struct portmap *pm, uint32_t lifetime_s, char *err,
				 size_t errlen)
{
	struct pcp_xchg *x = xcalloc(1, sizeof(*x));
	struct sockaddr_in gw = { .sin_family = AF_INET, .sin_port = htons(PCP_SERVER_PORT) };
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	x->fd = -1;
	if (pm_default_gateway(&gw.sin_addr) < 0) {
		snprintf(err, errlen, "no IPv4 default gateway to ask for a PCP mapping");
		goto fail;
	}
	inet_ntop(AF_INET, &gw.sin_addr, x->gw, sizeof(x->gw));
	x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0 || connect(x->fd, (struct sockaddr *)&gw, sizeof(gw)) < 0 ||
	    getsockname(x->fd, (struct sockaddr *)&me, &len) < 0) {
		snprintf(err, errlen, "PCP to %s:%d: %s", x->gw, PCP_SERVER_PORT, strerror(errno));
		goto fail;
	}
	memcpy(x->req.nonce, pm->nonce, PCP_NONCE_LEN);
	x->req.lifetime_s = lifetime_s;
	x->req.client = me.sin_addr;
	x->req.proto = (uint8_t)pm->proto;
	x->req.internal_port = pm->port;
	/* a renewal suggests what it has (§11.2) */
	x->req.external_port = pm->made ? pm->grant.ext_port : pm->port;
	if (pm->made)
		inet_pton(AF_INET, pm->grant.ext_addr, &x->req.external);
	return x;
fail:
	pcp_close(x);
	return NULL;
}

static void pcp_sock_error(const struct pcp_xchg *x, int e, char *err, size_t errlen)
{
	if (e == ECONNREFUSED)
		snprintf(err, errlen, "no PCP server at %s:%d (port unreachable)", x->gw,
			 PCP_SERVER_PORT);
	else
		snprintf(err, errlen, "PCP to %s:%d: %s", x->gw, PCP_SERVER_PORT, strerror(e));
}

static int pcp_send(struct pcp_xchg *x, char *err, size_t errlen)
{
	uint8_t buf[PCP_MAP_LEN];
	size_t n = pcp_map_request_build(&x->req, buf, sizeof(buf));

	if (send(x->fd, buf, n, 0) < 0) {
		pcp_sock_error(x, errno, err, errlen);
		return -1;
	}
	return 0;
}

/* pcp_read() - read the replies waiting: 1 and resp when the answer came,
 * 0 when it has not yet, -1 and err when the router will not map by PCP */
static int pcp_read(struct pcp_xchg *x, struct pcp_map_response *resp, char *err, size_t errlen)
{
	uint8_t buf[PCP_MAX_LEN + 4];
	ssize_t n;
	int r;

	for (;;) {
		n = recv(x->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			pcp_sock_error(x, errno, err, errlen);
			return -1;
		}
		r = pcp_map_response_parse(buf, (size_t)n, &x->req, resp);
		if (r == 0)
			return 1;
		if (r == PCP_ERR_NATPMP_ONLY) {
			snprintf(err, errlen, "router %s: %s", x->gw, pcp_error_str(r));
			return -1;
		}
		/* §8.3: a reply that is not the answer is dropped */
		x->last_drop = r;
		log_debug("PCP reply from %s dropped: %s", x->gw, pcp_error_str(r));
	}
}

static void pcp_timeout_error(const struct pcp_xchg *x, uint64_t budget_ms, char *err,
			      size_t errlen)
{
	snprintf(err, errlen, "no PCP answer from %s:%d within %" PRIu64 " ms%s%s", x->gw,
		 PCP_SERVER_PORT, budget_ms, x->last_drop ? "; dropped a reply: " : "",
		 x->last_drop ? pcp_error_str(x->last_drop) : "");
}

/* pcp_grant() - a granted MAP response as a grant; -1 and err if the
 * router refused or granted nothing */
static int pcp_grant(struct portmap *pm, const struct pcp_xchg *x,
		     const struct pcp_map_response *r, struct pm_grant *g, char *err, size_t errlen)
{
	uint64_t now = clock_now_ms();

	if (r->result != PCP_SUCCESS) {
		snprintf(err, errlen, "PCP router %s refused: code %u %s", x->gw, r->result,
			 pcp_result_str(r->result));
		return -1;
	}
	if (r->lifetime_s == 0) {
		snprintf(err, errlen, "PCP router %s granted a lifetime of 0 s", x->gw);
		return -1;
	}
	if (pm->pcp_have_epoch &&
	    !pcp_epoch_valid(pm->pcp_epoch_s, pm->pcp_epoch_at_ms, r->epoch_s, now))
		log_info("portmap %s: PCP router %s lost its state (epoch %u after %u); mapping made again",
			 pm->name, x->gw, r->epoch_s, pm->pcp_epoch_s);
	pm->pcp_epoch_s = r->epoch_s;
	pm->pcp_epoch_at_ms = now;
	pm->pcp_have_epoch = 1;
	memset(g, 0, sizeof(*g));
	g->ext_port = r->external_port;
	if (r->external_is_v4)
		inet_ntop(AF_INET, &r->external_v4, g->ext_addr, sizeof(g->ext_addr));
	else
		inet_ntop(AF_INET6, r->external_addr, g->ext_addr, sizeof(g->ext_addr));
	g->lease_ms = (uint64_t)r->lifetime_s * 1000;
	snprintf(g->router, sizeof(g->router), "%s", x->gw);
	return 0;
}

/* pcp_finish() - the exchange is over: close it and report */
static void pcp_finish(struct portmap *pm, const struct pm_grant *g, const char *err)
{
	pcp_close(pm->pcp);
	pm->pcp = NULL;
	pm_attempt_done(pm, g, err);
}

/* pcp_on_event() - a reply, or time to retransmit or to give up */
static void pcp_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;
	struct pcp_xchg *x = pm->pcp;
	struct pcp_map_response resp;
	struct pm_grant g;
	char err[256];
	uint64_t now;
	int r = pcp_read(x, &resp, err, sizeof(err));

	if (r > 0)
		r = pcp_grant(pm, x, &resp, &g, err, sizeof(err)) == 0 ? 1 : -1;
	if (r != 0) {
		pcp_finish(pm, r > 0 ? &g : NULL, err);
		return;
	}
	now = clock_now_ms();
	if (now >= x->deadline_ms) {
		pcp_timeout_error(x, PM_ATTEMPT_MS, err, sizeof(err));
		pcp_finish(pm, NULL, err);
		return;
	}
	if (now >= x->next_send_ms) {
		if (pcp_send(x, err, sizeof(err)) < 0) {
			pcp_finish(pm, NULL, err);
			return;
		}
		x->rt_ms *= 2;
		x->next_send_ms = now + pm_jitter_ms(x->rt_ms);
	}
	pm_arm_ms(x->ev, MIN(x->next_send_ms, x->deadline_ms) - now);
}

int pcp_begin(struct portmap *pm, char *err, size_t errlen)
{
	struct pcp_xchg *x = pcp_open(pm, pm->lease_s, err, errlen);
	uint64_t now = clock_now_ms();

	if (!x)
		return -1;
	if (pcp_send(x, err, errlen) < 0) {
		pcp_close(x);
		return -1;
	}
	x->rt_ms = PCP_FIRST_RT_MS;
	x->next_send_ms = now + pm_jitter_ms(x->rt_ms);
	x->deadline_ms = now + PM_ATTEMPT_MS;
	x->ev = event_new(pm->base, x->fd, EV_READ | EV_PERSIST, pcp_on_event, pm);
	pm->pcp = x;
	pm_arm_ms(x->ev, x->next_send_ms - now);
	return 0;
}

/* pcp_delete_sync() - delete our mapping: the MAP request again with
 * lifetime 0 and the same nonce (§15); blocks until the router answers or
 * deadline_ms.  Without wait, one datagram and no wait: for a request in
 * flight that the router may or may not have taken. */
void pcp_delete_sync(struct portmap *pm, uint64_t deadline_ms, int wait)
{
	struct pcp_xchg *x;
	struct pcp_map_response resp;
	char err[256] = "";
	uint64_t start = clock_now_ms(), now, next = start, rt = PCP_FIRST_RT_MS;
	int r = 0;

	x = pcp_open(pm, 0, err, sizeof(err));
	if (!x || !wait) {
		if (x)
			pcp_send(x, err, sizeof(err));
		goto out;
	}
	while (r == 0 && (now = clock_now_ms()) < deadline_ms) {
		struct pollfd p = { .fd = x->fd, .events = POLLIN };

		if (now >= next) {
			if (pcp_send(x, err, sizeof(err)) < 0) {
				r = -1;
				break;
			}
			next = now + pm_jitter_ms(rt);
			rt *= 2;
		}
		if (poll(&p, 1, (int)(MIN(next, deadline_ms) - now)) > 0)
			r = pcp_read(x, &resp, err, sizeof(err));
	}
	if (r > 0 && resp.result != PCP_SUCCESS) {
		snprintf(err, sizeof(err), "PCP router %s refused: code %u %s", x->gw, resp.result,
			 pcp_result_str(resp.result));
		r = -1;
	}
	if (r > 0)
		log_info("portmap %s: PCP mapping %s:%u deleted at %s (%" PRIu64 " ms)", pm->name,
			 pm->grant.ext_addr, pm->grant.ext_port, x->gw, clock_now_ms() - start);
	else if (r == 0)
		pcp_timeout_error(x, clock_now_ms() - start, err, sizeof(err));
out:
	if (wait && r <= 0)
		log_warnx("portmap %s: PCP mapping %s:%u not deleted: %s", pm->name,
			  pm->grant.ext_addr, pm->grant.ext_port, err);
	pcp_close(x);
}
