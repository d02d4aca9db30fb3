/* vmrun.c: a network's own namespaces and the command that runs in them.
 *
 * The maker and the command report to the daemon once each, on a
 * SOCK_SEQPACKET socketpair: ready (the maker with its namespaces as
 * descriptors), or why not.  Both are forked from the daemon, which is
 * single-threaded; neither calls anything of its event loop, and each
 * leaves by exec or _exit: the maker at once (it is omnetd exec'd
 * afresh), the command once it has joined the namespaces. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "log.h"
#include "netlink.h"
#include "network.h"
#include "nsrefuse.h"
#include "osutil.h"
#include "userns.h"
#include "util.h"
#include "vmrun.h"

#define RUN_IFACE "tap0"            /* the VM's interface, in the capture namespace */
#define RUN_CONTAINER_IFACE "eth0"  /* the container's, in its own */
#define RUN_READY_MS 5000           /* a maker or command that says nothing by then */
#define RUN_GRACE_MS 5000           /* from SIGTERM to SIGKILL */
#define RUN_STOP_WAIT_MS 3000       /* at the daemon's end, for each signal */
#define RUN_LINE_MAX 400            /* of the command's output, per log line */
#define RUN_DRAIN_MAX 65536         /* read at the command's end; the event reads the rest */
#define RUN_LOG_RATE 100            /* lines a second a command may log, */
#define RUN_LOG_BURST 1000          /* and at once: a guest's console is not to fill the log */
#define RUN_REPORT_FD 3             /* the maker's report socket */

enum { NS_USER, NS_CAPTURE, NS_CONTAINER, NS_COUNT };

struct run_report {
	int32_t error;                  /* 0: ready */
	char msg[400];
};

struct vmrun {
	TAILQ_ENTRY(vmrun) entry;
	struct daemon *d;
	struct network *net;            /* NULL once deleted */
	char idstr[NETID_HEXLEN + 1];
	char *cmd;                      /* argv[0], for logs */
	pid_t maker, pid;               /* 0 once reaped (pid: the command's group too) */
	int ns[NS_COUNT];               /* the namespaces, while the network exists */
	int keep, container;
	int exited, status;             /* the command's end */
	int out_fd;
	struct event *out_ev, *kill_ev;
	char line[RUN_LINE_MAX + 1];
	size_t len;
	uint64_t tokens, tokens_ms;     /* lines it may log now; when that was */
	uint64_t unlogged;              /* lines over the rate, not logged yet told */
};

/* ---- in the children ------------------------------------------------------ */

