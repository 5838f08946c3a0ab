/*
 * time.h: time as the machine models it.
 *
 * The machine has no real-time clock: time(NULL) counts seconds of modeled
 * time since the run started (from 0, the same on every run), and clock()
 * the modeled processor time in CLOCKS_PER_SEC units; both from the TSC and
 * the clock rate the loader passes (AT_LVD_CLOCK_HZ; docs/EXEC-ABI.md).
 */
#ifndef _TIME_H
#define _TIME_H

#include <stddef.h>

typedef long time_t;
typedef long clock_t;

#define CLOCKS_PER_SEC 1000000L

time_t time(time_t *t);
clock_t clock(void);

#endif
