/* peer.c: peers, and the glue between their sessions and the negotiation.
 *
 * How a peer is reached is decided by the pure core in core/nego.c: which
 * candidates to dial or challenge, when, which path to move to and which
 * session to keep.  This file holds what the core cannot: the sessions
 * themselves (session.c carries out handshakes, challenges, migrations),
 * the timer, the host's own addresses, the candidate filter, what we tell
 * peers and relays about ourselves.  It feeds the core each event with the
 * time and carries out the actions it queues (drain()), in order. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "dtls.h"
#include "egress.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "mesh.h"
#include "netlink.h"
#include "network.h"
#include "peer.h"
#include "relay.h"
#include "session.h"
#include "util.h"

#define LOCAL_ADDRS_MS 10000 /* how long the list of our own addresses is trusted */
#define FILTER_LOG_MS 10000  /* dropped candidates: one line per peer this often at most */
#define OBSERVED_LOG_MS 1000 /* a relay's changing story: logged and passed on once a second */

/* learned candidates live three relay refreshes and five seconds */
_Static_assert(NEGO_CAND_TTL_MS == 3 * RELAY_REFRESH_MS + 5000, "candidate lifetime");

static void drain(struct peer *p);
static void send_label(struct peer *p);
static void arm(struct peer *p);
static void on_tick(evutil_socket_t fd, short what, void *arg);

const char *peer_state_name(enum nego_state st)
{
	return nego_state_name(st);
}

const char *peer_method(const struct peer *p)
{
	return p->session ? path_method_name(nego_method(&p->nego)) : NULL;
}

/* ---- peers --------------------------------------------------------------- */

struct peer *peer_new(struct daemon *d, const char *name, const char *fingerprint)
{
	struct peer *p = xcalloc(1, sizeof(*p));
	struct nego_config nc = {
		.probe_min_ms = d->cfg.probe_interval_min_ms,
		.probe_max_ms = d->cfg.probe_interval_max_ms,
		.probe_timeout_ms = d->cfg.probe_timeout_ms,
		.backoff_min_ms = d->cfg.backoff_min_ms,
		.backoff_max_ms = d->cfg.backoff_max_ms,
		.relay_role = d->role == ROLE_RELAY,
		/* of simultaneous sessions both sides keep the one the
		 * smaller key dialled (11.17) */
		.we_win = strcmp(d->id.fingerprint, fingerprint) < 0,
		.seed = random_u64(),
	};

	p->d = d;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->fingerprint, sizeof(p->fingerprint), "%s", fingerprint);
	if (strncmp(fingerprint, "sha256:", 7) == 0)
		hex_decode(fingerprint + 7, p->key, sizeof(p->key));
	nego_init(&p->nego, &nc, clock_now_ms());
	p->timer = evtimer_new(d->base, on_tick, p);
	TAILQ_INSERT_TAIL(&d->peers, p, entry);
	return p;
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

struct peer *peer_find_key(struct daemon *d, const uint8_t key[WIRE_KEY_LEN])
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (memcmp(p->key, key, WIRE_KEY_LEN) == 0)
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

/* relay_index() - which of p's relays r is, or -1 */
static int relay_index(const struct peer *p, const struct peer *r)
{
	size_t i;

	for (i = 0; i < p->nrelay; i++)
		if (strcmp(p->relay[i], r->name) == 0)
			return (int)i;
	return -1;
}

int peer_is_relay(const struct peer *r)
{
	const struct peer *p;

	TAILQ_FOREACH(p, &r->d->peers, entry)
		if (relay_index(p, r) >= 0)
			return 1;
	return 0;
}

/* tell_relay() - what p's core knows of its relay i: r's session, if any */
static void tell_relay(struct peer *p, int i, const struct peer *r)
{
	const struct sockaddr *sa = r && r->session ? (const struct sockaddr *)&r->session->path.sa
						    : NULL;

	nego_relay(&p->nego, i, sa, sa && r->nego.state == NEGO_CONNECTED);
}

/* relay_view_sync() - r's session or state changed: the peers it relays
 * for hear of it (their relayed candidates are usable only through a
 * relay we are connected to) */
