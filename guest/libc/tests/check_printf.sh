#!/bin/sh
# check_printf.sh: compare the guest printf with glibc's, on the host.
#
# Builds ../printf.c the way the guest runtime is built (same headers and
# code-generation flags), renames its entry points to lvd_*, links it into
# printf_test.c as a normal Linux program and runs it.  Exits non-zero on
# any mismatch or build failure.
#
# Usage: guest/libc/tests/check_printf.sh   (needs gcc; CC overrides)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
libc=$(dirname "$here")
cc=${CC:-gcc}
# The runtime's code generation, from guest/flags (the one definition; not the
# position-dependent [program] part: these objects link into a host program).
codegen=$("$libc/../flags.sh" codegen freestanding)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rename="-Dprintf=lvd_printf -Dfprintf=lvd_fprintf -Dsprintf=lvd_sprintf
	-Dsnprintf=lvd_snprintf -Dvprintf=lvd_vprintf -Dvfprintf=lvd_vfprintf
	-Dvsprintf=lvd_vsprintf -Dvsnprintf=lvd_vsnprintf"

for opt in -O0 -O2; do
	# shellcheck disable=SC2086
	"$cc" $opt -c -nostdinc -isystem "$libc/include" \
		-isystem "$("$cc" -print-file-name=include)" \
		$codegen \
		-Wall -Wextra -Werror $rename \
		"$libc/printf.c" -o "$tmp/printf.o"
	"$cc" -O1 -w "$here/printf_test.c" "$tmp/printf.o" -o "$tmp/printf_test"
	printf '%s: ' "$opt"
	"$tmp/printf_test"
done
