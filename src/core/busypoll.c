/* busypoll.c: when the event loop polls instead of sleeping (busypoll.h) */
#include "busypoll.h"

void busypoll_init(struct busypoll *b, uint64_t budget_us)
{
	*b = (struct busypoll){ .budget_us = budget_us };
}

/* window_allows() - close the window if it is over, then say whether the
 * last full one allows polling: it moved less than the bulk rate, and its
 * polls paid (at least half of them found work before the budget ran
 * out; after a window whose polls did not, it rests).  A window that
 * ended long ago says nothing about now: a loop that slept through the
 * next one was idle. */
static int window_allows(struct busypoll *b, uint64_t now_us, uint64_t io)
{
	uint64_t age = now_us - b->window_us;

	if (age >= BUSY_POLL_WINDOW_US) {
		int recent = age < 2 * BUSY_POLL_WINDOW_US;

		b->bulk = recent && io - b->window_io >= BUSY_POLL_BULK_BYTES;
		if (b->polls >= BUSY_POLL_FUTILE_MIN && b->hits * 2 < b->polls) {
			/* rest a window, then twice as long after each
			 * futile one, up to BUSY_POLL_REST_MAX */
			b->rest = b->rest ? b->rest * 2 : 1;
			if (b->rest > BUSY_POLL_REST_MAX)
				b->rest = BUSY_POLL_REST_MAX;
			b->rest_until_us = now_us + b->rest * BUSY_POLL_WINDOW_US;
		} else if (b->hits) {
			b->rest = 0;
		}
		b->window_us = now_us;
		b->window_io = io;
		b->polls = b->hits = 0;
	}
	return !b->bulk && now_us >= b->rest_until_us;
}

int busypoll_start(struct busypoll *b, uint64_t now_us, uint64_t io_before, uint64_t io)
{
	if (!b->budget_us || io == io_before || !window_allows(b, now_us, io))
		return 0;
	b->polls++;
	b->hit = 0;
	b->last_us = now_us;
	b->last_io = io;
	return 1;
}

int busypoll_more(struct busypoll *b, uint64_t now_us, uint64_t io)
{
	if (io != b->last_io) {
		b->found++;
		if (!b->hit) {
			b->hit = 1;
			b->hits++;
		}
		b->last_us = now_us;
		b->last_io = io;
		return window_allows(b, now_us, io);
	}
	return now_us - b->last_us < b->budget_us;
}
