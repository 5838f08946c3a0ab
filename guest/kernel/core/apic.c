// apic.c: the local x2APIC, through MSRs (docs/BOOT.md, SDM Vol. 3A ch. 11).

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

#define X2APIC_ID    0x802
#define X2APIC_EOI   0x80b
#define X2APIC_SVR   0x80f
#define X2APIC_ESR   0x828
#define X2APIC_ICR   0x830
#define X2APIC_TIMER 0x832
#define X2APIC_TICR  0x838
#define X2APIC_TCCR  0x839
#define X2APIC_TDCR  0x83e

#define SVR_ENABLE      (1 << 8)
#define TIMER_PERIODIC  (1 << 17)
#define TDCR_DIV16      0x3
#define ICR_FIXED       (0 << 8)
#define ICR_NMI         (4 << 8)
#define ICR_INIT        (5 << 8)
#define ICR_STARTUP     (6 << 8)
#define ICR_ASSERT      (1 << 14)
#define ICR_ALLBUTSELF  (3 << 18)

volatile uint64_t ticks;

uint32_t
apic_id(void)
{
	return (uint32_t)rdmsr(X2APIC_ID);
}

// Enable this CPU's APIC and start its periodic timer at HZ.  The timer
// counts the machine's modeled cycles (tsc_hz per second) divided by 16.
void
apic_init(void)
{
	wrmsr(X2APIC_SVR, SVR_ENABLE | T_SPURIOUS);
	wrmsr(X2APIC_ESR, 0);
	wrmsr(X2APIC_TDCR, TDCR_DIV16);
	wrmsr(X2APIC_TIMER, TIMER_PERIODIC | T_TIMER);
	uint64_t count = bootinfo.tsc_hz / 16 / HZ;
	wrmsr(X2APIC_TICR, count ? count : 1);
}

void
apic_eoi(void)
{
	wrmsr(X2APIC_EOI, 0);
}

// In x2APIC mode a WRMSR to the ICR is not serializing, so stores before
// it (a wakeup's run-queue update, a mailbox) could be seen after the
// interrupt: fence first.
static void
icr(uint64_t v)
{
	mfence();
	wrmsr(X2APIC_ICR, v);
}

void
apic_ipi(int cpu, int vector)
{
	icr((uint64_t)cpu << 32 | ICR_FIXED | ICR_ASSERT | vector);
}

void
apic_ipi_allbutself(int vector)
{
	icr(ICR_ALLBUTSELF | ICR_FIXED | ICR_ASSERT | vector);
}

void
apic_nmi_allbutself(void)
{
	icr(ICR_ALLBUTSELF | ICR_NMI | ICR_ASSERT);
}

// INIT then Start-up (the vector is ignored by this machine: the AP takes
// its entry point from the mailbox).
void
apic_init_sipi(int cpu)
{
	icr((uint64_t)cpu << 32 | ICR_INIT | ICR_ASSERT);
	icr((uint64_t)cpu << 32 | ICR_STARTUP | ICR_ASSERT);
}
