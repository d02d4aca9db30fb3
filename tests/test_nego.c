/* test_nego.c: endpoint negotiation on a simulated network.
 *
 * What only the namespace tests (tests/integration/test_paths_*.sh)
 * showed, here in milliseconds: daemons whose negotiation is the real core
 * (core/nego.c), on a simulated network with NATs (endpoint-independent,
 * symmetric, with a forwarded port), relays that introduce and forward,
 * outages and a simulated clock.  The harness is the glue of src/peer.c
 * in small: it carries out the core's actions with stand-in sessions (a
 * handshake of three round trips with a stateless first answer,
 * retransmissions, UNKNOWN replies, close_notify), a stand-in link (bulk
 * data one way, acknowledgements back) and the relay's introductions.
 *
 * The topology is that of tests/integration/paths.sh: the provider and
 * the consumer each behind a router, relays r1 and r2 on the public side.
 * Each scenario checks what the decision must be -- where the link ends
 * up, how fast, that both sides agree, that nothing flaps.  Time jumps
 * from one event to the next, so a minute of it takes milliseconds.
 * NEGO_TEST=test_name runs one test; NEGO_TRACE=1 prints every action. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nego.h"
#include "path.h"
#include "util.h"

#define NODES 5
#define PEERS 4
#define SESSIONS 32
#define PORT 6950
#define ONE_WAY_MS 10         /* between any two public addresses */
#define HS_TIMEOUT_MS 10000   /* handshake-timeout-ms */
#define HS_RTX_MS 1000        /* DTLS retransmission */
#define UNKNOWN_SILENCE_MS 1000
#define ANNOUNCE_MS 10000     /* RELAY_REFRESH_MS */
#define RELAY_TTL_MS 35000
#define DATA_EVERY_MS 10      /* the bulk sender's pace */
#define WINDOW 20             /* datagrams in flight at most */
#define RTO_MS 250
#define DATA_BYTES 1200
#define SMALL_BYTES 60
#define BARE_PROBE 80         /* a bare PATH_CHALLENGE with its headers */
/* handshake datagrams, about as large as the real ones with their headers */
#define HELLO_BYTES 240       /* a ClientHello */
#define HELLO2_BYTES 260      /* ... echoing the cookie */
#define CFLIGHT_BYTES 560     /* the client's certificate, key exchange, verify, finished */
#define SFLIGHT_BYTES 1000    /* the server's hello, certificate, key exchange, request */

enum msg_type { M_HELLO, M_VERIFY, M_HELLO2, M_SFLIGHT, M_CFIN, M_SFIN, M_DATA, M_UNKNOWN,
		M_CLOSE };

struct msg {
	enum msg_type type;
	uint32_t rid, sid;            /* receiver's and sender's session ids */
	int key;                      /* handshake: who sends (its node) */
	uint64_t instance;            /* handshake: the sender's run */
	/* M_DATA */
	int probing;                  /* only a path frame */
	int chal, resp;
	uint8_t pdata[PATH_CHALLENGE_LEN];
	uint64_t seq, ack;
	int label;
	enum path_method method;
	int ncand;
	struct sockaddr_in cand[4];
	int refl[4];
	int connect, intro, observed; /* relay frames */
	int about;                    /* connect, intro: that node */
	uint32_t channel;             /* intro */
	struct sockaddr_in obs;
	size_t len;
};

struct pkt {
	uint64_t at, order;
	struct sockaddr_in src, dst;
	uint32_t channel;             /* the outer RELAY header */
	struct msg m;
};

struct sess {
	int used, client, est, peer, stage;
	uint64_t att;          /* client: the negotiation's attempt */
	uint32_t lid, rid;
	struct path_addr path;
	enum path_method method;
	uint64_t created, est_ms, last_rx, rtx_at;
	uint64_t rinst;
};

struct hist {
	uint64_t at;
	enum nego_state from, to;
};

struct speer {
	int node;                     /* who it is */
	struct nego n;
	int relay[NEGO_MAX_RELAYS];   /* its relays, as indexes into our peers */
	int nrelay;
	struct sockaddr_in ep[2];
	int nep;
	int sess, incoming;
	struct {
		uint64_t id;
		int sess;
	} att[NEGO_MAX_ATTEMPTS];
	int natt;
	uint64_t announce_ms;
	int have_obs;                 /* it is a relay: where it sees us */
	struct sockaddr_in obs;
	struct {
		int known, connected;
		struct sockaddr_in addr;
	} view;
	int down;                     /* disconnected by the operator */
	/* the stand-in link */
	int bulk;
	uint64_t seq, acked, next_send, last_rtx, rx_max, rx_count;
	/* what happened */
	struct hist hist[512];
	int nhist;
	int dials, dials_after_down, migrations, takes, refuses;
	int hs_limited;               /* handshake datagrams the core held back */
	char last_take[128];
	uint64_t migrated_ms;
};

struct nat {
	int on, symmetric, dnat;
	struct in_addr ext;
	uint16_t base, next_port;
	struct {
		struct sockaddr_in in, dst;
		uint16_t port;
	} map[32];
	int nmap;
	struct {
		uint16_t port;
		struct sockaddr_in remote;
	} ct[256];
	int nct;
};

struct want {
	int from, to;                 /* peer indexes at the relay */
	int ncand;
	struct sockaddr_in cand[4];
	uint64_t at, intro_ms;
};

struct chan {
	int used, owner;
	uint32_t id, partner;
};

struct node {
	const char *name;
	int relay_role, dead;
	struct sockaddr_in addr;      /* its own (inside its router, if any) */
	struct nat nat;
	uint64_t instance;
	struct speer peer[PEERS];
	int npeer;
	struct sess sess[SESSIONS];
	uint32_t next_lid;
	struct want want[16];
	int nwant;
	struct chan chan[16];
	uint32_t next_chan;
	uint64_t housekeep_ms;
};

struct world {
	uint64_t now, order, rng;
	struct node node[NODES];
	int nnode;
	struct pkt *q;
	size_t nq, cap;
	struct {
		struct in_addr a, b;
		int all;                /* every datagram from or to a */
	} cut[8];
	int ncut;
	uint64_t extra_delay_ms[NODES]; /* one way, to and from that node */
	struct nego_config cfg;
	int trace;
	/* the glue hears a datagram at the time its batch was read, which
	 * may be older than a clock read for an event before it (mesh.c) */
	uint64_t heard_lag_ms;
};

/* rnd() - the world's random numbers (splitmix64): seeds, runs, ids */
static uint64_t rnd(struct world *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ip4() - an IPv4 socket address */
static struct sockaddr_in ip4(const char *s, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, s, &a.sin_addr);
	return a;
}

/* sin_eq() - same address and port */
static int sin_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* pa_of() - a path: direct, or through a relay's channel */
static struct path_addr pa_of(const struct sockaddr_in *a, uint32_t channel)
{
	struct path_addr p;

	path_addr_direct(&p, (const struct sockaddr *)a, sizeof(*a));
	p.channel = channel;
	return p;
}

/* sin_of() - where a path's datagrams go */
static const struct sockaddr_in *sin_of(const struct path_addr *p)
{
	return (const struct sockaddr_in *)&p->sa;
}

/* fmt() - a path as text (four buffers in turn: for one printf or assertion) */
static const char *fmt(const struct path_addr *p)
{
	static char b[4][96];
	static int i;

	return path_addr_fmt(p, b[i++ % 4]);
}

/* node_index() - a node's number, which is also its key (the smaller wins ties) */
static int node_index(const struct world *w, const struct node *nd)
{
	return (int)(nd - w->node);
}

/* ---- the network ------------------------------------------------------------ */

static int blocked(const struct world *w, struct in_addr a, struct in_addr b)
{
	int i;

	for (i = 0; i < w->ncut; i++) {
		if (w->cut[i].all && (w->cut[i].a.s_addr == a.s_addr || w->cut[i].a.s_addr == b.s_addr))
			return 1;
		if (!w->cut[i].all && ((w->cut[i].a.s_addr == a.s_addr && w->cut[i].b.s_addr == b.s_addr) ||
				       (w->cut[i].a.s_addr == b.s_addr && w->cut[i].b.s_addr == a.s_addr)))
			return 1;
	}
	return 0;
}

/* nat_out() - the source a datagram from `in` to `dst` leaves the router
 * with: one mapping per inside address (endpoint-independent), or per
 * destination too (symmetric); the reply path is opened for that remote */
static struct sockaddr_in nat_out(struct nat *t, const struct sockaddr_in *in,
				  const struct sockaddr_in *dst)
{
	struct sockaddr_in out = { .sin_family = AF_INET, .sin_addr = t->ext };
	int i;
	uint16_t port = 0;

	for (i = 0; i < t->nmap && !port; i++)
		if (sin_eq(&t->map[i].in, in) && (!t->symmetric || sin_eq(&t->map[i].dst, dst)))
			port = t->map[i].port;
	if (!port && t->nmap < (int)ARRAY_SIZE(t->map)) {
		port = t->next_port++;
		t->map[t->nmap].in = *in;
		t->map[t->nmap].dst = *dst;
		t->map[t->nmap++].port = port;
	}
	out.sin_port = htons(port);
	for (i = 0; i < t->nct; i++)
		if (t->ct[i].port == port && sin_eq(&t->ct[i].remote, dst))
			return out;
	if (t->nct < (int)ARRAY_SIZE(t->ct)) {
		t->ct[t->nct].port = port;
		t->ct[t->nct++].remote = *dst;
	}
	return out;
}

/* nat_in() - does a datagram from `src` to the router's port get in? */
static int nat_in(const struct nat *t, uint16_t port, const struct sockaddr_in *src)
{
	int i;

	if (t->dnat && port == PORT)
		return 1;
	for (i = 0; i < t->nct; i++)
		if (t->ct[i].port == port && sin_eq(&t->ct[i].remote, src))
			return 1;
	return 0;
}

/* nat_rebind() - the router forgets its mappings (it restarted, or they
 * timed out): the next datagram out gets a new port */
static void nat_rebind(struct nat *t)
{
	t->nmap = 0;
	t->nct = 0;
	t->base += 1000;
	t->next_port = t->base;
}

/* q_push() - a datagram on its way, in a heap by arrival time */
static void q_push(struct world *w, const struct pkt *p)
{
	size_t i;

	if (w->nq == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->q = xrealloc(w->q, w->cap * sizeof(*w->q));
	}
	i = w->nq++;
	while (i > 0) {
		struct pkt *up = &w->q[(i - 1) / 2];

		if (up->at < p->at || (up->at == p->at && up->order < p->order))
			break;
		w->q[i] = *up;
		i = (i - 1) / 2;
	}
	w->q[i] = *p;
}

/* q_pop() - the datagram that arrives first */
static struct pkt q_pop(struct world *w)
{
	struct pkt top = w->q[0], last = w->q[--w->nq];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct pkt *best = &last;

		if (l < w->nq && (w->q[l].at < best->at ||
				  (w->q[l].at == best->at && w->q[l].order < best->order))) {
			m = l;
			best = &w->q[l];
		}
		if (r < w->nq && (w->q[r].at < best->at ||
				  (w->q[r].at == best->at && w->q[r].order < best->order)))
			m = r;
		if (m == i)
			break;
		w->q[i] = w->q[m];
		i = m;
	}
	if (w->nq)
		w->q[i] = last;
	return top;
}

