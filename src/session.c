/* session.c: DTLS handshakes, the established session, its path, its timer.
 *
 * While the handshake runs, the client sends HANDSHAKE datagrams with
 * receiver id 0 and its own id as sender; the server finds the session by
 * (path, sender id), so it keeps nothing for a ClientHello that has not
 * returned its cookie.  Once established, both sides send DATA datagrams
 * to the other's id, on the session's path: straight to the peer, or
 * wrapped for a relay that forwards them on a channel.  A path changes
 * only to one that answered a PATH_CHALLENGE (the peer layer decides);
 * the session, its flows and their unacknowledged bytes go on. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "daemon.h"
#include "dtls.h"
#include "flow.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "mesh.h"
#include "peer.h"
#include "relay.h"
#include "seal.h"
#include "session.h"
#include "util.h"

#define UNKNOWN_SILENCE_MS 1000
#define PATH_PACKET_MIN 24         /* packet number, PATH_CHALLENGE/RESPONSE, room */
#define REFUSED_LOG_MS 10000       /* one line per flood, not one per datagram */

static void arm_timer(struct session *s);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void precise_timer(struct session *s);
static void release_handshake(struct session *s);

/* link_mtu() - what DTLS may put in one handshake datagram: the path MTU
 * less IP, UDP and our headers (a relayed datagram carries two) */
static unsigned link_mtu(const struct daemon *d, const struct path_addr *to)
{
	return d->cfg.mtu - pmtu_path_overhead(to, PMTU_HANDSHAKE);
}

/* out_path() - where the datagram being sent goes: tx_path for a path
 * probe, else the session's path */
static const struct path_addr *out_path(const struct session *s)
{
	return s->tx_path ? s->tx_path : &s->path;
}

static void dtls_out(void *arg, const uint8_t *rec, size_t len)
{
	struct session *s = arg;
	struct wire_outer o = { .receiver_id = s->remote_id, .sender_id = s->local_id };

	/* a client keeps using HANDSHAKE (receiver 0) until it is done, so
	 * the server can find it by path and sender id */
	o.type = s->state == SESS_ESTABLISHED ? WIRE_DATA : WIRE_HANDSHAKE;
	if (o.type == WIRE_HANDSHAKE && s->client)
		o.receiver_id = 0;
	/* our handshake to an address that may never have spoken: the
	 * negotiation core says how much may go (RFC 9000 8) */
	if (o.type == WIRE_HANDSHAKE && s->client && s->peer &&
	    !peer_attempt_send(s->peer, s->attempt_id,
			       len + pmtu_overhead(PMTU_UDP_PAYLOAD, s->path.channel != 0,
						   PMTU_HANDSHAKE)))
		return;
	mesh_send_path(s->mesh, out_path(s), &o, rec, len);
}

/* session_write() - one link packet to the peer: sealed (seal.h) when
 * both ends can, else as a DTLS record */
static void session_write(struct session *s, const uint8_t *pkt, size_t n)
{
	struct wire_outer o = { .type = WIRE_SEALED, .receiver_id = s->remote_id };
	uint8_t *rec;
	size_t len;

	if (!s->seal) {
		dtls_write(s->dtls, pkt, n);
		return;
	}
	/* sealed straight into the send slot: no copy of the record */
	rec = mesh_path_begin(s->mesh, out_path(s), &o, n + SEAL_OVERHEAD);
	if (!rec)
		return;
	len = seal_packet(s->seal, &o, pkt, n, rec);
	if (!len) {
		/* OpenSSL failed us: the link sends what it carried again */
		const char *why = ERR_reason_error_string(ERR_get_error());

		if (!s->seal_failed++)
			log_warnx("peer %s: cannot seal a record (%zu bytes): %s", s->peer->name,
				  n, why ? why : "too large, or the counter is spent");
		ERR_clear_error();
		return;
	}
	mesh_path_commit(s->mesh, len);
}

