/* flow.c: flows between local sockets and link flows, for both roles.
 *
 * TCP: bytes from the socket are read with readv() straight into the link
 * flow's send ring, until the ring is full; reading then stops until the
 * peer acknowledges (flow_writable).  Bytes from the link are written with
 * writev() straight from the receive ring, and consumed as the socket
 * takes them: when the socket is full the rest stays in the ring, so the
 * flow's window closes and the peer stops, and a write event resumes us.
 * No bufferevent: it would copy every byte once more, and enabling its
 * write side costs a wake-up and two epoll_ctl() per connection for a
 * socket that is writable anyway.  A FIN is carried each way once
 * everything before it was delivered; a reset either way becomes a reset
 * the other way (RST on the socket, RESET on the link).
 *
 * UDP: a connected socket per flow; each datagram is one link datagram. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/errqueue.h>

#include <event2/event.h>

#include "capture.h"
#include "daemon.h"
#include "egress.h"
#include "flow.h"
#include "forward.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "network.h"
#include "session.h"
#include "util.h"

#define SOCK_READ_MAX (256 * 1024)  /* one readv() */
#define READ_BUDGET (1024 * 1024)   /* per wakeup, then other flows get a turn */
#define WRITE_TURNS 16              /* writev() calls per wakeup: 4 MiB */

static int from_vm_is_local(const struct flow *f)
{
	return f->net->d->role == ROLE_PROVIDER;
}

struct flow *flow_new(struct network *net, struct session *s, struct link_flow *lf,
		      uint8_t proto, uint8_t kind, const struct ipport *vm,
		      const struct ipport *remote)
{
	struct flow *f = xcalloc(1, sizeof(*f));

	f->net = net;
	f->sess = s;
	f->lf = lf;
	f->proto = proto;
	f->kind = kind;
	f->vm = *vm;
	f->remote = *remote;
	f->tcp_fd = -1;
	f->udp_fd = -1;
	f->held_fd = -1;
	f->created_ms = f->last_active_ms = clock_now_ms();
	link_flow_set_app(lf, f);
	TAILQ_INSERT_TAIL(&net->flows, f, entry);
	net->flows_total++;
	net->d->flows_open++;
	net->d->ctr.flows_opened++;
	return f;
}

/* destroy() - release what this side holds; the link side is detached.
 * The socket is closed here and now: a RST must leave before a capture
 * being torn down loses the route to the VM. */
static void destroy(struct flow *f)
{
	if (f->pump_queued)
		TAILQ_REMOVE(&f->net->d->pump, f, pump_entry);
	if (f->net->cap)
		capture_flow_destroyed(f->net->cap, f);
	if (f->fwd)
		forward_flow_gone(f);
	TAILQ_REMOVE(&f->net->flows, f, entry);
	f->net->d->flows_open--;
	if (f->held_fd >= 0)
		close(f->held_fd);
	if (f->rd_ev)
		event_free(f->rd_ev);
	if (f->wr_ev)
		event_free(f->wr_ev);
	if (f->tcp_fd >= 0)
		close(f->tcp_fd);
	if (f->udp_ev)
		event_free(f->udp_ev);
	if (f->udp_fd >= 0)
		close(f->udp_fd);
	free(f->syn);
	free(f);
}

/* reset_socket() - make the local end see what the far end saw: an RST
 * (SO_LINGER 0 makes close() send one), or for a SYN still held, a
 * refusal or an ICMP error sent to the VM */
static void reset_socket(struct flow *f, uint64_t reason)
{
	if (f->syn && f->net->cap) {
		capture_reject_syn(f->net->cap, f->syn, reason);
		return;
	}
	if (wire_proto_dgram(f->proto) && f->net->cap) {
		capture_dgram_unreach(f->net->cap, f, reason);
		return;
	}
	if (f->tcp_fd >= 0)
		sock_rst_on_close(f->tcp_fd);
	else if (f->held_fd >= 0)
		sock_rst_on_close(f->held_fd);
}

