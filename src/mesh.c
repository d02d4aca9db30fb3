/* mesh.c: UDP socket I/O, batching and demultiplexing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <event2/event.h>

#include "daemon.h"
#include "flow.h"
#include "hslimit.h"
#include "idmap.h"
#include "log.h"
#include "osutil.h"
#include "mesh.h"
#include "peer.h"
#include "pmtu.h"
#include "relay.h"
#include "session.h"
#include "util.h"

#define RX_BATCH 32
#define RX_BUF (64 * 1024)     /* room for a GRO-coalesced batch */
#define TX_SLOTS 256
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000    /* a UDP datagram's payload must stay under 64 KiB */
#define SOCK_BUF_BYTES (8 << 20)
#define UNKNOWN_REPLIES_PER_S 20

struct tx_slot {
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	uint8_t *buf;
};

struct mesh {
	struct sockaddr_storage bound;
	struct daemon *d;
	int fd;
	int family;
	char local[ADDRSTRLEN];
	uint16_t port;
	size_t slot_size;
	int gso, gro;                 /* the kernel segments / coalesces for us */
	struct event *rd_ev, *wr_ev, *flush_ev;
	/* receive batch */
	uint8_t *rx_buf;
	struct mmsghdr rx_msg[RX_BATCH];
	struct iovec rx_iov[RX_BATCH];
	struct sockaddr_storage rx_from[RX_BATCH];
	char rx_cmsg[RX_BATCH][CMSG_SPACE(sizeof(int))];
	/* transmit queue: slots [tx_head, tx_head + tx_n) wait to be sent */
	struct tx_slot tx[TX_SLOTS];
	size_t tx_head, tx_n;
	int tx_blocked;
	uint64_t rx_now_us;           /* when the batch being dispatched was read */
	/* sessions */
	struct idmap sessions;
	struct session *dirty;
	struct hslimit hs;            /* server handshakes per source */
	/* unknown-session replies, rate limited */
	uint64_t unknown_window_ms;
	unsigned unknown_sent;
};

/* ---- transmit -------------------------------------------------------- */

int mesh_tx_room(const struct mesh *m)
{
	return m->tx_blocked ? 0 : (int)(TX_SLOTS - m->tx_n);
}

int mesh_tx_blocked(const struct mesh *m)
{
	return m->tx_blocked;
}

static struct tx_slot *tx_at(struct mesh *m, size_t i)
{
	return &m->tx[(m->tx_head + i) % TX_SLOTS];
}

/* gso_run() - how many queued slots from i on can leave as one UDP GSO
 * send: same destination, same length, only the last may be shorter */
static size_t gso_run(struct mesh *m, size_t i)
{
	struct tx_slot *first = tx_at(m, i);
	size_t n = 1, bytes = first->len;

	if (!m->gso)
		return 1;
	while (i + n < m->tx_n && n < GSO_MAX_SEGS) {
		struct tx_slot *t = tx_at(m, i + n);

		if (t->len > first->len || bytes + t->len > GSO_MAX_BYTES || t->tolen != first->tolen ||
		    memcmp(&t->to, &first->to, first->tolen) != 0)
			break;
		bytes += t->len;
		n++;
		if (t->len < first->len)
			break;
	}
	return n;
}

/* route_mtu() - the MTU of the interface this host sends to `to` through
 * (the kernel's route lookup, on a throwaway socket); 0 if unknown */
static unsigned route_mtu(const struct sockaddr_storage *to, socklen_t tolen)
{
	int v6 = to->ss_family == AF_INET6, mtu = 0;
	socklen_t len = sizeof(mtu);
	int fd = socket(to->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (connect(fd, (const struct sockaddr *)to, tolen) < 0 ||
	    getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU, &mtu, &len) < 0)
		mtu = 0;
	close(fd);
	return mtu > 0 ? (unsigned)mtu : 0;
}

struct too_big {
	struct path_addr to;
	unsigned mtu;
};

static void tell_too_big(struct session *s, void *arg)
{
	const struct too_big *tb = arg;
	struct path_addr via = s->path;

	via.channel = 0; /* a relayed path goes out to the relay's address */
	if (s->state == SESS_ESTABLISHED && path_addr_eq(&via, &tb->to))
		session_too_big(s, tb->mtu);
}

/* too_big() - the kernel refused a datagram as larger than the interface
 * it leaves by can send (its MTU changed, or the route moved to another
 * device): every session whose path leaves that way sizes its packets for
 * it from now on */
