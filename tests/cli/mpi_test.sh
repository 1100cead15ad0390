#!/usr/bin/env bash
# MPI runs (CPU backend): 2 and 3 ranks give the same output bytes as one process (trained
# models' side files included), and a rank failure ends the run with a clear message and no
# output. Usage: mpi_test.sh GEOPROSPECT SRC TMP
set -euo pipefail
exe=$1; src=$2; tmp=$3/mpi_test_$$
rm -rf "$tmp"; mkdir -p "$tmp"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
fail() { echo "FAIL: $*" >&2; exit 1; }

# same_with_ranks LABEL MODEL REFERENCE [RUN ARGS...]: -np 2 and -np 3 write the same bytes as
# REFERENCE (a one-process run), and only rank 0 reports a written map.
same_with_ranks() {
  local label=$1 model=$2 ref=$3
  shift 3
  local n out
  for n in 2 3; do
    out="${ref%.tif}_np$n.tif"
    mpirun --oversubscribe -np "$n" "$exe" run "$model" -o "$out" --quiet "$@" \
      >"$tmp/out_$n.txt" 2>"$tmp/err_$n.txt" || { cat "$tmp/err_$n.txt" >&2; fail "$label: mpirun -np $n failed"; }
    cmp "$ref" "$out" || fail "$label: -np $n output differs from one process"
    [ "$(grep -c '^wrote ' "$tmp/out_$n.txt")" = 1 ] || fail "$label: -np $n: expected one 'wrote' line from rank 0"
    echo "ok: $label -np $n identical"
  done
}

for model in ree_radiometric ree_fuzzy; do
  m="$src/data-samples/sirsam/$model.toml"
  # Small windows so that every rank gets several (the grid is 264 rows).
  "$exe" run "$m" -o "$tmp/${model}_1.tif" --quiet --window-rows 16 >/dev/null
  same_with_ranks "$model" "$m" "$tmp/${model}_1.tif" --window-rows 16
done

# A grid wider than a column segment (8192): windows of one tile row x 8192 columns, an MPI
# rank owns whole bands of them; still the same bytes as one process (and as full-width windows).
w="$tmp/wide"; mkdir -p "$w"
gdal_translate -q -outsize 17000 300 -r bilinear "$src/data-samples/sirsam/U_15v1.tif" "$w/u.tif"
gdal_translate -q -outsize 17000 300 -r bilinear "$src/data-samples/sirsam/k_15v5.tif" "$w/k.tif"
cat >"$w/wide.toml" <<'TOML'
[model]
name = "wide"
[[layer]]
name = "u"
path = "u.tif"
transform = { kind = "linear" }
weight = 0.6
[[layer]]
name = "k"
path = "k.tif"
transform = { kind = "percentile" }
weight = 0.4
[combine]
method = "weighted-sum"
[output]
format = "gtiff"
TOML
"$exe" run "$w/wide.toml" -o "$w/one.tif" --quiet >/dev/null
"$exe" run "$w/wide.toml" -o "$w/full.tif" --quiet --window-rows 300 >/dev/null
cmp "$w/one.tif" "$w/full.tif" || fail "wide grid: column windows differ from full-width windows"
same_with_ranks "wide grid (column windows)" "$w/wide.toml" "$w/one.tif"

# A boundary mask and a vector layer (distance to features): every rank materialises its own
# copies (names carry the rank), the outputs are identical and no temporary file is left.
v="$tmp/vector"; mkdir -p "$v"
cat >"$v/area.geojson" <<'JSON'
{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"area"},"geometry":{"type":"Polygon","coordinates":[[[121.37,-27.36],[121.50,-27.35],[121.49,-27.52],[121.38,-27.50],[121.37,-27.36]]]}},
{"type":"Feature","properties":{"name":"dyke"},"geometry":{"type":"LineString","coordinates":[[121.36,-27.45],[121.52,-27.40]]}}]}
JSON
cat >"$v/vector.toml" <<TOML
[model]
name = "mpi-vector"
[grid]
crs = "EPSG:3577"
resolution = 90.0
boundary = "area.geojson"
[[layer]]
name = "uranium"
path = "$src/data-samples/sirsam/U_15v1.tif"
resampling = "bilinear"
transform = { kind = "linear" }
weight = 0.6
[[layer]]
name = "features"
path = "area.geojson"
vector = "distance"
max_distance = 20000
transform = { kind = "small", midpoint = 2000, spread = 2 }
weight = 0.4
[combine]
method = "weighted-sum"
[output]
format = "gtiff"
TOML
"$exe" run "$v/vector.toml" -o "$v/one.tif" --quiet --window-rows 16 >/dev/null
same_with_ranks "boundary mask + distance layer" "$v/vector.toml" "$v/one.tif" --window-rows 16
left=$(ls -A "$v" | grep gp-tmp || true)
[ -z "$left" ] || fail "temporary vector rasters left: $left"

