#!/usr/bin/env bash
# The core weighted-sum model with 1, 2 and 3 MPI ranks on this machine
# (`mpirun --oversubscribe -np N geoprospect run ...`), with --threads 1 per rank and with the
# default threads (all cores per rank), round-robin, best of N; then every output is compared
# byte for byte (cmp) with the single-process run (geoprospect run without mpirun): they must be
# identical. Ranks read their own windows (round-robin); rank 0 writes.
#
# Usage: bench/mpi_scaling.sh [--size N] [--ranks "1 2 3"] [--runs N] [--workdir DIR]
#                             [--gp-args "ARGS"] [--mpi-args "ARGS"]
# --mpi-args "--bind-to none": Open MPI binds each rank to one core when np <= 2 (np 1: the
# whole run, all its threads, on core 0); np 3 (oversubscribed) is not bound.
# Environment: GP_BIN (default build/geoprospect, built with MPI), MPIRUN (default mpirun),
#              BENCH_PY (default /usr/bin/python3).
# Exit status: 0 all outputs identical, 2 an output differs, 1 an error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
# shellcheck source=bench/lib_bench.sh
source bench/lib_bench.sh

SIZE=8192
LAYERS=6
SEED=42
RANKS="1 2 3"
WORKDIR=bench/work
RUNS=2
GP_ARGS=""
MPI_ARGS=""
MPIRUN=${MPIRUN:-mpirun}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}
while [[ $# -gt 0 ]]; do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --gp-args) GP_ARGS=$2; shift 2 ;;
    --mpi-args) MPI_ARGS=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 1 ;;
  esac
done
bench_check_tools
command -v "$MPIRUN" >/dev/null || bench_die "$MPIRUN not found (apt-get install openmpi-bin)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
read -r -a GP_EXTRA <<<"$GP_ARGS"
read -r -a MPI_EXTRA <<<"$MPI_ARGS"

DATA=$(bench_data_dir "$WORKDIR" "$SIZE" "$LAYERS" "$SEED")
RUN="$WORKDIR/mpi_scaling_s$SIZE"
mkdir -p "$RUN"
bench_ensure_data "$DATA" "$SIZE" "$LAYERS" "$SEED"
MODEL=$(bench_core_model "$DATA/model.toml")

echo "geoprospect: $GP_BIN; $($MPIRUN --version 2>&1 | head -n1); machine: $(nproc) cores"
echo "load before: $(bench_load)"
bench_warm_cache "$DATA"
# The reference: one process, no mpirun.
bench_timed single "$RUN" "$GP_BIN" run "$MODEL" -o "$RUN/out_single.tif" --overwrite --quiet \
  "${GP_EXTRA[@]}"
[[ $BT_RC -eq 0 ]] || exit 1
echo "  single process (no mpirun): ${BT_WALL} s, ${BT_PEAK_MIB} MiB"

VARIANTS=()
for n in $RANKS; do VARIANTS+=("np${n}_t1" "np${n}_tdef"); done
for ((i = 1; i <= RUNS; ++i)); do
  for v in "${VARIANTS[@]}"; do
    n=${v#np}; n=${n%%_*}
    thr=()
    [[ $v == *_t1 ]] && thr=(--threads 1)
    bench_timed "$v" "$RUN" "$MPIRUN" --oversubscribe -np "$n" "${MPI_EXTRA[@]}" "$GP_BIN" run "$MODEL" \
      -o "$RUN/out_$v.tif" --overwrite --quiet "${thr[@]}" "${GP_EXTRA[@]}"
    [[ $BT_RC -eq 0 ]] || exit 1
    bench_record "$v"
    echo "  round $i $v: ${BT_WALL} s, ${BT_PEAK_MIB} MiB (load $(bench_load))"
  done
done
LOAD_AFTER=$(bench_load)

{
  echo
  echo "MPI ranks: core model, $LAYERS layers of $SIZE x $SIZE, $(date -u +%F\ %H:%M) UTC," \
    "best of $RUNS (round-robin)${GP_ARGS:+, $GP_ARGS}${MPI_ARGS:+, mpirun $MPI_ARGS}"
  echo "load: $LOAD_AFTER (1/5/15 min, after the runs); $(nproc) cores"
  echo "peak = largest single process (time -v over mpirun)"
  printf '%-10s %-9s %9s %9s %9s  %-18s %s\n' ranks threads "best s" "x np1" "peak MiB" \
    "cmp vs single" "all runs s"
  ST=0
  for v in "${VARIANTS[@]}"; do
    n=${v#np}; n=${n%%_*}
    [[ $v == *_t1 ]] && t="1/rank" || t="default"
    base="np1_${v#np*_}"
    if cmp -s "$RUN/out_$v.tif" "$RUN/out_single.tif"; then c=identical; else c=DIFFERENT; ST=2; fi
    printf '%-10s %-9s %9.2f %9s %9.1f  %-18s %s\n' "$n" "$t" "${BR_WALL[$v]}" \
      "$(bench_ratio "${BR_WALL[$v]}" "${BR_WALL[$base]}")" "${BR_PEAK[$v]}" "$c" "${BR_ALL[$v]}"
  done
  echo
  if [[ $ST -eq 0 ]]; then echo "PASS  every MPI output byte-identical to the single-process output"
  else echo "FAIL  an MPI output differs from the single-process output"; fi
} | tee "$RUN/results.txt"
ST=$(grep -q '^FAIL' "$RUN/results.txt" && echo 2 || echo 0)
rm -f "$RUN"/out_*.tif
exit "$ST"