static void too_big(struct mesh *m, const struct tx_slot *t)
{
	struct too_big tb;

	tb.mtu = route_mtu(&t->to, t->tolen);
	if (!tb.mtu)
		return;
	path_addr_direct(&tb.to, (const struct sockaddr *)&t->to, t->tolen);
	mesh_each_session(m, tell_too_big, &tb);
}

/* tx_push() - send what is queued with as few syscalls as possible: runs
 * of equal datagrams to one peer go as one GSO send each, up to 64 sends
 * per sendmmsg.  On a full socket buffer the rest waits for it to drain. */
static void tx_push(struct mesh *m)
{
	struct mmsghdr msg[64];
	struct iovec iov[TX_SLOTS];
	char cmsg[64][CMSG_SPACE(sizeof(uint16_t))];
	size_t segs[64];

	while (m->tx_n) {
		size_t nmsg = 0, slot = 0;
		int sent, k;

		while (slot < m->tx_n && nmsg < ARRAY_SIZE(msg)) {
			size_t run = gso_run(m, slot), j;
			struct tx_slot *t = tx_at(m, slot);
			struct msghdr *h = &msg[nmsg].msg_hdr;

			memset(&msg[nmsg], 0, sizeof(msg[nmsg]));
			for (j = 0; j < run; j++) {
				iov[slot + j].iov_base = tx_at(m, slot + j)->buf;
				iov[slot + j].iov_len = tx_at(m, slot + j)->len;
			}
			h->msg_name = &t->to;
			h->msg_namelen = t->tolen;
			h->msg_iov = &iov[slot];
			h->msg_iovlen = run;
			if (run > 1) {
				struct cmsghdr *c = (struct cmsghdr *)cmsg[nmsg];

				h->msg_control = c;
				h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
				c->cmsg_level = SOL_UDP;
				c->cmsg_type = UDP_SEGMENT;
				c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				*(uint16_t *)CMSG_DATA(c) = (uint16_t)t->len;
			}
			segs[nmsg++] = run;
			slot += run;
		}
		sent = sendmmsg(m->fd, msg, (unsigned)nmsg, MSG_DONTWAIT);
		if (sent < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			m->tx_blocked = 1;
			event_add(m->wr_ev, NULL);
			return;
		}
		if (sent < 0 && m->gso && segs[0] > 1 && (errno == EINVAL || errno == EIO)) {
			/* no GSO on this path or kernel: send one by one from now on */
			log_info("mesh: UDP segmentation offload refused (%s); sending datagrams singly",
				 strerror(errno));
			m->gso = 0;
			continue;
		}
		if (sent < 0 && errno == EMSGSIZE)
			too_big(m, tx_at(m, 0));
		if (sent < 0) {
			/* an unreachable destination and the like: that send is lost
			 * (the link resends), the rest goes on */
			log_debug("mesh: send of %zu datagrams failed: %s", segs[0], strerror(errno));
			m->d->ctr.datagrams_send_dropped += segs[0];
			sent = 1;
		}
		for (k = 0, slot = 0; k < sent; k++)
			slot += segs[k];
		m->d->ctr.datagrams_sent += slot;
		m->tx_head = (m->tx_head + slot) % TX_SLOTS;
		m->tx_n -= slot;
	}
	m->tx_blocked = 0;
}

/* tx_free() - the next free send slot, not yet queued: a full queue is
 * pushed out first; NULL (counted) when the socket holds it back */
static struct tx_slot *tx_free(struct mesh *m)
{
	if (m->tx_n == TX_SLOTS)
		tx_push(m);
	if (m->tx_n == TX_SLOTS) {
		m->d->ctr.datagrams_send_dropped++;
		return NULL;
	}
	return tx_at(m, m->tx_n);
}

/* mesh_send_raw() - one datagram made of up to three parts; nothing goes
 * to a peer an operator disconnected */
void mesh_send_raw(struct mesh *m, const struct sockaddr *to, socklen_t tolen,
		   const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		   const uint8_t *c, size_t clen)
{
	struct tx_slot *t = tx_free(m);

	if (!t)
		return;
	if (alen + blen + clen > m->slot_size) {
		m->d->ctr.datagrams_send_dropped++;
		return;
	}
	m->tx_n++;
	if (alen)
		memcpy(t->buf, a, alen);
	if (blen)
		memcpy(t->buf + alen, b, blen);
	if (clen)
		memcpy(t->buf + alen + blen, c, clen);
	t->len = alen + blen + clen;
	memcpy(&t->to, to, tolen);
	t->tolen = tolen;
}

