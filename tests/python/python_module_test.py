#!/usr/bin/python3
"""The Python module `geoprospect` (cli/python/) against the program and GDAL.

Each function (run with a file, TOML text and a dict; validate; territories; read; the progress
callback), each exception class for one bad input (same exit code category and one-line message
as `geoprospect` itself), a dict model's pixels equal to the TOML file's bit for bit, and Ctrl-C
(SIGINT) during a run in a child interpreter (KeyboardInterrupt, no partial file, the older
output intact, the interpreter still works).

Usage: python_module_test.py GEOPROSPECT_EXE SOURCE_DIR SCRATCH_DIR   (PYTHONPATH=build/python)
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import tomllib

import numpy as np
from osgeo import gdal, ogr

import geoprospect

gdal.UseExceptions()
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Checks  # noqa: E402 (tests/support/checks.py)

check = Checks()


def pixels(path, band=1):
    ds = gdal.Open(path)
    return ds.GetRasterBand(band).ReadAsArray()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cli(exe, *args, env=None):
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env)


def test_run_and_read(exe, model, scratch):
    """run() from a file writes what the program writes; read() is GDAL's view of it."""
    cli_out = os.path.join(scratch, "cli", "map.tif")
    os.makedirs(os.path.dirname(cli_out))
    r = cli(exe, "run", model, "-o", cli_out, "-q")
    check(r.returncode == 0, "geoprospect run exits 0 (%s)" % r.stderr.strip())
    py_out = os.path.join(scratch, "file", "map.tif")
    os.makedirs(os.path.dirname(py_out))
    calls = []
    res = geoprospect.run(model, output=py_out, device="cpu",
                          progress=lambda f, m: calls.append((f, m)))
    check(res.output == py_out and os.path.isfile(py_out), "run(file) wrote the output it names")
    check(res.files[-1] == py_out and all(os.path.isfile(f) for f in res.files),
          "result.files exist, the map last")
    check(sorted(os.listdir(os.path.dirname(py_out))) ==
          sorted(os.listdir(os.path.dirname(cli_out))), "the same files as the program's run")
    ds = gdal.Open(py_out)
    check((res.grid["width"], res.grid["height"]) == (ds.RasterXSize, ds.RasterYSize),
          "result.grid has GDAL's size of the map")
    check(tuple(res.grid["geotransform"]) == ds.GetGeoTransform(), "result.grid geotransform")
    for band in range(1, ds.RasterCount + 1):
        check(np.array_equal(pixels(py_out, band), pixels(cli_out, band), equal_nan=True),
              "band %d: the module's pixels equal the program's" % band)
    check(all(res.timings[k] >= 0 for k in ("statistics", "scoring", "outputs")),
          "timings per stage: %s" % sorted(res.timings))
    with open(py_out[:-4] + "_report.json") as f:
        import json
        check(res.report == json.load(f), "result.report is the run report")
    values = pixels(py_out)
    nd = ds.GetRasterBand(1).GetNoDataValue()
    valid = int(np.count_nonzero(values != nd))
    check(res.valid_cells == valid, "valid cells = GDAL's count of non-nodata cells (%d)" % valid)
    fr = [c[0] for c in calls]
    check(len(calls) >= 3 and fr == sorted(fr) and fr[0] == 0.0 and fr[-1] == 1.0,
          "progress: fractions rise from 0 to 1 (%d calls)" % len(calls))
    check({"statistics", "scoring"} <= {c[1] for c in calls}, "progress: messages name stages")

    arr, mask, gt = geoprospect.read(py_out)
    check(arr.dtype == np.float32 and arr.shape == (ds.RasterYSize, ds.RasterXSize),
          "read(): float32 rows x columns")
    check(np.array_equal(arr, values.astype(np.float32)), "read(): GDAL's values")
    check(np.array_equal(mask, values == nd), "read(): mask = GDAL's nodata cells")
    check(tuple(gt) == ds.GetGeoTransform(), "read(): GDAL's geotransform")
    return py_out


