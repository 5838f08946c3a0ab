#!/usr/bin/env bash
# glue.sh: print the directory holding the IDL-generated glue (docs/IDL.md) of the
# interfaces in idl/, generating it first unless the caller already did.
# `lvd boot`/`lvd cc` generate it in process (src/Lvd.Toolchain/GlueGenerator.cs)
# and pass LVD_GLUE_DIR; run by hand, the build scripts get it from `./lvd idl`
# (which builds the CLI on first use).  Nothing generated is committed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -n "${LVD_GLUE_DIR:-}" ]; then
  echo "$LVD_GLUE_DIR"
  exit 0
fi
out="$root/build/glue"
mkdir -p "$out"
for idl in "$root"/idl/*.idl; do
  "$root/lvd" idl "$idl" -o "$out" >&2
done
echo "$out"