static struct session *session_new(struct daemon *d, struct mesh *m, const struct path_addr *to)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->mesh = m;
	s->local_id = mesh_new_session_id(m);
	s->path = *to;
	s->method = to->channel ? PATH_RELAY : PATH_DIRECT;
	s->path_since_ms = clock_now_ms();
	s->created_ms = s->last_rx_ms = clock_now_ms();
	s->timer = evtimer_new(d->base, on_timer, s);
	s->timer_fd = -1;
	mesh_add_session(m, s);
	return s;
}

struct session *session_client_new(struct daemon *d, struct mesh *m, struct peer *p,
				   const struct path_addr *to, enum path_method method,
				   uint64_t attempt_id)
{
	struct session *s = session_new(d, m, to);
	char a[96];

	s->client = 1;
	s->peer = p;
	s->method = method;
	s->attempt_id = attempt_id;
	log_info("peer %s: handshake via %s (session %08x)", p->name, path_addr_fmt(to, a),
		 s->local_id);
	s->dtls = dtls_client_new(d->dtls, p->fingerprint, link_mtu(d, to), dtls_out, s);
	if (!s->dtls) {
		session_free(s);
		return NULL;
	}
	arm_timer(s);
	return s;
}

/* ---- path MTU (pmtu.h) ------------------------------------------------ */

/* pmtu_start() - the session's path, from the configured MTU */
static void pmtu_start(struct session *s)
{
	struct pmtu_config c = { .base = s->d->cfg.mtu, .max = PMTU_MAX,
				 .search = s->d->cfg.pmtu_probe };

	pmtu_reset(&s->pmtu, &c, pmtu_ip_of(&s->path), s->path.channel != 0,
		   link_next_pn(s->link), clock_now_ms());
}

/* pmtu_run() - what the path MTU core asks for now: the packet size, a
 * probe, a line in the log.  Called after the link core has run, never
 * from inside it. */
static void pmtu_run(struct session *s, uint64_t now_ms)
{
	struct pmtu_action act;
	char a[96];

	pmtu_poll(&s->pmtu, now_ms, &act);
	if (act.payload != link_max_packet(s->link))
		link_set_max_packet(s->link, act.payload);
	if (act.events & PMTU_EV_BLACK_HOLE)
		log_info("peer %s: path %s stopped carrying large datagrams: back to %u bytes",
			 s->peer->name, path_addr_fmt(&s->path, a), s->pmtu.mtu);
	if (act.events & PMTU_EV_TOO_BIG)
		log_info("peer %s: this host's interface towards %s carries at most %u bytes now: "
			 "link packets of %zu bytes from now on", s->peer->name,
			 path_addr_fmt(&s->path, a), s->pmtu.mtu, act.payload);
	if (act.events & PMTU_EV_FOUND)
		log_info("peer %s: path MTU to %s is %u bytes", s->peer->name,
			 path_addr_fmt(&s->path, a), s->pmtu.mtu);
	if (act.probe) {
		uint8_t buf[PMTU_MAX + 64];
		uint64_t pn = link_next_pn(s->link);
		size_t n = link_build_mtu_probe(s->link, act.probe, buf, sizeof(buf),
						clock_now_us());

		if (n)
			session_write(s, buf, n);
		pmtu_probe_sent(&s->pmtu, pn, link_rtt(s->link)->smoothed_us / 1000, now_ms);
	}
}

/* Called from the mesh's send loop: the smaller packets start at once,
 * and pmtu_run() says so in the log at its next turn (it may send a
 * probe, which the send loop must not be asked for from inside). */
void session_too_big(struct session *s, unsigned mtu)
{
	pmtu_on_too_big(&s->pmtu, mtu, clock_now_ms());
	link_set_max_packet(s->link, pmtu_max_payload(&s->pmtu));
	mesh_wake(s->mesh, s);
}

/* The link core's reports, for the path MTU core: they only update its
 * state; pmtu_run() acts on it once the link core has returned. */
static void probe_acked(void *arg, uint64_t pn, size_t size)
{
	struct session *s = arg;

	pmtu_on_probe_acked(&s->pmtu, pn, size, clock_now_ms());
}

static void packet_acked(void *arg, uint64_t pn, size_t size)
{
	struct session *s = arg;

	pmtu_on_acked(&s->pmtu, pn, size);
}

