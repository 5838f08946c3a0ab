// lvd_glue.h: the runtime ABI that IDL-generated cross-domain glue targets.
//
// A crossing carries one message of eight 64-bit words (LVD.md section 4): in
// registers rdi rsi rdx r8 r9 r10 r11 r12 on the real trampoline, in a
// struct lvd_msg everywhere else.  Request word 0 is {u32 function id, u32
// target}; reply word 0 is a status (0 or a negated LVD_E* code).  What does
// not fit in words 1..7 goes to the per-CPU register page at offsets the IDL
// compiler fixed at build time; bulk data stays in the shared pool and only its
// offset crosses.  Objects cross as capabilities: opaque u64 names, resolved in
// the receiving side's own table and type-checked there.
//
// The glue is freestanding: it needs memcpy, memset and strnlen, nothing else.
// The domain runtime supplies the transport (the VMFUNC trampoline) and the
// shadow allocator; loopback.c supplies both for native tests.

#ifndef LVD_GLUE_H
#define LVD_GLUE_H

#include <stddef.h>
#include <stdint.h>
#if __STDC_HOSTED__ || __has_include(<string.h>)
#include <string.h>
#else
// The kernel and the domains build without a C library's headers; both link
// guest/libc's string.c.
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
size_t strnlen(const char *s, size_t n);
// -ffreestanding turns the builtins off, so clearing a message or copying
// a field would be a call per use on every crossing: the glue asks for them
// by name (gcc expands fixed sizes inline and calls the functions for the
// rest).  Include this header after any other declaration of these two.
#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#endif

// The message (struct lvd_msg, LVD_MSG_WORDS) and the status codes (LVD_OK,
// LVD_E*: positive constants, a failure is the negated code) have one
// definition, the kernel-domain contract; a path relative to this header, so
// that the glue builds with nothing but this directory on the include path.
#include "../include/lvd/domain.h"

_Static_assert(LVD_MSG_WORDS == 8, "lvd_msg_clear and lvd_msg_clear_reply name every word");

#define LVD_MSG_HDR(fid, target) \
	((uint64_t)(uint32_t)(fid) | ((uint64_t)(uint32_t)(target) << 32))
#define LVD_MSG_FID(w0)    ((uint32_t)(w0))
#define LVD_MSG_TARGET(w0) ((uint32_t)((w0) >> 32))

// A reply status comes from the other domain: anything but 0 or a known code
// is itself an error, so a hostile callee cannot make a caller return 42.
static inline int
lvd_status(uint64_t w0)
{
	int64_t s = (int64_t)w0;

	if (s == 0)
		return LVD_OK;
	if (s < 0 && s >= -LVD_EMAX)
		return (int)s;
	return -LVD_EINVAL;
}

// ---- the per-CPU register page (LVD_REGPAGE_SIZE: lvd/domain.h) ----
struct lvd_regpage {
	uint8_t bytes[LVD_REGPAGE_SIZE];
} __attribute__((aligned(64)));

// Offsets are compile-time constants checked by the IDL compiler against
// LVD_REGPAGE_SIZE, so these accessors need no bounds check.  memcpy keeps
// them alignment- and aliasing-safe.
#define LVD_RP_ACCESSORS(name, type)                                          \
	static inline void lvd_rp_put_##name(struct lvd_regpage *rp, size_t off, \
					     type v)                              \
	{                                                                      \
		memcpy(rp->bytes + off, &v, sizeof(v));                        \
	}                                                                      \
	static inline type lvd_rp_get_##name(const struct lvd_regpage *rp,     \
					     size_t off)                          \
	{                                                                      \
		type v;                                                        \
		memcpy(&v, rp->bytes + off, sizeof(v));                        \
		return v;                                                      \
	}
LVD_RP_ACCESSORS(u8, uint8_t)
LVD_RP_ACCESSORS(u16, uint16_t)
LVD_RP_ACCESSORS(u32, uint32_t)
LVD_RP_ACCESSORS(u64, uint64_t)
LVD_RP_ACCESSORS(s8, int8_t)
LVD_RP_ACCESSORS(s16, int16_t)
LVD_RP_ACCESSORS(s32, int32_t)
LVD_RP_ACCESSORS(s64, int64_t)
LVD_RP_ACCESSORS(char, char)
#undef LVD_RP_ACCESSORS

static inline void
lvd_rp_put_bytes(struct lvd_regpage *rp, size_t off, const void *src, size_t n)
{
	memcpy(rp->bytes + off, src, n);
}

static inline void
lvd_rp_get_bytes(const struct lvd_regpage *rp, size_t off, void *dst, size_t n)
{
	memcpy(dst, rp->bytes + off, n);
}

// ---- the shared pool ----
// Both sides map the same pages, each at its own address: only offsets cross.
struct lvd_pool {
	uint8_t *base;
	uint64_t size;
};

