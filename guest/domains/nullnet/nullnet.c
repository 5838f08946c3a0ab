// nullnet.c: the null network driver, as it runs inside an LVD domain.
// The same driver as guest/kernel/drivers/nullnet.c: keep the first bytes of the
// last packet, count it, give it back.  It registers itself with the kernel
// like a Linux driver; glue.c turns that into the register_netdev call of
// idl/net_device.idl.

#include "lvd_driver.h"
#include "netdev.h"

unsigned char nullnet_last[64];
unsigned int nullnet_last_len;

static int
nullnet_open(struct net_device *dev)
{
	lvd_printf("nullnet domain: %s open, mtu %u\n", dev->name, dev->mtu);
	return 0;
}

static int
nullnet_stop(struct net_device *dev)
{
	return 0;
}

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
	.mtu = 1500,
	.netdev_ops = &nullnet_ops,
};

int
nullnet_init(void)
{
	return register_netdev(&nullnet_dev);
}
