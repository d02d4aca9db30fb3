/* cmdschema.h: every control command, its fields and how each is checked,
 * in one table (cmd_schemas[]) that omnetd and omnetctl both read.
 *
 * omnetd walks a request against its command's entry before the handler
 * runs (src/ctl_schema.c): a missing or mistyped field is bad_request, a
 * value its check refuses is invalid_argument, both naming the field.
 * omnetctl builds its command line from the same entry (words, options,
 * positional arguments) and runs the same checks before it sends, so a
 * typo is caught with the message the daemon would give.  The checks here
 * are pure: strings in, NULL or what was expected out.  The wire format
 * of every command is docs/CONTROL.md. */
#ifndef OMNET_CMDSCHEMA_H
#define OMNET_CMDSCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define CMD_FIELDS_MAX 8
#define CMD_ARGV_MAX 256   /* words of a CMD_ARGV field */

/* The JSON type a field has in a request. */
enum cmd_type {
	CMD_STRING, /* a string */
	CMD_INT,    /* an integer; its check sees it in decimal */
	CMD_LIST,   /* an array of strings; the option may be repeated */
	CMD_BOOL,   /* true or false; omnetctl's option takes no value */
	CMD_ARGV,   /* an array of strings: a command line, which omnetctl takes
		     * whole after its option and `--` (network add --run) */
};

#define CMDF_REQUIRED 0x1 /* absent or null: bad_request */
#define CMDF_FOLD 0x2	  /* omnetctl folds it to lower case (hex digits, keywords) */

/* The roles a command is for, a bit each. */
#define CMD_ROLE_PROVIDER 0x1
#define CMD_ROLE_CONSUMER 0x2
#define CMD_ROLE_RELAY 0x4
#define CMD_ROLES_ALL (CMD_ROLE_PROVIDER | CMD_ROLE_CONSUMER | CMD_ROLE_RELAY)

/* A check: NULL when s is acceptable, else what was expected ("expected a
 * port number 1..65535"), a constant string. */
typedef const char *(*cmd_check_fn)(const char *s);

/* One request field.  meta is NULL for a field omnetctl never sends. */
struct cmd_field {
	const char *key;      /* the request field: "external_port" */
	enum cmd_type type;
	int flags;	      /* CMDF_* */
	cmd_check_fn check;   /* the value, or each element of a list; NULL: any */
	size_t max_items;     /* CMD_LIST: at most this many; 0: no limit */
	const char *dflt;     /* a string sent (omnetctl) and assumed (omnetd) when absent */
	const char *flag;     /* omnetctl's option, "--endpoint"; NULL: positional */
	const char *meta;     /* what the value is, for help and messages: "ADDR[:PORT]" */
};

/* One command.  Its handler (src/ctl_cmds.c) and its printer
 * (src/omnetctl.c) are found by name. */
struct cmd_schema {
	const char *name;     /* "forward.add": omnetctl's words joined by a dot */
	unsigned roles;	      /* CMD_ROLE_* it runs on; others get wrong_role */
	const char *role_msg; /* the wrong_role message */
	const char *pair[2];  /* two fields given together or not at all */
	const char *args;     /* omnetctl --help: the arguments */
	const char *about;    /* omnetctl --help: what it does */
	const char *done;     /* omnetctl's confirmation; {field} is that request field */
	struct cmd_field fields[CMD_FIELDS_MAX];
};

extern const struct cmd_schema cmd_schemas[];
extern const size_t cmd_schemas_count;

/* cmd_schema_find() - the command named name ("peer.add"), or NULL */
const struct cmd_schema *cmd_schema_find(const char *name);
/* cmd_schema_nfields() - how many fields c has */
size_t cmd_schema_nfields(const struct cmd_schema *c);

/* The checks: NULL when fine, else what was expected. */
const char *cmd_check_name(const char *s);	  /* a peer name: [A-Za-z0-9._-]{1,63} */
const char *cmd_check_iface(const char *s);	  /* an interface name the kernel and nft take */
const char *cmd_check_netns(const char *s);	  /* a namespace name or path, no control chars */
const char *cmd_check_netid(const char *s);	  /* 32 hex digits */
const char *cmd_check_fingerprint(const char *s); /* sha256: and 64 hex digits */
const char *cmd_check_port(const char *s);	  /* 1..65535 in decimal */
const char *cmd_check_proto(const char *s);	  /* tcp or udp */
const char *cmd_check_policy_proto(const char *s); /* tcp, udp or icmp */
const char *cmd_check_map(const char *s);	  /* none, upnp, natpmp, pcp or auto */
const char *cmd_check_endpoint(const char *s);	  /* ADDR[:PORT], [IPV6][:PORT] */
const char *cmd_check_destination(const char *s); /* what policy.check judges */

/* cmd_parse_destination() - "ADDR", "ADDR:PORT", "[ADDR]:PORT", "[ADDR]"
 * or a bare IPv6 address into *a; *has_port says whether a port was
 * given.  0, or -1 when s is none of those. */
int cmd_parse_destination(const char *s, struct ipport *a, int *has_port);

#endif
