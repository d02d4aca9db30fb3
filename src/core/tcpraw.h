/* tcpraw.h: IPv4 and IPv6 packet crafting for the provider's capture.
 *
 * The provider sees the VM's TCP SYN on a packet socket (the IP packet, no
 * link header), holds it until the consumer side has connected, then
 * re-injects it, or answers it with a RST (connection refused) or an ICMP
 * destination unreachable, so the VM sees what it would see on a real
 * network.  The VM's ICMP echo requests come the same way; the replies the
 * consumer's ping socket got go back to it as IP packets built here.
 *
 * Each function does IPv6 as well as IPv4: a parser by the packet's version
 * nibble, a builder by the family of the addresses it is given (AF_INET6,
 * else IPv4).  IPv6 means a bare header: a packet with any extension header
 * is refused, and none is written.  ICMP there is ICMPv6 (RFC 4443).
 * Pure: bytes in, bytes out. */
#ifndef OMNET_TCPRAW_H
#define OMNET_TCPRAW_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* IPv4 header (60) and TCP header (60) at their longest, and a little room;
 * an IPv6 header is 40. */
#define TCPRAW_SYN_MAX		128
/* The longest replies the builders write.  A RST: IP + TCP headers, 40
 * octets for IPv4, 60 for IPv6.  An unreachable: IPv4 + ICMP headers + the
 * SYN's IP header (with options) + 8 octets, at most 96; IPv6 + ICMPv6
 * headers + the whole SYN, which is the longer. */
#define TCPRAW_RST_LEN4		(20 + 20)
#define TCPRAW_RST_LEN		(40 + 20)
#define TCPRAW_ICMP_MAX		(40 + 8 + TCPRAW_SYN_MAX)

/* ICMP destination unreachable codes (RFC 792, RFC 1812 5.2.7.1).  For IPv6
 * the builders send the ICMPv6 code of the same meaning (RFC 4443 3.1):
 * NET -> 0 no route, HOST -> 3 address unreachable, PORT -> 4 port
 * unreachable, ADMIN -> 1 administratively prohibited. */
#define TCPRAW_UNREACH_NET	0
#define TCPRAW_UNREACH_HOST	1
#define TCPRAW_UNREACH_PORT	3
#define TCPRAW_UNREACH_ADMIN	13	/* communication administratively prohibited */

/* A held SYN: addresses (AF_INET or AF_INET6) and ports (host order), its
 * sequence number, and the IP packet itself, len octets (the IPv4 total
 * length, or 40 + the IPv6 payload length). */
struct syn_info {
	struct ipport src, dst;
	uint32_t seq;
	size_t len;
	uint8_t pkt[TCPRAW_SYN_MAX];
};

/* inet_checksum() - the Internet checksum (RFC 1071) of data, octet pairs
 * read big-endian, an odd last octet padded with zero, starting from the
 * partial sum @initial (e.g. a pseudo-header's).  Returns the ones'
 * complement of the folded sum in host order: store it big-endian; over
 * data that includes a correct checksum it returns 0. */
uint16_t inet_checksum(const void *data, size_t len, uint32_t initial);

/* tcpraw_parse_syn() - 0 and out filled if @ip (@len octets, may carry
 * link-layer padding past the IP length) is a well-formed TCP SYN: IPv4
 * (version 4, header checksum right, not a fragment) or IPv6 (version 6,
 * next header TCP, no extension header, source not multicast), sane header
 * lengths, SYN set and ACK, RST, FIN clear, nonzero ports, at most
 * TCPRAW_SYN_MAX octets; -1 otherwise.  The TCP checksum is not checked:
 * with checksum offload it may hold only the pseudo-header sum. */
int tcpraw_parse_syn(const uint8_t *ip, size_t len, struct syn_info *out);

/* tcpraw_fix_checksums() - recompute in place the IPv4 header checksum and
 * the TCP checksum (RFC 9293 3.1, with the pseudo-header; RFC 8200 8.1 for
 * IPv6's) of the IPv4 or IPv6 TCP packet @ip, as tcpraw_parse_syn() would
 * take it but for the checksum and flags; does nothing if it is not one or
 * is longer than @len */
void tcpraw_fix_checksums(uint8_t *ip, size_t len);

/* tcpraw_build_rst() - the RST|ACK that a closed port answers syn with
 * (RFC 9293 3.10.7.1): from syn->dst to syn->src, seq 0, ack = the SYN's
 * sequence number + its segment length, window 0, TTL or hop limit 64;
 * IPv6 if syn->src is AF_INET6.  Returns the length (TCPRAW_RST_LEN4 for
 * IPv4, TCPRAW_RST_LEN for IPv6), or 0 if cap is too small. */
size_t tcpraw_build_rst(const struct syn_info *syn, uint8_t *out, size_t cap);

/* tcpraw_build_icmp_unreach() - destination unreachable with @code (a
 * TCPRAW_UNREACH_*), from @from to syn->src.  IPv4: ICMP type 3, quoting
 * the SYN's IP header and first 8 octets of TCP (RFC 792), @from 4 octets.
 * IPv6 (syn->src AF_INET6): ICMPv6 type 1 with the mapped code, quoting as
 * much of the SYN as fits in 1280 octets, i.e. all of it (RFC 4443 3.1),
 * hop limit 64, @from 16 octets.  Returns the length, or 0 if cap is too
 * small or syn->pkt is not a parsed SYN of syn->src's family. */
