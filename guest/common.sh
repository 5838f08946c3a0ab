# common.sh: sourced by the guest build scripts (guest/kernel/build.sh,
# guest/domains/build.sh).  Defines:
#   guest_flags SECTION...  the flags of those sections of guest/flags, one a line, in
#                           the file's order (flags.sh; the C# side reads the same file)
#   guest_gcc_include       gcc's own header directory (stddef.h, stdarg.h, stdint.h)
#   guest_abi_include       the directory holding the generated lvd_abi.h: LVD_ABI_DIR when
#                           `lvd boot`/`lvd cc` run the script (they wrote it), else written
#                           now by `./lvd cc` (which builds the CLI on first use)
guest_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
guest_root="$(cd "$guest_dir/.." && pwd)"

guest_flags() {
  "$guest_dir/flags.sh" "$@"
}

guest_gcc_include() {
  gcc -print-file-name=include
}

guest_abi_include() {
  if [ -n "${LVD_ABI_DIR:-}" ]; then
    echo "$LVD_ABI_DIR"
    return
  fi
  # Any lvd cc run writes build/guest/include/lvd_abi.h from the C# definitions (only
  # when it changed); preprocessing an empty file is the cheapest such run.
  local tmp
  tmp="$(mktemp -d)"
  : > "$tmp/empty.c"
  "$guest_root/lvd" cc -E "$tmp/empty.c" -o "$tmp/empty.i" >&2
  rm -rf "$tmp"
  echo "$guest_root/build/guest/include"
}
