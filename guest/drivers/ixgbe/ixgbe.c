// ixgbe.c: a driver for the Intel 82599 10 GbE NIC as the machine models it
// (docs/NIC.md), shaped like Linux's ixgbe: probe by PCI IDs, BAR0 mapped,
// reset (CTRL.RST, then the EEPROM's auto-read), the MAC address from
// RAL0/RAH0, one transmit ring of legacy descriptors with head and tail,
// reclaim by the DD bit of descriptors sent with RS.  Written against
// linux/netdevice.h and linux/pci.h only.
//
// The stack hands it IP packets (no ARP here): it puts the Ethernet header
// in front (the peer's address is fixed, 02:00:00:00:00:02) while copying
// each packet into the descriptor's own buffer, so the skb is freed at once
// and a buffer is reused only after the NIC has written its descriptor back.
//
// Receive: one ring of legacy descriptors, each with a 2 KiB buffer;
// ixgbe_poll (NAPI's poll: a budget, called until it finds nothing) hands
// each written-back frame to the UDP receive path and gives the descriptor
// back through the tail.
//
// MSI-X for the receive queue (ixgbe_msix_rx: NAPI, the vector masked while
// the caller polls); the same source runs in an LVD domain
// (guest/domains/ixgbe), where it is polled.  Not yet: several queues.

#include <linux/netdevice.h>
#include <linux/pci.h>
#include "ixgbe.h"

#include <ixgbe_regs.h>

#define TX_RING   256            // descriptors: one page
#define RX_RING   256
#define TX_BUF    2048           // two buffers a page
#define ETH_HLEN  14
#define BAR0_SIZE 0x80000

struct ixgbe_tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso, cmd, status, css;
	uint16_t vlan;
};

struct ixgbe_rx_desc {
	uint64_t addr;
	uint16_t length, csum;
	uint8_t status, errors;
	uint16_t vlan;
};

static struct ixgbe {
	struct pci_dev pdev;
	struct ixgbe_rx_desc *rx;
	dma_addr_t rx_dma;
	uint8_t *rxbuf[RX_RING];
	dma_addr_t rxbuf_dma[RX_RING];
	unsigned int rx_next;        // next descriptor the NIC writes back
	uint64_t rx_missed;
	volatile uint32_t *hw;
	struct ixgbe_tx_desc *ring;
	dma_addr_t ring_dma;
	uint8_t *buf[TX_RING];
	dma_addr_t buf_dma[TX_RING];
	unsigned int tail, clean;    // next descriptor to fill; oldest not yet reclaimed (under tx_lock)
	uint8_t mac[6];
} nic;

static const uint8_t peer_mac[6] = { 2, 0, 0, 0, 0, 2 };

static uint32_t rd(uint32_t reg) { return nic.hw[reg / 4]; }
static void wr(uint32_t reg, uint32_t v) { nic.hw[reg / 4] = v; }

static int
ixgbe_open(struct net_device *dev)
{
	nic.tail = nic.clean = 0;
	wr(IXGBE_TDBAL0, (uint32_t)nic.ring_dma);
	wr(IXGBE_TDBAH0, (uint32_t)(nic.ring_dma >> 32));
	wr(IXGBE_TDLEN0, TX_RING * sizeof(struct ixgbe_tx_desc));
	wr(IXGBE_TDH0, 0);
	wr(IXGBE_TDT0, 0);
	wr(IXGBE_TXDCTL0, IXGBE_TXDCTL_ENABLE);
	wr(IXGBE_DMATXCTL, 1);
	return 0;
}

static int
ixgbe_stop(struct net_device *dev)
{
	wr(IXGBE_TXDCTL0, 0);
	return 0;
}

// Descriptors the NIC has written back (DD) become free again.
static void
ixgbe_clean_tx(void)
{
	while (nic.clean != nic.tail && (__atomic_load_n(&nic.ring[nic.clean].status, __ATOMIC_ACQUIRE) & IXGBE_TXD_STAT_DD)) {
		nic.ring[nic.clean].status = 0;
		nic.clean = (nic.clean + 1) % TX_RING;
	}
}