/* mesh_path_begin() - the next send slot, with the headers for `to` in
 * it: straight to the peer, or wrapped for a relay, which reads only the
 * channel in the outer RELAY header.  The caller writes at most `cap`
 * bytes of body where it points, then mesh_path_commit()s, so a sealed
 * record is written once, in place.  NULL when nothing may go: to a peer
 * an operator disconnected, or with no slot that can hold it (both
 * counted). */
uint8_t *mesh_path_begin(struct mesh *m, const struct path_addr *to, const struct wire_outer *o,
			 size_t cap)
{
	struct wire_outer r = { .type = WIRE_RELAY, .receiver_id = to->channel };
	struct tx_slot *t;
	size_t hl = 0;

	if (m->d->ndown && peer_path_blocked(m->d, to)) {
		m->d->ctr.datagrams_blocked++;
		return NULL;
	}
	if (!(t = tx_free(m)))
		return NULL;
	if (to->channel)
		hl = wire_outer_put(t->buf, &r);
	hl += wire_outer_put(t->buf + hl, o);
	if (hl + cap > m->slot_size) {
		m->d->ctr.datagrams_send_dropped++;
		return NULL;
	}
	t->len = hl;
	memcpy(&t->to, &to->sa, to->len);
	t->tolen = to->len;
	return t->buf + hl;
}

/* mesh_path_commit() - the body written after mesh_path_begin() is `len`
 * bytes: the datagram is queued */
void mesh_path_commit(struct mesh *m, size_t len)
{
	tx_at(m, m->tx_n++)->len += len;
}

void mesh_send_path(struct mesh *m, const struct path_addr *to, const struct wire_outer *o,
		    const uint8_t *rec, size_t len)
{
	uint8_t *body = mesh_path_begin(m, to, o, len);

	if (!body)
		return;
	if (len)
		memcpy(body, rec, len);
	mesh_path_commit(m, len);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct mesh *m = arg;

	tx_push(m);
	if (!m->tx_blocked)
		mesh_flush(m); /* sessions held back by the full socket go on */
}

/* ---- flushing --------------------------------------------------------- */

void mesh_wake(struct mesh *m, struct session *s)
{
	if (s->dirty)
		return;
	s->dirty = 1;
	s->dirty_next = m->dirty;
	m->dirty = s;
	event_active(m->flush_ev, EV_TIMEOUT, 0);
}

/* mesh_flush() - let every woken session send what it may, then push the
 * batch out; a session stopped by a full queue stays woken */
void mesh_flush(struct mesh *m)
{
	struct session *list, *s, *again = NULL;

	/* first the sockets: what they take frees windows the link then sends */
	flow_pump_pending(m->d);
	list = m->dirty;
	m->dirty = NULL;
	while ((s = list)) {
		list = s->dirty_next;
		s->dirty = 0;
		/* a flow woken while its session sent (link_wake_writers())
		 * may have put the session back on m->dirty already: it must
		 * not go on a second list through the same link, or the two
		 * lists join into a cycle and the loop never ends */
		if (session_flush(s) > 0 && !s->dirty) {
			s->dirty = 1;
			s->dirty_next = again;
			again = s;
		}
		if (m->tx_n >= TX_SLOTS / 2)
			tx_push(m);
	}
	tx_push(m);
	while ((s = again)) {
		again = s->dirty_next;
		s->dirty = 0;
		mesh_wake(m, s);
	}
	if (m->dirty && m->tx_blocked)
		event_del(m->flush_ev); /* resumed by on_writable */
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	mesh_flush(arg);
}

/* ---- receive ---------------------------------------------------------- */

/* reply_unknown() - tell a sender that we hold no session for its id, so
 * a peer that restarted is noticed at once instead of after timeouts */
static void reply_unknown(struct mesh *m, uint32_t id, const struct path_addr *to)
{
	struct wire_outer o = { .type = WIRE_UNKNOWN, .receiver_id = id };
	uint64_t now = clock_now_ms();

	if (now - m->unknown_window_ms >= 1000) {
		m->unknown_window_ms = now;
		m->unknown_sent = 0;
	}
	if (m->unknown_sent++ >= UNKNOWN_REPLIES_PER_S)
		return;
	mesh_send_path(m, to, &o, NULL, 0);
}

/* dispatch() - one datagram, which came on the path `from` (a relayed one
 * is unwrapped once and dispatched again with its relay path) */
