/*
 * lz.c: a second CPU-bound program for lvd bench mips, unlike mips.c's loops: an LZ77
 * compressor with a hash table (byte loads, hashing, many short calls and unpredictable
 * branches), its decompressor, and a check that the round trip is exact.  Integer-only,
 * deterministic; the same source runs natively, under qemu-x86_64 and on the emulator.
 */
#include <stdio.h>
#include <string.h>

#ifndef SCALE
#define SCALE 40
#endif

#define N (1 << 15)
#define HBITS 12

static unsigned char text[N], packed[N + N / 8 + 16], unpacked[N];
static unsigned short head[1 << HBITS];
static unsigned long rng = 0x9e3779b97f4a7c15UL;

static unsigned next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)rng;
}

/* Words from a small vocabulary: repetitive enough for matches to be found. */
static void make_text(void)
{
	static const char *words[] = { "lightweight", "virtualized", "domain", "kernel", "driver",
		"vmfunc", "ept", "the", "of", "a", "call", "reply", "interrupt", "page", "table" };
	unsigned i = 0;
	while (i < N) {
		const char *w = words[next_rand() % 15];
		while (*w && i < N) text[i++] = (unsigned char)*w++;
		if (i < N) text[i++] = (next_rand() & 7) ? ' ' : '\n';
	}
}

static unsigned hash3(const unsigned char *p)
{
	return ((p[0] << 16 | p[1] << 8 | p[2]) * 2654435761u) >> (32 - HBITS);
}

/* Output: a flag byte per 8 items; a literal byte, or a (offset:12, length-3:4) pair. */
static unsigned compress(void)
{
	unsigned in = 0, out = 0;
	memset(head, 0xff, sizeof(head));
	while (in < N) {
		unsigned flags_at = out++, flags = 0;
		for (int item = 0; item < 8 && in < N; item++) {
			unsigned len = 0, off = 0;
			if (in + 3 <= N) {
				unsigned h = hash3(text + in), cand = head[h];
				head[h] = (unsigned short)in;
				if (cand != 0xffff && in - cand < 4096 && cand < in) {
					while (len < 18 && in + len < N && text[cand + len] == text[in + len]) len++;
					off = in - cand;
				}
			}
			if (len >= 3) {
				flags |= 1u << item;
				packed[out++] = (unsigned char)(off & 0xff);
				packed[out++] = (unsigned char)((off >> 8) << 4 | (len - 3));
				in += len;
			} else {
				packed[out++] = text[in++];
			}
		}
		packed[flags_at] = (unsigned char)flags;
	}
	return out;
}

static unsigned decompress(unsigned n)
{
	unsigned in = 0, out = 0;
	while (in < n) {
		unsigned flags = packed[in++];
		for (int item = 0; item < 8 && in < n && out < N; item++) {
			if (flags & (1u << item)) {
				unsigned off = packed[in] | (packed[in + 1] >> 4) << 8, len = (packed[in + 1] & 15) + 3;
				in += 2;
				for (unsigned k = 0; k < len; k++, out++) unpacked[out] = unpacked[out - off];
			} else {
				unpacked[out++] = packed[in++];
			}
		}
	}
	return out;
}

int main(void)
{
	unsigned long check = 0;
	for (int round = 0; round < SCALE; round++) {
		make_text();
		unsigned n = compress();
		if (decompress(n) != N || memcmp(text, unpacked, N) != 0) {
			printf("lz round trip failed in round %d\n", round);
			return 1;
		}
		check = check * 31 + n;
	}
	printf("lz check %lx\n", check);
	return 0;
}
