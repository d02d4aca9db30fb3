/* wire.h: omnet's wire format, byte by byte (see docs/PROTOCOL.md).
 *
 * A datagram is an outer header in the clear, then DTLS record(s) or one
 * sealed record (src/seal.h).  The plaintext of a record is one link packet: a packet number, then
 * frames.  Integers in frames are QUIC variable-length integers (RFC 9000
 * section 16); fixed fields are big-endian.  Pure code: no I/O. */
#ifndef OMNET_WIRE_H
#define OMNET_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define WIRE_VERSION 1

/* Outer header types. */
enum wire_outer_type {
	WIRE_HANDSHAKE = 1, /* DTLS handshake datagram: carries the sender id too */
	WIRE_DATA = 2,      /* DTLS records of an established session */
	WIRE_RELAY = 3,     /* for a relay: forward to the session in receiver id */
	WIRE_UNKNOWN = 4,   /* "I hold no session with the id in receiver id" */
	WIRE_SEALED = 5,    /* a sealed record of an established session (seal.h) */
};

#define WIRE_OUTER_DATA_LEN 8
#define WIRE_OUTER_HS_LEN 12

struct wire_outer {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t receiver_id; /* 0 in a first ClientHello */
	uint32_t sender_id;   /* HANDSHAKE only */
};

int wire_outer_parse(const uint8_t *p, size_t len, struct wire_outer *o);
size_t wire_outer_put(uint8_t *p, const struct wire_outer *o);

/* Frame types inside a link packet. */
enum wire_frame_type {
	WF_PADDING = 0x00,
	WF_PING = 0x01,
	WF_ACK = 0x02,
	WF_OPEN = 0x03,
	WF_OPENED = 0x04,
	WF_STREAM = 0x05,
	WF_DATAGRAM = 0x06,
	WF_WINDOW = 0x07,
	WF_CLOSE = 0x08,
	WF_RESET = 0x09,
	WF_PATH_CHALLENGE = 0x0a,
	WF_PATH_RESPONSE = 0x0b,
	WF_CANDIDATES = 0x0c,
	WF_NETWORK_DELETED = 0x0d,
	WF_RELAY_OBSERVED = 0x0e, /* relay -> peer: the address I see you from */
	WF_RELAY_CONNECT = 0x0f,  /* peer -> relay: introduce me to this key */
	WF_RELAY_INTRO = 0x10,    /* relay -> peer: that key wants you too */
	WF_PATH_METHOD = 0x11,    /* how the sender found the path it sends on */
	WF_MAX
};

/* Flow protocols in OPEN, by their IP protocol numbers.  An ICMP flow is
 * one echo conversation: its source port is the VM's echo identifier, its
 * destination port 0, its datagrams whole ICMP messages (echo requests one
 * way, replies the other).  A peer older than ICMP flows refuses them in
 * RESET, as any OPEN it cannot carry out (PROTOCOL.md). */
enum { WIRE_PROTO_ICMP = 1, WIRE_PROTO_TCP = 6, WIRE_PROTO_UDP = 17 };

/* What an OPEN's destination is: a real address, or one of the services
 * the provider's virtual network pretends to have.  The consumer maps
 * these without knowing the provider's addressing.  WIRE_DST_VM goes the
 * other way: a port forward, opened by the consumer towards the VM's own
 * address (which only the provider knows) at the destination's port; the
 * source is the real client. */
enum { WIRE_DST_ADDR = 0, WIRE_DST_DNS = 1, WIRE_DST_GATEWAY = 2, WIRE_DST_VM = 3, WIRE_DST_MAX };

/* wire_proto_name() - "tcp", "udp" or "icmp", for people */
static inline const char *wire_proto_name(uint8_t proto)
{
	return proto == WIRE_PROTO_UDP ? "udp" : proto == WIRE_PROTO_ICMP ? "icmp" : "tcp";
}

/* wire_proto_dgram() - a flow of datagrams (UDP, ICMP), not a stream */
static inline int wire_proto_dgram(uint8_t proto)
{
	return proto == WIRE_PROTO_UDP || proto == WIRE_PROTO_ICMP;
}

/* wire_open_known() - an OPEN this version can carry out */
static inline int wire_open_known(uint8_t proto, uint8_t kind)
{
	return (proto == WIRE_PROTO_TCP || wire_proto_dgram(proto)) && kind < WIRE_DST_MAX;
}

/* Why a flow was reset; carried in RESET and shown to operators. */
enum wire_reset_reason {
	RST_NONE = 0,
	RST_REFUSED = 1,     /* destination refused the connection */
	RST_UNREACHABLE = 2, /* no route / host unreachable */
	RST_TIMEOUT = 3,     /* connect or idle timeout */
	RST_POLICY = 4,      /* egress policy denied the destination */
	RST_ABORTED = 5,     /* the other end reset the connection */
	RST_NETWORK = 6,     /* unknown or deleted network */
	RST_RESOURCE = 7,    /* out of flows or memory */
	RST_LINK = 8,        /* the link session ended */
	RST_MAX
};
const char *wire_reset_reason_str(uint64_t reason);

#define WIRE_STREAM_FIN 0x01
#define WIRE_PATH_DATA_LEN 8
#define WIRE_MAX_ACK_RANGES 64
#define WIRE_MAX_CANDIDATES 16

