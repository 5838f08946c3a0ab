// lvd_nullnet_glue.c: the kernel side of the isolated nullnet over the glue
// generated from idl/net_device.idl (net_device_kernel.c, included below;
// guest/glue/glue.sh generates it at build time).  See lvd_nullnet.h.
//
// Hand-written here is only the plumbing: the channels (one per CPU: one
// capability table and pool, each CPU's own register page), the kernel's
// dispatcher for the domain's calls, the functions the generated handlers
// serve, and the descriptors that stand for the kernel's sk_buffs in the
// interface.  Everything that crosses is marshalled and checked by the
// generated code.

#include "lvd_nullnet.h"
#include <lvd/nullnet_if.h>

// The kernel's sk_buff (net.h) has no protocol or queue; the interface's skb
// is a per-CPU descriptor naming it for one call.
struct sk_buff {
	uint32_t len;
	uint16_t protocol;
	uint32_t queue_mapping;
	void *kskb;          // the kernel's sk_buff while not yet freed
};
#define LVD_STRUCT_SK_BUFF

// The generated handlers call the served rpcs by their own names; in the
// kernel those names are taken (netdev.c's register_netdev), so they are
// served as nn_serve_*.
#define register_netdev nn_serve_register_netdev
#define unregister_netdev nn_serve_unregister_netdev
#define consume_skb nn_serve_consume_skb
#include "net_device_kernel.c"

#define NN_NCPU 64
#define CAP_SLOTS 16

static struct lvd_cap cap_slots[CAP_SLOTS];
static struct lvd_captab caps;
static struct lvd_chan chans[NN_NCPU];
static int nchans;
static struct sk_buff desc[NN_NCPU];

// What register_netdev gave: the kernel's shadow of the driver's device (its
// capability table entry names the domain's) and the handles of its ops.
static struct net_device *ndev;
static uint64_t h_open, h_stop, h_xmit;
// The configuration calls the kernel made, replayed into a restarted
// instance (shadow-driver style): ndo_open and its flags.
static int opened;
static uint64_t open_flags;
static uint64_t nshadows;   // live shadow objects (leak accounting)

void *
lvd_shadow_alloc(size_t size, uint32_t tag)
{
	void *p = nn_zalloc(size);
	if (p != NULL)
		__atomic_add_fetch(&nshadows, 1, __ATOMIC_RELAXED);
	return p;
}

void
lvd_shadow_free(void *obj, uint32_t tag)
{
	if (obj != NULL)
		__atomic_sub_fetch(&nshadows, 1, __ATOMIC_RELAXED);
	nn_free(obj);
}

int
nn_glue_init(uint8_t *pool, uint64_t pool_size, int ncpu)
{
	if (ncpu < 0 || ncpu > NN_NCPU)
		return -LVD_ENOMEM;
	lvd_captab_init(&caps, cap_slots, CAP_SLOTS);
	return lvd_chans_init(chans, &nchans, (unsigned int)ncpu, nn_to_domain, &caps, 0, pool, pool_size);
}

// The domain's calls (lvd_upcall_dispatch, interrupts off): function ids
// from NN_KFN_BASE up are the interface's.
int
nn_glue_upcall(int cpu, struct lvd_msg *m)
{
	return lvd_chan_serve(chans, nchans, cpu, m, NN_KFN_BASE, net_device_kernel_dispatch);
}

int32_t
nn_serve_register_netdev(struct net_device *dev, uint64_t open, uint64_t stop, uint64_t start_xmit)
{
	if (ndev != NULL)
		return -LVD_EINVAL;   // one device per domain
	ndev = dev;
	h_open = open;
	h_stop = stop;
	h_xmit = start_xmit;
	return 0;
}

void
nn_serve_unregister_netdev(struct net_device *dev)
{
	if (dev == ndev)
		ndev = NULL;
}

void
nn_serve_consume_skb(struct sk_buff *skb)
{
	if (skb->kskb != NULL) {
		nn_free_skb(skb->kskb);
		skb->kskb = NULL;
	}
}

int
nn_glue_registered(char name[16], uint32_t *mtu)
{
	if (ndev == NULL)
		return -LVD_ENOREF;
	memcpy(name, ndev->name, 16);
	name[15] = 0;
	*mtu = ndev->mtu;
	return 0;
}

int
nn_glue_open(int cpu, uint64_t flags)
{
	int32_t ret;
	if (ndev == NULL)
		return -LVD_ENOREF;
	ndev->flags = flags;
	int rc = net_device_call_ndo_open(&chans[cpu], h_open, ndev, &ret);
	rc = rc != LVD_OK ? rc : ret;
	if (rc == 0) {
		opened = 1;
		open_flags = flags;
	}
	return rc;
}

void
nn_glue_reset(void)
{
	for (int c = 0; c < nchans; c++)
		lvd_scope_flush(&chans[c]);
	// Every object the dead instance's capabilities named (its device's
	// shadow): freed, the table empty for the new instance.
	for (uint32_t i = 0; i < CAP_SLOTS; i++)
		if (cap_slots[i].tag != 0)
			lvd_shadow_free(cap_slots[i].ptr, cap_slots[i].tag);
	lvd_captab_init(&caps, cap_slots, CAP_SLOTS);
	ndev = NULL;
	h_open = h_stop = h_xmit = 0;
	for (int c = 0; c < nchans; c++)
		desc[c].kskb = NULL;
}

int
nn_glue_replay(int cpu)
{
	if (ndev == NULL)
		return -LVD_ENOREF;
	if (!opened)
		return 0;
	return nn_glue_open(cpu, open_flags);
}

void
nn_glue_accounting(uint64_t *ncaps, uint64_t *shadows)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < CAP_SLOTS; i++)
		n += cap_slots[i].tag != 0;
	*ncaps = n;
	*shadows = __atomic_load_n(&nshadows, __ATOMIC_RELAXED);
}

uint64_t
lvd_glue_shadows_live(void)
{
	return __atomic_load_n(&nshadows, __ATOMIC_RELAXED);
}

void
nn_glue_set_transport(int (*t)(struct lvd_msg *m))
{
	for (int c = 0; c < nchans; c++)
		__atomic_store_n(&chans[c].transport, t, __ATOMIC_SEQ_CST);
}

int
nn_glue_stop(int cpu)
{
	int32_t ret;
	int rc = net_device_call_ndo_stop(&chans[cpu], h_stop, ndev, &ret);
	return rc != LVD_OK ? rc : ret;
}

int
nn_glue_xmit(int cpu, void *kskb, void *data, uint32_t len, uint64_t *tx_packets, uint64_t *tx_bytes)
{
	struct sk_buff *skb = &desc[cpu];
	int32_t ret = -1;

	skb->len = len;
	skb->protocol = 0x0800;   // IPv4: the only protocol the kernel sends
	skb->queue_mapping = (uint32_t)cpu;
	skb->kskb = kskb;
	int rc = net_device_call_ndo_start_xmit(&chans[cpu], h_xmit, ndev, skb, data, len, &ret);
	// The descriptor's name (a call-scoped slot of this CPU's channel) died
	// with the call.  A packet the domain did not consume (one crossing, or
	// a failed call) is freed here.
	if (skb->kskb != NULL) {
		nn_free_skb(skb->kskb);
		skb->kskb = NULL;
	}
	if (rc != LVD_OK)
		return rc;
	*tx_packets = ndev->tx_packets;
	*tx_bytes = ndev->tx_bytes;
	return ret;
}