/* wire_send() - a datagram from nd, through its router, unless a cut drops it */
static void wire_send(struct world *w, struct node *nd, const struct sockaddr_in *dst,
		      uint32_t channel, const struct msg *m)
{
	struct pkt p = { .dst = *dst, .channel = channel, .m = *m };
	int i;

	if (nd->dead)
		return;
	p.src = nd->nat.on ? nat_out(&nd->nat, &nd->addr, dst) : nd->addr;
	if (blocked(w, p.src.sin_addr, p.dst.sin_addr))
		return;
	p.at = w->now + ONE_WAY_MS + w->extra_delay_ms[node_index(w, nd)];
	for (i = 0; i < w->nnode; i++)
		if (w->node[i].addr.sin_addr.s_addr == dst->sin_addr.s_addr ||
		    (w->node[i].nat.on && w->node[i].nat.ext.s_addr == dst->sin_addr.s_addr))
			p.at += w->extra_delay_ms[i];
	p.order = w->order++;
	q_push(w, &p);
}

/* node_send() - a datagram on a path (a relayed one carries its channel) */
static void node_send(struct world *w, struct node *nd, const struct path_addr *to,
		      const struct msg *m)
{
	wire_send(w, nd, sin_of(to), to->channel, m);
}

/* ---- the glue: what src/peer.c does, in small --------------------------------- */

/* hs_send() - a datagram of our handshake: as session.c's dtls_out(), it
 * asks the negotiation core first whether the address may be sent it */
static void hs_send(struct world *w, struct node *nd, struct sess *s, const struct msg *m)
{
	struct speer *p = &nd->peer[s->peer];

	if (!nego_attempt_send(&p->n, s->att, m->len)) {
		p->hs_limited++;
		return;
	}
	node_send(w, nd, &s->path, m);
}

/* g_drain() - carry out every queued action, in order */
static void g_drain(struct world *w, struct node *nd, int pi);
/* sess_close() - session_close(): the peer told (close_notify) if notify */
static void sess_close(struct world *w, struct node *nd, int si, const char *why, int notify);

/* peer_of() - nd's peer entry for that node, or -1 */
static int peer_of(const struct node *nd, int node)
{
	int i;

	for (i = 0; i < nd->npeer; i++)
		if (nd->peer[i].node == node)
			return i;
	return -1;
}

/* relay_index() - which of p's relays peer ri is, or -1 */
static int relay_index(const struct speer *p, int ri)
{
	int i;

	for (i = 0; i < p->nrelay; i++)
		if (p->relay[i] == ri)
			return i;
	return -1;
}

/* is_relay() - some peer of nd names ri as its relay */
static int is_relay(const struct node *nd, int ri)
{
	int i;

	for (i = 0; i < nd->npeer; i++)
		if (relay_index(&nd->peer[i], ri) >= 0)
			return 1;
	return 0;
}

/* live() - the established session with peer pi, or NULL */
static struct sess *live(struct node *nd, int pi)
{
	int si = nd->peer[pi].sess;

	return si >= 0 && nd->sess[si].used && nd->sess[si].est ? &nd->sess[si] : NULL;
}

/* sess_new() - a fresh session slot with a new local id */
static int sess_new(struct node *nd)
{
	int i;

	for (i = 0; i < SESSIONS; i++) {
		if (!nd->sess[i].used) {
			memset(&nd->sess[i], 0, sizeof(nd->sess[i]));
			nd->sess[i].used = 1;
			nd->sess[i].peer = -1;
			nd->sess[i].lid = ++nd->next_lid;
			return i;
		}
	}
	ck_abort_msg("%s: out of sessions", nd->name);
	return -1;
}

/* sess_by_lid() - the session a receiver id names, or -1 */
static int sess_by_lid(struct node *nd, uint32_t lid)
{
	int i;

	for (i = 0; lid && i < SESSIONS; i++)
		if (nd->sess[i].used && nd->sess[i].lid == lid)
			return i;
	return -1;
}

/* data() - an authenticated datagram on session s, to its path or to `to` */
static void data(struct world *w, struct node *nd, struct sess *s, const struct path_addr *to,
		 struct msg *m)
{
	m->type = M_DATA;
	m->rid = s->rid;
	m->sid = s->lid;
	if (!m->len)
		m->len = SMALL_BYTES;
	node_send(w, nd, to ? to : &s->path, m);
}

/* tell_relay() / view_sync(): peer_start() and relay_view_sync() */
static void tell_relay(struct node *nd, int pi, int i)
{
	struct speer *r = &nd->peer[nd->peer[pi].relay[i]];
	struct sess *s = live(nd, (int)(r - nd->peer));

	nego_relay(&nd->peer[pi].n, i, s ? (const struct sockaddr *)&s->path.sa : NULL,
		   s && r->n.state == NEGO_CONNECTED);
}

/* view_sync() - what peer.c's relay_view_sync() does */
static void view_sync(struct node *nd, int ri)
{
	struct speer *r = &nd->peer[ri];
	struct sess *s = live(nd, ri);
	int connected = s && r->n.state == NEGO_CONNECTED, q, i;

	if (!!s == r->view.known && connected == r->view.connected &&
	    (!s || sin_eq(sin_of(&s->path), &r->view.addr)))
		return;
	r->view.known = !!s;
	r->view.connected = connected;
	if (s)
		r->view.addr = *sin_of(&s->path);
	for (q = 0; q < nd->npeer; q++)
		if ((i = relay_index(&nd->peer[q], ri)) >= 0)
			tell_relay(nd, q, i);
}

/* allowed() - the candidate filter: nothing of our own */
static int allowed(const struct node *nd, const struct sockaddr_in *a)
{
	return !sin_eq(a, &nd->addr) && !(nd->nat.on && a->sin_addr.s_addr == nd->nat.ext.s_addr);
}

/* learn() - an announced candidate, through the filter */
static void learn(struct world *w, struct node *nd, int pi, const struct sockaddr_in *a, int refl,
		  uint64_t expires)
{
	struct path_addr pa = pa_of(a, 0);
	struct path_new pn = { &pa, refl ? PATH_HOLE_PUNCHED : PATH_DIRECT, PATH_ANNOUNCED, -1,
			       expires };

	if (!nego_find(&nd->peer[pi].n, &pa) && !allowed(nd, a))
		return;
	nego_candidate(&nd->peer[pi].n, &pn, w->now);
}

/* ask_relay() - RELAY_CONNECT: ask relay ri to introduce us to qi */
static void ask_relay(struct world *w, struct node *nd, int ri, int qi)
{
	struct sess *s = live(nd, ri);
	struct msg m = { .connect = 1, .about = nd->peer[qi].node, .ncand = 1 };

	if (!s || nd->peer[ri].n.state != NEGO_CONNECTED || nd->peer[qi].down)
		return;
	m.cand[0] = nd->addr;
	data(w, nd, s, NULL, &m);
}

/* announce() - what we repeat: CANDIDATES and our label, or requests to a relay */
static void announce(struct world *w, struct node *nd, int pi)
{
	struct speer *p = &nd->peer[pi];
	struct sess *s = live(nd, pi);
	struct msg m = { .label = 1 };
	int q;

	p->announce_ms = w->now + ANNOUNCE_MS;
	if (!s || nd->relay_role)
		return;
	if (is_relay(nd, pi)) {
		for (q = 0; q < nd->npeer; q++)
			if (relay_index(&nd->peer[q], pi) >= 0)
				ask_relay(w, nd, pi, q);
		return;
	}
	m.cand[m.ncand++] = nd->addr;
	for (q = 0; q < nd->npeer && m.ncand < 4; q++) {
		if (!nd->peer[q].have_obs)
			continue;
		m.refl[m.ncand] = 1;
		m.cand[m.ncand++] = nd->peer[q].obs;
	}
	m.method = s->method;
	data(w, nd, s, NULL, &m);
}

/* g_start() - peer_start() */
static void g_start(struct world *w, struct node *nd, int pi)
{
	struct speer *p = &nd->peer[pi];
	int i;

	for (i = 0; i < p->nrelay; i++)
		tell_relay(nd, pi, i);
	if (p->down) {
		nego_admin(&p->n, 1, "disconnected by the operator", w->now);
		g_drain(w, nd, pi);
		return;
	}
	for (i = 0; i < p->nep; i++) {
		struct path_addr pa = pa_of(&p->ep[i], 0);
		struct path_new pn = { &pa, PATH_DIRECT, PATH_CONFIGURED, -1, 0 };

		nego_candidate(&p->n, &pn, w->now);
	}
	nego_start(&p->n, "start", w->now);
	g_drain(w, nd, pi);
	for (i = 0; i < p->nrelay; i++)
		ask_relay(w, nd, p->relay[i], pi);
}

/* g_session_gone() - peer_session_gone(): an attempt or the session ended */
static void g_session_gone(struct world *w, struct node *nd, int si, const char *why)
{
	struct sess *s = &nd->sess[si];
	struct speer *p;
	int i, pi = s->peer;

	if (pi < 0)
		return;
	p = &nd->peer[pi];
	for (i = 0; i < p->natt; i++) {
		if (p->att[i].sess == si) {
			uint64_t id = p->att[i].id;

			p->att[i] = p->att[--p->natt];
			nego_attempt_gone(&p->n, id, why, w->now);
			g_drain(w, nd, pi);
			return;
		}
	}
	if (p->sess != si)
		return;
	p->sess = -1;
	nego_session_gone(&p->n, why, w->now);
	g_drain(w, nd, pi);
	view_sync(nd, pi);
}

static void sess_close(struct world *w, struct node *nd, int si, const char *why, int notify)
{
	struct sess *s = &nd->sess[si];
	struct msg m = { .type = M_CLOSE };

	if (!s->used)
		return;
	if (notify && s->est) {
		m.rid = s->rid;
		node_send(w, nd, &s->path, &m);
	}
	s->used = 0;
	if (w->trace)
		printf("%6llu %s: session %u closed: %s\n", (unsigned long long)w->now, nd->name,
		       s->lid, why);
	g_session_gone(w, nd, si, why);
}

/* g_session_up() - peer_session_up() */
static void g_session_up(struct world *w, struct node *nd, int si)
{
	struct sess *s = &nd->sess[si];
	int pi = s->peer, i;
	struct speer *p = &nd->peer[pi];
	struct nego_up u = { 0 };

	for (i = 0; i < p->natt; i++)
		if (p->att[i].sess == si)
			break;
	if (i < p->natt) {
		u.attempt = p->att[i].id;
		p->att[i] = p->att[--p->natt];
	} else if (s->client) {
		u.attempt = UINT64_MAX;
	}
	u.same_instance = live(nd, pi) && live(nd, pi)->rinst == s->rinst;
	u.path = s->path;
	u.method = s->method;
	nego_session_up(&p->n, &u, w->now);
	p->incoming = si;
	g_drain(w, nd, pi);
	if (p->incoming == si) {
		p->incoming = -1;
		s->used = 0;
	}
	if (p->sess != si)
		return;
	if (nd->relay_role) {
		struct msg m = { .observed = 1, .obs = *sin_of(&s->path) };

		data(w, nd, s, NULL, &m);
	}
	announce(w, nd, pi);
}

