#!/usr/bin/env bash
# Peak memory of `geoprospect run` against raster size: memory should be bounded by the window,
# not by the raster, so a 2048 x 2048 and an 8192 x 8192 run should peak within 10% of each
# other (and at most 300 MiB). See bench/README.md.
#
# Usage: bench/mem_scaling.sh [--sizes "2048 8192"] [--layers L] [--seed S] [--workdir DIR]
#                             [--gp-args "ARGS"] [--model model.toml|model_autostats.toml]
# Environment: GP_BIN (default build/geoprospect), BENCH_PY (default /usr/bin/python3).
# Exit status: 0 targets met, 2 a target missed, 1 an error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
# shellcheck source=bench/lib_bench.sh
source bench/lib_bench.sh

SIZES="2048 8192"
LAYERS=6
SEED=42
WORKDIR=bench/work
GP_ARGS=""
MODEL_NAME=model.toml

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --layers) LAYERS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --gp-args) GP_ARGS=$2; shift 2 ;;
    --model) MODEL_NAME=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 1 ;;
  esac
done

bench_check_tools
read -r -a GP_EXTRA <<<"$GP_ARGS"
RUN="$WORKDIR/mem_scaling"
mkdir -p "$RUN"

RESULTS=()
for size in $SIZES; do
  data=$(bench_data_dir "$WORKDIR" "$size" "$LAYERS" "$SEED")
  bench_ensure_data "$data" "$size" "$LAYERS" "$SEED"
  bench_warm_cache "$data"
  echo "running geoprospect on $size x $size ($MODEL_NAME${GP_ARGS:+, $GP_ARGS}) ..."
  model="$data/$MODEL_NAME"
  if [[ "${GP_OUTPUTS:-core}" != "full" ]]; then
    # The core map only (as bench/e2e_vs_gdal_calc.sh); GP_OUTPUTS=full keeps COG, classes, ...
    sed 's/^path = "out_gp.tif"$/path = "out_gp.tif"\nformat = "gtiff"\nclasses = false\nquicklook = false\nreport = false/' \
      "$model" >"${model%.toml}_core.toml"
    model="${model%.toml}_core.toml"
  fi
  bench_timed "gp_$size" "$RUN" "$GP_BIN" run "$model" -o "$RUN/out_$size.tif" \
    --overwrite --quiet "${GP_EXTRA[@]}"
  [[ $BT_RC -eq 0 ]] || exit 1
  rm -f "$RUN/out_$size.tif"
  RESULTS+=("$size" "$BT_WALL" "$BT_PEAK_MIB")
done

set +e
"$BENCH_PY" - "$LAYERS" "${RESULTS[@]}" <<'EOF' | tee "$RUN/results.txt"
import datetime, sys
layers = sys.argv[1]
v = sys.argv[2:]
rows = [(int(v[i]), float(v[i + 1]), float(v[i + 2])) for i in range(0, len(v), 3)]
print()
print(f"memory scaling: {layers} layers, {datetime.date.today().isoformat()}")
print(f"{'size':>12s} {'wall s':>9s} {'peak MiB':>9s}")
for size, wall, peak in rows:
    print(f"{size:>5d} x {size:<5d} {wall:9.2f} {peak:9.1f}")
peaks = [p for _, _, p in rows]
spread = (max(peaks) - min(peaks)) / min(peaks)
checks = [(f"peaks within 10% of each other", spread <= 0.10,
           f"+{100 * spread:.1f}% (largest vs smallest)")]
checks += [(f"peak <= 300 MiB at {s}", p <= 300.0, f"{p:.1f} MiB") for s, _, p in rows]
print()
for name, ok, val in checks:
    print(f"{'PASS' if ok else 'FAIL'}  {name:34s} {val}")
sys.exit(0 if all(ok for _, ok, _ in checks) else 2)
EOF
STATUS=${PIPESTATUS[0]}
set -e
exit "$STATUS"
