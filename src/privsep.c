/* privsep.c: the provider's privileged helper and its protocol.
 *
 * One request, one answer, on a SOCK_SEQPACKET socketpair; fixed-size
 * messages (both ends are the same binary); the answer's sockets ride
 * SCM_RIGHTS.  The helper is single-threaded and keeps nothing but the
 * captures it set up: their namespace, and what to remove from it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "capns.h"
#include "log.h"
#include "netns.h"
#include "osutil.h"
#include "privdrop.h"
#include "privsep.h"
#include "util.h"

#define PS_CALL_TIMEOUT_MS 10000   /* a set-up runs nftables: slow, but not this slow */
#define PS_START_TIMEOUT_MS 5000
#define PS_STOP_WAIT_MS 2000
#define PS_REAP_WAIT_MS 200
#define PS_MAX_CAPTURES 4096
#define PS_HELPER_FD 3

_Static_assert(CAPNS_NSOCK <= SEND_FDS_MAX, "a set-up's sockets fit one answer");

enum ps_op { PS_READY = 1, PS_SETUP, PS_TEARDOWN, PS_SOCKET };

struct ps_request {
	uint32_t op, seq;
	uint32_t handle;                /* TEARDOWN, SOCKET */
	int32_t type;                   /* SOCKET: SOCK_STREAM or SOCK_DGRAM */
	uint32_t has_peer;
	struct ipport local, peer;      /* SOCKET */
	struct capns_params setup;      /* SETUP */
};

struct ps_reply {
	uint32_t op, seq;
	int32_t error;                  /* 0, or an errno value */
	uint32_t handle;                /* SETUP */
	uint32_t nfds;                  /* sockets in SCM_RIGHTS */
	uint16_t tcp_port, udp_port;    /* SETUP */
	uint16_t tcp_port6, udp_port6;  /* SETUP with IPv6 */
	char msg[512];                  /* with error: for the operator */
};

struct privsep {
	int fd;                         /* -1 once the helper is gone */
	pid_t pid;
	int reaped;
	int started;                    /* it said it is ready */
	uint32_t seq;
};

struct privcap {
	struct privsep *ps;
	int own_ps;                     /* a rootless helper of this capture's own */
	uint32_t handle;
	char idstr[NETID_HEXLEN + 1];
};

/* ---- the helper --------------------------------------------------------- */

struct helper_cap {
	uint32_t handle;
	struct capns *ns;
};

struct helper {
	int fd;
	const char *join;               /* rootless: the one namespace we serve */
	int join_fd;                    /* and its descriptor */
	struct helper_cap *cap;
	size_t ncap;
	uint32_t next_handle;
};