static void report(int fd, int error, const int *fds, size_t nfds, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void report(int fd, int error, const int *fds, size_t nfds, const char *fmt, ...)
{
	struct run_report r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.error = error;
	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	/* the daemon gone meanwhile: we end anyway */
	send_with_fds(fd, &r, sizeof(r), fds, nfds);
}

/* child_signals() - what the daemon's libevent set (and SIGPIPE ignored)
 * must not reach the command: every signal to its default, none blocked */
static void child_signals(void)
{
	sigset_t none;
	int s;

	for (s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* make_tap() - a persistent tap, so that it outlives this descriptor and
 * QEMU finds it by name */
static int make_tap(char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		nsrefuse_tun(errno, err, errlen);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", RUN_IFACE);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		snprintf(err, errlen, "cannot make the tap %s: %s", RUN_IFACE, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* make_container_ns() - from the capture namespace: a second one, with
 * eth0 in it, a veth to tap0 in the first; ns[NS_CONTAINER] is it */
static int make_container_ns(int *ns, char *err, size_t errlen)
{
	const char *what = NULL;

	if (unshare(CLONE_NEWNET) < 0)
		what = "make the container's network namespace";
	else if (nl_link_set_up("lo") < 0)
		what = "bring up its lo";
	else if (nl_link_add_veth(RUN_CONTAINER_IFACE, RUN_IFACE, ns[NS_CAPTURE]) < 0)
		what = "make the veth pair " RUN_CONTAINER_IFACE "/" RUN_IFACE;
	else if (nl_link_set_up(RUN_CONTAINER_IFACE) < 0)
		what = "bring up " RUN_CONTAINER_IFACE;
	else if ((ns[NS_CONTAINER] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		what = "open the container's network namespace";
	if (what)
		snprintf(err, errlen, "cannot %s: %s", what, strerror(errno));
	return what ? -1 : 0;
}

int vmrun_maker_main(const char *kind)
{
	static const int quiet[] = { SIGINT, SIGHUP, SIGTERM, SIGPIPE, SIGUSR1, SIGUSR2 };
	int ns[NS_COUNT] = { -1, -1, -1 }, container = strcmp(kind, "container") == 0;
	char err[400];
	size_t i;

	/* a terminal's ^C or a reload's SIGHUP is for the daemon, which kills
	 * us if need be; we exit as soon as we have reported anyway */
	for (i = 0; i < ARRAY_SIZE(quiet); i++)
		signal(quiet[i], SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (userns_make(err, sizeof(err)) < 0) {
		report(RUN_REPORT_FD, EPERM, NULL, 0, "%s", err);
		return 1;
	}
	if (unshare(CLONE_NEWNET) < 0 || nl_link_set_up("lo") < 0) {
		report(RUN_REPORT_FD, errno, NULL, 0, "cannot make a network namespace: %s",
		       strerror(errno));
		return 1;
	}
	ns[NS_USER] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	ns[NS_CAPTURE] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns[NS_USER] < 0 || ns[NS_CAPTURE] < 0) {
		report(RUN_REPORT_FD, errno, NULL, 0, "cannot open the namespaces made: %s",
		       strerror(errno));
		return 1;
	}
	if ((container ? make_container_ns(ns, err, sizeof(err)) : make_tap(err, sizeof(err))) < 0) {
		report(RUN_REPORT_FD, EIO, NULL, 0, "%s", err);
		return 1;
	}
	/* the daemon holds them from here on */
	report(RUN_REPORT_FD, 0, ns, container ? 3 : 2, "ready");
	return 0;
}

/* exec_maker() - in the forked child: omnetd again, with nothing of the
 * daemon's but the report socket and the standard streams */
static void __attribute__((noreturn)) exec_maker(int sock, pid_t parent, int container)
{
	char lvl[16];
	char *argv[] = { "omnetd", VMRUN_MAKER_ARG, container ? "container" : "tap", lvl, NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	child_signals();
	snprintf(lvl, sizeof(lvl), "%d", log_verbosity());
	exec_self(sock, RUN_REPORT_FD, argv);
	report(RUN_REPORT_FD, errno, NULL, 0, "cannot run omnetd again (/proc/self/exe): %s",
	       strerror(errno));
	_exit(1);
}

static void exec_init(char *const *argv);

static void __attribute__((noreturn)) command_main(int sock, int out, pid_t parent,
						   const struct vmrun *r, char *const *argv)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int netfd = r->ns[r->container ? NS_CONTAINER : NS_CAPTURE];

	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	child_signals();
	/* its own process group, which the daemon signals as a whole; a
	 * terminal's ^C reaches the daemon, which then stops it */
	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
		report(sock, errno, NULL, 0, "cannot set up the command's standard streams: %s",
		       strerror(errno));
		_exit(1);
	}
	if (setns(r->ns[NS_USER], CLONE_NEWUSER) < 0 || setns(netfd, CLONE_NEWNET) < 0) {
		report(sock, errno, NULL, 0, "cannot join the network's namespaces: %s",
		       strerror(errno));
		_exit(1);
	}
	/* nothing of the daemon's passes to the command */
	if (fds_cloexec_above(2) < 0) {
		report(sock, errno, NULL, 0, "cannot close the daemon's descriptors: %s",
		       strerror(errno));
		_exit(1);
	}
	/* a PID namespace of its own: whatever the command starts, even in a
	 * session of its own, ends when it ends (vmrun_init_main()) */
	if (unshare(CLONE_NEWPID) < 0) {
		report(sock, errno, NULL, 0, "cannot make a PID namespace: %s", strerror(errno));
		_exit(1);
	}
	report(sock, 0, NULL, 0, "ready");
	exec_init(argv);
	fprintf(stderr, "omnetd: cannot run omnetd again (/proc/self/exe): %s\n", strerror(errno));
	_exit(127);
}

/* exec_init() - omnetd --run-init COMMAND [ARG]..., afresh */
static void exec_init(char *const *argv)
{
	size_t n = 0, i;
	char **v;

	while (argv[n])
		n++;
	v = calloc(n + 3, sizeof(*v));
	if (!v)
		return;
	v[0] = "omnetd";
	v[1] = VMRUN_INIT_ARG;
	for (i = 0; i < n; i++)
		v[i + 2] = argv[i];
	exec_self(-1, 0, v); /* our descriptors are all close-on-exec already */
	free(v);
}

/* ---- the command's PID namespace ------------------------------------------
 *
 * The daemon's child (the "outer" process, whose pid the daemon knows)
 * unshared a PID namespace and became omnetd --run-init.  It forks the
 * namespace's init, which forks the command.  The init forwards the signals
 * the daemon sends (an init takes only those it handles), reaps orphans,
 * and, when the command ends, exits: the kernel then kills whatever is
 * left in the namespace.  The command's wait status comes back to the outer
 * process on a pipe, and the outer process ends the same way, so the
 * daemon logs the command's own end. */

static volatile sig_atomic_t fwd_to;

static void forward_signal(int sig)
{
	if (fwd_to > 0)
		kill(fwd_to, sig);
}

static void forward_signals(pid_t to)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa;
	size_t i;

	fwd_to = to;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* wait_for() - its wait status; EINTR (a forwarded signal) is not an end */
static int wait_for(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 0x7f00; /* "exited 127" */
	return status;
}

/* pid1() - the namespace's init: the command, orphans reaped, its status
 * on fd; never returns */
static void __attribute__((noreturn)) pid1(int fd, char *const *argv)
{
	pid_t cmd, w;
	int status = 0x7f00;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	cmd = fork();
	if (cmd == 0) {
		close(fd);
		child_signals();
		execvp(argv[0], argv);
		fprintf(stderr, "omnetd: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (cmd > 0) {
		forward_signals(cmd);
		for (;;) {
			w = waitpid(-1, &status, 0);
			if (w == cmd || (w < 0 && errno != EINTR))
				break;
		}
	}
	if (write(fd, &status, sizeof(status)) != (ssize_t)sizeof(status))
		_exit(1);
	_exit(0);
}

int vmrun_init_main(char *const *argv)
{
	int pfd[2], status = 0x7f00;
	pid_t init;

	if (!argv[0] || pipe2(pfd, O_CLOEXEC) < 0)
		return 127;
	init = fork();
	if (init == 0) {
		close(pfd[0]);
		pid1(pfd[1], argv);
	}
	close(pfd[1]);
	if (init < 0) {
		fprintf(stderr, "omnetd: cannot start %s: fork: %s\n", argv[0], strerror(errno));
		return 127;
	}
	forward_signals(init);
	wait_for(init);
	if (read(pfd[0], &status, sizeof(status)) != (ssize_t)sizeof(status))
		status = 0x7f00;
	if (WIFSIGNALED(status)) {
		/* end as it ended: the daemon logs the command's signal */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

/* ---- in the daemon -------------------------------------------------------- */

/* await() - the child's report within RUN_READY_MS, with r's namespaces
 * if ns is set; -1 with err */
static int await(int fd, struct vmrun *r, int ns, char *err, size_t errlen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * NS_COUNT)];
		struct cmsghdr align;
	} c;
	struct run_report rep;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf) };
	int fds[NS_COUNT], want = !ns ? 0 : r->container ? 3 : 2;
	size_t nfds = 0, i;
	ssize_t n;

	if (fd_wait_readable(fd, RUN_READY_MS) < 0) {
		snprintf(err, errlen, "no answer from the network's namespace within %d ms",
			 RUN_READY_MS);
		return -1;
	}
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	/* whatever descriptors came are ours: kept if expected, else closed */
	if (n >= 0 && msg_take_fds(&mh, fds, NS_COUNT, &nfds) == 0 && n == (ssize_t)sizeof(rep) &&
	    !rep.error && nfds == (size_t)want) {
		for (i = 0; i < nfds; i++)
			r->ns[i] = fds[i];
		return 0;
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (n != (ssize_t)sizeof(rep))
		snprintf(err, errlen, "the network's namespace could not be made (see the log)");
	else if (rep.error) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		snprintf(err, errlen, "%s", rep.msg);
	} else
		snprintf(err, errlen, "the network's namespaces did not arrive");
	return -1;
}

/* spawn() - fork the maker (argv NULL) or the command, and wait for its
 * report; its pid, or -1 with err (a child that failed is killed, and
 * reaped with the others) */
static pid_t spawn(struct vmrun *r, char *const *argv, int out, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		if (argv)
			command_main(sv[1], out, parent, r, argv);
		exec_maker(sv[1], parent, r->container);
	}
	close(sv[1]);
	if (pid < 0)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	else if (argv)
		setpgid(pid, pid); /* before any signal to its group: either of us may be first */
	if (pid > 0 && await(sv[0], r, !argv, err, errlen) < 0) {
		kill(pid, SIGKILL);
		if (argv)
			r->pid = pid; /* reaped by SIGCHLD, as when it ends later */
		else
			r->maker = pid;
		pid = -1;
	}
	close(sv[0]);
	return pid;
}

static void close_ns(struct vmrun *r)
{
	size_t i;

	for (i = 0; i < NS_COUNT; i++) {
		if (r->ns[i] >= 0)
			close(r->ns[i]);
		r->ns[i] = -1;
	}
}

static void run_free(struct vmrun *r)
{
	TAILQ_REMOVE(&r->d->runs, r, entry);
	if (r->out_ev)
		event_free(r->out_ev);
	if (r->kill_ev)
		event_free(r->kill_ev);
	if (r->out_fd >= 0)
		close(r->out_fd);
	close_ns(r);
	free(r->cmd);
	free(r);
}

/* printable() - s as UTF-8 without control characters (which a terminal
 * reading the log would obey, or which would start a line of its own) */
static void printable(char *s)
{
	unsigned char *p = (unsigned char *)s;

	utf8_fix(s);
	for (; *p; p++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';
		else if ((p[0] < 0x20 && p[0] != '\t') || p[0] == 0x7f)
			p[0] = '?';
	}
}

/* may_log() - a token of the command's line rate, refilled as time passes */
static int may_log(struct vmrun *r)
{
	uint64_t now = clock_now_ms(), gained = (now - r->tokens_ms) * RUN_LOG_RATE / 1000;

	if (gained) {
		r->tokens = r->tokens + gained > RUN_LOG_BURST ? RUN_LOG_BURST : r->tokens + gained;
		r->tokens_ms += gained * 1000 / RUN_LOG_RATE;
	}
	if (!r->tokens)
		return 0;
	r->tokens--;
	return 1;
}

static void tell_unlogged(struct vmrun *r)
{
	if (!r->unlogged)
		return;
	log_warnx("network %s: %s: %" PRIu64 " lines of its output not logged (more than %d a "
		  "second)", r->idstr, r->cmd, r->unlogged, RUN_LOG_RATE);
	r->unlogged = 0;
}

static void log_line(struct vmrun *r)
{
	r->line[r->len] = '\0';
	r->len = 0;
	if (!may_log(r)) {
		r->unlogged++;
		return;
	}
	tell_unlogged(r);
	printable(r->line);
	log_info("network %s: %s: %s", r->idstr, r->cmd, r->line);
}

/* log_output() - the command's lines, as they come; a line longer than
 * RUN_LINE_MAX is logged in pieces, control characters as '?' */
static void log_output(struct vmrun *r, const char *buf, size_t n, int eof)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r')
			continue; /* a serial console's line ends */
		if (c == '\n') {
			log_line(r);
			continue;
		}
		if (r->len == RUN_LINE_MAX)
			log_line(r);
		r->line[r->len++] = c >= 0x20 || c == '\t' ? (char)c : '?';
	}
	if (eof && r->len)
		log_line(r);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct vmrun *r = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)what;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	log_output(r, buf, n > 0 ? (size_t)n : 0, n <= 0);
	if (n <= 0) {
		event_free(r->out_ev);
		r->out_ev = NULL;
		close(r->out_fd);
		r->out_fd = -1;
	}
}

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
	struct vmrun *r = arg;

	(void)fd;
	(void)what;
	if (r->pid) {
		log_warnx("network %s: %s (pid %d) did not stop within %d ms of SIGTERM: killed",
			  r->idstr, r->cmd, (int)r->pid, RUN_GRACE_MS);
		kill(-r->pid, SIGKILL);
	}
}

