/* relay.c: introductions and forwarding for peers that cannot meet directly. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "idmap.h"
#include "log.h"
#include "osutil.h"
#include "mesh.h"
#include "peer.h"
#include "relay.h"
#include "session.h"
#include "util.h"

/* What a peer can make a relay hold, and do: each request (a want) costs
 * a slot, a mutual pair a channel pair, and every repeat two introductions
 * queued.  All of it is bounded per peer and in all, and what is refused
 * is counted. */
#define MAX_WANTS 4096
#define MAX_WANTS_PER_PEER 64
#define REQUESTS_PER_S 8      /* RELAY_CONNECT frames a peer may send, on average */
#define REQUESTS_BURST 64     /* a peer with every target asking at once */
#define INTRO_MIN_MS 1000     /* a pair is introduced at most this often */

/* A peer's request to meet another, as it last repeated it. */
struct relay_want {
	struct peer *from, *to;
	uint8_t method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	size_t n;
	uint64_t at_ms;
	uint64_t intro_ms;    /* the pair was last introduced then, */
	uint32_t intro_sid;   /* to our session with `from` of that time */
};

/* One direction's handle of an introduced pair: datagrams arrive on it
 * from `owner` and leave on `partner` towards the partner's owner. */
struct relay_chan {
	uint32_t id, partner;
	struct peer *owner;
};

struct relay {
	struct daemon *d;
	struct relay_want *want;
	size_t nwant;
	struct idmap chans;
};

struct relay *relay_new(struct daemon *d)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->d = d;
	r->want = xcalloc(MAX_WANTS, sizeof(*r->want));
	idmap_init(&r->chans);
	return r;
}

void relay_free(struct relay *r)
{
	size_t pos = 0;
	struct relay_chan *c;

	if (!r)
		return;
	while ((c = idmap_next(&r->chans, &pos)))
		free(c);
	idmap_free(&r->chans);
	free(r->want);
	free(r);
}

size_t relay_channel_count(const struct daemon *d)
{
	return d->relay ? d->relay->chans.n : 0;
}

static struct session *live_session(struct peer *p)
{
	return p && p->session ? p->session : NULL;
}

static void queue_observed(struct session *s)
{
	uint8_t frame[64];
	struct wbuf b = { frame, 0, sizeof(frame) };
	struct ipport ip;

	ipport_from_sa(&ip, (const struct sockaddr *)&s->path.sa);
	if (wire_put_relay_observed(&b, &ip) == 0)
		session_queue_frame(s, frame, b.len);
}

void relay_session_up(struct daemon *d, struct session *s)
{
	if (d->role == ROLE_RELAY)
		queue_observed(s);
}

/* ---- channels ------------------------------------------------------------ */

static uint32_t new_channel_id(struct relay *r)
{
	uint32_t id;

	do {
		random_bytes(&id, sizeof(id));
	} while (!id || idmap_get(&r->chans, id));
	return id;
}

/* chan_between() - the channel a owns towards b, if they were introduced */
static struct relay_chan *chan_between(struct relay *r, struct peer *a, struct peer *b)
{
	size_t pos = 0;
	struct relay_chan *c, *o;

	while ((c = idmap_next(&r->chans, &pos))) {
		if (c->owner != a)
			continue;
		o = idmap_get(&r->chans, c->partner);
		if (o && o->owner == b)
			return c;
	}
	return NULL;
}

static struct relay_chan *chan_pair(struct relay *r, struct peer *a, struct peer *b)
{
	struct relay_chan *ca = chan_between(r, a, b), *cb;

	if (ca)
		return ca;
	ca = xcalloc(1, sizeof(*ca));
	cb = xcalloc(1, sizeof(*cb));
	ca->owner = a;
	cb->owner = b;
	ca->id = new_channel_id(r);
	idmap_put(&r->chans, ca->id, ca);
	cb->id = new_channel_id(r);
	idmap_put(&r->chans, cb->id, cb);
	ca->partner = cb->id;
	cb->partner = ca->id;
	log_info("relay: introduced %s and %s (channels %08x, %08x)", a->name, b->name, ca->id,
		 cb->id);
	return ca;
}

