// libc_test.c: the guest's string, stdlib, ctype and malloc against glibc,
// on the host.
//
// check.sh libc compiles those runtime files with every entry point renamed
// to lvd_* and links them with this file, an ordinary Linux program.  Output:
// one line per mismatch, then a summary; exit status 1 if anything differed.

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *lvd_memcpy(void *, const void *, size_t);
void *lvd_memmove(void *, const void *, size_t);
void *lvd_memset(void *, int, size_t);
int lvd_memcmp(const void *, const void *, size_t);
void *lvd_memchr(const void *, int, size_t);
size_t lvd_strlen(const char *);
size_t lvd_strnlen(const char *, size_t);
int lvd_strcmp(const char *, const char *);
int lvd_strncmp(const char *, const char *, size_t);
char *lvd_strcpy(char *, const char *);
char *lvd_strncpy(char *, const char *, size_t);
char *lvd_strcat(char *, const char *);
char *lvd_strncat(char *, const char *, size_t);
char *lvd_strchr(const char *, int);
char *lvd_strrchr(const char *, int);
char *lvd_strstr(const char *, const char *);
char *lvd_strdup(const char *);
int lvd_rand(void);
void lvd_srand(unsigned int);
void lvd_qsort(void *, size_t, size_t, int (*)(const void *, const void *));
void *lvd_bsearch(const void *, const void *, size_t, size_t, int (*)(const void *, const void *));
long lvd_strtol(const char *, char **, int);
unsigned long lvd_strtoul(const char *, char **, int);
long long lvd_strtoll(const char *, char **, int);
unsigned long long lvd_strtoull(const char *, char **, int);
int lvd_atoi(const char *);
int lvd_abs(int);
long lvd_labs(long);
void *lvd_malloc(size_t);
void *lvd_calloc(size_t, size_t);
void *lvd_realloc(void *, size_t);
void lvd_free(void *);
extern int lvd_errno;

int lvd_isalnum(int), lvd_isalpha(int), lvd_iscntrl(int), lvd_isdigit(int);
int lvd_isgraph(int), lvd_islower(int), lvd_isprint(int), lvd_ispunct(int);
int lvd_isspace(int), lvd_isupper(int), lvd_isxdigit(int);
int lvd_tolower(int), lvd_toupper(int);

// The arena exec.ld would lay out after the program: __heap_end is a
// symbol whose address is the end, as the linker script defines it.
char __heap_start[1 << 20] __attribute__((aligned(4096)));
__asm__(".globl __heap_end\n.set __heap_end, __heap_start + (1 << 20)");

static int ncases, nfailed;

