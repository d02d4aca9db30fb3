/* portmap_upnp.c: a port mapping by UPnP IGD (miniupnpc).  miniupnpc
 * blocks on SSDP and HTTP, so each operation runs in a short-lived thread
 * that hands its result back through a pipe.  The rounds are portmap.c's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "log.h"
#include "osutil.h"
#include "portmap_int.h"
#include "util.h"

#define UPNP_DESC		"omnet"
/* UPnP error 725 OnlyPermanentLeasesSupported (IGD:1 WANIPConnection) */
#define UPNP_ONLY_PERMANENT	725
#define UPNP_NO_SUCH_ENTRY	714

enum { UPNP_OP_MAP, UPNP_OP_DELETE };

/* The UPnP side, shared by the event loop and at most one worker.  While
 * `running`, the fields below `lock`'s group belong to the worker; else to
 * the loop.  A worker that outlives its portmap (portmap_free() gave up
 * waiting) owns the job and frees it. */
struct upnp_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* signalled when done */
	int refs;		/* the portmap's, and a running worker's */
	int done;		/* the worker finished its operation */
	int abandoned;		/* the portmap is gone: the worker cleans up */
	int was_made;		/* and a mapping of ours may exist at the IGD */
	int pipe[2];		/* the worker writes a byte when done */
	pthread_t thread;
	int running;		/* loop side: started and not yet joined */
	/* the operation */
	int op;			/* UPNP_OP_MAP, UPNP_OP_DELETE */
	char proto[4];		/* "TCP", "UDP" */
	char port[8];
	uint32_t lease_s;
	/* the IGD, found by the first worker and kept for the next ones */
	int have_igd;
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64];
	char igd[64];		/* host:port of its control URL, for messages */
	/* the result */
	int ok;
	char error[256];
	struct pm_grant g;
};

/* ---- UPnP IGD (miniupnpc): the worker's side ------------------------------ */

/* url_hostport() - "host:port" of an URL, for messages */
static void url_hostport(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url ? url : "", "://");
	size_t n;

	p = p ? p + 3 : (url ? url : "");
	n = strcspn(p, "/");
	snprintf(out, outlen, "%.*s", (int)MIN(n, outlen - 1), p);
}

static const char *upnp_strerror(int r)
{
	const char *s = strupnperror(r);

	return s ? s : "unknown error";
}

static void upnp_forget_igd(struct upnp_job *j)
{
	if (!j->have_igd)
		return;
	FreeUPNPUrls(&j->urls);
	j->have_igd = 0;
}

/* upnp_discover() - find the IGD by SSDP, then fetch its description over
 * HTTP.  upnpDiscover() searches its four types one after another, each
 * for the whole delay, so a LAN without an IGD costs four times the delay;
 * searching all types at once (searchalltypes) waits PM_ATTEMPT_MS once. */
static int upnp_discover(struct upnp_job *j)
{
	static const char *const types[] = {
		"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
		"urn:schemas-upnp-org:device:InternetGatewayDevice:2",
		"urn:schemas-upnp-org:service:WANIPConnection:1",
		"urn:schemas-upnp-org:service:WANIPConnection:2",
		"urn:schemas-upnp-org:service:WANPPPConnection:1",
		NULL,
	};
	struct UPNPDev *devs;
	int err = 0, r;

	devs = upnpDiscoverDevices(types, PM_ATTEMPT_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err,
				   1);
	if (!devs) {
		snprintf(j->error, sizeof(j->error),
			 "no UPnP IGD found on the LAN (no SSDP answer within %d ms)", PM_ATTEMPT_MS);
		return -1;
	}
	r = UPNP_GetValidIGD(devs, &j->urls, &j->data, j->lanaddr, sizeof(j->lanaddr));
	freeUPNPDevlist(devs);
	if (r == 0) {
		snprintf(j->error, sizeof(j->error),
			 "no UPnP IGD found on the LAN (only other UPnP devices answered)");
		return -1;
	}
	url_hostport(j->urls.controlURL ? j->urls.controlURL : j->urls.rootdescURL, j->igd,
		     sizeof(j->igd));
	if (r == 3) {
		snprintf(j->error, sizeof(j->error),
			 "no UPnP IGD found on the LAN (the UPnP device at %s is not an IGD)", j->igd);
		FreeUPNPUrls(&j->urls);
		return -1;
	}
	/* r == 2, an IGD saying it is not connected, is tried all the same:
	 * some misreport, and AddPortMapping's answer is what counts */
	j->have_igd = 1;
	return 0;
}

static int upnp_add(struct upnp_job *j, const char *lease)
{
	return UPNP_AddPortMapping(j->urls.controlURL, j->data.first.servicetype, j->port, j->port,
				   j->lanaddr, UPNP_DESC, j->proto, NULL, lease);
}