static void chan_drop_pair(struct relay *r, struct relay_chan *c)
{
	struct relay_chan *o = idmap_del(&r->chans, c->partner);

	idmap_del(&r->chans, c->id);
	log_info("relay: channels %08x, %08x closed", c->id, c->partner);
	free(o);
	free(c);
}

/* ---- requests and introductions ----------------------------------------- */

static struct relay_want *find_want(struct relay *r, struct peer *from, struct peer *to)
{
	size_t i;

	for (i = 0; i < r->nwant; i++)
		if (r->want[i].from == from && r->want[i].to == to)
			return &r->want[i];
	return NULL;
}

/* request_allowed() - the per-peer rate of requests: a token bucket in
 * thousandths, so a peer cannot make the relay search its tables and
 * queue introductions as fast as it can send */
static int request_allowed(struct peer *p, uint64_t now_ms)
{
	const uint64_t max = (uint64_t)REQUESTS_BURST * 1000;

	if (!p->relay_req_ms)
		p->relay_req_milli = max;
	else if (now_ms > p->relay_req_ms)
		p->relay_req_milli = MIN(max, p->relay_req_milli +
						      (now_ms - p->relay_req_ms) * REQUESTS_PER_S);
	p->relay_req_ms = now_ms;
	if (p->relay_req_milli < 1000)
		return 0;
	p->relay_req_milli -= 1000;
	return 1;
}

/* send_intro() - tell `to` about `about`: its candidates, the address the
 * relay sees it from (for hole punching), and the channel to reach it */
static void send_intro(struct session *to, const struct relay_want *about, uint32_t channel)
{
	uint8_t frame[1024], method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	struct wbuf b = { frame, 0, sizeof(frame) };
	struct session *as = live_session(about->from);
	size_t n = 0, i;

	if (as) {
		method[n] = WIRE_CAND_REFLEXIVE;
		ipport_from_sa(&addr[n++], (const struct sockaddr *)&as->path.sa);
	}
	for (i = 0; i < about->n && n < WIRE_MAX_CANDIDATES; i++, n++) {
		method[n] = about->method[i];
		addr[n] = about->addr[i];
	}
	if (wire_put_relay_cand(&b, WF_RELAY_INTRO, about->from->key, channel, method, addr, n) == 0)
		session_queue_frame(to, frame, b.len);
}

void relay_connect(struct daemon *d, struct peer *from, const struct wire_frame *fr)
{
	struct relay *r = d->relay;
	struct relay_want *w, *back;
	struct relay_chan *c;
	struct peer *to;

	if (!r || !from)
		return;
	if (!request_allowed(from, clock_now_ms())) {
		d->ctr.relay_requests_limited++;
		return;
	}
	to = peer_find_key(d, fr->u.cand.key);
	if (!to || to == from) {
		log_debug("relay: %s asked for a peer not pinned here", from->name);
		return;
	}
	if (!(w = find_want(r, from, to))) {
		if (r->nwant == MAX_WANTS || from->relay_wants >= MAX_WANTS_PER_PEER) {
			d->ctr.relay_requests_refused++;
			return;
		}
		w = &r->want[r->nwant++];
		memset(w, 0, sizeof(*w));
		w->from = from;
		w->to = to;
		from->relay_wants++;
		log_info("relay: %s asks to meet %s", from->name, to->name);
	}
	w->n = fr->u.cand.n;
	memcpy(w->method, fr->u.cand.method, w->n);
	memcpy(w->addr, fr->u.cand.addr, w->n * sizeof(w->addr[0]));
	w->at_ms = clock_now_ms();
	/* both pinned here and both asked: introduce them, every time either
	 * repeats its request (the introduction is soft state too) */
	back = find_want(r, to, from);
	if (!back || !live_session(from) || !live_session(to))
		return;
	c = chan_pair(r, from, to);
	/* a peer repeating itself faster than that learns nothing new; one
	 * with a new session does */
	if (w->intro_ms && w->at_ms - w->intro_ms < INTRO_MIN_MS &&
	    w->intro_sid == from->session->local_id && back->intro_sid == to->session->local_id)
		return;
	w->intro_ms = back->intro_ms = w->at_ms;
	w->intro_sid = from->session->local_id;
	back->intro_sid = to->session->local_id;
	send_intro(from->session, back, c->id);
	send_intro(to->session, w, c->partner);
}

