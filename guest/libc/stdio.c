// stdio.c: the two output streams and unformatted output.
//
// stdout and stderr are the same serial port; nothing is buffered, so
// output written before a crash is never lost and fflush has nothing to do.

#include <stdio.h>
#include <string.h>
#include "libc.h"

struct FILE {
	int fd;   // only to tell the streams apart in a debugger
};

static FILE out = { 1 };
static FILE err = { 2 };

FILE *stdout = &out;
FILE *stderr = &err;

int
putchar(int c)
{
	console_putc(c);
	return (unsigned char)c;
}

int
fputc(int c, FILE *f)
{
	(void)f;
	return putchar(c);
}

int
putc(int c, FILE *f)
{
	return fputc(c, f);
}

int
fputs(const char *s, FILE *f)
{
	(void)f;
	console_write(s, strlen(s));
	return 0;
}

int
puts(const char *s)
{
	console_write(s, strlen(s));
	console_putc('\n');
	return 0;
}

// gcc turns fputs and fprintf of a constant string into fwrite, so hosted
// code that never names fwrite may still call it.
size_t
fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	(void)f;
	if (size == 0 || n == 0)
		return 0;
	console_write(p, size * n);
	return n;
}

int
fflush(FILE *f)
{
	(void)f;
	return 0;
}
