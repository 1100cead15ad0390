# shellcheck shell=bash
# Shared helpers for the end-to-end benchmark scripts (sourced, not run).
# Callers set -euo pipefail and cd to the repository root first.

BENCH_PY=${BENCH_PY:-/usr/bin/python3}   # Debian's python3, with osgeo (GDAL) and numpy
GP_BIN=${GP_BIN:-build/geoprospect}
GDAL_CALC=${GDAL_CALC:-/usr/bin/gdal_calc.py}

bench_die() {
  echo "error: $*" >&2
  exit 1
}

bench_check_tools() {
  [[ -x /usr/bin/time ]] || bench_die "/usr/bin/time not found (apt-get install time)"
  "$BENCH_PY" -c 'import numpy; from osgeo import gdal' 2>/dev/null ||
    bench_die "$BENCH_PY has no numpy/osgeo (apt-get install python3-gdal python3-numpy)"
  [[ -x "$GP_BIN" ]] ||
    bench_die "geoprospect binary not found at $GP_BIN (build it, or set GP_BIN=/path/to/geoprospect)"
}

# bench_data_dir WORKDIR SIZE LAYERS SEED -> prints the dataset folder
bench_data_dir() {
  echo "$1/data_s$2_l$3_seed$4"
}

# bench_ensure_data DIR SIZE LAYERS SEED: generates the dataset unless stats.json is there.
bench_ensure_data() {
  local dir=$1 size=$2 layers=$3 seed=$4
  if [[ -f "$dir/stats.json" ]]; then
    echo "data: $dir (already generated)"
    return
  fi
  echo "data: generating $layers layers of $size x $size in $dir ..."
  local t0 t1
  t0=$(date +%s.%N)
  "$BENCH_PY" bench/gen_layers.py "$dir" --size "$size" --layers "$layers" --seed "$seed"
  t1=$(date +%s.%N)
  echo "data: generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
}

# bench_warm_cache DIR: reads the layers once so that every timed run starts with them in the
# page cache (the first run would otherwise pay the disk reads alone).
bench_warm_cache() {
  cat "$1"/layer_*.tif >/dev/null
}

# bench_timed NAME LOGDIR CMD...: runs CMD under /usr/bin/time -v; sets BT_WALL (s, from
# date +%s.%N), BT_PEAK_MIB (maximum resident set size) and BT_RC. CMD's stdout/stderr go to
# LOGDIR/NAME.log, time's report to LOGDIR/NAME.time.
bench_timed() {
  local name=$1 logdir=$2
  shift 2
  local t0 t1 kb
  t0=$(date +%s.%N)
  set +e
  /usr/bin/time -v -o "$logdir/$name.time" "$@" >"$logdir/$name.log" 2>&1
  BT_RC=$?
  set -e
  t1=$(date +%s.%N)
  BT_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  kb=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$logdir/$name.time")
  BT_PEAK_MIB=$(awk -v k="${kb:-0}" 'BEGIN{printf "%.1f", k/1024}')
  # CPU time (user + system, children included): on a loaded machine the steadier figure.
  BT_CPU=$(awk -F: '/User time|System time/{gsub(/ /,"",$2); t += $2} END{printf "%.3f", t}' "$logdir/$name.time")
  if [[ $BT_RC -ne 0 ]]; then
    echo "error: $name failed (exit $BT_RC); last lines of $logdir/$name.log:" >&2
    tail -n 20 "$logdir/$name.log" >&2
  fi
}

# bench_best_of N NAME LOGDIR CMD...: bench_timed N times, keeps the fastest wall time and the
# largest peak RSS.
bench_best_of() {
  local n=$1 name=$2 logdir=$3
  shift 3
  local best_wall="" worst_peak=0 i
  for ((i = 1; i <= n; ++i)); do
    bench_timed "$name" "$logdir" "$@"
    [[ $BT_RC -eq 0 ]] || return 0
    if [[ -z "$best_wall" ]] || awk -v a="$BT_WALL" -v b="$best_wall" 'BEGIN{exit !(a<b)}'; then
      best_wall=$BT_WALL
    fi
    if awk -v a="$BT_PEAK_MIB" -v b="$worst_peak" 'BEGIN{exit !(a>b)}'; then
      worst_peak=$BT_PEAK_MIB
    fi
  done
  BT_WALL=$best_wall
  BT_PEAK_MIB=$worst_peak
}

