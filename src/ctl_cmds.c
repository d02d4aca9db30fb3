/* ctl_cmds.c: the control commands, one function each, and their table.
 *
 * What a request must carry is the command's entry in cmd_schemas[]
 * (src/core/cmdschema.c): control.c checks it there before a handler
 * here runs, so a handler reads its fields without checking their types
 * or values again and judges only what needs the daemon's state.  Adding
 * a command: its entry there, one function here and one line in
 * ctl_commands[].  Every field and error code is in docs/CONTROL.md. */
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "capns.h"
#include "capture.h"
#include "cmdschema.h"
#include "control.h"
#include "daemon.h"
#include "egress.h"
#include "flow.h"
#include "forward.h"
#include "identity.h"
#include "lan6.h"
#include "link.h"
#include "mesh.h"
#include "network.h"
#include "osutil.h"
#include "peer.h"
#include "policy.h"
#include "relay.h"
#include "session.h"
#include "util.h"
#include "vmrun.h"

/* ---- request helpers -------------------------------------------------- */

/* req_netid() - a network ID field the schema has checked; -1 if absent */
static int req_netid(json_t *req, const char *key, struct netid *id)
{
	const char *s = ctl_str(req, key);

	return s ? netid_parse(s, id) : -1;
}

static json_t *addr_or_null(const struct sockaddr *sa)
{
	char a[ADDRSTRLEN];

	return sa ? json_string(addr_fmt(sa, a)) : json_null();
}

/* ---- identity and status ---------------------------------------------- */

static json_t *cmd_identity(struct daemon *d, json_t *req, struct ctl_error *err)
{
	return json_pack("{s:s}", "fingerprint", d->id.fingerprint);
}

/* The link core's counters as `status` shows them (docs/CONTROL.md):
 * a new one is a field in struct link_stats and a line here. */
#define LINK_STAT(name, field) { name, offsetof(struct link_stats, field) }
static const struct {
	const char *name;
	size_t off;
} link_stat_names[] = {
	LINK_STAT("packets_sent", packets_sent),
	LINK_STAT("packets_received", packets_received),
	LINK_STAT("packets_lost", packets_lost),
	LINK_STAT("packets_retransmitted", packets_retransmitted),
	LINK_STAT("packets_spuriously_lost", packets_spuriously_lost),
	LINK_STAT("bytes_sent", bytes_sent),
	LINK_STAT("bytes_received", bytes_received),
	LINK_STAT("stream_bytes_retransmitted", stream_bytes_retransmitted),
	LINK_STAT("datagrams_expired", dgrams_expired),
	LINK_STAT("frames_violating", frames_violating),
	LINK_STAT("flows_refused_limit", flows_refused_limit),
	LINK_STAT("flows_refused_unknown", flows_refused_unknown),
	LINK_STAT("flows_refused_network", flows_refused_network),
	LINK_STAT("flows_refused_memory", flows_refused_memory),
	LINK_STAT("flows_refused_early", flows_refused_early),
	LINK_STAT("flows_refused_mismatch", flows_refused_mismatch),
	LINK_STAT("flow_ids_refused", flow_ids_refused),
	LINK_STAT("packets_malformed", packets_malformed),
	LINK_STAT("packets_duplicate", packets_duplicate),
	LINK_STAT("packets_forgotten", packets_forgotten),
	LINK_STAT("packets_unacked", packets_unacked),
	LINK_STAT("frames_deferred_memory", frames_deferred_memory),
	LINK_STAT("frames_deferred_gaps", frames_deferred_gaps),
	LINK_STAT("flow_windows_grown_at_edge", flow_windows_grown_at_edge),
	LINK_STAT("ghosts_dropped", ghosts_dropped),
	LINK_STAT("ack_frames_ignored", ack_frames_ignored),
	LINK_STAT("datagrams_dropped_queue", dgrams_dropped_queue),
	LINK_STAT("datagrams_dropped_reassembly", dgrams_dropped_reasm),
	LINK_STAT("control_frames_dropped", control_dropped),
	LINK_STAT("internal_errors", internal_errors),
};

/* limits_json() - where the sender's time went (enum link_limit) */
static json_t *limits_json(const struct link_stats *st)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < LINK_LIM_N; i++)
		json_object_set_new(o, link_limit_name(i), json_integer((json_int_t)(st->limited_us[i] / 1000)));
	return o;
}

