/* link.h: the reliable link between two daemons, as a pure state machine.
 *
 * One struct link per DTLS session.  It turns flows (byte streams for TCP,
 * datagrams for UDP) into link packets and back: packet numbers, batched
 * ACKs with ranges, RFC 9002 loss detection and probe timeouts, congestion
 * control and pacing, flow control per flow and per link, round-robin
 * scheduling.  It never touches a socket or a clock: the glue hands it
 * received packets and the time, asks it for packets to send, and arms
 * one timer at link_next_timer_us().  Everything unacknowledged stays in
 * the flows' rings, so a link that is cut and comes back resends it. */
#ifndef OMNET_LINK_H
#define OMNET_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "rangeset.h"
#include "ring.h"
#include "util.h"
#include "wire.h"

/* Windows both ends may assume before any WINDOW frame (docs/PROTOCOL.md). */
#define LINK_INITIAL_FLOW_WINDOW (256 * 1024)
#define LINK_INITIAL_LINK_WINDOW (16 * 1024 * 1024)
#define LINK_MAX_FRAMES 16
#define LINK_PKT_THRESHOLD 3       /* RFC 9002 kPacketThreshold */
#define LINK_PKT_THRESHOLD_MAX 16384 /* as far as a path was seen to reorder: at 2 Gbit/s, 10 ms of jitter is 1,800 packets */
#define LINK_TIME_THRESHOLD 9      /* eighths of an RTT: RFC 9002 kTimeThreshold */
#define LINK_TIME_THRESHOLD_MAX 16 /* two RTTs */
#define LINK_MIN_PACKET 1200
#define LINK_UNSENT_MAX (1 << 20)  /* bytes read but not yet sent, per flow */

/* What a peer can make a link hold beyond its windows, whatever it sends
 * (omnetd.conf(5), LIMITS).  Past a limit the frame is dropped (UDP) or
 * its flow refused with RESET (RST_RESOURCE), and counted. */
#define LINK_MAX_GROUPS 256                 /* networks on one link */
#define LINK_UNOPENED_MAX 4096              /* the peer's flows seen before their OPEN */
#define LINK_EARLY_STREAM_MAX (8u << 20)    /* their stream bytes, all together */
#define LINK_EARLY_DGRAM_MAX (256u << 10)   /* datagrams waiting for their OPEN */
#define DGRAM_EARLY_FLOW_MAX (64u << 10)    /* ... for one flow */
#define LINK_REASM_BYTES_MAX (1u << 20)     /* datagrams being reassembled */
#define LINK_PENDING_MAX 16384              /* control frames queued (RESET, CLOSE) */
#define LINK_GROUP_BUFFER_MIN (1u << 20)    /* a network's send share, at least */
#define LINK_SENT_MAX 32768                 /* packets in flight remembered */
#define LINK_GAPS_MAX 1024                  /* ranges of received bytes, per flow */
#define LINK_PN_RANGES_MAX 1024             /* ranges of packet numbers received */
#define LINK_ACK_LATE 16                    /* late arrivals an ACK makes sure to report */
#define LINK_GHOSTS_MAX 65536               /* flows reset, owed credit until their RESET */
#define DGRAM_REASM_RANGES_MAX 64           /* fragments' ranges, per datagram */

struct link_config {
	size_t max_packet;          /* plaintext bytes per packet */
	uint64_t max_ack_delay_us;  /* RFC 9000 max_ack_delay: 25 ms */
	uint64_t flow_window_max;   /* receive window autotuning cap, per flow */
	uint64_t link_window_max;   /* and per link */
	uint64_t send_buffer;       /* send ring limit per flow, bytes */
	uint64_t link_buffer;       /* all send rings of the link together */
	uint32_t max_flows;         /* flows open at once on the link, both sides' */
	uint32_t net_max_flows;     /* ... of one network */
	uint64_t dgram_max_age_us;  /* unacknowledged datagrams older than this are dropped */
	uint64_t dgram_queue_max;   /* bytes of datagrams queued per flow */
	uint64_t pto_max_us;        /* cap on the backed-off probe timeout */
	enum cc_algo cc;
	int opens_even;             /* this side numbers its flows 2, 4, 6... */
};

void link_config_default(struct link_config *c);

