// pci.c: PCI bus 0 through configuration mechanism #1, BAR mapping and DMA
// memory for drivers (linux/pci.h).  No enumeration at boot: a driver asks
// for its IDs when the command line names it, so a kernel without PCI
// devices never touches the ports (and its runs do not change).

#include "kernel.h"
#include "x86.h"
#include <linux/pci.h>
#include <pci_conf.h>

static struct spinlock pcilock = { .name = "pci" };

uint32_t
pci_read_config_dword(struct pci_dev *dev, int where)
{
	acquire(&pcilock);
	uint32_t v = pci_conf_read32(dev->devfn, (unsigned)where);
	release(&pcilock);
	return v;
}

void
pci_write_config_dword(struct pci_dev *dev, int where, uint32_t val)
{
	acquire(&pcilock);
	pci_conf_write32(dev->devfn, (unsigned)where, val);
	release(&pcilock);
}

int
pci_get_device(uint16_t vendor, uint16_t device, struct pci_dev *dev)
{
	for (int devfn = 0; devfn < 256; devfn += 8) {
		dev->devfn = (uint8_t)devfn;
		uint32_t id = pci_read_config_dword(dev, 0);
		if (id == ((uint32_t)device << 16 | vendor)) {
			dev->vendor = vendor;
			dev->device = device;
			return 0;
		}
	}
	return -1;
}

void
pci_set_master(struct pci_dev *dev)
{
	pci_write_config_dword(dev, 4, pci_read_config_dword(dev, 4) | 4);
}

uint64_t
pci_resource_start(struct pci_dev *dev, int bar)
{
	uint32_t lo = pci_read_config_dword(dev, 0x10 + 4 * bar);
	if (lo & 1)
		return 0;   // an I/O BAR
	uint64_t pa = lo & ~0xfUL;
	if ((lo & 6) == 4)
		pa |= (uint64_t)pci_read_config_dword(dev, 0x14 + 4 * bar) << 32;
	return pa;
}

volatile void *
pci_iomap(struct pci_dev *dev, int bar, size_t len)
{
	uint64_t pa = pci_resource_start(dev, bar);
	if (pa == 0 || (pa & (PGSIZE - 1)) != 0)
		return NULL;
	len = (len + PGSIZE - 1) & ~(PGSIZE - 1);
	// Mapped already (a second user of the device: the kernel half of an isolated driver).
	if (vm_translate(P2V(kernel_cr3), DIRECT_BASE + pa) == pa)
		return (volatile void *)(DIRECT_BASE + pa);
	// Uncached (PCD | PWT) at its direct-map address; above RAM, so nothing is mapped there yet.
	if (vm_map(P2V(kernel_cr3), DIRECT_BASE + pa, pa, len, PTE_W | PTE_NX | PTE_G | (1UL << 3) | (1UL << 4), PGSIZE) != 0)
		return NULL;
	return (volatile void *)(DIRECT_BASE + pa);
}

int
pci_msix_vector(struct pci_dev *dev, unsigned int entry, unsigned int vector, uint32_t apic)
{
	// The MSI-X capability (ID 0x11) on the capability list (status bit 4).
	if (!(pci_read_config_dword(dev, 4) & (1u << 20)))
		return -1;
	unsigned int cap = pci_read_config_dword(dev, 0x34) & 0xfc;
	for (int n = 0; cap != 0 && n < 48; n++) {
		uint32_t h = pci_read_config_dword(dev, (int)cap);
		if ((h & 0xff) == 0x11)
			break;
		cap = (h >> 8) & 0xfc;
	}
	if (cap == 0)
		return -1;
	uint32_t ctrl = pci_read_config_dword(dev, (int)cap);   // message control in bits 31:16
	uint32_t table = pci_read_config_dword(dev, (int)cap + 4);   // BIR in bits 2:0, then the offset
	unsigned int size = ((ctrl >> 16) & 0x7ff) + 1;
	if (entry >= size)
		return -1;
	volatile uint32_t *t = pci_iomap(dev, (int)(table & 7), (table & ~7u) + size * 16);
	if (t == NULL)
		return -1;
	t += ((table & ~7u) + entry * 16) / 4;
	t[0] = 0xfee00000u | apic << 12;   // fixed delivery, physical destination
	t[1] = 0;
	t[2] = vector;
	t[3] = 0;                         // unmasked
	pci_write_config_dword(dev, (int)cap, (ctrl | 0x80000000u) & ~0x40000000u);   // enabled, no function mask
	return 0;
}

void *
dma_alloc_page(dma_addr_t *dma)
{
	void *p = kalloc();
	if (p == NULL)
		return NULL;
	memset(p, 0, PGSIZE);
	*dma = V2P(p);
	return p;
}

dma_addr_t
dma_map_single(const void *p)
{
	return V2P(p);
}
