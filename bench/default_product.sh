#!/usr/bin/env bash
# The default product against the bare map (issue 15): the same generated weighted-sum model run
# as a bare tiled GeoTIFF (format = "gtiff", no classes, quicklook, report), with the default
# outputs (COG with overviews, class raster, styles, quicklook, report), and gdal_calc.py on the
# same inputs. Variants run round-robin (bare default calc, bare default calc, ...) so that load
# changes on a shared machine hit all alike; the best wall time and the largest peak RSS of each
# are kept. With GP_BIN_BASE set, that binary's default run is measured too (a before/after).
#
# Usage: bench/default_product.sh [--sizes "4096 8192"] [--runs N] [--layers L] [--workdir DIR]
#                                 [--no-calc]
# Environment: GP_BIN (default build/geoprospect), GP_BIN_BASE (optional), GDAL_CALC,
#              BENCH_PY (default /usr/bin/python3).
# Targets (issue 15): default / bare <= 1.25, default / gdal_calc <= 0.5, default peak <= 300 MiB
# and within 10 % across sizes.
# Exit status: 0 met, 2 missed, 1 error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
# shellcheck source=bench/lib_bench.sh
source bench/lib_bench.sh

SIZES="4096"
RUNS=3
LAYERS=6
SEED=42
WORKDIR=bench/work
CALC=1

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --layers) LAYERS=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --no-calc) CALC=0; shift ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 1 ;;
  esac
done

bench_check_tools
echo "machine: $(nproc) cores, load $(bench_load) at start; best of $RUNS, round-robin"
STATUS=0
declare -A PEAKS=()
for SIZE in $SIZES; do
  DATA=$(bench_data_dir "$WORKDIR" "$SIZE" "$LAYERS" "$SEED")
  RUN="$WORKDIR/default_s${SIZE}_l${LAYERS}"
  mkdir -p "$RUN"
  bench_ensure_data "$DATA" "$SIZE" "$LAYERS" "$SEED"
  BARE=$(bench_core_model "$DATA/model.toml")
  # gdal_calc.py: the same weighted sum of clipped min-max normalised layers (as in
  # bench/e2e_vs_gdal_calc.sh), DEFLATE with the floating-point predictor.
  mapfile -t CALC_ARGS < <(bench_calc_args "$DATA/stats.json")
  BR_WALL=() BR_PEAK=() BR_ALL=() BR_CPU=()
  for ((i = 1; i <= RUNS; ++i)); do
    bench_warm_cache "$DATA"
    bench_timed bare "$RUN" "$GP_BIN" run "$BARE" -o "$RUN/bare.tif" --overwrite --quiet
    [[ $BT_RC -eq 0 ]] || exit 1
    bench_record bare
    bench_timed default "$RUN" "$GP_BIN" run "$DATA/model.toml" -o "$RUN/default.tif" --overwrite --quiet
    [[ $BT_RC -eq 0 ]] || exit 1
    bench_record default
    if [[ -n "${GP_BIN_BASE:-}" ]]; then
      bench_timed base_default "$RUN" "$GP_BIN_BASE" run "$DATA/model.toml" -o "$RUN/base.tif" --overwrite --quiet
      [[ $BT_RC -eq 0 ]] || exit 1
      bench_record base_default
    fi
    if [[ $CALC -eq 1 ]]; then
      bench_timed gdal_calc "$RUN" "$GDAL_CALC" "${CALC_ARGS[@]}" --outfile="$RUN/calc.tif" \
        --NoDataValue=-9999 --type=Float32 --format=GTiff \
        --co TILED=YES --co COMPRESS=DEFLATE --co PREDICTOR=3 --overwrite --quiet
      [[ $BT_RC -eq 0 ]] || exit 1
      bench_record gdal_calc
    fi
  done
  echo
  echo "$LAYERS x $SIZE x $SIZE Float32 (DEFLATE inputs), load $(bench_load) at end"
  printf '%-28s %9s %9s %9s   %s\n' "" "wall s" "CPU s" "peak MiB" "all wall s"
  for k in bare default base_default gdal_calc; do
    [[ -n "${BR_WALL[$k]:-}" ]] || continue
    printf '%-28s %9.2f %9.2f %9.1f   %s\n' "$k" "${BR_WALL[$k]}" "${BR_CPU[$k]}" "${BR_PEAK[$k]}" "${BR_ALL[$k]}"
  done
  R_BARE=$(bench_ratio "${BR_WALL[default]}" "${BR_WALL[bare]}")
  echo "default / bare               $R_BARE   (goal <= 1.25; CPU time $(bench_ratio "${BR_CPU[default]}" "${BR_CPU[bare]}"))"
  awk -v r="$R_BARE" 'BEGIN{exit !(r <= 1.25)}' || STATUS=2
  if [[ -n "${BR_WALL[gdal_calc]:-}" ]]; then
    R_CALC=$(bench_ratio "${BR_WALL[default]}" "${BR_WALL[gdal_calc]}")
    echo "default / gdal_calc          $R_CALC   (goal <= 0.5; CPU time $(bench_ratio "${BR_CPU[default]}" "${BR_CPU[gdal_calc]}"))"
    awk -v r="$R_CALC" 'BEGIN{exit !(r <= 0.5)}' || STATUS=2
  fi
  if [[ -n "${BR_WALL[base_default]:-}" ]]; then
    echo "default / base default       $(bench_ratio "${BR_WALL[default]}" "${BR_WALL[base_default]}")   (CPU time $(bench_ratio "${BR_CPU[default]}" "${BR_CPU[base_default]}"))"
  fi
  echo "default peak MiB             ${BR_PEAK[default]}   (goal <= 300)"
  awk -v p="${BR_PEAK[default]}" 'BEGIN{exit !(p <= 300)}' || STATUS=2
  PEAKS[$SIZE]=${BR_PEAK[default]}
  # The default run's own timings: where the outputs' time goes.
  "$BENCH_PY" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings_s"]; print("default run report timings_s:", {k: round(v, 2) for k, v in t.items()})' \
    "$RUN/default_report.json" || true
  rm -f "$RUN"/*.tif "$RUN"/*.png "$RUN"/*.qml
done
if [[ ${#PEAKS[@]} -gt 1 ]]; then
  echo "default peak across sizes: $(for s in $SIZES; do printf '%s: %s MiB  ' "$s" "${PEAKS[$s]}"; done)"
  awk -v lo="$(printf '%s\n' "${PEAKS[@]}" | sort -n | head -1)" \
    -v hi="$(printf '%s\n' "${PEAKS[@]}" | sort -n | tail -1)" 'BEGIN{exit !(hi <= 1.1 * lo)}' || STATUS=2
fi
exit "$STATUS"
