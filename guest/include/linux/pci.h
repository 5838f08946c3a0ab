// linux/pci.h: the PCI and DMA API, shaped like Linux's, that a PCI driver is
// written against (guest/drivers/ixgbe): finding a function on bus 0 by its
// IDs, its configuration space, bus mastering, mapping a BAR, and memory a
// device reaches by DMA.  The kernel implements it (guest/kernel/core/pci.c):
// configuration mechanism #1 (ports 0xCF8/0xCFC), BARs mapped uncached at
// their direct-map address, DMA addresses = physical addresses (under the
// hypervisor the IOMMU's kernel domain is the identity, docs/IOMMU.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

struct pci_dev {
	uint8_t devfn;               // bus 0: device << 3 | function
	uint16_t vendor, device;
};

typedef uint64_t dma_addr_t;

// The first function with these IDs on bus 0; 0, or -1 if there is none.
int pci_get_device(uint16_t vendor, uint16_t device, struct pci_dev *dev);
uint32_t pci_read_config_dword(struct pci_dev *dev, int where);
void pci_write_config_dword(struct pci_dev *dev, int where, uint32_t val);
void pci_set_master(struct pci_dev *dev);
// The bus address of BAR `bar` (a memory BAR), 0 if it is none.
uint64_t pci_resource_start(struct pci_dev *dev, int bar);
// BAR `bar` (a memory BAR) mapped for the kernel, `len` bytes; NULL if it cannot be.
volatile void *pci_iomap(struct pci_dev *dev, int bar, size_t len);
// MSI-X (Linux's pci_enable_msix_range, one entry at a time): table entry
// `entry` of the function sends `vector` to the x2APIC `apic`, unmasked, and
// MSI-X is enabled.  0, or -1 if the function has no such entry or the
// caller may not program it (an LVD domain: the table is the kernel's).
int pci_msix_vector(struct pci_dev *dev, unsigned int entry, unsigned int vector, uint32_t apic);
// A zeroed page the device may DMA to and from: its kernel address, its DMA address in *dma.
void *dma_alloc_page(dma_addr_t *dma);
// The DMA address of kernel memory the device is to read or write.
dma_addr_t dma_map_single(const void *p);
