// lib.c: the domain library: the dispatcher every call enters, a heap, and
// printf through the kernel (docs/DOMAINS.md).

#include <stdarg.h>
#include "lvd_driver.h"

static uint64_t heap_next;
static int initialized;

void *
lvd_malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	uint64_t p = __atomic_fetch_add(&heap_next, n, __ATOMIC_RELAXED);
	if (p + n > lvd_info->heap + lvd_info->heap_size)
		return NULL;
	return (void *)p;
}

// linux/blk-mq.h's (a driver's allocations): the domain heap, zeroed.
void *
kzalloc(size_t n)
{
	void *p = lvd_malloc(n);
	if (p != NULL)
		memset(p, 0, n);
	return p;
}

// Text goes to the kernel log 48 bytes per upcall (words 1..6), so printing
// needs no shared buffer.
int
lvd_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 1)
		n = sizeof buf - 1;
	for (int at = 0; at < n; at += 48) {
		struct lvd_msg m = { { lvd_msg_word0(LVD_KFN_PRINT, 0) } };
		int len = n - at < 48 ? n - at : 48;
		memcpy(&m.w[1], buf + at, (size_t)len);
		m.w[7] = (unsigned long)len;
		lvd_upcall_raw(&m);
	}
	return n;
}

// Every call from the kernel lands here (entry.S), on this thread's stack.
void
lvd_dispatch(struct lvd_msg *m)
{
	long r;
	// The driver's interface first: every packet comes this way.
	if (lvd_msg_fn(m) >= LVD_FN_USER) {
		m->w[0] = (unsigned long)driver_call(m);
		return;
	}
	switch (lvd_msg_fn(m)) {
	case LVD_FN_INIT:
		if (initialized) {
			r = -LVD_EINVAL;
			break;
		}
		if (lvd_info->magic != LVD_INFO_MAGIC) {
			r = -LVD_EINVAL;
			break;
		}
		heap_next = lvd_info->heap;
		initialized = 1;
		r = driver_init((unsigned int)m->w[1]);
		m->w[1] = (unsigned long)r;
		r = 0;
		break;
	case LVD_FN_PING:
		m->w[1] += 1;
		r = 0;
		break;
	case LVD_FN_NEST: {
		// Nested calls: kernel -> domain -> kernel -> domain ...
		unsigned long depth = m->w[1];
		if (depth == 0) {
			m->w[1] = 0;
			r = 0;
			break;
		}
		struct lvd_msg k = { { lvd_msg_word0(LVD_KFN_NEST, 0), depth } };
		r = lvd_upcall_raw(&k);
		m->w[1] = k.w[1] + 1;
		break;
	}
	default:
		r = -LVD_ENOSYS;
		break;
	}
	m->w[0] = (unsigned long)r;
}

// printf.c's output hook, for drivers that call printf: a line buffer per
// domain, flushed through lvd_printf at each newline.
void
console_putc(int c)
{
	static char line[128];
	static unsigned int n;
	line[n++] = (char)c;
	if (c == '\n' || n == sizeof line - 1) {
		line[n] = 0;
		n = 0;
		lvd_printf("%s", line);
	}
}
