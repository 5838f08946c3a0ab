#!/usr/bin/env bash
# run.sh: build and run the host unit tests of the kernel's pure-C parts.
set -euo pipefail
k="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -fsanitize=address,undefined \
    -DHOST_TEST -I "$k" "$k/tests/test_mm.c" "$k/kalloc.c" "$k/kheap.c" "$k/vm.c" -o "$out/test_mm"
gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -fsanitize=address,undefined \
    -DHOST_TEST -I "$k" "$k/tests/test_csum.c" "$k/csum.c" -o "$out/test_csum"
"$out/test_csum"
"$out/test_mm"
gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -fsanitize=address,undefined \
    -DHOST_TEST -I "$k" "$k/tests/test_csum.c" "$k/csum.c" -o "$out/test_csum"
"$out/test_csum"
