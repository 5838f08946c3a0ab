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
#include "lvd_nullnet.h"
#include "x86.h"
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
static uint64_t ix_faults, ix_taken_back;    // blocked DMAs reported; times the kernel took the NIC back

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

static uint32_t ix_irq_apic;   // where the driver's MSI-X message goes: the CPU that set it up

// The driver's pci_msix_vector: the table entry gets the kernel's vector
// and CPU; the entry number is the only thing the driver chooses.
int
ix_msix_vector(uint32_t entry)
{
	return pci_msix_vector(&ix_pdev, entry, T_NIC, ix_irq_apic);
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

int
lvd_ixgbe_rx_msix(void)
{
	push_off();
	ix_irq_apic = apic_id();
	int r = ix_glue_rx_msix(mycpu()->id);
	pop_off();
	return r;
}

void
lvd_ixgbe_irq_enable(void)
{
	if (ix_dom->dead)
		return;
	push_off();
	ix_glue_rx_irq_enable(mycpu()->id);
	pop_off();
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

// The device back to the kernel: in its IOMMU domain (1), reset (CTRL.RST:
// rings, queues and interrupt state gone), bus mastering on again.  After a
// blocked DMA the hypervisor detached it (quarantine); this is the kernel
// taking it back.
static void
ix_take_back(void)
{
	hc(LVD_HC_IOMMU_ATTACH, ix_grant.devfn, 1, 0, 0, 0, "IOMMU_ATTACH (kernel)");
	ix_hw[IXGBE_EIMC / 4] = 0xffffffff;
	ix_hw[IXGBE_CTRL / 4] = IXGBE_CTRL_RST;
	while (ix_hw[IXGBE_CTRL / 4] & IXGBE_CTRL_RST)
		;
	pci_set_master(&ix_pdev);
	ix_taken_back++;
}

// For the new instance: its DMA memory cleared, the device in the driver's
// IOMMU domain again (the instance's init resets it once more and programs
// its rings).
static void
ix_reset(struct lvd_domain *d)
{
	ix_glue_reset();
	ix_take_back();
	memset(P2V(ix_pool_pa), 0, ix_pool_size);
	hc(LVD_HC_IOMMU_ATTACH, ix_grant.devfn, (unsigned long)ix_iommu, 0, 0, 0, "IOMMU_ATTACH (driver)");
}

// The IOMMU's fault event (T_IOMMU, on the CPU that isolated the driver): every blocked DMA the
// hypervisor queued.  A device of the driver's IOMMU domain was quarantined
// by the hypervisor at the fault; the kernel's policy, as for a CPU
// violation, kills the domain owning it, and takes the device back at once
// (a domain whose restart policy says never keeps it dead, the NIC reset
// and the kernel's).  A fault of another domain (the kernel's own, 1) is only
// reported.
void
lvd_iommu_fault(void)
{
	for (;;) {
		struct lvd_hc_result r = lvd_hypercall(LVD_HC_IOMMU_FAULT, 0, 0, 0, 0, 0);
		if (r.status != 0 || r.value == 0)
			return;
		long dom = (long)(r.value >> 32);
		unsigned int sid = (unsigned int)(r.value >> 16) & 0xffff, reason = (unsigned int)r.value & 0xff;
		ix_faults++;
		if (ix_dom == NULL || dom != ix_iommu || sid != ix_grant.devfn) {
			printk("lvd: IOMMU fault of device %02x.%x in IOMMU domain %ld (reason %u): no domain owns it\n",
			       sid >> 3, sid & 7, dom, reason);
			continue;
		}
		if (ix_dom->dead)
			continue;   // a later fault of the same run of DMA
		char why[96];
		snprintf(why, sizeof why, "DMA blocked by the IOMMU (device %02x.%x, IOMMU domain %ld, fault reason %u)",
			 sid >> 3, sid & 7, dom, reason);
		ix_take_back();
		lvd_kill(ix_dom, why);
	}
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

// ---------------------------------------------------------------- attacks
//
// ixgbeattack=KIND (lvd attack; the boot module ixgbe_attack, the driver
// with one more function, guest/domains/ixgbe_attack): the isolated driver
// programs its NIC to reach memory that is not its own; the DMA must be
// blocked by the IOMMU, the domain killed (lvd_iommu_fault), the memory
// aimed at unchanged (the hypervisor's hash of it, and of the kernel's text
// and rodata), the NIC taken back, and the restarted driver must serve the
// workload that follows.

static uint8_t ix_victim[PGSIZE] __attribute__((aligned(PGSIZE)));   // kernel data an attack aims at

static uint64_t
ix_hash(uint64_t pa, uint64_t len)
{
	extern char __kernel_start[], __rodata_end[];
	struct lvd_hc_result a = lvd_hypercall(LVD_HC_HASH_MEMORY, KV2P(__kernel_start),
					       (uint64_t)(__rodata_end - __kernel_start), 0, 0, 0);
	struct lvd_hc_result b = len ? lvd_hypercall(LVD_HC_HASH_MEMORY, pa, len, 0, 0, 0) : (struct lvd_hc_result){ 0, 0 };
	if (a.status != 0 || b.status != 0)
		panic("ixgbeattack: HASH_MEMORY failed (%ld, %ld)", a.status, b.status);
	return a.value ^ (b.value * 31);
}

// The first address past the RAM the kernel was given: the hypervisor's
// memory (the top of RAM, docs/IOMMU.md).
static uint64_t
ix_ram_end(void)
{
	uint64_t end = 0;
	for (uint32_t i = 0; i < bootinfo.mmap_count; i++)
		if (bootinfo.mmap[i].type == 1 && bootinfo.mmap[i].base + bootinfo.mmap[i].length > end &&
		    bootinfo.mmap[i].base + bootinfo.mmap[i].length <= 0xfd000000UL)
			end = bootinfo.mmap[i].base + bootinfo.mmap[i].length;
	return end;
}

static void
ix_attack(const char *kind)
{
	static const struct { const char *name; int kind; } kinds[] = {
		{ "kernel-rx", IX_ATK_RX }, { "kernel-tx", IX_ATK_TX }, { "kernel-ring", IX_ATK_RING },
		{ "domain", IX_ATK_RX }, { "hypervisor", IX_ATK_RX }, { "iommu-regs", IX_ATK_RX },
		{ "nic-regs", IX_ATK_RX }, { "irq-flood", IX_ATK_IRQ }, { "msix-table", IX_ATK_MSIX },
	};
	int k = -1;
	for (unsigned int i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strncmp(kind, kinds[i].name, strlen(kinds[i].name)) == 0 &&
		    (kind[strlen(kinds[i].name)] == ' ' || kind[strlen(kinds[i].name)] == 0))
			k = (int)i;
	if (k < 0)
		panic("ixgbeattack=%s: no such attack", kind);
	const char *name = kinds[k].name;
	// What it aims at, and the memory whose hash must not change.
	uint64_t target = 0, hpa = KV2P(ix_victim), hlen = PGSIZE;
	memset(ix_victim, 0x5a, PGSIZE);
	if (name == kinds[3].name) {
		struct lvd_domain *other = lvd_nullnet_domain();
		if (other == NULL)
			panic("ixgbeattack=domain needs isolate=nullnet too (the other domain)");
		target = other->phys_lo;
		hpa = other->phys_lo;
		hlen = other->phys_hi - other->phys_lo;
	} else if (name == kinds[4].name)
		target = ix_ram_end();
	else if (name == kinds[5].name)
		target = 0xfed90000UL;   // the VT-d unit's registers (docs/IOMMU.md)
	else if (name == kinds[6].name)
		target = ix_grant.mmio_pa;
	else
		target = KV2P(ix_victim);
	uint64_t before = ix_hash(hpa, hlen), faults0 = ix_faults, kills0 = ix_dom->kills;
	printk("ixgbeattack: %s: the isolated ixgbe aims its NIC at %#lx\n", name, target);
	struct lvd_msg m = { { lvd_msg_word0(IX_FN_ATTACK, 0), (uint64_t)kinds[k].kind, target } };
	int r = lvd_call(ix_dom, &m);
	// The NIC acts in its own time (the next frame from the generator, the
	// wire): wait up to 2 ms of modeled time for a fault.
	uint64_t until = rdtsc() + bootinfo.tsc_hz / 500;
	while (!ix_dom->dead && rdtsc() < until)
		pause();
	int killed = ix_dom->kills != kills0;
	if (killed)
		lvd_restart_wait(ix_dom);
	uint64_t after = ix_hash(hpa, hlen);
	if (after != before)
		panic("ixgbeattack: %s: the memory aimed at or the kernel's image CHANGED", name);
	printk("ixgbeattack: %s: %s (call %d, returned %ld, %lu DMA faults), memory unchanged, "
	       "NIC taken back %lu time(s), driver %s\n",
	       name, killed ? "killed" : "not killed", r, r == 0 ? (long)m.w[1] : 0L, ix_faults - faults0, ix_taken_back,
	       ix_dom->dead ? "dead" : "serving");
}

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

	// A blocked DMA interrupts this CPU (lvd_iommu_fault).
	hc(LVD_HC_IOMMU_FAULT_VECTOR, T_IOMMU, apic_id(), 0, 0, 0, "IOMMU_FAULT_VECTOR");
	if (ix_glue_init(P2V(ix_pool_pa), ix_pool_size, ncpu) != 0)
		panic("lvd: ixgbe glue: no register pages in its pool");
	// The rogue driver of `lvd attack` when it was loaded instead (ixgbeattack=).
	const char *attack = cmdline_option("ixgbeattack");
	ix_dom = lvd_domain_create_dev(attack ? "ixgbe_attack" : "ixgbe", ix_pool_pa, ix_pool_size, ix_upcall, &ix_grant);
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
	udp_rx_poll = lvd_ixgbe_poll;   // recv polls the domain now (udp_rcv.c)
	printk("lvd: ixgbe isolated in domain %d: it registered %s (mtu %u), the NIC %02x.%x in IOMMU domain %ld "
	       "(%lu KiB of DMA memory), BAR 0 %#lx in its EPT\n",
	       ix_dom->id, name, mtu, ix_pdev.devfn >> 3, ix_pdev.devfn & 7, ix_iommu, dma_size >> 10, ix_grant.mmio_pa);
	if (attack)
		ix_attack(attack);
}
