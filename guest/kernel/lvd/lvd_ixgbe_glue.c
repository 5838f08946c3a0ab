// lvd_ixgbe_glue.c: the kernel side of the isolated ixgbe over the glue
// generated from idl/ixgbe.idl (ixgbe_net_kernel.c, included below).  See
// lvd_ixgbe.h.  The plumbing is nullnet's (lvd_nullnet_glue.c): one channel
// per CPU over one capability table and the domain's pool; the shadow memory
// (lvd_shadow_alloc/free) is that file's, shared by both drivers.

#include "lvd_ixgbe.h"
#include <lvd/ixgbe_if.h>

// The interface's skb: a per-CPU descriptor for one ndo_start_xmit (the
// kernel's sk_buff is freed by the caller after the reply).
struct sk_buff {
	uint32_t len;
	uint16_t protocol;
	uint32_t queue_mapping;
};
#define LVD_STRUCT_SK_BUFF

#define register_netdev ix_serve_register_netdev
#define unregister_netdev ix_serve_unregister_netdev
#define consume_skb ix_serve_consume_skb
#define netif_rx ix_serve_netif_rx
#define pci_msix_vector ix_serve_pci_msix_vector
#include "ixgbe_net_kernel.c"

#include "lvd_netdev_glue.h"

#define IX_NCPU 64
#define CAP_SLOTS 16

static struct lvd_cap cap_slots[CAP_SLOTS];
static struct lvd_chan chans[IX_NCPU];
static struct netdev_glue g = { .slots = cap_slots, .nslots = CAP_SLOTS, .chans = chans };
static struct sk_buff desc[IX_NCPU];
static uint8_t *pool_va;
static int pool_ncpu;
static int opened, rx_started, msix_set;   // recorded for the replay into a restarted instance

int
ix_glue_init(uint8_t *pool, uint64_t pool_size, int ncpu)
{
	if (ncpu < 0 || ncpu > IX_NCPU || pool_size < IX_POOL_DMA(ncpu))
		return -LVD_ENOMEM;
	pool_va = pool;
	pool_ncpu = ncpu;
	return netdev_glue_init(&g, ncpu, ix_to_domain, pool, pool_size);
}

int
ix_glue_upcall(int cpu, struct lvd_msg *m)
{
	return lvd_chan_serve(chans, g.nchans, cpu, m, IX_KFN_BASE, ixgbe_net_kernel_dispatch);
}

int32_t
ix_serve_register_netdev(struct net_device *dev, uint64_t open, uint64_t stop, uint64_t start_xmit)
{
	return netdev_glue_register(&g, dev, open, stop, start_xmit);
}

void
ix_serve_unregister_netdev(struct net_device *dev)
{
	netdev_glue_unregister(&g, dev);
}

void
ix_serve_consume_skb(struct sk_buff *skb)
{
}

int32_t
ix_serve_netif_rx(void *frame, uint64_t frame_len)
{
	if (frame_len > 0xffff)
		return -1;
	return ix_deliver(frame, (unsigned int)frame_len);
}

int32_t
ix_serve_pci_msix_vector(uint32_t entry)
{
	return ix_msix_vector(entry);
}

int
ix_glue_registered(char name[16], uint32_t *mtu)
{
	return netdev_glue_registered(&g, name, mtu);
}

int
ix_glue_open(int cpu)
{
	int32_t ret;
	if (g.ndev == NULL)
		return -LVD_ENOREF;
	g.ndev->flags = 1;   // up
	int rc = ixgbe_net_call_ndo_open(&chans[cpu], g.h_open, g.ndev, &ret);
	rc = rc != LVD_OK ? rc : ret;
	if (rc == 0)
		opened = 1;
	return rc;
}

int
ix_glue_stop(int cpu)
{
	int32_t ret;
	if (g.ndev == NULL)
		return -LVD_ENOREF;
	int rc = ixgbe_net_call_ndo_stop(&chans[cpu], g.h_stop, g.ndev, &ret);
	opened = 0;
	return rc != LVD_OK ? rc : ret;
}

int
ix_glue_xmit(int cpu, const void *data, uint32_t len, uint64_t *tx_packets, uint64_t *tx_bytes)
{
	if (g.ndev == NULL)
		return -LVD_ENOREF;
	if (len > LVD_REGPAGE_SIZE)
		return -LVD_E2BIG;
	struct sk_buff *skb = &desc[cpu];
	uint8_t *stage = pool_va + IX_POOL_STAGE(pool_ncpu, cpu);
	int32_t ret = -1;
	memcpy(stage, data, len);
	skb->len = len;
	skb->protocol = 0x0800;   // IPv4: the only protocol the kernel sends
	skb->queue_mapping = (uint32_t)cpu;
	int rc = ixgbe_net_call_ndo_start_xmit(&chans[cpu], g.h_xmit, g.ndev, skb, stage, len, &ret);
	if (rc != LVD_OK)
		return rc;
	*tx_packets = g.ndev->tx_packets;
	*tx_bytes = g.ndev->tx_bytes;
	return ret;
}

int
ix_glue_rx_start(int cpu)
{
	int rc = ixgbe_net_call_rx_start(&chans[cpu]);
	if (rc == LVD_OK)
		rx_started = 1;
	return rc;
}

int
ix_glue_rx_poll(int cpu, int budget)
{
	int32_t n;
	int rc = ixgbe_net_call_rx_poll(&chans[cpu], budget, &n);
	if (rc != LVD_OK)
		return rc;
	return n < 0 ? 0 : n > budget ? budget : n;   // only ever a count
}

int
ix_glue_rx_msix(int cpu)
{
	int32_t ret;
	int rc = ixgbe_net_call_rx_msix(&chans[cpu], &ret);
	rc = rc != LVD_OK ? rc : ret;
	if (rc == 0)
		msix_set = 1;
	return rc;
}

int
ix_glue_rx_irq_enable(int cpu)
{
	return ixgbe_net_call_rx_irq_enable(&chans[cpu]);
}

int
ix_glue_rx_missed(int cpu, uint64_t *missed)
{
	return ixgbe_net_call_rx_missed(&chans[cpu], missed);
}

void
ix_glue_reset(void)
{
	netdev_glue_reset(&g);
}

int
ix_glue_replay(int cpu)
{
	if (g.ndev == NULL)
		return -LVD_ENOREF;
	int r = 0;
	if (opened && (r = ix_glue_open(cpu)) != 0)
		return r;
	if (rx_started && (r = ix_glue_rx_start(cpu)) != 0)
		return r;
	if (msix_set && (r = ix_glue_rx_msix(cpu)) == 0)
		r = ix_glue_rx_irq_enable(cpu);
	return r;
}