# Trained models (weights of evidence, logistic regression, boosted trees): every rank trains
# on its own windows (the trees' background cells are drawn by global cell index, so the
# training table is the same on any rank count). The map and every side file (weights tables, styles, classes map, quicklook) are the
# same bytes as one process; so is the report, but for what describes the run itself (times,
# threads) and the folder its paths name.
report_body() {
  python3 - "$1" <<'PY'
import json, os, sys
path = sys.argv[1]
with open(path) as f:
    r = json.load(f)
for key in ("run", "timings_s", "device"):
    r.pop(key, None)
for method in ("weights_of_evidence", "logistic_regression", "trees"):
    r.get(method, {}).pop("training_seconds", None)
print(json.dumps(r, indent=1).replace(os.path.dirname(path) + "/", "OUT/"))
PY
}
for model in iocg_wofe_multiclass iocg_logistic iocg_boosted_trees; do
  m="$src/data-samples/cloncurry/$model.toml"
  for n in 1 2 3; do
    # The trees on 1 and 2 ranks only (they train twice: the map's model and the hold-out one).
    [ "$model" = iocg_boosted_trees ] && [ "$n" = 3 ] && continue
    d="$tmp/$model/np$n"; mkdir -p "$d"
    # Windows of 32 rows: 78 bands of the 2487-row grid, several per rank.
    if [ "$n" = 1 ]; then
      "$exe" run "$m" -o "$d/map.tif" --quiet --window-rows 32 >/dev/null
      continue
    fi
    mpirun --oversubscribe -np "$n" "$exe" run "$m" -o "$d/map.tif" --quiet --window-rows 32 \
      >"$tmp/out_$n.txt" 2>"$tmp/err_$n.txt" || { cat "$tmp/err_$n.txt" >&2; fail "$model: mpirun -np $n failed"; }
    [ "$(grep -c '^wrote ' "$tmp/out_$n.txt")" = 1 ] || fail "$model: -np $n: expected one 'wrote' line from rank 0"
    [ ! -s "$tmp/err_$n.txt" ] || { cat "$tmp/err_$n.txt" >&2; fail "$model: -np $n wrote to stderr"; }
    ref="$tmp/$model/np1"
    [ "$(ls "$ref")" = "$(ls "$d")" ] || fail "$model: -np $n wrote other files: $(ls "$d")"
    for f in "$ref"/*; do
      name=$(basename "$f")
      case "$name" in
        *_report.json) [ "$(report_body "$f")" = "$(report_body "$d/$name")" ] ||
                         fail "$model: -np $n report differs from one process" ;;
        # A GeoPackage holds the time it was written: its features and fields must be equal.
        *.gpkg) [ "$(ogrinfo -ro -al -q "$f" | sed 1d)" = "$(ogrinfo -ro -al -q "$d/$name" | sed 1d)" ] ||
                  fail "$model: -np $n $name features differ from one process" ;;
        *) cmp "$f" "$d/$name" || fail "$model: -np $n $name differs from one process" ;;
      esac
    done
    echo "ok: $model -np $n: all $(ls "$d" | wc -l) files (map, side files, report) identical"
  done
done

# Trained models on a grid wider than a column segment: training reads the runner's column
# windows (256 rows x 8192 columns), so its memory is bounded by the window, not the width.
# Weights of evidence counts integers: column windows give the same tables and map as
# full-width windows (--window-rows), and -np 2 and 3 the same as one process; logistic
# regression's sums are folded window by window, so -np 2 and 3 match one process exactly.
wt="$tmp/wide_trained"
for f in "$src"/data-samples/cloncurry/inputs_*/*.tif; do
  d="$wt/$(basename "$(dirname "$f")")"; mkdir -p "$d"
  # (GDAL warns that a Byte layer's out-of-range nodata value is clamped: harmless here.)
  gdal_translate -q -outsize 17000 400 -r nearest "$f" "$d/$(basename "$f")" 2>/dev/null
