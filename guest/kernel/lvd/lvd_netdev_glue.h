// lvd_netdev_glue.h: what the kernel halves of the isolated network drivers'
// glue share (lvd_nullnet_glue.c over idl/net_device.idl, lvd_ixgbe_glue.c
// over idl/ixgbe.idl): the device the driver registered and the handles of
// its ops, the table of capabilities the channels share, and the restart's
// reset of both.  Included once per glue file, after its generated code:
// struct net_device is that interface's shadow (the fields used here are
// in both interfaces), so the functions are that translation unit's.
#pragma once

struct netdev_glue {
	struct lvd_cap *slots;
	uint32_t nslots;
	struct lvd_captab caps;
	struct lvd_chan *chans;
	int nchans;
	// What register_netdev gave: the kernel's shadow of the driver's device
	// (its capability table entry names the domain's) and the handles of its ops.
	struct net_device *ndev;
	uint64_t h_open, h_stop, h_xmit;
};

static int
netdev_glue_init(struct netdev_glue *g, int ncpu, lvd_transport to_domain, uint8_t *pool, uint64_t pool_size)
{
	lvd_captab_init(&g->caps, g->slots, g->nslots);
	return lvd_chans_init(g->chans, &g->nchans, (unsigned int)ncpu, to_domain, &g->caps, 0, pool, pool_size);
}

static int32_t
netdev_glue_register(struct netdev_glue *g, struct net_device *dev, uint64_t open, uint64_t stop, uint64_t start_xmit)
{
	if (g->ndev != NULL)
		return -LVD_EINVAL;   // one device per domain
	g->ndev = dev;
	g->h_open = open;
	g->h_stop = stop;
	g->h_xmit = start_xmit;
	return 0;
}

static void
netdev_glue_unregister(struct netdev_glue *g, struct net_device *dev)
{
	if (dev == g->ndev)
		g->ndev = NULL;
}

static int
netdev_glue_registered(const struct netdev_glue *g, char name[16], uint32_t *mtu)
{
	if (g->ndev == NULL)
		return -LVD_ENOREF;
	memcpy(name, g->ndev->name, 16);
	name[15] = 0;
	*mtu = g->ndev->mtu;
	return 0;
}

// Restart (docs/DOMAINS.md): every object the dead instance's capabilities
// named (its device's shadow) freed, the table empty for the new instance,
// the call-scoped slots closed, the handles forgotten.
static void
netdev_glue_reset(struct netdev_glue *g)
{
	for (int c = 0; c < g->nchans; c++)
		lvd_scope_flush(&g->chans[c]);
	for (uint32_t i = 0; i < g->nslots; i++)
		if (g->slots[i].tag != 0)
			lvd_shadow_free(g->slots[i].ptr, g->slots[i].tag);
	lvd_captab_init(&g->caps, g->slots, g->nslots);
	g->ndev = NULL;
	g->h_open = g->h_stop = g->h_xmit = 0;
}
