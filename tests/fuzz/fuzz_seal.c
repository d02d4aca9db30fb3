/* fuzz_seal.c: sealed records (src/seal.c, src/core/replay.c) against a
 * model of what a receiver must accept.
 *
 * The input is a program for a sender and a receiver holding each other's
 * secrets: seal a record (the counter may jump ahead, within and across
 * key epochs), deliver one sealed earlier (again and again, in any
 * order), deliver one with a byte flipped, or deliver bytes of the input
 * as a record.  The receiver must open every genuine record once,
 * whatever the order, as long as it is within the window behind the
 * newest it accepted; never open one twice; never open a changed or made
 * up one; and give back exactly what was sealed. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "replay.h"
#include "seal.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define SLOTS 64
#define MAXPLAIN 256

struct slot {
	uint8_t rec[MAXPLAIN + SEAL_OVERHEAD];
	size_t len;
	uint64_t counter;
	int opened;
};

static const uint8_t ad[8] = { 1, 5, 0, 0, 0x12, 0x34, 0x56, 0x78 };

/* the model: the highest counter opened so far */
static uint64_t top;
static int any;

static int fresh_in_window(const struct slot *s)
{
	uint64_t e = s->counter >> SEAL_EPOCH_SHIFT, newest = top >> SEAL_EPOCH_SHIFT;

	if (s->opened)
		return 0;
	if (!any)
		return e <= 1;
	if (e + 1 < newest || e > newest + 1)
		return 0;
	return s->counter > top || top - s->counter < REPLAY_WINDOW - 64;
}

static void deliver(struct seal *rx, struct slot *s, int flip_at)
{
	uint8_t rec[sizeof(s->rec)], out[sizeof(s->rec)];
	int must = fresh_in_window(s), may = must || (!s->opened && any &&
						       top - s->counter < REPLAY_WINDOW);
	ssize_t n;

	memcpy(rec, s->rec, s->len);
	if (flip_at >= 0)
		rec[(size_t)flip_at % s->len] ^= (uint8_t)(1 + flip_at / 256 % 255);
	n = seal_open(rx, ad, sizeof(ad), rec, s->len, out);
	if (flip_at >= 0) {
		CHECK(n < 0);
		return;
	}
	CHECK(!must || n >= 0);
	CHECK(n < 0 || may);
	if (n < 0)
		return;
	CHECK((size_t)n == s->len - SEAL_OVERHEAD);
	CHECK(memcmp(out, &s->counter, (size_t)n < 8 ? (size_t)n : 8) == 0);
	s->opened = 1;
	if (!any || s->counter > top)
		top = s->counter;
	any = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct slot slots[SLOTS];
	uint8_t s1[SEAL_SECRET_LEN], s2[SEAL_SECRET_LEN], plain[MAXPLAIN], junk[1024];
	struct fin in = { data, size };
	struct seal *tx, *rx;
	uint64_t next = 0;
	int nslots = 0, steps;

	memset(s1, 0x11, sizeof(s1));
	memset(s2, 0x22, sizeof(s2));
	tx = seal_new(s1, s2);
	rx = seal_new(s2, s1);
	CHECK(tx && rx);
	any = 0;
	top = 0;
	for (steps = 0; steps < 256 && in.n; steps++) {
		uint8_t op = fin_u8(&in);
		struct slot *s;
		const uint8_t *p;
		size_t len;

		switch (op % 5) {
		case 0: /* seal, maybe after a jump ahead */
			if (op & 0x80)
				next += fin_u16(&in) * (op & 0x40 ? (uint64_t)1 << 10 : 1);
			s = &slots[nslots < SLOTS ? nslots++ : fin_u8(&in) % SLOTS];
			len = 8 + fin_u8(&in) % (MAXPLAIN - 8);
			memset(plain, op, len);
			memcpy(plain, &next, 8);
			seal_skip(tx, next);
			s->len = seal_record(tx, ad, sizeof(ad), plain, len, s->rec);
			CHECK(s->len == len + SEAL_OVERHEAD);
			s->counter = next++;
			s->opened = 0;
			break;
		case 1: /* deliver one */
		case 2:
			if (nslots)
				deliver(rx, &slots[fin_u8(&in) % nslots], -1);
			break;
		case 3: /* one with a byte changed */
			if (nslots)
				deliver(rx, &slots[fin_u8(&in) % nslots], fin_u16(&in) % (256 * 255));
			break;
		case 4: /* made up */
			len = fin_take(&in, fin_u8(&in) * 4u, &p);
			memcpy(junk, p, len);
			CHECK(seal_open(rx, ad, sizeof(ad), junk, len, plain) < 0 ||
			      len < SEAL_OVERHEAD);
			break;
		}
	}
	seal_free(tx);
	seal_free(rx);
	return 0;
}

static void seeds(const char *dir)
{
	/* in order; reordered by hand; jumps across an epoch; forgeries */
	static const uint8_t in_order[] = { 0, 10, 0, 20, 0, 30, 1, 0, 1, 1, 1, 2, 2, 1 };
	static const uint8_t reordered[] = { 0, 1, 0, 2, 0, 3, 0, 4, 1, 3, 1, 1, 1, 0, 1, 2,
					     3, 2, 0, 7, 4, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					     11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
					     25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
					     39, 40, 41, 42, 43, 44, 45, 46, 47, 48 };
	static const uint8_t jumps[] = { 0, 5, 0xc0, 0x0f, 0xff, 9, 0x80, 0x00, 0x10, 9,
					 0xc0, 0x00, 0x02, 9, 1, 1, 1, 2, 1, 0, 1, 3,
					 0x80, 0x20, 0x00, 9, 1, 4, 1, 0 };

	fuzz_seed(dir, "in-order", in_order, sizeof(in_order));
	fuzz_seed(dir, "reordered", reordered, sizeof(reordered));
	fuzz_seed(dir, "jumps", jumps, sizeof(jumps));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