static void packet_lost(void *arg, uint64_t pn, size_t size)
{
	struct session *s = arg;

	pmtu_on_lost(&s->pmtu, pn, size, link_rtt(s->link)->smoothed_us / 1000, clock_now_ms());
}

/* ---- path frames ------------------------------------------------------- */

/* send_path_packet() - a PATH_CHALLENGE or PATH_RESPONSE alone, to `to`, in
 * a datagram of at most max bytes: padded to the minimum packet size only
 * when that fits (RFC 9000 8.2.1).  Its size, or 0 if it did not fit. */
static size_t send_path_packet(struct session *s, const struct path_addr *to, uint8_t type,
			       const uint8_t data[PATH_CHALLENGE_LEN], uint64_t max)
{
	uint8_t pkt[2048];
	size_t over = pmtu_overhead(PMTU_UDP_PAYLOAD, to->channel != 0, PMTU_PACKET);
	/* sized for the path it goes on, which may not be the session's */
	size_t cap = MIN(sizeof(pkt), (size_t)(s->d->cfg.mtu - pmtu_path_overhead(to, PMTU_PACKET)));
	size_t n;

	if (max != PATH_UNLIMITED) {
		if (max < over + PATH_PACKET_MIN)
			return 0;
		cap = (size_t)MIN((uint64_t)cap, max - over);
	}
	n = link_build_path_packet(s->link, type, data, pkt, cap, clock_now_us());
	s->tx_path = to;
	session_write(s, pkt, n);
	s->tx_path = NULL;
	return n + over;
}

/* response_max() - RFC 9000 8.2.2: the answer goes on the path the
 * challenge came on; before that path is ours, it may be no more than
 * three times the datagram that asked (8, 8.2.1) */
static uint64_t response_max(const struct session *s)
{
	if (path_addr_eq(&s->rx_path, &s->path) || s->rx_path.channel)
		return PATH_UNLIMITED;
	return PATH_AMPLIFICATION * (uint64_t)s->rx_len;
}

static void path_frame(void *arg, const struct wire_frame *fr)
{
	struct session *s = arg;
	size_t n;

	switch (fr->type) {
	case WF_PATH_CHALLENGE:
		s->rx_probing = 1;
		n = send_path_packet(s, &s->rx_path, WF_PATH_RESPONSE, fr->u.path_data,
				     response_max(s));
		if (n)
			peer_path_sent(s->peer, s, &s->rx_path, n);
		else
			s->d->ctr.path_sends_limited++;
		break;
	case WF_PATH_RESPONSE:
		s->rx_probing = 1;
		peer_path_response(s->peer, s, fr->u.path_data, &s->rx_path);
		break;
	case WF_CANDIDATES:
		peer_candidates(s->peer, s, fr);
		break;
	case WF_PATH_METHOD:
		peer_path_label(s->peer, s, fr->u.path_method, &s->rx_path);
		break;
	case WF_RELAY_OBSERVED:
		if (s->peer && peer_is_relay(s->peer))
			peer_relay_observed(s->peer, &fr->u.observed);
		else
			s->d->ctr.relay_frames_ignored++; /* only a relay says this */
		break;
	case WF_RELAY_INTRO:
		if (peer_relay_intro(s->peer, s, fr) < 0)
			s->d->ctr.relay_frames_ignored++;
		break;
	case WF_RELAY_CONNECT:
		if (s->d->role == ROLE_RELAY)
			relay_connect(s->d, s->peer, fr);
		else
			s->d->ctr.relay_frames_ignored++; /* we relay for nobody */
		break;
	}
}

size_t session_challenge(struct session *s, const struct path_addr *to,
			 const uint8_t data[PATH_CHALLENGE_LEN], uint64_t max_bytes)
{
	size_t n;

	if (s->state != SESS_ESTABLISHED)
		return 0;
	n = send_path_packet(s, to, WF_PATH_CHALLENGE, data, max_bytes);
	mesh_wake(s->mesh, s);
	return n;
}