// Called with dev->tx_lock held (dev_queue_xmit).
static netdev_tx_t
ixgbe_xmit(struct sk_buff *skb, struct net_device *dev)
{
	unsigned int len = ETH_HLEN + skb->len;
	if (len > TX_BUF) {
		dev->stats.tx_dropped++;
		consume_skb(skb);
		return NETDEV_TX_OK;
	}
	// A full ring waits for the wire (10 Gb/s): the sender holding tx_lock
	// spins until the NIC writes a descriptor back, which is how a faster
	// sender is held to line rate (Linux stops the queue instead).
	ixgbe_clean_tx();
	while ((nic.tail + 1) % TX_RING == nic.clean) {
		__builtin_ia32_pause();
		ixgbe_clean_tx();
	}
	uint8_t *b = nic.buf[nic.tail];
	memcpy(b, peer_mac, 6);
	memcpy(b + 6, nic.mac, 6);
	b[12] = 0x08;   // IPv4
	b[13] = 0x00;
	memcpy(b + ETH_HLEN, skb->data, skb->len);
	struct ixgbe_tx_desc *d = &nic.ring[nic.tail];
	d->addr = nic.buf_dma[nic.tail];
	d->length = (uint16_t)len;
	d->cso = d->css = 0;
	d->vlan = 0;
	d->status = 0;
	d->cmd = IXGBE_TXD_CMD_EOP | IXGBE_TXD_CMD_IFCS | IXGBE_TXD_CMD_RS;
	nic.tail = (nic.tail + 1) % TX_RING;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	wr(IXGBE_TDT0, nic.tail);
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	consume_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops ixgbe_ops = {
	.ndo_open = ixgbe_open,
	.ndo_stop = ixgbe_stop,
	.ndo_start_xmit = ixgbe_xmit,
};

static struct net_device ixgbe_dev = {
	.name = "eth0",
	.netdev_ops = &ixgbe_ops,
	.mtu = 1500,
	.tx_queue_len = TX_RING,
};

int
ixgbe_init(void)
{
	if (pci_get_device(0x8086, 0x10fb, &nic.pdev) != 0)
		return -1;
	nic.hw = (volatile uint32_t *)pci_iomap(&nic.pdev, 0, BAR0_SIZE);
	if (nic.hw == NULL)
		return -1;
	pci_set_master(&nic.pdev);
	wr(IXGBE_EIMC, 0xffffffff);
	wr(IXGBE_CTRL, IXGBE_CTRL_RST);
	while (rd(IXGBE_CTRL) & IXGBE_CTRL_RST)
		;
	while (!(rd(IXGBE_EEC) & IXGBE_EEC_ARD))
		;
	wr(IXGBE_EIMC, 0xffffffff);
	uint32_t ral = rd(IXGBE_RAL0), rah = rd(IXGBE_RAH0);
	for (int i = 0; i < 4; i++)
		nic.mac[i] = (uint8_t)(ral >> (8 * i));
	nic.mac[4] = (uint8_t)rah;
	nic.mac[5] = (uint8_t)(rah >> 8);
	nic.ring = dma_alloc_page(&nic.ring_dma);
	if (nic.ring == NULL)
		return -1;
	for (int i = 0; i < TX_RING; i += 2) {
		uint8_t *page = dma_alloc_page(&nic.buf_dma[i]);
		if (page == NULL)
			return -1;
		nic.buf[i] = page;
		nic.buf[i + 1] = page + TX_BUF;
		nic.buf_dma[i + 1] = nic.buf_dma[i] + TX_BUF;
	}
	nic.rx = dma_alloc_page(&nic.rx_dma);
	if (nic.rx == NULL)
		return -1;
	for (int i = 0; i < RX_RING; i += 2) {
		uint8_t *page = dma_alloc_page(&nic.rxbuf_dma[i]);
		if (page == NULL)
			return -1;
		nic.rxbuf[i] = page;
		nic.rxbuf[i + 1] = page + TX_BUF;
		nic.rxbuf_dma[i + 1] = nic.rxbuf_dma[i] + TX_BUF;
	}
	return register_netdev(&ixgbe_dev);
}

void
ixgbe_rx_start(void)
{
	for (int i = 0; i < RX_RING; i++) {
		nic.rx[i].addr = nic.rxbuf_dma[i];
		nic.rx[i].status = 0;
	}
	nic.rx_next = 0;
	wr(IXGBE_RDBAL0, (uint32_t)nic.rx_dma);
	wr(IXGBE_RDBAH0, (uint32_t)(nic.rx_dma >> 32));
	wr(IXGBE_RDLEN0, RX_RING * sizeof(struct ixgbe_rx_desc));
	wr(IXGBE_RDH0, 0);
	wr(IXGBE_RXDCTL0, IXGBE_TXDCTL_ENABLE);
	wr(IXGBE_RDT0, RX_RING - 1);   // all but one: head = tail means empty
	wr(IXGBE_RXCTRL, 1);
}

int
ixgbe_poll(int budget, int (*deliver)(const uint8_t *frame, unsigned int len))
{
	int done = 0;
	while (done < budget) {
		struct ixgbe_rx_desc *d = &nic.rx[nic.rx_next];
		if (!(__atomic_load_n(&d->status, __ATOMIC_ACQUIRE) & IXGBE_RXD_STAT_DD))
			break;
		deliver(nic.rxbuf[nic.rx_next], d->length);
		// Back to the NIC: the buffer again, the status cleared, the tail past it.
		d->addr = nic.rxbuf_dma[nic.rx_next];
		d->status = 0;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		wr(IXGBE_RDT0, nic.rx_next);
		nic.rx_next = (nic.rx_next + 1) % RX_RING;
		done++;
	}
	return done;
}

int
ixgbe_msix_rx(unsigned int vector, uint32_t apic)
{
	if (pci_msix_vector(&nic.pdev, 0, vector, apic) != 0)
		return -1;
	wr(IXGBE_IVAR0, (rd(IXGBE_IVAR0) & ~0xffu) | IXGBE_IVAR_VALID | 0);   // RX queue 0 -> vector 0
	wr(IXGBE_EIAC, 1);
	wr(IXGBE_EIAM, 1);
	wr(IXGBE_EITR0, 0);   // no throttling: NAPI's masking keeps one message per poll
	wr(IXGBE_GPIE, IXGBE_GPIE_MSIX_MODE | IXGBE_GPIE_EIAME);
	return 0;
}

void
ixgbe_irq_enable(void)
{
	wr(IXGBE_EIMS, 1);   // and a cause already pending is sent now
}

uint64_t
ixgbe_rx_missed(void)
{
	nic.rx_missed += rd(IXGBE_MPC);   // clear on read
	return nic.rx_missed;
}