/* What held the sender back, in time.  Each link_send() ends in one of
 * these, and the time until the next call is counted under it; so over a
 * transfer the counts say where the time went (a link that is slow on a
 * good path shows it: the peer's windows, the socket, or nothing to send). */
enum link_limit {
	LINK_LIM_SENDING,     /* it sent a packet: the glue calls again at once */
	LINK_LIM_APP,         /* nothing to send: the flows' sockets gave nothing */
	LINK_LIM_CWND,        /* the congestion window is full */
	LINK_LIM_PACING,      /* the pacer holds the next packet */
	LINK_LIM_FLOW_WINDOW, /* data waits for the peer's flow windows */
	LINK_LIM_LINK_WINDOW, /* data waits for the peer's link window */
	LINK_LIM_SOCKET,      /* the glue could not send (link_limit_socket()) */
	LINK_LIM_N
};
const char *link_limit_name(enum link_limit lim);

struct link_stats {
	uint64_t limited_us[LINK_LIM_N];            /* time under each limit */
	uint64_t packets_sent, packets_received, packets_lost, packets_acked;
	uint64_t packets_duplicate, packets_malformed, packets_ack_only;
	uint64_t packets_spuriously_lost;           /* declared lost, then acknowledged */
	uint64_t packets_retransmitted;             /* carried resent data */
	uint64_t bytes_sent, bytes_received;        /* whole packets */
	uint64_t stream_bytes_sent, stream_bytes_retransmitted;
	uint64_t stream_bytes_received, stream_bytes_duplicate;
	uint64_t dgrams_sent, dgrams_received, dgrams_expired, dgrams_dropped_queue;
	uint64_t frames_violating;                  /* beyond windows or for wrong flows */
	uint64_t pto_count_total;
	uint64_t flows_opened_local, flows_opened_remote, flows_refused_limit;
	uint64_t flows_refused_unknown;             /* OPEN of a proto or kind we lack */
	uint64_t flows_refused_network;             /* the network's flow limit */
	uint64_t flows_refused_memory;              /* over its share of a spent pool */
	uint64_t flows_refused_early;               /* too much sent before the OPEN */
	uint64_t flows_refused_mismatch;            /* stream bytes, then an OPEN for UDP... */
	uint64_t flow_ids_refused;                  /* ids beyond what may be open */
	uint64_t dgrams_dropped_reasm;              /* reassembly memory spent */
	uint64_t control_dropped;                   /* control frames over LINK_PENDING_MAX */
	uint64_t ack_frames_ignored;                /* more than one ACK in a packet */
	uint64_t internal_errors;                   /* a should-not-happen, survived */
	uint64_t packets_forgotten;                 /* unacknowledged past LINK_SENT_MAX */
	uint64_t packets_unacked;                   /* held back: a frame was put off */
	uint64_t frames_deferred_memory;            /* ... for the link's receive memory */
	uint64_t frames_deferred_gaps;              /* ... for one range too many */
	uint64_t flow_windows_grown_at_edge;        /* the peer sent to a window's edge: it grew */
	uint64_t ghosts_dropped;                    /* past LINK_GHOSTS_MAX: credit lost */
};

struct link;
struct link_flow;

/* The glue's side: notifications from the core.  A flow passed to a
 * callback stays valid until link_flow_closed() or flow_gone() says so. */
struct link_cb {
	void *arg;
	/* the peer opened a flow (OPEN frame): accept with link_flow_accept(),
	 * refuse with link_flow_reset() */
	void (*flow_open)(void *arg, struct link_flow *f);
	/* the peer accepted a flow we opened (OPENED frame) */
	void (*flow_accepted)(void *arg, struct link_flow *f);
	/* in-order bytes (or the end of the stream) are ready, or datagrams */
	void (*flow_readable)(void *arg, struct link_flow *f);
	/* send space became free after the glue was refused some */
	void (*flow_writable)(void *arg, struct link_flow *f);
	/* the flow is finished (both directions closed) or was reset by the
	 * peer (reason != RST_NONE) or closed (UDP CLOSE); the core frees it
	 * right after this returns */
	void (*flow_gone)(void *arg, struct link_flow *f, uint64_t reason);
	/* a UDP datagram for a flow */
	void (*datagram)(void *arg, struct link_flow *f, const uint8_t *d, size_t len);
	/* the peer no longer processes this network */
	void (*network_deleted)(void *arg, const struct netid *net);
	/* PATH_CHALLENGE / PATH_RESPONSE / CANDIDATES / RELAY_* seen in a
	 * packet: the glue knows which path the packet came on */
	void (*path_frame)(void *arg, const struct wire_frame *f);
	/* a path MTU probe of this many plaintext bytes was acknowledged */
	void (*probe_acked)(void *arg, uint64_t pn, size_t size);
	/* for black-hole detection (pmtu.h): another packet we sent was
	 * acknowledged, or declared lost, or was the oldest in flight when a
	 * probe timeout fired; all optional */
	void (*packet_acked)(void *arg, uint64_t pn, size_t size);
	void (*packet_lost)(void *arg, uint64_t pn, size_t size);
	void (*packet_timeout)(void *arg, uint64_t pn, size_t size);
};


