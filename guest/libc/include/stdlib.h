/*
 * stdlib.h: process exit, the heap, and integer conversions.
 *
 * malloc is a bump allocator from the program's end to the RAM the loader
 * leaves it; free does nothing.  See malloc.c.  rand, qsort: rand.c, sort.c.
 */
#ifndef _STDLIB_H
#define _STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

void exit(int status) __attribute__((__noreturn__));
void _Exit(int status) __attribute__((__noreturn__));
void abort(void) __attribute__((__noreturn__));
int atexit(void (*fn)(void));

void *malloc(size_t n);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);

int abs(int x);
long labs(long x);
long long llabs(long long x);

int atoi(const char *s);
long atol(const char *s);
long long atoll(const char *s);
double strtod(const char *s, char **end);
float strtof(const char *s, char **end);
double atof(const char *s);
long strtol(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);

#define RAND_MAX 2147483647
int rand(void);                  /* glibc's sequence (rand.c) */
void srand(unsigned int seed);

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));   /* stable */
void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      int (*cmp)(const void *, const void *));

#endif
