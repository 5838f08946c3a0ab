// libc.h: interfaces private to the runtime.
#include <stddef.h>

// The machine's two devices (see README.md).
#define COM1      0x3F8   // serial port: a byte written here is output
#define EXIT_PORT 0xF4    // exit device: a 32-bit write ends the run

// console.c
void console_putc(int c);
void console_write(const char *p, size_t n);