static void relay_view_sync(struct peer *r)
{
	const struct sockaddr *sa = r->session ? (const struct sockaddr *)&r->session->path.sa : NULL;
	int connected = sa && r->nego.state == NEGO_CONNECTED, i;
	struct peer *q;

	if (!!sa == r->relay_view.known && connected == r->relay_view.connected &&
	    (!sa || addr_eq(sa, (const struct sockaddr *)&r->relay_view.addr)))
		return;
	r->relay_view.known = !!sa;
	r->relay_view.connected = connected;
	if (sa)
		memcpy(&r->relay_view.addr, sa, addr_len(sa));
	TAILQ_FOREACH(q, &r->d->peers, entry)
		if ((i = relay_index(q, r)) >= 0)
			tell_relay(q, i, r);
}

static void local_free(struct peer *p)
{
	free(p->local.a);
	free(p->local.pfx);
	memset(&p->local, 0, sizeof(p->local));
}

void peer_free(struct peer *p)
{
	struct daemon *d = p->d;

	/* down first: the session's close must not start a round */
	nego_admin(&p->nego, 1, "peer removed", clock_now_ms());
	drain(p);
	while (p->nattempt)
		session_discard(p->attempt[--p->nattempt].s, NULL);
	if (p->session)
		session_close(p->session, "peer removed");
	if (p->admin_down)
		d->ndown--;
	relay_peer_gone(d, p);
	event_free(p->timer);
	TAILQ_REMOVE(&d->peers, p, entry);
	local_free(p);
	free(p);
}

/* ---- carrying out what the core decided ---------------------------------- */

static int attempt_slot(const struct peer *p, const struct session *s)
{
	size_t i;

	for (i = 0; i < p->nattempt; i++)
		if (p->attempt[i].s == s)
			return (int)i;
	return -1;
}

static void attempt_remove(struct peer *p, int i)
{
	p->attempt[i] = p->attempt[--p->nattempt];
}

static void log_state(const struct peer *p, const struct nego_action *a)
{
	char b[96];

	if (a->has_path)
		log_info("peer %s: %s -> %s: %s (method %s, path %s)", p->name,
			 nego_state_name(a->from), nego_state_name(a->state), a->why,
			 path_method_name(a->method), path_addr_fmt(&a->to, b));
	else
		log_info("peer %s: %s -> %s: %s", p->name, nego_state_name(a->from),
			 nego_state_name(a->state), a->why);
}

static void act(struct peer *p, const struct nego_action *a)
{
	struct daemon *d = p->d;
	struct session *s;
	size_t i, n;

	switch (a->type) {
	case NEGO_DIAL:
		s = p->nattempt < PEER_MAX_ATTEMPTS
			    ? session_client_new(d, d->mesh, p, &a->to, a->method, a->id)
			    : NULL;
		if (!s) {
			nego_attempt_gone(&p->nego, a->id, "the handshake could not start",
					  clock_now_ms());
			break;
		}
		p->attempt[p->nattempt].id = a->id;
		p->attempt[p->nattempt++].s = s;
		break;
	case NEGO_DROP:
		for (i = 0; i < p->nattempt; i++) {
			if (p->attempt[i].id == a->id) {
				s = p->attempt[i].s;
				attempt_remove(p, (int)i);
				session_discard(s, NULL);
				break;
			}
		}
		break;
	case NEGO_CHALLENGE:
		n = p->session ? session_challenge(p->session, &a->to, a->data, a->bytes) : 0;
		nego_challenge_sent(&p->nego, a, n);
		break;
	case NEGO_MIGRATE:
		if (p->session)
			session_migrate(p->session, &a->to, a->method, a->why);
		break;
	case NEGO_LABEL:
		send_label(p);
		break;
	case NEGO_STATE:
		log_state(p, a);
		break;
	case NEGO_TAKE:
		if (!(s = p->incoming)) {
			log_warnx("peer %s: no session to take", p->name);
			break;
		}
		p->incoming = NULL;
		if (p->session)
			session_discard(p->session, a->why);
		p->session = s;
		s->method = a->method;
		break;
	case NEGO_REFUSE:
		if ((s = p->incoming)) {
			p->incoming = NULL;
			session_discard(s, a->why);
		}
		break;
	case NEGO_CLOSE:
		/* comes back as peer_session_gone() */
		if (p->session)
			session_close(p->session, a->why);
		break;
	}
}

/* drain() - carry out what the core queued, in order (what that sets off,
 * a session closing say, may queue more: it is carried out too) */