def absolute_paths(d, base):
    """The model dict with its file paths absolute (a dict resolves them from the cwd)."""
    for layer in d.get("layer", []):
        layer["path"] = os.path.join(base, layer["path"])
    d.pop("output", None)
    return d


def test_dict_and_text(model, scratch, file_map):
    """A dict and TOML text give the file's pixels bit for bit."""
    with open(model, "rb") as f:
        d = absolute_paths(tomllib.load(f), os.path.dirname(os.path.abspath(model)))
    out = os.path.join(scratch, "dict", "map.tif")
    os.makedirs(os.path.dirname(out))
    res = geoprospect.run(d, output=out, device="cpu")
    ds = gdal.Open(file_map)
    for band in range(1, ds.RasterCount + 1):
        check(pixels(out, band).tobytes() == pixels(file_map, band).tobytes(),
              "dict model: band %d bit for bit the TOML file's" % band)
    cls = lambda p: p[:-4] + "_classes.tif"
    check(pixels(cls(out)).tobytes() == pixels(cls(file_map)).tobytes(),
          "dict model: classes bit for bit the TOML file's")
    check(res.report["statistics"] is not None, "dict run has a report")
    with open(model) as f:
        text = f.read()
    base = os.path.dirname(os.path.abspath(model))
    cwd = os.getcwd()
    os.chdir(base)  # text models take relative paths from the current folder
    try:
        out2 = os.path.join(scratch, "text", "map.tif")
        os.makedirs(os.path.dirname(out2))
        geoprospect.run(text, output=out2, device="cpu")
    finally:
        os.chdir(cwd)
    check(pixels(out2).tobytes() == pixels(file_map).tobytes(), "TOML text: the file's pixels")


def test_validate(exe, map_path, scratch):
    """validate() writes the program's files and finds every deposit given."""
    ds = gdal.Open(map_path)
    gt = ds.GetGeoTransform()
    values = pixels(map_path)
    nd = ds.GetRasterBand(1).GetNoDataValue()
    rows, cols = np.nonzero(values != nd)
    pick = np.linspace(0, len(rows) - 1, 12).astype(int)  # 12 valid cells spread over the map
    csv = os.path.join(scratch, "deposits.csv")
    with open(csv, "w") as f:
        f.write("name,x,y\n")
        for i, k in enumerate(pick):
            x = gt[0] + (cols[k] + 0.5) * gt[1]
            y = gt[3] + (rows[k] + 0.5) * gt[5]
            f.write("d%d,%.3f,%.3f\n" % (i, x, y))
    opts = dict(x_column="x", y_column="y", crs="EPSG:3577", name_column="name")
    py_dir = os.path.join(scratch, "val_py")
    v = geoprospect.validate(map_path, csv, out=py_dir, device="cpu", **opts)
    check(len(v["files"]) >= 4 and all(os.path.isfile(f) for f in v["files"]),
          "validate(): files written")
    src = ogr.Open(csv)  # kept: a layer outlives no dataset in GDAL's bindings
    n_ogr = src.GetLayer(0).GetFeatureCount()
    check(v["deposits_used"] == n_ogr == 12, "validate(): the 12 deposits OGR reads are used")
    cli_dir = os.path.join(scratch, "val_cli")
    r = cli(exe, "validate", map_path, "--deposits", csv, "--x-column", "x", "--y-column", "y",
            "--crs", "EPSG:3577", "--name-column", "name", "--out", cli_dir, "--device", "cpu",
            "-q")
    check(r.returncode == 0, "geoprospect validate exits 0 (%s)" % r.stderr.strip())
    import json
    with open(os.path.join(cli_dir, "map_validation.json")) as f:
        c = json.load(f)
    check(v["success_rate"]["auc"] == c["success_rate"]["auc"] and
          v["success_rate"]["roc_auc"] == c["success_rate"]["roc_auc"],
          "validate(): the program's AUCs")
    strip = lambda d: {k: d[k] for k in d if k not in ("files", "seconds")}
    check(strip(v) == strip(c), "validate(): the program's validation JSON")
    # blocks= is --blocks: the same folds as the command's, and it needs a split.
    vb = geoprospect.validate(map_path, csv, out=py_dir, device="cpu", kfold=3, blocks=5,
                              overwrite=True, **opts)
    r = cli(exe, "validate", map_path, "--deposits", csv, "--x-column", "x", "--y-column", "y",
            "--crs", "EPSG:3577", "--name-column", "name", "--out", cli_dir, "--device", "cpu",
            "--kfold", "3", "--blocks", "5", "--overwrite", "-q")
    check(r.returncode == 0, "geoprospect validate --blocks exits 0 (%s)" % r.stderr.strip())
    with open(os.path.join(cli_dir, "map_validation.json")) as f:
        cb = json.load(f)
    check(vb["split"]["fold_assignment"] == "spatial blocks of 5 km" and
          [f["held_out"] for f in vb["split"]["folds"]] ==
          [f["held_out"] for f in cb["split"]["folds"]],
          "validate(blocks=5): the command's spatial folds")
    try:
        geoprospect.validate(map_path, csv, out=py_dir, device="cpu", blocks=5, **opts)
        check(False, "blocks without kfold raises UsageError")
    except geoprospect.UsageError as e:
        check(e.exit_code == 2 and "blocks" in str(e), "blocks without a split: UsageError (2)")


