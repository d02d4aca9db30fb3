/* util.h: small helpers shared by every part of omnet. */
#ifndef OMNET_UTIL_H
#define OMNET_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define OMNET_DEFAULT_PORT 6950

/* A network ID: 128 bits, written as 32 hex digits. */
#define NETID_LEN 16
#define NETID_HEXLEN 32
struct netid {
	uint8_t b[NETID_LEN];
};

/* An IPv4 or IPv6 address and port, compact; what OPEN frames carry. */
struct ipport {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint16_t port;
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
};

/* Enough for "[ipv6%scope]:port". */
#define ADDRSTRLEN 64

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

int hex_decode(const char *hex, uint8_t *out, size_t outlen);
void hex_encode(const uint8_t *in, size_t len, char *out);

int netid_parse(const char *s, struct netid *id);
void netid_fmt(const struct netid *id, char out[NETID_HEXLEN + 1]);
int netid_eq(const struct netid *a, const struct netid *b);

int addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *ss,
	       socklen_t *len);
const char *addr_fmt(const struct sockaddr *sa, char buf[ADDRSTRLEN]);
socklen_t addr_len(const struct sockaddr *sa);
int addr_eq(const struct sockaddr *a, const struct sockaddr *b);
/* addr_is_any() - the wildcard address (0.0.0.0 or ::) */
int addr_is_any(const struct sockaddr *sa);

void ipport_from_sa(struct ipport *ip, const struct sockaddr *sa);
socklen_t ipport_to_sa(const struct ipport *ip, struct sockaddr_storage *ss);
const char *ipport_fmt(const struct ipport *ip, char buf[ADDRSTRLEN]);
int ipport_eq(const struct ipport *a, const struct ipport *b);

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* ipv6_unicast_scope() - a (16 octets) is global unicast (2000::/3) or
 * unique local (fc00::/7): where a network's own /64 may be */
int ipv6_unicast_scope(const uint8_t *a);
/* ipv4_netmask() - the mask of a prefix length 0..32, in network byte order */
uint32_t ipv4_netmask(unsigned prefix_len);
/* utf8_fix() - every byte of s that is not part of a well-formed UTF-8
 * sequence (a character cut by a length limit, say) becomes '?', in place:
 * JSON carries only UTF-8 */
void utf8_fix(char *s);

#endif
