#!/usr/bin/env bash
# `geoprospect run` (core weighted-sum model) against its I/O floor, on generated
# 6-layer stacks of several sizes, with DEFLATE inputs (gen_layers.py) and ZSTD inputs (the same
# layers re-encoded with gdal_translate: ZSTD level 1, PREDICTOR=3, 256 x 256 tiles).
#
# The floor is bench/io_floor.cpp (compiled here into WORKDIR/io_floor with g++ and
# gdal-config): every layer read with the runner's windows (full width, whole 256-row tile rows
# of about 2 Mi cells, GDAL_NUM_THREADS=ALL_CPUS, block cache flushed per window) and one Float32
# band written with the runner's codec (ZSTD level 1, PREDICTOR=3, 256 x 256 tiles, NUM_THREADS=
# ALL_CPUS, WriteBlock per tile), without arithmetic. Variants, run round-robin (best of N):
#   floor      read + write, one after the other per window (no overlap)
#   gp         geoprospect run, default --pipeline-depth 2 (read / score / write overlap)
#   gp_d1      geoprospect run --pipeline-depth 1 (the three stages in turn)
#   read       io_floor --mode read   (decode only)           } with --stages
#   write      io_floor --mode write  (encode + write only)   }
#
# Usage: bench/io_floor.sh [--sizes "8192 12288"] [--codecs "DEFLATE ZSTD"] [--runs N]
#                          [--stages] [--no-depth1] [--workdir DIR] [--gp-args "ARGS"]
# Environment: GP_BIN (default build/geoprospect), BENCH_PY (default /usr/bin/python3).
# Targets: gp <= 1.10 x floor at every size and codec; gp peak within 10% across sizes.
# Exit status: 0 met, 2 missed, 1 error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
# shellcheck source=bench/lib_bench.sh
source bench/lib_bench.sh

SIZES="8192 12288"
CODECS="DEFLATE ZSTD"
LAYERS=6
SEED=42
WORKDIR=bench/work
RUNS=2
STAGES=0
DEPTH1=1
GP_ARGS=""

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}
while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --codecs) CODECS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --stages) STAGES=1; shift ;;
    --no-depth1) DEPTH1=0; shift ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --gp-args) GP_ARGS=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 1 ;;
  esac
done
bench_check_tools
command -v gdal-config >/dev/null || bench_die "gdal-config not found (apt-get install libgdal-dev)"
read -r -a GP_EXTRA <<<"$GP_ARGS"
RUN="$WORKDIR/io_floor"
mkdir -p "$RUN"

FLOOR_BIN="$WORKDIR/io_floor_bin"
if [[ ! -x "$FLOOR_BIN" || bench/io_floor.cpp -nt "$FLOOR_BIN" ]]; then
  echo "building $FLOOR_BIN ..."
  # shellcheck disable=SC2046
  g++ -O2 -std=c++17 $(gdal-config --cflags) bench/io_floor.cpp -o "$FLOOR_BIN" $(gdal-config --libs)
fi

# ensure_zstd SRC_DIR -> prints SRC_DIR_zstd, the layers re-encoded as ZSTD (+ model, stats).
ensure_zstd() {
  local src=$1 dst="$1_zstd" f
  if [[ ! -f "$dst/stats.json" ]]; then
    echo "data: re-encoding $src as ZSTD in $dst ..." >&2
    mkdir -p "$dst"
    for f in "$src"/layer_*.tif; do
      gdal_translate -q --config GDAL_NUM_THREADS ALL_CPUS -co TILED=YES -co BLOCKXSIZE=256 \
        -co BLOCKYSIZE=256 -co COMPRESS=ZSTD -co ZSTD_LEVEL=1 -co PREDICTOR=3 \
        -co NUM_THREADS=ALL_CPUS -co BIGTIFF=IF_SAFER "$f" "$dst/$(basename "$f")" >&2
    done
    cp "$src/model.toml" "$src/model_autostats.toml" "$dst/"
    cp "$src/stats.json" "$dst/stats.json"  # last: marks a complete data set
  fi
  echo "$dst"
}

