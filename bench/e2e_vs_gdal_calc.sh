#!/usr/bin/env bash
# End-to-end: `geoprospect run` against gdal_calc.py on the same generated layers, computing the
# same min-max-normalised weighted sum. Prints wall times, their ratio, peak memories, and how
# far the two outputs agree. See bench/README.md.
#
# Usage: bench/e2e_vs_gdal_calc.sh [--size N] [--layers L] [--seed S] [--workdir DIR] [--keep]
#                                  [--runs N] [--gp-compress CODEC] [--gp-args "ARGS"]
# Environment: GP_BIN (default build/geoprospect), GDAL_CALC (default /usr/bin/gdal_calc.py),
#              BENCH_PY (default /usr/bin/python3).
# Exit status: 0 every target met, 2 a target missed, 1 an error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
# shellcheck source=bench/lib_bench.sh
source bench/lib_bench.sh

SIZE=8192
LAYERS=6
SEED=42
WORKDIR=bench/work
KEEP=0
RUNS=1
GP_COMPRESS=""
GP_ARGS=""

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --layers) LAYERS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --gp-compress) GP_COMPRESS=$2; shift 2 ;;
    --gp-args) GP_ARGS=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 1 ;;
  esac
done
[[ $SIZE =~ ^[0-9]+$ && $LAYERS =~ ^[0-9]+$ && $RUNS =~ ^[1-9][0-9]*$ ]] ||
  bench_die "--size, --layers and --runs take positive integers"

bench_check_tools
[[ -f "$GDAL_CALC" ]] || bench_die "gdal_calc.py not found at $GDAL_CALC (apt-get install python3-gdal)"

DATA=$(bench_data_dir "$WORKDIR" "$SIZE" "$LAYERS" "$SEED")
RUN="$WORKDIR/run_s${SIZE}_l${LAYERS}_seed${SEED}"
mkdir -p "$WORKDIR" "$RUN"
bench_ensure_data "$DATA" "$SIZE" "$LAYERS" "$SEED"

MODEL="$DATA/model.toml"
if [[ -n "$GP_COMPRESS" ]]; then
  # The same model with another output codec ([output] compress), for codec comparisons.
  MODEL="$DATA/model_${GP_COMPRESS,,}.toml"
  sed "s/^path = \"out_gp.tif\"$/path = \"out_gp.tif\"\ncompress = \"${GP_COMPRESS^^}\"/" \
    "$DATA/model.toml" >"$MODEL"
fi

# The core map only (a tiled GTiff, as gdal_calc.py writes) unless GP_OUTPUTS=full, which keeps
# the defaults of [output]: COG with overviews, classes, QGIS styles, quicklook and report.
if [[ "${GP_OUTPUTS:-core}" != "full" ]]; then
  CORE="${MODEL%.toml}_core.toml"
  sed 's/^path = "out_gp.tif"$/path = "out_gp.tif"\nformat = "gtiff"\nclasses = false\nquicklook = false\nreport = false/' \
    "$MODEL" >"$CORE"
  MODEL="$CORE"
fi

# gdal_calc.py's inputs and expression (lib_bench.sh).
mapfile -t CALC_ARGS < <(bench_calc_args "$DATA/stats.json")

OUT_GP="$RUN/out_gp.tif"
OUT_AUTO="$RUN/out_gp_autostats.tif"
OUT_CALC="$RUN/out_gdal_calc.tif"
read -r -a GP_EXTRA <<<"$GP_ARGS"

echo "geoprospect: $GP_BIN $(${GP_BIN} --version 2>/dev/null | head -n1 || true)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "runs: best wall time of $RUNS per tool; page cache warmed before each tool"

bench_warm_cache "$DATA"
echo "running geoprospect (model.toml, min/max given) ..."
bench_best_of "$RUNS" geoprospect "$RUN" "$GP_BIN" run "$MODEL" -o "$OUT_GP" --overwrite --quiet \
  "${GP_EXTRA[@]}"
[[ $BT_RC -eq 0 ]] || exit 1
GP_WALL=$BT_WALL GP_PEAK=$BT_PEAK_MIB

bench_warm_cache "$DATA"
echo "running gdal_calc.py ..."
bench_best_of "$RUNS" gdal_calc "$RUN" "$GDAL_CALC" "${CALC_ARGS[@]}" --outfile="$OUT_CALC" \
  --NoDataValue=-9999 --type=Float32 --format=GTiff \
  --co TILED=YES --co COMPRESS=DEFLATE --co PREDICTOR=3 --overwrite --quiet
[[ $BT_RC -eq 0 ]] || exit 1
CALC_WALL=$BT_WALL CALC_PEAK=$BT_PEAK_MIB

AUTO_MODEL="$DATA/model_autostats.toml"
if [[ -n "$GP_COMPRESS" ]]; then
  AUTO_MODEL="$DATA/model_autostats_${GP_COMPRESS,,}.toml"
  sed "s/^path = \"out_gp.tif\"$/path = \"out_gp.tif\"\ncompress = \"${GP_COMPRESS^^}\"/" \
    "$DATA/model_autostats.toml" >"$AUTO_MODEL"
