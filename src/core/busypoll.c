/* busypoll.c: when the event loop polls instead of sleeping (busypoll.h) */
#include "busypoll.h"

void busypoll_init(struct busypoll *b, uint64_t budget_us)
{
	*b = (struct busypoll){ .budget_us = budget_us };
}

/* not_bulk() - close the window if it is over, then say whether the last
 * full one stayed below the bulk rate.  A window that ended long ago says
 * nothing about now: a loop that slept through the next one was idle. */
static int not_bulk(struct busypoll *b, uint64_t now_us, uint64_t io)
{
	uint64_t age = now_us - b->window_us;

	if (age >= BUSY_POLL_WINDOW_US) {
		b->bulk = age < 2 * BUSY_POLL_WINDOW_US && io - b->window_io >= BUSY_POLL_BULK_BYTES;
		b->window_us = now_us;
		b->window_io = io;
	}
	return !b->bulk;
}

int busypoll_start(struct busypoll *b, uint64_t now_us, uint64_t io_before, uint64_t io)
{
	if (!b->budget_us || io == io_before || !not_bulk(b, now_us, io))
		return 0;
	b->last_us = now_us;
	b->last_io = io;
	return 1;
}

int busypoll_more(struct busypoll *b, uint64_t now_us, uint64_t io)
{
	if (io != b->last_io) {
		b->found++;
		b->last_us = now_us;
		b->last_io = io;
		return not_bulk(b, now_us, io);
	}
	return now_us - b->last_us < b->budget_us;
}
