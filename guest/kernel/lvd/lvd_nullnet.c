// lvd_nullnet.c: the isolated nullnet, the kernel's half (LVD.md section 4).
//
//   isolate=nullnet crossings=1|2   (lvd boot --isolate nullnet --crossings N)
//
// The driver runs in its domain (guest/domains/nullnet) and registers its
// net_device with the kernel through the register_netdev call of
// idl/net_device.idl while the domain initializes; the kernel then drives it
// through the generated ndo_open / ndo_start_xmit stubs
// (lvd_nullnet_glue.c).  The registered device takes over null0 (the device
// the in-kernel nullnet, the same driver source, brought up at boot and the
// route of every packet):
// its operations become the ones below, under its tx_lock.
//
// The statistics projection: ndo_start_xmit's reply carries the domain's
// tx_packets and tx_bytes, counted from the takeover; null0's counters are
// the ones it had then plus those.

#include "kernel.h"
#include "lvd.h"
#include "net.h"
#include "percpu.h"
#include "lvd_nullnet.h"
#include <lvd/nullnet_if.h>

static struct lvd_domain *nn_dom;
static int nn_crossings = 1;
static struct net_device_stats nn_base;   // null0's counters at the takeover

int
nn_to_domain(struct lvd_msg *m)
{
	return lvd_call_glue(nn_dom, m, NN_FN_BASE);
}

void
nn_free_skb(void *kskb)
{
	kfree_skb(kskb);
}

void *
nn_zalloc(uint64_t size)
{
	return kzalloc(size);
}

void
nn_free(void *p)
{
	kfree(p);
}

// A driver that fails every packet (alive, its replies refused by the glue or
// its own errors) no longer works: after NN_FAIL_RUN failures in a row, with
// no packet sent between, it is killed, and restarted by its policy.  Counted
// on the failure path only (a run: tx_packets did not move since the last).
#define NN_FAIL_RUN 16
static uint64_t nn_fail_run, nn_fail_at;

static __attribute__((noinline, cold)) void
nn_failed(struct net_device *dev)
{
	nn_fail_run = dev->stats.tx_packets == nn_fail_at ? nn_fail_run + 1 : 1;
	nn_fail_at = dev->stats.tx_packets;
	if (nn_fail_run >= NN_FAIL_RUN && !nn_dom->dead && nn_dom->restart != NULL) {
		nn_fail_run = 0;
		lvd_kill(nn_dom, "failed 16 packets in a row (its replies refused by the glue)");
	}
}

// dev_queue_xmit calls this under the device's tx_lock, interrupts off.
static int
lvd_nullnet_xmit(struct sk_buff *skb, struct net_device *dev)
{
	uint64_t packets, bytes;
	int r = nn_glue_xmit(mycpu()->id, skb, skb->data, skb->len, &packets, &bytes);
	if (r != NETDEV_TX_OK) {
		dev->stats.tx_dropped++;
		nn_failed(dev);
	} else {
		dev->stats.tx_packets = nn_base.tx_packets + packets;
		dev->stats.tx_bytes = nn_base.tx_bytes + bytes;
	}
	return NETDEV_TX_OK;
}

static int
lvd_nullnet_open(struct net_device *dev)
{
	return nn_glue_open(mycpu()->id, NN_IFF_UP | (nn_crossings == 2 ? NN_IFF_CONSUME_CROSSES : 0));
}

static int
lvd_nullnet_stop(struct net_device *dev)
{
	return nn_glue_stop(mycpu()->id);
}

static const struct net_device_ops lvd_nullnet_ops = {
	.ndo_open = lvd_nullnet_open,
	.ndo_stop = lvd_nullnet_stop,
	.ndo_start_xmit = lvd_nullnet_xmit,
};

static int
nn_upcall(struct lvd_domain *d, struct lvd_msg *m)
{
	return nn_glue_upcall(mycpu()->id, m);
}

// ---------------------------------------------------------------- restart
//
// docs/DOMAINS.md, "Restart".  While the domain is dead or restarting, null0
// runs these ops: every packet is dropped at once and counted (tx_dropped),
// the sender goes on (UDP).  Packets in flight at the kill failed in the
// glue (-LVD_EDEAD) and were dropped the same way.

static struct net_device *nn_dev;

static int
nn_dead_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev->stats.tx_dropped++;
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static int
nn_dead_open(struct net_device *dev)
{
	return -LVD_EDEAD;
}

static const struct net_device_ops nn_dead_ops = {
	.ndo_open = nn_dead_open,
	.ndo_stop = nn_dead_open,
	.ndo_start_xmit = nn_dead_xmit,
};

static void
nn_quiesce(struct lvd_domain *d)
{
	acquire(&nn_dev->tx_lock);   // waits for the packet being sent
	nn_dev->netdev_ops = &nn_dead_ops;
	release(&nn_dev->tx_lock);
}

static void
nn_reset(struct lvd_domain *d)
{
	nn_glue_reset();
}

// The fresh instance registered its device during init (register_netdev);
// replay what the kernel half recorded since: the open, with its flags.
static int
nn_replay(struct lvd_domain *d)
{
	char name[16];
	uint32_t mtu;
	if (nn_glue_registered(name, &mtu) != 0 || strncmp(name, nn_dev->name, 16) != 0)
		return -LVD_ENOREF;
	push_off();
	int r = nn_glue_replay(mycpu()->id);
	pop_off();
	return r;
}

static void
nn_resume(struct lvd_domain *d, int recovered)
{
	acquire(&nn_dev->tx_lock);
	// The new instance counts from zero: null0's counters go on from here.
	nn_base = nn_dev->stats;
	if (recovered)
		nn_dev->netdev_ops = &lvd_nullnet_ops;
	release(&nn_dev->tx_lock);
}

static const struct lvd_restart_ops nn_restart_ops = {
	.quiesce = nn_quiesce, .reset = nn_reset, .replay = nn_replay, .resume = nn_resume,
};

struct lvd_domain *
lvd_nullnet_domain(void)
{
	return nn_dom;
}

uint64_t
lvd_nullnet_dropped(void)
{
	return nn_dev ? nn_dev->stats.tx_dropped : 0;
}

void
lvd_isolate_nullnet(int crossings)
{
	nn_crossings = crossings;
	if (nn_glue_init(pktpool.va, pktpool.size, ncpu) != 0)
		panic("lvd: nullnet glue: no register pages in the packet pool");
	nn_dom = lvd_domain_create("nullnet", pktpool.pa, pktpool.size, nn_upcall);
	if (nn_dom == NULL)
		panic("lvd: cannot isolate nullnet");
	char name[16];
	uint32_t mtu;
	if (nn_glue_registered(name, &mtu) != 0)
		panic("lvd: the isolated nullnet registered no device");
	// The device of that name the in-kernel driver brought up at boot (the
	// same driver source): swap its operations for the glue, with it quiet.
	struct net_device *dev = dev_get_by_name(name);
	if (dev == NULL)
		panic("lvd: the isolated nullnet registered %s, which the kernel does not have", name);
	acquire(&dev->tx_lock);
	nn_base = dev->stats;
	int r = lvd_nullnet_open(dev);
	if (r != 0)
		panic("lvd: isolated nullnet did not open (%d)", r);
	dev->netdev_ops = &lvd_nullnet_ops;
	release(&dev->tx_lock);
	nn_dev = dev;
	lvd_set_restart(nn_dom, &nn_restart_ops);
	printk("lvd: nullnet isolated in domain %d: it registered %s (mtu %u) as %s, "
	       "%d crossing(s) per packet, packet pool shared\n",
	       nn_dom->id, name, mtu, dev->name, nn_crossings);
}
