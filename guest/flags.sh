#!/bin/sh
# flags.sh SECTION...: the flags of those sections of guest/flags, one a line, in the
# file's order (src/Lvd.Toolchain/GuestFlags.cs reads the file the same way).
exec awk -v want=" $* " '
  /^\[/ { section = substr($0, 2, length($0) - 2); next }
  { sub(/#.*/, "") }
  index(want, " " section " ") { for (i = 1; i <= NF; i++) print $i }
' "$(dirname "$0")/flags"