/* act() - carry out one action of the core, as peer.c's act() does */
static void act(struct world *w, struct node *nd, int pi, const struct nego_action *a)
{
	struct speer *p = &nd->peer[pi];
	struct sess *s;
	struct msg m = { 0 };
	uint64_t size;
	int si, i;

	if (w->trace && a->type != NEGO_LABEL)
		printf("%6llu %s/%s: %s %s %s %s\n", (unsigned long long)w->now, nd->name,
		       w->node[p->node].name,
		       (const char *[]){ "dial", "drop", "challenge", "migrate", "label", "state",
					 "take", "refuse", "close" }[a->type],
		       a->type == NEGO_STATE ? nego_state_name(a->state) : fmt(&a->to),
		       path_method_name(a->method), a->why);
	switch (a->type) {
	case NEGO_DIAL:
		p->dials++;
		if (p->down)
			p->dials_after_down++;
		si = sess_new(nd);
		s = &nd->sess[si];
		s->client = 1;
		s->peer = pi;
		s->path = a->to;
		s->method = a->method;
		s->created = w->now;
		s->rtx_at = w->now + HS_RTX_MS;
		s->att = a->id;
		p->att[p->natt].id = a->id;
		p->att[p->natt++].sess = si;
		m.type = M_HELLO;
		m.sid = s->lid;
		m.key = node_index(w, nd);
		m.instance = nd->instance;
		m.len = HELLO_BYTES;
		hs_send(w, nd, s, &m);
		break;
	case NEGO_DROP:
		for (i = 0; i < p->natt; i++) {
			if (p->att[i].id == a->id) {
				nd->sess[p->att[i].sess].used = 0;
				p->att[i] = p->att[--p->natt];
				break;
			}
		}
		break;
	case NEGO_CHALLENGE:
		s = live(nd, pi);
		size = a->bytes >= DATA_BYTES ? DATA_BYTES : a->bytes >= BARE_PROBE ? BARE_PROBE : 0;
		if (!s)
			size = 0;
		if (size) {
			m.probing = m.chal = 1;
			memcpy(m.pdata, a->data, sizeof(m.pdata));
			m.len = size;
			data(w, nd, s, &a->to, &m);
		}
		nego_challenge_sent(&p->n, a, size);
		break;
	case NEGO_MIGRATE:
		if ((s = live(nd, pi))) {
			s->path = a->to;
			s->method = a->method;
			p->migrations++;
			p->migrated_ms = w->now;
			p->last_rtx = 0; /* the link restarts on the new path */
		}
		break;
	case NEGO_LABEL:
		if ((s = live(nd, pi))) {
			m.label = 1;
			m.method = s->method;
			data(w, nd, s, NULL, &m);
		}
		break;
	case NEGO_STATE:
		if (p->nhist < (int)ARRAY_SIZE(p->hist)) {
			p->hist[p->nhist].at = w->now;
			p->hist[p->nhist].from = a->from;
			p->hist[p->nhist++].to = a->state;
		}
		break;
	case NEGO_TAKE:
		ck_assert_int_ge(p->incoming, 0);
		if (p->sess >= 0)
			nd->sess[p->sess].used = 0;
		p->sess = p->incoming;
		p->incoming = -1;
		nd->sess[p->sess].method = a->method;
		p->takes++;
		snprintf(p->last_take, sizeof(p->last_take), "%s", a->why);
		break;
	case NEGO_REFUSE:
		if (p->incoming >= 0)
			nd->sess[p->incoming].used = 0;
		p->incoming = -1;
		p->refuses++;
		break;
	case NEGO_CLOSE:
		if (p->sess >= 0)
			sess_close(w, nd, p->sess, a->why, 1);
		break;
	}
}

static void g_drain(struct world *w, struct node *nd, int pi)
{
	struct nego_action a;
	int any = 0;

	while (nego_next(&nd->peer[pi].n, &a)) {
		act(w, nd, pi, &a);
		any = 1;
	}
	ck_assert_uint_eq(nd->peer[pi].n.ctr.actions_lost, 0);
	if (any)
		view_sync(nd, pi);
}

/* g_heard() - peer_path_alive(): the core hears the datagram, the filter asked if need be */
static void g_heard(struct world *w, struct node *nd, int pi, const struct path_addr *from,
		    const struct msg *m)
{
	struct nego *n = &nd->peer[pi].n;

	uint64_t now = w->now - MIN(w->heard_lag_ms, w->now);

	if (nego_heard(n, from, m->probing, m->len, -1, now) == NEGO_ASK_FILTER)
		nego_heard(n, from, m->probing, m->len, allowed(nd, sin_of(from)), now);
	g_drain(w, nd, pi);
}

/* ---- the relay role ------------------------------------------------------------ */

static struct want *find_want(struct node *r, int from, int to)
{
	int i;

	for (i = 0; i < r->nwant; i++)
		if (r->want[i].from == from && r->want[i].to == to)
			return &r->want[i];
	return NULL;
}

/* find_chan() - the relay's channel of that id */
static struct chan *find_chan(struct node *r, uint32_t id)
{
	int i;

	for (i = 0; id && i < (int)ARRAY_SIZE(r->chan); i++)
		if (r->chan[i].used && r->chan[i].id == id)
			return &r->chan[i];
	return NULL;
}

/* chan_between() - the channel a owns towards b, if they were introduced */
static struct chan *chan_between(struct node *r, int a, int b)
{
	int i;
	struct chan *o;

	for (i = 0; i < (int)ARRAY_SIZE(r->chan); i++)
		if (r->chan[i].used && r->chan[i].owner == a &&
		    (o = find_chan(r, r->chan[i].partner)) && o->owner == b)
			return &r->chan[i];
	return NULL;
}

/* chan_new() - a channel for owner, with a fresh id */
static struct chan *chan_new(struct node *r, int owner)
{
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(r->chan); i++) {
		if (!r->chan[i].used) {
			r->chan[i].used = 1;
			r->chan[i].owner = owner;
			r->chan[i].id = 0x1000 + ++r->next_chan;
			return &r->chan[i];
		}
	}
	ck_abort_msg("out of channels");
	return NULL;
}

/* send_intro() - RELAY_INTRO: where `about` is seen, its candidates, the channel */
static void send_intro(struct world *w, struct node *r, int to, const struct want *about,
		       uint32_t channel)
{
	struct sess *as = live(r, about->from), *ts = live(r, to);
	struct msg m = { .intro = 1, .about = r->peer[about->from].node, .channel = channel };
	int i;

	if (as) {
		m.refl[m.ncand] = 1;
		m.cand[m.ncand++] = *sin_of(&as->path);
	}
	for (i = 0; i < about->ncand && m.ncand < 4; i++)
		m.cand[m.ncand++] = about->cand[i];
	data(w, r, ts, NULL, &m);
}

/* relay_connect() - a request to meet; both asked: a channel pair and introductions */
static void relay_connect(struct world *w, struct node *r, int from, const struct msg *m)
{
	int to = peer_of(r, m->about), i;
	struct want *wa, *back;
	struct chan *c, *o;

	if (to < 0 || to == from)
		return;
	if (!(wa = find_want(r, from, to))) {
		ck_assert_int_lt(r->nwant, (int)ARRAY_SIZE(r->want));
		wa = &r->want[r->nwant++];
		memset(wa, 0, sizeof(*wa));
		wa->from = from;
		wa->to = to;
	}
	wa->ncand = m->ncand;
	for (i = 0; i < m->ncand; i++)
		wa->cand[i] = m->cand[i];
	wa->at = w->now;
	back = find_want(r, to, from);
	if (!back || !live(r, from) || !live(r, to))
		return;
	if (!(c = chan_between(r, from, to))) {
		c = chan_new(r, from);
		o = chan_new(r, to);
		c->partner = o->id;
		o->partner = c->id;
	}
	if (wa->intro_ms && w->now - wa->intro_ms < 1000)
		return;
	wa->intro_ms = back->intro_ms = w->now;
	send_intro(w, r, from, back, c->id);
	send_intro(w, r, to, wa, c->partner);
}

/* relay_forward() - a datagram on a channel, from its owner only, to the partner */
static void relay_forward(struct world *w, struct node *r, const struct sockaddr_in *src,
			  uint32_t channel, const struct msg *m)
{
	struct chan *c = find_chan(r, channel), *o = c ? find_chan(r, c->partner) : NULL;
	struct sess *from = c ? live(r, c->owner) : NULL, *to = o ? live(r, o->owner) : NULL;

	if (!from || !to || !sin_eq(sin_of(&from->path), src))
		return;
	wire_send(w, r, sin_of(&to->path), o->id, m);
}

/* relay_housekeeping() - requests not repeated go, and channels nobody asks for */
static void relay_housekeeping(struct world *w, struct node *r)
{
	int i = 0;

	while (i < r->nwant) {
		if (w->now - r->want[i].at > RELAY_TTL_MS)
			r->want[i] = r->want[--r->nwant];
		else
			i++;
	}
	for (i = 0; i < (int)ARRAY_SIZE(r->chan); i++) {
		struct chan *c = &r->chan[i], *o;

		if (!c->used)
			continue;
		o = find_chan(r, c->partner);
		if (!o || !find_want(r, c->owner, o->owner) || !find_want(r, o->owner, c->owner)) {
			c->used = 0;
			if (o)
				o->used = 0;
		}
	}
}

/* ---- input ---------------------------------------------------------------------- */

static void established(struct world *w, struct node *nd, int si)
{
	nd->sess[si].est = 1;
	nd->sess[si].est_ms = w->now;
	nd->sess[si].last_rx = w->now;
	if (w->trace)
		printf("%6llu %s: session %u with %s established via %s, %s\n",
		       (unsigned long long)w->now, nd->name, nd->sess[si].lid,
		       w->node[nd->peer[nd->sess[si].peer].node].name, fmt(&nd->sess[si].path),
		       nd->sess[si].client ? "we dialled" : "it dialled");
	g_session_up(w, nd, si);
}

