#!/usr/bin/env bash
# build.sh: build the Linux kernel that `lvd linux` boots (docs/LINUX.md), cached.
#
#   guest/linux/build.sh            build (or find) the kernel; print its directory on stdout
#   guest/linux/build.sh --key      print only the cache key (the hash of the inputs)
#
# The source is Debian's linux-source-6.1 package (installed with apt when missing), unpacked
# under ~/.cache/lvd/linux/src-KEY (KEY: the package version and the patches) and built out
# of tree in ~/.cache/lvd/linux/KEY (KEY: also lvd.config, this script and gcc's identity),
# never inside the repository. The configuration is tinyconfig's fragments plus lvd.config
# through allnoconfig, so every option nobody asked for is off. Each step leaves a stamp, so
# an interrupted build resumes where it stopped (make itself is incremental); a build whose
# result exists costs nothing: the script prints the directory and exits. Concurrent runs
# wait for each other (flock). Progress goes to stderr; make's log to KEYDIR/build.log.
# LVD_LINUX_JOBS sets make's -j (default: all cores); the build runs under nice -n 10.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${LVD_LINUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvd/linux}"
tarball=/usr/src/linux-source-6.1.tar.xz
say() { echo "linux: $*" >&2; }

# Packages: the kernel source and what building it needs (scripts/setup.sh lists them too).
need=()
dpkg-query -W -f='${Status}' linux-source-6.1 2>/dev/null | grep -q 'ok installed' || need+=(linux-source-6.1)
for tool in flex:flex bison:bison bc:bc xz:xz-utils make:make gcc:gcc; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} (apt)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

version="$(dpkg-query -W -f='${Version}' linux-source-6.1)"
patches=()
if [ -d "$here/patches" ]; then
  while IFS= read -r p; do patches+=("$p"); done < <(find "$here/patches" -name '*.patch' | LC_ALL=C sort)
fi
src_key="$( { echo "linux-source-6.1 $version"; for p in "${patches[@]}"; do basename "$p"; cat "$p"; done; } \
  | sha256sum | cut -c1-16)"
key="$( { echo "$src_key"; cat "$here/lvd.config" "$here/build.sh"; gcc --version | head -1; } | sha256sum | cut -c1-16)"
if [ "${1:-}" = "--key" ]; then echo "$key"; exit 0; fi
[ $# -eq 0 ] || { echo "usage: build.sh [--key]" >&2; exit 2; }

src="$cache/src-$src_key"
out="$cache/$key"
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  say "another build holds $cache/.lock; waiting"
  flock 9
fi

if [ -f "$out/.built" ]; then
  echo "$out"
  exit 0
fi
start=$(date +%s)

if [ ! -f "$src/.unpacked" ]; then
  say "unpacking linux-source-6.1 $version into $src (about a minute)"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xJf "$tarball" -C "$src" --strip-components=1
  for p in "${patches[@]}"; do
    say "applying $(basename "$p")"
    patch -d "$src" -p1 --quiet < "$p"
  done
  touch "$src/.unpacked"
fi

mkdir -p "$out"
kmake() { nice -n 10 make -C "$src" O="$out" ARCH=x86_64 "$@"; }
if [ ! -f "$out/.configured" ]; then
  say "configuring: tinyconfig + lvd.config"
  # allnoconfig with KCONFIG_ALLCONFIG is what `make tinyconfig` does, except that every option
  # enabling one of ours makes visible stays off too, unless lvd.config names it.
  cat "$src/kernel/configs/tiny-base.config" "$src/kernel/configs/tiny.config" \
    "$src/arch/x86/configs/tiny.config" "$here/lvd.config" > "$out/allno.config"
  kmake -s KCONFIG_ALLCONFIG="$out/allno.config" allnoconfig >"$out/config.log" 2>&1 \
    || { cat "$out/config.log" >&2; exit 1; }
  kmake -s olddefconfig >>"$out/config.log" 2>&1 || { cat "$out/config.log" >&2; exit 1; }
  # Every line of lvd.config must be in the result: a dependency we missed is an error here,
  # not a kernel that silently lacks what the init script checks.
  bad=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) grep -qxF "$line" "$out/.config" || { say "lvd.config: $line did not survive (now: $(grep -E "^(# )?${line%%=*}[= ]" "$out/.config" || echo absent))"; bad=1; } ;;
      "# CONFIG_"*" is not set") sym="${line#\# }"; sym="${sym%% *}"
        if grep -q "^$sym=" "$out/.config"; then say "lvd.config: $sym should be off"; bad=1; fi ;;
    esac
  done < "$here/lvd.config"
  [ $bad -eq 0 ] || exit 1
  touch "$out/.configured"
fi

jobs="${LVD_LINUX_JOBS:-$(nproc)}"
# modules_prepare: what an external module's build needs from the tree (modpost, scripts/module.lds),
# so the LVD module (guest/linux/lvd/build.sh) builds against this directory without changing it.
say "building vmlinux, bzImage and modules_prepare with -j$jobs under nice (log: $out/build.log)"
nice -n 10 make -C "$src" O="$out" ARCH=x86_64 -j"$jobs" vmlinux bzImage modules_prepare >"$out/build.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
while kill -0 $pid 2>/dev/null; do
  sleep 15
  n=$(grep -c '^  CC ' "$out/build.log" || true)
  last=$(grep '^  [A-Z]' "$out/build.log" | tail -1 | sed 's/^ *//' || true)
  say "$(( $(date +%s) - start ))s, $n files compiled, last: $last"
done
if ! wait $pid; then
  trap - EXIT INT TERM
  tail -40 "$out/build.log" >&2
  say "make failed (log: $out/build.log)"
  exit 1
fi
trap - EXIT INT TERM
cp "$out/arch/x86/boot/bzImage" "$out/bzImage"
echo "$version" > "$out/version"
touch "$out/.built"
say "built in $(( $(date +%s) - start ))s: $out/vmlinux, $out/bzImage"
echo "$out"