static void dispatch(struct mesh *m, const uint8_t *p, size_t len, const struct path_addr *from)
{
	struct wire_outer o;
	struct session *s;
	struct path_addr via;
	int hl = wire_outer_parse(p, len, &o);

	if (hl < 0) {
		m->d->ctr.datagrams_malformed++;
		return;
	}
	switch (o.type) {
	case WIRE_DATA:
	case WIRE_SEALED:
	case WIRE_HANDSHAKE:
		s = o.receiver_id ? idmap_get(&m->sessions, o.receiver_id) : NULL;
		if (s) {
			session_input(s, &o, p + hl, len - (size_t)hl, from, m->rx_now_us);
		} else if (o.type == WIRE_HANDSHAKE && !o.receiver_id && m->d->role != ROLE_RELAY) {
			session_accept(m->d, m, &o, p + hl, len - (size_t)hl, from);
		} else if (o.type == WIRE_HANDSHAKE && !o.receiver_id && !from->channel) {
			session_accept(m->d, m, &o, p + hl, len - (size_t)hl, from);
		} else {
			m->d->ctr.datagrams_unknown_session++;
			if (o.type != WIRE_HANDSHAKE)
				reply_unknown(m, o.receiver_id, from);
		}
		break;
	case WIRE_UNKNOWN:
		session_unknown_reply(m->d, m, o.receiver_id, from);
		break;
	case WIRE_RELAY:
		if (m->d->role == ROLE_RELAY) {
			relay_forward(m->d, o.receiver_id, p + hl, len - (size_t)hl, from);
		} else if (!from->channel && o.receiver_id) {
			via = *from;
			via.channel = o.receiver_id;
			dispatch(m, p + hl, len - (size_t)hl, &via);
		} else {
			m->d->ctr.datagrams_malformed++;
		}
		break;
	default:
		m->d->ctr.datagrams_malformed++;
	}
}

static void on_datagram(struct mesh *m, const uint8_t *p, size_t len, const struct sockaddr *from,
			socklen_t fromlen)
{
	struct path_addr pa;

	m->d->ctr.datagrams_received++;
	path_addr_direct(&pa, from, fromlen);
	dispatch(m, p, len, &pa);
}

/* gro_size() - with UDP_GRO the kernel may hand over several datagrams of
 * one sender coalesced; this says their size (0: a single datagram) */
static size_t gro_size(struct msghdr *h)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
			return (size_t)*(int *)CMSG_DATA(c);
	}
	return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct mesh *m = arg;
	int rounds, i, n;

	/* a few batches per wakeup: enough to drain a burst, not so many
	 * that timers and the other sockets starve */
	for (rounds = 0; rounds < 8; rounds++) {
		for (i = 0; i < RX_BATCH; i++) {
			m->rx_msg[i].msg_hdr.msg_namelen = sizeof(m->rx_from[i]);
			m->rx_msg[i].msg_hdr.msg_control = m->rx_cmsg[i];
			m->rx_msg[i].msg_hdr.msg_controllen = sizeof(m->rx_cmsg[i]);
		}
		n = recvmmsg(m->fd, m->rx_msg, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		/* one clock read per batch, not two per record: they all
		 * waited in the socket until now, and the time they are
		 * taken at must not grow with our own work on the batch */
		m->rx_now_us = clock_now_us();
		for (i = 0; i < n; i++) {
			const uint8_t *p = m->rx_iov[i].iov_base;
			size_t len = m->rx_msg[i].msg_len, seg = gro_size(&m->rx_msg[i].msg_hdr), off;

			daemon_io(m->d, len);
			if (!seg)
				seg = len;
			for (off = 0; off < len; off += seg)
				on_datagram(m, p + off, MIN(seg, len - off),
					    (struct sockaddr *)&m->rx_from[i], m->rx_msg[i].msg_hdr.msg_namelen);
		}
		if (n < RX_BATCH)
			break;
	}
	mesh_flush(m);
}

/* ---- sessions --------------------------------------------------------- */

uint32_t mesh_new_session_id(struct mesh *m)
{
	uint32_t id;

	do {
		random_bytes(&id, sizeof(id));
	} while (id == 0 || idmap_get(&m->sessions, id));
	return id;
}

void mesh_add_session(struct mesh *m, struct session *s)
{
	idmap_put(&m->sessions, s->local_id, s);
}

void mesh_remove_session(struct mesh *m, struct session *s)
{
	struct session **pp;

	idmap_del(&m->sessions, s->local_id);
	for (pp = &m->dirty; *pp; pp = &(*pp)->dirty_next) {
		if (*pp == s) {
			*pp = s->dirty_next;
			break;
		}
	}
	s->dirty = 0;
}

struct hslimit *mesh_hslimit(struct mesh *m)
{
	return &m->hs;
}

void mesh_each_session(struct mesh *m, void (*fn)(struct session *s, void *arg), void *arg)
{
	struct session *s;
	size_t pos = 0;

	while ((s = idmap_next(&m->sessions, &pos)))
		fn(s, arg);
}