void flow_abort(struct flow *f, uint64_t reason)
{
	f->net->d->ctr.flows_reset++;
	if (f->lf) {
		link_flow_set_app(f->lf, NULL);
		/* a datagram flow just ends, unless the far side refused it:
		 * then the VM's side is told why (an ICMP error there) */
		if (wire_proto_dgram(f->proto) && reason != RST_REFUSED &&
		    reason != RST_UNREACHABLE && reason != RST_POLICY)
			link_flow_close(f->lf);
		else
			link_flow_reset(f->lf, reason);
		session_wake(f->sess);
		f->lf = NULL;
	}
	reset_socket(f, reason);
	destroy(f);
}

void flow_link_lost(struct flow *f)
{
	f->lf = NULL; /* the link is being freed: no calls into it */
	reset_socket(f, RST_LINK);
	destroy(f);
}

static void count_from_socket(struct flow *f, size_t n)
{
	if (from_vm_is_local(f))
		f->bytes_up += n;
	else
		f->bytes_down += n;
}

static void count_from_link(struct flow *f, size_t n)
{
	if (from_vm_is_local(f))
		f->bytes_down += n;
	else
		f->bytes_up += n;
}

/* ---- TCP ------------------------------------------------------------- */

/* maybe_finish() - done when the link flow completed: the socket took
 * everything it carried, so close it (a normal close, both FINs were
 * seen) */
static int maybe_finish(struct flow *f)
{
	if (!f->link_finished)
		return 0;
	f->net->d->ctr.flows_closed++;
	destroy(f);
	return 1;
}

uint64_t flow_reset_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return RST_REFUSED;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
	case EADDRNOTAVAIL: /* no local port left */
		return RST_RESOURCE;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return RST_UNREACHABLE;
	case ETIMEDOUT:
		return RST_TIMEOUT;
	default:
		return RST_ABORTED;
	}
}

/* write_ring() - link -> socket: writev() straight from the receive ring
 * until it is empty or the socket is full, which arms the write event.
 * Returns the bytes moved, or -1 if the socket failed and the flow was
 * freed. */
static ssize_t write_ring(struct flow *f)
{
	struct iovec iov[16];
	size_t moved = 0;
	int i;

	for (i = 0; f->lf; i++) {
		size_t niov = link_flow_peek_iov(f->lf, iov, ARRAY_SIZE(iov)), want = 0, k;
		ssize_t n;

		if (!niov)
			break;
		if (i == WRITE_TURNS) {
			event_add(f->wr_ev, NULL); /* other flows get a turn */
			break;
		}
		for (k = 0; k < niov; k++)
			want += iov[k].iov_len;
		n = writev(f->tcp_fd, iov, (int)niov);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(f->wr_ev, NULL);
			break;
		}
		if (n < 0) {
			flow_abort(f, flow_reset_reason(errno));
			return -1;
		}
		link_flow_consume(f->lf, (size_t)n);
		moved += (size_t)n;
		if ((size_t)n < want) {
			event_add(f->wr_ev, NULL);
			break;
		}
	}
	return (ssize_t)moved;
}

/* to_socket() - link -> socket, then the FIN once every byte before it
 * was taken; returns 1 if the flow was freed */
static int to_socket(struct flow *f)
{
	ssize_t moved;

	if (f->tcp_fd < 0 || f->state == FLOW_PENDING)
		return 0;
	moved = write_ring(f);
	if (moved < 0)
		return 1;
	if (moved) {
		count_from_link(f, (size_t)moved);
		daemon_io(f->net->d, (uint64_t)moved);
		session_wake(f->sess);
	}
	if (!f->lf)
		return maybe_finish(f);
	if (link_flow_at_eof(f->lf) && !f->shut_wr) {
		shutdown(f->tcp_fd, SHUT_WR);
		f->shut_wr = 1;
		/* this may complete the link flow: cb_flow_gone then leaves the
		 * freeing to us */
		f->in_pump = 1;
		link_flow_eof_seen(f->lf);
		f->in_pump = 0;
		session_wake(f->sess);
		return maybe_finish(f);
	}
	return 0;
}

