#!/usr/bin/env bash
# setup.sh: install what LVD# needs beyond the .NET SDK and gcc, if it is missing:
#   csmith + libcsmith-dev  program-level differential tests
#   qemu-user               the qemu-x86_64 column of `lvd bench mips`
#   gdb                     the tests of the gdb stub (`lvd exec/boot --gdb`, docs/DEBUGGING.md)
#   acpica-tools            iasl, which disassembles the firmware's ACPI tables in the tests (docs/PLATFORM.md)
#   llvm                    llvm-mca, the reference of the block model (`lvd bench timing`, docs/COST-MODEL.md)
set -euo pipefail
need=()
command -v csmith >/dev/null 2>&1 || need+=(csmith)
[ -d /usr/include/csmith ] || ls -d /usr/include/csmith-* >/dev/null 2>&1 || need+=(libcsmith-dev)
command -v qemu-x86_64 >/dev/null 2>&1 || need+=(qemu-user)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v gdb >/dev/null 2>&1 || need+=(gdb)
command -v iasl >/dev/null 2>&1 || need+=(acpica-tools)
command -v llvm-mca >/dev/null 2>&1 || need+=(llvm)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
