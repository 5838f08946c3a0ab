// loopback.c: a transport that crosses inside one process, for native tests.
//
// It stands in for the VMFUNC trampoline.  The two sides have separate
// register pages and pool copies; each crossing copies the caller's into the
// callee's and back, which is what sharing one physical page looks like to
// code that only uses offsets, and what catches code that does not.

#include "lvd_glue.h"

static struct lvd_chan *kernel_chan, *domain_chan;
static lvd_dispatch kernel_serve, domain_serve;

uint64_t lvd_loopback_crossings;

void
lvd_loopback_connect(struct lvd_chan *kernel, lvd_dispatch kernel_dispatch,
		     struct lvd_chan *domain, lvd_dispatch domain_dispatch)
{
	kernel_chan = kernel;
	domain_chan = domain;
	kernel_serve = kernel_dispatch;
	domain_serve = domain_dispatch;
	kernel->transport = lvd_loopback_to_domain;
	domain->transport = lvd_loopback_to_kernel;
}

static void
sync_views(struct lvd_chan *from, struct lvd_chan *to)
{
	memcpy(to->regpage, from->regpage, sizeof(*to->regpage));
	if (from->pool.size == to->pool.size && from->pool.base != to->pool.base)
		memcpy(to->pool.base, from->pool.base, from->pool.size);
}

static int
cross(struct lvd_chan *from, struct lvd_chan *to, lvd_dispatch serve,
      struct lvd_msg *m)
{
	// The callee gets its own copy, as it would from registers.
	struct lvd_msg copy = *m;

	if (serve == NULL)
		return -LVD_ECROSS;
	lvd_loopback_crossings++;
	sync_views(from, to);
	serve(to, &copy);
	sync_views(to, from);
	*m = copy;
	return LVD_OK;
}

int
lvd_loopback_to_domain(struct lvd_msg *m)
{
	return cross(kernel_chan, domain_chan, domain_serve, m);
}

int
lvd_loopback_to_kernel(struct lvd_msg *m)
{
	return cross(domain_chan, kernel_chan, kernel_serve, m);
}