/* upnp_read_back() - the external address, and the lease the IGD really
 * gave (it may shorten it; its entry says what remains) */
static void upnp_read_back(struct upnp_job *j)
{
	char ext[40] = "", client[40], iport[8], desc[80], enabled[8], lease[16] = "";
	unsigned long s;

	if (UPNP_GetExternalIPAddress(j->urls.controlURL, j->data.first.servicetype, ext) == 0)
		snprintf(j->g.ext_addr, sizeof(j->g.ext_addr), "%s", ext);
	if (!j->g.lease_ms)
		return;
	if (UPNP_GetSpecificPortMappingEntry(j->urls.controlURL, j->data.first.servicetype, j->port,
					     j->proto, NULL, client, iport, desc, enabled,
					     lease) != 0)
		return;
	s = strtoul(lease, NULL, 10);
	if (s > 0 && s < j->lease_s)
		j->g.lease_ms = (uint64_t)s * 1000;
}

static void upnp_do_map(struct upnp_job *j)
{
	char lease[16];
	int r;

	j->ok = 0;
	j->error[0] = 0;
	memset(&j->g, 0, sizeof(j->g));
	if (!j->have_igd && upnp_discover(j) < 0)
		return;
	snprintf(lease, sizeof(lease), "%u", j->lease_s);
	j->g.lease_ms = (uint64_t)j->lease_s * 1000;
	r = upnp_add(j, lease);
	if (r == UPNP_ONLY_PERMANENT) {
		/* a permanent mapping, refreshed by the renewals and deleted by
		 * portmap_free() */
		j->g.lease_ms = 0;
		r = upnp_add(j, "0");
	}
	if (r != UPNPCOMMAND_SUCCESS) {
		if (r > 0)
			snprintf(j->error, sizeof(j->error), "UPnP IGD at %s refused: code %d %s",
				 j->igd, r, upnp_strerror(r));
		else
			snprintf(j->error, sizeof(j->error), "UPnP IGD at %s: AddPortMapping: %s",
				 j->igd, upnp_strerror(r));
		if (r < 0)	/* no answer: find the IGD again next time */
			upnp_forget_igd(j);
		return;
	}
	j->g.ext_port = (uint16_t)atoi(j->port);
	snprintf(j->g.router, sizeof(j->g.router), "%s", j->igd);
	upnp_read_back(j);
	j->ok = 1;
}

static void upnp_do_delete(struct upnp_job *j)
{
	int r;

	j->ok = 0;
	if (!j->have_igd) {
		snprintf(j->error, sizeof(j->error), "no UPnP IGD known");
		return;
	}
	r = UPNP_DeletePortMapping(j->urls.controlURL, j->data.first.servicetype, j->port, j->proto,
				   NULL);
	if (r == UPNPCOMMAND_SUCCESS || r == UPNP_NO_SUCH_ENTRY) {
		j->ok = 1;
		return;
	}
	snprintf(j->error, sizeof(j->error), "UPnP IGD at %s: DeletePortMapping: code %d %s",
		 j->igd, r, upnp_strerror(r));
}

