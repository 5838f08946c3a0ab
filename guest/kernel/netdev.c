// netdev.c: the device list and the transmit entry point.
//
// Devices are registered once at boot and never removed, so the list is
// only locked for the writers; readers walk it freely (a device's `next`
// is set before it is linked in).

#include "net.h"

static struct spinlock devlock = { .name = "netdev" };
static struct net_device *devices;

int
register_netdev(struct net_device *dev)
{
	if (dev->ops == NULL || dev->ops->start_xmit == NULL)
		return -1;
	initlock(&dev->tx_lock, dev->name);
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
	if (dev->ops->open && dev->ops->open(dev) != 0)
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
	return dev->ops->stop ? dev->ops->stop(dev) : 0;
}

struct net_device *
dev_default(void)
{
	for (struct net_device *d = __atomic_load_n(&devices, __ATOMIC_ACQUIRE); d; d = d->next)
		if (d->up)
			return d;
	return NULL;
}

// Hand skb to its device.  Consumes the skb whatever happens, as in Linux,
// so a caller never has to know whether the driver kept it.
int
dev_queue_xmit(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;

	acquire(&dev->tx_lock);
	if (!dev->up) {
		dev->stats.tx_dropped++;
		release(&dev->tx_lock);
		kfree_skb(skb);
		return -1;
	}
	int r = dev->ops->start_xmit(skb, dev);
	release(&dev->tx_lock);
	return r == NETDEV_TX_OK ? 0 : -1;
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
