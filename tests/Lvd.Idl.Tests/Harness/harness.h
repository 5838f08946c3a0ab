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

// A harness's commands as a table: harness_dispatch() runs the entry named cmd
// with the rest of the line and returns 1, or returns 0 when there is none.
struct harness_cmd {
	const char *name;
	void (*fn)(char *args);
};
int harness_dispatch(const struct harness_cmd *cmds, size_t n, const char *cmd, char *args);
#define HARNESS_COMMANDS(table)						\
	int harness_command(const char *cmd, char *args)		\
	{								\
		return harness_dispatch(table, sizeof(table) / sizeof(table[0]), cmd, args); \
	}

// The kernel's side of taking back an object it was given (unregister, free):
// defines `void fn(type *obj)`, which prints "WHAT same 1" if obj is the one the
// kernel kept, and forgets it.
#define HARNESS_RELEASE_FN(fn, type, what, kept)			\
	void								\
	fn(type *obj)							\
	{								\
		impl_calls++;						\
		printf(what " same %d\n", obj == (kept));		\
		(kept) = NULL;						\
	}

#endif
