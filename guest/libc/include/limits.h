/*
 * limits.h: gcc's own definitions.
 *
 * gcc's <limits.h> chains to the C library's limits.h unless told there is
 * none; this macro tells it so.  Everything (CHAR_BIT, INT_MAX, LLONG_MAX,
 * ...) then comes from gcc.
 */
#ifndef _LIBC_LIMITS_H_
#define _LIBC_LIMITS_H_
#endif
#include_next <limits.h>
