/* test_config.c: the configuration parser: embedded defaults, the shipped
 * example file, every value a key takes, and every error reported at the
 * right line. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* what the build embeds, and what etc/omnetd.conf documents */
#ifdef OMNET_STATEDIR
#define STATEDIR OMNET_STATEDIR
#else
#define STATEDIR "/var/lib/omnetd"
#endif
#ifdef OMNET_RUNDIR
#define SOCKET OMNET_RUNDIR "/omnetd.sock"
#else
#define SOCKET "/run/omnetd/omnetd.sock"
#endif
#define DOC_STATEDIR "/var/lib/omnetd"
#define DOC_SOCKET "/run/omnetd/omnetd.sock"

#define FP "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NET "0123456789abcdef0123456789abcdef"
#define NET2 "fedcba9876543210fedcba9876543210"

/* a peer and a network, for forwards to refer to */
#define PEER_AND_NET "[peer a]\nfingerprint = " FP "\n[network " NET "]\npeer = a\n"

static struct config cfg;
static char err[1024];
static char tmp_path[64];

static void setup(void)
{
	config_defaults(&cfg);
	err[0] = '\0';
}

static void teardown(void)
{
	config_free(&cfg);
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
}

/* load() - text as file "t.conf"; the test fails on an error */
static void load(const char *text)
{
	int rc = config_load_string(&cfg, "t.conf", text, err, sizeof(err));

	ck_assert_msg(rc == 0, "unexpected error: %s", err);
}

/* expect_error() - text is refused with a message starting with want */
static void expect_error(const char *text, const char *want)
{
	int rc = config_load_string(&cfg, "t.conf", text, err, sizeof(err));

	ck_assert_msg(rc == -1, "accepted, wanted \"%s\"", want);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got \"%s\", wanted \"%s\"", err,
		      want);
}

/* write_tmp() - len bytes into a new file at tmp_path, removed in teardown */
static const char *write_tmp(const char *data, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

/* read_all() - a whole file into a NUL-terminated buffer the caller frees */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = xmalloc(1 << 20);
	size_t n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static const char *etc_conf(void)
{
	const char *p = getenv("OMNET_ETC_CONF");

	return p && *p ? p : "etc/omnetd.conf";
}

/* uncomment() - the example with "#key = value" lines uncommented: in the
 * global part only (up to the first "#[") or everywhere */
static char *uncomment(const char *text, int sections_too)
{
	char *out = xmalloc(strlen(text) + 1), *o = out;
	int in_sections = 0;
	const char *s;

	for (s = text; *s; ) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) + 1 : strlen(s);

		if (s[0] == '#' && s[1] == '[')
			in_sections = 1;
		if (s[0] == '#' && ((s[1] >= 'a' && s[1] <= 'z') || s[1] == '[') &&
		    (sections_too || !in_sections)) {
			s++;
			n--;
		}
		memcpy(o, s, n);
		o += n;
		s += n;
	}
	*o = '\0';
	return out;
}

static void assert_u64(uint64_t got, uint64_t want, const char *what)
{
	ck_assert_msg(got == want, "%s: %llu, wanted %llu", what, (unsigned long long)got,
		      (unsigned long long)want);
}

static void assert_addr4(struct in_addr a, const char *want, const char *what)
{
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, want) == 0, "%s: %s, wanted %s", what, buf, want);
}

/* assert_globals_eq() - every global setting of a equals b's */
static void assert_globals_eq(const struct config *a, const struct config *b)
{
	ck_assert(addr_eq((const struct sockaddr *)&a->listen,
			  (const struct sockaddr *)&b->listen));
	ck_assert_int_eq(a->listen_len, b->listen_len);
	ck_assert_str_eq(a->state_dir, b->state_dir);
	ck_assert_str_eq(a->control_socket, b->control_socket);
	ck_assert_str_eq(a->resolv_conf, b->resolv_conf);
	ck_assert_str_eq(a->user, b->user);
	ck_assert_int_eq(a->log_level, b->log_level);
	assert_u64(a->probe_interval_min_ms, b->probe_interval_min_ms, "probe min");
	assert_u64(a->probe_interval_max_ms, b->probe_interval_max_ms, "probe max");
	assert_u64(a->probe_timeout_ms, b->probe_timeout_ms, "probe timeout");
	assert_u64(a->backoff_min_ms, b->backoff_min_ms, "backoff min");
	assert_u64(a->backoff_max_ms, b->backoff_max_ms, "backoff max");
	assert_u64(a->connect_timeout_ms, b->connect_timeout_ms, "connect timeout");
	assert_u64(a->udp_idle_timeout_ms, b->udp_idle_timeout_ms, "udp idle");
	assert_u64(a->datagram_max_age_ms, b->datagram_max_age_ms, "datagram age");
	assert_u64(a->handshake_timeout_ms, b->handshake_timeout_ms, "handshake");
	assert_u64(a->dhcp_lease_ms, b->dhcp_lease_ms, "lease");
	ck_assert_uint_eq(a->mtu, b->mtu);
	ck_assert_int_eq(a->pmtu_probe, b->pmtu_probe);
	ck_assert_int_eq(a->cc, b->cc);
	assert_u64(a->flow_window_max_bytes, b->flow_window_max_bytes, "flow window");
	assert_u64(a->link_window_max_bytes, b->link_window_max_bytes, "link window");
	assert_u64(a->send_buffer_bytes, b->send_buffer_bytes, "send buffer");
	assert_u64(a->link_buffer_bytes, b->link_buffer_bytes, "link buffer");
	assert_u64(a->memory_limit_bytes, b->memory_limit_bytes, "memory limit");
	ck_assert_uint_eq(a->max_flows, b->max_flows);
	assert_u64(a->busy_poll_us, b->busy_poll_us, "busy poll");
	ck_assert_uint_eq(a->gateway.s_addr, b->gateway.s_addr);
	ck_assert_uint_eq(a->dns.s_addr, b->dns.s_addr);
	ck_assert_uint_eq(a->dhcp_start.s_addr, b->dhcp_start.s_addr);
	ck_assert_uint_eq(a->prefix_len, b->prefix_len);
	ck_assert_int_eq(a->ipv6, b->ipv6);
	ck_assert_int_eq(a->prefix6.set, b->prefix6.set);
	ck_assert(memcmp(&a->prefix6.prefix, &b->prefix6.prefix, 16) == 0);
}

/* --- defaults and the shipped file --- */

