// ixgbe_if.h: what the isolated ixgbe's two sides agree on beyond idl/ixgbe.idl,
// whose generated glue carries every call (the kernel side is
// guest/kernel/lvd/lvd_ixgbe*.c, the domain side guest/domains/ixgbe/glue.c).
#pragma once

// Generated function ids start at 1; on the trampolines they are offset past
// the ids every domain and the kernel serve themselves (lvd/domain.h).
#define IX_FN_BASE  LVD_FN_USER     // kernel -> domain
#define IX_KFN_BASE LVD_KFN_USER    // domain -> kernel

// The domain's pool: ncpu register pages of the glue, then ncpu pages where
// the kernel puts the packet of each CPU's ndo_start_xmit (its skb's data
// stays in the kernel's packet pool, which this domain does not see), then
// the driver's DMA memory (rings and buffers) up to the end.
#define IX_POOL_STAGE(ncpu, cpu) ((unsigned long)((ncpu) + (cpu)) * 4096)
#define IX_POOL_DMA(ncpu)        ((unsigned long)(ncpu) * 2 * 4096)
#define IX_DMA_PAGES             272   // 2 rings, 128 + 128 pages of 2 KiB buffers, and room

// The attacks of `lvd attack` (guest/domains/ixgbe_attack: the same driver
// and glue, plus this function; the kernel's ixgbeattack=KIND, lvd_ixgbe.c):
// w1 the kind, w2 the bus address aimed at; reply w1 a count (IX_ATK_IRQ).
#define IX_FN_ATTACK  (LVD_FN_USER + 0x100)
#define IX_ATK_RX     1   // a receive descriptor's buffer at the target: the NIC writes the next frame there
#define IX_ATK_TX     2   // a transmit descriptor's buffer at the target: the NIC reads it onto the wire
#define IX_ATK_RING   3   // the receive ring itself at the target: the NIC reads descriptors and writes them back there
#define IX_ATK_IRQ    4   // an interrupt storm: every cause unmasked and set (EICS) 10,000 times
#define IX_ATK_MSIX   5   // the MSI-X table (BAR 4): not in the domain's address space
