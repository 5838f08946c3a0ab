// harness.h: what the round-trip harnesses share.
//
// A harness links the generated kernel and domain glue of one interface into one process,
// joined by the loopback transport, and reads commands from stdin, one a line; the C#
// tests write the commands and compare every line printed.

#ifndef HARNESS_H
#define HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvd_glue.h"

#define POOL_SIZE 16384

struct side {
	struct lvd_chan chan;
	struct lvd_captab caps;
	struct lvd_cap slots[64];
	struct lvd_regpage page;
	uint8_t pool[POOL_SIZE];
};

extern struct side kside, dside;
extern long shadows_live;
extern long impl_calls;

void harness_connect(lvd_dispatch kernel, lvd_dispatch domain);

// Parsing helpers over the rest of a command line.
uint64_t next_u64(char **s);
int64_t next_s64(char **s);
size_t next_hex(char **s, uint8_t *out, size_t max);
void print_hex(const uint8_t *p, size_t n);

// Per-harness commands; returns 0 when the command is unknown.
int harness_command(const char *cmd, char *args);

#endif