static json_t *link_json(const struct session *s)
{
	const struct link_stats *st = link_stats(s->link);
	const struct cc *cc = link_cc(s->link);
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < ARRAY_SIZE(link_stat_names); i++) {
		const uint64_t *v = (const uint64_t *)((const char *)st + link_stat_names[i].off);

		json_object_set_new(o, link_stat_names[i].name, json_integer((json_int_t)*v));
	}
	json_object_set_new(o, "cwnd_bytes", json_integer((json_int_t)cc->cwnd));
	json_object_set_new(o, "pacing_rate_bps", json_integer((json_int_t)(cc->pacing_rate * 8)));
	json_object_set_new(o, "in_flight_bytes", json_integer((json_int_t)link_bytes_in_flight(s->link)));
	json_object_set_new(o, "buffered_bytes", json_integer((json_int_t)link_buffered_bytes(s->link)));
	json_object_set_new(o, "congestion_control", json_string(cc_algo_name(cc->algo)));
	json_object_set_new(o, "flows", json_integer((json_int_t)link_flow_count(s->link)));
	json_object_set_new(o, "memory_bytes", json_integer((json_int_t)link_usage(s->link)));
	json_object_set_new(o, "send_credit_bytes", json_integer((json_int_t)link_send_credit(s->link)));
	json_object_set_new(o, "rtt_min_ms", json_real((double)link_rtt(s->link)->min_us / 1000.0));
	json_object_set_new(o, "max_packet_bytes", json_integer((json_int_t)link_max_packet(s->link)));
	json_object_set_new(o, "reordering_packets", json_integer((json_int_t)link_reordering(s->link)));
	json_object_set_new(o, "path_mtu_bytes", json_integer((json_int_t)s->pmtu.mtu));
	json_object_set_new(o, "send_limited_ms", limits_json(st));
	if (cc->algo == CC_BBR)
		json_object_set_new(o, "bbr", json_pack("{s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:I}",
			"state", bbr_state_name(cc),
			"bandwidth_bps", (json_int_t)(cc->bbr.btl_bw * 8),
			"min_rtt_ms", cc->bbr.min_rtt_us == UINT64_MAX ? 0.0 : (double)cc->bbr.min_rtt_us / 1000.0,
			"rounds", (json_int_t)cc->bbr.round_count,
			"pacing_gain_pct", (json_int_t)cc->bbr.pacing_gain_pct,
			"min_rtt_renewed", (json_int_t)cc->bbr.min_rtt_renewed,
			"probes_found_room", (json_int_t)cc->bbr.probes_found_room,
			"loss_bounded_rounds", (json_int_t)cc->bbr.loss_bounded));
	return o;
}

