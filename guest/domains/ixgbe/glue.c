// glue.c: the domain side of the isolated ixgbe, over the glue generated from
// idl/ixgbe.idl (ixgbe_net_domain.c, included below; guest/glue/glue.sh
// generates it at build time).  The driver is guest/drivers/ixgbe, built
// unmodified (file `driver`).
//
// Hand-written here is the driver's side of the Linux-shaped API it calls:
// - linux/pci.h: the device the kernel gave this domain (the info page): its
//   BAR 0 is mapped at LVD_DOMAIN_MMIO; its configuration space is not (port
//   I/O exits in a domain, and the kernel enabled bus mastering before it
//   handed the device over), so pci_set_master has nothing to do;
//   dma_alloc_page takes pages of the DMA memory in the pool, the only memory
//   the NIC's IOMMU domain maps, in order;
// - linux/netdevice.h: register_netdev and consume_skb, as nullnet's glue;
// - the receive side: rx_poll runs the driver's NAPI poll with netif_rx, the
//   generated crossing into the kernel's UDP receive path, as its delivery;
//   rx_msix and rx_irq_enable its MSI-X set-up and unmasking (NAPI on the
//   kernel's vector).

#include "lvd_driver.h"
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <lvd/ixgbe_if.h>
#include "ixgbe.h"   // the driver: guest/drivers/ixgbe

#define register_netdev lvd_kernel_register_netdev
#define unregister_netdev lvd_kernel_unregister_netdev
#define consume_skb lvd_kernel_consume_skb
#define netif_rx lvd_kernel_netif_rx
#define pci_msix_vector lvd_kernel_pci_msix_vector
#include "ixgbe_net_domain.c"
#undef pci_msix_vector
#undef register_netdev
#undef unregister_netdev
#undef consume_skb
#undef netif_rx
#include "domain_glue.h"   // channels, transport, dispatch, shadows (domain library)

#define CAP_SLOTS 16

static struct lvd_cap cap_slots[CAP_SLOTS];
static struct lvd_captab caps;
static uint64_t dma_next;   // DMA memory handed out (bytes from info->dma)

LVD_GLUE_DRIVER_CALL(ixgbe_net_domain_dispatch)

// ---- linux/pci.h ----

int
pci_get_device(uint16_t vendor, uint16_t device, struct pci_dev *dev)
{
	if (lvd_info->mmio_size == 0 || lvd_info->vendor != vendor || lvd_info->device != device)
		return -1;
	dev->devfn = (uint8_t)lvd_info->devfn;
	dev->vendor = vendor;
	dev->device = device;
	return 0;
}

void
pci_set_master(struct pci_dev *dev)
{
}

// The MSI-X table (BAR 4) is not given to the domain: the kernel programs
// the entry with its own vector and CPU (what an interrupt of this device
// does is the kernel's choice, not the driver's `vector` and `apic`).
int
pci_msix_vector(struct pci_dev *dev, unsigned int entry, unsigned int vector, uint32_t apic)
{
	int32_t ret;
	int rc = ixgbe_net_call_pci_msix_vector(lvd_glue_chan(), entry, &ret);
	return rc != LVD_OK ? rc : ret;
}

volatile void *
pci_iomap(struct pci_dev *dev, int bar, size_t len)
{
	if (bar != 0 || len > lvd_info->mmio_size)
		return NULL;
	return (volatile void *)lvd_info->mmio;
}

void *
dma_alloc_page(dma_addr_t *dma)
{
	if (dma_next + 4096 > lvd_info->dma_size)
		return NULL;
	uint64_t off = dma_next;
	dma_next += 4096;
	*dma = lvd_info->dma_bus + off;
	return (void *)(lvd_info->dma + off);   // zeroed by the kernel
}

// ---- linux/netdevice.h ----

static int32_t
cb_open(struct net_device *dev)
{
	return dev->netdev_ops->ndo_open(dev);
}

static int32_t
cb_stop(struct net_device *dev)
{
	return dev->netdev_ops->ndo_stop(dev);
}

// skb is the call's shadow; the packet is [data, data + data_len) in the
// pool (this CPU's staging page), checked against the pool by the
// generated handler.
static int32_t
cb_start_xmit(struct net_device *dev, struct sk_buff *skb, void *data, uint64_t data_len)
{
	if (skb->len != data_len)
		return -1;
	skb->head = skb->data = data;
	skb->dev = dev;
	return dev->netdev_ops->ndo_start_xmit(skb, dev);
}

int
register_netdev(struct net_device *dev)
{
	int32_t ret;
	int rc = ixgbe_net_call_register_netdev(lvd_glue_chan(), dev, cb_open, cb_stop, cb_start_xmit, &ret);
	return rc != LVD_OK ? rc : ret;
}

// The driver copied the packet into its own buffer: the skb is the
// call-scoped shadow, which the generated handler keeps for the next packet;
// the kernel frees its sk_buff after the reply.
void
consume_skb(struct sk_buff *skb)
{
}

// ---- receive ----

static int
deliver(const uint8_t *frame, unsigned int len)
{
	int32_t ret;
	int rc = ixgbe_net_call_netif_rx(lvd_glue_chan(), (void *)frame, len, &ret);
	return rc != LVD_OK ? rc : ret;
}

void
rx_start(void)
{
	ixgbe_rx_start();
}

int32_t
rx_poll(int32_t budget)
{
	return ixgbe_poll(budget, deliver);
}

uint64_t
rx_missed(void)
{
	return ixgbe_rx_missed();
}

int32_t
rx_msix(void)
{
	return ixgbe_msix_rx(0, 0);   // vector and CPU are the kernel's
}

void
rx_irq_enable(void)
{
	ixgbe_irq_enable();
}

long
driver_init(unsigned int ncpu)
{
	if (lvd_info->pool_size < IX_POOL_DMA(ncpu) || lvd_info->dma != lvd_info->pool + IX_POOL_DMA(ncpu))
		return -LVD_EINVAL;
	lvd_captab_init(&caps, cap_slots, CAP_SLOTS);
	long r = lvd_glue_init(ncpu, &caps, 0);
	if (r != 0)
		return r;
	return ixgbe_init();
}
