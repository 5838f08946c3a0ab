#!/usr/bin/env bash
# build.sh: build the LVD module lvd_hv.ko (docs/LINUX.md, "The hypervisor under Linux"), cached.
#
#   LVD_ABI_DIR=DIR guest/linux/lvd/build.sh KERNEL_DIR     print the path of lvd_hv.ko
#
# KERNEL_DIR is what guest/linux/build.sh printed (a tree prepared for external modules);
# LVD_ABI_DIR holds the generated lvd_abi.h. The module is built out of tree (kbuild's M=) in
# a directory of its own, ~/.cache/lvd/linux/lvd_hv-KEY (KEY: the kernel's directory, these
# files, lvd/hypercall.h and lvd_abi.h), so the kernel tree is only read; an unchanged module
# costs a hash. make's log: that directory's build.log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
include="$(cd "$here/../../include" && pwd)"
[ $# -eq 1 ] || { echo "usage: LVD_ABI_DIR=DIR build.sh KERNEL_DIR" >&2; exit 2; }
kdir="$1"
abi="${LVD_ABI_DIR:?LVD_ABI_DIR: the directory of the generated lvd_abi.h}"
[ -f "$kdir/scripts/module.lds" ] || { echo "lvd_hv: $kdir is not prepared for modules (guest/linux/build.sh does it)" >&2; exit 1; }
[ -f "$abi/lvd_abi.h" ] || { echo "lvd_hv: $abi/lvd_abi.h missing" >&2; exit 1; }
cache="${LVD_LINUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvd/linux}"
key="$( { echo "$kdir"; cat "$here/lvd_hv.c" "$here/Kbuild" "$here/build.sh" "$include/lvd/hypercall.h" "$abi/lvd_abi.h"; } \
  | sha256sum | cut -c1-16)"
out="$cache/lvd_hv-$key"
if [ -f "$out/lvd_hv.ko" ]; then echo "$out/lvd_hv.ko"; exit 0; fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/lvd_hv-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$here/lvd_hv.c" "$here/Kbuild" "$work/"
# vmlinux.symvers: the kernel's exported symbols (the tree has no Module.symvers: it builds no modules of its own).
if ! nice -n 10 make -C "$kdir" M="$work" ARCH=x86_64 KBUILD_EXTRA_SYMBOLS="$kdir/vmlinux.symvers" \
    LVD_INCLUDE="$include" LVD_ABI_DIR="$abi" modules >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "lvd_hv: make failed" >&2
  exit 1
fi
if grep -q "undefined!" "$work/build.log"; then cat "$work/build.log" >&2; echo "lvd_hv: unresolved symbols" >&2; exit 1; fi
mv "$work" "$out" 2>/dev/null || true   # another build may have finished first: its result is the same
trap - EXIT
rm -rf "$work"
echo "$out/lvd_hv.ko"
