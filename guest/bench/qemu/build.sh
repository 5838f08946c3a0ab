#!/usr/bin/env bash
# build.sh PROGRAM.elf OUTPUT: a multiboot image of an `lvd cc` program for
# qemu-system-x86_64 (boot.S explains the layout).  The program's own bytes are
# not rebuilt: its loadable sections are copied as they are (objcopy -O binary,
# from 0x400000), behind the stub's page at 0x3FF000.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prog="$1"
out="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
entry="$(readelf -h "$prog" | awk '/Entry point address/ { print $4 }')"
bss_end="0x$(nm "$prog" | awk '$3 == "_end" { print $1 }')"
first="$(readelf -lW "$prog" | awk '$1 == "LOAD" { print $3; exit }')"
if [ "$((first))" -ne $((0x400000)) ]; then
  echo "build.sh: $prog: the first segment is at $first, not 0x400000 (guest/libc/exec.ld)" >&2
  exit 1
fi
gcc -c -o "$tmp/boot.o" -DENTRY="$entry" -DBSS_END="$bss_end" "$here/boot.S"
ld -o "$tmp/boot.elf" -Ttext=0x3ff000 -e _start -nostdlib -static --build-id=none "$tmp/boot.o"
objcopy -O binary "$tmp/boot.elf" "$tmp/boot.bin"
if [ "$(stat -c %s "$tmp/boot.bin")" -gt 4096 ]; then echo "build.sh: the stub is larger than a page" >&2; exit 1; fi
truncate -s 4096 "$tmp/boot.bin"
objcopy -O binary "$prog" "$tmp/prog.bin"
cat "$tmp/boot.bin" "$tmp/prog.bin" > "$out"
