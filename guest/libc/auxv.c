// auxv.c: what the loader hands a program besides its code (docs/EXEC-ABI.md).
//
// At _start, RSP points to the Linux initial stack: argc, argv[], NULL,
// envp[], NULL, then the auxiliary vector of (type, value) pairs ending in
// AT_NULL.  crt0.S stores where the vector is; getauxval() reads it.  Linux
// passes the same layout, so a guest ELF run natively (tests/hostrun.c) finds
// its arguments too, just not the LVD-only entries.

#include <stdint.h>
#include <sys/auxv.h>

const uint64_t *__lvd_auxv;   // crt0.S; NULL when booted as a kernel

unsigned long
getauxval(unsigned long type)
{
	if (__lvd_auxv == 0)
		return 0;
	for (const uint64_t *a = __lvd_auxv; a[0] != AT_NULL; a += 2)
		if (a[0] == type)
			return a[1];
	return 0;
}
