#!/usr/bin/env bash
# build.sh OUT.elf: build the LVD guest kernel with the host gcc.
# No Makefile: the whole kernel is ~40 files and builds in about a second.
# The sources are in one folder per subsystem (docs/KERNEL.md); objects are
# named by file (no two files share a name), so the link order is by name.
set -euo pipefail
shopt -s nullglob   # a subsystem without .S files
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
libc="$here/../libc"
out="${1:?usage: build.sh OUT.elf}"

CFLAGS=(
  -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter
  -ffreestanding             # no hosted library; implies -fno-builtin
  -fno-tree-loop-distribute-patterns  # gcc must not turn memset's own loop into a call to memset
  -nostdinc -isystem "$(gcc -print-file-name=include)"  # gcc's stddef/stdarg/stdint only, never /usr/include
  -mcmodel=kernel            # code and data live in the top 2 GiB (the kernel window)
  -fno-pie -fno-pic          # linked at a fixed address, no GOT
  -mno-red-zone              # traps land on the interrupted kernel stack: no red zone below RSP
  -mgeneral-regs-only        # the machine has no SSE/x87 state; never save it on a trap
  -fno-stack-protector       # the canary would live in %fs/%gs-relative TLS, which we do not have
  -fno-omit-frame-pointer    # panic() walks the RBP chain for its backtrace
  -fno-asynchronous-unwind-tables -fcf-protection=none  # nothing unwinds; no endbr64
  -I "$here/../include"      # guest/include: lvd/hypercall.h (talking to the hypervisor)
  -I "$here/../../build/guest/include"  # lvd_abi.h, generated from the C# definitions by `lvd cc`/`lvd boot`
)
# The kernel's subsystems; each one's headers are on the include path of all.
subsystems=(core mm net block drivers lvd tests)
for d in "${subsystems[@]}"; do CFLAGS+=(-I "$here/$d"); done
ASFLAGS=(-g -D__ASSEMBLY__)
LDFLAGS=(
  -nostdlib -static -no-pie  # one self-contained image, none of the host's start files
  -Wl,--build-id=none        # no .note section to place
  -Wl,-z,max-page-size=4096  # segments page-aligned, not 2 MiB-aligned
  -T "$here/kernel.ld"
)

# The IDL-generated glue of the isolated drivers (guest/glue/glue.sh): its runtime
# (capability table, pool offsets) and, included by lvd/lvd_nullnet_glue.c, the kernel
# side of idl/net_device.idl.
glue="$("$here/../glue/glue.sh")"
GLUE_CFLAGS=(-I "$here/../glue" -I "$glue")

obj="$(mktemp -d)"
trap 'rm -rf "$obj"' EXIT
for d in "${subsystems[@]}"; do
  for f in "$here/$d"/*.c; do
    gcc "${CFLAGS[@]}" "${GLUE_CFLAGS[@]}" -c "$f" -o "$obj/$(basename "$f" .c).o"
  done
done
for f in "$here"/../glue/captab.c "$here"/../glue/pool.c; do
  gcc "${CFLAGS[@]}" "${GLUE_CFLAGS[@]}" -c "$f" -o "$obj/lvd_glue_$(basename "$f" .c).o"
done
for d in "${subsystems[@]}"; do
  for f in "$here/$d"/*.S; do
    gcc "${ASFLAGS[@]}" "${CFLAGS[@]}" -c "$f" -o "$obj/$(basename "$f" .S).S.o"
  done
done
# printk's formatter is the runtime's printf.c, compiled as kernel code
# against the runtime's own headers (guest/libc is not edited).
# Shared with the guest C runtime: printf's formatter, and the word-at-a-time memory and
# string functions (one implementation for the kernel and for programs).
gcc "${CFLAGS[@]}" -I "$libc" -isystem "$libc/include" -c "$libc/printf.c" -o "$obj/libc_printf.o"
gcc "${CFLAGS[@]}" -I "$libc" -isystem "$libc/include" -c "$libc/string.c" -o "$obj/libc_string.o"
gcc "${CFLAGS[@]}" "${LDFLAGS[@]}" "$obj"/*.o -lgcc -o "$out"