def program_territories(exe):
    """(code, name, crs) per line of `geoprospect territories` (columns under its header)."""
    lines = cli(exe, "territories").stdout.split("\n\n")[0].splitlines()
    name_at, crs_at = lines[0].index("NAME"), lines[0].index("CRS")
    return [(l[:name_at].strip(), l[name_at:crs_at].strip(), l[crs_at:].strip())
            for l in lines[1:]]


def test_territories(exe):
    t = geoprospect.territories()
    expected = program_territories(exe)
    check([(x["code"], x["name"], x["crs"]) for x in t] == expected,
          "territories(): the program's code, name and CRS (%d)" % len(expected))
    check(len(expected) > 50 and all(x["note"] for x in t), "territories(): each has a note")


def expect_error(cls, code, exe, cli_args, call, what, env=None):
    """`call` raises `cls` with the message and exit code of `geoprospect cli_args`."""
    r = cli(exe, *cli_args, env=env)
    line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    prefix = "geoprospect: error: "
    try:
        call()
        check(False, "%s: %s raised" % (what, cls.__name__))
        return
    except geoprospect.Error as e:
        check(type(e) is cls and isinstance(e, geoprospect.Error),
              "%s: %s raised (got %s: %s)" % (what, cls.__name__, type(e).__name__, e))
        check(e.exit_code == code == r.returncode, "%s: exit code %d, the program's" % (what, code))
        check(line.startswith(prefix) and str(e) == line[len(prefix):],
              "%s: the program's message (%r)" % (what, str(e)))