#define CHECK(cond, ...) do { \
	ncases++; \
	if (!(cond)) { \
		nfailed++; \
		if (nfailed <= 50) { \
			printf("line %d: ", __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} \
} while (0)

static int sign(int x) { return (x > 0) - (x < 0); }

static void
memory_functions(void)
{
	unsigned char a[96], b[96], want[96], got[96];

	for (size_t i = 0; i < sizeof a; i++) {
		a[i] = (unsigned char)(i * 37 + 11);
		b[i] = (unsigned char)(i * 91 + 200);
	}

	// Every alignment and length up to 40, for each function.
	for (size_t off = 0; off < 9; off++)
	for (size_t soff = 0; soff < 9; soff++)
	for (size_t n = 0; n <= 40; n++) {
		memcpy(want, b, sizeof want);
		memcpy(got, b, sizeof got);
		memcpy(want + off, a + soff, n);
		lvd_memcpy(got + off, a + soff, n);
		CHECK(memcmp(want, got, sizeof want) == 0, "memcpy off %zu soff %zu n %zu", off, soff, n);

		// Overlapping both ways, within one buffer.
		memcpy(want, a, sizeof want);
		memcpy(got, a, sizeof got);
		memmove(want + off, want + soff, n);
		lvd_memmove(got + off, got + soff, n);
		CHECK(memcmp(want, got, sizeof want) == 0, "memmove off %zu soff %zu n %zu", off, soff, n);

		memcpy(want, b, sizeof want);
		memcpy(got, b, sizeof got);
		memset(want + off, (int)(soff * 29 + 0x180), n);
		lvd_memset(got + off, (int)(soff * 29 + 0x180), n);
		CHECK(memcmp(want, got, sizeof want) == 0, "memset off %zu c %zu n %zu", off, soff, n);

		memcpy(got, a, sizeof got);
		if (n > 0)
			got[soff + n - 1] ^= 0x80;   // differ in the last byte, high bit
		CHECK(sign(memcmp(a + soff, got + soff, n)) == sign(lvd_memcmp(a + soff, got + soff, n)),
		      "memcmp soff %zu n %zu", soff, n);

		int c = a[soff + n / 2];
		CHECK(memchr(a + off, c, n) == lvd_memchr(a + off, c, n), "memchr off %zu n %zu", off, n);
	}
}

static const char *strs[] = {
	"", "a", "ab", "abc", "abd", "abcd", "hello", "hello, world", "\x80\xff", "\x7f",
	"aaaaab", "aab", "ab\x80", "b",
};
#define NSTRS (sizeof strs / sizeof strs[0])

static void
string_functions(void)
{
	char want[64], got[64];

	for (size_t i = 0; i < NSTRS; i++) {
		const char *s = strs[i];
		CHECK(strlen(s) == lvd_strlen(s), "strlen \"%s\"", s);
		for (size_t m = 0; m < 8; m++)
			CHECK(strnlen(s, m) == lvd_strnlen(s, m), "strnlen \"%s\" %zu", s, m);

		for (int c = 0; c < 256; c += 1) {
			CHECK(strchr(s, c) == lvd_strchr(s, c), "strchr \"%s\" %d", s, c);
			CHECK(strrchr(s, c) == lvd_strrchr(s, c), "strrchr \"%s\" %d", s, c);
		}
		CHECK(strchr(s, 0x100 + 'a') == lvd_strchr(s, 0x100 + 'a'), "strchr int wrap");

		memset(want, '#', sizeof want);
		memset(got, '#', sizeof got);
		CHECK(lvd_strcpy(got, s) == got, "strcpy return");
		strcpy(want, s);
		CHECK(memcmp(want, got, sizeof want) == 0, "strcpy \"%s\"", s);

		for (size_t n = 0; n < 16; n++) {
			memset(want, '#', sizeof want);
			memset(got, '#', sizeof got);
			strncpy(want, s, n);
			lvd_strncpy(got, s, n);
			CHECK(memcmp(want, got, sizeof want) == 0, "strncpy \"%s\" %zu", s, n);
		}

		char *d = lvd_strdup(s);
		CHECK(d != NULL && strcmp(d, s) == 0 && d != s, "strdup \"%s\"", s);

		for (size_t j = 0; j < NSTRS; j++) {
			const char *t = strs[j];
			CHECK(sign(strcmp(s, t)) == sign(lvd_strcmp(s, t)), "strcmp \"%s\" \"%s\"", s, t);
			for (size_t n = 0; n < 8; n++)
				CHECK(sign(strncmp(s, t, n)) == sign(lvd_strncmp(s, t, n)),
				      "strncmp \"%s\" \"%s\" %zu", s, t, n);
			CHECK(strstr(s, t) == lvd_strstr(s, t), "strstr \"%s\" \"%s\"", s, t);

			memset(want, '#', sizeof want);
			memset(got, '#', sizeof got);
			strcpy(want, s);
			strcpy(got, s);
			strcat(want, t);
			CHECK(lvd_strcat(got, t) == got && memcmp(want, got, sizeof want) == 0,
			      "strcat \"%s\" \"%s\"", s, t);
			for (size_t n = 0; n < 8; n++) {
				memset(want, '#', sizeof want);
				memset(got, '#', sizeof got);
				strcpy(want, s);
				strcpy(got, s);
				strncat(want, t, n);
				lvd_strncat(got, t, n);
				CHECK(memcmp(want, got, sizeof want) == 0, "strncat \"%s\" \"%s\" %zu", s, t, n);
			}
		}
	}
}

static const char *numbers[] = {
	"", " ", "0", "1", "-1", "+1", "  42xyz", "\t\n-17", "+-3", "-", "+",
	"0x", "0x1f", "0X1F", "-0x10", "0xg", "0x 1", "017", "08", "0b101", "z", "Zz",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808",
	"-9223372036854775809", "18446744073709551615", "18446744073709551616",
	"-18446744073709551615", "99999999999999999999999", "0x7fffffffffffffff",
	"0xffffffffffffffff", "0x10000000000000000", "2147483648", "-2147483649",
	"1e5", "00000000000000000000000000000001", "   +0x", "  -0",
};

static void
number_functions(void)
{
	static const int bases[] = { 0, 2, 8, 10, 16, 36, 1, 37, -1 };

	for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
		const char *s = numbers[i];
		for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
			int base = bases[b];
			char *we, *ge;
			int werr, gerr;

			errno = 0;
			lvd_errno = 0;
			long wl = strtol(s, &we, base);
			werr = errno;
			long gl = lvd_strtol(s, &ge, base);
			gerr = lvd_errno;
			// glibc leaves *end alone for an invalid base; C does not say.
			int endok = (base == 1 || base > 36 || base < 0) || we == ge;
			CHECK(wl == gl && endok && werr == gerr,
			      "strtol(\"%s\", %d): glibc %ld end+%td errno %d, guest %ld end+%td errno %d",
			      s, base, wl, we - s, werr, gl, ge - s, gerr);

			errno = 0;
			lvd_errno = 0;
			unsigned long wu = strtoul(s, &we, base);
			werr = errno;
			unsigned long gu = lvd_strtoul(s, &ge, base);
			gerr = lvd_errno;
			endok = (base == 1 || base > 36 || base < 0) || we == ge;
			CHECK(wu == gu && endok && werr == gerr,
			      "strtoul(\"%s\", %d): glibc %lu end+%td errno %d, guest %lu end+%td errno %d",
			      s, base, wu, we - s, werr, gu, ge - s, gerr);

			CHECK(strtoll(s, NULL, base) == lvd_strtoll(s, NULL, base), "strtoll \"%s\" %d", s, base);
			CHECK(strtoull(s, NULL, base) == lvd_strtoull(s, NULL, base), "strtoull \"%s\" %d", s, base);
		}
		// atoi of an out-of-range value is undefined; compare only the in-range ones.
		long v = strtol(s, NULL, 10);
		if (v >= INT_MIN && v <= INT_MAX)
			CHECK(atoi(s) == lvd_atoi(s), "atoi \"%s\"", s);
	}

	static const int ints[] = { 0, 1, -1, INT_MAX, INT_MIN + 1 };
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		CHECK(abs(ints[i]) == lvd_abs(ints[i]), "abs %d", ints[i]);
		CHECK(labs((long)ints[i] * 3) == lvd_labs((long)ints[i] * 3), "labs %d", ints[i]);
	}
}