/* on_data() - an authenticated datagram: its frames, then the core hears it */
static void on_data(struct world *w, struct node *nd, int si, const struct path_addr *from,
		    const struct msg *m)
{
	struct sess *s = &nd->sess[si];
	int pi = s->peer, i, q;
	struct speer *p = &nd->peer[pi];
	struct msg r = { 0 };
	uint64_t max;

	s->last_rx = w->now;
	if (m->chal) {
		max = path_addr_eq(from, &s->path) || from->channel ? PATH_UNLIMITED : 3 * m->len;
		r.probing = r.resp = 1;
		memcpy(r.pdata, m->pdata, sizeof(r.pdata));
		r.len = max >= DATA_BYTES ? DATA_BYTES : max >= BARE_PROBE ? BARE_PROBE : 0;
		if (r.len) {
			data(w, nd, s, from, &r);
			if (p->sess == si)
				nego_sent(&p->n, from, r.len);
		}
	}
	if (p->sess == si) {
		if (m->resp) {
			nego_response(&p->n, m->pdata, from, w->now);
			g_drain(w, nd, pi);
		}
		if (m->label)
			nego_label(&p->n, m->method, from);
		if (m->observed && is_relay(nd, pi) && (!p->have_obs || !sin_eq(&p->obs, &m->obs))) {
			p->have_obs = 1;
			p->obs = m->obs;
			for (q = 0; q < nd->npeer; q++)
				if (live(nd, q) && !is_relay(nd, q))
					nd->peer[q].announce_ms = w->now;
		}
		if (m->ncand && !m->intro && !m->connect && !nd->relay_role) {
			for (i = 0; i < m->ncand; i++)
				learn(w, nd, pi, &m->cand[i], m->refl[i], w->now + NEGO_CAND_TTL_MS);
			g_drain(w, nd, pi);
		}
		if (m->intro && (q = peer_of(nd, m->about)) >= 0 &&
		    (i = relay_index(&nd->peer[q], pi)) >= 0 && !nd->peer[q].down) {
			struct path_addr pa = pa_of(sin_of(&s->path), m->channel);
			struct path_new pn = { &pa, PATH_RELAY, PATH_ANNOUNCED, i,
					       w->now + RELAY_TTL_MS };
			int fresh = !nego_find(&nd->peer[q].n, &pa), k;

			nego_candidate(&nd->peer[q].n, &pn, w->now);
			for (k = 0; k < m->ncand; k++)
				learn(w, nd, q, &m->cand[k], m->refl[k], w->now + RELAY_TTL_MS);
			if (fresh)
				nego_introduced(&nd->peer[q].n, w->now);
			g_drain(w, nd, q);
		}
		if (m->connect && nd->relay_role)
			relay_connect(w, nd, pi, m);
	}
	if (m->seq) {
		p->rx_count++;
		p->rx_max = MAX(p->rx_max, m->seq);
		r = (struct msg){ .ack = p->rx_max };
		data(w, nd, s, NULL, &r);
	}
	if (m->ack)
		p->acked = MAX(p->acked, m->ack);
	/* still the session in use (a frame may have changed that) */
	if (p->sess == si && s->used)
		g_heard(w, nd, pi, from, m);
}

/* on_msg() - a datagram for nd: handshakes, data, UNKNOWN, close_notify */
static void on_msg(struct world *w, struct node *nd, const struct path_addr *from,
		   const struct msg *m)
{
	struct msg r = { 0 };
	int si = sess_by_lid(nd, m->rid), pi, i;
	struct sess *s = si >= 0 ? &nd->sess[si] : NULL;

	switch (m->type) {
	case M_HELLO:
		if (nd->relay_role && from->channel)
			return;
		/* stateless: nothing is kept */
		r.type = M_VERIFY;
		r.rid = m->sid;
		r.len = 100;
		node_send(w, nd, from, &r);
		break;
	case M_HELLO2:
		if ((nd->relay_role && from->channel) || (pi = peer_of(nd, m->key)) < 0 ||
		    nd->peer[pi].down)
			return;
		for (i = 0; i < SESSIONS; i++)
			if (nd->sess[i].used && !nd->sess[i].client && nd->sess[i].rid == m->sid &&
			    path_addr_eq(&nd->sess[i].path, from))
				break;
		if (i == SESSIONS) {
			i = sess_new(nd);
			s = &nd->sess[i];
			s->peer = pi;
			s->rid = m->sid;
			s->path = *from;
			s->method = from->channel ? PATH_RELAY : PATH_DIRECT;
			s->created = w->now;
			s->rinst = m->instance;
		}
		s = &nd->sess[i];
		s->rtx_at = w->now + HS_RTX_MS;
		r.type = M_SFLIGHT;
		r.rid = s->rid;
		r.sid = s->lid;
		r.key = node_index(w, nd);
		r.instance = nd->instance;
		r.len = SFLIGHT_BYTES;
		node_send(w, nd, from, &r);
		break;
	case M_VERIFY:
		if (!s || !s->client || s->est || s->stage)
			return;
		s->stage = 1;
		s->rtx_at = w->now + HS_RTX_MS;
		pi = s->peer;
		for (i = 0; i < nd->peer[pi].natt; i++)
			if (nd->peer[pi].att[i].sess == si) {
				nego_attempt_answered(&nd->peer[pi].n, nd->peer[pi].att[i].id, w->now);
				g_drain(w, nd, pi);
				break;
			}
		if (!nd->sess[si].used)
			return;
		r.type = M_HELLO2;
		r.sid = s->lid;
		r.key = node_index(w, nd);
		r.instance = nd->instance;
		r.len = HELLO2_BYTES;
		hs_send(w, nd, s, &r);
		break;
	case M_SFLIGHT:
		if (!s || !s->client || s->est || s->stage > 2)
			return;
		s->stage = 2;
		s->rid = m->sid;
		s->rinst = m->instance;
		s->rtx_at = w->now + HS_RTX_MS;
		r.type = M_CFIN;
		r.rid = s->rid;
		r.len = CFLIGHT_BYTES;
		hs_send(w, nd, s, &r);
		/* our Finished is out: peer_attempt_committed() */
		pi = s->peer;
		for (i = 0; i < nd->peer[pi].natt; i++)
			if (nd->peer[pi].att[i].sess == si)
				nego_attempt_committed(&nd->peer[pi].n, nd->peer[pi].att[i].id);
		break;
	case M_CFIN:
		if (!s || s->client)
			return;
		r.type = M_SFIN;
		r.rid = s->rid;
		r.len = 100;
		node_send(w, nd, from, &r);
		if (!s->est)
			established(w, nd, si);
		break;
	case M_SFIN:
		if (s && s->client && !s->est && s->stage == 2)
			established(w, nd, si);
		break;
	case M_DATA:
		if (!s) {
			r.type = M_UNKNOWN;
			r.rid = m->rid;
			node_send(w, nd, from, &r);
			return;
		}
		if (s->est)
			on_data(w, nd, si, from, m);
		break;
	case M_UNKNOWN:
		for (i = 0; i < SESSIONS; i++) {
			s = &nd->sess[i];
			if (s->used && s->est && s->rid == m->rid && path_addr_eq(&s->path, from) &&
			    w->now - s->last_rx >= UNKNOWN_SILENCE_MS)
				sess_close(w, nd, i,
					   "the peer no longer knows this session (restarted?)", 0);
		}
		break;
	case M_CLOSE:
		if (s && s->est)
			sess_close(w, nd, si, "closed by the peer", 0);
		break;
	}
}

/* deliver() - a datagram arrives: at a public host, or through a router that lets it in */
static void deliver(struct world *w, const struct pkt *p)
{
	int i;

	for (i = 0; i < w->nnode; i++) {
		struct node *nd = &w->node[i];
		struct path_addr from = pa_of(&p->src, p->channel);

		if (nd->dead)
			continue;
		if (nd->nat.on) {
			if (nd->nat.ext.s_addr != p->dst.sin_addr.s_addr ||
			    !nat_in(&nd->nat, ntohs(p->dst.sin_port), &p->src))
				continue;
		} else if (!sin_eq(&nd->addr, &p->dst)) {
			continue;
		}
		if (p->channel && nd->relay_role)
			relay_forward(w, nd, &p->src, p->channel, &p->m);
		else
			on_msg(w, nd, &from, &p->m);
		return;
	}
}

/* ---- time ----------------------------------------------------------------------- */

static uint64_t busy(const struct node *nd, int pi)
{
	const struct speer *p = &nd->peer[pi];

	return p->sess >= 0 && p->seq > p->acked ? 200 : 0;
}

/* node_timers() - what is due at nd: handshakes, the cores' timers, announcements, the sender */
static void node_timers(struct world *w, struct node *nd)
{
	int i;

	if (nd->dead)
		return;
	if (nd->relay_role && w->now >= nd->housekeep_ms) {
		nd->housekeep_ms = w->now + 1000;
		relay_housekeeping(w, nd);
	}
	for (i = 0; i < SESSIONS; i++) {
		struct sess *s = &nd->sess[i];
		struct msg m = { 0 };

		if (!s->used || s->est || w->now < s->rtx_at)
			continue;
		if (w->now - s->created >= HS_TIMEOUT_MS) {
			sess_close(w, nd, i, "handshake timed out", 0);
			continue;
		}
		s->rtx_at = w->now + HS_RTX_MS;
		m.sid = s->lid;
		m.key = node_index(w, nd);
		m.instance = nd->instance;
		if (!s->client) {
			m.type = M_SFLIGHT;
			m.rid = s->rid;
			m.len = SFLIGHT_BYTES;
			node_send(w, nd, &s->path, &m);
		} else {
			m.type = s->stage == 0 ? M_HELLO : s->stage == 1 ? M_HELLO2 : M_CFIN;
			m.rid = s->stage == 2 ? s->rid : 0;
			m.len = s->stage == 0 ? HELLO_BYTES : s->stage == 1 ? HELLO2_BYTES : CFLIGHT_BYTES;
			hs_send(w, nd, s, &m);
		}
	}
	for (i = 0; i < nd->npeer; i++) {
		struct speer *p = &nd->peer[i];
		struct sess *s;
		struct msg m = { 0 };

		if (!p->down && nego_deadline(&p->n, busy(nd, i)) <= w->now) {
			nego_tick(&p->n, w->now, busy(nd, i));
			g_drain(w, nd, i);
		}
		if (live(nd, i) && p->announce_ms && w->now >= p->announce_ms)
			announce(w, nd, i);
		if (!p->bulk || !(s = live(nd, i)))
			continue;
		if (w->now >= p->next_send && p->seq - p->acked < WINDOW) {
			m.seq = ++p->seq;
			m.len = DATA_BYTES;
			p->next_send = w->now + DATA_EVERY_MS;
			data(w, nd, s, NULL, &m);
		} else if (p->seq - p->acked >= WINDOW && w->now - p->last_rtx >= RTO_MS) {
			m.seq = p->acked + 1;
			m.len = DATA_BYTES;
			p->last_rtx = w->now;
			data(w, nd, s, NULL, &m);
		}
	}
}

/* next_event() - when something is next due: a datagram, a handshake's
 * retransmission, a core's deadline, an announcement, the sender */
static uint64_t next_event(const struct world *w)
{
	uint64_t t = w->nq ? w->q[0].at : UINT64_MAX;
	int i, k;

	for (i = 0; i < w->nnode; i++) {
		const struct node *nd = &w->node[i];

		if (nd->dead)
			continue;
		if (nd->relay_role)
			t = MIN(t, nd->housekeep_ms);
		for (k = 0; k < SESSIONS; k++)
			if (nd->sess[k].used && !nd->sess[k].est)
				t = MIN(t, nd->sess[k].rtx_at);
		for (k = 0; k < nd->npeer; k++) {
			const struct speer *p = &nd->peer[k];
			int up = live((struct node *)nd, k) != NULL;

			if (!p->down)
				t = MIN(t, nego_deadline(&p->n, busy(nd, k)));
			if (up && p->announce_ms)
				t = MIN(t, p->announce_ms);
			if (up && p->bulk)
				t = MIN(t, p->seq - p->acked < WINDOW ? p->next_send
								      : p->last_rtx + RTO_MS);
		}
	}
	return t;
}

/* step_to() - on to the next thing that happens, but not past `limit` */
static void step_to(struct world *w, uint64_t limit)
{
	uint64_t t = next_event(w);
	int i;

	w->now = MIN(MAX(t, w->now + 1), MAX(limit, w->now + 1));
	while (w->nq && w->q[0].at <= w->now) {
		struct pkt p = q_pop(w);

		deliver(w, &p);
	}
	for (i = 0; i < w->nnode; i++)
		node_timers(w, &w->node[i]);
}