void flow_pump(struct flow *f)
{
	to_socket(f);
}

/* from_socket() - socket -> link: readv() into the send ring, as much as
 * it takes and the wakeup's budget allows.  A short read means drained,
 * unless the peer closed (peer_closed: the loop saw EPOLLRDHUP): then the
 * EOF is read now, so the last bytes and the FIN leave in one datagram
 * and one wake-up. */
static void from_socket(struct flow *f, int peer_closed)
{
	struct iovec iov[16];
	size_t total = 0;
	int err;

	while (f->lf && !f->sock_eof && total < READ_BUDGET) {
		size_t niov = link_flow_reserve(f->lf, iov, ARRAY_SIZE(iov), SOCK_READ_MAX), want = 0, i;
		ssize_t n;

		if (niov == 0) {
			event_del(f->rd_ev); /* the ring is full: flow_writable resumes us */
			f->read_paused = 1;
			break;
		}
		for (i = 0; i < niov; i++)
			want += iov[i].iov_len;
		n = readv(f->tcp_fd, iov, (int)niov);
		err = errno; /* before the commit: returning chunks may free() */
		link_flow_commit(f->lf, n > 0 ? (size_t)n : 0);
		if (n < 0 && (err == EAGAIN || err == EINTR))
			break;
		if (n < 0) {
			flow_abort(f, flow_reset_reason(err));
			return;
		}
		total += (size_t)n;
		if (n == 0) {
			f->sock_eof = 1;
			event_del(f->rd_ev);
		} else if ((size_t)n < want && !peer_closed) {
			break; /* drained */
		}
	}
	if (total) {
		count_from_socket(f, total);
		session_wake(f->sess);
	}
	if (total || f->sock_eof)
		daemon_io(f->net->d, total);
	if (f->sock_eof && f->lf && !f->shut_sent) {
		link_flow_shutdown(f->lf);
		f->shut_sent = 1;
		session_wake(f->sess);
	}
	if (f->sock_eof && !f->lf)
		maybe_finish(f);
}

static void on_sock_readable(evutil_socket_t fd, short what, void *arg)
{
	from_socket(arg, what & EV_CLOSED);
}

/* resume_reading() - the send ring has room again */
static void resume_reading(struct flow *f)
{
	if (!f->read_paused || f->sock_eof)
		return;
	f->read_paused = 0;
	event_add(f->rd_ev, NULL);
	from_socket(f, 0);
}

/* connect_done() - the non-blocking connect finished, timed out or
 * failed: epoll reports a connecting socket writable only once its
 * handshake is over, one way or the other */
static void connect_done(struct flow *f, short what)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(f->tcp_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		egress_failed(f, flow_reset_reason(err), err);
	else
		egress_connected(f);
}

static void on_sock_writable(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;

	if (f->state == FLOW_PENDING)
		connect_done(f, what);
	else
		to_socket(f);
}

/* open_socket() - the flow takes fd, with its events (none added yet) */
static int open_socket(struct flow *f, int fd)
{
	struct event_base *base = f->net->d->base;

	f->tcp_fd = fd;
	f->rd_ev = event_new(base, fd, EV_READ | EV_CLOSED | EV_PERSIST, on_sock_readable, f);
	f->wr_ev = event_new(base, fd, EV_WRITE, on_sock_writable, f);
	return f->rd_ev && f->wr_ev ? 0 : -1;
}

void flow_drop_socket(struct flow *f)
{
	if (f->rd_ev)
		event_free(f->rd_ev);
	if (f->wr_ev)
		event_free(f->wr_ev);
	f->rd_ev = f->wr_ev = NULL;
	if (f->tcp_fd >= 0)
		close(f->tcp_fd);
	f->tcp_fd = -1;
}

/* flow_attach_tcp() - a connected socket (provider: accepted from the
 * VM) joins the flow */
