// console.c: COM1, the kernel's only output.
//
// Like the runtime's console (guest/libc/console.c), we never poll the line
// status register: the emulated UART is always ready and every port access
// costs an exit-sized amount in the machine's cost model.

#include "kernel.h"
#include "x86.h"

#define COM1      0x3f8
#define EXIT_PORT 0xf4

void
console_putc(int c)
{
	outb(COM1, (uint8_t)c);
}

void
console_write(const char *p, size_t n)
{
	while (n-- > 0)
		outb(COM1, (uint8_t)*p++);
}

// The exit device ends the whole run, on every vCPU at once: that is how
// panic() stops the other CPUs.
_Noreturn void
machine_exit(uint32_t status)
{
	outl(EXIT_PORT, status);
	for (;;) {
		cli();
		hlt();
	}
}
