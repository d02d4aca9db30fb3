/* control.c: the control socket: one JSON object per line each way.
 *
 * Anyone who can connect is trusted with the daemon, so connecting is
 * limited twice: the socket's mode (0660) and SO_PEERCRED (root or our own
 * user).  A bad line gets an error reply; the connection stays usable. */
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

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

struct conn {
	LIST_ENTRY(conn) entry;
	struct control *c;
	struct bufferevent *bev;
	int discarding;              /* inside an over-long line: skip to its end */
	struct ctl_pending *pending; /* a reply still to come: later lines wait */
};

struct control {
	struct daemon *d;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event *ev;
	LIST_HEAD(, conn) conns;
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

static void on_read(struct bufferevent *bev, void *arg);

json_t *ctl_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return NULL;
}

static void send_reply(struct conn *cn, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);

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

static void handle_line(struct conn *cn, const char *line, size_t len)
{
	struct ctl_error err = { 0 };
	const struct ctl_command *cmd;
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
	} else if (!(cmd = find_command(name))) {
		snprintf(msg, sizeof(msg), "unknown command \"%.200s\"", name);
		send_error(cn, "unknown_command", msg);
	} else if (cn->c->current = cn, result = cmd->fn(cn->c->d, req, &err),
		   cn->c->current = NULL, !result) {
		send_error(cn, err.code ? err.code : "internal", err.message);
	} else if (result == CTL_DEFERRED) {
		/* the reply comes later: keep later requests from overtaking it */
		bufferevent_disable(cn->bev, EV_READ);
	} else {
		send_reply(cn, json_pack("{s:b, s:o}", "ok", 1, "result", result));
	}
	json_decref(req);
}

static void conn_free(struct conn *cn)
{
	if (cn->pending)
		cn->pending->cn = NULL;
	LIST_REMOVE(cn, entry);
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
	bufferevent_enable(cn->bev, EV_READ);
	on_read(cn->bev, cn); /* lines that arrived meanwhile */
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while (!cn->pending && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		if (cn->discarding)
			cn->discarding = 0;
		else if (len > 0)
			handle_line(cn, line, len);
		free(line);
	}
	if (!cn->pending && evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		if (!cn->discarding)
			send_error(cn, "bad_request", "line longer than 65536 bytes");
		cn->discarding = 1;
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
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

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;
	struct conn *cn;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!allowed(fd)) {
		static const char deny[] = "{\"ok\":false,\"error\":{\"code\":\"permission_denied\","
					   "\"message\":\"only root or the daemon's user may connect\"}}\n";

		if (write(fd, deny, sizeof(deny) - 1) < 0)
			log_debug("control: denial not sent");
		close(fd);
		return;
	}
	cn = xcalloc(1, sizeof(*cn));
	cn->c = c;
	LIST_INSERT_HEAD(&c->conns, cn, entry);
	cn->bev = bufferevent_socket_new(c->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(cn->bev, on_read, NULL, on_event, cn);
	bufferevent_enable(cn->bev, EV_READ | EV_WRITE);
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
	close(c->fd);
	unlink(c->path);
	free(c);
}