START_TEST(test_defaults_are_complete_and_sane)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg.listen;
	char buf[ADDRSTRLEN];

	ck_assert_str_eq(cfg.path, "");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&cfg.listen, buf), "0.0.0.0:6950");
	ck_assert_int_eq(cfg.listen_len, sizeof(*sin));
	ck_assert_str_eq(cfg.state_dir, STATEDIR);
	ck_assert_str_eq(cfg.control_socket, SOCKET);
	ck_assert_str_eq(cfg.resolv_conf, "/etc/resolv.conf");
	ck_assert_str_eq(cfg.user, "omnet");
	ck_assert_int_eq(cfg.log_level, LOG_LVL_INFO);
	assert_u64(cfg.probe_interval_min_ms, 500, "probe min");
	assert_u64(cfg.probe_interval_max_ms, 15000, "probe max");
	assert_u64(cfg.probe_timeout_ms, 2500, "probe timeout");
	assert_u64(cfg.backoff_min_ms, 500, "backoff min");
	assert_u64(cfg.backoff_max_ms, 15000, "backoff max");
	assert_u64(cfg.connect_timeout_ms, 30000, "connect");
	assert_u64(cfg.udp_idle_timeout_ms, 60000, "udp idle");
	assert_u64(cfg.datagram_max_age_ms, 2000, "datagram age");
	assert_u64(cfg.handshake_timeout_ms, 10000, "handshake");
	assert_u64(cfg.dhcp_lease_ms, 86400000, "lease");
	ck_assert_uint_eq(cfg.mtu, 1500);
	ck_assert_int_eq(cfg.pmtu_probe, 0);
	ck_assert_int_eq(cfg.cc, CONFIG_CC_BBR);
	assert_u64(cfg.flow_window_max_bytes, 16777216, "flow window");
	assert_u64(cfg.link_window_max_bytes, 67108864, "link window");
	assert_u64(cfg.send_buffer_bytes, 16777216, "send buffer");
	assert_u64(cfg.link_buffer_bytes, 67108864, "link buffer");
	assert_u64(cfg.memory_limit_bytes, 268435456, "memory");
	ck_assert_uint_eq(cfg.max_flows, 65536);
	assert_u64(cfg.busy_poll_us, 50, "busy poll");
	assert_addr4(cfg.gateway, "10.0.2.2", "gateway");
	assert_addr4(cfg.dns, "10.0.2.3", "dns");
	assert_addr4(cfg.dhcp_start, "10.0.2.15", "dhcp-start");
	ck_assert_uint_eq(cfg.prefix_len, 24);
	ck_assert(cfg.peer == NULL && cfg.npeer == 0);
	ck_assert(cfg.network == NULL && cfg.nnetwork == 0);
	ck_assert(cfg.forward == NULL && cfg.nforward == 0);
	ck_assert(cfg.egress == NULL && cfg.negress == 0);
}
END_TEST

START_TEST(test_defaults_pass_their_own_checks)
{
	struct config defaults;

	config_defaults(&defaults);
	load("");
	assert_globals_eq(&cfg, &defaults);
	ck_assert_str_eq(cfg.path, "t.conf");
}
END_TEST

START_TEST(test_shipped_example_parses)
{
	struct config defaults;
	int rc;

	config_defaults(&defaults);
	rc = config_load_file(&cfg, etc_conf(), err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(cfg.path, etc_conf());
	assert_globals_eq(&cfg, &defaults);
	ck_assert_uint_eq(cfg.npeer + cfg.nnetwork + cfg.nforward + cfg.negress, 0);
}
END_TEST

START_TEST(test_shipped_example_shows_the_real_defaults)
{
	struct config defaults;
	char *text = read_all(etc_conf());
	char *globals = uncomment(text, 0);

	config_defaults(&defaults);
	/* a build for another prefix embeds other paths than the file shows */
	strcpy(defaults.state_dir, DOC_STATEDIR);
	strcpy(defaults.control_socket, DOC_SOCKET);
	ck_assert_msg(strstr(globals, "\nmtu = 1500\n") != NULL, "nothing uncommented");
	load(globals);
	assert_globals_eq(&cfg, &defaults);
	free(globals);
	free(text);
}
END_TEST

START_TEST(test_shipped_example_sections_are_valid)
{
	char *text = read_all(etc_conf());
	char *all = uncomment(text, 1);

	load(all);
	ck_assert_uint_eq(cfg.npeer, 2);
	ck_assert_uint_eq(cfg.nnetwork, 1);
	ck_assert_uint_eq(cfg.nforward, 2);
	ck_assert_uint_ge(cfg.negress, 4);
	free(all);
	free(text);
}
END_TEST

/* --- values --- */

START_TEST(test_every_global_key_sets_its_field)
{
	char buf[ADDRSTRLEN];

	load("listen = [2001:db8::1]:7000\n"
	     "state-dir = /srv/omnet\n"
	     "control-socket = /tmp/o.sock\n"
	     "user = nobody\n"
	     "log-level = debug\n"
	     "resolv-conf = /run/systemd/resolve/resolv.conf\n"
	     "probe-interval-min-ms = 100\n"
	     "probe-interval-max-ms = 200\n"
	     "probe-timeout-ms = 300\n"
	     "backoff-min-ms = 400\n"
	     "backoff-max-ms = 500\n"
	     "connect-timeout-ms = 600\n"
	     "udp-idle-timeout-ms = 7000\n"
	     "datagram-max-age-ms = 800\n"
	     "handshake-timeout-ms = 900\n"
	     "mtu = 1280\n"
	     "pmtu-probe = yes\n"
	     "congestion-control = newreno\n"
	     "flow-window-max-bytes = 1048576\n"
	     "link-window-max-bytes = 33554432\n"
	     "send-buffer-bytes = 262144\n"
	     "link-buffer-bytes = 8388608\n"
	     "memory-limit-bytes = 134217728\n"
	     "max-flows = 1000\n"
	     "gateway = 192.168.50.1\n"
	     "dns = 192.168.50.53\n"
	     "dhcp-start = 192.168.50.100\n"
	     "prefix-length = 16\n"
	     "dhcp-lease-ms = 3600000\n"
	     "ipv6 = no\n"
	     "ipv6-prefix = 2001:db8:7:8::/64\n");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&cfg.listen, buf),
			 "[2001:db8::1]:7000");
	ck_assert_int_eq(cfg.listen_len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(cfg.state_dir, "/srv/omnet");
	ck_assert_str_eq(cfg.control_socket, "/tmp/o.sock");
	ck_assert_str_eq(cfg.user, "nobody");
	ck_assert_int_eq(cfg.log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(cfg.resolv_conf, "/run/systemd/resolve/resolv.conf");
	assert_u64(cfg.probe_interval_min_ms, 100, "probe min");
	assert_u64(cfg.probe_interval_max_ms, 200, "probe max");
	assert_u64(cfg.probe_timeout_ms, 300, "probe timeout");
	assert_u64(cfg.backoff_min_ms, 400, "backoff min");
	assert_u64(cfg.backoff_max_ms, 500, "backoff max");
	assert_u64(cfg.connect_timeout_ms, 600, "connect");
	assert_u64(cfg.udp_idle_timeout_ms, 7000, "udp idle");
	assert_u64(cfg.datagram_max_age_ms, 800, "datagram age");
	assert_u64(cfg.handshake_timeout_ms, 900, "handshake");
	ck_assert_uint_eq(cfg.mtu, 1280);
	ck_assert_int_eq(cfg.pmtu_probe, 1);
	ck_assert_int_eq(cfg.cc, CONFIG_CC_NEWRENO);
	assert_u64(cfg.flow_window_max_bytes, 1048576, "flow window");
	assert_u64(cfg.link_window_max_bytes, 33554432, "link window");
	assert_u64(cfg.send_buffer_bytes, 262144, "send buffer");
	assert_u64(cfg.link_buffer_bytes, 8388608, "link buffer");
	assert_u64(cfg.memory_limit_bytes, 134217728, "memory");
	ck_assert_uint_eq(cfg.max_flows, 1000);
	assert_addr4(cfg.gateway, "192.168.50.1", "gateway");
	assert_addr4(cfg.dns, "192.168.50.53", "dns");
	assert_addr4(cfg.dhcp_start, "192.168.50.100", "dhcp-start");
	ck_assert_uint_eq(cfg.prefix_len, 16);
	assert_u64(cfg.dhcp_lease_ms, 3600000, "lease");
	ck_assert_int_eq(cfg.ipv6, 0);
	ck_assert_int_eq(cfg.prefix6.set, 1);
	ck_assert_str_eq(inet_ntop(AF_INET6, &cfg.prefix6.prefix, buf, sizeof(buf)), "2001:db8:7:8::");
}
END_TEST

START_TEST(test_listen_forms)
{
	char buf[ADDRSTRLEN];

	load("listen = :0\n");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&cfg.listen, buf), "0.0.0.0:0");
	config_defaults(&cfg);
	load("listen = 127.0.0.1\n");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&cfg.listen, buf), "127.0.0.1:6950");
}
END_TEST

