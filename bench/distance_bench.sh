#!/usr/bin/env bash
# Distance transform: geoprospect's (exact Euclidean, Felzenszwalb-Huttenlocher) against GDAL's
# gdal_proximity.py on the same rasterised fault network. Prints wall times, their ratio and how
# far the two distance rasters agree (target: CPU at least 3x faster; agreement within half a
# cell). With --cuda also times the CUDA path (needs a GPU build and a device).
#
# Usage: bench/distance_bench.sh [--size N] [--cell M] [--faults N] [--seed S] [--workdir DIR]
#                                [--threads N] [--runs N] [--cuda]
# Environment: GP_DIST_BENCH (default build/bench/gp_distance_bench), BENCH_PY (/usr/bin/python3),
#              GDAL_PROXIMITY (default /usr/bin/gdal_proximity.py).
# Exit status: 0 target met, 2 a target missed, 1 an error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."

SIZE=8192
CELL=100
FAULTS=4000
SEED=42
WORKDIR=bench/work
THREADS=0
CUDA=0
RUNS=3
BENCH_PY=${BENCH_PY:-/usr/bin/python3}
GP_DIST_BENCH=${GP_DIST_BENCH:-build/bench/gp_distance_bench}
GDAL_PROXIMITY=${GDAL_PROXIMITY:-/usr/bin/gdal_proximity.py}

while [[ $# -gt 0 ]]; do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --cell) CELL=$2; shift 2 ;;
    --faults) FAULTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --cuda) CUDA=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 1 ;;
  esac
done
[[ -x "$GP_DIST_BENCH" ]] || { echo "error: $GP_DIST_BENCH not built (cmake -DGP_BUILD_BENCH=ON)" >&2; exit 1; }
[[ -f "$GDAL_PROXIMITY" ]] || { echo "error: $GDAL_PROXIMITY missing (apt-get install python3-gdal)" >&2; exit 1; }

DIR="$WORKDIR/faults_s${SIZE}_c${CELL}_n${FAULTS}_seed${SEED}"
if [[ ! -f "$DIR/faults_mask.tif" ]]; then
  "$BENCH_PY" bench/gen_faults.py "$DIR" --size "$SIZE" --cell "$CELL" --faults "$FAULTS" --seed "$SEED"
fi
cat "$DIR/faults_mask.tif" >/dev/null  # page cache warm for both contenders

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

# Both contenders run RUNS times, alternating (so that both see the same machine load); the best
# wall time of each counts. Both write an uncompressed GeoTIFF (gdal_proximity.py's default).
best() { awk -v a="$1" -v b="$2" 'BEGIN{print (a == "" || b < a) ? b : a}'; }
GDAL_S=""
GP_S=""
for ((i = 1; i <= RUNS; ++i)); do
  rm -f "$DIR/prox_gdal.tif"
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$DIR/gdal_cpu_$i.txt" \
    "$BENCH_PY" "$GDAL_PROXIMITY" -q "$DIR/faults_mask.tif" "$DIR/prox_gdal.tif" -values 1 \
    -distunits GEO -ot Float32
  t1=$(now)
  g=$(secs "$t0" "$t1")
  GDAL_S=$(best "$GDAL_S" "$g")
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$DIR/gp_cpus_$i.txt" \
    "$GP_DIST_BENCH" "$DIR/faults_mask.tif" "$DIR/prox_gp.tif" --threads "$THREADS" --repeat 1 \
    >"$DIR/gp_cpu_$i.txt"
  t1=$(now)
  p=$(secs "$t0" "$t1")
  GP_S=$(best "$GP_S" "$p")
  gc=$(awk '{printf "%.2f", $1 + $2}' "$DIR/gdal_cpu_$i.txt")
  pc=$(awk '{printf "%.2f", $1 + $2}' "$DIR/gp_cpus_$i.txt")
  echo "run $i: gdal_proximity.py ${g} s wall, ${gc} s CPU; geoprospect ${p} s wall, ${pc} s CPU" \
    "($(cat "$DIR/gp_cpu_$i.txt"))"
done
echo "== machine load (1-min average) after the runs: $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
echo "== gdal_proximity.py (GDAL $(gdal-config --version 2>/dev/null || echo '?'), -distunits GEO, Float32): best wall ${GDAL_S} s"
echo "== geoprospect CPU ($(nproc) cores), whole process (read mask, transform, write): best wall ${GP_S} s"
"$GP_DIST_BENCH" "$DIR/faults_mask.tif" "$DIR/prox_gp_k.tif" --threads "$THREADS" --repeat 5 |
  tee "$DIR/gp_cpu_kernel.txt"
KERNEL_S=$(sed -n 's/.*transform \([0-9.]*\) s.*/\1/p' "$DIR/gp_cpu_kernel.txt")

if [[ $CUDA -eq 1 ]]; then
  echo "== geoprospect distance transform, CUDA"
  "$GP_DIST_BENCH" "$DIR/faults_mask.tif" "$DIR/prox_gp_cuda.tif" --cuda --repeat 3 | tee "$DIR/gp_cuda.txt"
fi

echo "== agreement"
extra=()
[[ $CUDA -eq 1 ]] && extra=("$DIR/prox_gp_cuda.tif")
set +e
"$BENCH_PY" - "$DIR/prox_gdal.tif" "$DIR/prox_gp.tif" "$CELL" "${extra[@]}" <<'PY'
import sys
import numpy as np
from osgeo import gdal
a = gdal.Open(sys.argv[1]).ReadAsArray().astype(np.float64)
b = gdal.Open(sys.argv[2]).ReadAsArray().astype(np.float64)
cell = float(sys.argv[3])
d = np.abs(a - b)
print(f"max |gp - gdal_proximity| = {d.max():.3f} m (half a cell = {cell / 2:g} m), "
      f"mean {d.mean():.4f} m, cells differing by > 1e-3 m: {(d > 1e-3).mean() * 100:.3f} %")
worse = (b - a) > 1e-5 * np.maximum(a, 1.0)
print(f"cells where gp is farther than gdal_proximity (beyond float rounding): {int(worse.sum())}")
ok = d.max() <= cell / 2
if len(sys.argv) > 4:
    c = gdal.Open(sys.argv[4]).ReadAsArray()
    same = np.array_equal(c, b.astype(np.float32))
    print(f"CUDA identical to CPU: {same}")
    ok = ok and same
sys.exit(0 if ok else 3)
PY
AGREE=$?
set -e

RATIO=$(awk -v g="$GDAL_S" -v p="$GP_S" 'BEGIN{printf "%.2f", g/p}')
KRATIO=$(awk -v g="$GDAL_S" -v p="$KERNEL_S" 'BEGIN{printf "%.2f", g/p}')
echo "== result: gdal_proximity.py ${GDAL_S} s; geoprospect CPU process ${GP_S} s (${RATIO}x), transform alone ${KERNEL_S} s (${KRATIO}x); target >= 3x"
if awk -v r="$RATIO" 'BEGIN{exit !(r >= 3)}' && [[ $AGREE -eq 0 ]]; then exit 0; fi
exit 2