echo "geoprospect: $GP_BIN; machine: $(nproc) cores, $(df -h --output=avail "$WORKDIR" | tail -1) free in $WORKDIR"
echo "load before: $(bench_load)"
ROWS=()
for size in $SIZES; do
  base=$(bench_data_dir "$WORKDIR" "$size" "$LAYERS" "$SEED")
  bench_ensure_data "$base" "$size" "$LAYERS" "$SEED"
  for codec in $CODECS; do
    case ${codec^^} in
      DEFLATE) data=$base ;;
      ZSTD) data=$(ensure_zstd "$base") ;;
      *) bench_die "--codecs: DEFLATE or ZSTD" ;;
    esac
    model=$(bench_core_model "$data/model.toml")
    layers=("$data"/layer_*.tif)
    variants=(floor gp)
    [[ $DEPTH1 -eq 1 ]] && variants+=(gp_d1)
    [[ $STAGES -eq 1 ]] && variants+=(read write)
    echo "== $size x $size, ${codec^^} inputs ($(du -sm "$data" | cut -f1) MiB): ${variants[*]}"
    bench_warm_cache "$data"
    for ((i = 1; i <= RUNS; ++i)); do
      for v in "${variants[@]}"; do
        key="${size}_${codec}_$v"
        out="$RUN/out_${size}_$v.tif"
        case $v in
          floor) bench_timed "$key" "$RUN" "$FLOOR_BIN" --mode both "$out" "${layers[@]}" ;;
          read) bench_timed "$key" "$RUN" "$FLOOR_BIN" --mode read "$out" "${layers[@]}" ;;
          write) bench_timed "$key" "$RUN" "$FLOOR_BIN" --mode write "$out" "${layers[@]}" ;;
          gp) bench_timed "$key" "$RUN" "$GP_BIN" run "$model" -o "$out" --overwrite --quiet \
                "${GP_EXTRA[@]}" ;;
          gp_d1) bench_timed "$key" "$RUN" "$GP_BIN" run "$model" -o "$out" --overwrite --quiet \
                   --pipeline-depth 1 "${GP_EXTRA[@]}" ;;
        esac
        [[ $BT_RC -eq 0 ]] || exit 1
        bench_record "$key"
        rm -f "$out"
        echo "  round $i $v: ${BT_WALL} s, ${BT_PEAK_MIB} MiB (load $(bench_load))"
      done
    done
    ROWS+=("$size $codec ${variants[*]}")
  done
done
LOAD_AFTER=$(bench_load)

{
  echo
  echo "I/O floor vs geoprospect run (core model), $LAYERS layers, $(date -u +%F\ %H:%M) UTC," \
    "best of $RUNS (round-robin)${GP_ARGS:+, $GP_ARGS}"
  echo "load: $LOAD_AFTER (1/5/15 min, after the runs); $(nproc) cores"
  printf '%-14s %-8s %-7s %9s %9s %9s %11s  %s\n' size inputs variant "best s" "x floor" \
    "peak MiB" "Mcells/s" "all runs s"
  ST=0
  for row in "${ROWS[@]}"; do
    read -r -a f <<<"$row"
    size=${f[0]} codec=${f[1]}
    floor_w=${BR_WALL[${size}_${codec}_floor]}
    for v in "${f[@]:2}"; do
      key="${size}_${codec}_$v"
      printf '%-14s %-8s %-7s %9.2f %9s %9.1f %11.1f  %s\n' "${size}x$size" "$codec" "$v" \
        "${BR_WALL[$key]}" "$(bench_ratio "${BR_WALL[$key]}" "$floor_w")" "${BR_PEAK[$key]}" \
        "$(awk -v n="$size" -v t="${BR_WALL[$key]}" 'BEGIN{printf "%.1f", n * n / t / 1e6}')" \
        "${BR_ALL[$key]}"
    done
  done
  echo
  for row in "${ROWS[@]}"; do
    read -r -a f <<<"$row"
    size=${f[0]} codec=${f[1]}
    r=$(bench_ratio "${BR_WALL[${size}_${codec}_gp]}" "${BR_WALL[${size}_${codec}_floor]}")
    if awk -v r="$r" 'BEGIN{exit !(r <= 1.10)}'; then echo "PASS  gp <= 1.10 x floor, $size $codec: $r"
    else echo "FAIL  gp <= 1.10 x floor, $size $codec: $r"; fi
    if [[ " ${f[*]} " == *" gp_d1 "* ]]; then
      echo "info  pipeline depth 1 / depth 2, $size $codec:" \
        "$(bench_ratio "${BR_WALL[${size}_${codec}_gp_d1]}" "${BR_WALL[${size}_${codec}_gp]}")"
    fi
  done
  # With one size there is nothing to compare: run the sizes in one call for this check (or
  # compare the peaks of separate calls; peak memory does not depend on the load).
  for codec in $CODECS; do
    [[ $(wc -w <<<"$SIZES") -gt 1 ]] || break
    peaks=()
    for size in $SIZES; do peaks+=("${BR_PEAK[${size}_${codec}_gp]}"); done
    spread=$(printf '%s\n' "${peaks[@]}" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END{printf "%.1f", 100*(hi-lo)/lo}')
    if awk -v s="$spread" 'BEGIN{exit !(s <= 10)}'; then
      echo "PASS  gp peak flat across sizes ($codec inputs): +$spread% (${peaks[*]} MiB)"
    else
      echo "FAIL  gp peak flat across sizes ($codec inputs): +$spread% (${peaks[*]} MiB)"
    fi
  done
} | tee "$RUN/results.txt"
grep -q '^FAIL' "$RUN/results.txt" && exit 2
exit 0
