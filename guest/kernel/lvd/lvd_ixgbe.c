// lvd_ixgbe.c: the isolated ixgbe, the kernel's half (the kernel's ixgbe
// configuration; docs/DOMAINS.md, "Isolated drivers").
//
//   isolate=ixgbe   (lvd boot --isolate ixgbe --workload ixgbe|ixgbe-rx)
//
// The in-kernel instance of the driver (guest/drivers/ixgbe) probed the
// 82599 at boot and registered eth0.  Isolating it hands the NIC to a domain
// running the same source (guest/domains/ixgbe), which owns it from then on:
// - its pool is memory of its own (lvd_pool_alloc): the glue's register
//   pages, the per-CPU staging pages of transmit, and its DMA memory;
// - an IOMMU domain maps only that DMA memory, and the NIC is attached to it
//   (IOMMU_ATTACH) before the domain's init resets the NIC and programs its
//   rings there: a descriptor aimed anywhere else is blocked;
// - the domain's page table and EPTs map the NIC's BAR 0 (lvd_dev_grant);
// - the domain registers its net_device through idl/ixgbe.idl, which takes
//   over eth0: its ops become the ones below (transmit copies the packet
//   into the CPU's staging page and crosses, ndo_start_xmit);
// - receive is the domain's NAPI poll (rx_poll), which delivers each frame
//   back into the kernel's UDP receive path (netif_rx -> udp_rcv).
//
// Restart: quiesce (eth0 drops), reset (the NIC back in the kernel's IOMMU
// domain, reset by CTRL.RST, the DMA memory zeroed, then attached to the
// driver's IOMMU domain again), the fresh instance's init (its own reset,
// rings, register_netdev), replay (ndo_open, rx_start), resume.

#include "kernel.h"
#include "lvd.h"
#include "net.h"
#include "percpu.h"
#include "lvd_ixgbe.h"
#include <linux/pci.h>
#include <ixgbe_regs.h>
#include <lvd/hypercall.h>
#include <lvd/ixgbe_if.h>

#define BAR0_SIZE 0x80000

static struct lvd_domain *ix_dom;
static struct net_device *ix_dev;            // eth0
static struct net_device_stats ix_base;      // eth0's counters at the takeover / restart
static struct lvd_dev_grant ix_grant;
static struct pci_dev ix_pdev;
static volatile uint32_t *ix_hw;             // the kernel's mapping of BAR 0 (reset at a restart)
static uint64_t ix_pool_pa, ix_pool_size;
static long ix_iommu = -1;                   // the driver's IOMMU domain

int
ix_to_domain(struct lvd_msg *m)
{
	return lvd_call_glue(ix_dom, m, IX_FN_BASE);
}

int
ix_deliver(const uint8_t *frame, unsigned int len)
{
	return udp_rcv(frame, len);
}

static long
hc(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
   unsigned long a4, const char *what)
{
	struct lvd_hc_result r = lvd_hypercall(nr, a0, a1, a2, a3, a4);
	if (r.status != 0)
		panic("lvd: ixgbe: %s failed: %ld", what, r.status);
	return (long)r.value;
}