static json_t *cands_json(const struct peer *p, uint64_t now)
{
	json_t *a = json_array();
	char buf[96];
	size_t i;

	for (i = 0; i < p->nego.cands.n; i++) {
		const struct path_cand *c = &p->nego.cands.c[i];
		json_t *o = json_pack("{s:s, s:s}", "method", path_method_name(c->method), "path",
				      path_addr_fmt(&c->to, buf));

		json_object_set_new(o, "answered_ms_ago", c->validated_ms
					? json_integer((json_int_t)(now - c->validated_ms)) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *peer_status(const struct peer *p)
{
	const struct session *s = p->session;
	uint64_t now = clock_now_ms();
	char path[96];
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "name", p->name, "fingerprint", p->fingerprint,
			      "state", peer_state_name(p->nego.state), "state_ms",
			      (json_int_t)(now - p->nego.state_since_ms));
	const struct peer *r = NULL;
	size_t i;

	json_object_set_new(o, "method", peer_method(p) ? json_string(peer_method(p)) : json_null());
	json_object_set_new(o, "endpoint", addr_or_null(s ? (struct sockaddr *)&s->path.sa : NULL));
	json_object_set_new(o, "path", s ? json_string(path_addr_fmt(&s->path, path)) : json_null());
	json_object_set_new(o, "path_ms", s ? json_integer((json_int_t)(now - s->path_since_ms))
					  : json_null());
	if (s && s->path.channel)
		for (i = 0; i < p->nrelay && !r; i++) {
			r = peer_find(p->d, p->relay[i]);
			if (r && !(r->session && addr_eq((const struct sockaddr *)&r->session->path.sa,
							 (const struct sockaddr *)&s->path.sa)))
				r = NULL;
		}
	json_object_set_new(o, "relay", r ? json_string(r->name) : json_null());
	json_object_set_new(o, "is_relay", json_boolean(peer_is_relay(p)));
	if (p->d->role == ROLE_RELAY)
		json_object_set_new(o, "relayed_datagrams", json_integer((json_int_t)p->relayed));
	json_object_set_new(o, "rtt_ms", s && link_rtt(s->link)->has_sample
				  ? json_real((double)link_rtt(s->link)->smoothed_us / 1000.0)
				  : json_null());
	json_object_set_new(o, "next_retry_ms", p->nego.next_round_ms
				  ? json_integer((json_int_t)(p->nego.next_round_ms > now ? p->nego.next_round_ms - now : 0))
				  : json_null());
	json_object_set_new(o, "retry_delay_ms", p->nego.next_round_ms
				  ? json_integer((json_int_t)p->nego.retry_delay_ms) : json_null());
	json_object_set_new(o, "heard_ms", s && p->nego.state == NEGO_CONNECTED
				  ? json_integer((json_int_t)(now - p->nego.mon.last_rx_ms)) : json_null());
	json_object_set_new(o, "probe_interval_ms", s && p->nego.state == NEGO_CONNECTED
				  ? json_integer((json_int_t)p->nego.mon.interval_ms) : json_null());
	json_object_set_new(o, "last_error", p->nego.last_error[0] ? json_string(p->nego.last_error) : json_null());
	json_object_set_new(o, "candidates", cands_json(p, now));
	if (s)
		json_object_set_new(o, "link", link_json(s));
	return o;
}

/* The daemon's counters as `status` shows them: one line per counter, so
 * a new one is a field in struct daemon_counters and a line here. */
#define COUNTER(name, field) { name, offsetof(struct daemon_counters, field) }
static const struct {
	const char *name;
	size_t off;
} counter_names[] = {
	COUNTER("datagrams_received", datagrams_received),
	COUNTER("datagrams_sent", datagrams_sent),
	COUNTER("malformed_datagrams", datagrams_malformed),
	COUNTER("unknown_session_datagrams", datagrams_unknown_session),
	COUNTER("send_dropped_datagrams", datagrams_send_dropped),
	COUNTER("handshakes_refused", handshakes_refused),
	COUNTER("handshakes_refused_rate", handshakes_refused_rate),
	COUNTER("handshakes_evicted_source", handshakes_evicted_source),
	COUNTER("handshakes_evicted_global", handshakes_evicted_global),
	COUNTER("unauthenticated_datagrams", datagrams_unauthenticated),
	COUNTER("path_sends_limited", path_sends_limited),
	COUNTER("candidates_filtered", candidates_filtered),
	COUNTER("candidates_evicted", candidates_evicted),
	COUNTER("relay_requests_refused", relay_requests_refused),
	COUNTER("relay_requests_limited", relay_requests_limited),
	COUNTER("dropped_deleted_network", dropped_deleted_network),
	COUNTER("network_deleted_unknown", network_deleted_unknown),
	COUNTER("relay_frames_ignored", relay_frames_ignored),
	COUNTER("flows_unknown_network", flows_unknown_network),
	COUNTER("flows_refused_policy", flows_refused_policy),
	COUNTER("pings_refused_sysctl", pings_refused_sysctl),
	COUNTER("flows_refused_remote", flows_refused_remote),
	COUNTER("flows_opened", flows_opened),
	COUNTER("flows_closed", flows_closed),
	COUNTER("flows_reset", flows_reset),
	COUNTER("flows_refused_fds", flows_refused_fds),
	COUNTER("accepts_paused", accepts_paused),
	COUNTER("busy_polls", busy_polls),
	COUNTER("busy_poll_us", busy_poll_us),
	COUNTER("control_requests", control_requests),
	COUNTER("control_errors", control_errors),
};

static json_t *counters_json(const struct daemon *d)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counter_names); i++) {
		const uint64_t *v = (const uint64_t *)((const char *)&d->ctr + counter_names[i].off);

		json_object_set_new(o, counter_names[i].name, json_integer((json_int_t)*v));
	}
	return o;
}

/* relay_json() - what a relay and the paths to peers pass on */
static json_t *relay_json(const struct daemon *d)
{
	const struct daemon_counters *c = &d->ctr;

	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "channels", (json_int_t)relay_channel_count(d),
			 "datagrams_relayed", (json_int_t)c->datagrams_relayed,
			 "dropped_rate_limit", (json_int_t)c->relay_dropped_rate,
			 "dropped_unknown_channel", (json_int_t)c->relay_dropped_unknown,
			 "datagrams_blocked", (json_int_t)c->datagrams_blocked);
}

/* network_link_json() - what the network holds on its peer's link, or
 * null while there is no session */
static json_t *network_link_json(const struct network *n)
{
	const struct peer *p = peer_find(n->d, n->peer);
	struct link_net_stats st;

	if (!p || !p->session || !p->session->link)
		return json_null();
	link_network_stats(p->session->link, &n->id, &st);
	return json_pack("{s:I, s:I, s:I, s:I}", "flows", (json_int_t)st.flows,
			 "send_buffered_bytes", (json_int_t)st.send_buffered_bytes,
			 "receive_held_bytes", (json_int_t)st.receive_held_bytes,
			 "flows_refused", (json_int_t)st.flows_refused);
}

