// nullnet.c: a network device that drops every packet it is given and
// counts it (Linux's dummy).  It is the end of the transmit path while
// there is no real NIC, and what the send self test counts against.
//
// Written against linux/netdevice.h only, so that the same source is built
// into the kernel (guest/kernel/build.sh) or, unmodified, into an LVD domain
// (guest/domains/nullnet: its glue turns register_netdev and consume_skb
// into the calls of idl/net_device.idl).

#include <linux/netdevice.h>
#include "nullnet.h"

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
static netdev_tx_t
nullnet_xmit(struct sk_buff *skb, struct net_device *dev)
{
	nullnet_last_len = skb->len < sizeof nullnet_last ? skb->len : sizeof nullnet_last;
	memcpy(nullnet_last, skb->data, nullnet_last_len);
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	consume_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops nullnet_ops = {
	.ndo_open = nullnet_open,
	.ndo_stop = nullnet_stop,
	.ndo_start_xmit = nullnet_xmit,
};

static struct net_device nullnet_dev = {
	.name = "null0",
	.netdev_ops = &nullnet_ops,
	.mtu = 1500,
};

int
nullnet_init(void)
{
	return register_netdev(&nullnet_dev);
}