size_t tcpraw_build_icmp_unreach(const struct syn_info *syn, uint8_t code, const uint8_t *from,
				 uint8_t *out, size_t cap);

/* tcpraw_unreach_code() - the meaning, as one of the TCPRAW_UNREACH_ codes
 * above, of a destination unreachable the far side heard about a VM's
 * datagram: ICMP type 3 (family AF_INET) or ICMPv6 type 1 (AF_INET6) with
 * @code (RFC 1122 3.2.2.1, RFC 4443 3.1).  Net unreachable (ICMP 0, 6
 * and 11; ICMPv6 0, no route), port unreachable and the prohibitions (ICMP
 * 9, 10, 13; ICMPv6 1, 5, 6) keep their meaning; the other ICMP codes
 * (host, protocol, source route, unknown or isolated hosts, host for TOS,
 * precedence) and ICMPv6's address unreachable and "beyond scope" say
 * host unreachable.  -1 for another type, or ICMP's "fragmentation
 * needed" (code 4), which means nothing without its MTU. */
int tcpraw_unreach_code(uint8_t family, uint8_t type, uint8_t code);

/* tcpraw_build_dgram_unreach() - destination unreachable with @code (a
 * TCPRAW_UNREACH_*), from @from to @vm, about a datagram the VM sent to
 * @dst with protocol @proto: UDP from vm->port to dst->port, or an echo
 * request with identifier vm->port and sequence number @seq (proto
 * IPPROTO_ICMP for IPv4, IPPROTO_ICMPV6 for IPv6).  It quotes that
 * datagram's IP header, rebuilt (IPv4: 20 octets, total length 28, TTL 64,
 * DF; IPv6: 40 octets, payload length 8, hop limit 64), and the first 8
 * octets of its transport header, which is what the VM's kernel matches
 * the error to a socket by (RFC 792, RFC 1122 3.2.2, RFC 4443 2.4).  The
 * family is vm's; @from has its length (4 or 16 octets), and the error is
 * ICMPv6 type 1 with the mapped code for IPv6.  Returns the length
 * (TCPRAW_DGRAM_UNREACH_LEN4 for IPv4, TCPRAW_DGRAM_UNREACH_LEN for IPv6),
 * or 0 if vm and dst are not both IPv4 or both IPv6, proto is none of
 * those, or cap is too small. */
#define TCPRAW_DGRAM_UNREACH_LEN4	(20 + 8 + 20 + 8)
#define TCPRAW_DGRAM_UNREACH_LEN	(40 + 8 + 40 + 8)
size_t tcpraw_build_dgram_unreach(const struct ipport *vm, const struct ipport *dst, uint8_t proto,
				  uint16_t seq, uint8_t code, const uint8_t *from, uint8_t *out,
				  size_t cap);

/* The largest ICMP or ICMPv6 message an echo carries here: what fits the
 * packet socket's buffer, an IPv4 header less (a VM's ping -s 1472 at MTU
 * 1500); after an IPv6 header 20 octets fewer fit in that buffer. */
#define TCPRAW_ECHO_MAX		2028

/* An ICMP or ICMPv6 echo request from the VM: its address (AF_INET or
 * AF_INET6) and echo identifier (src.port), the destination (port 0), its
 * sequence number, and the ICMP message (header and data) inside the
 * packet it was parsed from. */
struct echo_info {
	struct ipport src, dst;
	uint16_t seq;
	const uint8_t *msg;
	size_t len;
};

/* tcpraw_parse_echo() - 0 and out filled (out->msg pointing into @ip) if
 * @ip (@len octets, may carry link padding) is a well-formed echo request:
 * IPv4 ICMP (version 4, header checksum right, not a fragment, type 8) or
 * IPv6 ICMPv6 (version 6, next header 58 with no extension header, source
 * not multicast, type 128), code 0, 8 to TCPRAW_ECHO_MAX octets of
 * message; -1 otherwise.  The ICMP checksum is not checked: the far side's
 * ping socket computes its own. */
int tcpraw_parse_echo(const uint8_t *ip, size_t len, struct echo_info *out);

/* tcpraw_build_echo_reply() - the echo reply the VM gets: from @from to
 * @to (both AF_INET or both AF_INET6), identifier @id, the sequence number
 * and data of @msg (@len octets: the echo reply the far side's ping socket
 * received, whose identifier was the socket's own), TTL or hop limit 64,
 * the ICMPv6 checksum over the pseudo-header.  Returns the length (the IP
 * header's, 20 or 40, + len), or 0 if the families differ, msg is not an
 * echo reply of that family (ICMP type 0 or ICMPv6 type 129, code 0, 8
 * octets at least), is longer than TCPRAW_ECHO_MAX, or does not fit in
 * cap. */
size_t tcpraw_build_echo_reply(const struct ipport *from, const struct ipport *to, uint16_t id,
			       const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

#endif
