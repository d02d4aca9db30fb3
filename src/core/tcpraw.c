/* tcpraw.c: IPv4 and IPv6 TCP SYNs and ICMP echo requests in; RSTs, ICMP
 * unreachables and echo replies out (tcpraw.h).
 *
 * Every read is bounds-checked against the length we were given: the
 * packets come from the VM, which the provider does not trust either.
 * Pure: no sockets. */
#include <netinet/in.h>
#include <string.h>

#include "tcpraw.h"
#include "util.h"

/* RFC 791 3.1: offsets in the IPv4 header */
#define IPH_VHL		0
#define IPH_TOS		1
#define IPH_LEN		2
#define IPH_ID		4
#define IPH_FRAG	6
#define IPH_TTL		8
#define IPH_PROTO	9
#define IPH_SUM		10
#define IPH_SRC		12
#define IPH_DST		16
#define IPH_HDR_MIN	20
#define IPH_DF		0x4000
#define IPH_MF		0x2000
#define IPH_OFFMASK	0x1fff

/* RFC 8200 3: offsets in the IPv6 header */
#define IP6H_VFC	0
#define IP6H_PLEN	4
#define IP6H_NXT	6
#define IP6H_HLIM	7
#define IP6H_SRC	8
#define IP6H_DST	24
#define IP6H_LEN	40

/* RFC 9293 3.1: offsets in the TCP header */
#define TCPH_SPORT	0
#define TCPH_DPORT	2
#define TCPH_SEQ	4
#define TCPH_ACK	8
#define TCPH_OFF	12
#define TCPH_FLAGS	13
#define TCPH_WIN	14
#define TCPH_SUM	16
#define TCPH_URP	18
#define TCPH_HDR_MIN	20
#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_ACK		0x10

/* RFC 792: ICMP header, and how much of the offending datagram to quote */
#define ICMPH_TYPE	0
#define ICMPH_CODE	1
#define ICMPH_SUM	2
#define ICMPH_HDR_LEN	8
#define ICMP_TYPE_UNREACH	3
#define ICMP_TYPE_ECHOREPLY	0
#define ICMP_TYPE_ECHO		8
#define ICMPH_ID	4
#define ICMPH_SEQ	6
#define ICMPH_QUOTE_DATA	8

/* RFC 4443: ICMPv6 types (its header is laid out as ICMP's), and the size
 * an error must not exceed (2.4 (c): the IPv6 minimum MTU) */
#define ICMP6_TYPE_UNREACH	1
#define ICMP6_TYPE_ECHO		128
#define ICMP6_TYPE_ECHOREPLY	129
#define ICMP6_ERR_MAX		1280
/* RFC 4443 3.1: destination unreachable codes */
#define ICMP6_UNREACH_NOROUTE	0
#define ICMP6_UNREACH_ADMIN	1
#define ICMP6_UNREACH_ADDR	3
#define ICMP6_UNREACH_PORT	4

/* Linux's default (net.ipv4.ip_default_ttl); the IPv6 hop limit too
 * (net.ipv6.conf.*.hop_limit) */