/* stop() - SIGTERM to the command's process group, SIGKILL when the grace
 * is over */
static void stop(struct vmrun *r)
{
	struct timeval tv = timeval_from_ms(RUN_GRACE_MS);

	if (!r->pid || r->kill_ev)
		return;
	log_info("network %s: stopping %s (pid %d)", r->idstr, r->cmd, (int)r->pid);
	kill(-r->pid, SIGTERM);
	r->kill_ev = evtimer_new(r->d->base, on_grace_over, r);
	if (r->kill_ev)
		evtimer_add(r->kill_ev, &tv);
}

static void log_end(struct vmrun *r, int status)
{
	if (WIFSIGNALED(status))
		log_info("network %s: %s (pid %d) was killed by signal %d", r->idstr, r->cmd,
			 (int)r->pid, WTERMSIG(status));
	else
		log_info("network %s: %s (pid %d) exited with status %d", r->idstr, r->cmd,
			 (int)r->pid, WEXITSTATUS(status));
}

/* command_ended() - log it, and delete the network unless --keep */
static void command_ended(struct vmrun *r, int status)
{
	char buf[4096];
	size_t drained = 0;
	ssize_t n;

	/* what it wrote last, before its end is logged; what its children
	 * still write comes through the output event */
	while (r->out_fd >= 0 && drained < RUN_DRAIN_MAX &&
	       (n = read(r->out_fd, buf, sizeof(buf))) > 0) {
		log_output(r, buf, (size_t)n, 0);
		drained += (size_t)n;
	}
	log_output(r, "", 0, 1);
	tell_unlogged(r);
	log_end(r, status);
	r->exited = 1;
	r->status = status;
	r->pid = 0;
	if (r->net && r->keep)
		log_info("network %s: kept (--keep); network delete removes it", r->idstr);
	else if (r->net)
		network_delete(r->net, 1); /* calls vmrun_network_deleted() */
}