int flow_attach_tcp(struct flow *f, int fd)
{
	if (open_socket(f, fd) < 0)
		return -1;
	f->state = FLOW_OPEN;
	event_add(f->rd_ev, NULL);
	return 0;
}

void flow_start(struct flow *f)
{
	if (!to_socket(f))
		from_socket(f, 0);
}

/* flow_connect_tcp() - start a non-blocking connect */
int flow_connect_tcp(struct flow *f, int fd, const struct sockaddr *to, socklen_t tolen,
		     uint64_t timeout_ms)
{
	struct timeval tv = timeval_from_ms(timeout_ms);

	if (fd < 0)
		fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	f->state = FLOW_PENDING;
	if (open_socket(f, fd) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (connect(fd, to, tolen) < 0 && errno != EINPROGRESS)
		return -1;
	/* the write event reports the outcome, or the timeout a connect that
	 * hangs; one that completed at once is reported by the next turn */
	if (event_add(f->wr_ev, &tv) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* flow_connected() - the connect completed */
void flow_connected(struct flow *f)
{
	f->state = FLOW_OPEN;
	event_add(f->rd_ev, NULL);
	if (f->lf) {
		link_flow_accept(f->lf);
		session_wake(f->sess);
	}
	flow_pump(f); /* a forward's client may have spoken first */
}

/* ---- UDP ------------------------------------------------------------- */

/* from_remote() - a ping socket's datagram came from the flow's
 * destination: connect() does not filter an ICMP socket's input by source
 * (the kernel matches the identifier alone), so anyone who guesses the
 * identifier could otherwise answer the VM's pings in the destination's
 * name */
static int from_remote(const struct flow *f, const struct sockaddr_storage *ss, socklen_t len)
{
	struct ipport from;

	if (len < sizeof(struct sockaddr_in) || (ss->ss_family != AF_INET &&
						 (ss->ss_family != AF_INET6 ||
						  len < sizeof(struct sockaddr_in6))))
		return 0;
	ipport_from_sa(&from, (const struct sockaddr *)ss);
	return from.family == f->remote.family &&
	       memcmp(from.addr, f->remote.addr, from.family == AF_INET ? 4 : 16) == 0;
}

/* dgram_error() - a consumer's connected UDP socket reported that its
 * destination's port is closed (the host's port unreachable): the flow
 * ends, and the VM gets the same error from the provider.  Nothing else
 * ends a flow: an unreachable network on send() may be the consumer's
 * route coming back after a moment (a Wi-Fi renewal, a VPN reconnecting),
 * and a flow's consumer port should outlive that; a ping socket's errors
 * are matched by its identifier alone, which an off-path host can guess;
 * and a provider's own sockets face the VM. */
static int dgram_error(struct flow *f, int err)
{
	uint64_t reason = flow_reset_reason(err);
	char a[ADDRSTRLEN], b[ADDRSTRLEN];

	if (f->net->cap || f->udp_shared || f->proto != WIRE_PROTO_UDP || reason != RST_REFUSED)
		return 0;
	log_debug("network %s: %s %s -> %s: %s", f->net->idstr, wire_proto_name(f->proto),
		  ipport_fmt(&f->vm, a), ipport_fmt(&f->remote, b), strerror(err));
	flow_abort(f, reason);
	return 1;
}

/* ping_errors() - a ping socket's error queue: each destination
 * unreachable a router sent about one of the VM's echo requests goes to
 * the provider as the ICMP message's type and code, the quoted request's
 * sequence number and the router's address (PROTOCOL.md).  The kernel
 * matched it to this socket by the identifier in the request it quotes;
 * the quoted request must also be an echo request to this flow's
 * destination, so that an off-path host has more than the identifier to
 * guess. */
static void ping_errors(struct flow *f, int fd)
{
	int i, v6 = f->remote.family == AF_INET6;

	for (i = 0; i < 8 && f->lf; i++) {
		uint8_t quoted[64], msg[8 + 16];
		union {
			char b[CMSG_SPACE(sizeof(struct sock_extended_err) +
					  sizeof(struct sockaddr_in6))];
			struct cmsghdr align;
		} cbuf;
		struct sockaddr_storage to;
		struct iovec iov = { quoted, sizeof(quoted) };
		struct msghdr mh = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof(cbuf.b) };
		const struct sock_extended_err *ee = NULL;
		struct ipport by;
		struct cmsghdr *cm;
		ssize_t n = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (n < 0)
			return;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if ((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
			    (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR))
				ee = (const struct sock_extended_err *)CMSG_DATA(cm);
		if (!ee || n < 8 || quoted[0] != (v6 ? 128 : 8) || !from_remote(f, &to, mh.msg_namelen) ||
		    ee->ee_origin != (v6 ? SO_EE_ORIGIN_ICMP6 : SO_EE_ORIGIN_ICMP) ||
		    ee->ee_type != (v6 ? 1 : 3))
			continue;
		ipport_from_sa(&by, SO_EE_OFFENDER(ee));
		if (by.family != f->remote.family)
			continue;
		memset(msg, 0, sizeof(msg));
		msg[0] = ee->ee_type;
		msg[1] = ee->ee_code;
		msg[6] = quoted[6]; /* the request's sequence number */
		msg[7] = quoted[7];
		memcpy(msg + 8, by.addr, v6 ? 16 : 4);
		flow_udp_send(f, msg, v6 ? 24 : 12);
	}
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	uint8_t buf[65536];
	int i;

	for (i = 0; i < 64 && f->lf; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

		if (n < 0) {
			int again = errno == EAGAIN || errno == EWOULDBLOCK;

			/* a ping socket wakes for its error queue too, and an
			 * error that set no pending error reads as EAGAIN:
			 * drain the queue either way, or it wakes us forever */
			if (f->proto == WIRE_PROTO_ICMP) {
				ping_errors(f, fd);
				if (!again)
					continue;
				break;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				dgram_error(f, errno);
			break; /* f may be gone */
		}
		daemon_io(f->net->d, (uint64_t)n);
		if (f->proto == WIRE_PROTO_ICMP && !from_remote(f, &ss, sl))
			continue;
		flow_udp_send(f, buf, (size_t)n);
	}
}

void flow_attach_udp(struct flow *f, int fd)
{
	f->udp_fd = fd;
	f->udp_ev = event_new(f->net->d->base, fd, EV_READ | EV_PERSIST, on_udp, f);
	event_add(f->udp_ev, NULL);
	f->state = FLOW_OPEN;
}

/* flow_udp_send() - a datagram from this side's socket into the link */
void flow_udp_send(struct flow *f, const uint8_t *d, size_t len)
{
	if (!f->lf)
		return;
	f->last_active_ms = clock_now_ms();
	if (link_flow_send_dgram(f->lf, d, len, clock_now_us()) == 0)
		count_from_socket(f, len);
	session_wake(f->sess);
}

int flow_check_idle(struct flow *f, uint64_t now_ms)
{
	if (!wire_proto_dgram(f->proto) ||
	    now_ms - f->last_active_ms < f->net->d->cfg.udp_idle_timeout_ms)
		return 0;
	f->net->d->ctr.flows_closed++;
	if (f->lf) {
		link_flow_set_app(f->lf, NULL);
		link_flow_close(f->lf);
		session_wake(f->sess);
		f->lf = NULL;
	}
	destroy(f);
	return 1;
}

const char *flow_state_name(const struct flow *f)
{
	if (f->state == FLOW_PENDING)
		return f->syn ? "syn-held" : "connecting";
	if (wire_proto_dgram(f->proto))
		return "open";
	if (f->shut_wr && f->shut_sent)
		return "closing";
	if (f->shut_wr || f->shut_sent)
		return "half-closed";
	return "open";
}

/* ---- link callbacks (arg: the session) ---------------------------------- */

static void cb_flow_open(void *arg, struct link_flow *lf)
{
	struct session *s = arg;

	if (s->d->role == ROLE_CONSUMER)
		egress_open(s, lf);
	else
		capture_inbound_open(s, lf);
}

static void cb_flow_accepted(void *arg, struct link_flow *lf)
{
	struct flow *f = link_flow_app(lf);

	if (f && f->net->cap)
		capture_syn_accepted(f->net->cap, f);
	else if (f && f->held_fd >= 0)
		forward_flow_accepted(f);
}

/* cb_flow_readable() - fires per received packet: writing each time would
 * cost a syscall per packet, so the flow waits for the end of the batch */
static void cb_flow_readable(void *arg, struct link_flow *lf)
{
	struct flow *f = link_flow_app(lf);

	if (!f || f->proto != WIRE_PROTO_TCP || f->state == FLOW_PENDING || f->pump_queued)
		return;
	f->pump_queued = 1;
	TAILQ_INSERT_TAIL(&f->net->d->pump, f, pump_entry);
}

void flow_pump_pending(struct daemon *d)
{
	struct flow *f;

	while ((f = TAILQ_FIRST(&d->pump))) {
		TAILQ_REMOVE(&d->pump, f, pump_entry);
		f->pump_queued = 0;
		to_socket(f);
	}
}

static void cb_flow_writable(void *arg, struct link_flow *lf)
{
	struct flow *f = link_flow_app(lf);

	if (f && f->tcp_fd >= 0 && f->state != FLOW_PENDING)
		resume_reading(f);
}

static void cb_flow_gone(void *arg, struct link_flow *lf, uint64_t reason)
{
	struct flow *f = link_flow_app(lf);

	if (!f)
		return;
	link_flow_set_app(lf, NULL);
	f->lf = NULL;
	if (reason == RST_NONE && f->proto == WIRE_PROTO_TCP && f->tcp_fd >= 0) {
		f->link_finished = 1; /* both FINs delivered: close the socket */
		if (!f->in_pump)
			maybe_finish(f);
		return;
	}
	if (reason == RST_NONE) {
		f->net->d->ctr.flows_closed++;
		destroy(f);
		return;
	}
	f->net->d->ctr.flows_reset++;
	reset_socket(f, reason);
	destroy(f);
}

static void cb_datagram(void *arg, struct link_flow *lf, const uint8_t *d, size_t len)
{
	struct flow *f = link_flow_app(lf);

	struct sockaddr_storage ss;
	ssize_t n;

	if (f && f->proto == WIRE_PROTO_ICMP && f->net->cap) {
		f->last_active_ms = clock_now_ms();
		capture_echo_reply(f->net->cap, f, d, len);
		count_from_link(f, len);
		return;
	}
	if (!f || f->udp_fd < 0)
		return;
	/* an ICMP socket would send other queries too (RFC 8335 PROBE): only
	 * echo requests, type 8 code 0 (ICMPv6: 128) */
	if (f->proto == WIRE_PROTO_ICMP &&
	    (len < 8 || d[0] != (f->remote.family == AF_INET6 ? 128 : 8) || d[1] != 0))
		return;
	f->last_active_ms = clock_now_ms();
	if (f->udp_shared)
		n = sendto(f->udp_fd, d, len, MSG_DONTWAIT, (struct sockaddr *)&ss,
			   ipport_to_sa(&f->remote, &ss));
	else
		n = send(f->udp_fd, d, len, MSG_DONTWAIT);
	daemon_io(f->net->d, len);
	if (n >= 0)
		count_from_link(f, len);
	else
		dgram_error(f, errno); /* an error an earlier datagram met */
}

static void cb_network_deleted(void *arg, const struct netid *id)
{
	struct session *s = arg;

	network_peer_deleted(s->d, s->peer, id);
}

const struct link_cb daemon_link_cb = {
	.flow_open = cb_flow_open,
	.flow_accepted = cb_flow_accepted,
	.flow_readable = cb_flow_readable,
	.flow_writable = cb_flow_writable,
	.flow_gone = cb_flow_gone,
	.datagram = cb_datagram,
	.network_deleted = cb_network_deleted,
};
