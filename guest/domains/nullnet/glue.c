// glue.c: the domain side of the isolated nullnet (LVD.md section 4), over
// the glue generated from idl/net_device.idl (net_device_domain.c, included
// below; guest/glue/glue.sh generates it at build time).
//
// What is hand-written here is only the driver's side of it: the
// Linux-shaped API the driver calls (register_netdev, consume_skb) and the
// functions its net_device_ops cross as (callback handles name these, which
// call the driver's ops with Linux's signatures).  The channels, transport,
// dispatcher and shadow memory are the domain library's (domain_glue.h); the
// skb's shadow is call-scoped: one per slot of a CPU's channel, reused by the
// generated glue.
//
// One channel per CPU: they share the capability table and the pool and
// differ in the register page (the CPU's page of the pool).  The kernel calls
// in under the device's tx_lock, so the table is never used concurrently.

#include "lvd_driver.h"
#include <linux/netdevice.h>
#include <lvd/nullnet_if.h>
#include "nullnet.h"   // the driver: guest/drivers/nullnet, built unmodified (file `driver`)

// The generated glue serves register_netdev, unregister_netdev and
// consume_skb on the kernel side under those names; here they are the
// driver's API (linux/netdevice.h), so the generated header's prototypes of the
// kernel's functions are renamed out of the way.
#define register_netdev lvd_kernel_register_netdev
#define unregister_netdev lvd_kernel_unregister_netdev
#define consume_skb lvd_kernel_consume_skb
#include "net_device_domain.c"
#undef register_netdev
#undef unregister_netdev
#undef consume_skb
#include "domain_glue.h"   // channels, transport, dispatch, shadows (domain library)

#define CAP_SLOTS 16

static struct lvd_cap cap_slots[CAP_SLOTS];
static struct lvd_captab caps;

LVD_GLUE_DRIVER_CALL(net_device_domain_dispatch)

// ---- the driver's API ----

static int32_t
cb_open(struct net_device *dev)
{
	lvd_printf("nullnet domain: %s open, mtu %u\n", dev->name, dev->mtu);
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
	int rc = net_device_call_register_netdev(lvd_glue_chan(), dev, cb_open, cb_stop,
						 cb_start_xmit, &ret);
	return rc != LVD_OK ? rc : ret;
}

void
consume_skb(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	if (dev != NULL && (dev->flags & NN_IFF_CONSUME_CROSSES) &&
	    net_device_call_consume_skb(lvd_glue_chan(), skb) == LVD_OK)
		return;   // the kernel freed the packet; the skb's name is dead
	// One crossing: the kernel frees the packet after the reply.  The skb is
	// the call-scoped shadow of this CPU's channel ([call] in the IDL): the
	// generated handler closes its slot when the call returns and keeps the
	// shadow for the next packet, so there is nothing to free here.
}

long
driver_init(unsigned int ncpu)
{
	lvd_captab_init(&caps, cap_slots, CAP_SLOTS);
	long r = lvd_glue_init(ncpu, &caps, 0);
	if (r != 0)
		return r;
	return nullnet_init();
}