/* How a candidate address was learned (CANDIDATES, RELAY_* frames). */
enum { WIRE_CAND_DIRECT = 1, WIRE_CAND_REFLEXIVE = 2 };
#define WIRE_KEY_LEN 32 /* a fingerprint's SHA-256 */

struct wire_ack_range {
	uint64_t lo, hi; /* inclusive packet numbers */
};

struct wire_frame {
	uint8_t type;
	uint64_t flow;
	union {
		struct {
			uint64_t delay_us;
			size_t nranges; /* descending, ranges[0] holds the largest */
			struct wire_ack_range ranges[WIRE_MAX_ACK_RANGES];
		} ack;
		struct {
			struct netid net;
			uint8_t proto;
			uint8_t kind; /* WIRE_DST_* */
			struct ipport src, dst;
		} open;
		struct {
			uint64_t offset;
			uint8_t fin;
			size_t len;
			const uint8_t *data;
		} stream;
		struct wire_frame_dgram {
			uint64_t seq;   /* per-flow datagram number */
			uint32_t total; /* whole datagram length */
			uint32_t frag;  /* offset of this fragment */
			size_t len;
			const uint8_t *data;
		} dgram;
		uint64_t window_max;
		struct {
			uint64_t reason;
			uint64_t final; /* sender's final stream offset */
		} reset;
		uint8_t path_data[WIRE_PATH_DATA_LEN];
		struct {
			size_t n;
			uint8_t method[WIRE_MAX_CANDIDATES];
			struct ipport addr[WIRE_MAX_CANDIDATES];
			/* RELAY_CONNECT / RELAY_INTRO only */
			uint8_t key[WIRE_KEY_LEN];
			uint32_t channel;
		} cand;
		struct ipport observed;
		uint8_t path_method;      /* PATH_METHOD: 0 direct, 1 hole-punched, 2 relay */
		struct netid net;
	} u;
};

/* A write cursor over a caller's buffer. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static inline size_t wbuf_room(const struct wbuf *b)
{
	return b->cap - b->len;
}

/* QUIC variable-length integers (RFC 9000 section 16). */
#define VARINT_MAX ((1ULL << 62) - 1)
size_t varint_len(uint64_t v);
int varint_put(struct wbuf *b, uint64_t v);
int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Decoding: returns bytes consumed, or -1 if the frame is malformed or
 * truncated.  Pointers in f point into p. */
int wire_frame_decode(const uint8_t *p, size_t len, struct wire_frame *f);
int wire_frame_is_ack_eliciting(uint8_t type);

/* Encoding: each returns 0, or -1 (and writes nothing) if it does not fit. */
int wire_put_pn(struct wbuf *b, uint64_t pn);
int wire_get_pn(const uint8_t **p, const uint8_t *end, uint64_t *pn);
int wire_put_ping(struct wbuf *b);
int wire_put_ack(struct wbuf *b, uint64_t delay_us, const struct wire_ack_range *r, size_t n);
int wire_put_open(struct wbuf *b, uint64_t flow, const struct netid *net, uint8_t proto,
		  uint8_t kind, const struct ipport *src, const struct ipport *dst);
int wire_put_opened(struct wbuf *b, uint64_t flow);
size_t wire_stream_hdr_len(uint64_t flow, uint64_t off, size_t len);
/* With data NULL only the header is written, after checking that len more
 * bytes fit: the caller copies the data to b->p + b->len itself. */
int wire_put_stream(struct wbuf *b, uint64_t flow, uint64_t off, int fin, const uint8_t *data,
		    size_t len);
size_t wire_dgram_hdr_len(uint64_t flow, uint64_t seq, uint32_t total, uint32_t frag, size_t len);
/* With data NULL, header only, as for wire_put_stream(). */
int wire_put_dgram(struct wbuf *b, uint64_t flow, uint64_t seq, uint32_t total, uint32_t frag,
		   const uint8_t *data, size_t len);
int wire_put_window(struct wbuf *b, uint64_t flow, uint64_t max);
int wire_put_close(struct wbuf *b, uint64_t flow);
int wire_put_reset(struct wbuf *b, uint64_t flow, uint64_t reason, uint64_t final);
int wire_put_path(struct wbuf *b, uint8_t type, const uint8_t data[WIRE_PATH_DATA_LEN]);
int wire_put_candidates(struct wbuf *b, const uint8_t *method, const struct ipport *addr,
			size_t n);
int wire_put_network_deleted(struct wbuf *b, const struct netid *net);
int wire_put_relay_observed(struct wbuf *b, const struct ipport *addr);
int wire_put_path_method(struct wbuf *b, uint8_t method);
/* RELAY_CONNECT (channel ignored) and RELAY_INTRO: a key, a channel and
 * the candidates of the peer it names */
int wire_put_relay_cand(struct wbuf *b, uint8_t type, const uint8_t key[WIRE_KEY_LEN],
			uint32_t channel, const uint8_t *method, const struct ipport *addr, size_t n);

/* The largest STREAM header: type, flow, offset, flags, length. */
#define WIRE_STREAM_HDR_MAX (1 + 8 + 8 + 1 + 8)

#endif
