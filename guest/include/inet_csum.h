// inet_csum.h: the Internet checksum (RFC 1071) by its definition, big-endian 16-bit words added with end-around
// carry to `sum` and complemented, for guest programs that build and check frames (guest/bench/nicpmd.c,
// guest/tests/hv/iommu.c). The kernel has its own, word-at-a-time, in net/csum.c.
#pragma once
#include <stdint.h>

static inline uint16_t inet_csum(const uint8_t *p, int n, uint32_t sum)
{
	for (int i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
