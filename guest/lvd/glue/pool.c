// pool.c: offsets into the shared pool.
//
// The pool is mapped in both domains at different addresses, so a buffer
// crosses as (offset, length).  Both checks are written so that no sum can
// wrap: a hostile offset near 2^64 must not pass.

#include "lvd_glue.h"

int
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

void *
lvd_pool_ptr(const struct lvd_pool *pool, uint64_t off, uint64_t len)
{
	if (off > pool->size || len > pool->size - off)
		return NULL;
	return pool->base + off;
}
