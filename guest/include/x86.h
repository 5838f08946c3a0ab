// x86.h: the privileged instructions guest code uses, as inline functions,
// and the architectural numbers that go with them (MSRs, RFLAGS, EFER bits).
// One definition for the kernel, the C runtime and the CPU tests, so that
// every use of an instruction with side effects (ports, MSRs, control
// registers) can be found with one grep.
#pragma once
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t
rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void
wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

// The modeled cycle counter (workloads, self tests, measurements).
static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rcr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t rcr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void lcr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint64_t rrbp(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }

static inline uint64_t
rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}
#define FL_IF (1ULL << 9)

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
// sti's one-instruction interrupt shadow makes "sti; hlt" atomic: an
// interrupt that became pending while IF was 0 wakes the hlt instead of
// being taken (and missed) between the two instructions.
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void mfence(void) { __asm__ volatile("mfence" ::: "memory"); }

// MSRs (SDM Vol. 4).
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102   // swapped with GS_BASE by swapgs
#define MSR_EFER           0xc0000080
#define MSR_X2APIC_TPR     0x808         // x2APIC task priority
#define MSR_X2APIC_ISR0    0x810         // x2APIC in-service register, 8 MSRs of 32 vectors
#define MSR_TSC_AUX        0xc0000103    // RDTSCP/RDPID's value
#define EFER_SCE           (1ULL << 0)   // SYSCALL/SYSRET enabled
#define EFER_NXE           (1ULL << 11)  // the NX bit of page-table entries
#define MSR_STAR           0xc0000081    // SYSCALL/SYSRET selectors
#define MSR_LSTAR          0xc0000082    // 64-bit SYSCALL entry point
#define MSR_FMASK          0xc0000084    // RFLAGS bits SYSCALL clears
