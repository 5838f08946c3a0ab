// sort.c: qsort and bsearch.
//
// qsort is a stable merge sort, like glibc's (which merges whenever it can
// get the buffer): elements that compare equal keep their order, so a
// program's output matches its native run even where the C standard leaves
// the order open.  The buffer is one scratch area grown as needed (free does
// nothing, so allocating one per call would leak).

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *scratch;
static size_t scratch_size;

static void
merge_sort(char *base, char *tmp, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n < 2)
		return;
	size_t half = n / 2;
	char *mid = base + half * size;
	merge_sort(base, tmp, half, size, cmp);
	merge_sort(mid, tmp, n - half, size, cmp);
	if (cmp(mid - size, mid) <= 0)
		return;   // already in order
	char *a = base, *a_end = mid, *b = mid, *b_end = base + n * size, *out = tmp;
	while (a < a_end && b < b_end) {
		if (cmp(a, b) <= 0) {   // ties from the left half: stable
			memcpy(out, a, size);
			a += size;
		} else {
			memcpy(out, b, size);
			b += size;
		}
		out += size;
	}
	memcpy(out, a, (size_t)(a_end - a));
	out += a_end - a;
	memcpy(base, tmp, (size_t)(out - tmp));   // the rest of b is in place
}

void
qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n < 2 || size == 0)
		return;
	if (n > SIZE_MAX / size)
		abort();
	if (n * size > scratch_size) {
		char *p = malloc(n * size);
		if (p == NULL)
			abort();   // glibc falls back to an in-place sort; we have no such memory to spare
		scratch = p;
		scratch_size = n * size;
	}
	merge_sort(base, scratch, n, size, cmp);
}

void *
bsearch(const void *key, const void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *lo = base;
	while (n > 0) {
		const char *mid = lo + (n / 2) * size;
		int c = cmp(key, mid);
		if (c == 0)
			return (void *)mid;
		if (c > 0) {
			lo = mid + size;
			n -= n / 2 + 1;
		} else {
			n /= 2;
		}
	}
	return NULL;
}