/* network_ipv6_json() - the network's IPv6 side: null when it has none */
static json_t *network_ipv6_json(const struct network *n)
{
	char pfx[INET6_ADDRSTRLEN + 3], gw[INET6_ADDRSTRLEN], dns[INET6_ADDRSTRLEN];
	const struct lan6 *l = n->cap ? capture_lan6(n->cap) : NULL;
	struct in6_addr a;
	json_t *o;

	/* a consumer's network has no addressing of its own */
	if (!n->ipv6 || n->d->role != ROLE_PROVIDER)
		return json_null();
	inet_ntop(AF_INET6, &n->prefix6, pfx, INET6_ADDRSTRLEN);
	strcat(pfx, "/64");
	capns_addr6(&n->prefix6, CAPNS_GW6_HOST, &a);
	inet_ntop(AF_INET6, &a, gw, sizeof(gw));
	capns_addr6(&n->prefix6, CAPNS_DNS6_HOST, &a);
	inet_ntop(AF_INET6, &a, dns, sizeof(dns));
	o = json_pack("{s:s, s:s, s:s}", "prefix", pfx, "gateway", gw, "dns", dns);
	if (l) {
		const struct lan6_counters *c = lan6_counters(l);

		json_object_set_new(o, "lease", lan6_lease(l, &a) == 0
					 ? json_string(inet_ntop(AF_INET6, &a, gw, sizeof(gw)))
					 : json_null());
		json_object_set_new(o, "router_advertisements", json_integer((json_int_t)c->ra_sent));
		json_object_set_new(o, "router_solicitations", json_integer((json_int_t)c->rs_received));
		json_object_set_new(o, "router_solicitations_dropped",
				    json_integer((json_int_t)c->rs_dropped));
		json_object_set_new(o, "dhcp6_replies", json_integer((json_int_t)c->dhcp6_replies));
		json_object_set_new(o, "dhcp6_dropped", json_integer((json_int_t)c->dhcp6_dropped));
	}
	return o;
}

static json_t *network_json(const struct network *n)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", n->idstr, "peer", n->peer,
			      "state", n->peer_deleted ? "peer-deleted" : "active", "flows",
			      (json_int_t)network_flow_count(n), "flows_total",
			      (json_int_t)n->flows_total);
	struct in_addr lease;

	json_object_set_new(o, "netns", n->netns[0] ? json_string(n->netns) : json_null());
	json_object_set_new(o, "iface", n->iface[0] ? json_string(n->iface) : json_null());
	json_object_set_new(o, "lease", n->cap && capture_lease(n->cap, &lease) == 0
				 ? json_string(inet_ntoa(lease)) : json_null());
	json_object_set_new(o, "link", network_link_json(n));
	json_object_set_new(o, "ipv6", network_ipv6_json(n));
	json_object_set_new(o, "run", n->run ? vmrun_json(n->run) : json_null());
	if (n->cap) {
		const struct capture_counters *c = capture_counters(n->cap);

		json_object_set_new(o, "capture",
				    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					      "syns", (json_int_t)c->syns,
					      "syns_without_link", (json_int_t)c->syns_no_link,
					      "syns_refused_limit", (json_int_t)c->syns_refused_limit,
					      "accepted", (json_int_t)c->accepted,
					      "udp_flows", (json_int_t)c->udp_flows,
					      "udp_without_link", (json_int_t)c->udp_no_link,
					      "dhcp_replies", (json_int_t)c->dhcp_replies,
					      "forwarded_in", (json_int_t)c->inbound,
					      "echo_requests", (json_int_t)c->echo_requests,
					      "echo_replies", (json_int_t)c->echo_replies,
					      "echo_without_link", (json_int_t)c->echo_no_link,
					      "packets_ignored", (json_int_t)c->packets_ignored,
					      "packets_misaddressed", (json_int_t)c->misaddressed,
					      "socket_failures", (json_int_t)c->socket_failures,
					      "unreachables_sent", (json_int_t)c->unreach_sent));
	}
	return o;
}

static json_t *cmd_status(struct daemon *d, json_t *req, struct ctl_error *err)
{
	json_t *peers = json_array(), *nets = json_array();
	const struct network *n;
	const struct flow *f;
	const struct peer *p;
	json_int_t tcp = 0, udp = 0, icmp = 0;

	TAILQ_FOREACH(p, &d->peers, entry)
		json_array_append_new(peers, peer_status(p));
	TAILQ_FOREACH(n, &d->networks, entry) {
		json_array_append_new(nets, network_json(n));
		TAILQ_FOREACH(f, &n->flows, entry) {
			if (f->proto == WIRE_PROTO_UDP)
				udp++;
			else if (f->proto == WIRE_PROTO_ICMP)
				icmp++;
			else
				tcp++;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:{s:I, s:I, s:I}, s:o, s:o, s:{s:I, s:I, s:I}}",
			 "role", role_name(d->role), "version", OMNET_VERSION,
			 "fingerprint", d->id.fingerprint, "listen", mesh_local_addr(d->mesh),
			 "uptime_ms", (json_int_t)(clock_now_ms() - d->started_ms),
			 "peers", peers, "networks", nets, "flows", "tcp", tcp, "udp", udp, "icmp", icmp,
			 "counters", counters_json(d), "relay", relay_json(d), "memory",
			 "buffers_bytes", (json_int_t)chunk_pool_bytes(&d->pool),
			 "buffers_peak_bytes", (json_int_t)(d->pool.peak * RING_CHUNK),
			 "limit_bytes", (json_int_t)d->cfg.memory_limit_bytes);
}

/* ---- peers ------------------------------------------------------------ */

