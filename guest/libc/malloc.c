// malloc.c: a bump allocator.
//
// The heap starts right after the program (__heap_start is exec.ld's _end)
// and ends where the loader says RAM usable for it ends (AT_LVD_HEAP_END in
// the auxiliary vector: below the loader's stack and boot area at the top of
// RAM, so it grows with --memory); without that entry (booted as a kernel,
// run natively by tests/hostrun.c) at exec.ld's __heap_end, 32 MiB after
// _end.  malloc hands out the next piece; free does nothing.  Guest programs
// are short runs that exit, so reusing memory would buy nothing and add code
// to emulate and to trust.  When the heap is used up, malloc returns NULL
// with errno = ENOMEM.
//
// The arena is not cleared by anyone (the loader only zeroes .bss), so
// calloc clears what it returns.

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

extern char __heap_start[], __heap_end[];

// Each block starts with its size, so realloc knows how much to copy.  The
// header is 16 bytes to keep blocks 16-byte aligned, like glibc's.
struct header {
	size_t size;
	size_t unused;
};

#define ALIGN 16

static char *next = __heap_start;
static char *end;   // set by the first malloc

static char *
heap_end(void)
{
	if (end == NULL) {
		uintptr_t loader = getauxval(AT_LVD_HEAP_END);
		end = loader > (uintptr_t)__heap_start ? (char *)loader : loader != 0 ? __heap_start : __heap_end;
	}
	return end;
}

void *
malloc(size_t n)
{
	struct header *h;
	size_t need;

	if (n > (size_t)(heap_end() - __heap_start))
		goto full;
	need = sizeof(struct header) + ((n + ALIGN - 1) & ~(size_t)(ALIGN - 1));
	if (need > (size_t)(heap_end() - next))
		goto full;
	h = (struct header *)next;
	h->size = n;
	next += need;
	return h + 1;

full:
	errno = ENOMEM;
	return NULL;
}

void *
calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(nmemb * size);
	if (p != NULL)
		memset(p, 0, nmemb * size);
	return p;
}

// Like glibc: realloc(NULL, n) is malloc(n), realloc(p, 0) frees p and
// returns NULL, and on failure p is left as it was.
void *
realloc(void *p, size_t n)
{
	struct header *h;
	void *q;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	h = (struct header *)p - 1;
	if (n <= h->size)
		return p;
	q = malloc(n);
	if (q != NULL)
		memcpy(q, p, h->size);
	return q;
}

void
free(void *p)
{
	(void)p;
}
