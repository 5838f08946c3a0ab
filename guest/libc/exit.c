// exit.c: ending the run.
//
// The machine's exit device ends the emulation when a 32-bit value is
// written to its port; the value, masked to 8 bits like a Linux exit
// status, becomes the emulator's own exit code.

#include <stdio.h>
#include <stdlib.h>
#include "libc.h"
#include "x86.h"

#define NATEXIT 32   // C requires room for at least 32

static void (*atexit_fns[NATEXIT])(void);
static int natexit;

// Destructors (__attribute__((destructor))), laid out by exec.ld.
extern void (*__fini_array_start[])(void);
extern void (*__fini_array_end[])(void);

int
atexit(void (*fn)(void))
{
	if (natexit == NATEXIT)
		return -1;
	atexit_fns[natexit++] = fn;
	return 0;
}

// Handlers run in reverse order of registration, then destructors, also in
// reverse (the order glibc uses).  Output is unbuffered: nothing to flush.
void
exit(int status)
{
	while (natexit > 0)
		atexit_fns[--natexit]();
	for (void (**f)(void) = __fini_array_end; f > __fini_array_start; )
		(*--f)();
	_Exit(status);
}

void
_Exit(int status)
{
	outl(EXIT_PORT, (unsigned int)status & 0xFF);
	// Not reached on the emulator.  Interrupts are off, so hlt stops the
	// CPU for good if the exit device is missing.
	for (;;)
		hlt();
}

// 134 is what a shell reports for a process killed by SIGABRT (128 + 6).
void
abort(void)
{
	fputs("abort() called\n", stderr);
	_Exit(134);
}
