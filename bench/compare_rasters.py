#!/usr/bin/python3
"""Compares two single-band rasters cell by cell, block by block (bounded memory).

Usage: /usr/bin/python3 bench/compare_rasters.py A.tif B.tif [--json]

A cell is nodata in a raster when it equals that band's nodata value or is not finite. Reports
the maximum absolute difference over cells valid in both, the number of cells whose nodata
status differs (nodata in one raster only), and each raster's nodata count. Exit status 0 when
the rasters could be compared (whatever the differences), 1 when they cannot (sizes differ,
unreadable).
"""

import argparse
import json
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()


def invalid(block, nodata):
    bad = ~np.isfinite(block)
    if nodata is not None and np.isfinite(nodata):
        bad |= block == np.float32(nodata)
    return bad


def compare(path_a, path_b, block_rows=256):
    a = gdal.Open(path_a)
    b = gdal.Open(path_b)
    if (a.RasterXSize, a.RasterYSize) != (b.RasterXSize, b.RasterYSize):
        raise ValueError(f"sizes differ: {path_a} is {a.RasterXSize} x {a.RasterYSize}, "
                         f"{path_b} is {b.RasterXSize} x {b.RasterYSize}")
    ba, bb = a.GetRasterBand(1), b.GetRasterBand(1)
    nda, ndb = ba.GetNoDataValue(), bb.GetNoDataValue()
    w, h = a.RasterXSize, a.RasterYSize
    res = {"a": path_a, "b": path_b, "width": w, "height": h, "nodata_value_a": nda,
           "nodata_value_b": ndb, "valid_both": 0, "nodata_a": 0, "nodata_b": 0,
           "mismatches": 0, "max_abs_diff": 0.0, "max_diff_at": None,
           "gt_equal": a.GetGeoTransform() == b.GetGeoTransform()}
    for row0 in range(0, h, block_rows):
        rows = min(block_rows, h - row0)
        va = ba.ReadAsArray(0, row0, w, rows).astype(np.float32, copy=False)
        vb = bb.ReadAsArray(0, row0, w, rows).astype(np.float32, copy=False)
        ia, ib = invalid(va, nda), invalid(vb, ndb)
        res["nodata_a"] += int(ia.sum())
        res["nodata_b"] += int(ib.sum())
        res["mismatches"] += int((ia != ib).sum())
        ok = ~ia & ~ib
        n = int(ok.sum())
        if n:
            d = np.where(ok, np.abs(va.astype(np.float64) - vb.astype(np.float64)), 0.0)
            k = int(np.argmax(d))
            if d.flat[k] > res["max_abs_diff"]:
                res["max_abs_diff"] = float(d.flat[k])
                res["max_diff_at"] = [row0 + k // w, k % w]
            res["valid_both"] += n
    return res


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    try:
        res = compare(args.a, args.b)
    except (RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(res))
    else:
        print(f"max |a-b| over {res['valid_both']} cells valid in both: {res['max_abs_diff']:.3g}"
              f" (at row, col {res['max_diff_at']})")
        print(f"nodata: {res['nodata_a']} in a, {res['nodata_b']} in b, "
              f"{res['mismatches']} cells nodata in one only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