def test_errors(exe, model, scratch):
    bad = os.path.join(scratch, "bad_model.toml")
    with open(bad, "w") as f:
        f.write('[model]\nname = "bad"\n[[layer]]\nname = "a"\npath = "a.tif"\n'
                'transform = { kind = "sideways" }\n')
    out = os.path.join(scratch, "err.tif")
    expect_error(geoprospect.ModelError, 3, exe, ["run", bad, "-o", out],
                 lambda: geoprospect.run(bad, output=out), "an unknown transform")
    missing = os.path.join(scratch, "missing_layer.toml")
    with open(model) as f:
        text = f.read().replace('path = "k_15v5.tif"', 'path = "no_such_layer.tif"')
    base = os.path.dirname(os.path.abspath(model))
    with open(missing, "w") as f:
        f.write(text.replace('"U_15v1.tif"', '"%s/U_15v1.tif"' % base)
                    .replace('"U_TH_15.tif"', '"%s/U_TH_15.tif"' % base)
                    .replace('"gg_clip.tif"', '"%s/gg_clip.tif"' % base))
    expect_error(geoprospect.InputError, 4, exe, ["run", missing, "-o", out],
                 lambda: geoprospect.run(missing, output=out), "a missing layer")
    nowhere = os.path.join(scratch, "no_such_folder", "map.tif")
    expect_error(geoprospect.OutputError, 5, exe, ["run", model, "-o", nowhere],
                 lambda: geoprospect.run(model, output=nowhere), "an output folder that is missing")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    expect_error(geoprospect.DeviceError, 6, exe, ["run", model, "-o", out, "--device", "cuda"],
                 lambda: geoprospect.run(model, output=out, device="cuda"),
                 "--device cuda without a CUDA device", env=env)
    try:
        geoprospect.run(model, output=out, device="gpu")
        check(False, "device='gpu' raises UsageError")
    except geoprospect.UsageError as e:
        check(isinstance(e, ValueError) and e.exit_code == 2, "device='gpu': UsageError (2)")
    try:
        geoprospect.run({"model": {"name": object()}}, output=out)
        check(False, "a dict with an object raises ModelError")
    except geoprospect.ModelError as e:
        check("model.name" in str(e), "a dict value TOML cannot hold: ModelError naming it (%s)" % e)
    check(not os.path.exists(out), "no output after the failures")


CHILD = textwrap.dedent("""
    import sys, time, geoprospect
    model, out, again = sys.argv[1:4]
    def slow(fraction, message):
        print("progress", fraction, flush=True)
        time.sleep(0.2)
    try:
        geoprospect.run(model, output=out, overwrite=True, device="cpu", progress=slow,
                        window_rows=8)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        geoprospect.run(model, output=again, device="cpu")  # the interpreter goes on
        print("rerun ok", flush=True)
        sys.exit(42)
""")


def test_sigint(exe, model, scratch):
    folder = os.path.join(scratch, "sigint")
    os.makedirs(folder)
    out = os.path.join(folder, "map.tif")
    r = cli(exe, "run", model, "-o", out, "-q")  # the older output, to be kept intact
    check(r.returncode == 0, "older output written")
    before = {f: digest(os.path.join(folder, f)) for f in os.listdir(folder)}
    again = os.path.join(scratch, "sigint_again.tif")
    child = subprocess.Popen([sys.executable, "-c", CHILD, model, out, again],
                             stdout=subprocess.PIPE, text=True)
    seen = 0
    for line in child.stdout:
        if line.startswith("progress"):
            seen += 1
            if seen == 3:  # well inside the statistics pass
                child.send_signal(signal.SIGINT)
                break
    rest = child.stdout.read()
    rc = child.wait(timeout=120)
    check(rc == 42 and "interrupted" in rest, "SIGINT: KeyboardInterrupt in the run (rc %d)" % rc)
    check("rerun ok" in rest and os.path.isfile(again), "SIGINT: the interpreter runs again")
    after = {f: digest(os.path.join(folder, f)) for f in os.listdir(folder)}
    check(after == before, "SIGINT: no partial file, the older output intact (%s)"
          % sorted(set(after) ^ set(before)))


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    exe, source, scratch = sys.argv[1:4]
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    model = os.path.join(source, "data-samples", "sirsam", "ree_radiometric.toml")
    try:
        file_map = test_run_and_read(exe, model, scratch)
        test_dict_and_text(model, scratch, file_map)
        test_validate(exe, file_map, scratch)
        test_territories(exe)
        test_errors(exe, model, scratch)
        test_sigint(exe, model, scratch)
    except Exception:
        check.unexpected()
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
