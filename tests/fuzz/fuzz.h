/* fuzz.h: what the libFuzzer harnesses in tests/fuzz/ share.
 *
 * A reader that takes typed values off the fuzzer's bytes (zeros once they
 * run out, so every input is a complete program), and the seed writer:
 * each harness generates its seed corpus itself, from the real encoders,
 * when run as `fuzz_NAME --make-seeds=DIR` (make fuzz-seeds). */
#ifndef OMNET_FUZZ_H
#define OMNET_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fin_u8(struct fin *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static inline uint16_t fin_u16(struct fin *in)
{
	return (uint16_t)(fin_u8(in) << 8 | fin_u8(in));
}

static inline uint32_t fin_u32(struct fin *in)
{
	return (uint32_t)fin_u16(in) << 16 | fin_u16(in);
}

static inline uint64_t fin_u64(struct fin *in)
{
	return (uint64_t)fin_u32(in) << 32 | fin_u32(in);
}

/* fin_take() - up to want bytes, in place; returns how many */
static inline size_t fin_take(struct fin *in, size_t want, const uint8_t **out)
{
	size_t n = want < in->n ? want : in->n;

	*out = in->p;
	in->p += n;
	in->n -= n;
	return n;
}

/* fuzz_seed() - write one seed file DIR/NAME */
void fuzz_seed(const char *dir, const char *name, const void *data, size_t len);
/* fuzz_seedf() - the same, the name a printf format */
void fuzz_seedf(const char *dir, const void *data, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* where the harnesses that run glue keep their files: a private tmpfs */
#define FUZZ_TMP "/tmp/omnet-fuzz"

/* fuzz_seed_texts() - n text seeds, named PREFIX-0, PREFIX-1... */
void fuzz_seed_texts(const char *dir, const char *prefix, const char *const *texts, size_t n);
/* fuzz_make_seeds() - from LLVMFuzzerInitialize(): with --make-seeds=DIR
 * among the arguments, create DIR, run gen(DIR) and exit */
void fuzz_make_seeds(int *argc, char ***argv, void (*gen)(const char *dir));
/* fuzz_private_namespaces() - move this process into network and mount
 * namespaces of its own, with a private tmpfs on /tmp (root: new ones;
 * otherwise inside a new user namespace), so that a harness that opens
 * sockets or writes state touches nothing of the host and leaves nothing
 * behind; exits if it cannot */
void fuzz_private_namespaces(void);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