// dev_queue_xmit calls this under eth0's tx_lock, interrupts off.
static int
lvd_ixgbe_xmit(struct sk_buff *skb, struct net_device *dev)
{
	uint64_t packets, bytes;
	int r = ix_glue_xmit(mycpu()->id, skb->data, skb->len, &packets, &bytes);
	if (r != NETDEV_TX_OK)
		dev->stats.tx_dropped++;
	else {
		dev->stats.tx_packets = ix_base.tx_packets + packets;
		dev->stats.tx_bytes = ix_base.tx_bytes + bytes;
	}
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static int
lvd_ixgbe_open(struct net_device *dev)
{
	return ix_glue_open(mycpu()->id);
}

static int
lvd_ixgbe_stop(struct net_device *dev)
{
	return ix_glue_stop(mycpu()->id);
}

static const struct net_device_ops lvd_ixgbe_ops = {
	.ndo_open = lvd_ixgbe_open,
	.ndo_stop = lvd_ixgbe_stop,
	.ndo_start_xmit = lvd_ixgbe_xmit,
};

static int
ix_upcall(struct lvd_domain *d, struct lvd_msg *m)
{
	return ix_glue_upcall(mycpu()->id, m);
}

// ---------------------------------------------------------------- receive

static int ix_rx_dead;   // polls refused while the domain is dead or restarting

void
lvd_ixgbe_rx_start(void)
{
	push_off();
	int r = ix_glue_rx_start(mycpu()->id);
	pop_off();
	if (r != 0)
		panic("lvd: isolated ixgbe: rx_start failed (%d)", r);
}

int
lvd_ixgbe_poll(int budget)
{
	if (ix_dom->dead) {
		ix_rx_dead++;
		return 0;
	}
	push_off();
	int n = ix_glue_rx_poll(mycpu()->id, budget);
	pop_off();
	return n < 0 ? 0 : n;
}

uint64_t
lvd_ixgbe_rx_missed(void)
{
	static uint64_t missed;
	uint64_t m = 0;
	push_off();
	if (!ix_dom->dead && ix_glue_rx_missed(mycpu()->id, &m) == 0)
		missed = m;   // the driver's running count (clear-on-read MPC summed by it)
	pop_off();
	return missed;
}

// ---------------------------------------------------------------- restart

static int
ix_dead_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev->stats.tx_dropped++;
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static int
ix_dead_open(struct net_device *dev)
{
	return -LVD_EDEAD;
}

static const struct net_device_ops ix_dead_ops = {
	.ndo_open = ix_dead_open,
	.ndo_stop = ix_dead_open,
	.ndo_start_xmit = ix_dead_xmit,
};

static void
ix_quiesce(struct lvd_domain *d)
{
	acquire(&ix_dev->tx_lock);
	ix_dev->netdev_ops = &ix_dead_ops;
	release(&ix_dev->tx_lock);
}

// The device back to the kernel (its IOMMU domain), reset, its DMA memory
// cleared, then given to the driver's IOMMU domain again for the new
// instance (whose init resets it once more and programs its rings).
static void
ix_reset_device(void)
{
	hc(LVD_HC_IOMMU_ATTACH, ix_grant.devfn, 1, 0, 0, 0, "IOMMU_ATTACH (kernel)");
	ix_hw[IXGBE_EIMC / 4] = 0xffffffff;
	ix_hw[IXGBE_CTRL / 4] = IXGBE_CTRL_RST;
	while (ix_hw[IXGBE_CTRL / 4] & IXGBE_CTRL_RST)
		;
	memset(P2V(ix_pool_pa), 0, ix_pool_size);
	pci_set_master(&ix_pdev);
	hc(LVD_HC_IOMMU_ATTACH, ix_grant.devfn, (unsigned long)ix_iommu, 0, 0, 0, "IOMMU_ATTACH (driver)");
}

static void
ix_reset(struct lvd_domain *d)
{
	ix_glue_reset();
	ix_reset_device();
}

static int
ix_replay(struct lvd_domain *d)
{
	char name[16];
	uint32_t mtu;
	if (ix_glue_registered(name, &mtu) != 0 || strncmp(name, ix_dev->name, 16) != 0)
		return -LVD_ENOREF;
	push_off();
	int r = ix_glue_replay(mycpu()->id);
	pop_off();
	return r;
}

static void
ix_resume(struct lvd_domain *d, int recovered)
{
	acquire(&ix_dev->tx_lock);
	ix_base = ix_dev->stats;
	if (recovered)
		ix_dev->netdev_ops = &lvd_ixgbe_ops;
	release(&ix_dev->tx_lock);
}

static const struct lvd_restart_ops ix_restart_ops = {
	.quiesce = ix_quiesce, .reset = ix_reset, .replay = ix_replay, .resume = ix_resume,
};

struct lvd_domain *
lvd_ixgbe_domain(void)
{
	return ix_dom;
}

void
lvd_isolate_ixgbe(void)
{
	struct net_device *dev = dev_get_by_name("eth0");
	if (dev == NULL || pci_get_device(0x8086, 0x10fb, &ix_pdev) != 0)
		panic("lvd: isolate=ixgbe: no 82599 brought up at boot (nic=ixgbe)");
	ix_hw = pci_iomap(&ix_pdev, 0, BAR0_SIZE);   // the in-kernel instance's mapping
	if (ix_hw == NULL)
		panic("lvd: isolate=ixgbe: BAR 0 not mapped");
	// Quiet: nothing of the in-kernel instance's rings is used from here.
	ix_hw[IXGBE_EIMC / 4] = 0xffffffff;
	ix_hw[IXGBE_TXDCTL0 / 4] = 0;
	ix_hw[IXGBE_RXDCTL0 / 4] = 0;

	uint64_t dma_size = (uint64_t)IX_DMA_PAGES * PGSIZE;
	ix_pool_size = IX_POOL_DMA(ncpu) + dma_size;
	ix_pool_pa = lvd_pool_alloc(ix_pool_size);
	if (ix_pool_pa == 0)
		panic("lvd: isolate=ixgbe: no domain memory for its pool (%lu KiB)", ix_pool_size >> 10);
	ix_grant = (struct lvd_dev_grant){
		.mmio_pa = pci_resource_start(&ix_pdev, 0), .mmio_size = BAR0_SIZE,
		.dma_off = IX_POOL_DMA(ncpu), .dma_size = dma_size,
		.devfn = ix_pdev.devfn, .vendor = ix_pdev.vendor, .device = ix_pdev.device,
	};
	// The IOMMU domain: the DMA memory only, at its own address, read/write.
	ix_iommu = hc(LVD_HC_IOMMU_DOMAIN_CREATE, 0, 0, 0, 0, 0, "IOMMU_DOMAIN_CREATE");
	uint64_t dma_pa = ix_pool_pa + ix_grant.dma_off;
	hc(LVD_HC_IOMMU_MAP, (unsigned long)ix_iommu, dma_pa, dma_pa, dma_size, 3, "IOMMU_MAP");
	hc(LVD_HC_IOMMU_ATTACH, ix_grant.devfn, (unsigned long)ix_iommu, 0, 0, 0, "IOMMU_ATTACH");

	if (ix_glue_init(P2V(ix_pool_pa), ix_pool_size, ncpu) != 0)
		panic("lvd: ixgbe glue: no register pages in its pool");
	ix_dom = lvd_domain_create_dev("ixgbe", ix_pool_pa, ix_pool_size, ix_upcall, &ix_grant);
	if (ix_dom == NULL)
		panic("lvd: cannot isolate ixgbe");
	char name[16];
	uint32_t mtu;
	if (ix_glue_registered(name, &mtu) != 0 || strncmp(name, dev->name, 16) != 0)
		panic("lvd: the isolated ixgbe registered no device eth0");
	acquire(&dev->tx_lock);
	ix_base = dev->stats;
	dev->netdev_ops = &lvd_ixgbe_ops;
	release(&dev->tx_lock);
	ix_dev = dev;
	if (dev->up && lvd_ixgbe_open(dev) != 0)
		panic("lvd: isolated ixgbe did not open");
	lvd_set_restart(ix_dom, &ix_restart_ops);
	printk("lvd: ixgbe isolated in domain %d: it registered %s (mtu %u), the NIC %02x.%x in IOMMU domain %ld "
	       "(%lu KiB of DMA memory), BAR 0 %#lx in its EPT\n",
	       ix_dom->id, name, mtu, ix_pdev.devfn >> 3, ix_pdev.devfn & 7, ix_iommu, dma_size >> 10, ix_grant.mmio_pa);
}
