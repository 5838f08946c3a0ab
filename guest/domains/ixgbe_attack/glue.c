// glue.c: a rogue isolated ixgbe for `lvd attack` (docs/THREAT-MODEL.md,
// "Devices"): the real driver and its glue (guest/domains/ixgbe/glue.c),
// plus one function the kernel's attack harness calls (IX_FN_ATTACK,
// ixgbeattack= in lvd_ixgbe.c), which programs the NIC it owns to reach
// memory that is not its own, or floods interrupts.  Everything here uses
// only what an isolated driver has: its BAR 0 and its DMA memory.

#define driver_call ixgbe_driver_call
#include "../ixgbe/glue.c"
#undef driver_call

#include <ixgbe_regs.h>

long driver_call(struct lvd_msg *m);

struct desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso, cmd, status, css;
	uint16_t vlan;
};

static volatile uint32_t *regs(void) { return (volatile uint32_t *)lvd_info->mmio; }
static void wr(uint32_t reg, uint32_t v) { regs()[reg / 4] = v; }

static long
attack(uint64_t kind, uint64_t target)
{
	dma_addr_t ring_dma;
	struct desc *ring = dma_alloc_page(&ring_dma);   // a ring of its own, in its DMA memory
	if (ring == NULL)
		return -LVD_ENOMEM;
	switch (kind) {
	case IX_ATK_RX:
	case IX_ATK_RING:
		for (int i = 0; i < 8; i++) {
			ring[i].addr = target;
			ring[i].status = 0;
		}
		wr(IXGBE_RXDCTL0, 0);
		wr(IXGBE_RDBAL0, (uint32_t)(kind == IX_ATK_RX ? ring_dma : target));
		wr(IXGBE_RDBAH0, (uint32_t)((kind == IX_ATK_RX ? ring_dma : target) >> 32));
		wr(IXGBE_RDLEN0, 8 * sizeof(struct desc));
		wr(IXGBE_RDH0, 0);
		wr(IXGBE_RXDCTL0, IXGBE_TXDCTL_ENABLE);
		wr(IXGBE_RDT0, 7);
		wr(IXGBE_RXCTRL, 1);
		return 0;
	case IX_ATK_TX:
		ring[0].addr = target;
		ring[0].length = 1514;
		ring[0].cmd = IXGBE_TXD_CMD_EOP | IXGBE_TXD_CMD_IFCS | IXGBE_TXD_CMD_RS;
		wr(IXGBE_TXDCTL0, 0);
		wr(IXGBE_TDBAL0, (uint32_t)ring_dma);
		wr(IXGBE_TDBAH0, (uint32_t)(ring_dma >> 32));
		wr(IXGBE_TDLEN0, 8 * sizeof(struct desc));
		wr(IXGBE_TDH0, 0);
		wr(IXGBE_TDT0, 0);
		wr(IXGBE_TXDCTL0, IXGBE_TXDCTL_ENABLE);
		wr(IXGBE_DMATXCTL, 1);
		wr(IXGBE_TDT0, 1);
		return 0;
	case IX_ATK_IRQ:
		wr(IXGBE_GPIE, IXGBE_GPIE_MSIX_MODE);
		wr(IXGBE_EIMS, 0xffff);
		for (int i = 0; i < 10000; i++)
			wr(IXGBE_EICS, 0xffff);
		return 10000;
	case IX_ATK_MSIX:
		// BAR 4 follows BAR 0 in the bus's address space, not in the domain's.
		((volatile uint32_t *)(lvd_info->mmio + lvd_info->mmio_size))[2] = 0x20;
		return 0;
	}
	return -LVD_EINVAL;
}

long
driver_call(struct lvd_msg *m)
{
	if (lvd_msg_fn(m) == IX_FN_ATTACK) {
		long r = attack(m->w[1], m->w[2]);
		m->w[1] = (unsigned long)r;
		return r < 0 ? r : 0;
	}
	return ixgbe_driver_call(m);
}
