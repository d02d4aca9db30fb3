/* mesh.c: UDP socket I/O, batching and demultiplexing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "daemon.h"
#include "idmap.h"
#include "log.h"
#include "mesh.h"
#include "session.h"
#include "util.h"

#define RX_BATCH 64
#define TX_SLOTS 256
#define SOCK_BUF_BYTES (8 << 20)
#define UNKNOWN_REPLIES_PER_S 20

struct tx_slot {
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	uint8_t *buf;
};

struct mesh {
	struct daemon *d;
	int fd;
	int family;
	char local[ADDRSTRLEN];
	uint16_t port;
	size_t slot_size;
	struct event *rd_ev, *wr_ev, *flush_ev;
	/* receive batch */
	uint8_t *rx_buf;
	struct mmsghdr rx_msg[RX_BATCH];
	struct iovec rx_iov[RX_BATCH];
	struct sockaddr_storage rx_from[RX_BATCH];
	/* transmit queue: slots [tx_head, tx_head + tx_n) wait to be sent */
	struct tx_slot tx[TX_SLOTS];
	size_t tx_head, tx_n;
	int tx_blocked;
	/* sessions */
	struct idmap sessions;
	struct session *dirty;
	/* unknown-session replies, rate limited */
	uint64_t unknown_window_ms;
	unsigned unknown_sent;
};

/* ---- transmit -------------------------------------------------------- */

int mesh_tx_room(const struct mesh *m)
{
	return m->tx_blocked ? 0 : (int)(TX_SLOTS - m->tx_n);
}

static struct tx_slot *tx_at(struct mesh *m, size_t i)
{
	return &m->tx[(m->tx_head + i) % TX_SLOTS];
}

/* tx_push() - send what is queued with as few syscalls as possible; on a
 * full socket buffer keep the rest and wait until it drains */
static void tx_push(struct mesh *m)
{
	struct mmsghdr msg[64];
	struct iovec iov[64];

	while (m->tx_n) {
		size_t n = MIN(m->tx_n, ARRAY_SIZE(msg)), i;
		int sent;

		for (i = 0; i < n; i++) {
			struct tx_slot *t = tx_at(m, i);

			iov[i].iov_base = t->buf;
			iov[i].iov_len = t->len;
			memset(&msg[i], 0, sizeof(msg[i]));
			msg[i].msg_hdr.msg_name = &t->to;
			msg[i].msg_hdr.msg_namelen = t->tolen;
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		sent = sendmmsg(m->fd, msg, (unsigned)n, MSG_DONTWAIT);
		if (sent < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			m->tx_blocked = 1;
			event_add(m->wr_ev, NULL);
			return;
		}
		if (sent < 0) {
			/* unreachable destination and the like: that datagram is lost
			 * (the link resends), the others go on */
			log_debug("mesh: send to %zu datagrams failed: %s", n, strerror(errno));
			m->d->ctr.datagrams_send_dropped++;
			sent = 1;
		}
		m->d->ctr.datagrams_sent += (uint64_t)sent;
		m->tx_head = (m->tx_head + (size_t)sent) % TX_SLOTS;
		m->tx_n -= (size_t)sent;
	}
	m->tx_blocked = 0;
}

void mesh_send(struct mesh *m, const struct sockaddr *to, socklen_t tolen,
	       const struct wire_outer *o, const uint8_t *rec, size_t len)
{
	struct tx_slot *t;
	size_t hl;

	if (m->tx_n == TX_SLOTS)
		tx_push(m);
	if (m->tx_n == TX_SLOTS || len + WIRE_OUTER_HS_LEN > m->slot_size) {
		m->d->ctr.datagrams_send_dropped++;
		return;
	}
	t = tx_at(m, m->tx_n++);
	hl = wire_outer_put(t->buf, o);
	if (len)
		memcpy(t->buf + hl, rec, len);
	t->len = hl + len;
	memcpy(&t->to, to, tolen);
	t->tolen = tolen;
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
	struct session *list = m->dirty, *s, *again = NULL;

	m->dirty = NULL;
	while ((s = list)) {
		list = s->dirty_next;
		s->dirty = 0;
		if (session_flush(s) > 0) {
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
static void reply_unknown(struct mesh *m, uint32_t id, const struct sockaddr *to, socklen_t tolen)
{
	struct wire_outer o = { .type = WIRE_UNKNOWN, .receiver_id = id };
	uint64_t now = clock_now_ms();

	if (now - m->unknown_window_ms >= 1000) {
		m->unknown_window_ms = now;
		m->unknown_sent = 0;
	}
	if (m->unknown_sent++ >= UNKNOWN_REPLIES_PER_S)
		return;
	mesh_send(m, to, tolen, &o, NULL, 0);
}

static void on_datagram(struct mesh *m, const uint8_t *p, size_t len, const struct sockaddr *from,
			socklen_t fromlen)
{
	struct wire_outer o;
	struct session *s;
	int hl = wire_outer_parse(p, len, &o);

	m->d->ctr.datagrams_received++;
	if (hl < 0) {
		m->d->ctr.datagrams_malformed++;
		return;
	}
	switch (o.type) {
	case WIRE_DATA:
	case WIRE_HANDSHAKE:
		s = o.receiver_id ? idmap_get(&m->sessions, o.receiver_id) : NULL;
		if (s) {
			session_input(s, &o, p + hl, len - (size_t)hl, from, fromlen);
		} else if (o.type == WIRE_HANDSHAKE && !o.receiver_id) {
			session_accept(m->d, m, &o, p + hl, len - (size_t)hl, from, fromlen);
		} else {
			m->d->ctr.datagrams_unknown_session++;
			if (o.type == WIRE_DATA)
				reply_unknown(m, o.receiver_id, from, fromlen);
		}
		break;
	case WIRE_UNKNOWN:
		session_unknown_reply(m->d, m, o.receiver_id, from, fromlen);
		break;
	default:
		m->d->ctr.datagrams_malformed++;
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct mesh *m = arg;
	int rounds, i, n;

	/* a few batches per wakeup: enough to drain a burst, not so many
	 * that timers and the other sockets starve */
	for (rounds = 0; rounds < 8; rounds++) {
		for (i = 0; i < RX_BATCH; i++)
			m->rx_msg[i].msg_hdr.msg_namelen = sizeof(m->rx_from[i]);
		n = recvmmsg(m->fd, m->rx_msg, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			on_datagram(m, m->rx_iov[i].iov_base, m->rx_msg[i].msg_len,
				    (struct sockaddr *)&m->rx_from[i], m->rx_msg[i].msg_hdr.msg_namelen);
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
		if (getentropy(&id, sizeof(id)) < 0)
			fatal("getentropy");
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
	getsockname(m->fd, (struct sockaddr *)&bound, &blen);
	addr_fmt((struct sockaddr *)&bound, m->local);
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
	m->slot_size = MAX((size_t)2048, (size_t)d->cfg.mtu + 64);
	for (i = 0; i < TX_SLOTS; i++)
		m->tx[i].buf = xmalloc(m->slot_size);
	m->rx_buf = xmalloc(RX_BATCH * m->slot_size);
	for (i = 0; i < RX_BATCH; i++) {
		m->rx_iov[i].iov_base = m->rx_buf + i * m->slot_size;
		m->rx_iov[i].iov_len = m->slot_size;
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

uint16_t mesh_local_port(const struct mesh *m)
{
	return m->port;
}

int mesh_family(const struct mesh *m)
{
	return m->family;
}
