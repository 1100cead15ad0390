#!/usr/bin/env bash
# The GPU checks in one device call, for a session whose task is lent a GPU (the device machine
# has nvcc and CMake but no GDAL, GoogleTest or Google Benchmark, so the binaries are built here,
# with CUDA for sm_80/sm_90 + PTX, and packed with their libraries).
#
#   here:    cmake --build build -j && bench/gpu_session.sh pack     # .gpu-bundle/
#   device:  run(command="bash bench/gpu_session.sh run", carry=[".gpu-bundle"], timeout_s=540)
#   here, without a GPU:  bench/gpu_session.sh dry-run [BUILD]       # default build-device-on-host
#
# It ends by printing ONE markdown table (also $OUT/gpu_report.md; the raw logs in $OUT/logs):
#   - every gpu-labelled test (the list `ctest -L gpu -LE script` gives at pack time, so
#     cli_wofe_cuda_test and cli_trees_cuda_test too): pass, FAIL, skipped (with gtest's reason:
#     a test that skipped for want of a device is not a pass), or not run;
#   - the scoring kernel's GB/s beside a device-to-device copy of the same bytes (gp_kernel_bench
#     BM_cuda_score_kernel, target >= 0.8 of the copy) for the weighted sum and the fuzzy
#     network; the Monte Carlo and tree-ensemble rows say that no device benchmark exists yet;
#   - end to end: 6 layers of ${GP_E2E_SIZE:-8192}² (gp_gen_layers), uncompressed and ZSTD:
#     `geoprospect run` on the CPU and on CUDA (best of 2) and whether the maps are the same bytes;
#   - compute-sanitizer memcheck and racecheck on kernels_cuda_backend_test: pass only with
#     "ERROR SUMMARY: 0 errors" and exit 0; "refused" (with its line) when the tool cannot attach
#     to the device, "not run" (with the reason) when it is missing or out of time.
#
# Time: one device call of at most 9 minutes, so that a rerun fits in a 15-minute lease.
# Every step runs under `timeout` with what is left of GP_SESSION_BUDGET_S (530 s from the
# script's start, inside the call's 540 s) less the 15 s kept for the table; a step with under
# 5 s left is "not run (time budget)".
#
# dry-run: the same script on this CPU-only machine against a build without a GPU (the
# device-on-host preset: its "CUDA" is the host system, so the gpu tests and the CPU vs "CUDA"
# end-to-end maps are real checks there); the GPU-only steps (kernel bench, compute-sanitizer)
# print what they would run. GP_COMPUTE_SANITIZER=PATH makes it run that tool instead (the
# ctest bench_gpu_session_dry_run passes a fake one that refuses the device).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---- time budget ------------------------------------------------------------------------------
BUDGET_S=${GP_SESSION_BUDGET_S:-530}  # inside the call's 540 s (9 min of a 15-min lease: room for a rerun)
TABLE_RESERVE_S=15                    # kept back to print the table whatever happens
T0=$SECONDS
# step_limit WANT: the seconds a step may run: WANT, or less when the budget is running out.
step_limit() {
  local left=$((BUDGET_S - (SECONDS - T0) - TABLE_RESERVE_S))
  ((left < $1)) && echo "$left" || echo "$1"
}
# out_of_time WANT: true (and a row-ready reason in NOT_RUN) when under 5 s are left for a step.
out_of_time() {
  local lim
  lim=$(step_limit "$1")
  NOT_RUN="not run | time budget: ${lim} s left of ${BUDGET_S} s"
  ((lim < 5))
}

# ---- the table --------------------------------------------------------------------------------
ROWS=()
# row CHECK RESULT DETAIL (a "|" inside a cell is escaped, so a log line cannot split a row)
row() { ROWS+=("| $1 | ${2//|/\\|} | ${3//|/\\|} |"); }
# verdict_row CHECK "RESULT | DETAIL"
verdict_row() { row "$1" "${2%% | *}" "${2#* | }"; }
print_table() {
  echo "| check | result | detail |"
  echo "| --- | --- | --- |"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "($MODE, $(date -u '+%Y-%m-%d %H:%M UTC'), $((SECONDS - T0)) s of a ${BUDGET_S} s budget)"
}

