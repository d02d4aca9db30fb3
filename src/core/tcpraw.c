/* tcpraw.c: IPv4 TCP SYNs and ICMP echo requests in; RSTs, ICMP
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

/* Linux's default (net.ipv4.ip_default_ttl) */
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

/* ip_lengths() - header and total length of the IPv4 packet at ip, checked
 * against len (octets after the total length are link padding); -1 if the
 * header is not IPv4 or the lengths do not fit */
static int ip_lengths(const uint8_t *ip, size_t len, size_t *ihl, size_t *tot)
{
	if (len < IPH_HDR_MIN || ip[IPH_VHL] >> 4 != 4)
		return -1;
	*ihl = (size_t)(ip[IPH_VHL] & 0x0f) * 4;
	*tot = get16(ip + IPH_LEN);
	if (*ihl < IPH_HDR_MIN || *tot < *ihl || *tot > len)
		return -1;
	return 0;
}

/* ip_is_fragment() - MF set or a nonzero offset (RFC 791 3.2) */
static int ip_is_fragment(const uint8_t *ip)
{
	return (get16(ip + IPH_FRAG) & (IPH_MF | IPH_OFFMASK)) != 0;
}

/* tcp_lengths() - IP header length and TCP segment length of an unfragmented
 * IPv4 TCP packet whose TCP header fits; -1 for anything else */
static int tcp_lengths(const uint8_t *ip, size_t len, size_t *ihl, size_t *seg)
{
	size_t tot, doff;

	if (ip_lengths(ip, len, ihl, &tot) < 0 || ip[IPH_PROTO] != IPPROTO_TCP ||
	    ip_is_fragment(ip))
		return -1;
	*seg = tot - *ihl;
	if (*seg < TCPH_HDR_MIN)
		return -1;
	doff = (size_t)(ip[*ihl + TCPH_OFF] >> 4) * 4;
	if (doff < TCPH_HDR_MIN || doff > *seg)
		return -1;
	return 0;
}

/* pseudo_sum() - the partial sum of the TCP pseudo-header (RFC 9293 3.1):
 * source and destination address, zero, protocol, TCP length */
static uint32_t pseudo_sum(const uint8_t src[4], const uint8_t dst[4], size_t seg)
{
	return (uint32_t)get16(src) + get16(src + 2) + get16(dst) + get16(dst + 2) +
	       IPPROTO_TCP + (uint32_t)seg;
}

/* ip_fill_sum() - write the IPv4 header checksum (RFC 791 3.1) */
static void ip_fill_sum(uint8_t *ip, size_t ihl)
{
	put16(ip + IPH_SUM, 0);
	put16(ip + IPH_SUM, inet_checksum(ip, ihl, 0));
}

/* tcp_fill_sum() - write the TCP checksum of the segment after ihl.  No
 * 0 -> 0xffff swap: that is UDP's rule (RFC 768), not TCP's. */
static void tcp_fill_sum(uint8_t *ip, size_t ihl, size_t seg)
{
	uint8_t *tcp = ip + ihl;

	put16(tcp + TCPH_SUM, 0);
	put16(tcp + TCPH_SUM, inet_checksum(tcp, seg, pseudo_sum(ip + IPH_SRC, ip + IPH_DST, seg)));
}

void tcpraw_fix_checksums(uint8_t *ip, size_t len)
{
	size_t ihl, seg;

	if (tcp_lengths(ip, len, &ihl, &seg) < 0)
		return;
	ip_fill_sum(ip, ihl);
	tcp_fill_sum(ip, ihl, seg);
}

/* ipport_v4() - an IPv4 address and port from packet bytes */
static void ipport_v4(struct ipport *ap, const uint8_t *addr, const uint8_t *port)
{
	memset(ap, 0, sizeof(*ap));
	ap->family = AF_INET;
	memcpy(ap->addr, addr, 4);
	ap->port = get16(port);
}

