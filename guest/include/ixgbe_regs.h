// ixgbe_regs.h: the register map of the 82599 model (Intel 82599 datasheet 8.2.3; docs/NIC.md) and its legacy
// descriptors' bits, for every guest that drives it: the in-kernel ixgbe driver, guest/bench/nicpmd.c and
// guest/tests/hv/iommu.c. One definition.
#pragma once

#define IXGBE_CTRL      0x00000
#define IXGBE_EEC       0x10010
#define IXGBE_EICS      0x00808
#define IXGBE_EIMS      0x00880
#define IXGBE_EIMC      0x00888
#define IXGBE_EIAC      0x00810
#define IXGBE_EITR0     0x00820
#define IXGBE_EIAM      0x00890
#define IXGBE_GPIE      0x00898
#define IXGBE_IVAR0     0x00900
#define IXGBE_IVAR_VALID 0x80
#define IXGBE_GPIE_EIAME (1u << 30)
#define IXGBE_GPIE_MSIX_MODE (1u << 4)
#define IXGBE_RAL0      0x0a200
#define IXGBE_RAH0      0x0a204
#define IXGBE_DMATXCTL  0x04a80
#define IXGBE_TDBAL0    0x06000
#define IXGBE_TDBAH0    0x06004
#define IXGBE_TDLEN0    0x06008
#define IXGBE_TDH0      0x06010
#define IXGBE_TDT0      0x06018
#define IXGBE_TXDCTL0   0x06028
#define IXGBE_RDBAL0    0x01000
#define IXGBE_RDBAH0    0x01004
#define IXGBE_RDLEN0    0x01008
#define IXGBE_RDH0      0x01010
#define IXGBE_RDT0      0x01018
#define IXGBE_RXDCTL0   0x01028
#define IXGBE_RXCTRL    0x03000
#define IXGBE_MPC       0x03fa0
#define IXGBE_RXD_STAT_DD  0x01
#define IXGBE_RXD_STAT_EOP 0x02
#define IXGBE_CTRL_RST      (1u << 26)
#define IXGBE_EEC_ARD       (1u << 9)
#define IXGBE_TXDCTL_ENABLE (1u << 25)
#define IXGBE_TXD_CMD_EOP  0x01
#define IXGBE_TXD_CMD_IFCS 0x02
#define IXGBE_TXD_CMD_RS   0x08
#define IXGBE_TXD_STAT_DD  0x01
#define IXGBE_GPRC      0x04074
#define IXGBE_GPTC      0x04080
// RXDCTL and TXDCTL: the queue's enable bit.
#define IXGBE_QUEUE_ENABLE  (1u << 25)