/* take_counters() - the core's counters into the daemon's */
static void take_counters(struct peer *p)
{
	struct nego *n = &p->nego;

	if (!n->ctr.evicted && !n->ctr.limited && !n->ctr.actions_lost)
		return;
	p->d->ctr.candidates_evicted += n->ctr.evicted;
	p->d->ctr.path_sends_limited += n->ctr.limited;
	if (n->ctr.actions_lost)
		log_warnx("peer %s: %llu negotiation actions lost", p->name,
			  (unsigned long long)n->ctr.actions_lost);
	memset(&n->ctr, 0, sizeof(n->ctr));
}

static void drain(struct peer *p)
{
	struct nego *n = &p->nego;
	struct nego_action a;
	int any = 0;

	while (nego_next(n, &a)) {
		act(p, &a);
		any = 1;
	}
	take_counters(p);
	if (any) {
		relay_view_sync(p);
		arm(p);
	}
}

/* ---- what we tell peers and relays about ourselves ---------------------- */

/* local_refresh() - this host's addresses, listed again now and then */
static void local_refresh(struct peer *p)
{
	uint64_t now = clock_now_ms();
	struct nl_ifaddr *a = NULL;
	size_t n = 0, i;

	if (p->local.at_ms && now - p->local.at_ms < LOCAL_ADDRS_MS)
		return;
	p->local.at_ms = now;
	if (nl_addr_list(&a, &n) < 0)
		return; /* keep what we had */
	free(p->local.a);
	free(p->local.pfx);
	p->local.a = a;
	p->local.n = n;
	p->local.pfx = xcalloc(n + 1, sizeof(*p->local.pfx));
	for (i = 0; i < n; i++) {
		p->local.pfx[i].family = a[i].family;
		memcpy(p->local.pfx[i].addr, a[i].addr, 16);
		p->local.pfx[i].len = a[i].prefixlen;
	}
}