/* reap() - collect whichever of its processes ended; free it when they
 * are gone and the network is too.  The only place a run is freed while
 * the daemon runs. */
static void reap(struct vmrun *r)
{
	siginfo_t si;
	int status;

	if (r->maker && waitpid(r->maker, &status, WNOHANG) == r->maker)
		r->maker = 0;
	memset(&si, 0, sizeof(si));
	if (r->pid && waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == r->pid) {
		/* what it left behind in its group goes with it, while its pid
		 * (the group's id) is still reserved by the zombie */
		kill(-r->pid, SIGKILL);
		if (waitpid(r->pid, &status, WNOHANG) == r->pid)
			command_ended(r, status);
	}
	if (!r->net && !r->pid && !r->maker)
		run_free(r);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct vmrun *r, *next;

	(void)sig;
	(void)what;
	for (r = TAILQ_FIRST(&d->runs); r; r = next) {
		next = TAILQ_NEXT(r, entry);
		reap(r);
	}
}

static void on_deferred_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	on_sigchld(SIGCHLD, 0, arg);
}

/* defer_reap() - reap outside whatever call is under way (a run may be
 * freed, and its caller may still hold it) */
static void defer_reap(struct daemon *d)
{
	struct timeval now = { 0, 0 };

	event_base_once(d->base, -1, EV_TIMEOUT, on_deferred_reap, d, &now);
}

