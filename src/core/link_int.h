/* link_int.h: the link core's own structures, shared by its files and
 * nobody else: link.c (flows, streams, reading packets), link_send.c
 * (building packets), link_sent.c (the sent-packet record and ACKs), link_loss.c (loss
 * detection, probe timeouts), link_dgram.c (UDP datagrams) and
 * link_sched.c (networks: limits, shares and round-robin scheduling).  The glue sees only link.h. */
#ifndef OMNET_LINK_INT_H
#define OMNET_LINK_INT_H

#include "idmap.h"
#include "link.h"

/* A flow, as the core keeps it.  The glue reads what it needs through
 * link.h's accessors (link_flow_id(), link_flow_proto()...). */
struct link_flow {
	uint64_t id;
	struct link *link;
	void *app;
	uint8_t proto;
	uint8_t kind;             /* WIRE_DST_* */
	struct netid net;
	struct ipport src, dst;
	unsigned local : 1;       /* opened by this side */
	unsigned have_open : 1;   /* OPEN received (remote) or sent (local) */
	unsigned accepted : 1;    /* OPENED seen (local) or sent (remote) */
	unsigned open_acked : 1;  /* our OPEN reached the peer */
	unsigned need_open : 1, need_opened : 1, need_window : 1;
	unsigned fin_queued : 1, fin_sent : 1, fin_acked : 1, fin_retx : 1;
	unsigned want_write : 1;  /* the glue was refused send space */
	unsigned rcv_fin : 1;     /* FIN offset known */
	unsigned fin_read : 1;    /* the glue has seen the end of the stream */
	unsigned scheduled : 1, ctl_queued : 1;
	unsigned early_stream : 1; /* stream bytes came before the OPEN */
	unsigned early_dgram : 1;  /* datagrams came before the OPEN */
	unsigned unopened : 1;     /* the peer's, named before its OPEN (counted) */
	unsigned credit_listed : 1; /* waits for link-level credit */
	struct link_flow *cb_prev, *cb_next;
	struct link_group *group; /* its network on this link, once open */
	/* send side */
	struct ring snd;          /* bytes from the lowest unacknowledged to the last written */
	uint64_t snd_next;        /* first byte never sent */
	uint64_t snd_max;         /* peer's window */
	struct rangeset snd_acked, snd_retx;
	/* receive side */
	struct ring rcv;          /* bytes from the next to deliver up */
	struct rangeset rcv_have;
	uint64_t rcv_max;         /* our advertised window */
	uint64_t rcv_window;
	uint64_t rcv_fin_off;
	uint64_t rcv_window_at_us;
	uint64_t rcv_edge_at_us;  /* when the window last grew at its edge */
	/* datagrams */
	struct dgram_queue *dq;
	struct dgram_reasm *dr;
	/* scheduling lists */
	struct link_flow *sched_prev, *sched_next;
	struct link_flow *ctl_prev, *ctl_next;
	/* accounting for people */
	uint64_t tx_bytes, rx_bytes;
};

/* What a sent packet carried, enough to act on its ack or its loss. */
struct sent_frame {
	uint8_t type;
	uint8_t fin;
	uint16_t len;  /* STREAM/DATAGRAM bytes */
	uint32_t aux;  /* RESET reason */
	uint64_t flow;
	uint64_t off;  /* STREAM offset, DATAGRAM record id, WINDOW value, RESET final */
};

enum { SP_FREE, SP_INFLIGHT, SP_ACKED, SP_LOST };

struct sent_pkt {
	uint64_t pn;
	uint64_t sent_us;
	uint32_t size;
	uint8_t state;
	uint8_t ack_eliciting;
	uint8_t nframes;
	uint8_t app_limited;
	uint8_t window_limited;   /* sent while the peer's flow control held data back */
	uint8_t mtu_probe;        /* a path MTU probe: outside congestion control */
	uint8_t has_ack;          /* carried an ACK frame ... */
	uint64_t ack_largest;     /* ... acknowledging up to this packet number */
	/* delivery rate estimation: the link's delivered count when it left */
	uint64_t delivered, delivered_us, first_sent_us;
	struct sent_frame f[LINK_MAX_FRAMES];
};

/* A link-level control frame waiting to be (re)sent. */
struct pending_ctl {
	uint8_t type; /* WF_RESET, WF_CLOSE, WF_NETWORK_DELETED */
	uint64_t flow;
	uint64_t reason, final;
	struct netid net;
};

/* UDP: datagram fragments waiting for an ack, in order of queueing. */
enum { DG_QUEUED, DG_SENT, DG_ACKED, DG_LOST, DG_DROPPED };

struct dgram_rec {
	uint64_t seq;
	uint64_t off;     /* in the queue's ring */
	uint32_t len, total, frag;
	uint8_t state;
	uint64_t queued_us;
};

struct dgram_queue {
	struct ring data;
	struct dgram_rec *r;
	size_t cap, n;    /* circular, cap a power of 2 */
	uint64_t head_rid; /* record id of r[head] */
	size_t head;
	uint64_t next_seq;
	size_t sendable;  /* records QUEUED or LOST */
};

