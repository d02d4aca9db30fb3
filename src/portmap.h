/* portmap.h: asks the consumer's router to forward a port to us (UPnP IGD,
 * NAT-PMP or PCP), keeps the mapping renewed, and deletes it.
 *
 * One struct portmap per forwarded port.  It works on its own from
 * portmap_new() to portmap_free(): tries the method (or, for `auto`, PCP,
 * then NAT-PMP, then UPnP), renews at half the lease the router granted,
 * retries a failure with a backoff (5 s doubling to 5 min), and reports
 * each outcome through its callback. */
#ifndef OMNET_PORTMAP_H
#define OMNET_PORTMAP_H

#include <stdint.h>

#include <jansson.h>

struct event_base;
struct portmap;

/* called when a mapping attempt finishes: the first success, or the first
 * failure of every method tried (state "failed"); later renewals and
 * failures call it too.  The callback may call portmap_free(pm). */
typedef void (*portmap_cb)(struct portmap *pm, void *arg);

/* portmap_new() - start mapping port at the router; NULL (logged) if the
 * arguments are invalid.  method: enum config_map (CONFIG_MAP_UPNP,
 * _NATPMP, _PCP or _AUTO; never NONE).  proto: IPPROTO_TCP or IPPROTO_UDP.
 * port: the consumer's local port, also asked for as the external port.
 * lease_ms: the lifetime to ask for.  Starts at once, asynchronously; never
 * blocks the loop, and never calls cb before returning. */
struct portmap *portmap_new(struct event_base *base, int method, int proto, uint16_t port,
			    uint64_t lease_ms, portmap_cb cb, void *arg);

/* portmap_free() - delete the mapping at the router if one was made
 * (bounded: blocks at most 2000 ms in total), then free.  A UPnP operation
 * still running then finishes in its thread, which deletes what it made. */
void portmap_free(struct portmap *pm);
/* portmap_free_within() - the same, waiting for the router at most
 * budget_ms: a daemon that keeps running must not stall on a router that
 * went silent (the delete request is still sent) */
void portmap_free_within(struct portmap *pm, uint64_t budget_ms);

/* portmap_set_public_hook() - fn learns the external address each mapping
 * the router grants or renews reports (numeric, as the router gave it), and
 * who said so ("router 192.168.1.1 (PCP)"): the consumer's public address,
 * which its egress policy denies.  One hook for the process; NULL clears. */
typedef void (*portmap_public_fn)(void *arg, const char *addr, const char *reporter);
void portmap_set_public_hook(portmap_public_fn fn, void *arg);

/* portmap_mapped() - 1 if a mapping is in place now (granted, lease not
 * yet run out) */
int portmap_mapped(const struct portmap *pm);

/* portmap_last_error() - why the last attempt failed; NULL if it did not */
const char *portmap_last_error(const struct portmap *pm);

/* portmap_json() - {"protocol": "pcp"|"natpmp"|"upnp"|null (the method in
 * use or being tried), "state": "pending"|"mapped"|"failed",
 * "external_address": string|null, "external_port": int|null,
 * "lease_remaining_ms": int|null (null also for a permanent UPnP mapping),
 * "last_error": string|null} */
json_t *portmap_json(const struct portmap *pm);

#endif
