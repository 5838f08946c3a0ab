#!/usr/bin/env bash
# run.sh: build and run the host unit tests of the kernel's pure-C parts.
set -euo pipefail
k="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
t="$k/tests/host"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
inc=(-I "$k/core" -I "$k/mm" -I "$k/net")
gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -fsanitize=address,undefined \
    -DHOST_TEST "${inc[@]}" "$t/test_mm.c" "$k/mm/kalloc.c" "$k/mm/kheap.c" "$k/mm/vm.c" -o "$out/test_mm"
gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -fsanitize=address,undefined \
    -DHOST_TEST "${inc[@]}" "$t/test_csum.c" "$k/net/csum.c" -o "$out/test_csum"
"$out/test_csum"
"$out/test_mm"
