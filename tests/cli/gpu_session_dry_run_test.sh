#!/usr/bin/env bash
# bench/gpu_session.sh tested without a GPU: its dry run against the device-on-host build must
# print one table with a row for the device, every gpu-labelled test (each a pass there: the
# device sources run on the host), the four kernel-bandwidth rows, both end-to-end rows (the
# uncompressed one with the CPU and "CUDA" maps identical) and both compute-sanitizer rows; a
# sanitizer that refuses the device (and still prints "0 errors") must read "refused", one that
# reports errors "FAIL", never "pass"; with no time left every step reads "not run (time budget)".
# Usage: gpu_session_dry_run_test.sh SRC BUILD
set -euo pipefail
src=$1
build=$2
tmp=$build/tests/tmp/gpu_session_dry_run_$$
rm -rf "$tmp"
mkdir -p "$tmp"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A stand-in for compute-sanitizer: memcheck is refused as on gVisor hosts (KINDS.md: «Device
# not supported»), yet prints a clean summary; racecheck runs and finds two errors.
cat >"$tmp/fake-sanitizer" <<'SH'
#!/bin/sh
case "$*" in
  *memcheck*) echo "========= Error: Device not supported"
              echo "========= ERROR SUMMARY: 0 errors"; exit 0 ;;
  *) echo "[  PASSED  ] 5 tests."; echo "========= ERROR SUMMARY: 2 errors"; exit 9 ;;
esac
SH
chmod +x "$tmp/fake-sanitizer"

mapfile -t gpu_tests < <(ctest --test-dir "$build" -N -L gpu -LE script | sed -nE 's/^ *Test +#[0-9]+: (.*)$/\1/p')
((${#gpu_tests[@]} >= 6)) || fail "expected at least 6 gpu tests, ctest lists ${#gpu_tests[@]}"

# expect_row TABLE CHECK RESULT-PREFIX: TABLE has exactly one row for CHECK, whose result starts
# with RESULT-PREFIX.
expect_row() {
  local n
  n=$(grep -cF "| $2 | " "$1" || true)
  [[ $n -eq 1 ]] || fail "$(basename "$1"): $n rows for '$2'"
  grep -qF "| $2 | $3" "$1" || fail "$(basename "$1"): '$2' is not '$3': $(grep -F "| $2 | " "$1")"
}

# 1. The whole dry run.
OUT=$tmp/out GP_E2E_SIZE=256 GP_COMPUTE_SANITIZER=$tmp/fake-sanitizer \
  "$src/bench/gpu_session.sh" dry-run "$build" >"$tmp/full.txt" 2>&1 ||
  { cat "$tmp/full.txt" >&2; fail "dry run exited $?"; }
t=$tmp/full.txt
[[ $(grep -c '^| check | result | detail |$' "$t") -eq 1 ]] || fail "not exactly one table"
cmp -s <(sed -n '/^| check /,$p' "$t") "$tmp/out/gpu_report.md" || fail "gpu_report.md is not the printed table"
expect_row "$t" device "none (dry run)"
for name in "${gpu_tests[@]}"; do expect_row "$t" "test $name" "pass"; done
for k in "weighted sum" network; do expect_row "$t" "kernel GB/s: $k" "not run | dry run, needs a GPU"; done
for k in "Monte Carlo" "tree ensemble"; do expect_row "$t" "kernel GB/s: $k" "not measured"; done
expect_row "$t" "end to end NONE" "maps identical | 6 x 256²"
expect_row "$t" "end to end ZSTD" "not run"
expect_row "$t" "compute-sanitizer memcheck" "refused | exit 0: ========= Error: Device not supported"
expect_row "$t" "compute-sanitizer racecheck" "FAIL | 2 errors, exit 9"
rows=$(grep -c '^| ' "$t")
[[ $rows -eq $((2 + 1 + ${#gpu_tests[@]} + 4 + 2 + 2)) ]] || fail "$rows table lines"

# 2. Out of time from the start: every step says so, and the table still has every row.
OUT=$tmp/out2 GP_SESSION_BUDGET_S=16 "$src/bench/gpu_session.sh" dry-run "$build" >"$tmp/late.txt" 2>&1 ||
  fail "dry run without time exited $?"
t=$tmp/late.txt
for name in "${gpu_tests[@]}"; do expect_row "$t" "test $name" "not run | time budget"; done
expect_row "$t" "end to end NONE" "not run | time budget"
expect_row "$t" "compute-sanitizer memcheck" "not run | dry run, needs a GPU"
[[ $(grep -c '^| ' "$t") -eq $rows ]] || fail "the late table has other rows"

rm -rf "$tmp"
echo "gpu_session.sh dry run: ${#gpu_tests[@]} gpu tests and every other row as expected"
