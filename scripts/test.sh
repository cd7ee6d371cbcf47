#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds svclb and runs every test: the gtest binaries under <builddir>/tests/ named
# *_test, then (unless --no-e2e) the pytest end-to-end suite in tests/e2e, then (unless
# --no-asan) the gtest binaries again on an ASan + UBSan build (build-asan/, "asan_*").
#   scripts/test.sh [--sanitize] [--no-e2e] [--no-asan]
# --sanitize runs everything, e2e included, on the ASan + UBSan build only.
# Results (JUnit XML) go to <builddir>/test-results/. The last line printed is
# "N passed, N failed[, N skipped]"; the exit status is non-zero if anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
T0=$(date +%s.%N)
# Bound on one test binary's run time, seconds.
TEST_TIMEOUT_S=${SVCLB_TEST_TIMEOUT:-600}

usage() { echo "usage: $0 [--sanitize] [--no-e2e] [--no-asan]" >&2; exit 2; }
SANITIZE=0
E2E=1
ASAN_PASS=1
for a in "$@"; do
  case "$a" in
    --sanitize) SANITIZE=1 ;;
    --no-e2e) E2E=0 ;;
    --no-asan) ASAN_PASS=0 ;;
    -h|--help) usage ;;
    *) echo "test.sh: unknown argument: $a" >&2; usage ;;
  esac
done

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Prints the CI summary line for a failure that happened before any test ran.
early_fail() {
  echo "test.sh: $1" >&2
  echo "total wall time: $(elapsed) s"
  echo "0 passed, 1 failed"
  exit 1
}

scripts/deps.sh || early_fail "installing dependencies failed"

if ((SANITIZE)); then
  ASAN_PASS=0 # everything already runs on the sanitized build
  BUILD=build-asan
  scripts/build.sh --sanitize || early_fail "build failed"
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  BUILD=build
  scripts/build.sh || early_fail "build failed"
fi

RESULTS=$ROOT/$BUILD/test-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
CODES=$RESULTS/exit-codes.txt
: >"$CODES"

# Runs every *_test gtest binary of build dir $1, results named with prefix $2.
run_gtests() {
  local dir=$1 prefix=$2 t name rc t1
  local -a tests
  mapfile -t tests < <(find "$dir/tests" -type f -name '*_test' -perm -u+x 2>/dev/null | sort)
  if ((${#tests[@]} == 0)); then
    echo "test.sh: warning: no *_test binaries under $dir/tests" >&2
  fi
  for t in "${tests[@]}"; do
    name=$prefix$(basename "$t")
    echo "=== $t"
    t1=$(date +%s)
    SVCLB_SRC=$ROOT timeout -k 10 "$TEST_TIMEOUT_S" "./$t" \
      --gtest_output="xml:$RESULTS/$name.xml"
    rc=$?
    ((rc == 124 || rc == 137)) && echo "test.sh: $t timed out after ${TEST_TIMEOUT_S}s" >&2
    echo "$name $rc" >>"$CODES"
    echo "=== $name: exit $rc, $(($(date +%s) - t1)) s"
  done
}

run_gtests "$BUILD" ""

if ((E2E)); then
  echo "=== e2e (pytest tests/e2e)"
  SVCLB_BUILD=$ROOT/$BUILD PYTHONDONTWRITEBYTECODE=1 \
    "$PY" -m pytest -q -p no:cacheprovider tests/e2e --junitxml="$RESULTS/e2e.xml"
  rc=$?
  echo "e2e $rc" >>"$CODES"
  echo "=== e2e: exit $rc"
fi

# The default run also builds with ASan + UBSan and runs the gtest suites there: they
# push real mbufs through the real pipeline, where a misaligned load or an overflow shows.
if ((ASAN_PASS)); then
  echo "=== ASan + UBSan build (build-asan): gtest suites"
  if scripts/build.sh --sanitize; then
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_gtests build-asan "asan_"
  else
    echo "asan_build 1" >>"$CODES"
    echo "test.sh: the ASan build failed" >&2
  fi
fi

echo
echo "total wall time: $(elapsed) s"
"$PY" scripts/summarize.py "$RESULTS"