struct link *link_new(const struct link_config *cfg, const struct link_cb *cb,
		      struct chunk_pool *pool, uint64_t now_us);
void link_free(struct link *l);

/* Input: one decrypted packet.  Returns 0, or -1 if it was malformed. */
int link_recv(struct link *l, const uint8_t *pkt, size_t len, uint64_t now_us);
/* Output: writes the next packet into buf (cap >= max_packet) and returns
 * its length, or 0 when nothing may be sent now. */
size_t link_send(struct link *l, uint8_t *buf, size_t cap, uint64_t now_us);
/* link_next_timer_us() - when link_on_timer() must run (UINT64_MAX: never) */
uint64_t link_next_timer_us(const struct link *l, uint64_t now_us);
void link_on_timer(struct link *l, uint64_t now_us);
/* link_wants_send() - whether link_send() may have something right now */
int link_wants_send(const struct link *l, uint64_t now_us);

/* Flows.  The glue reads a flow through these; the rest is the core's. */
uint64_t link_flow_id(const struct link_flow *f);
uint8_t link_flow_proto(const struct link_flow *f);           /* WIRE_PROTO_* */
uint8_t link_flow_kind(const struct link_flow *f);            /* WIRE_DST_* */
const struct netid *link_flow_net(const struct link_flow *f);
const struct ipport *link_flow_src(const struct link_flow *f);
const struct ipport *link_flow_dst(const struct link_flow *f);
/* link_flow_app() - the glue's own object for the flow (NULL until set) */
void *link_flow_app(const struct link_flow *f);
void link_flow_set_app(struct link_flow *f, void *app);
/* link_flow_recv_held() - bytes received and held for the glue to read */
uint64_t link_flow_recv_held(const struct link_flow *f);

struct link_flow *link_flow_open(struct link *l, const struct netid *net, uint8_t proto,
				 uint8_t kind, const struct ipport *src, const struct ipport *dst);
void link_flow_accept(struct link_flow *f);
size_t link_flow_write(struct link_flow *f, const void *data, size_t len);
/* link_flow_reserve() - send space as iovecs, for a readv() straight from
 * a socket into the send ring; 0 iovecs when the ring is full (the flow
 * then gets flow_writable); link_flow_commit() takes the bytes read */
struct iovec;
size_t link_flow_reserve(struct link_flow *f, struct iovec *iov, size_t maxiov, size_t max);
void link_flow_commit(struct link_flow *f, size_t n);
size_t link_flow_send_space(const struct link_flow *f);
void link_flow_shutdown(struct link_flow *f);
/* link_flow_reset() - abort both directions; the flow is freed at once
 * (no flow_gone callback for a reset the glue asked for) */
void link_flow_reset(struct link_flow *f, uint64_t reason);
/* Reading: contiguous bytes at the read position, then consume them. */
size_t link_flow_peek(struct link_flow *f, const uint8_t **p);
void link_flow_consume(struct link_flow *f, size_t n);
/* link_flow_peek_iov() - the bytes ready to read, as up to maxiov pieces
 * (for a writev() straight from the receive ring); returns the count */
size_t link_flow_peek_iov(struct link_flow *f, struct iovec *iov, size_t maxiov);
/* link_flow_at_eof() - all bytes consumed and the peer sent FIN */
int link_flow_at_eof(const struct link_flow *f);
/* link_flow_eof_seen() - the glue acted on EOF; may complete the flow */
void link_flow_eof_seen(struct link_flow *f);
/* link_flow_drop() - forget a flow the peer opened without answering it
 * (a network deleted here: its frames are dropped, never answered) */
