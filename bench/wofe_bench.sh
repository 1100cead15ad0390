#!/usr/bin/env bash
# Weights-of-evidence benchmark: training and mapping on LAYERS generated evidence
# layers of SIZE x SIZE cells with DEPOSITS deposits, beside the time to just read the layers.
#
#   bench/wofe_bench.sh [BUILD_DIR] [SIZE] [LAYERS] [DEPOSITS] [DEVICE]
#   defaults:            build      8192   10       500        auto
#
# The read time is the statistics pass of a weighted-sum model with automatic min/max on the
# same layers (every layer read window by window through the same RasterSource, plus a trivial
# reduction). The training time is the WofE counting pass (read + per-class histograms + deposit
# lookups); the mapping time is the runner's scoring pass (read + fused kernel + write).
# Results: bench/work/wofe_s<SIZE>_l<LAYERS>/results.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
size="${2:-8192}"
layers="${3:-10}"
deposits="${4:-500}"
device="${5:-auto}"
exe="$(cd "$build" && pwd)/geoprospect"
work="$here/work/wofe_s${size}_l${layers}"
mkdir -p "$work"

echo "generating $layers layers of $size x $size (once) in $work"
/usr/bin/python3 "$here/wofe_gen.py" "$work" --size "$size" --layers "$layers" --deposits "$deposits"
du -sh "$work"/ev_*.tif | tail -1 >/dev/null

run() {  # name model
  local name="$1" model="$2"
  /usr/bin/time -f "%e %M" -o "$work/$name.time" \
    "$exe" run "$model" --overwrite --quiet --device "$device" > "$work/$name.log" 2>&1
}
# Warm the page cache once so both runs read from the same place.
cat "$work"/ev_*.tif > /dev/null
run read "$work/read.toml"
run wofe "$work/wofe.toml"

/usr/bin/python3 - "$work" "$size" "$layers" "$deposits" <<'EOF'
import json, sys, os
work, size, layers, deposits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rr = json.load(open(os.path.join(work, "read_report.json")))
wr = json.load(open(os.path.join(work, "wofe_report.json")))
rt = open(os.path.join(work, "read.time")).read().split()
wt = open(os.path.join(work, "wofe.time")).read().split()
w = wr["weights_of_evidence"]
read_s = rr["timings_s"]["statistics"]
train_s = w["training_seconds"]
map_s = wr["timings_s"]["score"]
lines = [
    f"WofE benchmark: {layers} layers of {size} x {size} Byte classes ({size*size*layers/1e6:.0f} M cells), "
    f"{deposits} deposits ({w['deposits']['used_cells']} cells), device {wr['device']}",
    f"{'read every layer (stats pass of a weighted-sum model)':58s} {read_s:8.2f} s",
    f"{'WofE training (read + class histograms + deposits)':58s} {train_s:8.2f} s   {train_s/read_s:.2f} x read",
    f"{'WofE mapping (read + posterior/std/confidence + write)':58s} {map_s:8.2f} s",
    f"{'WofE outputs (COG, report, tables)':58s} {wr['timings_s']['outputs']:8.2f} s",
    f"{'geoprospect run wofe, wall':58s} {float(wt[0]):8.2f} s   peak {int(wt[1])/1024:.0f} MiB",
    f"{'geoprospect run read model, wall':58s} {float(rt[0]):8.2f} s   peak {int(rt[1])/1024:.0f} MiB",
    f"conditional independence ratio {w['conditional_independence'].get('ratio', float('nan')):.3f}, "
    f"unique conditions {w['conditional_independence'].get('unique_conditions', '-')}",
]
txt = "\n".join(lines) + "\n"
open(os.path.join(work, "results.txt"), "w").write(txt)
print(txt, end="")
EOF
