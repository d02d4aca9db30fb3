/* rrperf.c: the per-packet costs bench/compare measures, as a user's
 * programs meet them: round trips on an open TCP connection and over UDP,
 * and new TCP connections (connect, a request, the response, close).
 *
 *   rrperf serve PORT                   TCP and UDP echo on PORT (any address)
 *   rrperf tcp-rr HOST PORT COUNT       "p50 p99" microseconds of COUNT
 *   rrperf udp-rr HOST PORT COUNT       64-byte request/response round trips
 *   rrperf crr HOST PORT SECONDS        "per-second refused" new connections,
 *                                       one after another
 *
 * HOST is an IPv4 address.  A round trip's clock runs from the send to
 * the whole response.  crr counts a connection done when its response has
 * come and it is closed; a connection that fails counts as refused and the
 * run stops at the first one (a path that refuses would otherwise look
 * fast).  As a web server does, the server closes first once it answered
 * a request that begins with 'C' (crr's): the TIME_WAIT is the server's,
 * and the client's ports do not run out in a long run.  Exit status 1 on
 * any error, with a message. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define MAX_CONNS 1024
#define UDP_TIMEOUT_MS 2000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "rrperf: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in addr_of(const char *host, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char *end;
	long p = strtol(port, &end, 10);

	if (*end || p < 1 || p > 65535 || (host && inet_pton(AF_INET, host, &a.sin_addr) != 1)) {
		fprintf(stderr, "rrperf: bad address %s:%s\n", host ? host : "*", port);
		exit(2);
	}
	a.sin_port = htons((uint16_t)p);
	return a;
}

/* ---- serve ---------------------------------------------------------------- */

static int listener(const struct sockaddr_in *a, int type)
{
	int one = 1, fd = socket(AF_INET, type, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 1024) < 0)
		die("listen");
	return fd;
}

/* echo_tcp() - what arrived goes back; 0 once the peer closed, or after
 * answering a request that asked for the close */
static int echo_tcp(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return 0;
	return write(fd, buf, (size_t)n) == n && buf[0] != 'C';
}

static void echo_udp(int fd)
{
	char buf[2048];
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);

	if (n > 0)
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
}

static _Noreturn void serve(const char *port)
{
	struct sockaddr_in a = addr_of(NULL, port);
	struct pollfd p[MAX_CONNS + 2];
	int n = 2, one = 1;

	p[0] = (struct pollfd){ .fd = listener(&a, SOCK_STREAM), .events = POLLIN };
	p[1] = (struct pollfd){ .fd = listener(&a, SOCK_DGRAM), .events = POLLIN };
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			die("poll");
		if (p[1].revents)
			echo_udp(p[1].fd);
		for (int i = 2; i < n; i++) {
			if (!p[i].revents || echo_tcp(p[i].fd))
				continue;
			close(p[i].fd);
			p[i--] = p[--n];
		}
		if (p[0].revents && n < MAX_CONNS + 2) {
			int c = accept(p[0].fd, NULL, NULL);

			if (c >= 0) {
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				p[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
			}
		}
	}
}

/* ---- clients -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_percentiles(uint64_t *ns, long n)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	printf("%.1f %.1f\n", ns[n / 2] / 1e3, ns[(n * 99) / 100] / 1e3);
}

static int dial(const struct sockaddr_in *a, int type)
{
	int one = 1, fd = socket(AF_INET, type, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* exchange() - one request of `kind` bytes, the whole response; 0 on
 * success */
static int exchange(int fd, int udp, char kind)
{
	char req[MSG], resp[MSG];
	size_t got = 0;

	memset(req, kind, sizeof(req));
	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
		return -1;
	while (got < sizeof(resp)) {
		ssize_t n;

		if (udp) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, UDP_TIMEOUT_MS) != 1)
				return -1;
		}
		n = read(fd, resp + got, sizeof(resp) - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int round_trips(const char *host, const char *port, const char *count, int udp)
{
	struct sockaddr_in a = addr_of(host, port);
	long n = strtol(count, NULL, 10);
	uint64_t *ns;
	int fd;

	if (n < 1 || n > 10000000) {
		fprintf(stderr, "rrperf: bad count %s\n", count);
		return 2;
	}
	ns = calloc((size_t)n, sizeof(*ns));
	if (!ns)
		die("calloc");
	fd = dial(&a, udp ? SOCK_DGRAM : SOCK_STREAM);
	if (fd < 0)
		die("connect");
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (exchange(fd, udp, 'r') < 0) {
			fprintf(stderr, "rrperf: round trip %ld of %ld failed\n", i + 1, n);
			return 1;
		}
		ns[i] = now_ns() - t0;
	}
	print_percentiles(ns, n);
	free(ns);
	close(fd);
	return 0;
}

static int conn_rate(const char *host, const char *port, const char *secs)
{
	struct sockaddr_in a = addr_of(host, port);
	double s = strtod(secs, NULL);
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(s * 1e9), done = 0, refused = 0;

	if (s <= 0 || s > 3600) {
		fprintf(stderr, "rrperf: bad seconds %s\n", secs);
		return 2;
	}
	while (now_ns() < end) {
		int fd = dial(&a, SOCK_STREAM);
		char eof;

		if (fd < 0 || exchange(fd, 0, 'C') < 0 || read(fd, &eof, 1) != 0) {
			refused++;
			if (fd >= 0)
				close(fd);
			break;
		}
		close(fd);
		done++;
	}
	printf("%.2f %llu\n", done / ((now_ns() - t0) / 1e9), (unsigned long long)refused);
	return refused != 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		serve(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "tcp-rr"))
		return round_trips(argv[2], argv[3], argv[4], 0);
	if (argc == 5 && !strcmp(argv[1], "udp-rr"))
		return round_trips(argv[2], argv[3], argv[4], 1);
	if (argc == 5 && !strcmp(argv[1], "crr"))
		return conn_rate(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: rrperf serve PORT | tcp-rr|udp-rr HOST PORT COUNT | "
			"crr HOST PORT SECONDS\n");
	return 2;
}
