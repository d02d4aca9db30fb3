/* control.c: the control socket: one JSON object per line each way.
 *
 * Anyone who can connect is trusted with the daemon, so connecting is
 * limited twice: the socket's mode (0660) and SO_PEERCRED (root or our own
 * user).  A bad line gets an error reply; the connection stays usable.
 *
 * Even a trusted client must not be able to take the daemon down or eat
 * its memory by accident: requests run strictly one after another per
 * connection, always from the event loop (a deferred reply's completion
 * never runs the next request inside it); a client that half-closes still
 * gets every reply it is owed; one that reads nothing is not served past
 * CONTROL_OUTPUT_MAX of unread replies; at most CONTROL_CONNS_MAX clients
 * at once; and running out of descriptors pauses accepting instead of
 * spinning on a listening socket that stays readable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cmdschema.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "osutil.h"
#include "util.h"

#define CONTROL_CONNS_MAX 64         /* clients at once; more are told "busy" */
#define CONTROL_OUTPUT_MAX (1 << 20) /* replies unread: stop taking requests beyond */
#define ACCEPT_PAUSE_MS 1000         /* out of descriptors: accept again after */

struct conn {
	LIST_ENTRY(conn) entry;
	struct control *c;
	struct bufferevent *bev;
	struct event *resume;        /* queued lines, run from the event loop */
	int discarding;              /* inside an over-long line: skip to its end */
	int eof;                     /* the client shut its side: answer, then close */
	struct ctl_pending *pending; /* a reply still to come: later lines wait */
};

struct control {
	struct daemon *d;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event *ev;
	struct event *accept_pause;  /* accept() ran out of descriptors */
	LIST_HEAD(, conn) conns;
	size_t nconns;
	struct conn *current;        /* the connection whose request is running */
};

/* A reply promised by a handler that returned CTL_DEFERRED.  It outlives
 * its connection if the client goes away (cn becomes NULL): the handler's
 * owner still finishes it, and nothing is sent. */
struct ctl_pending {
	struct conn *cn;
};

static json_t deferred_marker;
json_t *const CTL_DEFERRED = &deferred_marker;

json_t *ctl_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	/* a value quoted with %.64s may end in half a character */
	utf8_fix(err->message);
	return NULL;
}

static void send_reply(struct conn *cn, json_t *reply)
{
	/* a reply that could not be made (no memory, a string not UTF-8)
	 * is still a reply: the client must not wait for one in vain */
	char *s = reply ? json_dumps(reply, JSON_COMPACT)
			: strdup("{\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":"
				 "\"the reply could not be made\"}}");

	if (s) {
		evbuffer_add(bufferevent_get_output(cn->bev), s, strlen(s));
		evbuffer_add(bufferevent_get_output(cn->bev), "\n", 1);
		free(s);
	}
	json_decref(reply);
}

static void send_error(struct conn *cn, const char *code, const char *msg)
{
	cn->c->d->ctr.control_errors++;
	send_reply(cn, json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message",
				 msg));
}