#define REPLY_TTL	64
/* RFC 1812 4.3.2.5: ICMP errors go out with precedence 6, internetwork control */
#define TOS_INTERNETCONTROL	0xc0

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint16_t inet_checksum(const void *data, size_t len, uint32_t initial)
{
	const uint8_t *p = data;
	uint64_t sum = initial;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IP packet's header, checked: what the parsers need of either family. */
struct l3 {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t proto;			/* IPv4 protocol or IPv6 next header */
	size_t hl, tot;			/* header length, total length (no padding) */
	const uint8_t *src, *dst;	/* addresses inside the packet */
};

/* ip_hdr_len(), addr_octets(), icmp_proto() - per family; anything but
 * AF_INET6 is IPv4, as it was before IPv6 came */
static size_t ip_hdr_len(uint8_t family)
{
	return family == AF_INET6 ? IP6H_LEN : IPH_HDR_MIN;
}

static size_t addr_octets(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

static uint8_t icmp_proto(uint8_t family)
{
	return family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
}

/* same_family() - both IPv4 or both IPv6 */
static int same_family(uint8_t a, uint8_t b)
{
	return (a == AF_INET || a == AF_INET6) && a == b;
}

/* ip4_locate() - l filled from the IPv4 packet at ip, header and total
 * length checked against len (octets past the total length are link
 * padding); -1 if the header is not IPv4 or the lengths do not fit */
static int ip4_locate(const uint8_t *ip, size_t len, struct l3 *l)
{
	if (len < IPH_HDR_MIN || ip[IPH_VHL] >> 4 != 4)
		return -1;
	l->hl = (size_t)(ip[IPH_VHL] & 0x0f) * 4;
	l->tot = get16(ip + IPH_LEN);
	if (l->hl < IPH_HDR_MIN || l->tot < l->hl || l->tot > len)
		return -1;
	l->family = AF_INET;
	l->proto = ip[IPH_PROTO];
	l->src = ip + IPH_SRC;
	l->dst = ip + IPH_DST;
	return 0;
}

/* ip6_locate() - the same for IPv6 (RFC 8200 3).  The next header is taken
 * as the transport protocol: the callers want no extension header, so one
 * is just a protocol they refuse. */
static int ip6_locate(const uint8_t *ip, size_t len, struct l3 *l)
{
	if (len < IP6H_LEN || ip[IP6H_VFC] >> 4 != 6)
		return -1;
	l->hl = IP6H_LEN;
	l->tot = IP6H_LEN + (size_t)get16(ip + IP6H_PLEN);
	if (l->tot > len)
		return -1;
	l->family = AF_INET6;
	l->proto = ip[IP6H_NXT];
	l->src = ip + IP6H_SRC;
	l->dst = ip + IP6H_DST;
	return 0;
}

/* ip_locate() - ip4_locate() or ip6_locate(), by the version nibble */
static int ip_locate(const uint8_t *ip, size_t len, struct l3 *l)
{
	if (len >= 1 && ip[0] >> 4 == 6)
		return ip6_locate(ip, len, l);
	return ip4_locate(ip, len, l);
}

/* ip_is_fragment() - an IPv4 packet with MF set or a nonzero offset (RFC
 * 791 3.2).  An IPv6 one located here never is: a fragment would carry a
 * Fragment header (RFC 8200 4.5), which is no transport protocol. */
static int ip_is_fragment(const uint8_t *ip, const struct l3 *l)
{
	return l->family == AF_INET && (get16(ip + IPH_FRAG) & (IPH_MF | IPH_OFFMASK)) != 0;
}

/* ip_header_ok() - IPv4: its header checksum is right.  IPv6 has none;
 * there the source must not be multicast (RFC 4291 2.7), which no reply
 * may go to. */
static int ip_header_ok(const uint8_t *ip, const struct l3 *l)
{
	if (l->family == AF_INET6)
		return l->src[0] != 0xff;
	return inet_checksum(ip, l->hl, 0) == 0;
}

/* tcp_lengths() - l and the TCP segment length of an unfragmented IPv4 or
 * IPv6 TCP packet whose TCP header fits; -1 for anything else */
static int tcp_lengths(const uint8_t *ip, size_t len, struct l3 *l, size_t *seg)
{
	size_t doff;

	if (ip_locate(ip, len, l) < 0 || l->proto != IPPROTO_TCP || ip_is_fragment(ip, l))
		return -1;
	*seg = l->tot - l->hl;
	if (*seg < TCPH_HDR_MIN)
		return -1;
	doff = (size_t)(ip[l->hl + TCPH_OFF] >> 4) * 4;
	if (doff < TCPH_HDR_MIN || doff > *seg)
		return -1;
	return 0;
}

/* pseudo_sum() - the partial sum of the pseudo-header: source and
 * destination address, protocol, upper-layer length.  IPv4's (RFC 9293
 * 3.1) and IPv6's (RFC 8200 8.1) order and size those fields differently,
 * which a ones' complement sum does not see. */
static uint32_t pseudo_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			   size_t ulen)
{
	uint32_t sum = proto + (uint32_t)(ulen >> 16) + (uint32_t)(ulen & 0xffff);
	size_t i;

	for (i = 0; i < addr_octets(family); i += 2)
		sum += (uint32_t)get16(src + i) + get16(dst + i);
	return sum;
}

/* ip_fill_sum() - write the IPv4 header checksum (RFC 791 3.1) */
static void ip_fill_sum(uint8_t *ip, size_t ihl)
{
	put16(ip + IPH_SUM, 0);
	put16(ip + IPH_SUM, inet_checksum(ip, ihl, 0));
}

/* tcp_fill_sum() - write the checksum of the TCP segment at tcp, seg octets
 * long, from src to dst.  No 0 -> 0xffff swap: that is UDP's rule (RFC
 * 768), not TCP's. */
static void tcp_fill_sum(uint8_t *tcp, size_t seg, uint8_t family, const uint8_t *src,
			 const uint8_t *dst)
{
	put16(tcp + TCPH_SUM, 0);
	put16(tcp + TCPH_SUM,
	      inet_checksum(tcp, seg, pseudo_sum(family, src, dst, IPPROTO_TCP, seg)));
}

/* icmp_fill_sum() - write the checksum of the ICMP message at icmp, len
 * octets: over the message alone for ICMP (RFC 792), with the
 * pseudo-header for ICMPv6 (RFC 4443 2.3) */
static void icmp_fill_sum(uint8_t *icmp, size_t len, uint8_t family, const uint8_t *src,
			  const uint8_t *dst)
{
	uint32_t initial = 0;

	if (family == AF_INET6)
		initial = pseudo_sum(family, src, dst, IPPROTO_ICMPV6, len);
	put16(icmp + ICMPH_SUM, 0);
	put16(icmp + ICMPH_SUM, inet_checksum(icmp, len, initial));
}

void tcpraw_fix_checksums(uint8_t *ip, size_t len)
{
	struct l3 l;
	size_t seg;

	if (tcp_lengths(ip, len, &l, &seg) < 0)
		return;
	if (l.family == AF_INET)
		ip_fill_sum(ip, l.hl);
	tcp_fill_sum(ip + l.hl, seg, l.family, l.src, l.dst);
}

/* ipport_set() - an address of family from packet bytes, and a port */
static void ipport_set(struct ipport *ap, uint8_t family, const uint8_t *addr, uint16_t port)
{
	memset(ap, 0, sizeof(*ap));
	ap->family = family;
	memcpy(ap->addr, addr, addr_octets(family));
	ap->port = port;
}

int tcpraw_parse_syn(const uint8_t *ip, size_t len, struct syn_info *out)
{
	struct l3 l;
	size_t seg;
	const uint8_t *tcp;
	uint8_t flags;

	if (tcp_lengths(ip, len, &l, &seg) < 0)
		return -1;
	tcp = ip + l.hl;
	if (l.tot > sizeof(out->pkt) || !ip_header_ok(ip, &l))
		return -1;
	flags = tcp[TCPH_FLAGS];
	if (!(flags & TH_SYN) || (flags & (TH_ACK | TH_RST | TH_FIN)))
		return -1;
	if (!get16(tcp + TCPH_SPORT) || !get16(tcp + TCPH_DPORT))
		return -1;
	memset(out, 0, sizeof(*out));
	ipport_set(&out->src, l.family, l.src, get16(tcp + TCPH_SPORT));
	ipport_set(&out->dst, l.family, l.dst, get16(tcp + TCPH_DPORT));
	out->seq = get32(tcp + TCPH_SEQ);
	out->len = l.tot;
	memcpy(out->pkt, ip, l.tot);
	return 0;
}

/* syn_seg_len() - SEG.LEN of the held SYN: its data plus one for SYN
 * (RFC 9293 3.4); a TCP Fast Open SYN may carry data (RFC 7413) */
static uint32_t syn_seg_len(const struct syn_info *syn)
{
	struct l3 l;
	size_t seg, doff;

	if (syn->len > sizeof(syn->pkt) || tcp_lengths(syn->pkt, syn->len, &l, &seg) < 0)
		return 1;
	doff = (size_t)(syn->pkt[l.hl + TCPH_OFF] >> 4) * 4;
	return (uint32_t)(seg - doff) + 1;
}

/* ip_header() - a 20-octet IPv4 header, DF set and ID 0 as RFC 6864 4.1
 * allows for atomic datagrams, checksum filled */
static void ip_header(uint8_t *ip, size_t tot, uint8_t tos, uint8_t proto,
		      const uint8_t src[4], const uint8_t dst[4])
{
	memset(ip, 0, IPH_HDR_MIN);
	ip[IPH_VHL] = 0x45;
	ip[IPH_TOS] = tos;
	put16(ip + IPH_LEN, (uint16_t)tot);
	put16(ip + IPH_FRAG, IPH_DF);
	ip[IPH_TTL] = REPLY_TTL;
	ip[IPH_PROTO] = proto;
	memcpy(ip + IPH_SRC, src, 4);
	memcpy(ip + IPH_DST, dst, 4);
	ip_fill_sum(ip, IPH_HDR_MIN);
}

/* ip6_header() - a 40-octet IPv6 header (RFC 8200 3) for plen octets of
 * payload, traffic class and flow label 0 */
static void ip6_header(uint8_t *ip, size_t plen, uint8_t nxt, const uint8_t src[16],
		       const uint8_t dst[16])
{
	memset(ip, 0, IP6H_LEN);
	ip[IP6H_VFC] = 6 << 4;
	put16(ip + IP6H_PLEN, (uint16_t)plen);
	ip[IP6H_NXT] = nxt;
	ip[IP6H_HLIM] = REPLY_TTL;
	memcpy(ip + IP6H_SRC, src, 16);
	memcpy(ip + IP6H_DST, dst, 16);
}

/* ip_header_af() - an IPv4 or IPv6 header, by family, for plen octets of
 * proto from src to dst; returns its length.  tos is IPv4's alone: RFC
 * 1812's precedence for ICMP errors has no IPv6 counterpart, and Linux
 * sends its own ICMPv6 errors with traffic class 0. */
static size_t ip_header_af(uint8_t *out, uint8_t family, size_t plen, uint8_t tos, uint8_t proto,
			   const uint8_t *src, const uint8_t *dst)
{
	if (family == AF_INET6) {
		ip6_header(out, plen, proto, src, dst);
		return IP6H_LEN;
	}
	ip_header(out, IPH_HDR_MIN + plen, tos, proto, src, dst);
	return IPH_HDR_MIN;
}

size_t tcpraw_build_rst(const struct syn_info *syn, uint8_t *out, size_t cap)
{
	uint8_t family = syn->src.family;
	size_t hl = ip_hdr_len(family);
	uint8_t *tcp = out + hl;

	if (cap < hl + TCPH_HDR_MIN)
		return 0;
	ip_header_af(out, family, TCPH_HDR_MIN, 0, IPPROTO_TCP, syn->dst.addr, syn->src.addr);
	memset(tcp, 0, TCPH_HDR_MIN);
	put16(tcp + TCPH_SPORT, syn->dst.port);
	put16(tcp + TCPH_DPORT, syn->src.port);
	put32(tcp + TCPH_SEQ, 0);
	put32(tcp + TCPH_ACK, syn->seq + syn_seg_len(syn));
	tcp[TCPH_OFF] = (TCPH_HDR_MIN / 4) << 4;
	tcp[TCPH_FLAGS] = TH_RST | TH_ACK;
	put16(tcp + TCPH_WIN, 0);
	put16(tcp + TCPH_URP, 0);
	tcp_fill_sum(tcp, TCPH_HDR_MIN, family, syn->dst.addr, syn->src.addr);
	return hl + TCPH_HDR_MIN;
}

/* unreach6_code() - the ICMPv6 destination unreachable code (RFC 4443 3.1)
 * for one of tcpraw.h's ICMP codes; any other says address unreachable */
static uint8_t unreach6_code(uint8_t code)
{
	switch (code) {
	case TCPRAW_UNREACH_NET:
		return ICMP6_UNREACH_NOROUTE;
	case TCPRAW_UNREACH_ADMIN:
		return ICMP6_UNREACH_ADMIN;
	case TCPRAW_UNREACH_PORT:
		return ICMP6_UNREACH_PORT;
	default:
		return ICMP6_UNREACH_ADDR;
	}
}

int tcpraw_unreach_code(uint8_t family, uint8_t type, uint8_t code)
{
	if (family == AF_INET6 && type == ICMP6_TYPE_UNREACH) {
		if (code == ICMP6_UNREACH_NOROUTE)
			return TCPRAW_UNREACH_NET;
		if (code == ICMP6_UNREACH_PORT)
			return TCPRAW_UNREACH_PORT;
		if (code == ICMP6_UNREACH_ADMIN || code == 5 || code == 6)
			return TCPRAW_UNREACH_ADMIN; /* 5 failed policy, 6 reject route */
		return TCPRAW_UNREACH_HOST;
	}
	if (family != AF_INET || type != 3 || code == 4)
		return -1;
	if (code == 0 || code == 6 || code == 11)
		return TCPRAW_UNREACH_NET; /* 6 net unknown, 11 net for TOS */
	if (code == 3)
		return TCPRAW_UNREACH_PORT;
	if (code == 9 || code == 10 || code == 13)
		return TCPRAW_UNREACH_ADMIN;
	return TCPRAW_UNREACH_HOST;
}

/* unreach() - destination unreachable with the ICMP code, an ICMPv6 one
 * for family AF_INET6, from @from to @to, quoting @qlen octets of the
 * offending datagram; 0 if cap is too small */
static size_t unreach(uint8_t family, uint8_t code, const uint8_t *from, const uint8_t *to,
		      const uint8_t *quote, size_t qlen, uint8_t *out, size_t cap)
{
	size_t hl = ip_hdr_len(family), len = hl + ICMPH_HDR_LEN + qlen;
	uint8_t *icmp = out + hl;

	if (cap < len)
		return 0;
	ip_header_af(out, family, ICMPH_HDR_LEN + qlen, TOS_INTERNETCONTROL, icmp_proto(family),
		     from, to);
	memset(icmp, 0, ICMPH_HDR_LEN);
	icmp[ICMPH_TYPE] = family == AF_INET6 ? ICMP6_TYPE_UNREACH : ICMP_TYPE_UNREACH;
	icmp[ICMPH_CODE] = family == AF_INET6 ? unreach6_code(code) : code;
	memcpy(icmp + ICMPH_HDR_LEN, quote, qlen);
	icmp_fill_sum(icmp, ICMPH_HDR_LEN + qlen, family, from, to);
	return len;
}

/* syn_quote_len() - how much of the held SYN an error quotes: its IP header
 * and 8 octets of TCP (RFC 792), or as much of an IPv6 packet as keeps the
 * error within the minimum MTU (RFC 4443 2.4 (c)); 0 if syn->pkt is not a
 * packet of syn->src's family that long */
static size_t syn_quote_len(const struct syn_info *syn)
{
	struct l3 l;

	if (syn->len > sizeof(syn->pkt) || ip_locate(syn->pkt, syn->len, &l) < 0 ||
	    l.tot < l.hl + ICMPH_QUOTE_DATA)
		return 0;
	if ((syn->src.family == AF_INET6) != (l.family == AF_INET6))
		return 0;
	if (l.family == AF_INET6)
		return MIN(l.tot, (size_t)ICMP6_ERR_MAX - IP6H_LEN - ICMPH_HDR_LEN);
	return l.hl + ICMPH_QUOTE_DATA;
}

size_t tcpraw_build_icmp_unreach(const struct syn_info *syn, uint8_t code, const uint8_t *from,
				 uint8_t *out, size_t cap)
{
	size_t qlen = syn_quote_len(syn);

	if (!qlen)
		return 0;
	return unreach(syn->src.family, code, from, syn->src.addr, syn->pkt, qlen, out, cap);
}

int tcpraw_parse_echo(const uint8_t *ip, size_t len, struct echo_info *out)
{
	struct l3 l;
	const uint8_t *icmp;
	uint8_t type;

	if (ip_locate(ip, len, &l) < 0 || l.proto != icmp_proto(l.family) ||
	    ip_is_fragment(ip, &l) || !ip_header_ok(ip, &l))
		return -1;
	if (l.tot - l.hl < ICMPH_HDR_LEN || l.tot - l.hl > TCPRAW_ECHO_MAX)
		return -1;
	icmp = ip + l.hl;
	type = l.family == AF_INET6 ? ICMP6_TYPE_ECHO : ICMP_TYPE_ECHO;
	if (icmp[ICMPH_TYPE] != type || icmp[ICMPH_CODE] != 0)
		return -1;
	ipport_set(&out->src, l.family, l.src, get16(icmp + ICMPH_ID));
	ipport_set(&out->dst, l.family, l.dst, 0);
	out->seq = get16(icmp + ICMPH_SEQ);
	out->msg = icmp;
	out->len = l.tot - l.hl;
	return 0;
}

/* echo_reply_ok() - from and to of one family, and msg an echo reply of
 * theirs (type 0, or 129 for ICMPv6; code 0) of a length we carry */
static int echo_reply_ok(const struct ipport *from, const struct ipport *to, const uint8_t *msg,
			 size_t len)
{
	uint8_t type = from->family == AF_INET6 ? ICMP6_TYPE_ECHOREPLY : ICMP_TYPE_ECHOREPLY;

	return same_family(from->family, to->family) && len >= ICMPH_HDR_LEN &&
	       len <= TCPRAW_ECHO_MAX && msg[ICMPH_TYPE] == type && msg[ICMPH_CODE] == 0;
}

size_t tcpraw_build_echo_reply(const struct ipport *from, const struct ipport *to, uint16_t id,
			       const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	size_t hl = ip_hdr_len(from->family);
	uint8_t *icmp = out + hl;

	if (!echo_reply_ok(from, to, msg, len) || cap < hl + len)
		return 0;
	ip_header_af(out, from->family, len, 0, icmp_proto(from->family), from->addr, to->addr);
	memcpy(icmp, msg, len);
	put16(icmp + ICMPH_ID, id);
	icmp_fill_sum(icmp, len, from->family, from->addr, to->addr);
	return hl + len;
}

size_t tcpraw_build_dgram_unreach(const struct ipport *vm, const struct ipport *dst, uint8_t proto,
				  uint16_t seq, uint8_t code, const uint8_t *from, uint8_t *out,
				  size_t cap)
{
	/* what the VM sent, as far as the error needs it */
	uint8_t quoted[IP6H_LEN + ICMPH_QUOTE_DATA] = { 0 };
	size_t hl = ip_hdr_len(vm->family);
	uint8_t *head = quoted + hl;

	if (!same_family(vm->family, dst->family))
		return 0;
	if (proto == IPPROTO_UDP) {	/* RFC 768: ports, length, no checksum */
		put16(head, vm->port);
		put16(head + 2, dst->port);
		put16(head + 4, ICMPH_QUOTE_DATA);
	} else if (proto == icmp_proto(vm->family)) {
		head[ICMPH_TYPE] = vm->family == AF_INET6 ? ICMP6_TYPE_ECHO : ICMP_TYPE_ECHO;
		put16(head + ICMPH_ID, vm->port);
		put16(head + ICMPH_SEQ, seq);
	} else {
		return 0;
	}
	ip_header_af(quoted, vm->family, ICMPH_QUOTE_DATA, 0, proto, vm->addr, dst->addr);
	return unreach(vm->family, code, from, vm->addr, quoted, hl + ICMPH_QUOTE_DATA, out, cap);
}