void session_migrate(struct session *s, const struct path_addr *to, enum path_method method,
		     const char *why)
{
	int moved = !path_addr_eq(to, &s->path);
	char a[96], b[96];

	log_info("peer %s: path %s (%s) -> %s (%s): %s", s->peer->name,
		 path_addr_fmt(&s->path, a), path_method_name(s->method), path_addr_fmt(to, b),
		 path_method_name(method), why);
	if (moved)
		s->path_since_ms = clock_now_ms();
	s->path = *to;
	s->method = method;
	/* the new path may be nothing like the old one: its headers, its MTU
	 * (from the base again: what the old one carried may not pass here),
	 * its RTT and rate are measured afresh, and what the old one may have
	 * swallowed is sent again, in packets that fit */
	if (moved) {
		pmtu_start(s);
		link_set_max_packet(s->link, pmtu_max_payload(&s->pmtu));
	}
	link_restart_path(s->link, clock_now_us());
	if (moved)
		pmtu_run(s, clock_now_ms());
	mesh_wake(s->mesh, s);
}

void session_queue_frame(struct session *s, const uint8_t *frame, size_t len)
{
	if (s->state != SESS_ESTABLISHED)
		return;
	link_queue_frame(s->link, frame, len);
	mesh_wake(s->mesh, s);
}

/* ---- handshakes and input ------------------------------------------------ */

/* start_sealing() - link packets go as sealed records from now on, when
 * both ends agreed on it in the handshake; -1 if they did and it cannot
 * be set up (the peer seals: DTLS records from here would be one-sided) */
static int start_sealing(struct session *s)
{
	uint8_t tx[DTLS_SECRET_LEN], rx[DTLS_SECRET_LEN];
	int r = dtls_data_secrets(s->dtls, tx, rx);

	if (r == 0)
		s->seal = seal_new(tx, rx);
	OPENSSL_cleanse(tx, sizeof(tx));
	OPENSSL_cleanse(rx, sizeof(rx));
	return r == -2 || (r == 0 && !s->seal) ? -1 : 0;
}

static void established(struct session *s)
{
	struct daemon *d = s->d;
	struct link_cb cb = daemon_link_cb;
	struct link_config lc;
	char a[96];

	if (!s->peer)
		s->peer = peer_find_fingerprint(d, dtls_peer_fingerprint(s->dtls));
	if (!s->peer) {
		/* removed while its handshake ran */
		session_close(s, "peer no longer configured");
		return;
	}
	s->state = SESS_ESTABLISHED;
	s->established_ms = clock_now_ms();
	release_handshake(s);
	cb.arg = s;
	cb.probe_acked = probe_acked;
	cb.packet_acked = packet_acked;
	cb.packet_lost = packet_lost;
	cb.packet_timeout = packet_lost;
	cb.path_frame = path_frame;
	d->link_cfg.opens_even = d->role == ROLE_PROVIDER;
	lc = d->link_cfg;
	lc.max_packet = d->cfg.mtu - pmtu_path_overhead(&s->path, PMTU_PACKET);
	s->link = link_new(&lc, &cb, &d->pool, clock_now_us());
	precise_timer(s);
	if (start_sealing(s) < 0) {
		ERR_clear_error();
		session_close(s, "cannot set up sealed records (OpenSSL)");
		return;
	}
	log_info("peer %s: session %08x established via %s, %s, %s, %s", s->peer->name,
		 s->local_id, path_addr_fmt(&s->path, a), dtls_cipher(s->dtls),
		 s->seal ? "sealed records" : "DTLS records (the peer cannot seal)",
		 s->client ? "we dialled" : "it dialled");
	pmtu_start(s);
	pmtu_run(s, clock_now_ms());
	peer_session_up(s->peer, s);
}

/* handshake_failed() - log why, count it, and let the peer retry */
static void handshake_failed(struct session *s)
{
	char a[96];

	s->d->ctr.handshakes_refused++;
	log_warnx("%s%s: handshake via %s failed: %s", s->peer ? "peer " : "unauthenticated ",
		  s->peer ? s->peer->name : "client", path_addr_fmt(&s->path, a),
		  dtls_error(s->dtls));
	session_close(s, dtls_error(s->dtls));
}

