// string.c: memory and string functions.
//
// Plain loops.  The exceptions are memcpy and memset, which move eight bytes
// per step: gcc calls them for every large struct copy or initialisation,
// and each guest instruction is emulated, so the word loop costs about an
// eighth of the byte loop.  x86 loads and stores a word at any alignment,
// so they do not wait for aligned pointers: a packet's payload behind its
// 28 bytes of headers (an skb) is copied a word at a time too.
//
// The runtime is compiled with -ffreestanding (hence without builtins) and
// -fno-tree-loop-distribute-patterns, so gcc cannot turn these loops back
// into calls to themselves.

#include <stdint.h>
#include <string.h>

// A 64-bit word that may alias anything and sit at any address, for the
// word loops.
typedef uint64_t __attribute__((__may_alias__, __aligned__(1))) word;

void *
memcpy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	// Four words per step: the loop's own add/compare/branch is paid once
	// per 32 bytes.
	for (; n >= 32; n -= 32, d += 32, s += 32) {
		word a = ((const word *)s)[0], b = ((const word *)s)[1];
		word c = ((const word *)s)[2], e = ((const word *)s)[3];
		((word *)d)[0] = a;
		((word *)d)[1] = b;
		((word *)d)[2] = c;
		((word *)d)[3] = e;
	}
	for (; n >= 8; n -= 8, d += 8, s += 8)
		*(word *)d = *(const word *)s;
	while (n-- > 0)
		*d++ = *s++;
	return dst;
}

void *
memmove(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	if (d == s || n == 0)
		return dst;
	if (d < s) {
		while (n-- > 0)
			*d++ = *s++;
	} else {
		// Copy from the end, so that an overlapping source is read
		// before it is overwritten.
		d += n;
		s += n;
		while (n-- > 0)
			*--d = *--s;
	}
	return dst;
}

void *
memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	word w = (unsigned char)c * 0x0101010101010101ULL;

	for (; n >= 8; n -= 8, d += 8)
		*(word *)d = w;
	while (n-- > 0)
		*d++ = (unsigned char)c;
	return dst;
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n > 0; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

void *
memchr(const void *p, int c, size_t n)
{
	const unsigned char *s = p;

	for (; n > 0; n--, s++)
		if (*s == (unsigned char)c)
			return (void *)s;
	return NULL;
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t
strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

// Strings compare as unsigned char, as the C standard requires.
int
strcmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return (unsigned char)*a - (unsigned char)*b;
}

int
strncmp(const char *a, const char *b, size_t n)
{
	for (; n > 0 && *a && *a == *b; n--, a++, b++)
		;
	if (n == 0)
		return 0;
	return (unsigned char)*a - (unsigned char)*b;
}

char *
strcpy(char *dst, const char *src)
{
	char *d = dst;

	while ((*d++ = *src++) != '\0')
		;
	return dst;
}

// Pads with NULs to n bytes and leaves dst unterminated if src is too long:
// that is what strncpy means.
char *
strncpy(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i]; i++)
		dst[i] = src[i];
	for (; i < n; i++)
		dst[i] = '\0';
	return dst;
}

char *
strcat(char *dst, const char *src)
{
	strcpy(dst + strlen(dst), src);
	return dst;
}

char *
strncat(char *dst, const char *src, size_t n)
{
	char *d = dst + strlen(dst);

	for (; n > 0 && *src; n--)
		*d++ = *src++;
	*d = '\0';
	return dst;
}

// The terminator counts as part of the string: strchr(s, 0) finds it.
char *
strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (*s == '\0')
			return NULL;
	}
}

char *
strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (*s == '\0')
			return (char *)last;
	}
}

char *
strstr(const char *haystack, const char *needle)
{
	size_t n = strlen(needle);

	for (; *haystack; haystack++)
		if (strncmp(haystack, needle, n) == 0)
			return (char *)haystack;
	return n == 0 ? (char *)haystack : NULL;
}