// Inline: each crossing of a buffer makes one of these checks (a call each
// cost about as much as the check).  Written so that no sum can wrap: a
// hostile offset near 2^64 must not pass.
static inline int
lvd_pool_offset(const struct lvd_pool *pool, const void *p, uint64_t len,
		uint64_t *off)
{
	uintptr_t base = (uintptr_t)pool->base;
	uintptr_t addr = (uintptr_t)p;

	if (addr < base || addr - base > pool->size)
		return -LVD_ERANGE;
	if (len > pool->size - (addr - base))
		return -LVD_ERANGE;
	*off = addr - base;
	return LVD_OK;
}

static inline void *
lvd_pool_ptr(const struct lvd_pool *pool, uint64_t off, uint64_t len)
{
	if (off > pool->size || len > pool->size - off)
		return NULL;
	return pool->base + off;
}

// ---- the capability table ----
// One table per side of a channel.  A capability is (generation << 32 | slot
// index + 1): 0 is never valid, and a freed slot's generation moves on so a
// stale capability no longer resolves.  `remote` is the other side's
// capability for the same object, learned when the object was first shared.
struct lvd_cap {
	void *ptr;
	uint64_t remote;
	uint32_t tag; // 0 = free slot
	uint32_t gen;
};

struct lvd_captab {
	struct lvd_cap *slots;
	uint32_t nslots;
	uint32_t used; // slots [used, nslots) are free: scans stop here
	uint32_t free; // slots [0, free) are in use: insertion starts here
};

void lvd_captab_init(struct lvd_captab *t, struct lvd_cap *slots, uint32_t n);
uint64_t lvd_cap_insert(struct lvd_captab *t, void *ptr, uint32_t tag);

// Lookup, find and remove run on every crossing that names an object (a
// device, an skb per packet): inline (captab.c has the rest and the design).

// The one place a capability from another domain is trusted: every field of
// it is checked before the slot is handed out.
static inline struct lvd_cap *
lvd_cap_lookup(struct lvd_captab *t, uint64_t cap, uint32_t tag)
{
	uint32_t index = (uint32_t)cap - 1; // 0 wraps to UINT32_MAX: never below nslots
	struct lvd_cap *c;

	if (index >= t->nslots || tag == 0)
		return NULL;
	c = &t->slots[index];
	if (c->tag != tag || c->gen != (uint32_t)(cap >> 32))
		return NULL;
	return c;
}

// Newest first: objects that live one call (an skb) take the highest slots
// in use, above the long-lived ones (the device, the callbacks).
static inline uint64_t
lvd_cap_find(struct lvd_captab *t, const void *ptr, uint32_t tag)
{
	uint32_t i;

	for (i = t->used; i-- > 0;) {
		struct lvd_cap *c = &t->slots[i];
		if (c->ptr == ptr && c->tag == tag)
			return ((uint64_t)c->gen << 32) | (i + 1);
	}
	return 0;
}

// lvd_cap_find and the slot in one pass: the slot of ptr's capability (and
// the capability in *cap), or NULL (and 0).
static inline struct lvd_cap *
lvd_cap_find_slot(struct lvd_captab *t, const void *ptr, uint32_t tag, uint64_t *cap)
{
	uint32_t i;

	for (i = t->used; i-- > 0;) {
		struct lvd_cap *c = &t->slots[i];
		if (c->ptr == ptr && c->tag == tag && tag != 0) {
			*cap = ((uint64_t)c->gen << 32) | (i + 1);
			return c;
		}
	}
	*cap = 0;
	return NULL;
}

static inline void
lvd_cap_remove(struct lvd_captab *t, uint64_t cap)
{
	uint32_t index = (uint32_t)cap - 1;
	struct lvd_cap *c;

	if (index >= t->nslots)
		return;
	c = &t->slots[index];
	if (c->tag == 0 || c->gen != (uint32_t)(cap >> 32))
		return;
	// A new generation makes every copy of this capability stale.
	c->gen++;
	c->tag = 0;
	c->ptr = NULL;
	c->remote = 0;
	if (index < t->free)
		t->free = index;
	// The newest slot going (an skb at the end of its call): scans stop
	// below it again.
	if (index + 1 == t->used)
		t->used = index;
}

// ---- shadow objects ----
// A side's private copy of an object the other side owns.  Supplied by the
// domain runtime (its heap) or the test harness; must return zeroed memory.
void *lvd_shadow_alloc(size_t size, uint32_t tag);
void lvd_shadow_free(void *obj, uint32_t tag);