static void drop_want(struct relay *r, size_t i)
{
	r->want[i].from->relay_wants--;
	r->want[i] = r->want[--r->nwant];
}

void relay_peer_gone(struct daemon *d, struct peer *p)
{
	struct relay *r = d->relay;
	struct relay_chan *c;
	size_t i = 0, pos = 0;

	if (!r)
		return;
	while (i < r->nwant) {
		if (r->want[i].from == p || r->want[i].to == p)
			drop_want(r, i);
		else
			i++;
	}
	while ((c = idmap_next(&r->chans, &pos))) {
		if (c->owner == p) {
			chan_drop_pair(r, c);
			pos = 0; /* the table moved: start over */
		}
	}
}

void relay_housekeeping(struct daemon *d, uint64_t now_ms)
{
	struct relay *r = d->relay;
	struct relay_chan *c, *o;
	size_t i = 0, pos = 0;

	if (!r)
		return;
	while (i < r->nwant) {
		if (now_ms - r->want[i].at_ms > RELAY_TTL_MS) {
			log_info("relay: %s no longer asks for %s", r->want[i].from->name,
				 r->want[i].to->name);
			drop_want(r, i);
		} else {
			i++;
		}
	}
	/* a pair lives while both still ask for each other */
	while ((c = idmap_next(&r->chans, &pos))) {
		o = idmap_get(&r->chans, c->partner);
		if (!o || !find_want(r, c->owner, o->owner) || !find_want(r, o->owner, c->owner)) {
			chan_drop_pair(r, c);
			pos = 0;
		}
	}
}

/* ---- forwarding ---------------------------------------------------------- */

/* take_tokens() - the per-peer rate limit: a token bucket of bytes, a
 * quarter of a second deep */
static int take_tokens(struct daemon *d, struct peer *p, size_t len)
{
	uint64_t rate = d->cfg.relay_bytes_per_second, now, burst, elapsed;

	if (!rate)
		return 1;
	now = clock_now_us();
	burst = MAX(rate / 4, (uint64_t)65536);
	/* a second refills any bucket; capping it keeps the product small */
	elapsed = MIN(now - p->relay_tokens_us, (uint64_t)1000000);
	p->relay_tokens += elapsed * rate / 1000000;
	if (p->relay_tokens > burst)
		p->relay_tokens = burst;
	p->relay_tokens_us = now;
	if (p->relay_tokens < len)
		return 0;
	p->relay_tokens -= len;
	return 1;
}

void relay_forward(struct daemon *d, uint32_t channel, const uint8_t *p, size_t len,
		   const struct path_addr *from)
{
	struct relay *r = d->relay;
	struct relay_chan *c = r ? idmap_get(&r->chans, channel) : NULL, *o;
	struct wire_outer hdr = { .type = WIRE_RELAY };
	uint8_t h[WIRE_OUTER_DATA_LEN];
	struct session *src, *dst;

	o = c ? idmap_get(&r->chans, c->partner) : NULL;
	src = c ? live_session(c->owner) : NULL;
	dst = o ? live_session(o->owner) : NULL;
	/* only the owner may use a channel: a datagram from anywhere else is
	 * not forwarded, so the relay is no open reflector */
	if (!src || !dst || from->channel ||
	    !addr_eq((const struct sockaddr *)&src->path.sa, (const struct sockaddr *)&from->sa) ||
	    c->owner->admin_down || o->owner->admin_down) {
		d->ctr.relay_dropped_unknown++;
		return;
	}
	if (!take_tokens(d, c->owner, len)) {
		d->ctr.relay_dropped_rate++;
		return;
	}
	hdr.receiver_id = o->id;
	wire_outer_put(h, &hdr);
	mesh_send_raw(d->mesh, (const struct sockaddr *)&dst->path.sa, dst->path.len, h, sizeof(h),
		      p, len, NULL, 0);
	d->ctr.datagrams_relayed++;
	c->owner->relayed++;
}