int tcpraw_parse_syn(const uint8_t *ip, size_t len, struct syn_info *out)
{
	size_t ihl, seg, tot;
	const uint8_t *tcp;
	uint8_t flags;

	if (tcp_lengths(ip, len, &ihl, &seg) < 0)
		return -1;
	tot = ihl + seg;
	tcp = ip + ihl;
	if (tot > sizeof(out->pkt) || inet_checksum(ip, ihl, 0) != 0)
		return -1;
	flags = tcp[TCPH_FLAGS];
	if (!(flags & TH_SYN) || (flags & (TH_ACK | TH_RST | TH_FIN)))
		return -1;
	if (!get16(tcp + TCPH_SPORT) || !get16(tcp + TCPH_DPORT))
		return -1;
	memset(out, 0, sizeof(*out));
	ipport_v4(&out->src, ip + IPH_SRC, tcp + TCPH_SPORT);
	ipport_v4(&out->dst, ip + IPH_DST, tcp + TCPH_DPORT);
	out->seq = get32(tcp + TCPH_SEQ);
	out->len = tot;
	memcpy(out->pkt, ip, tot);
	return 0;
}

/* syn_seg_len() - SEG.LEN of the held SYN: its data plus one for SYN
 * (RFC 9293 3.4); a TCP Fast Open SYN may carry data (RFC 7413) */
