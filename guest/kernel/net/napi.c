// napi.c: NAPI's schedule (the kernel's ixgbe configuration): the NIC's
// receive vector (T_NIC, MSI-X, auto-masked by the NIC when it is sent)
// wakes the thread that polls the driver; that thread polls until the ring
// is empty and unmasks the vector again (ixgbe_irq_enable).  One poller.

#include "net.h"
#include "percpu.h"

static struct spinlock napi_lock = { .name = "napi" };
static struct waitq napi_wq;
static int napi_pending;
volatile uint64_t napi_irqs;

// trap.c, in the interrupt.
void
napi_irq(void)
{
	acquire(&napi_lock);
	napi_irqs++;
	napi_pending = 1;
	wq_wakeup(&napi_wq);
	release(&napi_lock);
}

void
napi_wait(void)
{
	acquire(&napi_lock);
	while (!napi_pending)
		wq_sleep(&napi_wq, &napi_lock);
	napi_pending = 0;
	release(&napi_lock);
}