done
for model in iocg_wofe_multiclass iocg_logistic; do
  sed -e "s#path = \"inputs_#path = \"$wt/inputs_#" \
      -e "s#deposits = \"deposits/#deposits = \"$src/data-samples/cloncurry/deposits/#" \
      "$src/data-samples/cloncurry/$model.toml" >"$wt/$model.toml"
  grep -q "path = \"$wt/inputs_" "$wt/$model.toml" || fail "wide $model: model not rewritten"
  mkdir -p "$wt/$model/one" "$wt/$model/full"
  "$exe" run "$wt/$model.toml" -o "$wt/$model/one/map.tif" --quiet >/dev/null
  if [ "$model" = iocg_wofe_multiclass ]; then
    "$exe" run "$wt/$model.toml" -o "$wt/$model/full/map.tif" --quiet --window-rows 256 >/dev/null
    for f in "$wt/$model/one"/*.tif "$wt/$model/one"/*.csv; do
      cmp "$f" "$wt/$model/full/$(basename "$f")" ||
        fail "wide $model: $(basename "$f") differs between column and full-width windows"
    done
    echo "ok: wide $model: column windows give the full-width windows' map and tables"
  fi
  same_with_ranks "wide $model (column windows)" "$wt/$model.toml" "$wt/$model/one/map.tif"
done

# A rank that fails: non-zero exit, an error line naming the rank, nothing left in the folder
# (a trained model's side files included).
for model in sirsam/ree_radiometric cloncurry/iocg_wofe_binary; do
  rm -rf "$tmp/fail"; mkdir -p "$tmp/fail"
  set +e
  GP_TEST_FAIL_RANK=1 mpirun --oversubscribe -np 2 -x GP_TEST_FAIL_RANK "$exe" run \
    "$src/data-samples/$model.toml" -o "$tmp/fail/map.tif" --quiet --window-rows 16 \
    >/dev/null 2>"$tmp/fail_err.txt"
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "$model: a failing rank gave exit code 0"
  grep -q "geoprospect: error: rank 1/2: injected fault" "$tmp/fail_err.txt" || { cat "$tmp/fail_err.txt" >&2; fail "$model: no clear error line naming the rank"; }
  left=$(ls -A "$tmp/fail")
  [ -z "$left" ] || fail "$model: files left after a rank failure: $left"
  echo "ok: $model: rank failure -> exit $rc, clear message, no output"
done

# An error every rank meets (the model's layers are missing): one error line, rank 0's, not one
# per rank; exit code 4 (input); nothing written.
rm -rf "$tmp/same"; mkdir -p "$tmp/same"
cp "$src/data-samples/sirsam/ree_radiometric.toml" "$tmp/same/model.toml"  # layer paths now dangle
set +e
mpirun --oversubscribe -np 3 "$exe" run "$tmp/same/model.toml" -o "$tmp/same/map.tif" --quiet \
  >/dev/null 2>"$tmp/same_err.txt"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "missing layers under -np 3 gave exit code 0"
n_err=$(grep -c 'geoprospect: error:' "$tmp/same_err.txt" || true)
[ "$n_err" = 1 ] || { cat "$tmp/same_err.txt" >&2; fail "an error every rank meets: $n_err error lines, expected 1"; }
grep -q 'geoprospect: error: rank 0/3: .*layer' "$tmp/same_err.txt" || { cat "$tmp/same_err.txt" >&2; fail "the error line is not rank 0's or does not name the layer"; }
[ ! -e "$tmp/same/map.tif" ] || fail "a map was written despite the error"
echo "ok: an error on every rank -> exit $rc, one line (rank 0's)"
rm -rf "$tmp"
