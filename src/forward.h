/* forward.h: port forwards on the consumer.
 *
 * A rule exposes a VM port on the consumer's network: the consumer
 * listens on the external port (TCP) or receives on it (UDP), and each
 * connection or UDP client becomes a flow it opens towards the provider
 * (OPEN kind WIRE_DST_VM), which connects inside the capture namespace to
 * the VM's leased address with the client's own address as the source.
 * A rule may also ask the consumer's router to forward the port to it
 * (portmap.c).  Rules outlive their network: one whose network is gone is
 * kept and reported inactive. */
#ifndef OMNET_FORWARD_H
#define OMNET_FORWARD_H

#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "util.h"

struct daemon;
struct flow;
struct portmap;
struct event;

struct ctl_pending;

struct forward {
	TAILQ_ENTRY(forward) entry;
	struct daemon *d;
	struct netid net;
	char netstr[NETID_HEXLEN + 1];
	uint8_t proto;            /* WIRE_PROTO_TCP or WIRE_PROTO_UDP */
	uint16_t external_port, vm_port;
	int map;                  /* enum config_map */
	int from_config;
	int fd;                   /* listening (TCP) or receiving (UDP) socket; -1: none */
	struct event *ev;
	char error[256];          /* why the socket is not open */
	uint64_t retry_at_ms;     /* next attempt to open it */
	struct portmap *pm;       /* the router mapping, if one is asked for */
	struct ctl_pending *pending; /* forward.add waiting for the first mapping */
	TAILQ_HEAD(, flow) flows; /* its flows; for UDP, a flow per client address */
	uint64_t connections;     /* accepted connections or new UDP clients */
	uint64_t refused;         /* turned away: no network, no link, flow limit */
};

/* forward_add() - a rule; NULL with err (and errcode, a control error
 * code) if it cannot be made.  With must_listen, a port that cannot be
 * opened is an error; without (restoring saved rules), the rule is kept
 * with the reason. */
struct forward *forward_add(struct daemon *d, const struct netid *net, uint8_t proto,
			    uint16_t external_port, uint16_t vm_port, int map, int from_config,
			    int must_listen, const char **errcode, char *err, size_t errlen);
struct forward *forward_find(struct daemon *d, uint8_t proto, uint16_t external_port);
/* forward_add_config() - the [forward] rules of the configuration */
void forward_add_config(struct daemon *d);
/* forward_housekeeping() - retry sockets that could not be opened */
void forward_housekeeping(struct daemon *d, uint64_t now_ms);
/* forward_free_all() - at shutdown: every rule, mappings deleted */
void forward_free_all(struct daemon *d);
/* forward_flow_accepted() - the provider connected to the VM: start
 * carrying the client's bytes */
void forward_flow_accepted(struct flow *f);
/* forward_remove() - close, drop its router mapping and its flows' sockets */
void forward_remove(struct forward *fw);
json_t *forward_json(const struct forward *fw);
/* forward_added_json() - forward.add's result: the rule and its mapping */
json_t *forward_added_json(const struct forward *fw);
/* forward_flow_gone() - a flow of the rule ends (flow.c) */
void forward_flow_gone(struct flow *f);
const char *forward_map_name(int map);
int forward_map_parse(const char *s);

#endif
