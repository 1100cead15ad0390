#!/usr/bin/python3
"""Validation benchmark: `geoprospect validate` time against map size, and its AUCs
against an independent numpy computation (sort + searchsorted over every valid cell).

Usage: /usr/bin/python3 bench/validation_bench.py GEOPROSPECT [--sizes 2048,4096,8192]
       [--deposits 1000] [--device cpu] [--threads 0] [--workdir bench/work/validation]

Per size it writes a Float32 map (tiled 512, DEFLATE, EPSG:5070, nodata -9999, ~5 % nodata,
scores quantised to 1/4096 so there are many ties) and a CSV of deposits drawn towards high
scores (x/y in EPSG:5070), runs `geoprospect validate`, and prints one line per size:
cells, deposits, seconds, cells/s, success AUC and ROC AUC from geoprospect and from numpy and
their differences. Everything derives from a fixed seed.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()
X0, Y0, CELL = -1000000.0, 2000000.0, 30.0


def make_map(path, size, rng):
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, size, size, 1, gdal.GDT_Float32,
                    ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform([X0, CELL, 0, Y0, 0, -CELL])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(5070)
    ds.SetProjection(srs.ExportToWkt())
    b = ds.GetRasterBand(1)
    b.SetNoDataValue(-9999.0)
    full = np.empty((size, size), dtype=np.float32)
    yy = np.arange(size, dtype=np.float64)[:, None] / size
    for r0 in range(0, size, 512):
        rows = min(512, size - r0)
        x = np.arange(size, dtype=np.float64)[None, :] / size
        y = yy[r0:r0 + rows]
        base = 0.5 + 0.25 * np.sin(7 * x + 3 * y) + 0.2 * np.cos(11 * y - 5 * x)
        noise = rng.random((rows, size)) * 0.1
        v = np.floor(np.clip(base + noise - 0.05, 0, 1) * 4096) / 4096
        v = v.astype(np.float32)
        v[rng.random((rows, size)) < 0.05] = -9999.0
        full[r0:r0 + rows] = v
        b.WriteArray(v, 0, r0)
    ds = None
    return full


def make_deposits(path, full, n, rng):
    size = full.shape[0]
    rows = []
    while len(rows) < n:
        c, r = rng.integers(0, size, 2)
        # favour high scores: keep with probability score^4
        v = full[r, c]
        if v == -9999.0 or rng.random() > v ** 4:
            continue
        rows.append((len(rows), X0 + (c + 0.5) * CELL, Y0 - (r + 0.5) * CELL, r, c))
    with open(path, "w") as f:
        f.write("name,x,y\n")
        for i, x, y, _, _ in rows:
            f.write(f"d{i},{x!r},{y!r}\n")
    return [(r, c) for _, _, _, r, c in rows]


def numpy_aucs(full, cells):
    valid = np.sort(full[full != -9999.0].astype(np.float64))
    n = valid.size
    s = np.array([full[r, c] for r, c in cells], dtype=np.float64)
    below = np.searchsorted(valid, s, side="left")
    upto = np.searchsorted(valid, s, side="right")
    above = n - upto
    equal = upto - below
    success = 1.0 - np.mean((above + 0.5 * equal) / n)
    uniq = sorted(set(cells))
    ps = np.sort(np.array([full[r, c] for r, c in uniq], dtype=np.float64))
    p = ps.size
    q = n - p
    pb = np.searchsorted(valid, ps, side="left")
    pu = np.searchsorted(valid, ps, side="right")
    pos_below = np.searchsorted(ps, ps, side="left")
    pos_upto = np.searchsorted(ps, ps, side="right")
    neg_below = pb - pos_below
    neg_equal = (pu - pb) - (pos_upto - pos_below)
    roc = float(np.sum(neg_below + 0.5 * neg_equal)) / (p * q)
    return success, roc, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("geoprospect")
    ap.add_argument("--sizes", default="2048,4096,8192")
    ap.add_argument("--deposits", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", default="0")
    ap.add_argument("--workdir", default=os.path.join(os.path.dirname(__file__), "work", "validation"))
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    print("size,cells,deposits,seconds,cells_per_s,auc,auc_numpy,roc_auc,roc_auc_numpy,max_abs_diff")
    for size in [int(s) for s in a.sizes.split(",")]:
        rng = np.random.default_rng(size)
        d = os.path.join(a.workdir, f"s{size}")
        os.makedirs(d, exist_ok=True)
        mp = os.path.join(d, "map.tif")
        full = make_map(mp, size, rng)
        dp = os.path.join(d, "deposits.csv")
        cells = make_deposits(dp, full, a.deposits, rng)
        cmd = [a.geoprospect, "validate", mp, "--deposits", dp, "--x-column", "x", "--y-column", "y",
               "--crs", "EPSG:5070", "--name-column", "name", "--out", d, "--overwrite",
               "--device", a.device, "--threads", a.threads]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
        with open(os.path.join(d, "map_validation.json")) as f:
            j = json.load(f)
        auc, roc = j["success_rate"]["auc"], j["success_rate"]["roc_auc"]
        na, nr, n = numpy_aucs(full, cells)
        diff = max(abs(auc - na), abs(roc - nr))
        print(f"{size},{n},{len(cells)},{secs:.3f},{n / secs:.3e},{auc:.9f},{na:.9f},{roc:.9f},{nr:.9f},{diff:.2e}",
              flush=True)
        if diff > 1e-6:
            print(f"error: AUC differs from numpy by {diff}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
