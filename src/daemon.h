/* daemon.h: the objects a running omnetd is made of, and how they meet.
 *
 *   daemon ── mesh (the one UDP socket) ── sessions (DTLS + link core)
 *      │                                        │
 *      ├── peers (pinned keys, endpoints, connection state) ── session
 *      ├── networks (provider: a capture; consumer: accepted ids)
 *      │      └── flows (a socket on this side, a link flow to the peer)
 *      ├── forwards (consumer: a listening socket, a router mapping)
 *      └── control (the JSON socket)
 *
 * Ownership: the daemon owns peers, networks and the mesh; the mesh owns
 * sessions; a peer points at its current session; a network owns its
 * flows; a flow points at its session's link flow. */
#ifndef OMNET_DAEMON_H
#define OMNET_DAEMON_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "busypoll.h"
#include "config.h"
#include "identity.h"
#include "link.h"
#include "ring.h"

/* glibc's sys/queue.h lacks the BSD _SAFE iterators */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar) \
	for ((var) = TAILQ_FIRST((head)); (var) && ((tvar) = TAILQ_NEXT((var), field), 1); \
	     (var) = (tvar))
#endif

enum role { ROLE_PROVIDER, ROLE_CONSUMER, ROLE_RELAY };

struct mesh;
struct session;
struct peer;
struct network;
struct flow;
struct forward;
struct control;
struct capture;
struct policy;
struct egress_watch;
struct dtls_ctx;
struct privsep;

/* Counters an operator reads in `omnetctl status`. */
struct daemon_counters {
	uint64_t datagrams_received, datagrams_sent;
	uint64_t datagrams_malformed;       /* bad outer header or DTLS record */
	uint64_t datagrams_unknown_session;
	uint64_t datagrams_send_dropped;    /* socket buffer full even after waiting */
	uint64_t datagrams_blocked;         /* not sent: the peer is disconnected */
	uint64_t datagrams_relayed, relay_dropped_rate, relay_dropped_unknown;
	uint64_t handshakes_refused;        /* unpinned key or failed handshake */
	/* strangers (issue 13): what the per-source limits, the
	 * anti-amplification rule and the candidate filter turned away */
	uint64_t handshakes_refused_rate;   /* ClientHellos of a source over its rate */
	uint64_t handshakes_evicted_source; /* replaced by a newer one of the same source */
	uint64_t handshakes_evicted_global; /* replaced: all sources at the cap, this the busiest */
	uint64_t datagrams_unauthenticated; /* for a session, but no record authenticated */
	uint64_t path_sends_limited;        /* not sent: the address's allowance was spent */
	uint64_t candidates_filtered;       /* named by a peer or relay, or a source: refused */
	uint64_t candidates_evicted;        /* pushed out of a full candidate table */
	uint64_t relay_requests_refused;    /* relay: over the requests a peer may hold */
	uint64_t relay_requests_limited;    /* relay: over the rate a peer may send them */
	uint64_t dropped_deleted_network;   /* frames for a network deleted here */
	uint64_t network_deleted_unknown;   /* NETWORK_DELETED for no network of that peer */
	uint64_t relay_frames_ignored;   /* RELAY_* frames from who has no business sending them */
	uint64_t flows_unknown_network;
	uint64_t flows_refused_policy;
	uint64_t pings_refused_sysctl; /* no ping socket: net.ipv4.ping_group_range */
	uint64_t flows_refused_remote;      /* connect refused / unreachable */
	uint64_t flows_opened, flows_closed, flows_reset;
	uint64_t flows_refused_fds;         /* no file descriptors left for its socket */
	uint64_t accepts_paused;            /* a listener paused: descriptors ran out */
	uint64_t busy_polls;                /* busy polling found work: wake-ups saved */
	uint64_t busy_poll_us;              /* time spent busy polling */
	uint64_t control_requests, control_errors;
};

TAILQ_HEAD(peer_list, peer);
TAILQ_HEAD(network_list, network);
TAILQ_HEAD(flow_list, flow);
TAILQ_HEAD(forward_list, forward);
TAILQ_HEAD(vmrun_list, vmrun);

struct daemon {
	enum role role;
	struct config cfg;
	char config_path[4096];
	struct identity id;
	struct event_base *base;
	struct mesh *mesh;
	struct dtls_ctx *dtls;
	struct control *control;
	struct policy *policy;              /* consumer */
	struct egress_watch *egress_watch;  /* consumer: netlink feeds the policy */
	struct ipport resolver[4];          /* consumer: from resolv-conf */
	size_t nresolver;
	struct chunk_pool pool;             /* every ring's memory */
	struct link_config link_cfg;
	struct peer_list peers;
	struct network_list networks;
	struct forward_list forwards;       /* consumer: port forwards */
	struct flow_list pump;              /* flows with link bytes to write */
	struct relay *relay;                /* relay role: channels between peers */
	struct privsep *privsep;            /* provider: the helper that sets captures up */
	struct vmrun_list runs;             /* provider: commands of networks added with --run */
	struct event *sig_chld;             /* ... and how their end is seen */
	size_t ndown;                       /* peers an operator disconnected */
	struct netid *deleted;              /* networks deleted here: late frames dropped */
	size_t ndeleted;
	struct daemon_counters ctr;
	size_t flows_open;                  /* flows holding a socket, all networks */
	uint64_t fd_limit;                  /* RLIMIT_NOFILE */
	uint64_t started_ms;
	uint64_t refused_logged_ms;         /* the last report of rate-limited handshakes */
	uint64_t refused_logged;            /* ... and the count it reported up to */
	int quitting;
	uint64_t io_bytes;                  /* moved by the sockets: daemon_io() */
	struct busypoll bp;                 /* when the loop polls instead of sleeping */
	struct event *sig_term, *sig_int, *sig_hup, *sig_pipe;
	struct event *housekeeping;         /* once a second: timeouts */
};

const char *role_name(enum role r);
int role_parse(const char *s, enum role *r);

/* Setup and teardown of the whole daemon (daemon.c). */
int daemon_init(struct daemon *d, enum role role, const char *config_path, char *err,
		size_t errlen);
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);
/* daemon_save_state() - persist runtime peers, networks, forwards */
void daemon_save_state(struct daemon *d);
int daemon_reload(struct daemon *d, char *err, size_t errlen);
int daemon_network_is_deleted(const struct daemon *d, const struct netid *id);
/* daemon_flow_room() - a new flow may take a descriptor: below the
 * process's limit less a reserve; counts a refusal */
int daemon_flow_room(struct daemon *d);
/* daemon_pause_event() - a listener that ran out of descriptors rests for
 * ms instead of waking the loop at once, again and again */
void daemon_pause_event(struct daemon *d, struct event *ev, uint64_t ms);
void daemon_network_forget_deleted(struct daemon *d, const struct netid *id);

/* The link's callbacks meet the daemon here (flow.c): every flow the
 * peer opens, and every event on a flow, whatever the role. */
extern const struct link_cb daemon_link_cb;

/* daemon_io() - the sockets moved n bytes (a control event counts as
 * one): busy polling tells a light wake-up from a bulk one by this */
static inline void daemon_io(struct daemon *d, uint64_t n)
{
	d->io_bytes += n ? n : 1;
}

#endif
