// console.c: the serial port, where stdout and stderr go.
//
// We never poll the line status register (0x3FD) for "transmit empty": the
// emulated UART is always ready, and every port access is an expensive
// instruction in the machine's cost model, so one OUT per byte is the floor.

#include "libc.h"
#include "x86.h"

void
console_putc(int c)
{
	outb(COM1, (unsigned char)c);
}

void
console_write(const char *p, size_t n)
{
	while (n-- > 0)
		outb(COM1, (unsigned char)*p++);
}