void link_flow_drop(struct link_flow *f);
/* UDP: queue one datagram; 0, or -1 if the queue is full (counted) */
int link_flow_send_dgram(struct link_flow *f, const void *data, size_t len, uint64_t now_us);
/* UDP: close the flow towards the peer (CLOSE frame) and free it */
void link_flow_close(struct link_flow *f);
struct link_flow *link_flow_find(struct link *l, uint64_t id);
/* link_flow_each() - visit every flow; the callback must not free flows */
void link_flow_each(struct link *l, void (*fn)(struct link_flow *f, void *arg), void *arg);
size_t link_flow_count(const struct link *l);

/* Control frames that belong to the link, not to a flow. */
void link_send_network_deleted(struct link *l, const struct netid *net);
void link_send_ping(struct link *l);
/* link_build_path_packet() - a packet holding only a PATH_CHALLENGE or
 * PATH_RESPONSE (and padding), for the glue to send on a specific path */
size_t link_build_path_packet(struct link *l, uint8_t type, const uint8_t data[8],
			      uint8_t *buf, size_t cap, uint64_t now_us);
/* link_build_mtu_probe() - a PING padded to size bytes (RFC 8899): not
 * counted against the congestion window, never resent; probe_acked()
 * reports it arrived.  Returns its length, 0 if it does not fit cap. */
size_t link_build_mtu_probe(struct link *l, size_t size, uint8_t *buf, size_t cap,
			    uint64_t now_us);
/* link_set_max_packet() - the path carries packets this large (it may
 * shrink: what was sent larger is resent in smaller packets, and a UDP
 * datagram's fragment cut for the larger size is dropped, as UDP would) */
void link_set_max_packet(struct link *l, size_t max);
size_t link_max_packet(const struct link *l);
/* link_next_pn() - the number the next packet will carry */
uint64_t link_next_pn(const struct link *l);
/* link_queue_frame() - an encoded frame for the next packet, sent once
 * (callers that need it to arrive send it again: soft state) */
int link_queue_frame(struct link *l, const uint8_t *frame, size_t len);
/* link_queue_candidates() - queue a CANDIDATES frame (replaces any queued) */
void link_queue_candidates(struct link *l, const uint8_t *method, const struct ipport *addr,
			   size_t n);

/* Observability. */
const struct link_stats *link_stats(const struct link *l);
/* link_limit_socket() - the glue had a packet for the link but the socket
 * took no more: the time until the next link_send() counts as that */
void link_limit_socket(struct link *l, uint64_t now_us);
const struct rtt *link_rtt(const struct link *l);
const struct cc *link_cc(const struct link *l);
uint64_t link_bytes_in_flight(const struct link *l);
uint64_t link_buffered_bytes(const struct link *l);
/* link_send_credit() - new stream bytes the peer's link window still allows */
uint64_t link_send_credit(const struct link *l);
/* link_recv_credit() - new stream bytes our link window still allows the
 * peer, as we count them */
uint64_t link_recv_credit(const struct link *l);
/* link_recv_window_end() - the link window we offer: the peer may send new
 * stream bytes until its count of them reaches this */
uint64_t link_recv_window_end(const struct link *l);
/* What one network holds on the link (for status). */
struct link_net_stats {
	uint64_t flows, send_buffered_bytes, receive_held_bytes, flows_refused;
};
/* link_network_stats() - 0 and *out, or -1 if the link carries no flow of net */
int link_network_stats(const struct link *l, const struct netid *net, struct link_net_stats *out);
/* link_usage() - bytes of the daemon's memory the link holds */
uint64_t link_usage(const struct link *l);
/* link_can_open() - a local flow of network net may be opened: the link
 * and the network are both below their flow limits */
int link_can_open(const struct link *l, const struct netid *net);
/* link_reordering() - the packet threshold of loss detection, which grows
 * to the reordering the path showed (LINK_PKT_THRESHOLD on a path that
 * never reordered) */
uint64_t link_reordering(const struct link *l);
/* link_last_recv_us() - when the last packet was received */
uint64_t link_last_recv_us(const struct link *l);
/* link_restart_path() - after a path change: reset RTT, congestion state
 * and the reordering thresholds, and resend everything unacknowledged
 * promptly (the new path may differ) */
void link_restart_path(struct link *l, uint64_t now_us);

#endif
