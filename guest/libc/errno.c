// errno.c: one thread, one error number.

#include <errno.h>

int errno;