static json_t *peer_json(const struct peer *p)
{
	json_t *eps = json_array(), *relays = json_array();
	size_t i;

	for (i = 0; i < p->nendpoint; i++)
		json_array_append_new(eps, addr_or_null((const struct sockaddr *)&p->endpoint[i]));
	for (i = 0; i < p->nrelay; i++)
		json_array_append_new(relays, json_string(p->relay[i]));
	return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "name", p->name, "fingerprint",
			 p->fingerprint, "endpoints", eps, "relays", relays, "state",
			 peer_state_name(p->nego.state), "source", p->from_config ? "config" : "runtime");
}

static json_t *cmd_peer_list(struct daemon *d, json_t *req, struct ctl_error *err)
{
	json_t *a = json_array();
	const struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		json_array_append_new(a, peer_json(p));
	return a;
}

/* parse_endpoints() - the checked endpoints, each with the default port
 * if it has none */
static int parse_endpoints(json_t *req, struct peer *tmp, struct ctl_error *err)
{
	json_t *eps = json_object_get(req, "endpoints"), *v;
	size_t i;

	json_array_foreach(eps, i, v) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (addr_parse(json_string_value(v), OMNET_DEFAULT_PORT, &ss, &len) < 0) {
			ctl_fail(err, "invalid_argument", "endpoint %zu is not ADDRESS[:PORT]", i + 1);
			return -1;
		}
		if (peer_add_endpoint(tmp, (struct sockaddr *)&ss, len) < 0) {
			ctl_fail(err, "invalid_argument", "at most %d endpoints", PEER_MAX_ENDPOINTS);
			return -1;
		}
	}
	return 0;
}

/* parse_relays() - "relay": NAME and/or "relays": [NAME...], checked
 * names, each once */
static int parse_relays(json_t *req, struct peer *tmp, struct ctl_error *err)
{
	json_t *many = json_object_get(req, "relays");
	const char *one = ctl_str(req, "relay"), *name;
	size_t i, j, n = json_array_size(many);

	for (i = 0; i < n + (one ? 1 : 0); i++) {
		name = i < n ? json_string_value(json_array_get(many, i)) : one;
		for (j = 0; j < tmp->nrelay; j++)
			if (strcmp(tmp->relay[j], name) == 0)
				break;
		if (j < tmp->nrelay)
			continue;
		if (tmp->nrelay == PEER_MAX_RELAYS) {
			ctl_fail(err, "invalid_argument", "at most %d relays", PEER_MAX_RELAYS);
			return -1;
		}
		snprintf(tmp->relay[tmp->nrelay++], sizeof(tmp->relay[0]), "%s", name);
	}
	return 0;
}

static json_t *cmd_peer_add(struct daemon *d, json_t *req, struct ctl_error *err)
{
	const char *name = ctl_str(req, "name"), *fp = ctl_str(req, "fingerprint");
	struct peer tmp, *p;
	size_t i;

	if (!name || !fp)
		return ctl_fail(err, "internal", "peer.add without its fields");
	if (strcmp(fp, d->id.fingerprint) == 0)
		return ctl_fail(err, "invalid_argument", "that is this daemon's own fingerprint");
	if (peer_find(d, name))
		return ctl_fail(err, "exists", "peer %s exists", name);
	if (peer_find_fingerprint(d, fp))
		return ctl_fail(err, "exists", "a peer with fingerprint %s exists", fp);
	memset(&tmp, 0, sizeof(tmp));
	if (parse_endpoints(req, &tmp, err) < 0 || parse_relays(req, &tmp, err) < 0)
		return NULL;
	for (i = 0; i < tmp.nrelay; i++)
		if (strcmp(tmp.relay[i], name) == 0)
			return ctl_fail(err, "invalid_argument", "a peer cannot be its own relay");
	p = peer_new(d, name, fp);
	memcpy(p->endpoint, tmp.endpoint, sizeof(tmp.endpoint));
	p->nendpoint = tmp.nendpoint;
	memcpy(p->relay, tmp.relay, sizeof(tmp.relay));
	p->nrelay = tmp.nrelay;
	daemon_save_state(d);
	peer_start(p);
	return json_pack("{s:s}", "name", name);
}

static json_t *cmd_peer_remove(struct daemon *d, json_t *req, struct ctl_error *err)
{
	const char *name = ctl_str(req, "name");
	struct network *n;
	struct peer *p;

	if (!name)
		return ctl_fail(err, "internal", "peer.remove without its name");
	if (!(p = peer_find(d, name)))
		return ctl_fail(err, "not_found", "no peer named %s", name);
	TAILQ_FOREACH(n, &d->networks, entry)
		if (strcmp(n->peer, name) == 0)
			return ctl_fail(err, "invalid_argument",
					"network %s uses peer %s: delete it first", n->idstr, name);
	peer_free(p);
	daemon_save_state(d);
	return json_pack("{s:s}", "name", name);
}

