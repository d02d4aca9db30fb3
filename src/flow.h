/* flow.h: one VM connection (TCP) or conversation (UDP), as the daemon
 * holds it: a socket on this side, a link flow to the peer.
 *
 * The bytes are pumped both ways with backpressure: a flow stops reading
 * its socket while the link's send ring is full, and stops taking from the
 * link while the socket is full, so the peer's window closes and the far
 * socket stops being read. */
#ifndef OMNET_FLOW_H
#define OMNET_FLOW_H

#include <stdint.h>
#include <sys/queue.h>

#include "tcpraw.h"
#include "util.h"

struct network;
struct session;
struct link_flow;
struct event;

enum flow_state {
	FLOW_PENDING,  /* provider: SYN held; consumer: connecting */
	FLOW_OPEN,
	FLOW_CLOSING,  /* link side done, flushing the socket */
};

struct flow {
	TAILQ_ENTRY(flow) entry;     /* in the network's list */
	struct network *net;
	struct session *sess;
	struct link_flow *lf;        /* NULL once the link side is gone */
	uint8_t proto, kind;
	struct ipport vm, remote;    /* VM side, far side */
	enum flow_state state;
	uint64_t created_ms;
	uint64_t bytes_up, bytes_down; /* VM to remote, remote to VM */
	/* TCP */
	int tcp_fd;                  /* -1 until attached or connecting */
	struct event *rd_ev;         /* input side: readv() into the send ring */
	struct event *wr_ev;         /* the connect's outcome, then a full socket */
	unsigned read_paused : 1;    /* the send ring was full */
	unsigned sock_eof : 1;       /* the socket reached EOF */
	unsigned shut_sent : 1;      /* link_flow_shutdown() done */
	unsigned shut_wr : 1;        /* shutdown(SHUT_WR) done on the socket */
	unsigned link_finished : 1;  /* the link flow is complete */
	unsigned in_pump : 1;        /* inside to_socket(): do not free */
	/* UDP */
	int udp_fd;
	struct event *udp_ev;
	uint64_t last_active_ms;
	uint16_t echo_seq;           /* provider, ICMP: the VM's last echo's sequence number */
	/* provider: the VM's SYN, until the peer has connected */
	struct syn_info *syn;
	unsigned syn_passed : 1;     /* provider: the SYN was let through, not accepted yet */
	/* link bytes waiting to be written: pumped once per receive batch */
	TAILQ_ENTRY(flow) pump_entry;
	unsigned pump_queued : 1;
	/* capture tables (tuple -> flow) */
	uint64_t hkey;
	struct flow *hnext;
	/* consumer: a port forward's flow */
	struct forward *fwd;
	TAILQ_ENTRY(flow) fwd_entry;
	int held_fd;                 /* TCP: accepted, not read until OPENED */
	unsigned udp_shared : 1;     /* UDP: udp_fd is the rule's; replies go by sendto() */
};

struct flow *flow_new(struct network *net, struct session *s, struct link_flow *lf,
		      uint8_t proto, uint8_t kind, const struct ipport *vm,
		      const struct ipport *remote);
/* flow_drop_socket() - a connect that failed gives up its socket (and its
 * events), so that the flow may connect again elsewhere */
void flow_drop_socket(struct flow *f);
/* flow_attach_tcp() - the local socket is connected: start pumping */
int flow_attach_tcp(struct flow *f, int fd);
/* flow_connect_tcp() - a non-blocking connect on fd (-1: a new socket);
 * the flow waits in FLOW_PENDING until egress_connected() or
 * egress_failed().  The consumer connects to destinations, the provider to
 * the VM for a port forward. */
int flow_connect_tcp(struct flow *f, int fd, const struct sockaddr *to, socklen_t tolen,
		     uint64_t timeout_ms);
void flow_connected(struct flow *f);
/* flow_reset_reason() - the RESET reason (RST_*) that says what errno err
 * says to the other side */
uint64_t flow_reset_reason(int err);
/* flow_pump() - move what the link holds to the socket (after attach) */
void flow_pump(struct flow *f);
/* flow_start() - after attach, outside the link's callbacks: move what the
 * link holds to the socket, then read what the socket already holds.  A
 * client writes its request right behind the handshake's last ACK, and
 * waiting for the loop to report it would cost a wake-up per connection.
 * The flow may be freed on return. */
void flow_start(struct flow *f);
/* flow_attach_udp() - a connected UDP socket for the flow's replies */
void flow_attach_udp(struct flow *f, int fd);
/* flow_udp_from_vm() - a datagram the VM sent (provider) */
void flow_udp_send(struct flow *f, const uint8_t *d, size_t len);
/* flow_abort() - reset both ways (local socket and link) and free */
void flow_abort(struct flow *f, uint64_t reason);
/* flow_link_lost() - the session ended: reset the socket, free */
void flow_link_lost(struct flow *f);
/* flow_check_idle() - UDP idle timeout; returns 1 if the flow was freed */
int flow_check_idle(struct flow *f, uint64_t now_ms);
const char *flow_state_name(const struct flow *f);
/* flow_pump_pending() - write what arrived for every flow marked during
 * this batch; called before the link sends, once per event-loop turn */
struct daemon;
void flow_pump_pending(struct daemon *d);

#endif