/* ---- setup ------------------------------------------------------------ */

static int open_socket(struct mesh *m, const struct sockaddr *sa, socklen_t len, char *err,
		       size_t errlen)
{
	int one = 1, bufsz = SOCK_BUF_BYTES;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char a[ADDRSTRLEN];

	m->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0) {
		snprintf(err, errlen, "UDP socket: %s", strerror(errno));
		return -1;
	}
	/* large buffers absorb bursts at Gbit/s; the FORCE variants need
	 * CAP_NET_ADMIN and are tried first */
	if (setsockopt(m->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
		setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(m->fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
		setsockopt(m->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (sa->sa_family == AF_INET6)
		setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 0 }, sizeof(int));
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->fd, sa, len) < 0) {
		snprintf(err, errlen, "cannot listen on UDP %s: %s", addr_fmt(sa, a), strerror(errno));
		return -1;
	}
	/* datagrams are sized for the path: never let IP fragment them */
	if (sa->sa_family == AF_INET)
		setsockopt(m->fd, IPPROTO_IP, IP_MTU_DISCOVER, &(int){ IP_PMTUDISC_PROBE }, sizeof(int));
	else
		setsockopt(m->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &(int){ IPV6_PMTUDISC_PROBE },
			   sizeof(int));
	m->gro = setsockopt(m->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	m->gso = 1;
	getsockname(m->fd, (struct sockaddr *)&bound, &blen);
	addr_fmt((struct sockaddr *)&bound, m->local);
	m->bound = bound;
	m->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	m->family = sa->sa_family;
	return 0;
}

struct mesh *mesh_new(struct daemon *d, const struct sockaddr *listen, socklen_t len,
		      char *err, size_t errlen)
{
	struct mesh *m = xcalloc(1, sizeof(*m));
	size_t i;

	m->d = d;
	m->fd = -1;
	idmap_init(&m->sessions);
	if (open_socket(m, listen, len, err, errlen) < 0) {
		mesh_free(m);
		return NULL;
	}
	/* a slot holds the largest datagram we may send: MTU probes go up to
	 * jumbo size */
	m->slot_size = MAX((size_t)2048, (size_t)d->cfg.mtu + 64);
	if (d->cfg.pmtu_probe)
		m->slot_size = MAX(m->slot_size, (size_t)PMTU_MAX + 64);
	for (i = 0; i < TX_SLOTS; i++)
		m->tx[i].buf = xmalloc(m->slot_size);
	m->rx_buf = xmalloc(RX_BATCH * (size_t)RX_BUF);
	for (i = 0; i < RX_BATCH; i++) {
		m->rx_iov[i].iov_base = m->rx_buf + i * (size_t)RX_BUF;
		m->rx_iov[i].iov_len = RX_BUF;
		m->rx_msg[i].msg_hdr.msg_iov = &m->rx_iov[i];
		m->rx_msg[i].msg_hdr.msg_iovlen = 1;
		m->rx_msg[i].msg_hdr.msg_name = &m->rx_from[i];
	}
	m->rd_ev = event_new(d->base, m->fd, EV_READ | EV_PERSIST, on_readable, m);
	m->wr_ev = event_new(d->base, m->fd, EV_WRITE, on_writable, m);
	m->flush_ev = event_new(d->base, -1, 0, on_flush, m);
	/* the flush runs after every other callback of the turn */
	event_priority_set(m->flush_ev, 1);
	event_add(m->rd_ev, NULL);
	log_info("mesh: listening on UDP %s", m->local);
	return m;
}

void mesh_free(struct mesh *m)
{
	struct session *s;
	size_t pos = 0, i;

	if (!m)
		return;
	while ((s = idmap_next(&m->sessions, &pos))) {
		session_free(s);
		pos = 0;
	}
	if (m->fd >= 0)
		tx_push(m);
	idmap_free(&m->sessions);
	if (m->rd_ev)
		event_free(m->rd_ev);
	if (m->wr_ev)
		event_free(m->wr_ev);
	if (m->flush_ev)
		event_free(m->flush_ev);
	for (i = 0; i < TX_SLOTS; i++)
		free(m->tx[i].buf);
	free(m->rx_buf);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

const char *mesh_local_addr(const struct mesh *m)
{
	return m->local;
}

const struct sockaddr *mesh_local_sockaddr(const struct mesh *m)
{
	return (const struct sockaddr *)&m->bound;
}

uint16_t mesh_local_port(const struct mesh *m)
{
	return m->port;
}

int mesh_family(const struct mesh *m)
{
	return m->family;
}