fi
if [[ "${GP_OUTPUTS:-core}" != "full" ]]; then
  sed 's/^path = "out_gp.tif"$/path = "out_gp.tif"\nformat = "gtiff"\nclasses = false\nquicklook = false\nreport = false/' \
    "$AUTO_MODEL" >"${AUTO_MODEL%.toml}_core.toml"
  AUTO_MODEL="${AUTO_MODEL%.toml}_core.toml"
fi
bench_warm_cache "$DATA"
echo "running geoprospect (model_autostats.toml, min/max from a first pass) ..."
bench_best_of "$RUNS" geoprospect_autostats "$RUN" "$GP_BIN" run "$AUTO_MODEL" -o "$OUT_AUTO" \
  --overwrite --quiet "${GP_EXTRA[@]}"
[[ $BT_RC -eq 0 ]] || exit 1
AUTO_WALL=$BT_WALL AUTO_PEAK=$BT_PEAK_MIB

echo "comparing outputs ..."
CMP=$("$BENCH_PY" bench/compare_rasters.py "$OUT_GP" "$OUT_CALC" --json)
CMP_AUTO=$("$BENCH_PY" bench/compare_rasters.py "$OUT_AUTO" "$OUT_GP" --json)

set +e
"$BENCH_PY" - "$SIZE" "$LAYERS" "$GP_WALL" "$GP_PEAK" "$CALC_WALL" "$CALC_PEAK" "$AUTO_WALL" \
  "$AUTO_PEAK" "$CMP" "$CMP_AUTO" "$(du -m "$OUT_GP" | cut -f1)" "$(du -m "$OUT_CALC" | cut -f1)" \
  "$(basename "$MODEL")${GP_ARGS:+ $GP_ARGS}" "$RUNS" <<'EOF' | tee "$RUN/results.txt"
import datetime, json, sys
size, layers = int(sys.argv[1]), int(sys.argv[2])
gw, gp, cw, cp, aw, ap = map(float, sys.argv[3:9])
cmp, cmp_auto = json.loads(sys.argv[9]), json.loads(sys.argv[10])
gp_mib, calc_mib = sys.argv[11], sys.argv[12]
variant, runs = sys.argv[13], sys.argv[14]
ratio = gw / cw
rows = [
    ("geoprospect run (min/max given)", gw, gp, f"{gp_mib} MiB out"),
    ("gdal_calc.py", cw, cp, f"{calc_mib} MiB out"),
    ("geoprospect run (auto stats, 2 passes)", aw, ap, f"{aw / cw:.3f} x gdal_calc"),
]
print()
print(f"e2e: {layers} layers of {size} x {size} Float32, {datetime.date.today().isoformat()}, "
      f"geoprospect {variant}, best of {runs}")
print(f"{'':40s} {'wall s':>9s} {'peak MiB':>9s}")
for name, w, p, note in rows:
    print(f"{name:40s} {w:9.2f} {p:9.1f}   {note}")
print(f"{'ratio geoprospect / gdal_calc (wall)':40s} {ratio:9.3f}")
print(f"{'max |gp - gdal_calc| over valid cells':40s} {cmp['max_abs_diff']:9.2e}   "
      f"({cmp['valid_both']} cells valid in both)")
print(f"{'nodata mismatches':40s} {cmp['mismatches']:9d}   "
      f"(nodata: {cmp['nodata_a']} gp, {cmp['nodata_b']} gdal_calc)")
print(f"{'auto-stats vs given min/max':40s} {cmp_auto['max_abs_diff']:9.2e}   "
      f"({cmp_auto['mismatches']} nodata mismatches)")
checks = [
    ("wall ratio gp/gdal_calc <= 0.5", ratio <= 0.5, f"{ratio:.3f}"),
    ("geoprospect peak <= 300 MiB", gp <= 300.0, f"{gp:.1f} MiB"),
    ("max abs diff < 1e-5", cmp["max_abs_diff"] < 1e-5, f"{cmp['max_abs_diff']:.2e}"),
    ("nodata masks agree", cmp["mismatches"] == 0, f"{cmp['mismatches']} mismatches"),
    ("geotransforms equal", cmp["gt_equal"], str(cmp["gt_equal"])),
]
print()
for name, ok, val in checks:
    print(f"{'PASS' if ok else 'FAIL'}  {name:34s} {val}")
sys.exit(0 if all(ok for _, ok, _ in checks) else 2)
EOF
STATUS=${PIPESTATUS[0]}
set -e
if [[ $KEEP -eq 0 ]]; then
  rm -f "$OUT_GP" "$OUT_AUTO" "$OUT_CALC"
else
  echo "outputs kept in $RUN"
fi
echo "logs and results.txt in $RUN"
exit "$STATUS"
