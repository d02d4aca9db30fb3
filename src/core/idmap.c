/* idmap.c: id -> pointer hash map. */
#include <stdlib.h>

#include "idmap.h"
#include "util.h"

void idmap_init(struct idmap *m)
{
	m->s = NULL;
	m->cap = m->n = 0;
}

void idmap_free(struct idmap *m)
{
	free(m->s);
	idmap_init(m);
}

static size_t slot_for(const struct idmap *m, uint64_t key)
{
	/* splitmix64 finaliser: sequential flow ids spread over the table */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return (size_t)key & (m->cap - 1);
}

void *idmap_get(const struct idmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = slot_for(m, key); m->s[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->s[i].key == key)
			return m->s[i].val;
	}
	return NULL;
}

static void resize(struct idmap *m, size_t cap)
{
	struct idmap_slot *old = m->s;
	size_t oldcap = m->cap, i;

	m->s = xcalloc(cap, sizeof(*m->s));
	m->cap = cap;
	m->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key)
			idmap_put(m, old[i].key, old[i].val);
	}
	free(old);
}

void idmap_put(struct idmap *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->n + 1) * 4 > m->cap * 3)
		resize(m, m->cap ? m->cap * 2 : 16);
	for (i = slot_for(m, key); m->s[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->s[i].key == key) {
			m->s[i].val = val;
			return;
		}
	}
	m->s[i].key = key;
	m->s[i].val = val;
	m->n++;
}

void *idmap_del(struct idmap *m, uint64_t key)
{
	size_t i, j, home;
	void *val;

	if (!m->cap)
		return NULL;
	for (i = slot_for(m, key); m->s[i].key != key; i = (i + 1) & (m->cap - 1)) {
		if (!m->s[i].key)
			return NULL;
	}
	val = m->s[i].val;
	/* backward shift: move later entries of the cluster into the hole
	 * when their home slot does not lie cyclically in (i, j] */
	for (j = (i + 1) & (m->cap - 1); m->s[j].key; j = (j + 1) & (m->cap - 1)) {
		home = slot_for(m, m->s[j].key);
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->s[i].key = 0;
	m->s[i].val = NULL;
	m->n--;
	return val;
}

void *idmap_next(const struct idmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		size_t i = (*pos)++;

		if (m->s[i].key)
			return m->s[i].val;
	}
	return NULL;
}
