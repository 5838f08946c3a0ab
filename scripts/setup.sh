#!/usr/bin/env bash
# setup.sh: install what LVD# needs beyond the .NET SDK and gcc, if it is missing:
#   csmith + libcsmith-dev  program-level differential tests
#   qemu-user               the qemu-x86_64 column of `lvd bench mips`
#   qemu-system-x86         the qemu-system-x86_64 (TCG, full system) columns of `lvd bench mips` and `lvd bench linux`
#   gdb                     the tests of the gdb stub (`lvd exec/boot --gdb`, docs/DEBUGGING.md)
#   acpica-tools            iasl, which disassembles the firmware's ACPI tables in the tests (docs/PLATFORM.md)
#   linux-source-6.1        the kernel `lvd linux` boots, and what building it needs: flex, bison,
#     flex bison bc         bc, libelf-dev, libssl-dev (guest/linux/build.sh, docs/LINUX.md)
#     libelf-dev libssl-dev
#   busybox-static          the user space of its initramfs
#   cpio                    the tests list the initramfs with cpio -t
#   llvm                    llvm-mca, the reference of the block model (`lvd bench timing`, docs/COST-MODEL.md)
set -euo pipefail
need=()
command -v csmith >/dev/null 2>&1 || need+=(csmith)
[ -d /usr/include/csmith ] || ls -d /usr/include/csmith-* >/dev/null 2>&1 || need+=(libcsmith-dev)
command -v qemu-x86_64 >/dev/null 2>&1 || need+=(qemu-user)
[ -x /usr/bin/qemu-system-x86_64 ] || need+=(qemu-system-x86)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v gdb >/dev/null 2>&1 || need+=(gdb)
command -v iasl >/dev/null 2>&1 || need+=(acpica-tools)
[ -f /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
for tool in flex bison bc cpio; do command -v $tool >/dev/null 2>&1 || need+=($tool); done
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v llvm-mca >/dev/null 2>&1 || need+=(llvm)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
