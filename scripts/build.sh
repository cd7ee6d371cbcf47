#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures (once) and builds svclb. Prints the build directory as the last line.
#   scripts/build.sh             -> build/       (debugoptimized, the project default)
#   scripts/build.sh --sanitize  -> build-asan/  (debug, ASan + UBSan)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

usage() { echo "usage: $0 [--sanitize]" >&2; exit 2; }
SANITIZE=0
for a in "$@"; do
  case "$a" in
    --sanitize) SANITIZE=1 ;;
    -h|--help) usage ;;
    *) echo "build.sh: unknown argument: $a" >&2; usage ;;
  esac
done

if ((SANITIZE)); then
  DIR=build-asan
  # shellcheck disable=SC2054  # the comma is part of the option value
  OPTS=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug)
else
  DIR=build
  OPTS=()
fi

# Reads one option's current value from a configured build dir ("" if unknown).
opt_value() {
  meson introspect --buildoptions "$DIR" 2>/dev/null |
    /usr/bin/python3 -c '
import json, sys
name = sys.argv[1]
try:
    for o in json.load(sys.stdin):
        if o["name"] == name:
            v = o["value"]
            print(",".join(v) if isinstance(v, list) else str(v).lower())
except Exception:
    pass' "$1"
}

configured() { [[ -f "$DIR/build.ninja" && -f "$DIR/meson-private/coredata.dat" ]]; }

if ! configured; then
  meson setup "${OPTS[@]}" "$DIR"
else
  if ! meson introspect --buildoptions "$DIR" >/dev/null 2>&1; then
    # A build dir this meson can no longer read (e.g. after a meson upgrade).
    meson setup --reconfigure "${OPTS[@]}" "$DIR" || meson setup --wipe "${OPTS[@]}" "$DIR"
  elif ((SANITIZE)); then
    # Options drifted (someone ran "meson configure"): put the sanitizer ones back.
    # (meson 1.0's "setup --reconfigure -Db_..." does not apply base options.)
    if [[ "$(opt_value b_sanitize)" != "address,undefined" ||
          "$(opt_value b_lundef)" != "false" ||
          "$(opt_value buildtype)" != "debug" ]]; then
      meson configure "$DIR" "${OPTS[@]}"
    fi
  fi
fi

ninja -C "$DIR"
echo "$DIR"