static void upnp_job_destroy(struct upnp_job *j)
{
	upnp_forget_igd(j);
	close(j->pipe[0]);
	close(j->pipe[1]);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* upnp_job_unref() - the last of the portmap and the worker frees */
static void upnp_job_unref(struct upnp_job *j)
{
	int last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (last)
		upnp_job_destroy(j);
}

static void *upnp_worker(void *arg)
{
	struct upnp_job *j = arg;
	int abandoned, cleanup;

	if (j->op == UPNP_OP_MAP)
		upnp_do_map(j);
	else
		upnp_do_delete(j);
	pthread_mutex_lock(&j->lock);
	j->done = 1;
	abandoned = j->abandoned;
	cleanup = abandoned && j->op == UPNP_OP_MAP && (j->ok || j->was_made);
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (!abandoned)
		(void)!write(j->pipe[1], "", 1);
	if (cleanup) {
		/* nobody will delete what this worker made, or renewed */
		upnp_do_delete(j);
		if (j->ok)
			log_info("UPnP mapping %s/%s deleted at %s after its portmap was freed",
				 j->proto, j->port, j->igd);
		else
			log_warnx("UPnP mapping %s/%s not deleted: %s", j->proto, j->port, j->error);
	}
	upnp_job_unref(j);
	return NULL;
}

/* ---- UPnP IGD: the event loop's side ------------------------------------- */

static void upnp_on_done(evutil_socket_t fd, short what, void *arg);

static struct upnp_job *upnp_job_new(struct portmap *pm, char *err, size_t errlen)
{
	struct upnp_job *j = xcalloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (pipe2(j->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "UPnP: pipe: %s", strerror(errno));
		free(j);
		return NULL;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* clock_now_ms()'s clock */
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 1;
	snprintf(j->proto, sizeof(j->proto), "%s", pm->proto == IPPROTO_UDP ? "UDP" : "TCP");
	snprintf(j->port, sizeof(j->port), "%u", pm->port);
	j->lease_s = pm->lease_s;
	pm->up_ev = event_new(pm->base, j->pipe[0], EV_READ | EV_PERSIST, upnp_on_done, pm);
	event_add(pm->up_ev, NULL);
	return j;
}

/* upnp_spawn() - run op in a new worker.  Signals are blocked in it: they
 * are the loop's, and a SIGPIPE from miniupnpc's HTTP must not kill us. */
static int upnp_spawn(struct upnp_job *j, int op, char *err, size_t errlen)
{
	sigset_t all, old;
	int r;

	j->op = op;
	j->done = 0;
	j->refs++;	/* no worker runs: no lock needed */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&j->thread, NULL, upnp_worker, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		j->refs--;
		snprintf(err, errlen, "UPnP: cannot start a thread: %s", strerror(r));
		return -1;
	}
	j->running = 1;
	return 0;
}

/* upnp_wait() - wait until deadline_ms for the worker; 1 when it is done
 * and joined; 0 when it is not: then it is abandoned, and frees the job
 * (and deletes what it made) itself */
static int upnp_wait(struct upnp_job *j, uint64_t deadline_ms, int was_made)
{
	struct timespec ts = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000 };
	int done;

	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->cond, &j->lock, &ts) == 0)
		;
	done = j->done;
	if (!done) {
		j->abandoned = 1;
		j->was_made = was_made;
	}
	pthread_mutex_unlock(&j->lock);
	if (done)
		pthread_join(j->thread, NULL);
	else
		pthread_detach(j->thread);
	j->running = 0;
	if (!done)
		upnp_job_unref(j);
	return done;
}

/* upnp_on_done() - a worker wrote its byte: take its result */
static void upnp_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;
	struct upnp_job *j = pm->up;
	char buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!j->running)
		return;
	pthread_join(j->thread, NULL);
	j->running = 0;
	pm_attempt_done(pm, j->ok ? &j->g : NULL, j->error);
}

int upnp_begin(struct portmap *pm, char *err, size_t errlen)
{
	struct in_addr gw;

	/* an IGD is the way out: without a default route there is none, and
	 * SSDP's multicast could not even be sent */
	if (pm_default_gateway(&gw) < 0) {
		snprintf(err, errlen, "no IPv4 default gateway to ask for a UPnP mapping");
		return -1;
	}
	if (!pm->up && !(pm->up = upnp_job_new(pm, err, errlen)))
		return -1;
	return upnp_spawn(pm->up, UPNP_OP_MAP, err, errlen);
}

/* upnp_release() - for portmap_free(): let a running worker finish, delete
 * the mapping if we made one, drop the job; all until deadline_ms */
void upnp_release(struct portmap *pm, uint64_t deadline_ms)
{
	struct upnp_job *j = pm->up;
	int made = pm->made && pm->winner == PM_UPNP;
	struct pm_grant g = pm->grant;	/* a copy: an abandoned job is not ours */
	char err[256];
	uint64_t start = clock_now_ms();

	if (!j)
		return;
	event_free(pm->up_ev);
	pm->up = NULL;
	if (j->running && !upnp_wait(j, deadline_ms, made))
		return;
	if (!made && j->op == UPNP_OP_MAP && j->ok) {
		made = 1;	/* by the worker just joined, unreported */
		g = j->g;
	}
	if (!made)
		goto out;
	if (upnp_spawn(j, UPNP_OP_DELETE, err, sizeof(err)) < 0) {
		log_warnx("portmap %s: UPnP mapping not deleted: %s", pm->name, err);
		goto out;
	}
	if (!upnp_wait(j, deadline_ms, 0)) {
		log_warnx("portmap %s: UPnP mapping %s:%u not deleted within %" PRIu64
			  " ms; its thread goes on", pm->name, g.ext_addr, g.ext_port,
			  clock_now_ms() - start);
		return;
	}
	if (j->ok)
		log_info("portmap %s: UPnP mapping %s:%u deleted at %s (%" PRIu64 " ms)", pm->name,
			 g.ext_addr, g.ext_port, j->igd, clock_now_ms() - start);
	else
		log_warnx("portmap %s: UPnP mapping not deleted: %s", pm->name, j->error);
out:
	upnp_job_unref(j);
}