static void deliver(void *arg, const uint8_t *plain, size_t len)
{
	struct session *s = arg;
	uint64_t now_us = s->rx_now_us;

	s->rx_auth = 1; /* the record's MAC checked out */
	if (!s->link)
		return;
	if (link_recv(s->link, plain, len, now_us) < 0)
		s->d->ctr.datagrams_malformed++;
	pmtu_run(s, now_us / 1000);
}

/* open_sealed() - a sealed record: its packet to the link if it is
 * authentic, new and in time (1); else it is dropped and counted (0) */
static int open_sealed(struct session *s, const struct wire_outer *o, const uint8_t *p,
		       size_t len)
{
	uint8_t plain[65536];
	ssize_t n;

	/* a server's first sealed records may overtake its last handshake
	 * flight: they are lost like any other, and sent again */
	if (!s->seal || len > sizeof(plain) + SEAL_OVERHEAD) {
		s->d->ctr.datagrams_unauthenticated++;
		return 0;
	}
	n = open_packet(s->seal, o, p, len, plain);
	if (n < 0) {
		s->d->ctr.datagrams_unauthenticated++;
		return 0;
	}
	deliver(s, plain, (size_t)n);
	return 1;
}

void session_input(struct session *s, const struct wire_outer *o, const uint8_t *p, size_t len,
		   const struct path_addr *from, uint64_t now_us)
{
	enum session_state was = s->state;
	enum dtls_status st;

	if (o->type == WIRE_HANDSHAKE && s->client && o->sender_id && !s->remote_id)
		s->remote_id = o->sender_id;
	s->rx_path = *from;
	s->rx_probing = 0;
	s->rx_auth = 0;
	s->rx_now_us = now_us;
	s->rx_len = len + (o->type == WIRE_HANDSHAKE ? WIRE_OUTER_HS_LEN : WIRE_OUTER_DATA_LEN);
	if (o->type == WIRE_SEALED) {
		if (!open_sealed(s, o, p, len))
			return;
		st = dtls_status(s->dtls);
	} else {
		st = dtls_input(s->dtls, p, len, deliver, s);
	}
	if (st == DTLS_FAILED) {
		if (was == SESS_HANDSHAKE)
			handshake_failed(s);
		else
			session_close(s, dtls_error(s->dtls));
		return;
	}
	if (was == SESS_ESTABLISHED && !s->rx_auth) {
		/* forged, corrupted, replayed or late (the receiver id travels
		 * in the clear): it changes nothing, neither the session's
		 * liveness nor the peer's paths */
		s->d->ctr.datagrams_unauthenticated++;
		return;
	}
	s->last_rx_ms = now_us / 1000;
	if (was == SESS_HANDSHAKE && st == DTLS_ESTABLISHED) {
		established(s);
		return;
	}
	/* our handshake heard back on the path it went to: that path works,
	 * the other attempts go */
	if (was == SESS_HANDSHAKE && s->client && !s->answered && path_addr_eq(from, &s->path)) {
		s->answered = 1;
		peer_attempt_answered(s->peer, s);
	}
	/* past our Finished the peer may hold the session already: it can
	 * no longer be dropped quietly (11.49) */
	if (was == SESS_HANDSHAKE && s->client && !s->committed && dtls_committed(s->dtls)) {
		s->committed = 1;
		peer_attempt_committed(s->peer, s);
	}
	/* authenticated traffic: the path it came on is alive (and, if it is
	 * not ours, worth a challenge) */
	if (was == SESS_ESTABLISHED && s->peer)
		peer_path_alive(s->peer, s, from, s->rx_probing, s->rx_len);
	mesh_wake(s->mesh, s);
}

struct hs_find {
	const struct path_addr *from;
	uint32_t sender;
	struct session *found;
};

static void find_hs(struct session *s, void *arg)
{
	struct hs_find *h = arg;

	if (s->client)
		return;
	if (s->remote_id == h->sender && path_addr_eq(&s->path, h->from))
		h->found = s;
}

/* A HelloVerifyRequest leaves from the stateless listener: no session
 * exists, so the reply is addressed from here. */
struct stateless_out {
	struct mesh *m;
	const struct path_addr *to;
	uint32_t receiver;
};

