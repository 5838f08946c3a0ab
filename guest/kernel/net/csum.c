// csum.c: the Internet checksum's one's-complement sum (RFC 1071), for IP
// and UDP (udp.c).  Pure computation: host-tested by tests/test_csum.c
// against the byte-pair definition.

#include "net.h"

// The 16-bit one's-complement sum of RFC 1071, not yet complemented, over
// big-endian 16-bit words, added to `sum`.  Summing the bytes in memory
// order as little-endian words and swapping at the end gives the same
// result (RFC 1071, byte-order independence), so no swap per word.  And a
// one's-complement sum may be taken over wider words and folded at the end
// (RFC 1071, "parallel summation"): 2^16 = 1 modulo 0xffff, so each 64-bit
// word counts as its four 16-bit halves.  Eight bytes per ADC, with the
// carries added back in (end-around carry), as Linux's csum_partial does;
// x86 loads the words at any alignment.
uint32_t
csum_add(uint32_t sum, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t s = sum;

	for (; n >= 64; n -= 64, b += 64)
		__asm__("addq 0(%[b]), %[s]\n\t"
			"adcq 8(%[b]), %[s]\n\t"
			"adcq 16(%[b]), %[s]\n\t"
			"adcq 24(%[b]), %[s]\n\t"
			"adcq 32(%[b]), %[s]\n\t"
			"adcq 40(%[b]), %[s]\n\t"
			"adcq 48(%[b]), %[s]\n\t"
			"adcq 56(%[b]), %[s]\n\t"
			"adcq $0, %[s]"
			: [s] "+r"(s)
			: [b] "r"(b), "m"(*(const struct { unsigned char x[64]; } *)b)
			: "cc");
	for (; n >= 8; n -= 8, b += 8) {
		uint64_t w;
		__builtin_memcpy(&w, b, 8);
		__asm__("addq %[w], %[s]\n\tadcq $0, %[s]" : [s] "+r"(s) : [w] "r"(w) : "cc");
	}
	// The last 0-7 bytes as one little-endian word (byte k at bits 8k), so
	// each keeps its place in its 16-bit word.
	uint64_t t = 0;
	for (size_t k = 0; k < n; k++)
		t |= (uint64_t)b[k] << (8 * k);
	__asm__("addq %[t], %[s]\n\tadcq $0, %[s]" : [s] "+r"(s) : [t] "r"(t) : "cc");
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}
