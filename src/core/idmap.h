/* idmap.h: a hash map from nonzero 64-bit ids to pointers (open
 * addressing, linear probing, backward-shift deletion: no tombstones, so
 * lookups stay short however many flows come and go). */
#ifndef OMNET_IDMAP_H
#define OMNET_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t key; /* 0: empty */
	void *val;
};

struct idmap {
	struct idmap_slot *s;
	size_t cap, n; /* cap is a power of 2 */
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
void *idmap_get(const struct idmap *m, uint64_t key);
void idmap_put(struct idmap *m, uint64_t key, void *val);
void *idmap_del(struct idmap *m, uint64_t key);
/* idmap_next() - iterate: start with *pos = 0; NULL at the end */
void *idmap_next(const struct idmap *m, size_t *pos);

#endif
