// printk.c: formatted kernel messages, panic and backtraces.
//
// The formatting is guest/libc's printf.c (compiled into the kernel by
// build.sh): it writes through console_putc.  What this file adds is the
// console lock, so that lines from different CPUs do not interleave, and
// the way out when something is wrong.

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

static struct spinlock conslock = { .name = "console" };
volatile int panicking;   // once set, printk stops taking the lock

int
printk(const char *fmt, ...)
{
	va_list ap;
	int n;
	// A panicking CPU may hold the lock already (a panic inside printk), and
	// the other CPUs are about to be stopped anyway: print without it.
	int locked = !panicking;

	if (locked)
		acquire(&conslock);
	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	if (locked)
		release(&conslock);
	return n;
}

// Walk the frame-pointer chain (everything is built with
// -fno-omit-frame-pointer): [rbp] = caller's rbp, [rbp+8] = return address.
// Addresses only; `addr2line -e kernel.elf ADDR` turns them into lines.
void
backtrace(uint64_t rbp)
{
	for (int depth = 0; depth < 16; depth++) {
		// Stop at the chain's end (entry code zeroes rbp) or at anything that
		// is not an aligned kernel address: a corrupt frame must not fault.
		if (rbp < DIRECT_BASE || (rbp & 7) != 0)
			break;
		uint64_t *frame = (uint64_t *)rbp;
		if (frame[1] == 0)
			break;
		printk("  #%d %#lx\n", depth, frame[1]);
		rbp = frame[0];
	}
}

_Noreturn void
panic(const char *fmt, ...)
{
	va_list ap;
	int id;

	cli();
	id = mycpu() ? mycpu()->id : -1;
	panicking = 1;
	printk("panic: cpu %d: ", id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printk("\n");
	backtrace(rrbp());
	machine_exit(1);
}
