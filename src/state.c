/* state.c: state.json. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "forward.h"
#include "log.h"
#include "network.h"
#include "osutil.h"
#include "peer.h"
#include "state.h"
#include "util.h"

#define STATE_FILE "state.json"
#define STATE_VERSION 1

static json_t *peers_json(struct daemon *d)
{
	json_t *a = json_array();
	struct peer *p;
	size_t i;

	TAILQ_FOREACH(p, &d->peers, entry) {
		json_t *eps = json_array(), *relays = json_array();
		char s[ADDRSTRLEN];

		if (p->from_config)
			continue;
		for (i = 0; i < p->nendpoint; i++)
			json_array_append_new(eps, json_string(addr_fmt((struct sockaddr *)&p->endpoint[i], s)));
		for (i = 0; i < p->nrelay; i++)
			json_array_append_new(relays, json_string(p->relay[i]));
		json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:o}", "name", p->name,
						   "fingerprint", p->fingerprint, "endpoints", eps,
						   "relays", relays));
	}
	return a;
}

static json_t *networks_json(struct daemon *d)
{
	json_t *a = json_array();
	struct network *n;

	TAILQ_FOREACH(n, &d->networks, entry) {
		/* a --run network's namespaces end with the daemon, and a
		 * /proc/PID name would name another process's after a restart */
		if (n->from_config || n->from_run || strncmp(n->netns, "/proc/", 6) == 0)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "id", n->idstr, "peer",
						   n->peer, "netns", n->netns, "iface", n->iface));
	}
	return a;
}

static json_t *forwards_json(struct daemon *d)
{
	json_t *a = json_array();
	struct forward *fw;

	TAILQ_FOREACH(fw, &d->forwards, entry) {
		if (fw->from_config || fw->pending)
			continue; /* a rule still waiting for its router is not made yet */
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i, s:s}", "network", fw->netstr,
						   "proto", wire_proto_name(fw->proto),
						   "external_port", fw->external_port, "vm_port",
						   fw->vm_port, "map", forward_map_name(fw->map)));
	}
	return a;
}

static json_t *disconnected_json(struct daemon *d)
{
	json_t *a = json_array();
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (p->admin_down)
			json_array_append_new(a, json_string(p->name));
	return a;
}

static int write_json(FILE *f, void *arg)
{
	if (json_dumpf(arg, f, JSON_INDENT(2)) < 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int state_save(struct daemon *d)
{
	char path[4200], err[4400];
	json_t *root;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, STATE_FILE);
	root = json_pack("{s:i, s:o, s:o, s:o, s:o}", "version", STATE_VERSION, "peers",
			 peers_json(d), "networks", networks_json(d), "forwards", forwards_json(d),
			 "disconnected", disconnected_json(d));
	ret = file_write_atomic(path, write_json, root, err, sizeof(err));
	json_decref(root);
	if (ret < 0)
		log_warnx("cannot save runtime state: %s", err);
	return ret;
}

static void load_peer(struct daemon *d, json_t *o)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *fp = json_string_value(json_object_get(o, "fingerprint"));
	json_t *v;
	struct peer *p;
	size_t i;

	if (!name || !fp || !fingerprint_valid(fp)) {
		log_warnx("state: skipping a malformed peer entry");
		return;
	}
	if (peer_find(d, name) || peer_find_fingerprint(d, fp)) {
		log_warnx("state: peer %s is also in the configuration; the configuration wins", name);
		return;
	}
	p = peer_new(d, name, fp);
	json_array_foreach(json_object_get(o, "endpoints"), i, v) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (json_is_string(v) &&
		    addr_parse(json_string_value(v), OMNET_DEFAULT_PORT, &ss, &len) == 0)
			peer_add_endpoint(p, (struct sockaddr *)&ss, len);
	}
	json_array_foreach(json_object_get(o, "relays"), i, v) {
		if (json_is_string(v) && p->nrelay < PEER_MAX_RELAYS)
			snprintf(p->relay[p->nrelay++], sizeof(p->relay[0]), "%s", json_string_value(v));
	}
}

static void load_network(struct daemon *d, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *peer = json_string_value(json_object_get(o, "peer"));
	const char *netns = json_string_value(json_object_get(o, "netns"));
	const char *iface = json_string_value(json_object_get(o, "iface"));
	char err[512];
	struct netid nid;

	if (!id || !peer || netid_parse(id, &nid) < 0) {
		log_warnx("state: skipping a malformed network entry");
		return;
	}
	if (!network_add(d, &nid, peer, netns, iface, NULL, err, sizeof(err)))
		log_warnx("state: network %s not restored: %s", id, err);
}

/* load_forward() - a saved rule comes back even if its network did not
 * (reported inactive) or its port is taken now (retried) */
static void load_forward(struct daemon *d, json_t *o)
{
	const char *net = json_string_value(json_object_get(o, "network"));
	const char *proto = json_string_value(json_object_get(o, "proto"));
	const char *map = json_string_value(json_object_get(o, "map"));
	json_int_t ext = json_integer_value(json_object_get(o, "external_port"));
	json_int_t vm = json_integer_value(json_object_get(o, "vm_port"));
	const char *code;
	char err[512];
	struct netid id;
	int m = map ? forward_map_parse(map) : CONFIG_MAP_NONE;

	if (d->role != ROLE_CONSUMER || !net || netid_parse(net, &id) < 0 || !proto ||
	    (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) || ext < 1 || ext > 65535 ||
	    vm < 1 || vm > 65535 || m < 0) {
		log_warnx("state: skipping a malformed forward entry");
		return;
	}
	if (!forward_add(d, &id, proto[0] == 't' ? WIRE_PROTO_TCP : WIRE_PROTO_UDP, (uint16_t)ext,
			 (uint16_t)vm, m, 0, 0, &code, err, sizeof(err)))
		log_warnx("state: forward %s %lld not restored: %s", proto, (long long)ext, err);
}

int state_load(struct daemon *d)
{
	char path[4200];
	json_error_t jerr;
	json_t *root, *v;
	struct peer *p;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, STATE_FILE);
	if (access(path, F_OK) < 0)
		return 0;
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		log_warnx("%s:%d: %s (runtime state not restored)", path, jerr.line, jerr.text);
		return -1;
	}
	json_array_foreach(json_object_get(root, "peers"), i, v)
		load_peer(d, v);
	json_array_foreach(json_object_get(root, "networks"), i, v)
		load_network(d, v);
	json_array_foreach(json_object_get(root, "forwards"), i, v)
		load_forward(d, v);
	json_array_foreach(json_object_get(root, "disconnected"), i, v) {
		if (json_is_string(v) && (p = peer_find(d, json_string_value(v))) && !p->admin_down) {
			p->admin_down = 1;
			d->ndown++;
		}
	}
	json_decref(root);
	return 0;
}
