#!/bin/sh
# check_libc.sh: compare the guest's string, stdlib, ctype and malloc with
# glibc's, on the host.
#
# Builds those runtime files the way the guest runtime is built, renames
# their entry points to lvd_*, links them into libc_test.c as a normal Linux
# program and runs it.  Exits non-zero on any mismatch or build failure.
#
# Usage: guest/libc/tests/check_libc.sh   (needs gcc; CC overrides)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
libc=$(dirname "$here")
cc=${CC:-gcc}
# The runtime's code generation, from guest/flags (the one definition; not the
# position-dependent [program] part: these objects link into a host program).
codegen=$("$libc/../flags.sh" codegen freestanding)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

names="memcpy memmove memset memcmp memchr strlen strnlen strcmp strncmp
	strcpy strncpy strcat strncat strchr strrchr strstr strdup
	strtol strtoul strtoll strtoull atoi atol atoll abs labs llabs
	malloc calloc realloc free errno
	isalnum isalpha iscntrl isdigit isgraph islower isprint ispunct
	isspace isupper isxdigit tolower toupper"
rename=
for n in $names; do rename="$rename -D$n=lvd_$n"; done

for opt in -O0 -O2; do
	for f in string strdup stdlib ctype malloc errno; do
		# shellcheck disable=SC2086
		"$cc" $opt -c -nostdinc -isystem "$libc/include" \
			-isystem "$("$cc" -print-file-name=include)" \
			$codegen \
			-Wall -Wextra -Werror $rename \
			"$libc/$f.c" -o "$tmp/$f.o"
	done
	"$cc" -O1 -w -fno-builtin "$here/libc_test.c" "$tmp"/*.o -o "$tmp/libc_test"
	printf '%s: ' "$opt"
	"$tmp/libc_test"
done