/* local_only() - loopback and IPv6 link-local addresses reach no peer */
static int local_only(const struct nl_ifaddr *a)
{
	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return (a->addr[0] == 0xfe && (a->addr[1] & 0xc0) == 0x80) ||
	       (memcmp(a->addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);
}

/* local_cands() - our own addresses with the mesh port: a peer on the same
 * network reaches us on them directly */
static size_t local_cands(struct peer *p, uint8_t *method, struct ipport *addr, size_t max)
{
	const struct sockaddr *bound = mesh_local_sockaddr(p->d->mesh);
	uint16_t port = mesh_local_port(p->d->mesh);
	size_t n = 0, i;

	if (!addr_is_any(bound)) {
		if (max) {
			method[0] = WIRE_CAND_DIRECT;
			ipport_from_sa(&addr[0], bound);
		}
		return MIN(max, (size_t)1);
	}
	local_refresh(p);
	for (i = 0; i < p->local.n && n < max; i++) {
		const struct nl_ifaddr *a = &p->local.a[i];

		if (a->family != bound->sa_family || local_only(a))
			continue;
		memset(&addr[n], 0, sizeof(addr[0]));
		addr[n].family = (uint8_t)a->family;
		memcpy(addr[n].addr, a->addr, 16);
		addr[n].port = port;
		method[n++] = WIRE_CAND_DIRECT;
	}
	return n;
}

/* all_cands() - local addresses, then the addresses relays see us from */
static size_t all_cands(struct peer *p, uint8_t *method, struct ipport *addr)
{
	size_t n = local_cands(p, method, addr, WIRE_MAX_CANDIDATES), i;
	struct peer *r;

	TAILQ_FOREACH(r, &p->d->peers, entry) {
		if (!r->have_observed || n == WIRE_MAX_CANDIDATES)
			continue;
		for (i = 0; i < n; i++)
			if (memcmp(&addr[i], &r->observed, sizeof(r->observed)) == 0)
				break;
		if (i < n)
			continue;
		method[n] = WIRE_CAND_REFLEXIVE;
		addr[n++] = r->observed;
	}
	return n;
}

/* ask_relay() - ask relay r to introduce us to q (soft state, repeated) */
static void ask_relay(struct peer *r, struct peer *q)
{
	uint8_t frame[1024], method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	struct wbuf b = { frame, 0, sizeof(frame) };
	size_t n;

	if (!r->session || r->nego.state != NEGO_CONNECTED || q->admin_down)
		return;
	n = local_cands(r, method, addr, WIRE_MAX_CANDIDATES);
	if (wire_put_relay_cand(&b, WF_RELAY_CONNECT, q->key, 0, method, addr, n) == 0)
		session_queue_frame(r->session, frame, b.len);
}

/* announce() - what we repeat to a connected peer: our candidates to an
 * ordinary peer, our requests to a relay */
static void announce(struct peer *p)
{
	uint8_t method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	struct daemon *d = p->d;
	struct peer *q;
	size_t n;

	p->announce_ms = clock_now_ms() + RELAY_REFRESH_MS;
	if (!p->session || d->role == ROLE_RELAY)
		return;
	if (peer_is_relay(p)) {
		TAILQ_FOREACH(q, &d->peers, entry)
			if (relay_index(q, p) >= 0)
				ask_relay(p, q);
		return;
	}
	n = all_cands(p, method, addr);
	link_queue_candidates(p->session->link, method, addr, n);
	send_label(p);
	session_wake(p->session);
}

/* send_label() - tell the peer how we found the path we send on */
static void send_label(struct peer *p)
{
	uint8_t frame[4];
	struct wbuf b = { frame, 0, sizeof(frame) };

	if (p->session && wire_put_path_method(&b, (uint8_t)p->session->method) == 0)
		session_queue_frame(p->session, frame, b.len);
}

void peer_path_label(struct peer *p, struct session *s, uint8_t method,
		     const struct path_addr *from)
{
	if (!p || s != p->session)
		return;
	nego_label(&p->nego, (enum path_method)method, from);
}

/* ---- candidates ---------------------------------------------------------- */

static void add_endpoints(struct peer *p)
{
	uint64_t now = clock_now_ms();
	struct path_addr pa;
	size_t i;

	for (i = 0; i < p->nendpoint; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&p->endpoint[i];
		struct path_new pn = { &pa, PATH_DIRECT, PATH_CONFIGURED, -1, 0 };

		path_addr_direct(&pa, sa, addr_len(sa));
		nego_candidate(&p->nego, &pn, now);
	}
}

/* own_prefixes() - this host's networks: its interfaces' prefixes, and on
 * a provider the VM networks it serves (they live in capture namespaces,
 * not among the interfaces, but they are this host's all the same).  The
 * caller frees the array. */
static struct path_prefix *own_prefixes(struct peer *p, size_t *n)
{
	struct daemon *d = p->d;
	struct path_prefix *own;
	struct network *net;
	size_t k = 0;

	local_refresh(p);
	TAILQ_FOREACH(net, &d->networks, entry)
		k++;
	own = xcalloc(p->local.n + k + 1, sizeof(*own));
	if (p->local.n)
		memcpy(own, p->local.pfx, p->local.n * sizeof(*own));
	*n = p->local.n;
	TAILQ_FOREACH(net, &d->networks, entry) {
		if (!net->cap)
			continue;
		own[*n].family = AF_INET;
		memcpy(own[*n].addr, &net->gateway, 4);
		own[(*n)++].len = net->prefix_len;
	}
	return own;
}

/* cand_allowed() - may an address a peer or relay named, or traffic came
 * from, become a candidate?  A refusal is counted, and logged now and then
 * naming the peer and who told us. */
static int cand_allowed(struct peer *p, const struct sockaddr *sa, const char *source)
{
	const struct config *cfg = &p->d->cfg;
	struct path_prefix allow[CONFIG_CANDIDATE_ALLOW_MAX], *own;
	uint64_t now = clock_now_ms();
	enum path_verdict v;
	char a[ADDRSTRLEN];
	size_t i, nown;

	for (i = 0; i < cfg->ncandidate_allow; i++) {
		allow[i].family = cfg->candidate_allow[i].family;
		memcpy(allow[i].addr, cfg->candidate_allow[i].addr, 16);
		allow[i].len = cfg->candidate_allow[i].prefix_len;
	}
	own = own_prefixes(p, &nown);
	v = path_filter(sa, own, nown, allow, cfg->ncandidate_allow);
	free(own);
	if (v == PATH_OK)
		return 1;
	p->d->ctr.candidates_filtered++;
	p->filtered++;
	if (!p->filter_log_ms || now - p->filter_log_ms >= FILTER_LOG_MS) {
		log_warnx("peer %s: candidate %s from %s dropped: %s (%llu dropped so far;"
			  " candidate-allow accepts a range)", p->name, addr_fmt(sa, a), source,
			  path_verdict_name(v), (unsigned long long)p->filtered);
		p->filter_log_ms = now;
	}
	return 0;
}

/* learn() - a candidate a peer or relay (source) announced; one we know
 * already is refreshed, a new one must pass the filter */
static void learn(struct peer *p, const struct ipport *ip, uint8_t how, uint64_t expires,
		  const char *source)
{
	struct sockaddr_storage ss;
	struct path_addr pa;
	socklen_t len = ipport_to_sa(ip, &ss);
	struct path_new pn = { &pa, how == WIRE_CAND_REFLEXIVE ? PATH_HOLE_PUNCHED : PATH_DIRECT,
			       PATH_ANNOUNCED, -1, expires };

	if (!len)
		return;
	path_addr_direct(&pa, (struct sockaddr *)&ss, len);
	if (!nego_find(&p->nego, &pa) && !cand_allowed(p, (struct sockaddr *)&ss, source))
		return;
	nego_candidate(&p->nego, &pn, clock_now_ms());
}

void peer_candidates(struct peer *p, struct session *s, const struct wire_frame *fr)
{
	uint64_t exp = clock_now_ms() + NEGO_CAND_TTL_MS;
	size_t i;

	if (!p || p->d->role == ROLE_RELAY)
		return;
	for (i = 0; i < fr->u.cand.n; i++)
		learn(p, &fr->u.cand.addr[i], fr->u.cand.method[i], exp, "its CANDIDATES");
	drain(p);
	(void)s;
}

void peer_relay_observed(struct peer *r, const struct ipport *addr)
{
	struct peer *q;
	char a[ADDRSTRLEN], source[CONFIG_NAME_MAX + 8];
	struct sockaddr_storage ss;
	uint64_t now = clock_now_ms();

	if (!r || (r->have_observed && memcmp(&r->observed, addr, sizeof(*addr)) == 0))
		return;
	r->observed = *addr;
	r->have_observed = 1;
	/* that is our public address: the VM must not come back in through it */
	snprintf(source, sizeof(source), "relay %s", r->name);
	egress_note_public(r->d, addr, source);
	/* a relay that keeps changing its story is heard once a second; the
	 * latest address goes out with the next announcement anyway */
	if (r->observed_ms && now - r->observed_ms < OBSERVED_LOG_MS)
		return;
	r->observed_ms = now;
	ipport_to_sa(addr, &ss);
	log_info("peer %s: relay sees us at %s", r->name, addr_fmt((struct sockaddr *)&ss, a));
	/* peers we are connected to learn our new address at once */
	TAILQ_FOREACH(q, &r->d->peers, entry)
		if (q->session && !peer_is_relay(q)) {
			q->announce_ms = now;
			arm(q);
		}
}

int peer_relay_intro(struct peer *r, struct session *s, const struct wire_frame *fr)
{
	struct peer *q = r ? peer_find_key(r->d, fr->u.cand.key) : NULL;
	uint64_t now = clock_now_ms(), exp = now + RELAY_TTL_MS;
	struct path_addr pa;
	int ri = q ? relay_index(q, r) : -1, fresh;
	struct path_new pn = { &pa, PATH_RELAY, PATH_ANNOUNCED, ri, exp };
	char source[CONFIG_NAME_MAX + 8];
	size_t i;

	/* only peers that name this relay as theirs are met through it */
	if (ri < 0 || !fr->u.cand.channel)
		return -1;
	if (q->admin_down)
		return 0;
	pa = s->path;
	pa.channel = fr->u.cand.channel;
	fresh = !nego_find(&q->nego, &pa);
	nego_candidate(&q->nego, &pn, now);
	snprintf(source, sizeof(source), "relay %s", r->name);
	for (i = 0; i < fr->u.cand.n; i++)
		learn(q, &fr->u.cand.addr[i], fr->u.cand.method[i], exp, source);
	if (fresh) {
		log_info("peer %s: relay %s introduced it (channel %08x, %zu candidates)", q->name,
			 r->name, pa.channel, fr->u.cand.n);
		/* a peer waiting for a way to reach it tries the new ones now */
		nego_introduced(&q->nego, now);
	}
	drain(q);
	arm(q);
	return 0;
}

/* ---- what the sessions hear ----------------------------------------------- */

void peer_path_response(struct peer *p, struct session *s, const uint8_t *data,
			const struct path_addr *from)
{
	if (!p || s != p->session)
		return;
	nego_response(&p->nego, data, from, clock_now_ms());
	drain(p);
	arm(p);
}

void peer_path_alive(struct peer *p, struct session *s, const struct path_addr *from,
		     int probing, size_t len)
{
	uint64_t now;

	if (s != p->session)
		return;
	now = s->last_rx_ms;
	/* the core asks the filter only about an address it would learn */
	if (nego_heard(&p->nego, from, probing, len, -1, now) == NEGO_ASK_FILTER)
		nego_heard(&p->nego, from, probing, len,
			   cand_allowed(p, (const struct sockaddr *)&from->sa, "its traffic"), now);
	drain(p);
}

void peer_path_sent(struct peer *p, struct session *s, const struct path_addr *to, size_t bytes)
{
	if (p && s == p->session)
		nego_sent(&p->nego, to, bytes);
}

/* ---- the timer ----------------------------------------------------------- */

static uint64_t busy_ms(const struct peer *p)
{
	const struct session *s = p->session;
	const struct rtt *r;

	if (!s || !s->link || !link_bytes_in_flight(s->link))
		return 0;
	r = link_rtt(s->link);
	return MAX((uint64_t)200, r->has_sample ? 3 * r->smoothed_us / 1000 : 0);
}

static void arm(struct peer *p)
{
	uint64_t at, now = clock_now_ms(), delay;
	struct timeval tv;

	at = p->admin_down ? UINT64_MAX : nego_deadline(&p->nego, busy_ms(p));
	if (!p->admin_down && p->session && p->announce_ms)
		at = MIN(at, p->announce_ms);
	if (at == UINT64_MAX) {
		evtimer_del(p->timer);
		p->timer_at_ms = 0;
		return;
	}
	if (p->timer_at_ms == at)
		return;
	p->timer_at_ms = at;
	delay = at > now ? at - now : 0;
	tv = timeval_from_ms(delay);
	evtimer_add(p->timer, &tv);
}

void peer_kick(struct peer *p)
{
	uint64_t b;

	if (!p || !p->session || p->nego.state != NEGO_CONNECTED)
		return;
	/* the link just got busy: a cut must be noticed in busy time, not
	 * after the idle probe interval the timer was set for */
	b = busy_ms(p);
	if (b && (!p->timer_at_ms || p->timer_at_ms > clock_now_ms() + b))
		arm(p);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t now = clock_now_ms();

	(void)fd;
	(void)what;
	p->timer_at_ms = 0;
	if (p->admin_down)
		return;
	nego_tick(&p->nego, now, busy_ms(p));
	drain(p);
	if (p->session && p->announce_ms && now >= p->announce_ms)
		announce(p);
	arm(p);
}

/* ---- sessions ------------------------------------------------------------ */

/* same_instance() - both sessions reach the same run of the peer's
 * daemon (the instance value of their handshakes) */
static int same_instance(const struct session *a, const struct session *b)
{
	uint8_t x[DTLS_INSTANCE_LEN], y[DTLS_INSTANCE_LEN];

	return dtls_peer_instance(a->dtls, x) == 0 && dtls_peer_instance(b->dtls, y) == 0 &&
	       memcmp(x, y, sizeof(x)) == 0;
}

void peer_session_up(struct peer *p, struct session *s)
{
	struct nego_up u = { 0 };
	int i = attempt_slot(p, s);

	if (i >= 0) {
		u.attempt = p->attempt[i].id;
		attempt_remove(p, i);
	} else if (s->client) {
		u.attempt = UINT64_MAX; /* ours, though no attempt the core knows */
	}
	u.same_instance = p->session && same_instance(p->session, s);
	u.path = s->path;
	u.method = s->method;
	nego_session_up(&p->nego, &u, clock_now_ms());
	p->incoming = s;
	drain(p);
	if (p->incoming == s) {
		p->incoming = NULL; /* the core said nothing of it: not kept */
		session_discard(s, "not taken");
	}
	if (p->session != s)
		return;
	relay_session_up(p->d, s);
	announce(p);
	arm(p);
}

struct dialling {
	const struct peer *p;
	int found;
};

/* dialling_us() - a handshake the peer may be dialling: server side, past
 * its cookie (only then does a session exist), not finished, from one of
 * the peer's paths (its certificate comes last: the path is all we know) */
static void dialling_us(struct session *s, void *arg)
{
	struct dialling *w = arg;

	if (!s->client && s->state == SESS_HANDSHAKE &&
	    (nego_knows_path(&w->p->nego, &s->path) ||
	     (w->p->session && path_addr_eq(&w->p->session->path, &s->path))))
		w->found = 1;
}

int peer_settled(const struct peer *p)
{
	struct dialling w = { p, 0 };
	uint64_t now = clock_now_ms();

	/* the scan is for the side that may lose a tie, and only while the
	 * tie is open: every other VM SYN goes without it */
	if (p->session && nego_tie_open(&p->nego, now))
		mesh_each_session(p->d->mesh, dialling_us, &w);
	return nego_settled(&p->nego, now, w.found);
}

void peer_attempt_answered(struct peer *p, struct session *s)
{
	int i = attempt_slot(p, s);

	if (i < 0)
		return;
	nego_attempt_answered(&p->nego, p->attempt[i].id, clock_now_ms());
	drain(p);
}

void peer_attempt_committed(struct peer *p, struct session *s)
{
	int i = attempt_slot(p, s);

	if (i >= 0)
		nego_attempt_committed(&p->nego, p->attempt[i].id);
}

int peer_attempt_send(struct peer *p, uint64_t id, uint64_t bytes)
{
	int ok = nego_attempt_send(&p->nego, id, bytes);

	take_counters(p);
	return ok;
}

void peer_session_gone(struct peer *p, struct session *s, const char *why)
{
	int i = attempt_slot(p, s);
	uint64_t id;

	if (i >= 0) {
		id = p->attempt[i].id;
		attempt_remove(p, i);
		nego_attempt_gone(&p->nego, id, why, clock_now_ms());
		drain(p);
		return; /* the next round dials again */
	}
	if (s != p->session)
		return;
	p->session = NULL;
	nego_session_gone(&p->nego, why, clock_now_ms());
	drain(p);
	relay_view_sync(p);
	arm(p);
}

void peer_start(struct peer *p)
{
	uint64_t now = clock_now_ms();
	size_t i;

	for (i = 0; i < p->nrelay; i++)
		tell_relay(p, (int)i, peer_find(p->d, p->relay[i]));
	if (p->admin_down) {
		nego_admin(&p->nego, 1, "disconnected by the operator", now);
		drain(p);
		return;
	}
	add_endpoints(p);
	if (!p->nego.cands.n && !p->session)
		log_info("peer %s: no endpoint known, waiting for it to connect%s", p->name,
			 p->nrelay ? " or for a relay to introduce it" : "");
	nego_start(&p->nego, "start", now);
	drain(p);
	arm(p);
	/* a new peer of a connected relay: ask for it now */
	for (i = 0; i < p->nrelay; i++) {
		struct peer *r = peer_find(p->d, p->relay[i]);

		if (r)
			ask_relay(r, p);
	}
}

void peer_disconnect(struct peer *p)
{
	if (p->admin_down)
		return;
	/* attempts dropped, the session closed: the peer hears it
	 * (close_notify) before anything more is blocked */
	nego_admin(&p->nego, 1, "disconnected by the operator", clock_now_ms());
	drain(p);
	mesh_flush(p->d->mesh);
	p->admin_down = 1;
	p->d->ndown++;
	arm(p);
}

void peer_connect(struct peer *p)
{
	if (!p->admin_down)
		return;
	p->admin_down = 0;
	p->d->ndown--;
	nego_admin(&p->nego, 0, "connect requested by the operator", clock_now_ms());
	drain(p);
	peer_start(p);
}

/* peer_path_blocked() - a path of a disconnected peer: its endpoints, the
 * candidates we know it by, the path of the session it had */
int peer_path_blocked(struct daemon *d, const struct path_addr *to)
{
	struct path_addr ep;
	struct peer *p;
	size_t i;

	TAILQ_FOREACH(p, &d->peers, entry) {
		if (!p->admin_down)
			continue;
		if (nego_find(&p->nego, to))
			return 1;
		for (i = 0; i < p->nendpoint; i++) {
			const struct sockaddr *sa = (const struct sockaddr *)&p->endpoint[i];

			path_addr_direct(&ep, sa, addr_len(sa));
			if (path_addr_eq(&ep, to))
				return 1;
		}
	}
	return 0;
}
