// glue.c: the domain side of the isolated nullnet (LVD.md section 4), over
// the glue generated from idl/net_device.idl (net_device_domain.c, included
// below; guest/glue/glue.sh generates it at build time).
//
// What is hand-written here is only the plumbing around it:
// - the transport: a generated stub's message goes to the kernel through the
//   upcall trampoline (lvd_upcall_raw), its function id offset past the
//   kernel's own services;
// - the dispatcher: the domain library hands every call with a function id
//   >= LVD_FN_USER to driver_call, which hands it to the generated
//   net_device_domain_dispatch;
// - the Linux-shaped API the driver calls (register_netdev, consume_skb) and
//   the functions its net_device_ops cross as (callback handles name these,
//   which call the driver's ops with Linux's signatures);
// - shadow memory: a per-CPU free list (the skb's shadow is call-scoped: one
//   per slot of a CPU's channel, reused by the generated glue).
//
// One channel per CPU: they share the capability table and the pool and
// differ in the register page (the CPU's page of the pool).  The kernel calls
// in under the device's tx_lock, so the table is never used concurrently.

#include "lvd_driver.h"
#include "netdev.h"
#include <lvd/nullnet_if.h>

// The generated glue serves register_netdev, unregister_netdev and
// consume_skb on the kernel side under those names; here they are the
// driver's API (netdev.h), so the generated header's prototypes of the
// kernel's functions are renamed out of the way.
#define register_netdev lvd_kernel_register_netdev
#define unregister_netdev lvd_kernel_unregister_netdev
#define consume_skb lvd_kernel_consume_skb
#include "net_device_domain.c"
#undef register_netdev
#undef unregister_netdev
#undef consume_skb

#define MAX_CPUS 64
#define CAP_SLOTS 16

static struct lvd_cap cap_slots[CAP_SLOTS];
static struct lvd_captab caps;
static struct lvd_chan chans[MAX_CPUS];
static unsigned int ncpus;

static unsigned int
this_cpu(void)
{
	return lvd_this_cpu(ncpus);
}

static int
to_kernel(struct lvd_msg *m)
{
	m->w[0] += NN_KFN_BASE;
	lvd_upcall_raw(m);    // the reply's status is in w[0]
	return LVD_OK;
}

long
driver_call(struct lvd_msg *m)
{
	m->w[0] -= NN_FN_BASE;   // >= LVD_FN_USER (lib.c)
	net_device_domain_dispatch(&chans[this_cpu()], m);
	return (long)m->w[0];
}

// ---- shadow objects: zeroed, per-CPU free lists of one block size ----

#define SHADOW_BLOCK 128
struct block {
	struct block *next;
};
static struct block *free_blocks[MAX_CPUS];

void *
lvd_shadow_alloc(size_t size, uint32_t tag)
{
	if (size > SHADOW_BLOCK)
		return NULL;
	unsigned int c = this_cpu();
	struct block *b = free_blocks[c];
	if (b != NULL)
		free_blocks[c] = b->next;
	else if ((b = lvd_malloc(SHADOW_BLOCK)) == NULL)
		return NULL;
	// Zero whole words of the block (a call to memset, or a loop, cost more
	// than the clearing of an skb's 48 bytes): the block is 128 bytes.
	void *d = b;
	size_t n = (size + 7) / 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0UL) : "memory");
	return b;
}

void
lvd_shadow_free(void *obj, uint32_t tag)
{
	unsigned int c = this_cpu();
	struct block *b = obj;
	b->next = free_blocks[c];
	free_blocks[c] = b;
}

// ---- the driver's API ----

static int32_t
cb_open(struct net_device *dev)
{
	return dev->netdev_ops->ndo_open(dev);
}

static int32_t
cb_stop(struct net_device *dev)
{
	return dev->netdev_ops->ndo_stop(dev);
}

// skb is the shadow the generated handler made for this call; data and len
// are the packet in the pool, already checked against it.
static int32_t
cb_start_xmit(struct net_device *dev, struct sk_buff *skb, void *data, uint64_t data_len)
{
	if (skb->len != data_len) {
		consume_skb(skb);
		return -1;
	}
	skb->head = skb->data = data;
	skb->dev = dev;
	return dev->netdev_ops->ndo_start_xmit(skb, dev);
}

int
register_netdev(struct net_device *dev)
{
	int32_t ret;
	int rc = net_device_call_register_netdev(&chans[this_cpu()], dev, cb_open, cb_stop,
						 cb_start_xmit, &ret);
	return rc != LVD_OK ? rc : ret;
}

void
consume_skb(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	if (dev != NULL && (dev->flags & NN_IFF_CONSUME_CROSSES) &&
	    net_device_call_consume_skb(&chans[this_cpu()], skb) == LVD_OK)
		return;   // the kernel freed the packet; the skb's name is dead
	// One crossing: the kernel frees the packet after the reply.  The skb is
	// the call-scoped shadow of this CPU's channel ([call] in the IDL): the
	// generated handler closes its slot when the call returns and keeps the
	// shadow for the next packet, so there is nothing to free here.
}

long
driver_init(unsigned int ncpu)
{
	ncpus = ncpu < MAX_CPUS ? ncpu : MAX_CPUS;
	if ((uint64_t)ncpus * LVD_REGPAGE_SIZE > lvd_info->pool_size)
		return -LVD_ENOMEM;
	lvd_captab_init(&caps, cap_slots, CAP_SLOTS);
	for (unsigned int c = 0; c < ncpus; c++)
		chans[c] = (struct lvd_chan){
			.target = 0,
			.transport = to_kernel,
			.caps = &caps,
			.regpage = (struct lvd_regpage *)(lvd_info->pool + LVD_POOL_REGPAGE(c)),
			.pool = { (uint8_t *)lvd_info->pool, lvd_info->pool_size },
		};
	return nullnet_init();
}