static json_t *peer_cmd(struct daemon *d, json_t *req, struct ctl_error *err, int up)
{
	const char *name = ctl_str(req, "peer");
	struct peer *p;

	if (!name)
		return ctl_fail(err, "internal", "no peer field");
	if (!(p = peer_find(d, name)))
		return ctl_fail(err, "not_found", "no peer named %s", name);
	if (up)
		peer_connect(p);
	else
		peer_disconnect(p);
	daemon_save_state(d);
	return json_pack("{s:s, s:s}", "peer", name, "state", peer_state_name(p->nego.state));
}

static json_t *cmd_connect(struct daemon *d, json_t *req, struct ctl_error *err)
{
	return peer_cmd(d, req, err, 1);
}

static json_t *cmd_disconnect(struct daemon *d, json_t *req, struct ctl_error *err)
{
	return peer_cmd(d, req, err, 0);
}

/* ---- networks ---------------------------------------------------------- */

static int ctl_bool(json_t *req, const char *key)
{
	return json_is_true(json_object_get(req, key));
}

/* network_add_run() - network add --run: the words of the command, then
 * vmrun_add() makes its namespaces and starts it */
static json_t *network_add_run(struct daemon *d, json_t *req, const struct netid *id,
			       const char *peer, struct ctl_error *err)
{
	json_t *run = json_object_get(req, "run"), *w;
	struct vmrun_params rp = { 0 };
	char msg[512], **argv;
	size_t i, n = json_array_size(run);

	if (d->role != ROLE_PROVIDER)
		return ctl_fail(err, "invalid_argument", "--run is for a provider's network");
	if (ctl_str(req, "netns") || ctl_str(req, "iface"))
		return ctl_fail(err, "invalid_argument",
				"--run makes the network's namespace: --netns and --iface are not for it");
	if (n == 0)
		return ctl_fail(err, "invalid_argument", "run: the command is empty");
	argv = xcalloc(n + 1, sizeof(*argv));
	json_array_foreach(run, i, w)
		argv[i] = (char *)json_string_value(w); /* checked strings; req outlives argv */
	rp.argv = argv;
	rp.container = ctl_bool(req, "container");
	rp.keep = ctl_bool(req, "keep");
	if (!vmrun_add(d, id, peer, &rp, msg, sizeof(msg))) {
		free(argv);
		return ctl_fail(err, "invalid_argument", "%s", msg);
	}
	free(argv);
	return json_pack("{s:s}", "id", ctl_str(req, "id"));
}

static json_t *cmd_network_add(struct daemon *d, json_t *req, struct ctl_error *err)
{
	const char *peer = ctl_str(req, "peer");
	char msg[512];
	struct netid id;

	if (req_netid(req, "id", &id) < 0 || !peer)
		return ctl_fail(err, "internal", "network.add without its fields");
	if (network_find(d, &id))
		return ctl_fail(err, "exists", "network %s exists", ctl_str(req, "id"));
	if (!peer_find(d, peer))
		return ctl_fail(err, "not_found", "no peer named %s", peer);
	if (json_object_get(req, "run") && !json_is_null(json_object_get(req, "run")))
		return network_add_run(d, req, &id, peer, err);
	if (ctl_bool(req, "container") || ctl_bool(req, "keep"))
		return ctl_fail(err, "invalid_argument", "--container and --keep go with --run");
	if (!network_add(d, &id, peer, ctl_str(req, "netns"), ctl_str(req, "iface"), NULL, msg,
			 sizeof(msg)))
		return ctl_fail(err, "invalid_argument", "%s", msg);
	daemon_save_state(d);
	return json_pack("{s:s}", "id", ctl_str(req, "id"));
}

