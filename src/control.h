/* control.h: the JSON control socket. */
#ifndef OMNET_CONTROL_H
#define OMNET_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct daemon;
struct control;

#define CONTROL_LINE_MAX 65536

struct control *control_new(struct daemon *d, const char *path, char *err, size_t errlen);
void control_free(struct control *c);
/* control_request() - for tests and fuzzing: one request line (len bytes,
 * no LF) handled as a client's would be, on a connection of its own with
 * no socket; runs the event loop until the reply comes, at most
 * timeout_ms.  The reply line without its LF (the caller frees it), or
 * NULL (no control, or no reply in time). */
char *control_request(struct daemon *d, const char *line, size_t len, uint64_t timeout_ms);

/* A command handler returns its result, or NULL with err set. */
struct ctl_error {
	const char *code;  /* bad_request, invalid_argument, not_found, ... */
	char message[512];
};

struct ctl_command {
	const char *name;  /* "peer.add" */
	json_t *(*fn)(struct daemon *d, json_t *req, struct ctl_error *err);
};

/* The handlers, by name; each name is an entry of cmd_schemas[]
 * (src/core/cmdschema.h), which says what a request must carry. */
extern const struct ctl_command ctl_commands[];

struct cmd_schema;
/* ctl_schema_check() - req against its command c, for a daemon of role
 * (a CMD_ROLE_* bit): wrong_role, bad_request for a field missing or of
 * the wrong type, invalid_argument for a value c's checks refuse; fields
 * c does not know are ignored, defaults are filled in.  0, or -1 with err
 * set. */
int ctl_schema_check(const struct cmd_schema *c, unsigned role, json_t *req,
		     struct ctl_error *err);
/* ctl_str() - a string field of a checked request; NULL when absent */
const char *ctl_str(json_t *req, const char *key);
/* ctl_port() - a port field of a checked request; 0 when absent */
uint16_t ctl_port(json_t *req, const char *key);

/* A handler that cannot answer yet (it waits on the network) takes a
 * pending reply with ctl_defer() and returns CTL_DEFERRED; later requests
 * on that connection wait until ctl_pending_done() sends the result (or,
 * with result NULL, the error) and frees the pending reply. */
struct ctl_pending;
extern json_t *const CTL_DEFERRED;
struct ctl_pending *ctl_defer(struct daemon *d);
void ctl_pending_done(struct ctl_pending *p, json_t *result, const struct ctl_error *err);
json_t *ctl_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
