// napi.c: NAPI's schedule (the kernel's ixgbe configuration): the NIC's
// receive vector (T_NIC, MSI-X, auto-masked by the NIC when it is sent)
// wakes the thread that polls the driver; that thread polls until the ring
// is empty and unmasks the vector again (ixgbe_irq_enable).  One poller.

#include "net.h"
#include "percpu.h"

static struct spinlock napi_lock = { .name = "napi" };
static struct waitq napi_wq;
static int napi_pending;
static uint64_t napi_unpolled;      // interrupts since the poller last took one
static void (*napi_storm)(uint64_t irqs);
volatile uint64_t napi_irqs;

void
napi_set_storm_hook(void (*fn)(uint64_t irqs))
{
	napi_storm = fn;
}

// trap.c, in the interrupt.
void
napi_irq(void)
{
	acquire(&napi_lock);
	napi_irqs++;
	uint64_t unpolled = ++napi_unpolled;
	void (*storm)(uint64_t) = NULL;
	if (unpolled >= NAPI_STORM && napi_storm != NULL) {
		storm = napi_storm;
		napi_unpolled = 0;   // a restarted driver that storms again is caught again
	}
	napi_pending = 1;
	wq_wakeup(&napi_wq);
	release(&napi_lock);
	if (storm != NULL)
		storm(unpolled);
}

void
napi_wait(void)
{
	acquire(&napi_lock);
	while (!napi_pending)
		wq_sleep(&napi_wq, &napi_lock);
	napi_pending = 0;
	napi_unpolled = 0;
	release(&napi_lock);
}