static uint32_t syn_seg_len(const struct syn_info *syn)
{
	size_t ihl, seg, doff;

	if (syn->len > sizeof(syn->pkt) || tcp_lengths(syn->pkt, syn->len, &ihl, &seg) < 0)
		return 1;
	doff = (size_t)(syn->pkt[ihl + TCPH_OFF] >> 4) * 4;
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

size_t tcpraw_build_rst(const struct syn_info *syn, uint8_t *out, size_t cap)
{
	uint8_t *tcp = out + IPH_HDR_MIN;

	if (cap < TCPRAW_RST_LEN)
		return 0;
	ip_header(out, TCPRAW_RST_LEN, 0, IPPROTO_TCP, syn->dst.addr, syn->src.addr);
	memset(tcp, 0, TCPH_HDR_MIN);
	put16(tcp + TCPH_SPORT, syn->dst.port);
	put16(tcp + TCPH_DPORT, syn->src.port);
	put32(tcp + TCPH_SEQ, 0);
	put32(tcp + TCPH_ACK, syn->seq + syn_seg_len(syn));
	tcp[TCPH_OFF] = (TCPH_HDR_MIN / 4) << 4;
	tcp[TCPH_FLAGS] = TH_RST | TH_ACK;
	put16(tcp + TCPH_WIN, 0);
	put16(tcp + TCPH_URP, 0);
	tcp_fill_sum(out, IPH_HDR_MIN, TCPH_HDR_MIN);
	return TCPRAW_RST_LEN;
}

/* unreach() - ICMP destination unreachable (type 3) with code, from @from
 * to @to, quoting @qlen octets of the offending datagram; 0 if cap is too
 * small */
static size_t unreach(uint8_t code, const uint8_t from[4], const uint8_t to[4],
		      const uint8_t *quote, size_t qlen, uint8_t *out, size_t cap)
{
	size_t len = IPH_HDR_MIN + ICMPH_HDR_LEN + qlen;
	uint8_t *icmp = out + IPH_HDR_MIN;

	if (cap < len)
		return 0;
	ip_header(out, len, TOS_INTERNETCONTROL, IPPROTO_ICMP, from, to);
	memset(icmp, 0, ICMPH_HDR_LEN);
	icmp[ICMPH_TYPE] = ICMP_TYPE_UNREACH;
	icmp[ICMPH_CODE] = code;
	memcpy(icmp + ICMPH_HDR_LEN, quote, qlen);
	put16(icmp + ICMPH_SUM, inet_checksum(icmp, ICMPH_HDR_LEN + qlen, 0));
	return len;
}

size_t tcpraw_build_icmp_unreach(const struct syn_info *syn, uint8_t code, const uint8_t gw[4],
				 uint8_t *out, size_t cap)
{
	size_t ihl, tot;

	if (syn->len > sizeof(syn->pkt) || ip_lengths(syn->pkt, syn->len, &ihl, &tot) < 0 ||
	    tot < ihl + ICMPH_QUOTE_DATA)
		return 0;
	return unreach(code, gw, syn->src.addr, syn->pkt, ihl + ICMPH_QUOTE_DATA, out, cap);
}

int tcpraw_parse_echo(const uint8_t *ip, size_t len, struct echo_info *out)
{
	size_t ihl, tot;
	const uint8_t *icmp;

	if (ip_lengths(ip, len, &ihl, &tot) < 0 || ip[IPH_PROTO] != IPPROTO_ICMP ||
	    ip_is_fragment(ip) || inet_checksum(ip, ihl, 0) != 0)
		return -1;
	if (tot - ihl < ICMPH_HDR_LEN || tot - ihl > TCPRAW_ECHO_MAX)
		return -1;
	icmp = ip + ihl;
	if (icmp[ICMPH_TYPE] != ICMP_TYPE_ECHO || icmp[ICMPH_CODE] != 0)
		return -1;
	ipport_v4(&out->src, ip + IPH_SRC, icmp + ICMPH_ID);
	out->seq = get16(icmp + ICMPH_SEQ);
	memset(&out->dst, 0, sizeof(out->dst));
	out->dst.family = AF_INET;
	memcpy(out->dst.addr, ip + IPH_DST, 4);
	out->msg = icmp;
	out->len = tot - ihl;
	return 0;
}

size_t tcpraw_build_echo_reply(const struct ipport *from, const struct ipport *to, uint16_t id,
			       const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t *icmp = out + IPH_HDR_MIN;

	if (from->family != AF_INET || to->family != AF_INET || len < ICMPH_HDR_LEN ||
	    len > TCPRAW_ECHO_MAX || msg[ICMPH_TYPE] != ICMP_TYPE_ECHOREPLY || msg[ICMPH_CODE] != 0 ||
	    cap < IPH_HDR_MIN + len)
		return 0;
	ip_header(out, IPH_HDR_MIN + len, 0, IPPROTO_ICMP, from->addr, to->addr);
	memcpy(icmp, msg, len);
	put16(icmp + ICMPH_ID, id);
	put16(icmp + ICMPH_SUM, 0);
	put16(icmp + ICMPH_SUM, inet_checksum(icmp, len, 0));
	return IPH_HDR_MIN + len;
}

size_t tcpraw_build_dgram_unreach(const struct ipport *vm, const struct ipport *dst, uint8_t proto,
				  uint16_t seq, uint8_t code, const uint8_t from[4], uint8_t *out,
				  size_t cap)
{
	/* what the VM sent, as far as the error needs it */
	uint8_t quoted[IPH_HDR_MIN + ICMPH_QUOTE_DATA] = { 0 }, *head = quoted + IPH_HDR_MIN;

	if (vm->family != AF_INET || dst->family != AF_INET)
		return 0;
	if (proto == IPPROTO_UDP) {	/* RFC 768: ports, length, no checksum */
		put16(head, vm->port);
		put16(head + 2, dst->port);
		put16(head + 4, ICMPH_QUOTE_DATA);
	} else if (proto == IPPROTO_ICMP) {
		head[ICMPH_TYPE] = ICMP_TYPE_ECHO;
		put16(head + ICMPH_ID, vm->port);
		put16(head + ICMPH_SEQ, seq);
	} else {
		return 0;
	}
	ip_header(quoted, sizeof(quoted), 0, proto, vm->addr, dst->addr);
	return unreach(code, from, vm->addr, quoted, sizeof(quoted), out, cap);
}