// ---- call-scoped objects ([call] in the IDL) ----
// An object that lives exactly one call (an skb in ndo_start_xmit, a request in
// queue_rq) is named by a slot of the caller's channel for that call instead of
// a capability-table entry: no insert, find or remove, and the callee keeps one
// shadow per slot, reused from call to call instead of allocated and freed.
// A name is (generation << 32 | slot + 1), as a capability; the caller's slot
// moves to a new generation when the call ends (or a nested [call(end)] ends it
// early), so a stale name no longer resolves, and a forged one names no open
// slot or the wrong generation or type.  Channels are per CPU (or serialized),
// so a slot is never used by two CPUs; nested and preempted calls on one CPU
// take different slots.
#define LVD_SCOPE_SLOTS 4

struct lvd_scope {
	void *ptr;        // caller: the lent object; callee: the shadow; NULL = closed
	uint64_t remote;  // callee: the caller's name for the object
	void *shadow;     // callee: this slot's shadow, kept across calls
	size_t shadow_size;
	uint32_t tag;     // 0 = closed
	uint32_t gen;
	uint32_t shadow_tag;
};

struct lvd_chan;
static inline struct lvd_scope *lvd_chan_scopes(struct lvd_chan *ch);

// Caller: open a slot naming obj for the coming call; 0 if none is free.
static inline uint64_t
lvd_scope_open(struct lvd_chan *ch, void *obj, uint32_t tag)
{
	struct lvd_scope *s = lvd_chan_scopes(ch);
	uint32_t i;

	if (tag == 0)
		return 0;
	for (i = 0; i < LVD_SCOPE_SLOTS; i++) {
		if (s[i].tag != 0)
			continue;
		s[i].ptr = obj;
		s[i].tag = tag;
		return ((uint64_t)s[i].gen << 32) | (i + 1);
	}
	return 0;
}

// Either side: the open slot a name (caller) or a remote name (callee) stands
// for, every field checked; NULL if stale, forged or of another type.
static inline struct lvd_scope *
lvd_scope_lookup(struct lvd_chan *ch, uint64_t name, uint32_t tag)
{
	uint32_t index = (uint32_t)name - 1; // 0 wraps: never below LVD_SCOPE_SLOTS
	struct lvd_scope *c;

	if (index >= LVD_SCOPE_SLOTS || tag == 0)
		return NULL;
	c = &lvd_chan_scopes(ch)[index];
	if (c->tag != tag || c->ptr == NULL || c->gen != (uint32_t)(name >> 32))
		return NULL;
	return c;
}

// Callee: a name the caller sent is well formed (its slot is checked against
// the caller's generation only by the caller, when the name comes back).
static inline int
lvd_scope_name_ok(uint64_t name)
{
	return (uint32_t)name - 1 < LVD_SCOPE_SLOTS;
}

// Close a slot: a new generation makes every copy of its name stale.  The
// callee's shadow stays for the slot's next call.
static inline void
lvd_scope_close_slot(struct lvd_scope *c)
{
	c->ptr = NULL;
	c->tag = 0;
	c->remote = 0;
	c->gen++;
}

// Caller: the call is over (idempotent: a nested end may have closed it).
static inline void
lvd_scope_close(struct lvd_chan *ch, uint64_t name, uint32_t tag)
{
	struct lvd_scope *c = lvd_scope_lookup(ch, name, tag);

	if (c != NULL)
		lvd_scope_close_slot(c);
}

// Callee: enter the call with the slot's shadow, zeroed as a new one would
// be (allocated once per slot and type); NULL if it cannot be allocated.
static inline void *
lvd_scope_enter(struct lvd_chan *ch, uint64_t name, uint32_t tag, size_t size)
{
	struct lvd_scope *c = &lvd_chan_scopes(ch)[(uint32_t)name - 1];

	if (c->shadow == NULL || c->shadow_tag != tag || c->shadow_size != size) {
		void *obj = lvd_shadow_alloc(size, tag);
		if (obj == NULL)
			return NULL;
		if (c->shadow != NULL)
			lvd_shadow_free(c->shadow, c->shadow_tag);
		c->shadow = obj;
		c->shadow_tag = tag;
		c->shadow_size = size;
	} else
		memset(c->shadow, 0, size);
	c->ptr = c->shadow;
	c->tag = tag;
	c->remote = name;
	return c->shadow;
}

// Callee: the call is over (idempotent: a nested end may have closed it).
static inline void
lvd_scope_leave(struct lvd_chan *ch, uint64_t name, uint32_t tag)
{
	struct lvd_scope *c = &lvd_chan_scopes(ch)[(uint32_t)name - 1];

	if (c->tag == tag && c->remote == name)
		lvd_scope_close_slot(c);
}

// Callee, calling back: the open slot whose shadow is obj; NULL if none (the
// object's call is over, or it was never lent).
static inline struct lvd_scope *
lvd_scope_find(struct lvd_chan *ch, const void *obj, uint32_t tag)
{
	struct lvd_scope *s = lvd_chan_scopes(ch);
	uint32_t i;

	for (i = 0; i < LVD_SCOPE_SLOTS; i++)
		if (s[i].ptr == obj && s[i].tag == tag && tag != 0 && obj != NULL)
			return &s[i];
	return NULL;
}

