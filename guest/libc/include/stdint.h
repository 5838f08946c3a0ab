/*
 * stdint.h: gcc's own definitions.
 *
 * gcc's <stdint.h> defers to the C library's when compiling hosted code,
 * and guest programs are compiled hosted (see ../README.md), so we point
 * straight at the freestanding half that gcc ships.
 */
#ifndef _STDINT_H
#define _STDINT_H
#include <stdint-gcc.h>
#endif
