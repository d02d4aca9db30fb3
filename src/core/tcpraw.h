/* tcpraw.h: IPv4 packet crafting for the provider's capture.
 *
 * The provider sees the VM's TCP SYN on a packet socket (the IP packet, no
 * link header), holds it until the consumer side has connected, then
 * re-injects it, or answers it with a RST (connection refused) or an ICMP
 * destination unreachable, so the VM sees what it would see on a real
 * network.  The VM's ICMP echo requests come the same way; the replies the
 * consumer's ping socket got go back to it as IPv4 packets built here.
 * Pure: bytes in, bytes out. */
#ifndef OMNET_TCPRAW_H
#define OMNET_TCPRAW_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* IPv4 header (60) and TCP header (60) at their longest, and a little room. */
#define TCPRAW_SYN_MAX		128
/* The longest reply the builders write: IPv4 + TCP headers for a RST;
 * IPv4 + ICMP headers + the SYN's IP header (with options) + 8 octets
 * for an unreachable. */
#define TCPRAW_RST_LEN		40
#define TCPRAW_ICMP_MAX		(20 + 8 + 60 + 8)

/* ICMP destination unreachable codes (RFC 792, RFC 1812 5.2.7.1) */
#define TCPRAW_UNREACH_NET	0
#define TCPRAW_UNREACH_HOST	1
#define TCPRAW_UNREACH_PORT	3
#define TCPRAW_UNREACH_ADMIN	13	/* communication administratively prohibited */

/* A held SYN: addresses and ports (host order), its sequence number, and
 * the IP packet itself, len octets (the IP total length). */
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
 * link-layer padding past the IP total length) is a well-formed IPv4 TCP
 * SYN: version 4, header checksum right, not a fragment, sane header
 * lengths, SYN set and ACK, RST, FIN clear, nonzero ports, at most
 * TCPRAW_SYN_MAX octets; -1 otherwise.  The TCP checksum is not checked:
 * with checksum offload it may hold only the pseudo-header sum. */
int tcpraw_parse_syn(const uint8_t *ip, size_t len, struct syn_info *out);

/* tcpraw_fix_checksums() - recompute in place the IPv4 header checksum and
 * the TCP checksum (RFC 9293 3.1, with the pseudo-header) of the IPv4 TCP
 * packet @ip; does nothing if it is not one or is longer than @len */
void tcpraw_fix_checksums(uint8_t *ip, size_t len);

/* tcpraw_build_rst() - the RST|ACK that a closed port answers syn with
 * (RFC 9293 3.10.7.1): from syn->dst to syn->src, seq 0, ack = the SYN's
 * sequence number + its segment length, window 0, TTL 64.  Returns the
 * length (TCPRAW_RST_LEN), or 0 if cap is too small. */
size_t tcpraw_build_rst(const struct syn_info *syn, uint8_t *out, size_t cap);

/* tcpraw_build_icmp_unreach() - ICMP destination unreachable (type 3) with
 * @code, from @gw to syn->src, quoting the SYN's IP header and first 8
 * octets of TCP (RFC 792).  Returns the length, or 0 if cap is too small
 * or syn->pkt is not a parsed SYN. */
size_t tcpraw_build_icmp_unreach(const struct syn_info *syn, uint8_t code, const uint8_t gw[4],
				 uint8_t *out, size_t cap);

/* tcpraw_build_dgram_unreach() - ICMP destination unreachable (type 3)
 * with @code, from @from to @vm, about a datagram the VM sent to @dst with
 * protocol @proto: UDP from vm->port to dst->port, or an ICMP echo request
 * with identifier vm->port and sequence number @seq.  It quotes that
 * datagram's IPv4 header, rebuilt (28 octets, TTL 64, DF), and the first 8
 * octets of its transport header, which is what the VM's kernel matches
 * the error to a socket by (RFC 792, RFC 1122 3.2.2).  Returns the length
 * (TCPRAW_DGRAM_UNREACH_LEN), or 0 if an address is not IPv4, proto is
 * neither UDP nor ICMP, or cap is too small. */
#define TCPRAW_DGRAM_UNREACH_LEN	(20 + 8 + 20 + 8)
size_t tcpraw_build_dgram_unreach(const struct ipport *vm, const struct ipport *dst, uint8_t proto,
				  uint16_t seq, uint8_t code, const uint8_t from[4], uint8_t *out,
				  size_t cap);

/* The largest ICMP message an echo carries here: what fits the packet
 * socket's buffer, an IPv4 header less (a VM's ping -s 1472 at MTU 1500). */
#define TCPRAW_ECHO_MAX		2028

/* An ICMP echo request from the VM: its address and echo identifier
 * (src.port), the destination (port 0), its sequence number, and the ICMP
 * message (header and data) inside the packet it was parsed from. */
struct echo_info {
	struct ipport src, dst;
	uint16_t seq;
	const uint8_t *msg;
	size_t len;
};

/* tcpraw_parse_echo() - 0 and out filled (out->msg pointing into @ip) if
 * @ip (@len octets, may carry link padding) is a well-formed IPv4 ICMP
 * echo request: version 4, header checksum right, not a fragment, type 8
 * code 0, at most TCPRAW_ECHO_MAX octets of ICMP; -1 otherwise.  The ICMP
 * checksum is not checked: the far side's ping socket computes its own. */
int tcpraw_parse_echo(const uint8_t *ip, size_t len, struct echo_info *out);

/* tcpraw_build_echo_reply() - the IPv4 echo reply the VM gets: from @from
 * to @to, identifier @id, the sequence number and data of @msg (@len
 * octets: the echo reply the far side's ping socket received, whose
 * identifier was the socket's own), TTL 64.  Returns the length, or 0 if
 * msg is not an echo reply (type 0, code 0, 8 octets at least), is longer
 * than TCPRAW_ECHO_MAX, or does not fit in cap. */
size_t tcpraw_build_echo_reply(const struct ipport *from, const struct ipport *to, uint16_t id,
			       const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

#endif
