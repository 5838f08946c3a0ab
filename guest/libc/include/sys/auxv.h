/*
 * sys/auxv.h: the auxiliary vector the loader passes (docs/EXEC-ABI.md).
 */
#ifndef _SYS_AUXV_H
#define _SYS_AUXV_H

#define AT_NULL   0
#define AT_PAGESZ 6
/* LVD#'s own entries (outside Linux's range): */
#define AT_LVD_HEAP_END 0x4c5601   /* first byte past the RAM malloc may use */
#define AT_LVD_CLOCK_HZ 0x4c5602   /* modeled cycles (the TSC) per second */

unsigned long getauxval(unsigned long type);

#endif