static const struct ctl_command *find_command(const char *name)
{
	const struct ctl_command *cmd;

	for (cmd = ctl_commands; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

/* role_bit() - the daemon's role as cmd_schemas[] names roles */
static unsigned role_bit(enum role r)
{
	switch (r) {
	case ROLE_PROVIDER:
		return CMD_ROLE_PROVIDER;
	case ROLE_CONSUMER:
		return CMD_ROLE_CONSUMER;
	case ROLE_RELAY:
	default:
		return CMD_ROLE_RELAY;
	}
}

/* run_command() - the request checked against its command's schema, then
 * handled; the result, CTL_DEFERRED, or NULL with err set */
static json_t *run_command(struct conn *cn, const char *name, json_t *req,
			   struct ctl_error *err)
{
	const struct cmd_schema *schema = cmd_schema_find(name);
	const struct ctl_command *cmd = find_command(name);
	json_t *result;

	if (!schema || !cmd)
		return ctl_fail(err, "unknown_command", "unknown command \"%.200s\"", name);
	if (ctl_schema_check(schema, role_bit(cn->c->d->role), req, err) < 0)
		return NULL;
	cn->c->current = cn;
	result = cmd->fn(cn->c->d, req, err);
	cn->c->current = NULL;
	return result;
}

static void handle_line(struct conn *cn, const char *line, size_t len)
{
	struct ctl_error err = { 0 };
	json_error_t jerr;
	json_t *req, *result;
	const char *name;
	char msg[300];

	cn->c->d->ctr.control_requests++;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(msg, sizeof(msg), "invalid JSON: %s (column %d)", jerr.text, jerr.column);
		send_error(cn, "bad_request", msg);
		return;
	}
	name = json_string_value(json_object_get(req, "cmd"));
	if (!json_is_object(req) || !name) {
		send_error(cn, "bad_request", "a request is an object with a string \"cmd\"");
	} else if (!(result = run_command(cn, name, req, &err))) {
		send_error(cn, err.code ? err.code : "internal", err.message);
	} else if (result != CTL_DEFERRED) { /* deferred: conn_ready() holds back what follows */
		send_reply(cn, json_pack("{s:b, s:o}", "ok", 1, "result", result));
	}
	json_decref(req);
}

static void conn_free(struct conn *cn)
{
	if (cn->pending)
		cn->pending->cn = NULL;
	LIST_REMOVE(cn, entry);
	cn->c->nconns--;
	event_free(cn->resume);
	bufferevent_free(cn->bev);
	free(cn);
}

struct ctl_pending *ctl_defer(struct daemon *d)
{
	struct conn *cn = d->control ? d->control->current : NULL;
	struct ctl_pending *p;

	if (!cn || cn->pending)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->cn = cn;
	cn->pending = p;
	return p;
}

/* ctl_pending_done() - the deferred reply goes out now; the lines queued
 * behind it run later from the event loop, never from inside the caller,
 * which may be in the middle of a completion (a mapping's callback) that
 * the next request could tear down */
void ctl_pending_done(struct ctl_pending *p, json_t *result, const struct ctl_error *err)
{
	struct conn *cn = p->cn;

	free(p);
	if (!cn) {
		json_decref(result);
		return;
	}
	cn->pending = NULL;
	if (result)
		send_reply(cn, json_pack("{s:b, s:o}", "ok", 1, "result", result));
	else
		send_error(cn, err && err->code ? err->code : "internal", err ? err->message : "");
	event_active(cn->resume, EV_TIMEOUT, 1);
}

/* conn_ready() - whether the next request may run: no reply pending before
 * it, and the client has not left a pile of replies unread */
static int conn_ready(struct conn *cn)
{
	return !cn->pending &&
	       evbuffer_get_length(bufferevent_get_output(cn->bev)) < CONTROL_OUTPUT_MAX;
}

/* next_line() - the next complete line; at EOF also a last one without
 * its LF.  NULL when there is none (yet). */
static char *next_line(struct conn *cn, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(cn->bev);
	size_t n = evbuffer_get_length(in);
	char *line = evbuffer_readln(in, len, EVBUFFER_EOL_LF);

	if (line || !cn->eof || n == 0 || n > CONTROL_LINE_MAX)
		return line;
	line = xmalloc(n + 1);
	evbuffer_remove(in, line, n);
	line[n] = '\0';
	*len = n;
	return line;
}

/* conn_process() - run the lines waiting, in order, while conn_ready();
 * then read more, or pause reading; after EOF, close once every reply owed
 * is written.  May free cn. */
static void conn_process(struct conn *cn)
{
	struct evbuffer *in = bufferevent_get_input(cn->bev);
	char *line;
	size_t len;

	while (conn_ready(cn) && (line = next_line(cn, &len))) {
		if (cn->discarding)
			cn->discarding = 0;
		else if (len > CONTROL_LINE_MAX) /* it came whole, with its LF */
			send_error(cn, "bad_request", "line longer than 65536 bytes");
		else if (len > 0)
			handle_line(cn, line, len);
		free(line);
	}
	if (conn_ready(cn) && evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		if (!cn->discarding)
			send_error(cn, "bad_request", "line longer than 65536 bytes");
		cn->discarding = 1;
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	if (cn->eof) {
		if (!cn->pending && evbuffer_get_length(in) == 0 &&
		    evbuffer_get_length(bufferevent_get_output(cn->bev)) == 0)
			conn_free(cn);
		return;
	}
	if (conn_ready(cn))
		bufferevent_enable(cn->bev, EV_READ);
	else
		bufferevent_disable(cn->bev, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

/* on_write() - replies drained to half the limit, or all written */
static void on_write(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg);
}

/* on_event() - a client that shuts its writing side (shutdown(SHUT_WR))
 * still gets every reply it is owed; one that is gone gets nothing */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *cn = arg;

	if (what & BEV_EVENT_ERROR) {
		conn_free(cn);
	} else if (what & BEV_EVENT_EOF) {
		cn->eof = 1;
		conn_process(cn);
	}
}

static struct conn *conn_new(struct control *c, struct bufferevent *bev)
{
	struct conn *cn = xcalloc(1, sizeof(*cn));

	cn->c = c;
	cn->bev = bev;
	cn->resume = event_new(c->d->base, -1, 0, on_resume, cn);
	LIST_INSERT_HEAD(&c->conns, cn, entry);
	c->nconns++;
	bufferevent_setwatermark(bev, EV_WRITE, CONTROL_OUTPUT_MAX / 2, 0);
	bufferevent_setcb(bev, on_read, on_write, on_event, cn);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return cn;
}

/* allowed() - root, or the user the daemon runs as */
static int allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	return cr.uid == 0 || cr.uid == geteuid();
}

/* refuse() - one error line, then close: the client learns why */
static void refuse(int fd, const char *line)
{
	if (write(fd, line, strlen(line)) < 0)
		log_debug("control: refusal not sent");
	close(fd);
}

/* accept_failed() - out of descriptors, the listening socket stays
 * readable: stop watching it for a while instead of spinning on it */
static void accept_failed(struct control *c, int e)
{
	struct timeval tv = timeval_from_ms(ACCEPT_PAUSE_MS);

	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	log_warnx("control: cannot accept a client: %s; pausing %d ms", strerror(e),
		  ACCEPT_PAUSE_MS);
	event_del(c->ev);
	evtimer_add(c->accept_pause, &tv);
}

static void on_accept_pause(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;

	event_add(c->ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		accept_failed(c, errno);
		return;
	}
	if (!allowed(fd)) {
		refuse(fd, "{\"ok\":false,\"error\":{\"code\":\"permission_denied\","
			   "\"message\":\"only root or the daemon's user may connect\"}}\n");
		return;
	}
	if (c->nconns >= CONTROL_CONNS_MAX) {
		c->d->ctr.control_errors++;
		refuse(fd, "{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"too many "
			   "control connections open (64): close one\"}}\n");
		return;
	}
	conn_new(c, bufferevent_socket_new(c->d->base, fd, BEV_OPT_CLOSE_ON_FREE));
}

/* remove_stale() - a socket file nobody listens on is left from a crash;
 * one somebody listens on means another daemon runs */
static int remove_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live = fd >= 0 && connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;

	if (fd >= 0)
		close(fd);
	if (live) {
		snprintf(err, errlen, "%s: another omnetd is listening there", sun->sun_path);
		return -1;
	}
	unlink(sun->sun_path);
	return 0;
}