// Free the shadows a channel keeps (at unload).
void lvd_scope_flush(struct lvd_chan *ch);

// ---- channels ----
// The crossing.  On the real machine: load m into the eight registers,
// VMFUNC, and copy the reply registers back into m.  Returns 0 when a reply
// arrived (its status is in m->w[0]), -LVD_ECROSS when none can.
typedef int (*lvd_transport)(struct lvd_msg *m);

// One side's view of a connection to the other side.
struct lvd_chan {
	uint32_t target;             // request word 0, high half
	lvd_transport transport;     // how this side calls the other
	struct lvd_captab *caps;     // this side's capability table
	struct lvd_regpage *regpage; // this side's view of the register page
	struct lvd_pool pool;        // this side's view of the shared pool
	struct lvd_scope scope[LVD_SCOPE_SLOTS]; // call-scoped objects
};

static inline struct lvd_scope *
lvd_chan_scopes(struct lvd_chan *ch)
{
	return ch->scope;
}

// A generated dispatcher: serves one request in m and leaves the reply in m.
typedef void (*lvd_dispatch)(struct lvd_chan *ch, struct lvd_msg *m);

// One side's channels to a domain: one per CPU, over a pool whose first pages
// are the CPUs' register pages (LVD_POOL_REGPAGE).  Channel c calls through
// transport with the capability table caps[c] if per_cpu_caps, else caps[0]
// (the tables are the caller's, initialized).  0, or -LVD_ENOMEM when the
// pool has no register page for each CPU.  *nchans (if not NULL) becomes
// the number of channels made: ncpu, or 0 on failure.
static inline int
lvd_chans_init(struct lvd_chan *chans, int *nchans, unsigned int ncpu, lvd_transport transport,
	       struct lvd_captab *caps, int per_cpu_caps, uint8_t *pool, uint64_t pool_size)
{
	if (nchans != NULL)
		*nchans = 0;
	if ((uint64_t)ncpu * LVD_REGPAGE_SIZE > pool_size)
		return -LVD_ENOMEM;
	for (unsigned int c = 0; c < ncpu; c++)
		chans[c] = (struct lvd_chan){
			.target = 0,
			.transport = transport,
			.caps = &caps[per_cpu_caps ? c : 0],
			.regpage = (struct lvd_regpage *)(pool + LVD_POOL_REGPAGE(c)),
			.pool = { pool, pool_size },
		};
	if (nchans != NULL)
		*nchans = (int)ncpu;
	return 0;
}

// Serves a call that arrived on channel cpu of the nchans in chans: function
// ids from base up are the interface's.  The reply's status, or -LVD_EINVAL
// for a CPU without a channel.
static inline int
lvd_chan_serve(struct lvd_chan *chans, int nchans, int cpu, struct lvd_msg *m,
	       uint64_t base, lvd_dispatch dispatch)
{
	if ((unsigned int)cpu >= (unsigned int)nchans)   // one compare: negative is out of range too
		return -LVD_EINVAL;
	m->w[0] -= base;
	dispatch(&chans[cpu], m);
	return (int)(int64_t)m->w[0];
}

// Generated handlers clear the reply words before writing their results, so
// a reply never echoes leftover request words.  Word by word, not memset: the
// compiler then drops the stores to the words the handler writes anyway.
static inline void
lvd_msg_clear_reply(struct lvd_msg *m)
{
	m->w[1] = 0, m->w[2] = 0, m->w[3] = 0, m->w[4] = 0;
	m->w[5] = 0, m->w[6] = 0, m->w[7] = 0;
}

// Generated stubs clear a request before filling it, so a request never
// carries stack garbage in the words its function does not use (the stores
// to the words it does use are dropped by the compiler).
static inline void
lvd_msg_clear(struct lvd_msg *m)
{
	m->w[0] = 0, m->w[1] = 0, m->w[2] = 0, m->w[3] = 0;
	m->w[4] = 0, m->w[5] = 0, m->w[6] = 0, m->w[7] = 0;
}

// ---- loopback transport (native tests) ----
// Connects a kernel channel and a domain channel in one process.  Each
// crossing copies the message, the register page and the pool from the
// caller's views into the callee's, so a pointer that leaked into the data
// would point into the wrong copy and a test would see it.
void lvd_loopback_connect(struct lvd_chan *kernel, lvd_dispatch kernel_dispatch,
			  struct lvd_chan *domain, lvd_dispatch domain_dispatch);
int lvd_loopback_to_domain(struct lvd_msg *m);
int lvd_loopback_to_kernel(struct lvd_msg *m);
extern uint64_t lvd_loopback_crossings;

#endif // LVD_GLUE_H