START_TEST(test_numbers_at_range_edges)
{
	load("mtu = 576\nmax-flows = 1\nprefix-length = 30\n");
	ck_assert_uint_eq(cfg.mtu, 576);
	config_defaults(&cfg);
	load("mtu = 65535\nmemory-limit-bytes = 1099511627776\n");
	ck_assert_uint_eq(cfg.mtu, 65535);
	assert_u64(cfg.memory_limit_bytes, 1099511627776ull, "memory");
	expect_error("mtu = 575\n", "t.conf:1: mtu: 575 is out of range (576..65535 bytes)");
	expect_error("mtu = 99999999999999999999999\n",
		     "t.conf:1: mtu: 99999999999999999999999 is out of range");
}
END_TEST

START_TEST(test_numbers_with_trailing_garbage_are_rejected)
{
	expect_error("mtu = 1500x\n", "t.conf:1: mtu: '1500x' is not a number (576..65535 bytes)");
	expect_error("\nprobe-timeout-ms = 2500ms\n",
		     "t.conf:2: probe-timeout-ms: '2500ms' is not a number (10..600000 ms)");
	expect_error("max-flows = 10 0\n", "t.conf:1: max-flows: '10 0' is not a number");
	expect_error("max-flows = -1\n", "t.conf:1: max-flows: '-1' is not a number");
	expect_error("max-flows = +1\n", "t.conf:1: max-flows: '+1' is not a number");
	expect_error("max-flows = 0x10\n", "t.conf:1: max-flows: '0x10' is not a number");
	load("max-flows = 100 # a comment right after the number\n");
	ck_assert_uint_eq(cfg.max_flows, 100);
}
END_TEST

START_TEST(test_peers_may_be_named_before_they_are_defined)
{
	load("[network " NET "]\npeer = later\n"
	     "[peer later]\nfingerprint = " FP "\nrelay = relay9\n"
	     "[peer relay9]\nfingerprint = " FP "\n");
	ck_assert_uint_eq(cfg.npeer, 2);
	ck_assert_str_eq(cfg.network[0].peer, "later");
	ck_assert_int_eq(cfg.network[0].peer_line, 2);
	ck_assert_ptr_nonnull(config_find_peer(&cfg, "later"));
	ck_assert_ptr_nonnull(config_find_peer(&cfg, "relay9"));
	ck_assert_ptr_null(config_find_peer(&cfg, "nobody"));
	ck_assert_str_eq(config_find_peer(&cfg, "later")->relay[0], "relay9");
	ck_assert_int_eq(config_find_peer(&cfg, "later")->relay_line[0], 5);
	ck_assert_int_eq(config_find_peer(&cfg, "relay9")->line, 6);
}
END_TEST

START_TEST(test_repeated_endpoints_and_relays_accumulate)
{
	const struct config_peer *p;
	char buf[ADDRSTRLEN];

	load("[peer a]\nfingerprint = " FP "\n"
	     "endpoint = 192.0.2.2:6950\n"
	     "relay = r1\n"
	     "endpoint = 198.51.100.9:7000\n"
	     "endpoint = [2001:db8::1]:6950\n"
	     "relay = r2\n"
	     "[peer r1]\nfingerprint = " FP "\n"
	     "[peer r2]\nfingerprint = " FP "\n");
	p = config_find_peer(&cfg, "a");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->nendpoint, 3);
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[0], buf),
			 "192.0.2.2:6950");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[1], buf),
			 "198.51.100.9:7000");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[2], buf),
			 "[2001:db8::1]:6950");
	ck_assert_uint_eq(p->nrelay, 2);
	ck_assert_str_eq(p->relay[0], "r1");
	ck_assert_str_eq(p->relay[1], "r2");
	ck_assert_int_eq(p->relay_line[0], 4);
	ck_assert_int_eq(p->relay_line[1], 7);
}
END_TEST

START_TEST(test_endpoint_default_port_and_ipv6)
{
	const struct config_peer *p;
	char buf[ADDRSTRLEN];

	load("[peer a]\nfingerprint = " FP "\n"
	     "endpoint = 192.0.2.2\n"
	     "endpoint = [2001:db8::1]:6950\n"
	     "endpoint = 2001:db8::2\n"
	     "endpoint = [2001:db8::3]\n");
	p = &cfg.peer[0];
	ck_assert_uint_eq(p->nendpoint, 4);
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[0], buf),
			 "192.0.2.2:6950");
	ck_assert_int_eq(p->endpoint[1].ss_family, AF_INET6);
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[1], buf),
			 "[2001:db8::1]:6950");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[2], buf),
			 "[2001:db8::2]:6950");
	ck_assert_str_eq(addr_fmt((const struct sockaddr *)&p->endpoint[3], buf),
			 "[2001:db8::3]:6950");
}
END_TEST