static json_t *cmd_network_list(struct daemon *d, json_t *req, struct ctl_error *err)
{
	json_t *a = json_array();
	const struct network *n;

	TAILQ_FOREACH(n, &d->networks, entry) {
		json_t *o = network_json(n);

		json_object_set_new(o, "source", json_string(n->from_config ? "config" : "runtime"));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *cmd_network_delete(struct daemon *d, json_t *req, struct ctl_error *err)
{
	struct network *n;
	struct netid id;
	char idstr[NETID_HEXLEN + 1];

	if (req_netid(req, "id", &id) < 0)
		return ctl_fail(err, "internal", "network.delete without its id");
	netid_fmt(&id, idstr);
	if (!(n = network_find(d, &id)))
		return ctl_fail(err, "not_found", "no network %s", idstr);
	network_delete(n, 1);
	daemon_save_state(d);
	return json_pack("{s:s}", "id", idstr);
}

/* ---- flows ------------------------------------------------------------- */

static json_t *flow_json(const struct flow *f, uint64_t now)
{
	char a[ADDRSTRLEN], b[ADDRSTRLEN];

	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
			 "id", (json_int_t)(f->lf ? link_flow_id(f->lf) : 0), "network", f->net->idstr,
			 "direction", f->kind == WIRE_DST_VM ? "inbound" : "outbound",
			 "peer", f->net->peer, "proto", wire_proto_name(f->proto),
			 "vm", ipport_fmt(&f->vm, a), "remote", ipport_fmt(&f->remote, b),
			 "state", flow_state_name(f), "bytes_up", (json_int_t)f->bytes_up,
			 "bytes_down", (json_int_t)f->bytes_down, "age_ms",
			 (json_int_t)(now - f->created_ms));
}

static json_t *cmd_flows(struct daemon *d, json_t *req, struct ctl_error *err)
{
	struct netid id;
	int filter = req_netid(req, "network", &id) == 0;
	json_t *a = json_array();
	const struct network *n;
	const struct flow *f;
	uint64_t now = clock_now_ms();

	TAILQ_FOREACH(n, &d->networks, entry) {
		if (filter && !netid_eq(&n->id, &id))
			continue;
		TAILQ_FOREACH(f, &n->flows, entry)
			json_array_append_new(a, flow_json(f, now));
	}
	return a;
}

/* ---- port forwards ---------------------------------------------------- */

/* req_proto() - the checked proto field: WIRE_PROTO_TCP, _UDP or (policy
 * check only) _ICMP */
static uint8_t req_proto(json_t *req)
{
	const char *s = ctl_str(req, "proto");

	if (s && strcmp(s, "icmp") == 0)
		return WIRE_PROTO_ICMP;
	return s && strcmp(s, "udp") == 0 ? WIRE_PROTO_UDP : WIRE_PROTO_TCP;
}

/* forward_network() - the rule's network: the one named, which must exist,
 * or the only one there is */
static int forward_network(struct daemon *d, json_t *req, struct netid *id, struct ctl_error *err)
{
	const char *s = ctl_str(req, "network");
	struct network *n = TAILQ_FIRST(&d->networks);

	if (s) {
		if (netid_parse(s, id) < 0 || !network_find(d, id)) {
			ctl_fail(err, "not_found", "no network %s", s);
			return -1;
		}
		return 0;
	}
	if (!n) {
		ctl_fail(err, "not_found", "no network to forward to: add one first (network add)");
		return -1;
	}
	if (TAILQ_NEXT(n, entry)) {
		ctl_fail(err, "invalid_argument", "there are several networks: say which (network)");
		return -1;
	}
	*id = n->id;
	return 0;
}

static json_t *cmd_forward_add(struct daemon *d, json_t *req, struct ctl_error *err)
{
	const char *map_s = ctl_str(req, "map"), *code = "internal";
	uint16_t ext = ctl_port(req, "external_port"), vm = ctl_port(req, "vm_port");
	uint8_t proto = req_proto(req);
	struct forward *fw;
	struct netid id;
	char msg[512];
	int map = map_s ? forward_map_parse(map_s) : CONFIG_MAP_NONE;

	if (!ext || !vm || map < 0)
		return ctl_fail(err, "internal", "forward.add without its fields");
	if (forward_network(d, req, &id, err) < 0)
		return NULL;
	fw = forward_add(d, &id, proto, ext, vm, map, 0, 1, &code, msg, sizeof(msg));
	if (!fw)
		return ctl_fail(err, code, "%s", msg);
	if (map == CONFIG_MAP_NONE) {
		daemon_save_state(d);
		return forward_added_json(fw);
	}
	/* the answer waits for the router: a mapping that cannot be made
	 * takes the rule back, and the error says why */
	fw->pending = fw->pm ? ctl_defer(d) : NULL;
	if (!fw->pending) {
		forward_remove(fw);
		return ctl_fail(err, "internal", "cannot wait for the router's answer");
	}
	return CTL_DEFERRED;
}

static json_t *cmd_forward_remove(struct daemon *d, json_t *req, struct ctl_error *err)
{
	const char *net_s = ctl_str(req, "network");
	uint16_t ext = ctl_port(req, "external_port");
	uint8_t proto = req_proto(req);
	struct forward *fw;
	struct netid id;
	json_t *res;

	if (net_s && netid_parse(net_s, &id) < 0)
		return ctl_fail(err, "internal", "forward.remove with a bad network");
	fw = forward_find(d, proto, ext);
	if (!fw || (net_s && !netid_eq(&fw->net, &id)))
		return ctl_fail(err, "not_found", "no forward of %s port %u%s%s",
				wire_proto_name(proto), ext,
				net_s ? " to network " : "", net_s ? net_s : "");
	res = json_pack("{s:s, s:s, s:i}", "network", fw->netstr, "proto",
			wire_proto_name(proto), "external_port", ext);
	forward_remove(fw);
	daemon_save_state(d);
	return res;
}

static json_t *cmd_forward_list(struct daemon *d, json_t *req, struct ctl_error *err)
{
	json_t *a = json_array();
	struct forward *fw;

	TAILQ_FOREACH(fw, &d->forwards, entry)
		json_array_append_new(a, forward_json(fw));
	return a;
}

/* ---- policy.check ----------------------------------------------------- */

/* policy_request() - destination, port and protocol of a checked
 * policy.check */
static int policy_request(json_t *req, struct ipport *dst, int *has_port, uint8_t *proto,
			  struct ctl_error *err)
{
	const char *s = ctl_str(req, "destination");
	uint16_t port = ctl_port(req, "port");

	if (!s || cmd_parse_destination(s, dst, has_port) < 0) {
		ctl_fail(err, "internal", "policy.check without its destination");
		return -1;
	}
	if (port && *has_port) {
		ctl_fail(err, "invalid_argument", "the port is given twice (destination and port)");
		return -1;
	}
	if (port) {
		dst->port = port;
		*has_port = 1;
	}
	*proto = req_proto(req);
	if (*proto == WIRE_PROTO_ICMP && *has_port) {
		ctl_fail(err, "invalid_argument", "a ping has no port: give the address alone");
		return -1;
	}
	return 0;
}

/* policy_route_json() - a route that decided, its parts for scripts */
static json_t *policy_route_json(const struct policy_route *r)
{
	static const char *const types[] = { "unicast", "unreachable", "blackhole", "prohibit" };
	const struct policy_nexthop *nh = &r->nh[0];
	char text[POLICY_REASON_MAX], net[ADDRSTRLEN], gw[INET6_ADDRSTRLEN];
	int has_gw = r->nnh && nh->gw_family && inet_ntop(nh->gw_family, nh->gw, gw, sizeof(gw));

	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I}",
			 "text", policy_route_fmt(r, text, sizeof(text)),
			 "prefix", cidr_fmt(&r->dst, net),
			 "type", (unsigned)r->type < ARRAY_SIZE(types) ? types[r->type] : "?",
			 "via", has_gw ? json_string(gw) : json_null(),
			 "dev", r->nnh && nh->ifname[0] ? json_string(nh->ifname) : json_null(),
			 "table", (json_int_t)r->table, "metric", (json_int_t)r->metric,
			 "nexthops", (json_int_t)r->nnh);
}

