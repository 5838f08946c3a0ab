/*
 * stdio.h: output to the serial console.
 *
 * stdout and stderr both write to COM1.  There is no input and no file
 * system, so stdin, fopen, scanf and friends deliberately do not exist: a
 * program that needs them fails to build instead of misbehaving at run time.
 * printf and friends format doubles too (%f %e %g %a, %Lf), except in the
 * runtime built with -mgeneral-regs-only, where a double cannot be passed.
 */
#ifndef _STDIO_H
#define _STDIO_H

#include <stddef.h>

#define EOF (-1)

typedef struct FILE FILE;

extern FILE *stdout;
extern FILE *stderr;
/* Like glibc: some programs test "#ifdef stdout". */
#define stdout stdout
#define stderr stderr

#define __LIBC_PRINTF(f, a) __attribute__((__format__(__printf__, f, a)))

int printf(const char *fmt, ...) __LIBC_PRINTF(1, 2);
int fprintf(FILE *f, const char *fmt, ...) __LIBC_PRINTF(2, 3);
int sprintf(char *buf, const char *fmt, ...) __LIBC_PRINTF(2, 3);
int snprintf(char *buf, size_t size, const char *fmt, ...) __LIBC_PRINTF(3, 4);
int vprintf(const char *fmt, __builtin_va_list ap) __LIBC_PRINTF(1, 0);
int vfprintf(FILE *f, const char *fmt, __builtin_va_list ap) __LIBC_PRINTF(2, 0);
int vsprintf(char *buf, const char *fmt, __builtin_va_list ap) __LIBC_PRINTF(2, 0);
int vsnprintf(char *buf, size_t size, const char *fmt, __builtin_va_list ap)
	__LIBC_PRINTF(3, 0);

int putchar(int c);
int putc(int c, FILE *f);
int fputc(int c, FILE *f);
int puts(const char *s);
int fputs(const char *s, FILE *f);
size_t fwrite(const void *p, size_t size, size_t n, FILE *f);
int fflush(FILE *f);

#endif