START_TEST(test_fingerprint_is_stored_in_lowercase)
{
	load("[peer a]\nfingerprint = sha256:"
	     "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n");
	ck_assert_str_eq(cfg.peer[0].fingerprint, "sha256:"
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_quoted_values_keep_spaces_and_hash)
{
	load("state-dir = \"/srv/my omnet # state\"   # the comment\n"
	     "resolv-conf=\"/etc/a \\\"b\\\" \\\\c\"\n"
	     "user=\"omnet\"\n"
	     "control-socket =   /run/o.sock#comment\n");
	ck_assert_str_eq(cfg.state_dir, "/srv/my omnet # state");
	ck_assert_str_eq(cfg.resolv_conf, "/etc/a \"b\" \\c");
	ck_assert_str_eq(cfg.user, "omnet");
	ck_assert_str_eq(cfg.control_socket, "/run/o.sock");
}
END_TEST

START_TEST(test_crlf_line_endings_are_accepted)
{
	load("# comment\r\nmtu = 1400\r\n\r\n[peer a]\r\nfingerprint = " FP "\r\n"
	     "endpoint = 192.0.2.2:6950\r\n[egress]\r\nallow = 192.0.2.0/24\r\n");
	ck_assert_uint_eq(cfg.mtu, 1400);
	ck_assert_uint_eq(cfg.peer[0].nendpoint, 1);
	ck_assert_str_eq(cfg.egress[0].spec, "192.0.2.0/24");
	expect_error("mtu = 1400\r\nmtu = x\r\n", "t.conf:2: duplicate key 'mtu'");
}
END_TEST

START_TEST(test_last_line_without_newline)
{
	load("mtu = 1400");
	ck_assert_uint_eq(cfg.mtu, 1400);
	config_defaults(&cfg);
	expect_error("mtu = 1400\nmtu = 1300", "t.conf:2: duplicate key 'mtu'");
}
END_TEST

START_TEST(test_empty_and_comment_only_files)
{
	load("");
	load("\n\n   \n\t\n");
	load("# just\n   # comments\n#[peer x]\n");
	ck_assert_uint_eq(cfg.npeer, 0);
}
END_TEST

START_TEST(test_utf8_byte_order_mark_is_skipped)
{
	load("\xef\xbb\xbfmtu = 1400\n");
	ck_assert_uint_eq(cfg.mtu, 1400);
}
END_TEST

START_TEST(test_nul_byte_is_rejected_with_its_line)
{
	static const char text[] = "mtu = 1400\n# ok\nuser = om\0net\nmtu = 1\n";
	const char *path;

	ck_assert_int_eq(config_load_buf(&cfg, "t.conf", text, sizeof(text) - 1, err,
					 sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:3: NUL byte in line");
	path = write_tmp(text, sizeof(text) - 1);
	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
		      strcmp(err + strlen(path), ":3: NUL byte in line") == 0, "%s", err);
}
END_TEST

START_TEST(test_long_line_is_rejected_with_its_line)
{
	char *text = xmalloc(6000);
	size_t n;

	n = (size_t)sprintf(text, "mtu = 1400\n\n# ");
	memset(text + n, 'x', 5000 - 2);
	strcpy(text + n + 4998, "\nmtu = 1\n");
	expect_error(text, "t.conf:3: line longer than 4096 bytes");

	/* exactly 4096 bytes is still a line, even with CR LF after it */
	n = (size_t)sprintf(text, "# ");
	memset(text + n, 'x', 4096 - 2);
	strcpy(text + 4096, "\r\nmtu = 1400\n");
	load(text);
	ck_assert_uint_eq(cfg.mtu, 1400);
	config_defaults(&cfg);
	text[4096] = 'x';
	expect_error(text, "t.conf:1: line longer than 4096 bytes");
	free(text);
}
END_TEST

START_TEST(test_unreadable_file_reports_cannot_read)
{
	ck_assert_int_eq(config_load_file(&cfg, "/nonexistent/omnetd.conf", err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "/nonexistent/omnetd.conf: cannot read: No such file or directory");
	ck_assert_int_eq(config_load_file(&cfg, "/", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/: cannot read: Is a directory");
	ck_assert_str_eq(cfg.path, "");
}
END_TEST

START_TEST(test_file_errors_name_the_file)
{
	const char *path = write_tmp("mtu = 1400\n[peer a]\n", 20);
	char want[128];

	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: [peer a] has no fingerprint", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_failed_load_leaves_config_unchanged)
{
	struct config defaults;

	config_defaults(&defaults);
	load("[peer a]\nfingerprint = " FP "\n");
	ck_assert_int_eq(config_load_string(&cfg, "u.conf", "[peer b]\nfingerprint = " FP
					    "\n[peer c]\n", err, sizeof(err)), -1);
	ck_assert_uint_eq(cfg.npeer, 1);
	ck_assert_str_eq(cfg.path, "t.conf");
	ck_assert_int_eq(config_load_string(&cfg, "u.conf", "mtu = 1280\nmtu = x\n", err,
					    sizeof(err)), -1);
	ck_assert_uint_eq(cfg.mtu, 1500);
	assert_globals_eq(&cfg, &defaults);
}
END_TEST

START_TEST(test_second_load_adds_to_the_first)
{
	load("[peer a]\nfingerprint = " FP "\n");
	load("[peer b]\nfingerprint = " FP "\n");
	ck_assert_uint_eq(cfg.npeer, 2);
	expect_error("[peer a]\nfingerprint = " FP "\n", "t.conf:1: duplicate [peer a]");
}
END_TEST

START_TEST(test_free_keeps_the_defaults)
{
	load("mtu = 1400\n[peer a]\nfingerprint = " FP "\n[egress]\ndeny = port 25\n");
	config_free(&cfg);
	ck_assert_uint_eq(cfg.npeer, 0);
	ck_assert_ptr_null(cfg.peer);
	ck_assert_uint_eq(cfg.negress, 0);
	ck_assert_uint_eq(cfg.mtu, 1400);
	config_free(&cfg);
	load("[peer a]\nfingerprint = " FP "\n");
	ck_assert_uint_eq(cfg.npeer, 1);
}
END_TEST

START_TEST(test_network_keys_and_inherited_lan)
{
	const struct config_network *n;
	struct netid id;

	char buf[INET6_ADDRSTRLEN];

	load("gateway = 10.9.0.1\ndns = 10.9.0.2\ndhcp-start = 10.9.0.50\nprefix-length = 16\n"
	     "[peer a]\nfingerprint = " FP "\n"
	     "[network " NET "]\npeer = a\nnetns = /run/netns/vm1\niface = tap0\n"
	     "[network " NET2 "]\npeer = a\nnetns = vm2\niface = veth-vm2\n"
	     "gateway = 192.168.7.1\ndns = 192.168.7.1\ndhcp-start = 192.168.7.10\n"
	     "prefix-length = 28\nipv6 = no\nipv6-prefix = fd00:7::/64\n");
	ck_assert_int_eq(netid_parse(NET, &id), 0);
	n = config_find_network(&cfg, &id);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->peer, "a");
	ck_assert_str_eq(n->netns, "/run/netns/vm1");
	ck_assert_str_eq(n->iface, "tap0");
	assert_addr4(n->gateway, "10.9.0.1", "inherited gateway");
	assert_addr4(n->dns, "10.9.0.2", "inherited dns");
	assert_addr4(n->dhcp_start, "10.9.0.50", "inherited dhcp-start");
	ck_assert_uint_eq(n->prefix_len, 16);
	ck_assert_int_eq(n->ipv6, 1);
	ck_assert_int_eq(n->prefix6.set, 0);
	ck_assert_int_eq(n->line, 7);
	n = &cfg.network[1];
	ck_assert_str_eq(n->netns, "vm2");
	assert_addr4(n->gateway, "192.168.7.1", "gateway");
	assert_addr4(n->dhcp_start, "192.168.7.10", "dhcp-start");
	ck_assert_uint_eq(n->prefix_len, 28);
	ck_assert_int_eq(n->ipv6, 0);
	ck_assert_int_eq(n->prefix6.set, 1);
	ck_assert_str_eq(inet_ntop(AF_INET6, &n->prefix6.prefix, buf, sizeof(buf)), "fd00:7::");
}
END_TEST

START_TEST(test_consumer_network_needs_no_netns)
{
	load(PEER_AND_NET);
	ck_assert_str_eq(cfg.network[0].netns, "");
	ck_assert_str_eq(cfg.network[0].iface, "");
}
END_TEST

START_TEST(test_forward_keys)
{
	const struct config_forward *f;
	struct netid id;

	load(PEER_AND_NET "[forward]\nproto = tcp\nexternal-port = 8080\nvm-port = 80\n"
	     "[forward]\nnetwork = " NET "\nproto = udp\nexternal-port = 5353\nvm-port = 53\n"
	     "map = natpmp\n"
	     "[forward]\nproto = tcp\nexternal-port = 2222\nvm-port = 22\nmap = auto\n");
	ck_assert_int_eq(netid_parse(NET, &id), 0);
	ck_assert_uint_eq(cfg.nforward, 3);
	f = &cfg.forward[0];
	ck_assert_int_eq(f->has_net, 0);
	ck_assert(netid_eq(&f->net, &id));
	ck_assert_uint_eq(f->proto, IPPROTO_TCP);
	ck_assert_uint_eq(f->external_port, 8080);
	ck_assert_uint_eq(f->vm_port, 80);
	ck_assert_int_eq(f->map, CONFIG_MAP_NONE);
	ck_assert_int_eq(f->line, 5);
	f = &cfg.forward[1];
	ck_assert_int_eq(f->has_net, 1);
	ck_assert(netid_eq(&f->net, &id));
	ck_assert_uint_eq(f->proto, IPPROTO_UDP);
	ck_assert_int_eq(f->map, CONFIG_MAP_NATPMP);
	ck_assert_int_eq(cfg.forward[2].map, CONFIG_MAP_AUTO);
}
END_TEST

START_TEST(test_same_port_on_two_protocols_is_two_forwards)
{
	load(PEER_AND_NET "[forward]\nproto = tcp\nexternal-port = 53\nvm-port = 53\n"
	     "[forward]\nproto = udp\nexternal-port = 53\nvm-port = 53\n");
	ck_assert_uint_eq(cfg.nforward, 2);
}
END_TEST

START_TEST(test_egress_rules_are_parsed)
{
	const struct config_egress_rule *r;

	load("[egress]\nallow = 192.168.1.0/24\ndeny = 203.0.113.0/24 port 25\n"
	     "allow = port 8000-8099\n[egress]\nallow = 2001:db8::/32 port 443\n"
	     "deny = \"192.0.2.7\"\n");
	ck_assert_uint_eq(cfg.negress, 5);
	r = &cfg.egress[0];
	ck_assert_int_eq(r->allow, 1);
	ck_assert_str_eq(r->spec, "192.168.1.0/24");
	ck_assert_int_eq(r->match.family, AF_INET);
	ck_assert_uint_eq(r->match.prefix_len, 24);
	ck_assert_uint_eq(r->match.port_min, 0);
	ck_assert_uint_eq(r->match.port_max, 0);
	ck_assert_int_eq(r->line, 2);
	r = &cfg.egress[1];
	ck_assert_int_eq(r->allow, 0);
	ck_assert_uint_eq(r->match.port_min, 25);
	ck_assert_uint_eq(r->match.port_max, 25);
	r = &cfg.egress[2];
	ck_assert_int_eq(r->match.family, AF_UNSPEC);
	ck_assert_uint_eq(r->match.port_min, 8000);
	ck_assert_uint_eq(r->match.port_max, 8099);
	r = &cfg.egress[3];
	ck_assert_int_eq(r->match.family, AF_INET6);
	ck_assert_uint_eq(r->match.prefix_len, 32);
	ck_assert_int_eq(r->line, 6);
	r = &cfg.egress[4];
	ck_assert_uint_eq(r->match.prefix_len, 32);
	ck_assert_uint_eq(r->match.addr[3], 7);
}
END_TEST

START_TEST(test_egress_parse_edges)
{
	struct config_egress_match m;
	char why[160];

	ck_assert_int_eq(config_egress_parse("0.0.0.0/0", &m, why, sizeof(why)), 0);
	ck_assert_uint_eq(m.prefix_len, 0);
	ck_assert_int_eq(config_egress_parse("::/0 port 1-65535", &m, why, sizeof(why)), 0);
	ck_assert_uint_eq(m.port_max, 65535);
	ck_assert_int_eq(config_egress_parse("10.1.2.128/25", &m, why, sizeof(why)), 0);
	ck_assert_int_eq(config_egress_parse("10.1.2.192/25", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(config_egress_parse("2001:db8::/129", &m, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "prefix length '129' is not 0..128");
	ck_assert_int_eq(config_egress_parse("port", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(config_egress_parse("port 80 port 81", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(config_egress_parse("10.0.0.0/8 port 80 x", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(config_egress_parse("10.0.0.0/8 port 0", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(config_egress_parse("port 80-", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(config_egress_parse("10.0.0.0/", &m, why, sizeof(why)), -1);
}
END_TEST

START_TEST(test_names_at_their_limits)
{
	char text[512];
	char name[64];

	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(text, sizeof(text), "[peer %s]\nfingerprint = " FP "\n", name);
	load(text);
	ck_assert_str_eq(cfg.peer[0].name, name);
	snprintf(text, sizeof(text), "[peer x%s]\nfingerprint = " FP "\n", name);
	expect_error(text, "t.conf:1: [peer xnnn");
	load("[peer A.b_c-9]\nfingerprint = " FP "\n");
}
END_TEST

/* --- every error, at its line --- */

struct bad {
	const char *text;
	const char *want;
};

static const struct bad bad[] = {
	/* keys and sections */
	{ "mtu = 1500\nfoo = 1\n", "t.conf:2: unknown key 'foo' in the global section" },
	{ "MTU = 1500\n", "t.conf:1: unknown key 'MTU' in the global section" },
	{ "[peer a]\nfingerprint = " FP "\nport = 1\n",
	  "t.conf:3: unknown key 'port' in [peer a]" },
	{ "[peer a]\nmtu = 1400\n",
	  "t.conf:2: unknown key 'mtu' in [peer a] (global keys go before the first section)" },
	{ "[network " NET "]\nfingerprint = " FP "\n",
	  "t.conf:2: unknown key 'fingerprint' in [network " NET "]" },
	{ "[forward]\nport = 1\n", "t.conf:2: unknown key 'port' in [forward]" },
	{ "[egress]\npermit = port 1\n", "t.conf:2: unknown key 'permit' in [egress]" },
	{ "mtu = 1500\n\n[bogus]\n", "t.conf:3: unknown section type 'bogus'" },
	{ "[Peer a]\n", "t.conf:1: unknown section type 'Peer'" },
	{ "[]\n", "t.conf:1: empty section header" },
	{ "[peer a\nfingerprint = x\n", "t.conf:1: unterminated section header (missing ']')" },
	{ "[egress] allow = port 1\n", "t.conf:1: unexpected text after section header" },
	{ "[peer a b]\n", "t.conf:1: too many words in section header" },
	{ "\n[peer]\n", "t.conf:2: [peer] needs a name" },
	{ "[peer a/b]\n", "t.conf:1: [peer a/b]: bad name" },
	{ "[network]\n", "t.conf:1: [network] needs an id" },
	{ "[forward 1]\n", "t.conf:1: [forward] takes no argument" },
	{ "[egress x]\n", "t.conf:1: [egress] takes no argument" },
	{ "mtu 1500\n", "t.conf:1: missing '=' after 'mtu' (expected key = value)" },
	{ "[egress]\nallow\n", "t.conf:2: missing '=' after 'allow'" },
	{ "# c\n= 5\n", "t.conf:2: missing key before '='" },
	{ "mtu = 1400\nmtu = 1500\n",
	  "t.conf:2: duplicate key 'mtu' in the global section (first at line 1)" },
	{ "[peer a]\nfingerprint = " FP "\nfingerprint = " FP "\n",
	  "t.conf:3: duplicate key 'fingerprint' in [peer a] (first at line 2)" },
	{ PEER_AND_NET "peer = a\n",
	  "t.conf:5: duplicate key 'peer' in [network " NET "] (first at line 4)" },
	{ "[forward]\nproto = tcp\nproto = udp\n",
	  "t.conf:3: duplicate key 'proto' in [forward] (first at line 2)" },
	{ "user =\n", "t.conf:1: user: missing value" },
	{ "user = # nothing\n", "t.conf:1: user: missing value" },
	{ "user = \"\"\n", "t.conf:1: user: missing value" },
	/* quoting */
	{ "\nuser = \"omnet\n", "t.conf:2: unterminated quote" },
	{ "user = \"omnet\\\"\n", "t.conf:1: unterminated quote" },
	{ "user = \"a\" b\n", "t.conf:1: unexpected text after closing quote" },
	{ "user = \"a\\nb\"\n", "t.conf:1: unknown escape '\\n' in quoted value" },
	{ "user = om\"net\n", "t.conf:1: '\"' inside an unquoted value" },
	/* numbers */
	{ "mtu = abc\n", "t.conf:1: mtu: 'abc' is not a number (576..65535 bytes)" },
	{ "\nmtu = 100\n", "t.conf:2: mtu: 100 is out of range (576..65535 bytes)" },
	{ "max-flows = 0\n", "t.conf:1: max-flows: 0 is out of range (1..1048576 flows)" },
	{ "busy-poll-us = 1001\n", "t.conf:1: busy-poll-us: 1001 is out of range (0..1000 us)" },
	{ "prefix-length = 31\n", "t.conf:1: prefix-length: 31 is out of range (8..30 bits)" },
	{ "datagram-max-age-ms = 60001\n",
	  "t.conf:1: datagram-max-age-ms: 60001 is out of range (1..60000 ms)" },
	{ "flow-window-max-bytes = 1024\n",
	  "t.conf:1: flow-window-max-bytes: 1024 is out of range (262144..1073741824 bytes)" },
	{ "probe-interval-max-ms = 1000\nprobe-interval-min-ms = 2000\n",
	  "t.conf:2: probe-interval-min-ms (2000 ms) is greater than probe-interval-max-ms "
	  "(1000 ms)" },
	{ "probe-interval-min-ms = 2000\n# c\nprobe-interval-max-ms = 1000\nmtu = 1500\n",
	  "t.conf:3: probe-interval-min-ms (2000 ms) is greater than" },
	{ "\n\nprobe-interval-min-ms = 20000\n",
	  "t.conf:3: probe-interval-min-ms (20000 ms) is greater than probe-interval-max-ms "
	  "(15000 ms)" },
	{ "backoff-max-ms = 100\n[egress]\n",
	  "t.conf:1: backoff-min-ms (500 ms) is greater than backoff-max-ms (100 ms)" },
	{ "backoff-max-ms = 1000\nbackoff-min-ms = 1001\n",
	  "t.conf:2: backoff-min-ms (1001 ms) is greater than backoff-max-ms (1000 ms)" },
	/* words and addresses */
	{ "log-level = verbose\n", "t.conf:1: log-level: 'verbose' is not warn, info or debug" },
	{ "pmtu-probe = true\n", "t.conf:1: pmtu-probe: 'true' is not yes or no" },
	{ "congestion-control = vegas\n",
	  "t.conf:1: congestion-control: 'vegas' is not bbr, cubic or newreno" },
	{ "gateway = 10.0.2.256\n", "t.conf:1: gateway: '10.0.2.256' is not an IPv4 address" },
	{ "dns = 2001:db8::1\n", "t.conf:1: dns: '2001:db8::1' is not an IPv4 address" },
	{ "listen = 0.0.0.0:99999\n", "t.conf:1: listen: '0.0.0.0:99999' is not a numeric" },
	{ "listen = localhost:6950\n", "t.conf:1: listen: 'localhost:6950' is not a numeric" },
	{ "state-dir = var/lib/omnetd\n",
	  "t.conf:1: state-dir: 'var/lib/omnetd' is not an absolute path" },
	{ "control-socket = /run/omnetd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	  "t.conf:1: control-socket: path longer than 107 bytes" },
	{ "user = -omnet\n", "t.conf:1: user: '-omnet' is not a user name" },
	/* [peer] */
	{ "[peer a]\nfingerprint = sha256:abcd\n",
	  "t.conf:2: fingerprint: 'sha256:abcd' is not sha256: followed by 64 hex digits" },
	{ "[peer a]\nfingerprint = sha256:"
	  "gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "t.conf:2: fingerprint: 'sha256:gaaa" },
	{ "[peer a]\nfingerprint = " FP "0\n", "t.conf:2: fingerprint: 'sha256:aaa" },
	{ "[peer a]\nfingerprint = sha1:"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "t.conf:2: fingerprint: 'sha1:aaa" },
	{ "[peer a]\nendpoint = 192.0.2.1\n[peer b]\nfingerprint = " FP "\n",
	  "t.conf:1: [peer a] has no fingerprint" },
	{ "mtu = 1500\n[peer a]\n", "t.conf:2: [peer a] has no fingerprint" },
	{ "[peer a]\nfingerprint = " FP "\n[peer a]\nfingerprint = " FP "\n",
	  "t.conf:3: duplicate [peer a] (first at line 1)" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = example.com:6950\n",
	  "t.conf:3: endpoint: 'example.com:6950' is not IPV4[:PORT] or [IPV6][:PORT]" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = 192.0.2.1:0\n",
	  "t.conf:3: endpoint: '192.0.2.1:0' is not" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = 192.0.2.1:65536\n",
	  "t.conf:3: endpoint: '192.0.2.1:65536' is not" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = 0.0.0.0:6950\n",
	  "t.conf:3: endpoint: '0.0.0.0:6950' is not" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = :6950\n",
	  "t.conf:3: endpoint: ':6950' is not" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = [2001:db8::1:6950\n",
	  "t.conf:3: endpoint: '[2001:db8::1:6950' is not" },
	{ "[peer a]\nfingerprint = " FP "\nendpoint = 192.0.2.1\nendpoint = 192.0.2.1:6950\n",
	  "t.conf:4: endpoint: 192.0.2.1:6950 is listed twice" },
	{ "[peer a]\nfingerprint = " FP "\n"
	  "endpoint = 192.0.2.1\nendpoint = 192.0.2.2\nendpoint = 192.0.2.3\n"
	  "endpoint = 192.0.2.4\nendpoint = 192.0.2.5\nendpoint = 192.0.2.6\n"
	  "endpoint = 192.0.2.7\nendpoint = 192.0.2.8\nendpoint = 192.0.2.9\n",
	  "t.conf:11: endpoint: more than 8 endpoints for [peer a]" },
	{ "[peer a]\nfingerprint = " FP "\nrelay = a\n",
	  "t.conf:3: relay: [peer a] cannot be its own relay" },
	{ "[peer a]\nfingerprint = " FP "\nrelay = b c\n",
	  "t.conf:3: relay: 'b c' is not a peer name" },
	{ "[peer a]\nfingerprint = " FP "\nrelay = r\nrelay = r\n[peer r]\nfingerprint = " FP "\n",
	  "t.conf:4: relay: r is listed twice" },
	{ "[peer a]\nfingerprint = " FP "\nrelay = r1\nrelay = r2\nrelay = r3\nrelay = r4\n"
	  "relay = r5\n", "t.conf:7: relay: more than 4 relays for [peer a]" },
	{ "[peer a]\nfingerprint = " FP "\n\nrelay = nowhere\n",
	  "t.conf:4: relay: 'nowhere' is not defined (no [peer nowhere])" },
	/* [network] */
	{ "[network 0123]\n", "t.conf:1: [network 0123]: bad network id (32 hex digits)" },
	{ "[network 0123456789abcdef0123456789abcdeg]\n",
	  "t.conf:1: [network 0123456789abcdef0123456789abcdeg]: bad network id" },
	{ PEER_AND_NET "[network 0123456789ABCDEF0123456789ABCDEF]\npeer = a\n",
	  "t.conf:5: duplicate [network 0123456789ABCDEF0123456789ABCDEF] (first at line 3)" },
	{ "[peer a]\nfingerprint = " FP "\n\n[network " NET "]\nnetns = vm1\niface = tap0\n",
	  "t.conf:4: [network " NET "] has no peer" },
	{ "[network " NET "]\n# later\npeer = ghost\n",
	  "t.conf:3: peer: 'ghost' is not defined (no [peer ghost])" },
	{ PEER_AND_NET "netns = vm1\n", "t.conf:3: [network " NET "] sets netns without iface" },
	{ PEER_AND_NET "iface = tap0\n", "t.conf:3: [network " NET "] sets iface without netns" },
	{ PEER_AND_NET "netns = ../vm1\n", "t.conf:5: netns: '../vm1' is neither" },
	{ PEER_AND_NET "iface = a-very-long-name0\n",
	  "t.conf:5: iface: 'a-very-long-name0' is not an interface name" },
	{ PEER_AND_NET "iface = a/b\n", "t.conf:5: iface: 'a/b' is not an interface name" },
	{ PEER_AND_NET "gateway = 10.0.0\n", "t.conf:5: gateway: '10.0.0' is not an IPv4 address" },
	{ PEER_AND_NET "prefix-length = 7\n",
	  "t.conf:5: prefix-length: 7 is out of range (8..30 bits)" },
	{ PEER_AND_NET "ipv6-prefix = fd00:7::\n",
	  "t.conf:5: ipv6-prefix: 'fd00:7::' is not a /64 (write ADDRESS/64)" },
	{ PEER_AND_NET "ipv6-prefix = fd00:7::/48\n",
	  "t.conf:5: ipv6-prefix: 'fd00:7::/48' is not a /64 (write ADDRESS/64)" },
	{ PEER_AND_NET "ipv6-prefix = fd00:7:::/64\n",
	  "t.conf:5: ipv6-prefix: 'fd00:7:::/64' is not an IPv6 prefix" },
	{ PEER_AND_NET "ipv6-prefix = fe80::/64\n",
	  "t.conf:5: ipv6-prefix: fe80::/64 is neither unique local (fc00::/7) nor global unicast" },
	{ PEER_AND_NET "ipv6-prefix = fd00:7::1/64\n",
	  "t.conf:5: ipv6-prefix: fd00:7::1/64 has host bits set past /64" },
	{ PEER_AND_NET "ipv6 = maybe\n", "t.conf:5: ipv6: " },
	/* [forward] */
	{ PEER_AND_NET "[forward]\nexternal-port = 8080\nvm-port = 80\n",
	  "t.conf:5: [forward] has no proto (tcp or udp)" },
	{ PEER_AND_NET "[forward]\nproto = tcp\nvm-port = 80\n[egress]\n",
	  "t.conf:5: [forward] has no external-port" },
	{ PEER_AND_NET "[forward]\nproto = tcp\nexternal-port = 8080\n",
	  "t.conf:5: [forward] has no vm-port" },
	{ PEER_AND_NET "[forward]\nproto = sctp\n", "t.conf:6: proto: 'sctp' is not tcp or udp" },
	{ PEER_AND_NET "[forward]\nproto = tcp\nexternal-port = 0\n",
	  "t.conf:7: external-port: 0 is out of range (1..65535)" },
	{ PEER_AND_NET "[forward]\nproto = tcp\nvm-port = 65536\n",
	  "t.conf:7: vm-port: 65536 is out of range (1..65535)" },
	{ PEER_AND_NET "[forward]\nproto = tcp\nvm-port = http\n",
	  "t.conf:7: vm-port: 'http' is not a number (1..65535)" },
	{ PEER_AND_NET "[forward]\nmap = igd\n",
	  "t.conf:6: map: 'igd' is not none, upnp, natpmp, pcp or auto" },
	{ PEER_AND_NET "[forward]\nnetwork = 12\n",
	  "t.conf:6: network: '12' is not a network id (32 hex digits)" },
	{ PEER_AND_NET "[forward]\nproto = tcp\nexternal-port = 8080\nvm-port = 80\n"
	  "[forward]\nproto = tcp\nexternal-port = 8080\nvm-port = 81\n",
	  "t.conf:9: duplicate forward: tcp external-port 8080 is already forwarded at line 5" },
	{ PEER_AND_NET "[network " NET2 "]\npeer = a\n"
	  "[forward]\nnetwork = " NET "\nproto = udp\nexternal-port = 53\nvm-port = 53\n"
	  "[forward]\nnetwork = " NET2 "\nproto = udp\nexternal-port = 53\nvm-port = 53\n",
	  "t.conf:12: duplicate forward: udp external-port 53 is already forwarded at line 7" },
	{ PEER_AND_NET "[forward]\nnetwork = " NET2 "\nproto = tcp\nexternal-port = 1\n"
	  "vm-port = 1\n",
	  "t.conf:6: network: '" NET2 "' is not defined (no [network " NET2 "])" },
	{ "[forward]\nproto = tcp\nexternal-port = 1\nvm-port = 1\n",
	  "t.conf:1: [forward] needs network = ID: 0 networks are defined" },
	{ PEER_AND_NET "[network " NET2 "]\npeer = a\n[forward]\nproto = tcp\nexternal-port = 1\n"
	  "vm-port = 1\n", "t.conf:7: [forward] needs network = ID: 2 networks are defined" },
	/* [egress] */
	{ "[egress]\nallow = 192.168.1.0/33\n",
	  "t.conf:2: allow: '192.168.1.0/33': prefix length '33' is not 0..32" },
	{ "[egress]\ndeny = 192.168.1.1/24\n",
	  "t.conf:2: deny: '192.168.1.1/24': 192.168.1.1 has bits set past the /24 prefix" },
	{ "[egress]\ndeny = 2001:db8::/129\n", "t.conf:2: deny: '2001:db8::/129': prefix length" },
	{ "[egress]\nallow = port 90-80\n",
	  "t.conf:2: allow: 'port 90-80': port range 90-80 runs backwards" },
	{ "[egress]\nallow = port 0\n", "t.conf:2: allow: 'port 0': '0' is not a port 1..65535" },
	{ "[egress]\nallow = 10.0.0.0/8 ports 80\n",
	  "t.conf:2: allow: '10.0.0.0/8 ports 80': expected CIDR, CIDR port N[-M] or port N[-M]" },
	{ "[egress]\nallow = example.com\n",
	  "t.conf:2: allow: 'example.com': 'example.com' is not an IPv4 or IPv6 address" },
	/* the earliest of several reference errors is the one reported */
	{ "[peer a]\nfingerprint = " FP "\nrelay = nope\n[network " NET "]\npeer = ghost\n",
	  "t.conf:3: relay: 'nope' is not defined" },
	{ "[network " NET "]\npeer = ghost\n[peer a]\nfingerprint = " FP "\nrelay = nope\n",
	  "t.conf:2: peer: 'ghost' is not defined" },
};

START_TEST(test_errors_name_file_and_line)
{
	expect_error(bad[_i].text, bad[_i].want);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_are_complete_and_sane);
	tcase_add_test(tc, test_defaults_pass_their_own_checks);
	tcase_add_test(tc, test_shipped_example_parses);
	tcase_add_test(tc, test_shipped_example_shows_the_real_defaults);
	tcase_add_test(tc, test_shipped_example_sections_are_valid);
	tcase_add_test(tc, test_every_global_key_sets_its_field);
	tcase_add_test(tc, test_listen_forms);
	tcase_add_test(tc, test_numbers_at_range_edges);
	tcase_add_test(tc, test_numbers_with_trailing_garbage_are_rejected);
	tcase_add_test(tc, test_peers_may_be_named_before_they_are_defined);
	tcase_add_test(tc, test_repeated_endpoints_and_relays_accumulate);
	tcase_add_test(tc, test_endpoint_default_port_and_ipv6);
	tcase_add_test(tc, test_fingerprint_is_stored_in_lowercase);
	tcase_add_test(tc, test_quoted_values_keep_spaces_and_hash);
	tcase_add_test(tc, test_crlf_line_endings_are_accepted);
	tcase_add_test(tc, test_last_line_without_newline);
	tcase_add_test(tc, test_empty_and_comment_only_files);
	tcase_add_test(tc, test_utf8_byte_order_mark_is_skipped);
	tcase_add_test(tc, test_nul_byte_is_rejected_with_its_line);
	tcase_add_test(tc, test_long_line_is_rejected_with_its_line);
	tcase_add_test(tc, test_unreadable_file_reports_cannot_read);
	tcase_add_test(tc, test_file_errors_name_the_file);
	tcase_add_test(tc, test_failed_load_leaves_config_unchanged);
	tcase_add_test(tc, test_second_load_adds_to_the_first);
	tcase_add_test(tc, test_free_keeps_the_defaults);
	tcase_add_test(tc, test_network_keys_and_inherited_lan);
	tcase_add_test(tc, test_consumer_network_needs_no_netns);
	tcase_add_test(tc, test_forward_keys);
	tcase_add_test(tc, test_same_port_on_two_protocols_is_two_forwards);
	tcase_add_test(tc, test_egress_rules_are_parsed);
	tcase_add_test(tc, test_egress_parse_edges);
	tcase_add_test(tc, test_names_at_their_limits);
	tcase_add_loop_test(tc, test_errors_name_file_and_line, 0, (int)ARRAY_SIZE(bad));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1);
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