/* helper_send() - an answer with fds, which the helper then closes */
static void helper_send(struct helper *h, struct ps_reply *rp, int *fds, size_t nfds)
{
	size_t i;

	rp->nfds = (uint32_t)nfds;
	/* a daemon gone meanwhile is seen at the next read */
	send_with_fds(h->fd, rp, sizeof(*rp), fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

static void helper_fail(struct helper *h, struct ps_reply *rp, int error, const char *msg)
{
	rp->error = error ? error : EINVAL;
	snprintf(rp->msg, sizeof(rp->msg), "%s", msg);
	helper_send(h, rp, NULL, 0);
}

static struct helper_cap *helper_find(struct helper *h, uint32_t handle)
{
	size_t i;

	for (i = 0; i < h->ncap; i++)
		if (h->cap[i].handle == handle)
			return &h->cap[i];
	return NULL;
}

/* helper_taken() - a capture of ours already in that namespace, however
 * its path was spelled */
static const struct capns *helper_taken(const struct helper *h, const struct capns *ns)
{
	size_t i;

	for (i = 0; i < h->ncap; i++)
		if (capns_same(h->cap[i].ns, ns))
			return h->cap[i].ns;
	return NULL;
}

/* helper_setup() - a capture in the namespace the request names, or in
 * the one nsfd is (the daemon's descriptor: a namespace of its own user,
 * /proc/PID/ns/net, which we could not open by name without
 * CAP_SYS_PTRACE; it passes the same checks) */
static void helper_setup(struct helper *h, const struct ps_request *rq, struct ps_reply *rp,
			 int nsfd)
{
	struct capns_socks s;
	const struct capns *other;
	struct capns *ns;
	char err[512], at[64];

	if (h->ncap >= PS_MAX_CAPTURES) {
		helper_fail(h, rp, ENOSPC, "too many captures");
		return;
	}
	if (h->join && strncmp(rq->setup.netns, h->join, sizeof(rq->setup.netns)) != 0) {
		helper_fail(h, rp, EINVAL, "a rootless capture helper serves one namespace only");
		return;
	}
	/* the daemon's descriptor stands only for a name of its own user's
	 * (/proc/...); any other name we open ourselves */
	if (nsfd >= 0 && strncmp(rq->setup.netns, "/proc/", 6) != 0)
		nsfd = -1;
	if (h->join || nsfd >= 0)
		snprintf(at, sizeof(at), "/proc/self/fd/%d", h->join ? h->join_fd : nsfd);
	/* capns_open() checks the operator's names and addresses: the
	 * error goes back to the operator */
	if (!(ns = capns_open(&rq->setup, h->join || nsfd >= 0 ? at : NULL, err, sizeof(err)))) {
		helper_fail(h, rp, EINVAL, err);
		return;
	}
	if ((other = helper_taken(h, ns))) {
		snprintf(err, sizeof(err), "namespace %s already holds a network (added as %s)",
			 rq->setup.netns, capns_netns(other));
		capns_free(ns);
		helper_fail(h, rp, EEXIST, err);
		return;
	}
	if (capns_setup(ns, &s, err, sizeof(err)) < 0) {
		capns_free(ns);
		helper_fail(h, rp, EIO, err);
		return;
	}
	h->cap = xrealloc(h->cap, (h->ncap + 1) * sizeof(*h->cap));
	h->cap[h->ncap].handle = h->next_handle++;
	h->cap[h->ncap].ns = ns;
	rp->handle = h->cap[h->ncap++].handle;
	rp->tcp_port = s.tcp_port;
	rp->udp_port = s.udp_port;
	rp->tcp_port6 = s.tcp_port6;
	rp->udp_port6 = s.udp_port6;
	helper_send(h, rp, s.fd, capns_nsock(&rq->setup));
}

static void helper_teardown(struct helper *h, const struct ps_request *rq, struct ps_reply *rp)
{
	struct helper_cap *c = helper_find(h, rq->handle);

	if (!c) {
		log_warnx("privsep: teardown of capture %u, which does not exist", rq->handle);
		helper_fail(h, rp, ENOENT, "no such capture");
		return;
	}
	capns_free(c->ns);
	*c = h->cap[--h->ncap];
	helper_send(h, rp, NULL, 0);
}

static void helper_socket(struct helper *h, const struct ps_request *rq, struct ps_reply *rp)
{
	struct helper_cap *c = helper_find(h, rq->handle);
	const struct ipport *peer = rq->has_peer ? &rq->peer : NULL;
	char err[256];
	int fd;

	if (!c) {
		log_warnx("privsep: socket in capture %u, which does not exist", rq->handle);
		helper_fail(h, rp, ENOENT, "no such capture");
		return;
	}
	if (capns_check_socket(rq->type, &rq->local, peer, err, sizeof(err)) < 0) {
		/* the addresses may be a peer's choice (a forward's client):
		 * the daemon logs the failed flow */
		log_debug("privsep: %s", err);
		helper_fail(h, rp, EINVAL, err);
		return;
	}
	fd = capns_socket(c->ns, rq->type, &rq->local, peer);
	if (fd < 0) {
		helper_fail(h, rp, errno, strerror(errno));
		return;
	}
	helper_send(h, rp, &fd, 1);
}

static void helper_handle(struct helper *h, const struct ps_request *rq, ssize_t len, int fd)
{
	struct ps_reply rp;

	memset(&rp, 0, sizeof(rp));
	if (len != (ssize_t)sizeof(*rq)) {
		log_warnx("privsep: request of %zd bytes, not %zu: refused", len, sizeof(*rq));
		helper_fail(h, &rp, EINVAL, "malformed request");
		return;
	}
	rp.op = rq->op;
	rp.seq = rq->seq;
	switch (rq->op) {
	case PS_SETUP: helper_setup(h, rq, &rp, fd); break;
	case PS_TEARDOWN: helper_teardown(h, rq, &rp); break;
	case PS_SOCKET: helper_socket(h, rq, &rp); break;
	default:
		log_warnx("privsep: request %u unknown: refused", rq->op);
		helper_fail(h, &rp, EINVAL, "unknown request");
	}
}

/* helper_detach() - keep only the socket to the daemon and the standard
 * streams (the log); let a terminal's ^C or systemd's SIGTERM to the whole
 * group reach the daemon alone, which then tears its captures down through
 * us before it exits */
static int helper_detach(int fd)
{
	static const int quiet[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2 };
	size_t i;

	if (fd != PS_HELPER_FD && dup2(fd, PS_HELPER_FD) < 0)
		_exit(1);
	if (fds_close_above(PS_HELPER_FD) < 0)
		_exit(1);
	for (i = 0; i < ARRAY_SIZE(quiet); i++)
		signal(quiet[i], SIG_IGN);
	prctl(PR_SET_NAME, "omnetd-priv", 0, 0, 0);
	/* not even the daemon's own uid may read our memory or fds */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return PS_HELPER_FD;
}

static void helper_cleanup(struct helper *h)
{
	if (h->ncap)
		log_info("privsep: the daemon is gone; removing %zu capture%s it left", h->ncap,
			 h->ncap == 1 ? "" : "s");
	while (h->ncap)
		capns_free(h->cap[--h->ncap].ns);
	free(h->cap);
}

/* helper_recv() - a request, and the one descriptor it may carry (more
 * are closed: they are not part of the protocol); MSG_TRUNC: the length
 * sent, which helper_handle() checks */
static ssize_t helper_recv(int sock, struct ps_request *rq, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} c;
	struct iovec iov = { rq, sizeof(*rq) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf) };
	int fds[4];
	size_t nfds, i;
	ssize_t n = recvmsg(sock, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	msg_take_fds(&mh, fds, ARRAY_SIZE(fds), &nfds);
	for (i = 0; i < nfds; i++) {
		if (i == 0)
			*fd = fds[0];
		else
			close(fds[i]);
	}
	return n;
}

/* helper_main() - serve the daemon; with join, first move into the user
 * namespace that owns that network namespace (a rootless provider's
 * helper for one capture) */
static void __attribute__((noreturn)) helper_main(int fd, pid_t parent, const char *join)
{
	struct helper h = { .next_handle = 1, .join = join, .join_fd = -1 };
	struct ps_reply ready = { .op = PS_READY };
	struct ps_request rq;
	char err[512];
	uid_t uid = getuid();
	ssize_t n;

	h.fd = helper_detach(fd);
	if (getppid() != parent)
		_exit(0); /* the daemon died before we got here */
	if (join && (h.join_fd = netns_join_owner(join, err, sizeof(err))) < 0) {
		helper_fail(&h, &ready, EPERM, err);
		_exit(1);
	}
	if (join)
		log_info("privileges: capture helper (pid %d) for namespace %s works in the user "
			 "namespace that owns it, as uid %u", (int)getpid(), join, (unsigned)uid);
	if (privdrop_helper(err, sizeof(err)) < 0) {
		helper_fail(&h, &ready, EPERM, err);
		_exit(1);
	}
	helper_send(&h, &ready, NULL, 0);
	for (;;) {
		int rfd = -1;

		n = helper_recv(h.fd, &rq, &rfd);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
		if (n > 0)
			helper_handle(&h, &rq, n, rfd);
		if (rfd >= 0)
			close(rfd);
	}
	helper_cleanup(&h);
	_exit(0);
}

/* ---- the daemon's side ---------------------------------------------------- */

/* reap() - collect the helper if it has exited, waiting at most wait_ms;
 * then how says how it ended */
static int reap(struct privsep *ps, int wait_ms, char *how, size_t howlen)
{
	int status, i;

	for (i = 0; !ps->reaped && i <= wait_ms / 5; i++) {
		pid_t r = waitpid(ps->pid, &status, WNOHANG);

		if (r == ps->pid && WIFSIGNALED(status))
			snprintf(how, howlen, "was killed by signal %d", WTERMSIG(status));
		else if (r == ps->pid)
			snprintf(how, howlen, "exited with status %d", WEXITSTATUS(status));
		if (r == ps->pid || (r < 0 && errno == ECHILD)) {
			ps->reaped = 1;
			break;
		}
		if (i < wait_ms / 5)
			usleep(5000);
	}
	return ps->reaped ? 0 : -1;
}

/* gone() - the helper cannot be used any more: say so once, for all the
 * failures that follow (at start-up the caller says it) */
static void gone(struct privsep *ps, const char *why)
{
	char how[64] = "";

	if (ps->fd < 0)
		return;
	close(ps->fd);
	ps->fd = -1;
	if (reap(ps, PS_REAP_WAIT_MS, how, sizeof(how)) < 0 && !why)
		why = "closed its socket";
	if (!ps->started)
		return;
	log_warnx("privsep: the privileged helper (pid %d) %s%s%s: networks cannot be added or "
		  "removed, and new port-forward flows and VM UDP conversations fail, until "
		  "omnetd is restarted", (int)ps->pid, why ? why : "", why && how[0] ? "; it " : "",
		  how);
}

static void close_fds(const int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* ps_recv() - the answer to request seq, its sockets into fds; anything
 * else (silence, end of file, an answer out of turn) means the helper is
 * no longer to be trusted with requests: it is gone */
static int ps_recv(struct privsep *ps, uint32_t seq, struct ps_reply *rp, int *fds, size_t room,
		   size_t *nfds, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CAPNS_NSOCK)];
		struct cmsghdr align;
	} c;
	struct iovec iov = { rp, sizeof(*rp) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf) };
	ssize_t n;

	*nfds = 0;
	if (fd_wait_readable(ps->fd, timeout_ms) < 0) {
		gone(ps, "did not answer in time");
		return -1;
	}
	n = recvmsg(ps->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0) {
		gone(ps, NULL);
		return -1;
	}
	if (msg_take_fds(&mh, fds, room, nfds) < 0 || n != (ssize_t)sizeof(*rp) || rp->seq != seq ||
	    rp->nfds != *nfds) {
		close_fds(fds, *nfds);
		*nfds = 0;
		gone(ps, "answered out of turn");
		return -1;
	}
	rp->msg[sizeof(rp->msg) - 1] = '\0';
	return 0;
}