# ---- where the binaries are: the unpacked bundle (run) or a build tree (dry-run) -------------
# exe NAME: sets EXE to the command that starts a packed binary (tests/x and x are both found by
# their base name in the bundle), so that `timeout N "${EXE[@]}" ARGS` runs it.
exe() {
  if [[ $MODE == run ]]; then
    EXE=("$B/run" "$(basename "$1")")
  else
    EXE=("$BUILD/$1")
  fi
}
# gpu_tests BUILD: "name<TAB>binary relative to BUILD<TAB>arguments" for every gpu-labelled test;
# fails, naming them, when some are not built (ctest then knows no command for them).
gpu_tests() {
  ctest --test-dir "$1" -L gpu -LE script --show-only=json-v1 |
    /usr/bin/python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
tests = json.load(sys.stdin)["tests"]
missing = [t["name"] for t in tests if "command" not in t]
if missing or not tests:
    sys.exit("gpu tests not built in %s: %s" % (build, ", ".join(missing) or "none listed"))
for t in tests:
    cmd = t["command"]
    print(t["name"], os.path.relpath(os.path.realpath(cmd[0]), build), " ".join(cmd[1:]), sep="\t")
' "$1"
}

# ---- the steps --------------------------------------------------------------------------------
device_row() {
  if [[ $MODE == run ]]; then
    if command -v nvidia-smi >/dev/null; then
      row device "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)" "nvidia-smi"
    else
      row device "none found" "no nvidia-smi on this machine"
    fi
  else
    row device "none (dry run)" "$BUILD: device sources on the host, GP_HOST_DEVICES=${GP_HOST_DEVICES:-1}"
  fi
}

# skip_reasons LOG: GoogleTest's reasons for the tests it skipped, distinct, "; "-separated.
skip_reasons() {
  grep -A1 ': Skipped$' "$1" | grep -vE ': Skipped$|^--$' | sort -u | paste -sd';' | sed 's/;/; /g'
}