static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
}

struct control *control_new(struct daemon *d, const char *path, char *err, size_t errlen)
{
	struct control *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	c->d = d;
	c->fd = -1;
	LIST_INIT(&c->conns);
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: control socket path too long", path);
		goto fail;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	snprintf(c->path, sizeof(c->path), "%s", path);
	make_parent(path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || remove_stale(&sun, err, errlen) < 0)
		goto fail;
	if (bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0660) < 0 ||
	    listen(c->fd, 16) < 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", path, strerror(errno));
		goto fail;
	}
	c->ev = event_new(d->base, c->fd, EV_READ | EV_PERSIST, on_accept, c);
	c->accept_pause = evtimer_new(d->base, on_accept_pause, c);
	event_add(c->ev, NULL);
	return c;
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (!LIST_EMPTY(&c->conns))
		conn_free(LIST_FIRST(&c->conns));
	event_free(c->ev);
	event_free(c->accept_pause);
	close(c->fd);
	unlink(c->path);
	free(c);
}

static void on_request_timeout(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* control_request() - a connection of its own over a socketpair-like
 * bufferevent pair, so the request takes the path a client's does */
char *control_request(struct daemon *d, const char *line, size_t len, uint64_t timeout_ms)
{
	struct timeval tv = timeval_from_ms(timeout_ms);
	struct bufferevent *pair[2];
	struct event *timer;
	struct conn *cn;
	char *reply = NULL;
	size_t n;
	int expired = 0;

	if (!d->control || bufferevent_pair_new(d->base, BEV_OPT_DEFER_CALLBACKS, pair) < 0)
		return NULL;
	cn = conn_new(d->control, pair[0]);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], line, len);
	bufferevent_write(pair[1], "\n", 1);
	timer = evtimer_new(d->base, on_request_timeout, &expired);
	evtimer_add(timer, &tv);
	while (!expired && !(reply = evbuffer_readln(bufferevent_get_input(pair[1]), &n,
						       EVBUFFER_EOL_LF)))
		event_base_loop(d->base, EVLOOP_ONCE);
	event_free(timer);
	conn_free(cn);
	bufferevent_free(pair[1]);
	return reply;
}
