// nullnet.c: a network device that drops every packet it is given and
// counts it (Linux's dummy).  It is the end of the transmit path while
// there is no real NIC, and what the send self test counts against.

#include "net.h"

static int
nullnet_open(struct net_device *dev)
{
	return 0;
}

static int
nullnet_stop(struct net_device *dev)
{
	return 0;
}

// The first bytes of the last packet dropped, for the self test to check
// the headers the stack built (a one-packet tcpdump).  Guarded by tx_lock.
uint8_t nullnet_last[64];
unsigned int nullnet_last_len;

// Called with dev->tx_lock held, by the sender running the transmit queue
// (dev_queue_xmit).
static int
nullnet_xmit(struct sk_buff *skb, struct net_device *dev)
{
	nullnet_last_len = skb->len < sizeof nullnet_last ? skb->len : sizeof nullnet_last;
	memcpy(nullnet_last, skb->data, nullnet_last_len);
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops nullnet_ops = {
	.open = nullnet_open,
	.stop = nullnet_stop,
	.start_xmit = nullnet_xmit,
};

struct net_device nullnet_dev = {
	.name = "null0",
	.ops = &nullnet_ops,
	.mtu = 1500,
	.ip_addr = 0x0a000002,   // 10.0.0.2
};

void
nullnet_init(void)
{
	if (register_netdev(&nullnet_dev) != 0 || dev_open(&nullnet_dev) != 0)
		panic("nullnet: cannot bring up %s", nullnet_dev.name);
}
