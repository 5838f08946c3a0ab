// unistd.c: write, read and the rest of include/unistd.h.

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "libc.h"

ssize_t
write(int fd, const void *buf, size_t n)
{
	if (fd != STDOUT_FILENO && fd != STDERR_FILENO) {
		errno = EBADF;
		return -1;
	}
	console_write(buf, n);
	return (ssize_t)n;
}

ssize_t
read(int fd, void *buf, size_t n)
{
	(void)buf;
	(void)n;
	if (fd != STDIN_FILENO) {
		errno = EBADF;
		return -1;
	}
	return 0;
}

int
close(int fd)
{
	if (fd < 0 || fd > STDERR_FILENO) {
		errno = EBADF;
		return -1;
	}
	return 0;
}

int
isatty(int fd)
{
	return fd >= 0 && fd <= STDERR_FILENO;
}

pid_t
getpid(void)
{
	return 1;
}

void
_exit(int status)
{
	_Exit(status);
}
