// runtime.c: the guest runtime's process interface and library additions,
// built twice (lvd cc for the machine, gcc + glibc natively) with the same
// arguments; the two outputs must be identical (tests/Lvd.Tests/GuestLibcTests).
// What differs by nature (pid, whether stdout is a terminal, time) is left
// to the emulator-only checks of heap.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kv {
	int k, v;
};

static int
by_key(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	return (x->k > y->k) - (x->k < y->k);
}

static int
by_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=\"%s\" (%zu bytes)\n", i, argv[i], strlen(argv[i]));
	printf("argv[argc] is %s\n", argv[argc] == NULL ? "NULL" : "not NULL");

	// glibc's generator: the same sequence for each seed, srand(0) as srand(1).
	unsigned seeds[] = { 1, 0, 42, 123456789, 4294967295u };
	for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
		srand(seeds[s]);
		printf("srand(%u):", seeds[s]);
		for (int i = 0; i < 8; i++)
			printf(" %d", rand());
		printf("\n");
	}

	// A stable sort: many equal keys, their original order must survive.
	static struct kv a[5000];
	for (int n = 0; n <= 5000; n = n ? n * 5 : 1) {
		for (int i = 0; i < n; i++) {
			a[i].k = rand() % 37;
			a[i].v = i;
		}
		qsort(a, (size_t)n, sizeof a[0], by_key);
		unsigned long h = 0;
		int ordered = 1;
		for (int i = 0; i < n; i++) {
			h = h * 31 + (unsigned long)(a[i].k * 100000 + a[i].v);
			if (i > 0 && (a[i - 1].k > a[i].k || (a[i - 1].k == a[i].k && a[i - 1].v > a[i].v)))
				ordered = 0;
		}
		printf("qsort %d: %s %lu\n", n, ordered ? "stable" : "NOT STABLE", h);
	}

	int b[101];
	for (int i = 0; i < 101; i++)
		b[i] = i * 3;
	for (int key = -1; key <= 303; key += 7) {
		int *f = bsearch(&key, b, 101, sizeof b[0], by_int);
		printf("%d:%ld ", key, f ? (long)(f - b) : -1L);
	}
	printf("\n");
	int none = 5;
	printf("empty: %s\n", bsearch(&none, b, 0, sizeof b[0], by_int) ? "found" : "none");

	fflush(stdout);
	if (write(STDOUT_FILENO, "write(1) ok\n", 12) != 12)
		return 1;
	printf("read(0) at end of input: %ld\n", (long)read(STDIN_FILENO, b, sizeof b));
	return argc;
}