/* UDP receive side: duplicate filter and reassembly of fragments. */
#define DGRAM_REASM_SLOTS 32 /* datagrams being reassembled at once */
#define DGRAM_SEEN_WINDOW 1024 /* datagrams: resends can lag this far behind */
struct dgram_reasm {
	uint64_t max_seq;
	uint64_t seen[DGRAM_SEEN_WINDOW / 64]; /* bit seq % window: delivered */
	int have_seq;
	struct ring early;       /* datagrams that overtook the OPEN: [len:2][data] */
	struct {
		int used;
		uint64_t seq;
		uint32_t total, got;
		uint64_t at_us;          /* its first fragment arrived then */
		struct rangeset have;
		uint8_t *buf;
	} slot[DGRAM_REASM_SLOTS];
};

/* A network on the link (link_sched.c). */
struct link_group {
	struct netid net;
	struct link_flow *head, *tail; /* its flows with something to send */
	struct link_group *next;       /* in the round */
	int in_round;
	int buffer_full;               /* a flow was refused for its share */
	uint32_t nflows;               /* open flows */
	uint64_t snd_buffered;         /* bytes in its flows' send rings */
	uint64_t rcv_held;             /* received, not consumed yet */
	uint64_t refused;              /* flows refused at its limit */
};

struct link {
	struct link_config cfg;
	struct link_cb cb;
	struct chunk_pool *pool;
	uint64_t now_us;

	/* sent packets, indexed by packet number */
	struct sent_pkt *sp;
	size_t sp_cap;
	uint64_t sp_first, next_pn;
	uint64_t path_first_pn; /* the first packet sent since the path last restarted */
	uint64_t largest_acked;
	int have_acked;
	uint64_t last_eliciting_us;
	uint64_t loss_time_us;
	uint64_t pkt_threshold;   /* RFC 9002 6.1.1: 3, raised by spurious losses */
	unsigned time_threshold;  /* in eighths of an RTT: 9, raised likewise */
	int building_retx;        /* the packet being built resends data */
	unsigned pto_count;
	unsigned probes;
	uint64_t pace_at_us;     /* data waits for the pacer until then */

	/* received packets */
	struct rangeset rcv_pns;
	uint64_t rcv_floor;      /* below this: treated as duplicates */
	uint64_t rcv_largest, rcv_largest_us;
	/* packets that arrived late (below rcv_largest), newest last: the
	 * next ACKs report their ranges even when more than an ACK frame's
	 * ranges lie above them (put_ack) */
	uint64_t rcv_late[LINK_ACK_LATE];
	unsigned rcv_late_n, rcv_late_next;
	int have_rcv;
	unsigned ack_pending;    /* ack-eliciting packets not yet acknowledged */
	uint64_t ack_deadline_us;
	int ack_now;
	uint64_t last_recv_us;

	struct rtt rtt;
	struct cc cc;
	/* delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation) */
	uint64_t delivered, delivered_us, first_sent_us;
	uint64_t app_limited_until;  /* 0, or delivered count that ends the lull */
	uint64_t window_limited_until; /* likewise, data held by the peer's windows */
	struct rate_sample rs;       /* being built for the current ACK frame */
	uint64_t rs_send_elapsed, rs_ack_elapsed;

	/* link-level flow control, cumulative stream bytes */
	uint64_t snd_data, snd_max_data;
	uint64_t rcv_data, rcv_consumed, rcv_max_data, rcv_window, rcv_window_at_us;
	int writers_unblocked;    /* a waiting flow's unsent bytes fell to half */
	int need_link_window;

	/* flows */
	struct idmap flows;
	size_t nflows;               /* every flow struct: open, or named before its OPEN */
	size_t nlive;                /* open flows (in a group) */
	size_t nunopened;            /* the peer's flows seen before their OPEN */
	uint64_t next_local_id, next_remote_id;
	struct rangeset remote_pending; /* ids (>> 1) implied by a higher one, never seen */
	uint64_t npending;           /* how many */
	struct link_group **groups;  /* the networks it carries (link_sched.c) */
	size_t ngroups, groups_cap;
	struct link_group *round_head, *round_tail; /* groups with flows to send */
	size_t nsched;               /* flows in the groups' turns */
	struct link_group nogroup;   /* flows sending before they have a network */
	struct link_flow *ctl_head, *ctl_tail;
	struct link_flow *reap;  /* freed at the end of the current entry point */
	int depth;               /* entry point nesting */

	uint64_t snd_buffered;       /* bytes in all send rings */
	uint64_t snd_unsent;         /* ... written by the glue, never sent yet */
	enum link_limit limit;       /* what the last link_send() ended in ... */
	uint64_t limit_since_us;     /* ... and when */
	int buffer_full;             /* a flow was refused for the link's cap */
	/* what the peer makes us hold, as memory: a byte takes a chunk */
	size_t rcv_chunks;           /* of every flow's receive ring */
	size_t early_chunks;         /* ... of flows not open yet */
	size_t early_dgram_chunks;   /* datagrams waiting for their OPEN */
	uint64_t reasm_bytes;        /* datagrams being reassembled */
	uint64_t reasm_sweep_us;     /* the last look for stale reassembly */
	int unack;                   /* the packet being read is not to be acknowledged */
	struct idmap ghosts;         /* flows with no state here, owed credit (struct ghost) */
	size_t nghosts;
	struct link_flow *cb_head, *cb_tail; /* flows waiting for link credit */