/* detail_json() - the verdict's detail when it is of the basis b */
static json_t *detail_json(const struct policy_verdict *v, int is_basis)
{
	return is_basis && v->detail ? json_string(v->detail) : json_null();
}

static json_t *cmd_policy_check(struct daemon *d, json_t *req, struct ctl_error *err)
{
	char a[ADDRSTRLEN], range[ADDRSTRLEN];
	struct policy_verdict v;
	struct ipport dst;
	int has_port;
	uint8_t proto;

	if (policy_request(req, &dst, &has_port, &proto, err) < 0)
		return NULL;
	egress_explain(d, proto, &dst, !has_port, &v);
	if (!has_port)
		inet_ntop(dst.family, dst.addr, a, sizeof(a));
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i}",
		"destination", has_port ? ipport_fmt(&dst, a) : a,
		"proto", wire_proto_name(proto),
		"allowed", v.allowed,
		"decided_by", policy_basis_name(v.basis),
		"reason", v.reason,
		"range", v.range.family ? json_string(cidr_fmt(&v.range, range)) : json_null(),
		"rule", v.basis == POLICY_BY_RULE ?
			json_pack("{s:s, s:o}", "text", v.detail, "origin",
				  v.origin ? json_string(v.origin) : json_null()) : json_null(),
		"route", v.route ? policy_route_json(v.route) : json_null(),
		"interface", detail_json(&v, v.basis == POLICY_BY_LOCAL_ADDRESS ||
						v.basis == POLICY_BY_LOCAL_NETWORK),
		"reported_by", detail_json(&v, v.basis == POLICY_BY_PUBLIC_ADDRESS),
		"cloud", detail_json(&v, v.basis == POLICY_BY_METADATA),
		"port", has_port ? json_integer(dst.port) : json_null(),
		"port_rules_skipped", v.port_rules_skipped);
}

/* reload: what SIGHUP does, with the file's error in the reply, so that
 * `systemctl reload` (ExecReload=omnetctl reload) fails visibly */
static json_t *cmd_reload(struct daemon *d, json_t *req, struct ctl_error *err)
{
	char e[1024];
	int r = daemon_reload(d, e, sizeof(e));

	if (r < 0)
		return ctl_fail(err, "config_invalid", "%s", e);
	return json_pack("{s:o}", "config", r ? json_string(d->config_path) : json_null());
}

const struct ctl_command ctl_commands[] = {
	{ "status", cmd_status },
	{ "identity", cmd_identity },
	{ "peer.add", cmd_peer_add },
	{ "peer.list", cmd_peer_list },
	{ "peer.remove", cmd_peer_remove },
	{ "network.add", cmd_network_add },
	{ "network.list", cmd_network_list },
	{ "network.delete", cmd_network_delete },
	{ "flows", cmd_flows },
	{ "connect", cmd_connect },
	{ "disconnect", cmd_disconnect },
	{ "forward.add", cmd_forward_add },
	{ "forward.remove", cmd_forward_remove },
	{ "forward.list", cmd_forward_list },
	{ "policy.check", cmd_policy_check },
	{ "reload", cmd_reload },
	{ NULL, NULL },
};