/* step() - one millisecond on */
static void step(struct world *w)
{
	step_to(w, w->now + 1);
}

/* run_for() - let ms of simulated time pass */
static void run_for(struct world *w, uint64_t ms)
{
	uint64_t end = w->now + ms;

	while (w->now < end)
		step_to(w, end);
}

/* RUN_UNTIL() - run until cond holds (true) or max_ms passed (false) */
#define RUN_UNTIL(w, max_ms, cond)                                    \
	({                                                             \
		uint64_t end_ = (w)->now + (max_ms);                   \
		while (!(cond) && (w)->now < end_)                     \
			step_to(w, end_);                              \
		(cond);                                                \
	})

/* ---- the topology of tests/integration/paths.sh ---------------------------------- */

enum { PROV, CONS, R1, R2 };
enum router { PUBLIC, EIM, SYMMETRIC, DNAT };

static struct world *W;

/* add_node() - a daemon at ip, behind a router of that kind (ext: its public address) */
static struct node *add_node(struct world *w, const char *name, const char *ip, enum router rt,
			     const char *ext, int relay_role)
{
	struct node *nd = &w->node[w->nnode++];

	nd->name = name;
	nd->relay_role = relay_role;
	nd->addr = ip4(ip, PORT);
	nd->instance = rnd(w);
	nd->next_lid = (uint32_t)(rnd(w) & 0xffff) << 12;
	if (rt != PUBLIC) {
		nd->nat.on = 1;
		nd->nat.symmetric = rt == SYMMETRIC;
		nd->nat.dnat = rt == DNAT;
		inet_pton(AF_INET, ext, &nd->nat.ext);
		/* masquerade keeps the port where it can; a symmetric router
		 * picks a fresh one every time */
		nd->nat.base = nd->nat.next_port = rt == SYMMETRIC ? 40000 : PORT;
	}
	return nd;
}

/* add_peer() - node a pins node b: a core of its own for it */
static int add_peer(struct world *w, int a, int b)
{
	struct node *nd = &w->node[a];
	struct speer *p = &nd->peer[nd->npeer];
	struct nego_config c = w->cfg;

	p->node = b;
	p->sess = p->incoming = -1;
	c.relay_role = nd->relay_role;
	c.we_win = a < b;
	c.seed = rnd(w);
	nego_init(&p->n, &c, w->now);
	return nd->npeer++;
}

/* P() - a's peer entry for b */
static struct speer *P(struct world *w, int a, int b)
{
	int i = peer_of(&w->node[a], b);

	return i < 0 ? NULL : &w->node[a].peer[i];
}

/* S() - a's established session with b, or NULL */
static struct sess *S(struct world *w, int a, int b)
{
	int i = peer_of(&w->node[a], b);

	return i < 0 ? NULL : live(&w->node[a], i);
}

/* world_new() - an empty world with the default timers */
static struct world *world_new(uint64_t seed)
{
	struct world *w = xcalloc(1, sizeof(*w));

	w->rng = seed;
	w->now = 1000;
	w->trace = getenv("NEGO_TRACE") != NULL;
	w->cfg.probe_min_ms = 500;
	w->cfg.probe_max_ms = 15000;
	w->cfg.probe_timeout_ms = 2500;
	w->cfg.backoff_min_ms = 500;
	w->cfg.backoff_max_ms = 15000;
	return w;
}

/* paths_world() - provider and consumer behind their routers, relays r1
 * (and r2) on the public side; the provider knows the consumer at its
 * router's forwarded port if cons_endpoint */
static struct world *paths_world(enum router natp, enum router natc, int relays,
				 int cons_endpoint, uint64_t seed)
{
	struct world *w = world_new(seed);
	int i, j, pi;

	add_node(w, "prov", "192.0.2.2", natp, "198.51.100.2", 0);
	add_node(w, "cons", "192.0.2.66", natc, "198.51.100.3", 0);
	for (i = 0; i < relays; i++)
		add_node(w, i ? "r2" : "r1", i ? "198.51.100.12" : "198.51.100.11", PUBLIC, NULL, 1);
	for (i = PROV; i <= CONS; i++) {
		int other = i == PROV ? CONS : PROV, q = add_peer(w, i, other);

		for (j = 0; j < relays; j++) {
			pi = add_peer(w, i, R1 + j);
			w->node[i].peer[pi].ep[w->node[i].peer[pi].nep++] = w->node[R1 + j].addr;
			w->node[i].peer[q].relay[w->node[i].peer[q].nrelay++] = pi;
		}
	}
	if (cons_endpoint)
		P(w, PROV, CONS)->ep[P(w, PROV, CONS)->nep++] = ip4("198.51.100.3", PORT);
	for (j = 0; j < relays; j++) {
		add_peer(w, R1 + j, PROV);
		add_peer(w, R1 + j, CONS);
	}
	return w;
}

/* start_node() - a daemon starts: every peer of it */
static void start_node(struct world *w, int i)
{
	int pi;

	for (pi = 0; pi < w->node[i].npeer; pi++)
		g_start(w, &w->node[i], pi);
}

/* start_all() - every daemon starts */
static void start_all(struct world *w)
{
	int i;

	/* the relays first, as the namespace tests start them */
	for (i = w->nnode - 1; i >= 0; i--)
		start_node(w, i);
}

/* restart() - the daemon is killed and started again: a new run, no
 * sessions, its state from the configuration */
static void restart(struct world *w, int i)
{
	struct node *nd = &w->node[i];
	int pi;

	nd->instance = rnd(w);
	nd->next_lid += 0x100000;
	memset(nd->sess, 0, sizeof(nd->sess));
	nd->nwant = 0;
	memset(nd->chan, 0, sizeof(nd->chan));
	for (pi = 0; pi < nd->npeer; pi++) {
		struct speer *p = &nd->peer[pi];
		struct nego_config c = p->n.cfg;

		c.seed = rnd(w);
		nego_init(&p->n, &c, w->now);
		p->sess = p->incoming = -1;
		p->natt = 0;
		p->announce_ms = 0;
		p->have_obs = 0;
		memset(&p->view, 0, sizeof(p->view));
		p->seq = p->acked = p->rx_max = 0;
	}
	start_node(w, i);
}

/* cut_pair() - nothing passes between those two public addresses */
static void cut_pair(struct world *w, const char *a, const char *b)
{
	inet_pton(AF_INET, a, &w->cut[w->ncut].a);
	inet_pton(AF_INET, b, &w->cut[w->ncut].b);
	w->cut[w->ncut++].all = 0;
}

/* cut_all() - nothing passes to or from that public address */
static void cut_all(struct world *w, const char *a)
{
	inet_pton(AF_INET, a, &w->cut[w->ncut].a);
	w->cut[w->ncut++].all = 1;
}

/* uncut() - every cut is mended */
static void uncut(struct world *w)
{
	w->ncut = 0;
}

/* linked() - a and b connected, on one session (each holds the other end) */
static int linked(struct world *w, int a, int b)
{
	struct sess *x = S(w, a, b), *y = S(w, b, a);

	return x && y && P(w, a, b)->n.state == NEGO_CONNECTED &&
	       P(w, b, a)->n.state == NEGO_CONNECTED && x->rid == y->lid && y->rid == x->lid;
}

/* on() - linked, and both show that method */
static int on(struct world *w, int a, int b, enum path_method m)
{
	return linked(w, a, b) && nego_method(&P(w, a, b)->n) == m &&
	       nego_method(&P(w, b, a)->n) == m;
}

/* relay_in_use() - which relay node a's session with b goes through, or -1 */
static int relay_in_use(struct world *w, int a, int b)
{
	struct sess *s = S(w, a, b);
	int i;

	if (!s || !s->path.channel)
		return -1;
	for (i = 0; i < w->nnode; i++)
		if (w->node[i].relay_role && sin_eq(&w->node[i].addr, sin_of(&s->path)))
			return i;
	return -1;
}

/* entered() - how often a's link with b went into that state since `since` */
static int entered(struct world *w, int a, int b, enum nego_state st, uint64_t since)
{
	struct speer *p = P(w, a, b);
	int i, n = 0;

	for (i = 0; i < p->nhist; i++)
		if (p->hist[i].at >= since && p->hist[i].to == st)
			n++;
	return n;
}

/* world_free() - the world and its datagrams in flight */
static void world_free(struct world *w)
{
	free(w->q);
	free(w);
}

/* setup() - no world yet */
static void setup(void)
{
	W = NULL;
}

/* teardown() - a world a test left (it failed) is freed */
static void teardown(void)
{
	if (W)
		world_free(W);
	W = NULL;
}

/* ---- the scenarios ------------------------------------------------------------------ */

/* paths_direct 1: the consumer's router forwards the mesh port, the
 * provider knows it there: the link is direct on both sides at once,
 * though a relay is there too (the consumer learns the provider's address
 * from the relay as hole-punched, and shows direct by the provider's
 * label, 11.18) */
START_TEST(test_first_connection_direct)
{
	struct nego *n;
	uint64_t t0;
	int takes_p, takes_c, relayed = 0;
	size_t i;

	W = paths_world(EIM, DNAT, 1, 1, 1);
	t0 = W->now;
	start_all(W);
	ck_assert(RUN_UNTIL(W, 1000, on(W, PROV, CONS, PATH_DIRECT)));
	ck_assert_uint_le(W->now - t0, 200);
	ck_assert_str_eq(fmt(&S(W, PROV, CONS)->path), "198.51.100.3:6950");
	ck_assert_str_eq(fmt(&S(W, CONS, PROV)->path), "198.51.100.2:6950");
	ck_assert(RUN_UNTIL(W, 2000, linked(W, PROV, R1) && linked(W, CONS, R1)));
	/* and it stays so: no other session, no flap, the relay unused */
	takes_p = P(W, PROV, CONS)->takes;
	takes_c = P(W, CONS, PROV)->takes;
	run_for(W, 30000);
	ck_assert(on(W, PROV, CONS, PATH_DIRECT));
	ck_assert_int_eq(P(W, PROV, CONS)->takes, takes_p);
	ck_assert_int_eq(P(W, CONS, PROV)->takes, takes_c);
	ck_assert_int_eq(P(W, PROV, CONS)->nhist, 1);
	ck_assert_int_eq(P(W, CONS, PROV)->nhist, 1);
	ck_assert_int_eq(P(W, PROV, CONS)->migrations, 0);
	ck_assert_int_eq(P(W, CONS, PROV)->migrations, 0);
	/* the relay introduced them: the relayed path is known, not used */
	n = &P(W, PROV, CONS)->n;
	for (i = 0; i < n->cands.n; i++)
		relayed += n->cands.c[i].method == PATH_RELAY;
	ck_assert_int_eq(relayed, 1);
}
END_TEST

/* paths_punch: both behind endpoint-independent routers, no endpoints:
 * the relay introduces them, they meet on the relay and move to the
 * punched path (both send at once), and stay there */
START_TEST(test_first_connection_hole_punched)
{
	W = paths_world(EIM, EIM, 1, 0, 2);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 30000, on(W, PROV, CONS, PATH_HOLE_PUNCHED)));
	ck_assert_uint_le(W->now, 1000 + 5000);
	ck_assert_str_eq(fmt(&S(W, PROV, CONS)->path), "198.51.100.3:6950");
	ck_assert_str_eq(fmt(&S(W, CONS, PROV)->path), "198.51.100.2:6950");
	run_for(W, 60000);
	ck_assert(on(W, PROV, CONS, PATH_HOLE_PUNCHED));
	ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, 0), 0);
	ck_assert_int_eq(entered(W, CONS, PROV, NEGO_DEGRADED, 0), 0);
}
END_TEST