	struct pending_ctl *pend;
	size_t pend_head, npend, pend_cap; /* [pend_head, npend) wait to be sent */
	int ping_pending;
	uint8_t oneshot[1024];       /* encoded frames to send once */
	size_t noneshot;
	uint8_t cand_method[WIRE_MAX_CANDIDATES];
	struct ipport cand_addr[WIRE_MAX_CANDIDATES];
	size_t ncand;
	int cand_pending;

	struct link_stats st;
};

/* A flow freed within an entry point is reaped when it returns; until
 * then its ->app holds this sentinel, so a caller still holding it leaves
 * it alone (what the peer sends on a reset flow is counted by its ghost,
 * link.c). */
extern char link_freed_mark;
#define IS_FREED(f) ((f)->app == &link_freed_mark)


/* link.c */
int link_record_frame(struct sent_pkt *p, uint8_t type, uint64_t flow, uint64_t off,
		      uint16_t len, uint8_t fin, uint32_t aux);
/* link_enter(), link_leave() - around every entry point: the time, and
 * flows freed meanwhile reaped at the outermost return */
void link_enter(struct link *l, uint64_t now_us);
void link_leave(struct link *l);
void link_flow_schedule(struct link *l, struct link_flow *f);
void link_ctl_pop(struct link *l);
void link_queue_reset(struct link *l, struct link_flow *f, uint64_t reason);
void link_to_ghost(struct link *l, struct link_flow *f);
void link_ctl_queue(struct link *l, struct link_flow *f);
void link_pend_push(struct link *l, const struct pending_ctl *p);
/* link_stream_acked() - a STREAM frame arrived: its bytes leave the ring */
void link_stream_acked(struct link *l, struct link_flow *f, const struct sent_frame *sf);
/* link_remote_or_local_flow() - the flow a frame names: ours as we have
 * it, the peer's made if the id is new (NULL: closed, or over a limit) */
struct link_flow *link_remote_or_local_flow(struct link *l, uint64_t id);

/* link_send.c */
int link_has_ctl(const struct link *l);

/* link_sent.c */
/* sent_get() - the record of packet pn, NULL if forgotten or never sent */
struct sent_pkt *sent_get(struct link *l, uint64_t pn);
struct sent_pkt *sent_next(struct link *l);
void sent_trim(struct link *l);
void link_wake_writers(struct link *l, uint64_t min_space);
void sent_on_ack_frame(struct link *l, const struct wire_frame *fr);

/* link_loss.c */
void loss_on_packet(struct link *l, struct sent_pkt *p);
uint64_t loss_detect(struct link *l);
void loss_spurious(struct link *l, const struct sent_pkt *p);
uint64_t loss_pto_deadline_us(const struct link *l);
void loss_on_pto(struct link *l);
void loss_all_in_flight(struct link *l);

/* link_dgram.c */
struct dgram_queue *dq_new(struct chunk_pool *pool);
void dq_free(struct dgram_queue *q);
void dr_free(struct link *l, struct dgram_reasm *r);
int dgram_sendable(const struct link_flow *f);
uint64_t dgram_buffered(const struct link_flow *f);
void dgram_acked(struct link *l, struct link_flow *f, uint64_t rid);
void dgram_lost(struct link *l, struct link_flow *f, uint64_t rid);
int dgram_put(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p);
void dgram_recv(struct link *l, const struct wire_frame *fr);
void dgram_deliver_early(struct link *l, struct link_flow *f);

/* link_sched.c */
struct link_group *group_find(const struct link *l, const struct netid *net);
struct link_group *group_get(struct link *l, const struct netid *net);
void group_drop_if_empty(struct link *l, struct link_group *g);
void groups_free(struct link *l);
void group_join(struct link *l, struct link_flow *f, struct link_group *g);
void group_leave(struct link *l, struct link_flow *f);
void rcv_account(struct link *l, struct link_flow *f, uint64_t more, uint64_t less);
void rcv_chunks_changed(struct link *l, struct link_flow *f, size_t before);
void snd_account(struct link *l, struct link_flow *f, uint64_t more, uint64_t less);
uint64_t link_usage(const struct link *l);
int link_over_share(const struct link *l);
uint64_t *flow_admission(struct link *l, struct link_group *g);
uint64_t group_snd_room(const struct link *l, const struct link_flow *f);
int group_may_grow(const struct link *l, const struct link_flow *f);
int group_room_back(const struct link *l, const struct link_group *g);
uint64_t groups_rcv_excess(const struct link *l);
void sched_add(struct link *l, struct link_flow *f);
void sched_remove(struct link *l, struct link_flow *f);
struct link_flow *sched_pop(struct link *l);
int sched_empty(const struct link *l);

#endif
