// captab.c: the per-side capability table.
//
// A flat array: the tables hold the objects one driver shares (a few devices,
// queues and in-flight buffers), so a linear reverse lookup is cheap enough;
// a per-thread hash (LVD.md section 4) can replace lvd_cap_find later without
// changing the ABI.  Insertion takes the lowest free slot, starting at the
// first slot that may be free (slots below `free` are all in use), and scans
// run newest first from the highest slot handed out (it drops again when that
// slot is freed), so a table whose objects come and go per call (an skb per
// packet) finds them at once and is searched over its few live entries, not
// its size.  Lookup, find and remove are
// inline in lvd_glue.h.
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
	t->free = 0;
}

uint64_t
lvd_cap_insert(struct lvd_captab *t, void *ptr, uint32_t tag)
{
	uint32_t i;

	if (tag == 0)
		return 0;
	for (i = t->free; i < t->nslots; i++) {
		struct lvd_cap *c = &t->slots[i];
		if (c->tag != 0)
			continue;
		c->ptr = ptr;
		c->remote = 0;
		c->tag = tag;
		t->free = i + 1;
		if (i >= t->used)
			t->used = i + 1;
		return ((uint64_t)c->gen << 32) | (i + 1);
	}
	t->free = t->nslots;
	return 0;
}

void
lvd_scope_flush(struct lvd_chan *ch)
{
	for (uint32_t i = 0; i < LVD_SCOPE_SLOTS; i++) {
		struct lvd_scope *c = &ch->scope[i];
		if (c->shadow != NULL)
			lvd_shadow_free(c->shadow, c->shadow_tag);
		c->shadow = NULL;
		c->shadow_tag = 0;
		c->shadow_size = 0;
		if (c->tag != 0)
			lvd_scope_close_slot(c);
	}
}