static int watch_children(struct daemon *d)
{
	if (d->sig_chld)
		return 0;
	d->sig_chld = evsignal_new(d->base, SIGCHLD, on_sigchld, d);
	return d->sig_chld && event_add(d->sig_chld, NULL) == 0 ? 0 : -1;
}

/* start_command() - fork the command once the capture is up */
static int start_command(struct vmrun *r, char *const *argv, char *err, size_t errlen)
{
	int out[2];
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = spawn(r, argv, out[1], err, errlen);
	close(out[1]);
	if (pid < 0) {
		close(out[0]);
		return -1;
	}
	r->pid = pid;
	r->out_fd = out[0];
	evutil_make_socket_nonblocking(r->out_fd);
	r->out_ev = event_new(r->d->base, r->out_fd, EV_READ | EV_PERSIST, on_output, r);
	if (r->out_ev)
		event_add(r->out_ev, NULL);
	return 0;
}

static struct vmrun *run_new(struct daemon *d, const struct netid *id,
			     const struct vmrun_params *rp)
{
	struct vmrun *r = xcalloc(1, sizeof(*r));
	size_t i;

	r->d = d;
	r->out_fd = -1;
	for (i = 0; i < NS_COUNT; i++)
		r->ns[i] = -1;
	r->keep = rp->keep;
	r->container = rp->container;
	netid_fmt(id, r->idstr);
	r->cmd = xstrdup(rp->argv[0]);
	printable(r->cmd);
	r->tokens = RUN_LOG_BURST;
	r->tokens_ms = clock_now_ms();
	TAILQ_INSERT_TAIL(&d->runs, r, entry);
	return r;
}

