/*
 * lvd_driver.h: what a driver running in an LVD domain sees (docs/DOMAINS.md).
 *
 * A driver is ordinary C compiled by guest/domains/build.sh.  It defines
 * driver_init() and driver_call(); the library gives it a heap, printf (to the
 * kernel log, through an upcall) and calls into the kernel.  It runs in ring 0
 * but sees only its own memory, its stacks, the shared pool and the kernel
 * pages interrupts need; anything else it tries kills it, not the kernel.
 */
#ifndef LVD_DRIVER_H
#define LVD_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <lvd/domain.h>

/* The kernel's description of this domain (read-only page). */
#define lvd_info ((const struct lvd_domain_info *)LVD_DOMAIN_INFO)

/* Provided by the driver. */
long driver_init(unsigned int ncpu);            /* 0 or a negative error */
long driver_call(struct lvd_msg *m);            /* functions >= LVD_FN_USER; reply in *m */
						/* lvd boot --calls N: call i has w[1] = i, w[2] = N */

/* Provided by the library. */
long lvd_upcall_raw(struct lvd_msg *m);         /* call a kernel service; reply in *m; returns word 0 */
int lvd_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *lvd_malloc(size_t n);
/* The CPU this call runs on (from the domain stack's pool), 0 if not below `bound`. */
static inline unsigned int
lvd_this_cpu(unsigned int bound)
{
	int here;   /* on this call's stack, which belongs to this CPU's pool */
	unsigned long c = LVD_STACK_CPU(&here);
	return c < bound ? (unsigned int)c : 0;
}                     /* from the domain heap; never freed */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int vsnprintf(char *buf, size_t size, const char *fmt, __builtin_va_list ap);

#endif
