/* busypoll.h: when the event loop polls for work instead of sleeping.
 *
 * A request and its response cross both daemons: four wake-ups, and each
 * costs tens of microseconds of scheduler and context switch, more than
 * everything omnet does with the bytes (DESIGN 11.44).  After a turn of
 * the loop that moved some bytes, the loop may poll without sleeping for
 * up to busy-poll-us, the wait restarting whenever a turn finds work; the
 * glue yields the CPU between turns, so that whatever else is runnable on
 * the core runs first.
 *
 * Not while bulk flows: the loop is busy then anyway, and polling would
 * split the traffic into small batches, each paying its syscalls, and
 * take the CPU from the applications at both ends.  So the loop polls
 * only while the last full window of BUSY_POLL_WINDOW_US moved less than
 * BUSY_POLL_BULK_BYTES: requests and responses, new connections, an
 * interactive session, all far below that rate.  And not while polling
 * does not pay: a steady stream whose packets come further apart than the
 * budget (a download held to tens of Mbit/s by a slow path) would have
 * every poll run to its end and find nothing.  After a window in which
 * fewer than half of the polls found work, the loop rests from polling
 * for a window, then for twice as long after each such window, up to
 * BUSY_POLL_REST_MAX; a window whose polls pay ends the rest.
 *
 * Pure: the time (microseconds) and the daemon's count of bytes moved
 * come in as arguments. */
#ifndef OMNET_BUSYPOLL_H
#define OMNET_BUSYPOLL_H

#include <stdint.h>

#define BUSY_POLL_WINDOW_US 10000
#define BUSY_POLL_BULK_BYTES (256 * 1024) /* in one window: 210 Mbit/s */
#define BUSY_POLL_FUTILE_MIN 4            /* polls in a window before judging them */
#define BUSY_POLL_REST_MAX 8              /* windows without polling, at most */

struct busypoll {
	uint64_t budget_us;            /* busy-poll-us; 0: never poll */
	uint64_t window_us, window_io; /* the current window's start */
	int bulk;                      /* the last full window moved bulk */
	uint64_t rest, rest_until_us;  /* polls did not pay: windows of rest, and until */
	uint64_t polls, hits;          /* this window: polls, and those that found work */
	uint64_t last_us, last_io;     /* this poll: the last work found */
	int hit;                       /* this poll found work */
	uint64_t found;                /* polling turns that found work */
};

void busypoll_init(struct busypoll *b, uint64_t budget_us);
/* busypoll_start() - a blocking turn of the loop moved the bytes from
 * io_before to io: poll now? */
int busypoll_start(struct busypoll *b, uint64_t now_us, uint64_t io_before, uint64_t io);
/* busypoll_more() - a polling turn ended with the count at io: poll on? */
int busypoll_more(struct busypoll *b, uint64_t now_us, uint64_t io);

#endif
