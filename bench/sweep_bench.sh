#!/usr/bin/env bash
# The cost of a [[sweep]] of 16 variants against one plain run of the same model, end to end,
# on the same generated layers (bench/gen_layers.py; the core map only: a tiled GTiff).
#
#   plain     : gen_layers.py's model.toml (6 x linear, one weighted sum), core map only
#   validated : the same with [validation] against 500 generated deposits (one rank pass)
#   swept     : validated + [[sweep]]: the first two layers' weights (potassium_pct,
#               uranium_ppm), 4 x 4 = 16 variants (one pass
#               over the inputs for all 16 together; the deposit cells' inputs come from the
#               run's own scoring pass)
# The sweep's own cost is swept - validated; the target compares it with plain.
#
# Usage: bench/sweep_bench.sh [--size N] [--layers 6] [--seed S] [--workdir DIR] [--runs N]
#                             [--variants-per-axis 4] [--gp-args "ARGS"]
# Environment: GP_BIN (default build/geoprospect), BENCH_PY (default /usr/bin/python3).
# Target (issue 17): 16 variants cost at most 1.5 x one plain run on the CPU:
#   (swept - validated) <= 1.5 x plain. Exit status: 0 met, 2 missed, 1 error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
# shellcheck source=bench/lib_bench.sh
source bench/lib_bench.sh

SIZE=8192
LAYERS=6
SEED=42
WORKDIR=bench/work
RUNS=2
PER_AXIS=4
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
    --runs) RUNS=$2; shift 2 ;;
    --variants-per-axis) PER_AXIS=$2; shift 2 ;;
    --gp-args) GP_ARGS=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 1 ;;
  esac
done
[[ $LAYERS -ge 2 ]] || bench_die "the sweep varies the first two layers' weights: 2 layers at least"
bench_check_tools
read -r -a GP_EXTRA <<<"$GP_ARGS"

DATA=$(bench_data_dir "$WORKDIR" "$SIZE" "$LAYERS" "$SEED")
RUN="$WORKDIR/sweep_s${SIZE}"
mkdir -p "$RUN"
bench_ensure_data "$DATA" "$SIZE" "$LAYERS" "$SEED"
PLAIN=$(bench_core_model "$DATA/model.toml")

# 500 deposits at seeded random valid cells of layer 1 (cell centres, the layers' CRS), then
# the validated and swept models: the core model plus [validation] (and [[sweep]]).
"$BENCH_PY" - "$DATA" "$PLAIN" "$PER_AXIS" <<'PY'
import os, sys
import numpy as np
from osgeo import gdal
d, plain, per_axis = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = gdal.Open(os.path.join(d, "layer_1.tif"))
gt = ds.GetGeoTransform()
band = ds.GetRasterBand(1)
rng = np.random.default_rng(17)
rows = []
while len(rows) < 500:
    c, r = int(rng.integers(ds.RasterXSize)), int(rng.integers(ds.RasterYSize))
    if band.ReadAsArray(c, r, 1, 1)[0, 0] != band.GetNoDataValue():
        rows.append((c, r))
with open(os.path.join(d, "sweep_deposits.csv"), "w") as f:
    f.write("name,x,y\n")
    for i, (c, r) in enumerate(rows):
        f.write(f"d{i},{gt[0] + (c + 0.5) * gt[1]!r},{gt[3] + (r + 0.5) * gt[5]!r}\n")
base = open(plain).read()
validation = ('\n[validation]\ndeposits = "sweep_deposits.csv"\nx_column = "x"\ny_column = "y"\n'
              'crs = "EPSG:5070"\n')
weights = ", ".join(repr(0.5 * (i + 1)) for i in range(per_axis))
sweep = "".join(f'\n[[sweep]]\nlayer = "{n}"\nkey = "weight"\nvalues = [{weights}]\n'
                for n in ("potassium_pct", "uranium_ppm"))
