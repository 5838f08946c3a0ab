/*
 * errno.h: the error number set by strtol, malloc and unistd.h.
 *
 * One thread, so a plain variable; the values are Linux's.
 */
#ifndef _ERRNO_H
#define _ERRNO_H

extern int errno;

#define EBADF   9
#define ENOMEM 12
#define EINVAL 22
#define EDOM   33
#define ERANGE 34

#endif