/* ps_send() - the request, with descriptor fd if it is one */
static ssize_t ps_send(int sock, const struct ps_request *rq, int fd)
{
	return send_with_fds(sock, rq, sizeof(*rq), &fd, fd >= 0 ? 1 : 0);
}

/* ps_call() - one request (with descriptor send_fd, if not -1), its
 * answer; -1 with err and errno set (EPIPE: the helper is gone) */
static int ps_call(struct privsep *ps, struct ps_request *rq, int send_fd, struct ps_reply *rp,
		   int *fds, size_t want_fds, char *err, size_t errlen)
{
	size_t nfds;

	if (ps->fd >= 0) {
		rq->seq = ++ps->seq;
		if (ps_send(ps->fd, rq, send_fd) != (ssize_t)sizeof(*rq))
			gone(ps, "cannot be written to");
	}
	if (ps->fd < 0 || ps_recv(ps, rq->seq, rp, fds, want_fds, &nfds, PS_CALL_TIMEOUT_MS) < 0) {
		snprintf(err, errlen, "the privileged helper is gone (see the log); restart omnetd");
		errno = EPIPE;
		return -1;
	}
	if (rp->error) {
		close_fds(fds, nfds);
		snprintf(err, errlen, "%s", rp->msg);
		errno = rp->error;
		return -1;
	}
	if (nfds != want_fds) {
		close_fds(fds, nfds);
		gone(ps, "answered without its sockets");
		snprintf(err, errlen, "the privileged helper is gone (see the log); restart omnetd");
		errno = EPIPE;
		return -1;
	}
	return 0;
}