stem = plain[:-len("_core.toml")]
open(stem + "_validated_core.toml", "w").write(base + validation)
open(stem + "_swept_core.toml", "w").write(base + validation + sweep)
PY
VALIDATED="${PLAIN%_core.toml}_validated_core.toml"
SWEPT="${PLAIN%_core.toml}_swept_core.toml"
grep -q '^name = "uranium_ppm"' "$PLAIN" || bench_die "$PLAIN: expected gen_layers.py's layer names"

echo "geoprospect: $GP_BIN; machine: $(nproc) cores; $RUNS rounds (plain, validated, swept in turn)"
echo "load before: $(bench_load)"
declare -A CPU=()
bench_warm_cache "$DATA"
for ((i = 1; i <= RUNS; ++i)); do
  for v in plain validated swept; do
    case $v in
      plain) m=$PLAIN ;;
      validated) m=$VALIDATED ;;
      swept) m=$SWEPT ;;
    esac
    bench_timed "$v" "$RUN" "$GP_BIN" run "$m" -o "$RUN/out_$v.tif" --overwrite --quiet \
      "${GP_EXTRA[@]}"
    [[ $BT_RC -eq 0 ]] || exit 1
    bench_record "$v"
    # CPU seconds (user + system, every thread): steadier than wall time on a loaded machine.
    cpu=$(awk -F: '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$RUN/$v.time")
    if [[ -z "${CPU[$v]:-}" ]] || awk -v a="$cpu" -v b="${CPU[$v]}" 'BEGIN{exit !(a<b)}'; then CPU[$v]=$cpu; fi
    echo "  round $i $v: ${BT_WALL} s, $cpu CPU s, ${BT_PEAK_MIB} MiB (load $(bench_load))"
  done
done
LOAD_AFTER=$(bench_load)
N_VARIANTS=$(($(wc -l <"$RUN/out_swept_sweep.csv") - 1))

{
  echo
  echo "sweep of $N_VARIANTS variants: $LAYERS layers of $SIZE x $SIZE, 500 deposits," \
    "$(date -u +%F\ %H:%M) UTC, best of $RUNS (round-robin)${GP_ARGS:+, $GP_ARGS}"
  echo "load: $LOAD_AFTER (1/5/15 min, after the runs); $(nproc) cores"
  printf '%-12s %9s %9s %9s %9s  %s\n' "" "best s" "x plain" "CPU s" "peak MiB" "all runs s"
  for v in plain validated swept; do
    printf '%-12s %9.2f %9s %9.2f %9.1f  %s\n' "$v" "${BR_WALL[$v]}" \
      "$(bench_ratio "${BR_WALL[$v]}" "${BR_WALL[plain]}")" "${CPU[$v]}" "${BR_PEAK[$v]}" "${BR_ALL[$v]}"
  done
  COST=$(awk -v a="${BR_WALL[swept]}" -v b="${BR_WALL[validated]}" 'BEGIN{printf "%.3f", a - b}')
  R=$(bench_ratio "$COST" "${BR_WALL[plain]}")
  CCOST=$(awk -v a="${CPU[swept]}" -v b="${CPU[validated]}" 'BEGIN{printf "%.3f", a - b}')
  RC=$(bench_ratio "$CCOST" "${CPU[plain]}")
  echo
  echo "the sweep's own cost (swept - validated): wall $COST s = $R x plain; CPU $CCOST s = $RC x plain"
  if awk -v r="$R" 'BEGIN{exit !(r <= 1.5)}'; then echo "PASS  $N_VARIANTS variants <= 1.5 x plain (wall): $R"
  else echo "FAIL  $N_VARIANTS variants <= 1.5 x plain (wall): $R"; fi
  echo "info  $N_VARIANTS variants in CPU time: $RC x plain"
} | tee "$RUN/results.txt"
ST=$(grep -q '^FAIL' "$RUN/results.txt" && echo 2 || echo 0)
rm -f "$RUN"/out_*.tif
exit "$ST"
