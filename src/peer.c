/* peer.c: peers and their connection attempts. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "mesh.h"
#include "peer.h"
#include "session.h"
#include "util.h"

static const char *const state_names[] = {
	[PEER_CONNECTING] = "connecting",
	[PEER_CONNECTED] = "connected",
	[PEER_DEGRADED] = "degraded",
	[PEER_RECONNECTING] = "reconnecting",
	[PEER_DISCONNECTED] = "disconnected",
};

const char *peer_state_name(enum peer_state st)
{
	return state_names[st];
}

uint64_t backoff_next_ms(uint64_t cur, uint64_t min, uint64_t max)
{
	if (cur < min)
		return min;
	return cur >= max / 2 ? max : cur * 2;
}

/* jitter_ms() - "equal jitter": half fixed, half random, so peers that
 * lost the same path do not retry in lockstep */
uint64_t jitter_ms(uint64_t d)
{
	uint32_t r;

	if (d < 2 || getentropy(&r, sizeof(r)) < 0)
		return d;
	return d / 2 + r % (d / 2 + 1);
}

/* set_state() - every change is logged with its reason and method */
static void set_state(struct peer *p, enum peer_state st, const char *why)
{
	if (p->state == st)
		return;
	if (st == PEER_CONNECTED)
		log_info("peer %s: %s -> %s (method %s)", p->name, state_names[p->state],
			 state_names[st], p->method ? p->method : "-");
	else
		log_info("peer %s: %s -> %s: %s", p->name, state_names[p->state], state_names[st],
			 why ? why : "-");
	p->state = st;
	p->state_since_ms = clock_now_ms();
}

static void on_retry(evutil_socket_t fd, short what, void *arg);

struct peer *peer_new(struct daemon *d, const char *name, const char *fingerprint)
{
	struct peer *p = xcalloc(1, sizeof(*p));

	p->d = d;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->fingerprint, sizeof(p->fingerprint), "%s", fingerprint);
	p->state = PEER_CONNECTING;
	p->state_since_ms = clock_now_ms();
	p->retry_ev = evtimer_new(d->base, on_retry, p);
	TAILQ_INSERT_TAIL(&d->peers, p, entry);
	return p;
}

void peer_free(struct peer *p)
{
	struct daemon *d = p->d;

	if (p->attempt)
		session_close(p->attempt, "peer removed");
	if (p->session)
		session_close(p->session, "peer removed");
	event_free(p->retry_ev);
	TAILQ_REMOVE(&d->peers, p, entry);
	free(p);
}

struct peer *peer_find(struct daemon *d, const char *name)
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct peer *peer_find_fingerprint(struct daemon *d, const char *fp)
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (strcmp(p->fingerprint, fp) == 0)
			return p;
	return NULL;
}

int peer_add_endpoint(struct peer *p, const struct sockaddr *sa, socklen_t len)
{
	if (p->nendpoint >= PEER_MAX_ENDPOINTS)
		return -1;
	memcpy(&p->endpoint[p->nendpoint++], sa, len);
	return 0;
}

static void schedule_retry(struct peer *p, uint64_t delay_ms)
{
	struct timeval tv = { (time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000 };

	p->next_retry_ms = clock_now_ms() + delay_ms;
	evtimer_add(p->retry_ev, &tv);
}

/* dial() - one handshake to the next endpoint, in turn */
static void dial(struct peer *p)
{
	const struct sockaddr *ep;

	p->next_retry_ms = 0;
	if (p->admin_down || p->session || p->attempt || !p->nendpoint)
		return;
	ep = (const struct sockaddr *)&p->endpoint[p->attempt_no++ % p->nendpoint];
	p->attempt = session_client_new(p->d, p->d->mesh, p, ep, addr_len(ep));
	if (!p->attempt)
		peer_session_gone(p, NULL, "cannot start a handshake");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	dial(arg);
}

void peer_start(struct peer *p)
{
	if (p->admin_down) {
		set_state(p, PEER_DISCONNECTED, NULL);
		return;
	}
	if (!p->nendpoint && !p->session) {
		log_info("peer %s: no endpoint known, waiting for it to connect", p->name);
		return;
	}
	dial(p);
}

void peer_session_up(struct peer *p, struct session *s)
{
	struct session *old = p->session;

	if (p->attempt == s)
		p->attempt = NULL;
	if (old == s)
		return;
	p->session = s;
	p->method = "direct";
	p->backoff_ms = 0;
	p->last_error[0] = '\0';
	evtimer_del(p->retry_ev);
	p->next_retry_ms = 0;
	/* a new session replaces the old one: the peer restarted, or both
	 * sides dialled; what rode the old session cannot continue */
	if (old)
		session_close(old, "replaced by a new session");
	if (p->attempt) {
		session_close(p->attempt, "another session was established");
		p->attempt = NULL;
	}
	if (p->admin_down) {
		session_close(s, "disconnected by the operator");
		return;
	}
	set_state(p, PEER_CONNECTED, NULL);
}

void peer_session_gone(struct peer *p, struct session *s, const char *why)
{
	int was_up = s && p->session == s;

	if (s && p->attempt == s)
		p->attempt = NULL;
	else if (was_up)
		p->session = NULL;
	else if (s)
		return; /* some other session of this peer, already replaced */
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	if (p->admin_down) {
		set_state(p, PEER_DISCONNECTED, NULL);
		return;
	}
	if (p->session)
		return;
	p->method = NULL;
	set_state(p, p->state == PEER_CONNECTING ? PEER_CONNECTING : PEER_RECONNECTING, why);
	if (!p->nendpoint)
		return; /* it will dial us */
	p->backoff_ms = backoff_next_ms(p->backoff_ms, p->d->cfg.backoff_min_ms,
				       p->d->cfg.backoff_max_ms);
	schedule_retry(p, was_up ? 0 : jitter_ms(p->backoff_ms));
}

void peer_disconnect(struct peer *p)
{
	p->admin_down = 1;
	evtimer_del(p->retry_ev);
	p->next_retry_ms = 0;
	if (p->attempt)
		session_close(p->attempt, "disconnected by the operator");
	if (p->session)
		session_close(p->session, "disconnected by the operator");
	set_state(p, PEER_DISCONNECTED, "disconnected by the operator");
}

void peer_connect(struct peer *p)
{
	if (!p->admin_down)
		return;
	p->admin_down = 0;
	p->backoff_ms = 0;
	set_state(p, PEER_CONNECTING, "connect requested by the operator");
	peer_start(p);
}