/* paths_relay 3: the provider's router maps every destination anew: no
 * hole can be punched, the link runs through a relay and stays there,
 * and no punched path ever answers */
START_TEST(test_first_connection_relay_only)
{
	struct nego *n;
	size_t i;

	W = paths_world(SYMMETRIC, EIM, 2, 0, 3);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 30000, on(W, PROV, CONS, PATH_RELAY)));
	ck_assert_uint_le(W->now, 1000 + 3000);
	run_for(W, 60000);
	ck_assert(on(W, PROV, CONS, PATH_RELAY));
	ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, 0), 0);
	n = &P(W, PROV, CONS)->n;
	for (i = 0; i < n->cands.n; i++)
		if (n->cands.c[i].method == PATH_HOLE_PUNCHED)
			ck_assert_uint_eq(n->cands.c[i].validated_ms, 0);
}
END_TEST

/* the path lost under load moves to the relay within probe-timeout-ms and
 * the first backoff (paths_outage 4), on both sides, and the data goes on;
 * when the direct path is back the link upgrades to it within
 * probe-interval-max-ms (paths_outage 5) */
START_TEST(test_cut_under_load_moves_to_relay_and_back)
{
	uint64_t t0, rx;

	W = paths_world(EIM, DNAT, 1, 1, 4);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
	P(W, PROV, CONS)->bulk = 1;
	run_for(W, 12000); /* introduced by the relay meanwhile */
	cut_pair(W, "198.51.100.2", "198.51.100.3");
	t0 = W->now;
	ck_assert(RUN_UNTIL(W, 15000, relay_in_use(W, PROV, CONS) == R1 &&
					P(W, PROV, CONS)->n.state == NEGO_CONNECTED));
	ck_assert_uint_le(W->now - t0, 2500 + 500);
	ck_assert(RUN_UNTIL(W, 3000, on(W, PROV, CONS, PATH_RELAY)));
	rx = P(W, CONS, PROV)->rx_count;
	run_for(W, 1000);
	ck_assert_uint_gt(P(W, CONS, PROV)->rx_count, rx + 50);
	/* the direct path returns */
	uncut(W);
	t0 = W->now;
	ck_assert(RUN_UNTIL(W, 20000, on(W, PROV, CONS, PATH_DIRECT)));
	ck_assert_uint_le(W->now - t0, 15000);
	rx = P(W, CONS, PROV)->rx_count;
	run_for(W, 1000);
	ck_assert_uint_gt(P(W, CONS, PROV)->rx_count, rx + 50);
}
END_TEST

/* a first connection through the relay (the direct path is cut) upgrades
 * to the direct path once it works, within probe-interval-max-ms, on both
 * sides, with data flowing all along */
START_TEST(test_upgrade_from_relay_to_direct)
{
	uint64_t t0;

	W = paths_world(EIM, DNAT, 1, 1, 5);
	cut_pair(W, "198.51.100.2", "198.51.100.3");
	start_all(W);
	ck_assert(RUN_UNTIL(W, 15000, on(W, PROV, CONS, PATH_RELAY)));
	P(W, PROV, CONS)->bulk = 1;
	run_for(W, 40000); /* upgrade rounds back off to probe-interval-max-ms */
	ck_assert(on(W, PROV, CONS, PATH_RELAY));
	uncut(W);
	t0 = W->now;
	ck_assert(RUN_UNTIL(W, 20000, on(W, PROV, CONS, PATH_DIRECT)));
	ck_assert_uint_le(W->now - t0, 15000);
	ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, 0), 0);
	ck_assert_int_eq(entered(W, CONS, PROV, NEGO_DEGRADED, 0), 0);
	run_for(W, 30000);
	ck_assert(on(W, PROV, CONS, PATH_DIRECT));
}
END_TEST

/* probe_max() - every core of the world probes at least every ms */
static void probe_max(struct world *w, uint64_t ms)
{
	int i, j;

	for (i = 0; i < w->nnode; i++)
		for (j = 0; j < w->node[i].npeer; j++)
			w->node[i].peer[j].n.cfg.probe_max_ms = ms;
}

/* the direct path returns under a running transfer (test_paths_move):
 * the first side to see it upgrades, and the other follows at once -- its
 * last challenge met the path while it was down, and the peer's data on
 * the path is what says to try again -- while the first does not follow
 * the other back to the relay for being quiet on a path the other has not
 * taken yet.  Each side moves once, seeds 1-8. */
static void upgrade_under_load(uint64_t heard_lag_ms)
{
	uint64_t seed;

	for (seed = 1; seed <= 8; seed++) {
		int mp, mc, first;
		uint64_t t0, t_first;

		W = paths_world(EIM, DNAT, 1, 1, seed);
		W->heard_lag_ms = heard_lag_ms;
		probe_max(W, 3000); /* as test_paths_move has it */
		start_all(W);
		ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
		run_for(W, 12000);
		cut_pair(W, "198.51.100.2", "198.51.100.3");
		ck_assert(RUN_UNTIL(W, 15000, on(W, PROV, CONS, PATH_RELAY) &&
						on(W, CONS, PROV, PATH_RELAY)));
		/* idle on the relay, its probes answered: rounds every
		 * probe-interval-max-ms; then a transfer starts */
		run_for(W, 15000 + seed * 377);
		P(W, PROV, CONS)->bulk = 1;
		/* the two sides' rounds apart, as independent daemons' are:
		 * the consumer's challenge meets the path still down, the
		 * provider's finds it back */
		t0 = P(W, PROV, CONS)->n.next_round_ms;
		ck_assert(RUN_UNTIL(W, 4000, W->now >= t0));
		P(W, CONS, PROV)->n.next_round_ms = t0 + 1900;
		run_for(W, 2000);
		mp = P(W, PROV, CONS)->migrations;
		mc = P(W, CONS, PROV)->migrations;
		uncut(W);
		t0 = W->now;
		ck_assert(RUN_UNTIL(W, 8000, P(W, PROV, CONS)->migrations > mp ||
					       P(W, CONS, PROV)->migrations > mc));
		first = P(W, PROV, CONS)->migrations > mp ? PROV : CONS;
		t_first = W->now;
		ck_assert(RUN_UNTIL(W, 3000, on(W, PROV, CONS, PATH_DIRECT) &&
						on(W, CONS, PROV, PATH_DIRECT)));
		ck_assert_msg(W->now - t_first <= 500,
			      "seed %llu: %s upgraded %llu ms after the change, the other %llu ms later",
			      (unsigned long long)seed, first == PROV ? "the provider" : "the consumer",
			      (unsigned long long)(t_first - t0),
			      (unsigned long long)(W->now - t_first));
		run_for(W, 10000);
		ck_assert_msg(P(W, PROV, CONS)->migrations == mp + 1 &&
				      P(W, CONS, PROV)->migrations == mc + 1,
			      "seed %llu: the provider moved %d times, the consumer %d",
			      (unsigned long long)seed, P(W, PROV, CONS)->migrations - mp,
			      P(W, CONS, PROV)->migrations - mc);
		world_free(W);
		W = NULL;
	}
}

START_TEST(test_upgrade_under_load_without_flapping)
{
	upgrade_under_load(0);
}
END_TEST

/* the same with the peer's datagrams heard at a time 3 ms older than the
 * path response before them (a batch read, then a path response handled
 * with a fresh clock): the core's time must not go back, or "quiet since
 * the upgrade" wraps and the side that upgraded follows the peer's data
 * straight back to the relay */
START_TEST(test_upgrade_with_batch_time_behind)
{
	upgrade_under_load(3);
}
END_TEST

/* every path down for 30 s during a transfer (paths_outage 6): degraded,
 * then reconnecting with retry delays that double to backoff-max-ms and no
 * further; when the paths return both sides recover -- the second one as
 * soon as it hears the first, not at its own next round, which the
 * backoff may hold off for 15 s */
static void outage(struct world *w)
{
	uint64_t t0, last = 0, maxd = 0, tp, tc, rx;
	int sampled = 0, i;
	struct hist *h;

	start_all(w);
	ck_assert(RUN_UNTIL(w, 2000, on(w, PROV, CONS, PATH_DIRECT)));
	P(w, PROV, CONS)->bulk = 1;
	run_for(w, 12000);
	cut_all(w, "198.51.100.2");
	t0 = w->now;
	while (w->now - t0 < 30000) {
		struct nego *n = &P(w, PROV, CONS)->n;

		run_for(w, 500);
		/* lost a probe timeout after the last datagram heard */
		if (w->now - t0 > 2500 + 10)
			ck_assert_int_ne(n->state, NEGO_CONNECTED);
		ck_assert_int_ne(n->state, NEGO_CONNECTING);
		if (n->state == NEGO_RECONNECTING && n->next_round_ms) {
			ck_assert_uint_ge(n->retry_delay_ms, last); /* never shrinks */
			last = n->retry_delay_ms;
			maxd = MAX(maxd, n->retry_delay_ms);
			ck_assert_uint_le(n->next_round_ms - w->now, 15000);
			sampled++;
		}
	}
	ck_assert_int_ge(entered(w, PROV, CONS, NEGO_DEGRADED, t0), 1);
	ck_assert_int_eq(P(w, PROV, CONS)->n.state, NEGO_RECONNECTING);
	/* degraded for exactly the probe timeout, then reconnecting */
	h = P(w, PROV, CONS)->hist;
	for (i = 0; i < P(w, PROV, CONS)->nhist && h[i].to != NEGO_DEGRADED; i++)
		;
	ck_assert_int_lt(i + 1, P(w, PROV, CONS)->nhist);
	ck_assert_int_eq(h[i + 1].to, NEGO_RECONNECTING);
	ck_assert_uint_eq(h[i + 1].at - h[i].at, 2500);
	ck_assert_uint_eq(maxd, 15000);
	ck_assert_int_gt(sampled, 10);
	uncut(w);
	t0 = w->now;
	tp = tc = 0;
	while (w->now - t0 < 15000 + 3000 && !(tp && tc)) {
		step(w);
		if (!tp && P(w, PROV, CONS)->n.state == NEGO_CONNECTED)
			tp = w->now;
		if (!tc && P(w, CONS, PROV)->n.state == NEGO_CONNECTED)
			tc = w->now;
	}
	ck_assert_msg(tp && tc, "provider %llu, consumer %llu", (unsigned long long)tp,
		      (unsigned long long)tc);
	ck_assert_msg(tp > tc ? tp - tc <= 1000 : tc - tp <= 1000,
		      "one side recovered %llu ms after the other",
		      (unsigned long long)(tp > tc ? tp - tc : tc - tp));
	ck_assert(RUN_UNTIL(w, 1000, on(w, PROV, CONS, PATH_DIRECT)));
	rx = P(w, CONS, PROV)->rx_count;
	run_for(w, 1000);
	ck_assert_uint_gt(P(w, CONS, PROV)->rx_count, rx + 50);
}