static void stateless_send(void *arg, const uint8_t *rec, size_t len)
{
	struct stateless_out *so = arg;
	struct wire_outer o = { .type = WIRE_HANDSHAKE, .receiver_id = so->receiver };

	mesh_send_path(so->m, so->to, &o, rec, len);
}

/* release_handshake() - a server handshake no longer pending: its source
 * may start another */
static void release_handshake(struct session *s)
{
	if (!s->hs_counted)
		return;
	s->hs_counted = 0;
	hslimit_done(mesh_hslimit(s->mesh), &s->src);
}

struct hs_victim {
	const struct hs_key *src;
	struct session *oldest, *stalled; /* stalled: only its ClientHello came */
};

static void find_victim(struct session *s, void *arg)
{
	struct hs_victim *v = arg;

	if (!s->hs_counted || !hs_key_eq(&s->src, v->src))
		return;
	if (!v->oldest || s->created_ms < v->oldest->created_ms)
		v->oldest = s;
	if (!dtls_progressed(s->dtls) && (!v->stalled || s->created_ms < v->stalled->created_ms))
		v->stalled = s;
}

/* evict_handshake() - make room for a newcomer: the oldest handshake of
 * src that got no further than its ClientHello goes, else its oldest */
static void evict_handshake(struct mesh *m, const struct hs_key *src, uint64_t *counter)
{
	struct hs_victim v = { src, NULL, NULL };
	struct session *s;
	char a[96];

	mesh_each_session(m, find_victim, &v);
	s = v.stalled ? v.stalled : v.oldest;
	if (!s)
		return;
	(*counter)++;
	log_debug("mesh: pending handshake from %s (session %08x) evicted for a newcomer",
		  path_addr_fmt(&s->path, a), s->local_id);
	session_discard(s, NULL);
}

/* note_refused() - one log line per flood, naming its latest source */
static void note_refused(struct daemon *d, const struct path_addr *from)
{
	uint64_t now = clock_now_ms(), n = d->ctr.handshakes_refused_rate;
	char a[96];

	if (d->refused_logged_ms && now - d->refused_logged_ms < REFUSED_LOG_MS)
		return;
	log_warnx("mesh: handshakes from %s over the per-source rate: %llu refused since the last report",
		  path_addr_fmt(from, a), (unsigned long long)(n - d->refused_logged));
	d->refused_logged_ms = now;
	d->refused_logged = n;
}

/* admit() - a ClientHello returned its cookie: may it have a handshake? */
static int admit(struct daemon *d, struct mesh *m, const struct hs_key *src,
		 const struct path_addr *from)
{
	struct hs_key victim;

	switch (hslimit_admit(mesh_hslimit(m), src, clock_now_ms(), &victim)) {
	case HS_REFUSE_RATE:
		d->ctr.handshakes_refused_rate++;
		note_refused(d, from);
		return 0;
	case HS_ADMIT_EVICT_SOURCE:
		evict_handshake(m, &victim, &d->ctr.handshakes_evicted_source);
		break;
	case HS_ADMIT_EVICT_BUSIEST:
		evict_handshake(m, &victim, &d->ctr.handshakes_evicted_global);
		break;
	case HS_ADMIT:
		break;
	}
	return 1;
}

void session_accept(struct daemon *d, struct mesh *m, const struct wire_outer *o,
		    const uint8_t *p, size_t len, const struct path_addr *from)
{
	struct stateless_out so = { m, from, o->sender_id };
	uint8_t cookie_in[sizeof(struct sockaddr_storage) + 8];
	struct hs_find h = { .from = from, .sender = o->sender_id };
	struct hs_key src;
	struct session *s;
	struct dtls_conn *c;

	if (!o->sender_id)
		return;
	mesh_each_session(m, find_hs, &h);
	if (h.found) {
		session_input(h.found, o, p, len, from, clock_now_us());
		return;
	}
	/* a source out of handshakes is not even answered: checking its
	 * cookie would be work too (the bucket is spent only by a good
	 * cookie, so nobody can spend another's by spoofing its address) */
	hs_key_of(&src, (const struct sockaddr *)&from->sa, from->channel);
	if (!hslimit_may_try(mesh_hslimit(m), &src, clock_now_ms())) {
		d->ctr.handshakes_refused_rate++;
		note_refused(d, from);
		return;
	}
	/* the cookie binds the client's path and session id */
	memcpy(cookie_in, &from->sa, from->len);
	memcpy(cookie_in + from->len, &from->channel, 4);
	memcpy(cookie_in + from->len + 4, &o->sender_id, 4);
	c = dtls_listen(d->dtls, p, len, cookie_in, from->len + 8, link_mtu(d, from),
			stateless_send, &so);
	if (!c)
		return;
	if (!admit(d, m, &src, from)) {
		dtls_conn_free(c);
		return;
	}
	s = session_new(d, m, from);
	s->remote_id = o->sender_id;
	s->src = src;
	s->hs_counted = 1;
	s->dtls = c;
	dtls_conn_set_output(c, dtls_out, s);
	if (dtls_continue(c) == DTLS_FAILED) {
		handshake_failed(s);
		return;
	}
	arm_timer(s);
}