/* exec_helper() - in the forked child: a rootless capture's helper is
 * omnetd exec'd afresh, so that it holds nothing of the running daemon's
 * (its key, its memory, its descriptors), with its socket on descriptor 3 */
static void __attribute__((noreturn)) exec_helper(int sock, const char *join)
{
	struct ps_reply rp = { .op = PS_READY };
	char lvl[16];
	char *argv[] = { "omnetd", PRIVSEP_HELPER_ARG, (char *)join, lvl, NULL };

	snprintf(lvl, sizeof(lvl), "%d", log_verbosity());
	exec_self(sock, PS_HELPER_FD, argv);
	rp.error = errno;
	snprintf(rp.msg, sizeof(rp.msg), "cannot run omnetd again (/proc/self/exe): %s",
		 strerror(errno));
	send(PS_HELPER_FD, &rp, sizeof(rp), MSG_NOSIGNAL);
	_exit(1);
}

void privsep_helper_exec_main(const char *join)
{
	helper_main(PS_HELPER_FD, getppid(), join);
}

/* spawn() - fork a helper (joining join's owner if given) and wait until
 * it is ready; NULL with err */
static struct privsep *spawn(const char *join, char *err, size_t errlen)
{
	struct privsep *ps;
	struct ps_reply rp = { 0 };
	pid_t parent = getpid(), pid;
	size_t nfds;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "privileged helper: socketpair: %s", strerror(errno));
		return NULL;
	}
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "privileged helper: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		if (join)
			exec_helper(sv[1], join);
		helper_main(sv[1], parent, NULL);
	}
	close(sv[1]);
	ps = xcalloc(1, sizeof(*ps));
	ps->fd = sv[0];
	ps->pid = pid;
	if (ps_recv(ps, 0, &rp, NULL, 0, &nfds, PS_START_TIMEOUT_MS) < 0 || rp.op != PS_READY ||
	    rp.error) {
		if (join && rp.error)
			snprintf(err, errlen, "%s", rp.msg);
		else
			snprintf(err, errlen, "privileged helper did not start%s%s",
				 rp.error ? ": " : "", rp.error ? rp.msg : "");
		privsep_stop(ps);
		return NULL;
	}
	ps->started = 1;
	return ps;
}