START_TEST(test_recovery_after_outage)
{
	int seed;

	/* the sides' rounds fall where their jitter puts them */
	for (seed = 0; seed < 4; seed++) {
		W = paths_world(EIM, DNAT, 1, 1, 600 + seed);
		outage(W);
		world_free(W);
		W = NULL;
	}
}
END_TEST

/* the provider's router forgets its mapping during a transfer (either
 * way): the consumer follows the provider to its new address within a
 * round trip or so, and neither side ever sees the link degraded */
START_TEST(test_follow_nat_rebinding_mid_transfer)
{
	int up;

	for (up = 0; up <= 1; up++) {
		uint64_t t0, rx;
		struct speer *sender;

		W = paths_world(EIM, DNAT, 1, 1, 7 + up);
		start_all(W);
		ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
		sender = up ? P(W, CONS, PROV) : P(W, PROV, CONS);
		sender->bulk = 1;
		run_for(W, 5000);
		ck_assert_str_eq(fmt(&S(W, CONS, PROV)->path), "198.51.100.2:6950");
		nat_rebind(&W->node[PROV].nat);
		t0 = W->now;
		ck_assert(RUN_UNTIL(W, 5000, linked(W, PROV, CONS) &&
						    strcmp(fmt(&S(W, CONS, PROV)->path),
							   "198.51.100.2:7950") == 0));
		/* the provider's data shows its new address at once; when
		 * it only receives, its first probe after the data stopped
		 * coming does (probe-interval-min-ms) */
		ck_assert_uint_le(W->now - t0, (up ? 500 + 200 : 200));
		ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, 0), 0);
		ck_assert_int_eq(entered(W, CONS, PROV, NEGO_DEGRADED, 0), 0);
		rx = (up ? P(W, PROV, CONS) : P(W, CONS, PROV))->rx_count;
		run_for(W, 10000);
		ck_assert(on(W, PROV, CONS, PATH_DIRECT));
		ck_assert_uint_gt((up ? P(W, PROV, CONS) : P(W, CONS, PROV))->rx_count, rx + 500);
		ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, 0), 0);
		ck_assert_int_eq(entered(W, CONS, PROV, NEGO_DEGRADED, 0), 0);
		world_free(W);
		W = NULL;
	}
}
END_TEST

/* both know each other's address and dial at once, with every skew of
 * start and path delay: both keep one session, the same one, the one the
 * smaller key dialled when they came up together (11.17); nothing is
 * torn down after that */
START_TEST(test_both_dial_at_once)
{
	int skew, lag;

	for (skew = 0; skew <= 60; skew += 5) {
		for (lag = 0; lag <= 30; lag += 30) {
			struct sess *sp, *sc;
			uint64_t settled;

			W = paths_world(DNAT, DNAT, 0, 1, 100 + skew * 7 + lag);
			P(W, CONS, PROV)->ep[P(W, CONS, PROV)->nep++] = ip4("198.51.100.2", PORT);
			W->extra_delay_ms[CONS] = (uint64_t)lag;
			start_node(W, PROV);
			run_for(W, (uint64_t)skew);
			start_node(W, CONS);
			ck_assert_msg(RUN_UNTIL(W, 3000, linked(W, PROV, CONS)), "skew %d lag %d", skew,
				      lag);
			run_for(W, 3000);
			ck_assert_msg(linked(W, PROV, CONS), "skew %d lag %d", skew, lag);
			sp = S(W, PROV, CONS);
			sc = S(W, CONS, PROV);
			settled = W->now;
			/* the provider (the smaller key) dialled, and its
			 * handshake completes: it is the one both keep */
			ck_assert_msg(sp->client && !sc->client, "skew %d lag %d", skew, lag);
			P(W, PROV, CONS)->bulk = 1;
			run_for(W, 10000);
			ck_assert_msg(linked(W, PROV, CONS) && S(W, PROV, CONS) == sp &&
					      S(W, CONS, PROV) == sc,
				      "skew %d lag %d: the session changed", skew, lag);
			ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, 0), 0);
			ck_assert_int_eq(entered(W, CONS, PROV, NEGO_DEGRADED, 0), 0);
			ck_assert_int_eq(entered(W, PROV, CONS, NEGO_RECONNECTING, settled), 0);
			ck_assert_uint_gt(P(W, CONS, PROV)->rx_count, 900);
			world_free(W);
			W = NULL;
		}
	}
}
END_TEST

/* paths_relay 9: the relay in use dies during a transfer: the link moves
 * to the other relay within probe-timeout-ms and a backoff, on both
 * sides; the data goes on; the dead relay is retried, not given up */
START_TEST(test_relay_dies)
{
	int used, other;
	uint64_t t0, rx;

	W = paths_world(SYMMETRIC, EIM, 2, 0, 9);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 15000, on(W, PROV, CONS, PATH_RELAY)));
	P(W, PROV, CONS)->bulk = 1;
	run_for(W, 12000); /* both relays have introduced them */
	used = relay_in_use(W, PROV, CONS);
	ck_assert(used == R1 || used == R2);
	other = used == R1 ? R2 : R1;
	W->node[used].dead = 1;
	t0 = W->now;
	ck_assert(RUN_UNTIL(W, 15000, relay_in_use(W, PROV, CONS) == other &&
					relay_in_use(W, CONS, PROV) == other && linked(W, PROV, CONS)));
	ck_assert_uint_le(W->now - t0, 2500 + 1000 + 500);
	rx = P(W, CONS, PROV)->rx_count;
	run_for(W, 1000);
	ck_assert_uint_gt(P(W, CONS, PROV)->rx_count, rx + 50);
	run_for(W, 20000);
	ck_assert(on(W, PROV, CONS, PATH_RELAY) && relay_in_use(W, PROV, CONS) == other);
	ck_assert(P(W, PROV, used)->n.state == NEGO_DEGRADED ||
		  P(W, PROV, used)->n.state == NEGO_RECONNECTING);
	ck_assert_uint_ne(P(W, PROV, used)->n.next_round_ms, 0);
}
END_TEST

/* paths_direct 8: the provider's daemon is killed and started again: the
 * consumer takes its new session at once (the newer wins: another run of
 * the peer), and the link is direct again */
START_TEST(test_peer_restarts)
{
	uint64_t t0;

	W = paths_world(EIM, DNAT, 1, 1, 10);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
	P(W, CONS, PROV)->bulk = 1;
	run_for(W, 15000);
	restart(W, PROV);
	t0 = W->now;
	ck_assert(RUN_UNTIL(W, 5000, on(W, PROV, CONS, PATH_DIRECT)));
	ck_assert_uint_le(W->now - t0, 200);
	ck_assert_str_eq(P(W, CONS, PROV)->last_take, "replaced by a new session: the peer restarted");
	run_for(W, 20000);
	ck_assert(on(W, PROV, CONS, PATH_DIRECT));
	ck_assert_int_eq(entered(W, CONS, PROV, NEGO_DEGRADED, t0), 0);
}
END_TEST

/* the consumer restarts: it knows no address of the provider (and has no
 * relay to learn one from), which holds the old session.  The provider
 * hears UNKNOWN for it once it has gone quiet, dials again, and the link
 * is direct again within seconds */
START_TEST(test_peer_without_endpoint_restarts)
{
	uint64_t t0;

	W = paths_world(EIM, DNAT, 0, 1, 11);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
	P(W, PROV, CONS)->bulk = 1;
	run_for(W, 15000);
	restart(W, CONS);
	t0 = W->now;
	ck_assert(RUN_UNTIL(W, 10000, on(W, PROV, CONS, PATH_DIRECT)));
	ck_assert_uint_le(W->now - t0, UNKNOWN_SILENCE_MS + 1000);
	run_for(W, 20000);
	ck_assert(on(W, PROV, CONS, PATH_DIRECT));
}
END_TEST

/* a link that was idle long enough for its probe interval to grow, then
 * carries data: that is no lost path (a busy path's loss counts from its
 * last datagram -- not from before it got busy, 11.20) */
START_TEST(test_idle_then_busy_is_no_loss)
{
	uint64_t t0;

	W = paths_world(EIM, DNAT, 0, 1, 12);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
	/* quiet for longer than probe-timeout-ms: nothing to say */
	ck_assert(RUN_UNTIL(W, 60000, W->now - P(W, PROV, CONS)->n.mon.last_rx_ms >= 3000));
	t0 = W->now;
	P(W, PROV, CONS)->bulk = 1;
	run_for(W, 20000);
	ck_assert_int_eq(entered(W, PROV, CONS, NEGO_DEGRADED, t0), 0);
	ck_assert_int_eq(P(W, PROV, CONS)->migrations, 0);
	ck_assert(on(W, PROV, CONS, PATH_DIRECT));
}
END_TEST

/* paths_direct 7: `disconnect` ends the session and dials nothing, ever;
 * the peer keeps trying; `connect` brings the link back */
START_TEST(test_disconnect_dials_nothing)
{
	struct speer *p;
	struct node *nd;
	int pi;

	W = paths_world(EIM, DNAT, 1, 1, 13);
	start_all(W);
	ck_assert(RUN_UNTIL(W, 2000, on(W, PROV, CONS, PATH_DIRECT)));
	nd = &W->node[PROV];
	pi = peer_of(nd, CONS);
	p = &nd->peer[pi];
	p->down = 1;
	nego_admin(&p->n, 1, "disconnected by the operator", W->now);
	g_drain(W, nd, pi);
	ck_assert_int_eq(p->n.state, NEGO_DISCONNECTED);
	ck_assert_int_lt(p->sess, 0);
	run_for(W, 30000);
	ck_assert_int_eq(p->dials_after_down, 0);
	ck_assert_int_eq(p->n.state, NEGO_DISCONNECTED);
	ck_assert_int_lt(p->sess, 0);
	ck_assert(P(W, CONS, PROV)->n.state == NEGO_RECONNECTING);
	p->down = 0;
	nego_admin(&p->n, 0, "connect requested by the operator", W->now);
	g_drain(W, nd, pi);
	g_start(W, nd, pi);
	ck_assert(RUN_UNTIL(W, 15000, on(W, PROV, CONS, PATH_DIRECT)));
}
END_TEST

/* ---- the core alone: the tie-break rule (11.17) ------------------------------------- */

static struct nego_config core_cfg(int we_win)
{
	struct nego_config c = { 500, 15000, 2500, 500, 15000, 0, we_win, 42 };

	return c;
}

/* expect() - the next actions, by type, then none */
static void expect(struct nego *n, const enum nego_act *want, size_t k)
{
	struct nego_action a;
	size_t i;

	for (i = 0; i < k; i++) {
		ck_assert_msg(nego_next(n, &a), "action %zu of %zu missing", i, k);
		ck_assert_int_eq(a.type, want[i]);
	}
	while (nego_next(n, &a))
		ck_assert_msg(a.type == NEGO_STATE || a.type == NEGO_LABEL || a.type == NEGO_DROP,
			      "unexpected action %d", a.type);
}

/* drain_all() - forget the queued actions */
static void drain_all(struct nego *n)
{
	struct nego_action a;

	while (nego_next(n, &a))
		;
}