struct unknown_find {
	uint32_t id;
	const struct path_addr *from;
	struct session *found;
};

static void find_remote(struct session *s, void *arg)
{
	struct unknown_find *u = arg;

	if (s->remote_id == u->id && path_addr_eq(&s->path, u->from))
		u->found = s;
}

void session_unknown_reply(struct daemon *d, struct mesh *m, uint32_t id,
			   const struct path_addr *from)
{
	struct unknown_find u = { id, from, NULL };

	mesh_each_session(m, find_remote, &u);
	if (!u.found || u.found->state != SESS_ESTABLISHED)
		return;
	/* unauthenticated: believe it only when the session has gone quiet,
	 * so a forged reply cannot tear down a working link */
	if (clock_now_ms() - u.found->last_rx_ms < UNKNOWN_SILENCE_MS)
		return;
	session_close(u.found, "the peer no longer knows this session (restarted?)");
}

/* ---- sending and the timer ----------------------------------------------- */

int session_flush(struct session *s)
{
	uint8_t buf[65536];
	uint64_t now = clock_now_us();
	size_t n;
	int sent = 0;

	if (s->state != SESS_ESTABLISHED) {
		arm_timer(s);
		return 0;
	}
	while (mesh_tx_room(s->mesh) > 0) {
		n = link_send(s->link, buf, sizeof(buf), now);
		if (n == 0)
			break;
		session_write(s, buf, n);
		sent = 1;
	}
	/* a full queue goes out before the next session's turn; only a
	 * socket that refused it limits the link */
	if (mesh_tx_blocked(s->mesh) && link_wants_send(s->link, now))
		link_limit_socket(s->link, now);
	arm_timer(s);
	if (sent)
		peer_kick(s->peer);
	return mesh_tx_room(s->mesh) == 0 && link_wants_send(s->link, now);
}

void session_wake(struct session *s)
{
	mesh_wake(s->mesh, s);
}

/* on_timerfd() - the established session's timer expired (precise_timer()) */
static void on_timerfd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t expirations;

	/* nonblocking: nothing to read is an early wake-up, harmless */
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("session timer: read: %s", strerror(errno));
	on_timer(fd, what, arg);
}

/* precise_timer() - once established, the session's timer is a timerfd of
 * its own.  Pacing spaces packets by microseconds; libevent's timers are
 * that precise only with EVENT_BASE_FLAG_PRECISE_TIMER, which sets a
 * timerfd on every turn of the loop -- a tenth of the daemons' time while
 * they served new connections (perf, busy polling), for the one timer
 * that needs it.  This one is set only when its deadline moves earlier.
 * Without a descriptor to spare, the session keeps the loop's timer,
 * precise to the millisecond. */
