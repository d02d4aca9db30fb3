/* portmap_int.h: what portmap.c (the rounds, timers and API) shares with
 * its methods, portmap_pcp.c, portmap_natpmp.c and portmap_upnp.c.
 * Internal to those four files: not installed, not included elsewhere. */
#ifndef OMNET_PORTMAP_INT_H
#define OMNET_PORTMAP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "pcp.h"
#include "portmap.h"

#define PM_ATTEMPT_MS		2000	/* one method's try; all of portmap_free's deletes */

enum pm_method { PM_NONE = -1, PM_PCP, PM_NATPMP, PM_UPNP, PM_NMETHODS };

/* What a router granted. */
struct pm_grant {
	uint16_t ext_port;
	char ext_addr[INET6_ADDRSTRLEN];	/* "" if the router did not say */
	uint64_t lease_ms;			/* 0: permanent (UPnP only) */
	char router[64];			/* who granted it, for the logs */
};

struct event;
struct pcp_xchg;	/* portmap_pcp.c */
struct natpmp_xchg;	/* portmap_natpmp.c */
struct upnp_job;	/* portmap_upnp.c */

struct portmap {
	struct event_base *base;
	int want;		/* enum config_map */
	int proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint16_t port;
	uint32_t lease_s;	/* asked for */
	portmap_cb cb;
	void *arg;
	char name[16];		/* "tcp/8080", for the logs */

	int trying;		/* enum pm_method of the attempt in flight, or PM_NONE */
	int winner;		/* the method that mapped: later rounds use it */
	int reported;		/* an outcome was reported: no longer "pending" */
	struct event *timer;	/* the next round: start, renewal or retry */
	uint64_t retry_ms;	/* the next backoff */
	char round_error[768];	/* this round's failures, method after method */
	char last_error[768];	/* "" if the last round succeeded */

	int made;		/* the winner made a mapping, not deleted since */
	int lapsed;		/* its lease ran out unrenewed (logged once) */
	struct pm_grant grant;
	uint64_t expires_ms;	/* UINT64_MAX: permanent */

	uint8_t nonce[PCP_NONCE_LEN];	/* PCP: one per mapping (§11.2, §15) */
	uint32_t pcp_epoch_s;		/* §8.5: the last epoch seen, and when */
	uint64_t pcp_epoch_at_ms;
	int pcp_have_epoch;
	struct pcp_xchg *pcp;
	struct natpmp_xchg *np;
	struct upnp_job *up;
	struct event *up_ev;	/* the job's pipe */
};

/* ---- portmap.c: shared helpers and the rounds ---------------------------- */

/* pm_arm_ms() - fire ev in ms */
void pm_arm_ms(struct event *ev, uint64_t ms);

/* pm_jitter_ms() - ms ±10% (RFC 6887 §8.1.1 RAND) */
uint64_t pm_jitter_ms(uint64_t ms);

/* pm_default_gateway() - the gateway of the IPv4 default route; -1 if none */
int pm_default_gateway(struct in_addr *gw);

/* pm_attempt_done() - method pm->trying finished: granted g, or failed
 * with err.  A method's last act in a handler, as the callback may free pm. */
void pm_attempt_done(struct portmap *pm, const struct pm_grant *g, const char *err);

/* ---- the methods: begin an attempt (0, or -1 and err), close what is in
 * flight, and delete a mapping synchronously for portmap_free() ---------- */

int pcp_begin(struct portmap *pm, char *err, size_t errlen);
void pcp_close(struct pcp_xchg *x);
void pcp_delete_sync(struct portmap *pm, uint64_t deadline_ms, int wait);

int natpmp_begin(struct portmap *pm, char *err, size_t errlen);
void natpmp_close(struct natpmp_xchg *x);
void natpmp_delete_sync(struct portmap *pm, uint64_t deadline_ms, int wait);

int upnp_begin(struct portmap *pm, char *err, size_t errlen);
void upnp_release(struct portmap *pm, uint64_t deadline_ms);

#endif