START_TEST(test_tie_break_rule)
{
	struct path_addr pa = pa_of(&(struct sockaddr_in){ .sin_family = AF_INET,
							    .sin_port = htons(PORT) }, 0);
	int we_win, ours_first;

	for (we_win = 0; we_win <= 1; we_win++) {
		for (ours_first = 0; ours_first <= 1; ours_first++) {
			struct nego n;
			struct nego_config c = core_cfg(we_win);
			struct nego_up ours = { 7, 1, pa, PATH_DIRECT }, theirs = { 0, 1, pa,
										    PATH_DIRECT };
			int keep_ours_second;

			nego_init(&n, &c, 1000);
			nego_session_up(&n, ours_first ? &ours : &theirs, 1000);
			expect(&n, (enum nego_act[]){ NEGO_TAKE }, 1);
			/* the second, 1999 ms later and the same run: both dialled */
			nego_session_up(&n, ours_first ? &theirs : &ours, 2999);
			keep_ours_second = !ours_first && we_win;
			if ((ours_first && we_win) || (!ours_first && !we_win)) {
				expect(&n, (enum nego_act[]){ NEGO_REFUSE }, 1);
				ck_assert_int_eq(n.sess.client, ours_first);
			} else {
				expect(&n, (enum nego_act[]){ NEGO_TAKE }, 1);
				ck_assert_int_eq(n.sess.client, keep_ours_second);
			}
			/* the same, 2000 ms later: the newer wins */
			nego_init(&n, &c, 1000);
			nego_session_up(&n, ours_first ? &ours : &theirs, 1000);
			drain_all(&n);
			nego_session_up(&n, ours_first ? &theirs : &ours, 3000);
			expect(&n, (enum nego_act[]){ NEGO_TAKE }, 1);
			ck_assert_int_eq(n.sess.client, !ours_first);
			/* within the window but another run of the peer: it
			 * restarted, the newer wins */
			nego_init(&n, &c, 1000);
			nego_session_up(&n, ours_first ? &ours : &theirs, 1000);
			drain_all(&n);
			ours.same_instance = theirs.same_instance = 0;
			nego_session_up(&n, ours_first ? &theirs : &ours, 1001);
			expect(&n, (enum nego_act[]){ NEGO_TAKE }, 1);
			ck_assert_int_eq(n.sess.client, !ours_first);
		}
	}
}
END_TEST

/* dial_once() - a core started at 1000 ms with one candidate: the id of
 * the one attempt it dials */
static uint64_t dial_once(struct nego *n, const struct nego_config *c, const struct path_new *pn)
{
	struct nego_action act;
	uint64_t id = 0;

	nego_init(n, c, 1000);
	nego_candidate(n, pn, 1000);
	nego_start(n, "start", 1000);
	while (nego_next(n, &act))
		if (act.type == NEGO_DIAL)
			id = act.id;
	ck_assert_uint_ne(id, 0);
	return id;
}

/* while a session the peer dialled is up, our handshakes in flight stay
 * only if they would win the rule and the peer may already hold them (our
 * Finished went out, 11.49); until such a one completes, the link is not
 * settled.  One the peer cannot have completed goes quietly: finishing it
 * would replace the session the peer gave us, and reset what the peer
 * opened on it (test_paths_direct, twice in CI). */
START_TEST(test_attempts_kept_only_if_they_win)
{
	struct sockaddr_in a = ip4("198.51.100.3", PORT);
	struct path_addr pa = pa_of(&a, 0);
	struct path_new pn = { &pa, PATH_DIRECT, PATH_CONFIGURED, -1, 0 };
	struct nego_up theirs = { 0, 0, pa, PATH_DIRECT };
	struct nego_action act;
	int we_win, committed;

	for (we_win = 0; we_win <= 1; we_win++) {
		for (committed = 0; committed <= 1; committed++) {
			struct nego n;
			struct nego_config c = core_cfg(we_win);
			uint64_t id = 0;
			int drops = 0, kept = we_win && committed;

			id = dial_once(&n, &c, &pn);
			nego_attempt_answered(&n, id, 1010);
			if (committed)
				nego_attempt_committed(&n, id);
			drain_all(&n);
			ck_assert(nego_settled(&n, 1020, 0));
			nego_session_up(&n, &theirs, 1020);
			while (nego_next(&n, &act))
				drops += act.type == NEGO_DROP;
			ck_assert_int_eq(drops, !kept);
			ck_assert_int_eq(nego_settled(&n, 1020, 0), !kept);
			ck_assert_uint_eq(n.nattempt, (size_t)kept);
		}
	}
}
END_TEST

/* the side that loses the tie, with the session it dialled up: while a
 * handshake the peer dialled is under way and the tie window is open, the
 * link is not settled (that handshake will replace the session, and the
 * flows opened on it: 11.47); the winner ignores the peer's dialling */
START_TEST(test_loser_unsettled_while_the_peer_dials)
{
	struct sockaddr_in a = ip4("198.51.100.3", PORT);
	struct path_addr pa = pa_of(&a, 0);
	struct path_new pn = { &pa, PATH_DIRECT, PATH_CONFIGURED, -1, 0 };
	int we_win;

	for (we_win = 0; we_win <= 1; we_win++) {
		struct nego n;
		struct nego_config c = core_cfg(we_win);
		struct nego_up ours = { 0, 0, pa, PATH_DIRECT };
		uint64_t id = 0;

		id = dial_once(&n, &c, &pn);
		ours.attempt = id;
		nego_session_up(&n, &ours, 1020);
		drain_all(&n);
		ck_assert(nego_knows_path(&n, &pa));
		ck_assert(nego_settled(&n, 1030, 0));
		ck_assert_int_eq(nego_settled(&n, 1030, 1), we_win);
		ck_assert(nego_settled(&n, 1020 + NEGO_TIE_WINDOW_MS, 1));
		/* the glue asks whether the peer dials only while it matters */
		ck_assert_int_eq(nego_tie_open(&n, 1030), !we_win);
		ck_assert(!nego_tie_open(&n, 1020 + NEGO_TIE_WINDOW_MS));
	}
}
END_TEST

/* a handshake to an address a relay announced keeps within its allowance
 * until the address answers, and is not limited after that; a configured
 * endpoint never is, and an attempt the core does not know sends nothing */
START_TEST(test_dial_budget_until_answered)
{
	struct sockaddr_in a = ip4("198.51.100.3", PORT), b = ip4("198.51.100.4", PORT);
	struct path_addr pa = pa_of(&a, 0), pb = pa_of(&b, 0);
	struct path_new ann = { &pa, PATH_HOLE_PUNCHED, PATH_ANNOUNCED, -1, 0 };
	struct path_new conf = { &pb, PATH_DIRECT, PATH_CONFIGURED, -1, 0 };
	struct nego_config c = core_cfg(1);
	struct nego_action act;
	uint64_t punched = 0, direct = 0, sent = 0;
	struct nego n;

	nego_init(&n, &c, 1000);
	nego_candidate(&n, &ann, 1000);
	nego_candidate(&n, &conf, 1000);
	nego_start(&n, "start", 1000);
	while (nego_next(&n, &act)) {
		if (act.type == NEGO_DIAL && path_addr_eq(&act.to, &pa))
			punched = act.id;
		if (act.type == NEGO_DIAL && path_addr_eq(&act.to, &pb))
			direct = act.id;
	}
	ck_assert(punched && direct);
	/* a ClientHello, then its retransmission: both fit, a third does not */
	while (nego_attempt_send(&n, punched, 240))
		sent += 240;
	ck_assert_uint_ge(sent, 480);
	ck_assert_uint_le(sent, NEGO_DIAL_BYTES);
	ck_assert_uint_eq(n.ctr.limited, 1);
	ck_assert(nego_attempt_send(&n, direct, 100000));
	/* the punched address answers: the rest of the handshake goes */
	nego_attempt_answered(&n, punched, 1100);
	ck_assert(nego_attempt_send(&n, punched, 260));
	ck_assert(nego_attempt_send(&n, punched, 560));
	ck_assert(nego_attempt_send(&n, punched, 560));
	ck_assert(!nego_attempt_send(&n, direct, 100)); /* dropped when punched answered */
	ck_assert(!nego_attempt_send(&n, 999, 100));
	ck_assert_uint_eq(n.ctr.limited, 3);
}
END_TEST

/* a disconnected or removed peer: its session is closed and no round
 * runs, not even when the close comes back as the session's end */
START_TEST(test_down_never_dials)
{
	struct sockaddr_in a = ip4("198.51.100.3", PORT);
	struct path_addr pa = pa_of(&a, 0);
	struct path_new pn = { &pa, PATH_DIRECT, PATH_CONFIGURED, -1, 0 };
	struct nego_up ours = { UINT64_MAX, 0, pa, PATH_DIRECT };
	struct nego_config c = core_cfg(1);
	struct nego_action act;
	struct nego n;
	int closes = 0;

	nego_init(&n, &c, 1000);
	nego_candidate(&n, &pn, 1000);
	nego_session_up(&n, &ours, 1000);
	drain_all(&n);
	nego_admin(&n, 1, "peer removed", 2000);
	while (nego_next(&n, &act)) {
		ck_assert_int_ne(act.type, NEGO_DIAL);
		closes += act.type == NEGO_CLOSE;
	}
	ck_assert_int_eq(closes, 1);
	nego_session_gone(&n, "peer removed", 2000);
	nego_tick(&n, 100000, 0);
	while (nego_next(&n, &act))
		ck_assert(act.type == NEGO_STATE);
	ck_assert_int_eq(n.state, NEGO_DISCONNECTED);
	ck_assert_uint_eq(nego_deadline(&n, 0), UINT64_MAX);
}
END_TEST

/* NEGO_TEST=test_name runs that test alone (with NEGO_TRACE=1, traced) */
#define ADD(tc, t)                                                             \
	do {                                                                   \
		const char *only_ = getenv("NEGO_TEST");                       \
		if (!only_ || strcmp(only_, #t) == 0)                          \
			tcase_add_test(tc, t);                                 \
	} while (0)

/* nego_suite() - the simulated network's scenarios, then the core alone */
static Suite *nego_suite(void)
{
	Suite *s = suite_create("nego");
	TCase *sim = tcase_create("simulated network");
	TCase *core = tcase_create("core");

	tcase_add_checked_fixture(sim, setup, teardown);
	ADD(sim, test_first_connection_direct);
	ADD(sim, test_first_connection_hole_punched);
	ADD(sim, test_first_connection_relay_only);
	ADD(sim, test_cut_under_load_moves_to_relay_and_back);
	ADD(sim, test_upgrade_from_relay_to_direct);
	ADD(sim, test_upgrade_under_load_without_flapping);
	ADD(sim, test_upgrade_with_batch_time_behind);
	ADD(sim, test_recovery_after_outage);
	ADD(sim, test_follow_nat_rebinding_mid_transfer);
	ADD(sim, test_both_dial_at_once);
	ADD(sim, test_relay_dies);
	ADD(sim, test_peer_restarts);
	ADD(sim, test_peer_without_endpoint_restarts);
	ADD(sim, test_idle_then_busy_is_no_loss);
	ADD(sim, test_disconnect_dials_nothing);
	ADD(core, test_tie_break_rule);
	ADD(core, test_attempts_kept_only_if_they_win);
	ADD(core, test_loser_unsettled_while_the_peer_dials);
	ADD(core, test_dial_budget_until_answered);
	ADD(core, test_down_never_dials);
	suite_add_tcase(s, sim);
	suite_add_tcase(s, core);
	return s;
}

/* main() - run the suite; the exit status says if all passed */
int main(void)
{
	SRunner *sr;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sr = srunner_create(nego_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