# test_verdict RC LOG: "result | detail" from a GoogleTest run's exit status and output. A test
# skipped for want of a device is no pass: "skipped" when nothing passed or when any test was
# skipped for "no CUDA device"; otherwise "pass, N skipped" with the reasons beside it (a
# two-device test on a one-GPU machine).
test_verdict() {
  local rc=$1 log=$2 passed skipped
  passed=$(grep -oE '\[  PASSED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | head -1)
  skipped=$(grep -oE '\[  SKIPPED \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | head -1)
  if ((rc == 124)); then
    echo "FAIL | timed out"
  elif ((rc != 0)); then
    echo "FAIL | exit $rc: $(grep -m1 -E '\[  FAILED  \]|Failure|error' "$log" | cut -c1-120)"
  elif [[ -z $passed || $passed -eq 0 ]] || skip_reasons "$log" | grep -q 'no CUDA device'; then
    [[ -n $skipped ]] && echo "skipped | ${skipped} of $((skipped + ${passed:-0})): $(skip_reasons "$log")" ||
      echo "FAIL | no test ran"
  elif [[ -n $skipped ]]; then
    echo "pass, $skipped skipped | $passed passed; skipped: $(skip_reasons "$log")"
  else
    echo "pass | $passed tests"
  fi
}

run_tests() {
  local name bin args log rc argv
  while IFS=$'\t' read -r name bin args; do
    if out_of_time 120; then verdict_row "test $name" "$NOT_RUN"; continue; fi
    log="$LOGS/$name.log"
    exe "$bin"
    read -ra argv <<<"$args"  # gtest flags without spaces; no glob expansion of their '*'
    timeout "$(step_limit 120)" "${EXE[@]}" "${argv[@]}" >"$log" 2>&1 </dev/null
    rc=$?
    verdict_row "test $name" "$(test_verdict "$rc" "$log")"
  done <"$TESTS"
}

# json_number FILE KEY: the first "KEY": number in Google Benchmark's JSON output.
json_number() {
  grep -m1 "\"$2\"" "$1" | sed -E 's/.*: *([-0-9.eE+]+).*/\1/'
}

bench_rows() {
  local prog label json
  for prog in sum network; do
    [[ $prog == sum ]] && label="weighted sum" || label="network"
    local cmd="GP_BENCH_PROGRAM=$prog GP_BENCH_SIDES=8192 GP_BENCH_CUDA_SIDES=8192 gp_kernel_bench --benchmark_filter=BM_cuda_score_kernel --benchmark_min_time=0.5"
    if [[ $MODE != run ]]; then row "kernel GB/s: $label" "not run" "dry run, needs a GPU: $cmd"; continue; fi
    if out_of_time 60; then verdict_row "kernel GB/s: $label" "$NOT_RUN"; continue; fi
    json="$LOGS/bench_$prog.json"
    GP_BENCH_PROGRAM=$prog GP_BENCH_SIDES=8192 GP_BENCH_CUDA_SIDES=8192 timeout "$(step_limit 60)" \
      "$B/run" gp_kernel_bench --benchmark_filter=BM_cuda_score_kernel --benchmark_min_time=0.5 \
      --benchmark_out="$json" --benchmark_out_format=json >"$LOGS/bench_$prog.log" 2>&1
    if grep -q '"kernel_GBps"' "$json" 2>/dev/null; then
      row "kernel GB/s: $label" "$(printf '%.0f GB/s' "$(json_number "$json" kernel_GBps)")" \
        "copy $(printf '%.0f' "$(json_number "$json" copy_GBps)") GB/s, $(printf '%.0f' "$(json_number "$json" pct_of_copy)") % of the copy (target >= 80 %)"
    else
      row "kernel GB/s: $label" "FAIL" "no result: $(grep -m1 -iE 'error|skip|fail' "$LOGS/bench_$prog.log" | cut -c1-120)"
    fi
  done
  row "kernel GB/s: Monte Carlo" "not measured" "no device benchmark of the Monte Carlo kernel yet (gp_kernel_bench: sum and network only)"
  row "kernel GB/s: tree ensemble" "not measured" "no device benchmark of the tree kernel yet (gp_trees_bench: CPU only)"
}

# e2e_one CODEC DIR: generates the layers, times geoprospect on cpu and cuda (best of 2), compares.
e2e_one() {
  local codec=$1 d=$2 size=$3 dev i t best
  declare -A best_of=()
  if out_of_time 60; then verdict_row "end to end $codec" "$NOT_RUN"; return; fi
  if [[ $MODE == run ]]; then
    exe gp_gen_layers
    "${EXE[@]}" "$d" --size "$size" --compress "$codec" >"$LOGS/gen_$codec.log" 2>&1
  else
    /usr/bin/python3 bench/gen_layers.py "$d" --size "$size" --quiet >"$LOGS/gen_$codec.log" 2>&1
  fi || { row "end to end $codec" "FAIL" "generating the layers failed"; return; }
  bench_core_model "$d/model.toml" >/dev/null
  for i in 1 2; do
    for dev in cpu cuda; do
      if out_of_time 120; then verdict_row "end to end $codec" "$NOT_RUN"; return; fi
      t=$(date +%s.%N)
      exe geoprospect
      timeout "$(step_limit 120)" "${EXE[@]}" run "$d/model_core.toml" -o "$d/$dev.tif" --overwrite --quiet --device "$dev" \
        >"$LOGS/e2e_${codec}_$dev.log" 2>&1 ||
        { row "end to end $codec" "FAIL" "--device $dev: $(head -1 "$LOGS/e2e_${codec}_$dev.log")"; return; }
      t=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
      best=${best_of[$dev]:-}
      if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best_of[$dev]=$t; fi
    done
  done
  local same="maps DIFFER"
  cmp -s "$d/cpu.tif" "$d/cuda.tif" && same="maps identical"
  row "end to end $codec" "$same" "6 x ${size}²: cpu ${best_of[cpu]} s, cuda ${best_of[cuda]} s (best of 2)"
}

e2e_rows() {
  local size=${GP_E2E_SIZE:-8192} codec
  [[ $MODE == run ]] || size=${GP_E2E_SIZE:-512}
  for codec in NONE ZSTD; do
    if [[ $MODE != run && $codec != NONE ]]; then
      row "end to end $codec" "not run" "dry run: gen_layers.py writes one codec (NONE row only)"
      continue
    fi
    local d="$WORK/e2e_$codec"
    e2e_one "$codec" "$d" "$size"
    rm -rf "$d"
  done
}

# sanitizer_verdict RC LOG: "result | detail". A pass needs all of: the tool attached (no
# "Device not supported" or internal error: on some hosts it refuses the device and may still
# print a summary), the test program ran to GoogleTest's PASSED line, "ERROR SUMMARY: 0
# errors" and exit 0. Refused and timed out are said as such, never as a pass.
sanitizer_verdict() {
  local rc=$1 log=$2 errors refusal
  errors=$(grep -m1 -oE 'ERROR SUMMARY: [0-9]+ error' "$log" | grep -oE '[0-9]+')
  refusal=$(grep -m1 -iE 'not supported|Internal Sanitizer Error|terminated before first instrumented|failed to initialize' "$log")
  if ((rc == 124)); then
    echo "not run | timed out"
  elif [[ -n $refusal ]]; then
    echo "refused | exit $rc: $(echo "$refusal" | cut -c1-120)"
  elif [[ -z $errors ]] || ! grep -q '\[  PASSED  \]' "$log"; then
    echo "refused | exit $rc, the tests did not run under it: $(grep -m1 -iE 'error|unable|fail' "$log" | cut -c1-120)"
  elif ((errors > 0 || rc != 0)); then
    echo "FAIL | $errors errors, exit $rc"
  else
    echo "pass | 0 errors"
  fi
}

sanitizer_rows() {
  local cs=${GP_COMPUTE_SANITIZER:-} tool log rc
  if [[ -z $cs && $MODE == run ]]; then
    cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  fi
  for tool in memcheck racecheck; do
    if [[ -z $cs ]]; then
      if [[ $MODE == run ]]; then
        row "compute-sanitizer $tool" "not run" "compute-sanitizer not found"
      else
        row "compute-sanitizer $tool" "not run" "dry run, needs a GPU: compute-sanitizer --tool $tool --error-exitcode 9 kernels_cuda_backend_test --gtest_filter=-*OutOfMemory*"
      fi
      continue
    fi
    if out_of_time 120; then verdict_row "compute-sanitizer $tool" "$NOT_RUN"; continue; fi
    log="$LOGS/sanitizer_$tool.log"
    local bin="$BUILD/tests/kernels_cuda_backend_test"
    [[ $MODE == run ]] && bin="$B/bin/kernels_cuda_backend_test"
    LD_LIBRARY_PATH="${B:+$B/lib}" timeout "$(step_limit 120)" "$cs" --tool "$tool" --error-exitcode 9 \
      "$bin" --gtest_filter='-*OutOfMemory*' >"$log" 2>&1
    rc=$?
    verdict_row "compute-sanitizer $tool" "$(sanitizer_verdict "$rc" "$log")"
  done
}

session() {
  OUTDIR=${OUT:-/tmp/gp_gpu_out}
  LOGS="$OUTDIR/logs"
  WORK=$(mktemp -d /tmp/gp_gpu_work.XXXXXX)
  mkdir -p "$LOGS"
  # shellcheck source=bench/lib_bench.sh
  source bench/lib_bench.sh
  device_row
  run_tests
  bench_rows
  e2e_rows
  sanitizer_rows  # last: it may take long
  rm -rf "$WORK"
  print_table | tee "$OUTDIR/gpu_report.md"
}

MODE=${1:-}
case $MODE in
  pack)
    [[ -d build ]] || { echo "no build/: cmake --build build -j first" >&2; exit 1; }
    mkdir -p .gpu-bundle
    echo '*' >.gpu-bundle/.gitignore  # ignored by git (also in a worktree, whose .git is a file)
    gpu_tests build >.gpu-bundle/gpu_tests.tsv || exit 1
    mapfile -t bins < <(cut -f2 .gpu-bundle/gpu_tests.tsv | sort -u | sed 's#^#build/#')
    bins+=(build/bench/gp_kernel_bench build/geoprospect build/bench/gp_gen_layers)
    for b in "${bins[@]}"; do
      [[ -x $b ]] || { echo "missing $b: build first (cmake --build build -j)" >&2; exit 1; }
    done
    ../shared/tools/gpu-bundle.sh "${bins[@]}"
    ;;
  run)
    tar -xJf .gpu-bundle/bundle.tar.xz -C /tmp || { echo "no bundle: run 'pack' here first" >&2; exit 1; }
    B=/tmp/bundle
    # libmvec belongs to glibc: the machine's own must go with its libm (if it has one).
    if ldconfig -p | grep -q 'libmvec.so.1'; then rm -f "$B/lib/libmvec.so.1"; fi
    TESTS=.gpu-bundle/gpu_tests.tsv
    session
    ;;
  dry-run)
    BUILD=$(cd "${2:-build-device-on-host}" && pwd) || exit 1
    TESTS=$(mktemp /tmp/gp_gpu_tests.XXXXXX)
    gpu_tests "$BUILD" >"$TESTS" || exit 1
    session
    rm -f "$TESTS"
    ;;
  *)
    sed -n '2,30p' "$0"
    exit 2
    ;;
esac