/* abandon() - a run that did not start: its children are killed (by
 * spawn) and reaped as they end; it goes with the last of them */
static void abandon(struct vmrun *r)
{
	r->net = NULL;
	close_ns(r);
	if (r->pid)
		kill(-r->pid, SIGKILL);
	reap(r);
}

struct network *vmrun_add(struct daemon *d, const struct netid *id, const char *peer,
			  const struct vmrun_params *rp, char *err, size_t errlen)
{
	struct vmrun *r;
	struct network *n;
	char path[64];
	pid_t maker;

	if (d->privsep) {
		/* the command would run as the daemon's user, which owns the
		 * identity key and may use the control socket */
		snprintf(err, errlen, "--run is for a provider an ordinary user runs (rootless): "
			 "this one has a privileged helper, and the command would run as its user; "
			 "start the VM in a namespace and give --netns and --iface");
		return NULL;
	}
	if (watch_children(d) < 0) {
		snprintf(err, errlen, "cannot watch for the command's end");
		return NULL;
	}
	r = run_new(d, id, rp);
	maker = spawn(r, NULL, -1, err, errlen);
	if (maker < 0) {
		abandon(r);
		return NULL;
	}
	r->maker = maker; /* it exits by itself; SIGCHLD reaps it */
	/* a name for the namespace that this daemon's user (and so the capture
	 * helper it forks) may open: the descriptor we hold */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), r->ns[NS_CAPTURE]);
	n = network_add(d, id, peer, path, RUN_IFACE, NULL, err, errlen);
	if (n && start_command(r, rp->argv, err, errlen) < 0) {
		network_discard(n);
		n = NULL;
	}
	if (!n) {
		abandon(r);
		return NULL;
	}
	n->run = r;
	n->from_run = 1;
	r->net = n;
	log_info("network %s: running %s (pid %d) in %s", r->idstr, r->cmd, (int)r->pid,
		 r->container ? "a namespace of its own, its eth0 a veth to tap0"
			      : "the namespace of tap0");
	return n;
}

void vmrun_network_deleted(struct vmrun *r)
{
	r->net = NULL;
	close_ns(r);
	stop(r);
	/* freed by reap(), never here: a reap may be under way */
	defer_reap(r->d);
}

void vmrun_stop_all(struct daemon *d)
{
	uint64_t start = clock_now_ms(), now;
	struct vmrun *r;
	int killed = 0;

	TAILQ_FOREACH(r, &d->runs, entry) {
		if (r->net)
			r->net->run = NULL;
		r->net = NULL; /* the daemon deletes the networks itself */
		if (r->pid) {
			log_info("network %s: stopping %s (pid %d)", r->idstr, r->cmd, (int)r->pid);
			kill(-r->pid, SIGTERM);
		}
	}
	/* SIGTERM's grace, then SIGKILL's; a process that outlives both (in
	 * uninterruptible sleep) is left to init */
	while (!TAILQ_EMPTY(&d->runs) && (now = clock_now_ms()) - start < 2 * RUN_STOP_WAIT_MS) {
		on_sigchld(SIGCHLD, 0, d);
		if (!killed && now - start >= RUN_STOP_WAIT_MS) {
			TAILQ_FOREACH(r, &d->runs, entry)
				if (r->pid)
					kill(-r->pid, SIGKILL);
			killed = 1;
		}
		if (!TAILQ_EMPTY(&d->runs))
			usleep(10000);
	}
	while (!TAILQ_EMPTY(&d->runs))
		run_free(TAILQ_FIRST(&d->runs));
	if (d->sig_chld)
		event_free(d->sig_chld);
	d->sig_chld = NULL;
}

json_t *vmrun_json(const struct vmrun *r)
{
	json_t *o = json_pack("{s:b, s:b}", "container", r->container, "keep", r->keep);

	/* from JSON, so UTF-8; a null rather than no "run" at all if not */
	json_object_set_new(o, "command", json_string(r->cmd));
	json_object_set_new(o, "pid", r->pid ? json_integer(r->pid) : json_null());
	if (!r->exited)
		json_object_set_new(o, "state", json_string("running"));
	else if (WIFSIGNALED(r->status))
		json_object_set_new(o, "state", json_sprintf("killed by signal %d",
							      WTERMSIG(r->status)));
	else
		json_object_set_new(o, "state", json_sprintf("exited with status %d",
							      WEXITSTATUS(r->status)));
	return o;
}