static void
ctype_functions(void)
{
	static int (*const want[])(int) = {
		isalnum, isalpha, iscntrl, isdigit, isgraph, islower,
		isprint, ispunct, isspace, isupper, isxdigit,
	};
	static int (*const got[])(int) = {
		lvd_isalnum, lvd_isalpha, lvd_iscntrl, lvd_isdigit, lvd_isgraph, lvd_islower,
		lvd_isprint, lvd_ispunct, lvd_isspace, lvd_isupper, lvd_isxdigit,
	};

	for (int c = -1; c < 256; c++) {   // -1 is EOF
		for (size_t f = 0; f < sizeof want / sizeof want[0]; f++)
			CHECK(!want[f](c) == !got[f](c), "ctype function %zu of %d", f, c);
		CHECK(tolower(c) == lvd_tolower(c), "tolower %d", c);
		CHECK(toupper(c) == lvd_toupper(c), "toupper %d", c);
	}
}

static void
heap_functions(void)
{
	char *prev = NULL;

	for (size_t n = 0; n < 100; n++) {
		char *p = lvd_malloc(n);
		CHECK(p != NULL && ((uintptr_t)p & 15) == 0, "malloc(%zu) aligned", n);
		CHECK(prev == NULL || p >= prev + (n ? n - 1 : 0), "malloc(%zu) overlaps", n);
		memset(p, 0xAA, n);
		prev = p;
	}

	unsigned char *z = lvd_calloc(10, 10);
	int zero = z != NULL;
	for (int i = 0; z && i < 100; i++)
		zero &= z[i] == 0;
	CHECK(zero, "calloc zeroes");

	char *r = lvd_malloc(5);
	memcpy(r, "abcd", 5);
	r = lvd_realloc(r, 3);
	CHECK(r && strcmp(r, "abcd") == 0, "realloc shrink keeps data");
	r = lvd_realloc(r, 1000);
	CHECK(r && strcmp(r, "abcd") == 0, "realloc grow copies");
	CHECK(lvd_realloc(NULL, 8) != NULL, "realloc(NULL) allocates");
	CHECK(lvd_realloc(r, 0) == NULL, "realloc(p, 0) frees");
	lvd_free(r);

	lvd_errno = 0;
	CHECK(lvd_malloc(SIZE_MAX - 8) == NULL && lvd_errno == ENOMEM, "huge malloc fails");
	CHECK(lvd_calloc(SIZE_MAX / 2, 4) == NULL, "calloc overflow fails");
	lvd_errno = 0;
	CHECK(lvd_malloc(sizeof __heap_start) == NULL && lvd_errno == ENOMEM, "arena exhaustion");
	CHECK(lvd_malloc(1000) != NULL, "still room after a failure");
}