struct privsep *privsep_start(char *err, size_t errlen)
{
	return spawn(NULL, err, errlen);
}

void privsep_stop(struct privsep *ps)
{
	char how[64] = "";

	if (!ps)
		return;
	if (ps->fd >= 0)
		close(ps->fd);
	ps->fd = -1;
	if (reap(ps, PS_STOP_WAIT_MS, how, sizeof(how)) < 0)
		log_warnx("privsep: the privileged helper (pid %d) did not exit within %d ms",
			  (int)ps->pid, PS_STOP_WAIT_MS);
	free(ps);
}

pid_t privsep_pid(const struct privsep *ps)
{
	return ps && ps->fd >= 0 ? ps->pid : 0;
}

/* ---- captures, in the helper -------------------------------------------- */

struct privcap *privcap_open(struct privsep *ps, const struct capns_params *p,
			     struct capns_socks *s, char *err, size_t errlen)
{
	struct ps_request rq;
	struct ps_reply rp;
	struct privcap *pc;
	int own = !ps, nsfd = -1, r;
	size_t i;

	/* the parameters reach a helper of our own only once they are sane */
	if (own && (capns_check(p, err, errlen) < 0 || !(ps = spawn(p->netns, err, errlen))))
		return NULL;
	/* a namespace of our own user's (a --run network's, /proc/PID/ns/net)
	 * the root helper may not open by name: it gets our descriptor */
	if (!own && strncmp(p->netns, "/proc/", 6) == 0)
		nsfd = netns_open(p->netns, err, errlen);
	memset(&rq, 0, sizeof(rq));
	rq.op = PS_SETUP;
	rq.setup = *p;
	for (i = 0; i < CAPNS_NSOCK; i++)
		s->fd[i] = -1;
	r = ps_call(ps, &rq, nsfd, &rp, s->fd, capns_nsock(p), err, errlen);
	if (nsfd >= 0)
		close(nsfd);
	if (r < 0) {
		if (own)
			privsep_stop(ps);
		return NULL;
	}
	s->tcp_port = rp.tcp_port;
	s->udp_port = rp.udp_port;
	s->tcp_port6 = rp.tcp_port6;
	s->udp_port6 = rp.udp_port6;
	pc = xcalloc(1, sizeof(*pc));
	pc->ps = ps;
	pc->own_ps = own;
	pc->handle = rp.handle;
	snprintf(pc->idstr, sizeof(pc->idstr), "%s", p->idstr);
	return pc;
}

void privcap_close(struct privcap *pc)
{
	struct ps_request rq;
	struct ps_reply rp;
	char err[512];

	if (!pc)
		return;
	memset(&rq, 0, sizeof(rq));
	rq.op = PS_TEARDOWN;
	rq.handle = pc->handle;
	if (ps_call(pc->ps, &rq, -1, &rp, NULL, 0, err, sizeof(err)) < 0)
		log_warnx("network %s: capture not removed: %s", pc->idstr, err);
	if (pc->own_ps)
		privsep_stop(pc->ps);
	free(pc);
}

int privcap_socket(struct privcap *pc, int type, const struct ipport *local,
		   const struct ipport *peer)
{
	struct ps_request rq;
	struct ps_reply rp;
	char err[512];
	int fd;

	memset(&rq, 0, sizeof(rq));
	rq.op = PS_SOCKET;
	rq.handle = pc->handle;
	rq.type = type;
	rq.local = *local;
	if (peer) {
		rq.has_peer = 1;
		rq.peer = *peer;
	}
	if (ps_call(pc->ps, &rq, -1, &rp, &fd, 1, err, sizeof(err)) < 0)
		return -1;
	return fd;
}
