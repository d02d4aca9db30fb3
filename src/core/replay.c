/* replay.c: the sliding window of accepted record counters (replay.h). */
#include <string.h>

#include "replay.h"

#define WORDS (REPLAY_WINDOW / 64)

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

static int seen(const struct replay *r, uint64_t c)
{
	return (r->bits[(c / 64) % WORDS] >> (c % 64)) & 1;
}

int replay_check(const struct replay *r, uint64_t c)
{
	if (!r->any || c > r->top)
		return 0;
	/* the word holding top is partly ahead of it; everything in the
	 * WORDS - 1 words before that is still remembered */
	if (r->top / 64 - c / 64 >= WORDS)
		return -1;
	return seen(r, c) ? -1 : 0;
}

void replay_accept(struct replay *r, uint64_t c)
{
	if (!r->any) {
		r->any = 1;
		r->top = c;
	} else if (c > r->top) {
		/* clear the words the window slides over (all, after a jump) */
		uint64_t w, from = r->top / 64 + 1, to = c / 64;

		if (to >= from && to - from >= WORDS)
			memset(r->bits, 0, sizeof(r->bits));
		else
			for (w = from; w <= to; w++)
				r->bits[w % WORDS] = 0;
		r->top = c;
	}
	r->bits[(c / 64) % WORDS] |= (uint64_t)1 << (c % 64);
}
