// netdev.c: the device list and the transmit entry point.
//
// Devices are registered once at boot and never removed, so the list is
// only locked for the writers; readers walk it freely (a device's `next`
// is set before it is linked in).

#include "net.h"
#include "x86.h"

static struct spinlock devlock = { .name = "netdev" };
static struct net_device *devices;

int
register_netdev(struct net_device *dev)
{
	if (dev->netdev_ops == NULL || dev->netdev_ops->ndo_start_xmit == NULL)
		return -1;
	initlock(&dev->tx_lock, dev->name);
	initlock(&dev->txq_lock, "txq");
	if (dev->tx_queue_len == 0)
		dev->tx_queue_len = 64;
	acquire(&devlock);
	struct net_device **pp = &devices;
	while (*pp)
		pp = &(*pp)->next;
	dev->next = NULL;
	__atomic_store_n(pp, dev, __ATOMIC_RELEASE);
	release(&devlock);
	printk("net: %s registered, mtu %u\n", dev->name, dev->mtu);
	return 0;
}

int
dev_open(struct net_device *dev)
{
	if (dev->up)
		return 0;
	if (dev->netdev_ops->ndo_open && dev->netdev_ops->ndo_open(dev) != 0)
		return -1;
	dev->up = 1;
	return 0;
}

int
dev_close(struct net_device *dev)
{
	if (!dev->up)
		return 0;
	dev->up = 0;
	return dev->netdev_ops->ndo_stop ? dev->netdev_ops->ndo_stop(dev) : 0;
}

struct net_device *
dev_default(void)
{
	for (struct net_device *d = __atomic_load_n(&devices, __ATOMIC_ACQUIRE); d; d = d->next)
		if (d->up)
			return d;
	return NULL;
}

struct net_device *
dev_get_by_name(const char *name)
{
	for (struct net_device *d = __atomic_load_n(&devices, __ATOMIC_ACQUIRE); d; d = d->next)
		if (strncmp(d->name, name, sizeof d->name) == 0)
			return d;
	return NULL;
}

// The driver's side of one packet: start_xmit under tx_lock, or a drop if
// the device went down meanwhile.  Consumes the skb.
static int
xmit_one(struct net_device *dev, struct sk_buff *skb)
{
	acquire(&dev->tx_lock);
	if (!dev->up) {
		dev->stats.tx_dropped++;
		release(&dev->tx_lock);
		kfree_skb(skb);
		return -1;
	}
	int r = dev->netdev_ops->ndo_start_xmit(skb, dev);
	release(&dev->tx_lock);
	return r == NETDEV_TX_OK ? 0 : -1;
}

// Hand skb to its device.  Consumes the skb whatever happens, as in Linux,
// so a caller never has to know whether the driver kept it.
//
// Linux's __dev_xmit_skb with a FIFO qdisc: under the queue lock, a sender
// that finds the queue idle (not running) becomes its runner; if the queue
// is also empty it sends its own skb straight away (TCQ_F_CAN_BYPASS),
// otherwise it queues it.  The runner then drains the queue, one skb per
// start_xmit, taking the queue lock only to dequeue (qdisc_restart), so
// senders on other CPUs only enqueue and return instead of waiting for the
// driver.  The runner drains until the queue is empty: each skb it sends
// for another sender cost that sender a whole UDP send to produce, so it
// catches up.
int
dev_queue_xmit(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	int r = 0;

	skb->next = NULL;
	acquire(&dev->txq_lock);
	// A full queue makes the sender wait for room, as a socket's send
	// buffer (sk_wmem) makes a Linux UDP sender wait before it reaches a
	// qdisc that would drop; the running sender is draining it meanwhile.
	// It watches the length without the lock, so that it does not stand in
	// the lock's queue in front of the runner's dequeues.
	while (dev->txq_running && dev->txq_len >= dev->tx_queue_len) {
		release(&dev->txq_lock);
		while (__atomic_load_n(&dev->txq_running, __ATOMIC_RELAXED) &&
		       __atomic_load_n(&dev->txq_len, __ATOMIC_RELAXED) >= dev->tx_queue_len)
			pause();
		acquire(&dev->txq_lock);
	}
	if (dev->txq_running || dev->txq_head != NULL) {
		if (dev->txq_tail)
			dev->txq_tail->next = skb;
		else
			dev->txq_head = skb;
		dev->txq_tail = skb;
		dev->txq_len++;
		dev->txq_enqueued++;
		if (dev->txq_running) {      // the runner will send it
			release(&dev->txq_lock);
			return 0;
		}
		skb = NULL;                  // queued behind others: drain from the head
	} else {
		dev->txq_bypassed++;
	}
	dev->txq_running = 1;
	release(&dev->txq_lock);

	if (skb != NULL)
		r = xmit_one(dev, skb);
	for (;;) {
		acquire(&dev->txq_lock);
		struct sk_buff *q = dev->txq_head;
		if (q == NULL) {
			dev->txq_running = 0;
			release(&dev->txq_lock);
			return r;
		}
		dev->txq_head = q->next;
		if (dev->txq_head == NULL)
			dev->txq_tail = NULL;
		dev->txq_len--;
		release(&dev->txq_lock);
		q->next = NULL;
		xmit_one(dev, q);            // another sender's skb: its fate is in the stats
	}
}

// A consistent copy: the stats are written under tx_lock.
struct net_device_stats
dev_get_stats(struct net_device *dev)
{
	acquire(&dev->tx_lock);
	struct net_device_stats s = dev->stats;
	release(&dev->tx_lock);
	return s;
}