// rand: glibc's sequence for every seed; qsort: glibc's order (its merge sort
// is stable, ours too) for keys with many ties; bsearch: every key, hit or miss.
struct rec {
	int key, seq;
};

static int
by_key(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	return (x->key > y->key) - (x->key < y->key);
}

static void
sort_and_rand_functions(void)
{
	unsigned seeds[] = { 0, 1, 2, 42, 0x7fffffff, 0x80000000u, 0xffffffffu };
	for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
		srand(seeds[s]);
		lvd_srand(seeds[s]);
		for (int i = 0; i < 1000; i++) {
			int want = rand(), got = lvd_rand();
			CHECK(want == got, "rand #%d after srand(%u): %d, want %d", i, seeds[s], got, want);
		}
	}
	static struct rec mine[3000], theirs[3000];
	for (size_t n = 0; n <= 3000; n = n < 10 ? n + 1 : n * 3) {
		for (size_t i = 0; i < n; i++) {
			mine[i].key = theirs[i].key = rand() % (int)(n / 4 + 1);
			mine[i].seq = theirs[i].seq = (int)i;
		}
		qsort(theirs, n, sizeof theirs[0], by_key);
		lvd_qsort(mine, n, sizeof mine[0], by_key);
		CHECK(memcmp(mine, theirs, n * sizeof mine[0]) == 0, "qsort of %zu records with ties", n);
		for (size_t i = 0; i < n; i++) {
			struct rec k = { (int)i / 2, 0 };
			const struct rec *want = bsearch(&k, theirs, n, sizeof theirs[0], by_key);
			const struct rec *got = lvd_bsearch(&k, mine, n, sizeof mine[0], by_key);
			// Several records may match a key: any is right, but hit and miss agree.
			CHECK((want == NULL) == (got == NULL) && (got == NULL || got->key == k.key),
			      "bsearch key %d in %zu records", k.key, n);
		}
	}
}

int
main(void)
{
	sort_and_rand_functions();
	memory_functions();
	string_functions();
	number_functions();
	ctype_functions();
	heap_functions();
	printf("libc check: %d cases, %d mismatches\n", ncases, nfailed);
	return nfailed != 0;
}
