#!/bin/sh
# check.sh libc|printf: compare the guest runtime with glibc's, on the host.
#   libc:   string, strdup, stdlib, ctype, malloc, errno, auxv, rand, sort
#           against libc_test.c
#   printf: printf                                        against printf_test.c
#
# Builds those runtime files the way the guest runtime is built (same headers
# and code-generation flags), renames their entry points to lvd_*, links them
# into the test as a normal Linux program and runs it, at -O0 and -O2.  Exits
# non-zero on any mismatch or build failure.
#
# Usage: guest/libc/tests/check.sh libc|printf   (needs gcc; CC overrides)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
libc=$(dirname "$here")
cc=${CC:-gcc}
# The runtime's code generation, from guest/flags (the one definition; not the
# position-dependent [program] part: these objects link into a host program).
codegen=$("$libc/../flags.sh" codegen freestanding)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case "${1:-}" in
libc)
	files="string strdup stdlib ctype malloc errno auxv rand sort"
	names="memcpy memmove memset memcmp memchr strlen strnlen strcmp strncmp
		strcpy strncpy strcat strncat strchr strrchr strstr strdup
		strtol strtoul strtoll strtoull atoi atol atoll abs labs llabs
		malloc calloc realloc free errno getauxval rand srand qsort bsearch
		isalnum isalpha iscntrl isdigit isgraph islower isprint ispunct
		isspace isupper isxdigit tolower toupper"
	testflags="-fno-builtin" ;;
printf)
	files="printf"
	names="printf fprintf sprintf snprintf vprintf vfprintf vsprintf vsnprintf"
	testflags="" ;;
*)
	echo "usage: $0 libc|printf" >&2
	exit 2 ;;
esac
rename=
for n in $names; do rename="$rename -D$n=lvd_$n"; done

for opt in -O0 -O2; do
	for f in $files; do
		# shellcheck disable=SC2086
		"$cc" $opt -c -nostdinc -isystem "$libc/include" \
			-isystem "$("$cc" -print-file-name=include)" \
			$codegen \
			-Wall -Wextra -Werror $rename \
			"$libc/$f.c" -o "$tmp/$f.o"
	done
	# shellcheck disable=SC2086
	"$cc" -O1 -w $testflags "$here/${1}_test.c" "$tmp"/*.o -o "$tmp/test"
	printf '%s: ' "$opt"
	"$tmp/test"
done
