// x86.h: the few privileged instructions the runtime needs.
// Guest programs run at CPL 0, so port I/O needs no permission.

static inline void
outb(unsigned short port, unsigned char v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
outl(unsigned short port, unsigned int v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
hlt(void)
{
	__asm__ volatile("hlt");
}
