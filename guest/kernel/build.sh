#!/usr/bin/env bash
# build.sh OUT.elf: build the LVD guest kernel with the host gcc.
# No Makefile: the whole kernel is ~40 files and builds in about a second.
# The sources are in one folder per subsystem (docs/KERNEL.md); objects are
# named by file (no two files share a name), so the link order is by name.
# The gcc flags are guest/flags' (each one explained there); runnable by hand
# on a clean tree: the generated headers come from ./lvd (guest/common.sh).
set -euo pipefail
shopt -s nullglob   # a subsystem without .S files
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common.sh"
libc="$here/../libc"
out="${1:?usage: build.sh OUT.elf}"

mapfile -t CFLAGS < <(guest_flags codegen general-regs freestanding system kernel)
CFLAGS+=(
  -nostdinc -isystem "$(guest_gcc_include)"  # gcc's stddef/stdarg/stdint only, never /usr/include
  -I "$here/../include"      # guest/include: lvd/hypercall.h, lvd/domain.h, ... (shared with domains)
  -I "$(guest_abi_include)"  # lvd_abi.h, generated from the C# definitions
)
# The kernel's subsystems, and the drivers built in (guest/drivers: each driver is
# one source, built here or, unmodified, into an LVD domain); each one's headers
# are on the include path of all.
subsystems=(core mm net block lvd tests)
drivers=(nullnet nullblk)
# LVD_KERNEL_CONFIG=ixgbe (KernelBuilder, for lvd boot --workload ixgbe): also the
# ixgbe driver, the kernel's PCI support (core/pci.c), UDP receive (net/udp_rcv.c, net/napi.c) and the kernel half of the
# isolated ixgbe (lvd/lvd_ixgbe*.c), with -DCONFIG_IXGBE.  The
# default kernel is built without them, byte for byte what it was before them.
pci=0
if [[ " ${LVD_KERNEL_CONFIG:-} " == *" ixgbe "* ]]; then
  drivers+=(ixgbe)
  CFLAGS+=(-DCONFIG_IXGBE)
  pci=1
fi
dirs=()
for d in "${subsystems[@]}"; do dirs+=("$here/$d"); done
for d in "${drivers[@]}"; do dirs+=("$here/../drivers/$d"); done
for d in "${dirs[@]}"; do CFLAGS+=(-I "$d"); done
ASFLAGS=(-D__ASSEMBLY__)
mapfile -t LDFLAGS < <(guest_flags link link-system)
LDFLAGS+=(-T "$here/kernel.ld")

# The IDL-generated glue of the isolated drivers (guest/glue/glue.sh): its runtime
# (capability table, pool offsets) and, included by lvd/lvd_nullnet_glue.c, the kernel
# side of idl/net_device.idl.
glue="$("$here/../glue/glue.sh")"
GLUE_CFLAGS=(-I "$here/../glue" -I "$glue")

obj="$(mktemp -d)"
trap 'rm -rf "$obj"' EXIT
for d in "${dirs[@]}"; do
  for f in "$d"/*.c; do
    [[ $pci == 0 && ( $f == "$here/core/pci.c" || $f == "$here/net/udp_rcv.c" || $f == "$here/net/napi.c" || $f == "$here/lvd/lvd_ixgbe"* ) ]] && continue
    gcc "${CFLAGS[@]}" "${GLUE_CFLAGS[@]}" -c "$f" -o "$obj/$(basename "$f" .c).o"
  done
done
for f in "$here"/../glue/captab.c "$here"/../glue/pool.c; do
  gcc "${CFLAGS[@]}" "${GLUE_CFLAGS[@]}" -c "$f" -o "$obj/lvd_glue_$(basename "$f" .c).o"
done
for d in "${dirs[@]}"; do
  for f in "$d"/*.S; do
    gcc "${ASFLAGS[@]}" "${CFLAGS[@]}" -c "$f" -o "$obj/$(basename "$f" .S).S.o"
  done
done
# Shared with the guest C runtime: printf's formatter, and the word-at-a-time memory and
# string functions (one implementation for the kernel and for programs), compiled as
# kernel code against the runtime's own headers.
gcc "${CFLAGS[@]}" -I "$libc" -isystem "$libc/include" -c "$libc/printf.c" -o "$obj/libc_printf.o"
gcc "${CFLAGS[@]}" -I "$libc" -isystem "$libc/include" -c "$libc/string.c" -o "$obj/libc_string.o"
gcc "${CFLAGS[@]}" "${LDFLAGS[@]}" "$obj"/*.o -lgcc -o "$out"
