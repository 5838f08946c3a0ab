// test_csum.c: csum.c's word-at-a-time RFC 1071 sum against the definition
// (big-endian 16-bit words, one's-complement addition), natively on the host,
// for every length up to 300 at every alignment, plus MTU-sized datagrams.
// Run: guest/kernel/tests/host/run.sh

#include <stdio.h>
#include <stdlib.h>
#include "net.h"

_Noreturn void panic(const char *fmt, ...) { (void)fmt; abort(); }

// RFC 1071 section 4.1, little-endian words in memory order (the byte
// swap at the end cancels, as udp.c relies on).
static uint32_t
reference(uint32_t sum, const uint8_t *b, size_t n)
{
	uint64_t s = sum;
	for (; n >= 2; n -= 2, b += 2)
		s += (uint32_t)b[0] | (uint32_t)b[1] << 8;
	if (n)
		s += b[0];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

int
main(void)
{
	static uint8_t buf[2048 + 16];
	int failures = 0;
	unsigned long cases = 0;

	srand(1071);
	for (int fill = 0; fill < 3; fill++) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = fill == 0 ? (uint8_t)rand() : fill == 1 ? 0xff : 0;
		for (size_t off = 0; off < 16; off++)
			for (size_t n = 0; n <= 300; n++)
				for (uint32_t sum = 0; sum < 0x20000; sum += 0xffff) {
					cases++;
					if (csum_add(sum, buf + off, n) != reference(sum, buf + off, n)) {
						printf("FAIL fill %d off %zu n %zu sum %#x: %#x, want %#x\n", fill, off, n, sum,
						       csum_add(sum, buf + off, n), reference(sum, buf + off, n));
						failures++;
					}
				}
		for (size_t n = 1400; n <= 2048; n += 1)
			if (cases++, csum_add(0, buf + 3, n) != reference(0, buf + 3, n)) {
				printf("FAIL fill %d n %zu\n", fill, n);
				failures++;
			}
	}
	// RFC 1071 section 3's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (big-endian).
	static const uint8_t ex[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	if (csum_add(0, ex, sizeof ex) != 0xf2dd) {
		printf("FAIL RFC 1071 example: %#x\n", csum_add(0, ex, sizeof ex));
		failures++;
	}
	printf("csum: %lu cases, %s\n", cases, failures ? "FAILED" : "ok");
	return failures != 0;
}