# Round-robin measurements (bench/network_vs_sum.sh, io_floor.sh, mpi_scaling.sh): the compared
# variants run in turn (A B C A B C ...) so that a load change on the shared machine hits all of
# them alike. bench_record NAME folds the last bench_timed into BR_WALL[NAME] (fastest),
# BR_PEAK[NAME] (largest peak), BR_ALL[NAME] (every wall time, space-separated) and BR_CPU[NAME]
# (the smallest CPU time, user + system).
declare -gA BR_WALL=() BR_PEAK=() BR_ALL=() BR_CPU=()
bench_record() {
  local name=$1
  if [[ -z "${BR_CPU[$name]:-}" ]] || awk -v a="${BT_CPU:-0}" -v b="${BR_CPU[$name]}" 'BEGIN{exit !(a<b)}'; then
    BR_CPU[$name]=${BT_CPU:-0}
  fi
  BR_ALL[$name]="${BR_ALL[$name]:-}${BR_ALL[$name]:+ }$BT_WALL"
  if [[ -z "${BR_WALL[$name]:-}" ]] || awk -v a="$BT_WALL" -v b="${BR_WALL[$name]}" 'BEGIN{exit !(a<b)}'; then
    BR_WALL[$name]=$BT_WALL
  fi
  if [[ -z "${BR_PEAK[$name]:-}" ]] || awk -v a="$BT_PEAK_MIB" -v b="${BR_PEAK[$name]}" 'BEGIN{exit !(a>b)}'; then
    BR_PEAK[$name]=$BT_PEAK_MIB
  fi
}

# bench_load: the 1/5/15-minute load averages, for the results (2 cores: above 2 the timings are
# noisy and favour processes with more runnable threads).
bench_load() {
  awk '{printf "%s %s %s", $1, $2, $3}' /proc/loadavg
}

# bench_core_model MODEL: writes MODEL's core-map variant (${MODEL%.toml}_core.toml: a tiled
# GTiff only, no COG/classes/quicklook/report, as bench/e2e_vs_gdal_calc.sh) and prints its path.
# The keys go right after the [output] table's header, so [output] must not set them itself.
bench_core_model() {
  local m=$1 core="${1%.toml}_core.toml"
  awk '{ print } /^\[output\][[:space:]]*$/ {
         print "format = \"gtiff\""; print "classes = false"; print "quicklook = false"
         print "report = false" }' "$m" >"$core"
  echo "$core"
}

# bench_ratio A B: prints A / B with 3 decimals.
bench_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a / b}'
}

# bench_calc_args STATS_JSON -> prints gdal_calc.py's inputs and expression, one per line
# (read them with mapfile): sum of w_i * clip((X - min_i) / (max_i - min_i), 0, 1) with the
# exact min/max of stats.json (as in model.toml) and the weights normalised to sum 1, as
# geoprospect normalises them. gdal_calc.py makes a cell nodata when any input is nodata.
bench_calc_args() {
  "$BENCH_PY" - "$1" <<'PY'
import json, os, string, sys
st = json.load(open(sys.argv[1]))
d = os.path.dirname(sys.argv[1])
wsum = sum(l["weight"] for l in st["layer"])
terms = []
for letter, l in zip(string.ascii_uppercase, st["layer"]):
    print(f"-{letter}")
    print(os.path.join(d, l["path"]))
    lo, hi, w = l["min"], l["max"], l["weight"] / wsum
    terms.append(f"{w!r}*clip(({letter}-({lo!r}))/({hi!r}-({lo!r})),0,1)")
print("--calc=" + "+".join(terms))
PY
}
