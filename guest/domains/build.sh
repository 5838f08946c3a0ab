#!/usr/bin/env bash
# build.sh DRIVER_DIR_OR_FILE OUT.elf: build an LVD domain image (docs/DOMAINS.md):
# the domain library (lib/) plus the driver's C files, linked at LVD_DOMAIN_BASE.
# A driver is a directory of .c files or one .c file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../common.sh"   # guest_flags (guest/flags), the generated headers
libc="$here/../libc"
src="${1:?usage: build.sh DRIVER_DIR|DRIVER.c OUT.elf}"
out="${2:?usage: build.sh DRIVER_DIR|DRIVER.c OUT.elf}"

mapfile -t CFLAGS < <(guest_flags codegen general-regs freestanding system domain)
CFLAGS+=(
  -nostdinc -isystem "$(guest_gcc_include)"
  -I "$here/../include" -I "$here/lib" -I "$(guest_abi_include)"
)
mapfile -t LDFLAGS < <(guest_flags link link-system link-domain)
LDFLAGS+=(-T "$here/domain.ld")

obj="$(mktemp -d)"
trap 'rm -rf "$obj"' EXIT
drivers=()
if [ -d "$src" ]; then drivers+=("$src"/*.c); else drivers+=("$src"); fi
# A driver that talks to the kernel through IDL-generated glue (docs/IDL.md) says so
# with a file `interfaces` (e.g. nullnet: net_device); it gets the glue runtime and
# the generated files on its include path (guest/glue/glue.sh generates them),
# and the domain library's plumbing around them (lib/glue/domain_glue.h).
# A domain that runs one of the kernel's drivers (guest/drivers/NAME, the same
# source the kernel builds in, unmodified) names it in a file `driver`; its
# sources follow the domain's own glue, its directory is on the include path.
if [ -d "$src" ] && [ -f "$src/driver" ]; then
  drv="$here/../drivers/$(cat "$src/driver")"
  [ -d "$drv" ] || { echo "build.sh: $src/driver names no directory under guest/drivers" >&2; exit 1; }
  drivers+=("$drv"/*.c)
  CFLAGS+=(-I "$drv")
fi
lib=("$here"/lib/*.c "$here"/lib/*.S)
if [ -d "$src" ] && [ -f "$src/interfaces" ]; then
  glue="$("$here/../glue/glue.sh")"
  CFLAGS+=(-I "$here/../glue" -I "$glue" -I "$here/lib/glue")
  lib+=("$here/../glue/captab.c" "$here/../glue/pool.c")
fi
# The library objects (lib/, the glue runtime, libc's string and printf) are the same
# for every driver: built once per flags and sources, kept under build/domains/.lib
# (many small drivers, e.g. lvd fuzz-domains, link against them).
# The key: the flags, the sources and every header on the include path.
incdirs=("$libc")
for ((k = 0; k + 1 < ${#CFLAGS[@]}; k++)); do
  [[ "${CFLAGS[k]}" == -I || "${CFLAGS[k]}" == -isystem ]] && incdirs+=("${CFLAGS[k+1]}")
done
key="$( { printf '%s\n' "${CFLAGS[@]}" "${lib[@]}"; cat "${lib[@]}" "$libc"/*.c \
  $(find "${incdirs[@]}" -name '*.h' 2>/dev/null | sort); } 2>/dev/null | sha1sum | cut -c1-16)"
cache="$here/../../build/domains/.lib/$key"
if [ ! -f "$cache/done" ]; then
  tmp="$(mktemp -d "$here/../../build/domains/.lib-tmp.XXXXXX" 2>/dev/null || { mkdir -p "$here/../../build/domains" && mktemp -d "$here/../../build/domains/.lib-tmp.XXXXXX"; })"
  i=0
  for f in "${lib[@]}"; do
    if [[ "$f" == *.S ]]; then gcc "${CFLAGS[@]}" -D__ASSEMBLY__ -c "$f" -o "$tmp/lib$i.o"; else gcc "${CFLAGS[@]}" -c "$f" -o "$tmp/lib$i.o"; fi
    i=$((i + 1))
  done
  gcc "${CFLAGS[@]}" -I "$libc" -isystem "$libc/include" -c "$libc/string.c" -o "$tmp/libc_string.o"
  gcc "${CFLAGS[@]}" -I "$libc" -isystem "$libc/include" -c "$libc/printf.c" -o "$tmp/libc_printf.o"
  touch "$tmp/done"
  mkdir -p "$(dirname "$cache")"
  mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"   # a concurrent build got there first
fi
i=0
for f in "${drivers[@]}"; do
  gcc "${CFLAGS[@]}" -c "$f" -o "$obj/$i.o"
  i=$((i + 1))
done
# LVD_DRIVER_OBJS=DIR: the driver's own objects are kept there too (DomainBuilder reads their
# symbols to name a missing driver_init or driver_call instead of the linker's message).
if [ -n "${LVD_DRIVER_OBJS:-}" ]; then cp "$obj"/*.o "$LVD_DRIVER_OBJS"/; fi
gcc "${CFLAGS[@]}" "${LDFLAGS[@]}" "$cache"/*.o "$obj"/*.o -o "$out"
