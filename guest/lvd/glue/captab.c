// captab.c: the per-side capability table.
//
// A flat array: the tables hold the objects one driver shares (a few devices,
// queues and in-flight buffers), so a linear reverse lookup is cheap enough;
// a per-thread hash (LVD.md section 4) can replace lvd_cap_find later without
// changing the ABI.  Insertion takes the lowest free slot and scans stop at
// the highest slot ever used, so a table whose objects come and go per call
// (an skb per packet) is searched over its few live entries, not its size.
//
// A table is not locked: its users serialize (the nullnet glue runs under the
// device's tx_lock on both sides).

#include "lvd_glue.h"

void
lvd_captab_init(struct lvd_captab *t, struct lvd_cap *slots, uint32_t n)
{
	memset(slots, 0, sizeof(*slots) * n);
	t->slots = slots;
	t->nslots = n;
	t->used = 0;
}

uint64_t
lvd_cap_insert(struct lvd_captab *t, void *ptr, uint32_t tag)
{
	uint32_t i;

	if (tag == 0)
		return 0;
	for (i = 0; i < t->nslots; i++) {
		struct lvd_cap *c = &t->slots[i];
		if (c->tag != 0)
			continue;
		c->ptr = ptr;
		c->remote = 0;
		c->tag = tag;
		if (i >= t->used)
			t->used = i + 1;
		return ((uint64_t)c->gen << 32) | (i + 1);
	}
	return 0;
}

// The one place a capability from another domain is trusted: every field of
// it is checked before the slot is handed out.
struct lvd_cap *
lvd_cap_lookup(struct lvd_captab *t, uint64_t cap, uint32_t tag)
{
	uint32_t index = (uint32_t)cap;
	struct lvd_cap *c;

	if (index == 0 || index > t->nslots || tag == 0)
		return NULL;
	c = &t->slots[index - 1];
	if (c->tag != tag || c->gen != (uint32_t)(cap >> 32))
		return NULL;
	return c;
}

uint64_t
lvd_cap_find(struct lvd_captab *t, const void *ptr, uint32_t tag)
{
	uint32_t i;

	for (i = 0; i < t->used; i++) {
		struct lvd_cap *c = &t->slots[i];
		if (c->tag == tag && c->ptr == ptr)
			return ((uint64_t)c->gen << 32) | (i + 1);
	}
	return 0;
}

void
lvd_cap_remove(struct lvd_captab *t, uint64_t cap)
{
	uint32_t index = (uint32_t)cap;
	struct lvd_cap *c;

	if (index == 0 || index > t->nslots)
		return;
	c = &t->slots[index - 1];
	if (c->gen != (uint32_t)(cap >> 32))
		return;
	// A new generation makes every copy of this capability stale.
	c->gen++;
	c->tag = 0;
	c->ptr = NULL;
	c->remote = 0;
}