static void precise_timer(struct session *s)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct event *ev;

	if (fd < 0) {
		log_warn("peer %s: no timer descriptor (millisecond pacing)", s->peer->name);
		return;
	}
	ev = event_new(s->d->base, fd, EV_READ | EV_PERSIST, on_timerfd, s);
	if (!ev || event_add(ev, NULL) < 0) {
		if (ev)
			event_free(ev);
		close(fd);
		return;
	}
	if (s->timer)
		event_free(s->timer);
	s->timer = ev;
	s->timer_fd = fd;
	s->timer_at_us = 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t now_ms = clock_now_ms();

	s->timer_at_us = 0;
	if (s->state == SESS_HANDSHAKE) {
		if (now_ms - s->created_ms >= s->d->cfg.handshake_timeout_ms) {
			session_close(s, "handshake timed out");
			return;
		}
		if (dtls_on_timer(s->dtls) == DTLS_FAILED) {
			handshake_failed(s);
			return;
		}
		arm_timer(s);
		mesh_flush(s->mesh);
		return;
	}
	link_on_timer(s->link, clock_now_us());
	pmtu_run(s, now_ms);
	mesh_wake(s->mesh, s);
}

/* arm_timer() - one timer per session: the DTLS retransmission or the
 * handshake deadline while handshaking, then the link's own timer and the
 * path MTU search (health probes belong to the peer) */
static void arm_timer(struct session *s)
{
	uint64_t now = clock_now_us(), at;
	struct timeval tv;

	if (s->state == SESS_HANDSHAKE) {
		uint64_t rel = dtls_timer_us(s->dtls);

		at = rel == UINT64_MAX ? UINT64_MAX : now + rel;
		at = MIN(at, (s->created_ms + s->d->cfg.handshake_timeout_ms) * 1000);
	} else {
		uint64_t pmtu_at = pmtu_deadline(&s->pmtu);

		at = link_next_timer_us(s->link, now);
		if (pmtu_at != UINT64_MAX)
			at = MIN(at, pmtu_at * 1000);
	}
	if (at == UINT64_MAX)
		return;
	/* a timer armed earlier than needed just fires early and re-arms;
	 * moving it later on every flush would cost a syscall each time */
	if (s->timer_at_us && s->timer_at_us <= at)
		return;
	s->timer_at_us = at;
	if (s->timer_fd >= 0) {
		struct itimerspec its = { .it_value = { .tv_sec = (time_t)(at / 1000000),
							 .tv_nsec = (long)(at % 1000000) * 1000 } };

		/* absolute, on clock_now_us()'s clock; never 0, which disarms */
		if (at == 0)
			its.it_value.tv_nsec = 1;
		if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
			log_warn("peer %s: timerfd_settime", s->peer ? s->peer->name : "?");
		return;
	}
	at = at > now ? at - now : 0;
	tv = timeval_from_us(at);
	evtimer_add(s->timer, &tv); /* re-adding a pending timer moves it */
}

/* detach_flows() - the link goes: every flow on it is reset towards its
 * local socket, so nothing is left hanging */
static void collect_flow(struct link_flow *lf, void *arg)
{
	struct flow ***pp = arg;

	if (link_flow_app(lf))
		*(*pp)++ = link_flow_app(lf);
}

static void detach_flows(struct session *s)
{
	struct flow **all, **p;
	size_t n, i;

	if (!s->link)
		return;
	n = link_flow_count(s->link);
	all = p = xcalloc(n + 1, sizeof(*all));
	link_flow_each(s->link, collect_flow, &p);
	for (i = 0; i < (size_t)(p - all); i++)
		flow_link_lost(all[i]);
	free(all);
}

void session_discard(struct session *s, const char *why)
{
	if (why)
		log_info("peer %s: session %08x dropped: %s", s->peer ? s->peer->name : "?",
			 s->local_id, why);
	detach_flows(s);
	session_free(s);
}

void session_free(struct session *s)
{
	release_handshake(s);
	mesh_remove_session(s->mesh, s);
	if (s->timer)
		event_free(s->timer);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	link_free(s->link);
	dtls_conn_free(s->dtls);
	seal_free(s->seal);
	free(s);
}

void session_close(struct session *s, const char *why)
{
	struct peer *p = s->peer;

	if (s->state == SESS_ESTABLISHED) {
		log_info("peer %s: session %08x closed: %s", p ? p->name : "?", s->local_id, why);
		dtls_close_notify(s->dtls); /* a no-op if the peer closed it */
	}
	detach_flows(s);
	if (p)
		peer_session_gone(p, s, why);
	session_free(s);
}
