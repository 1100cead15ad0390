#!/usr/bin/python3
"""Deterministic synthetic weights-of-evidence benchmark data.

Writes OUTDIR/ev_01.tif .. ev_NN.tif (Byte class rasters, EPSG:5070, 30 m cells, tiled 256 x 256,
DEFLATE, nodata 0 with a few holes), OUTDIR/deposits.csv (N deposits, x/y in EPSG:5070, drawn
where the evidence is favourable), OUTDIR/wofe.toml (a geoprospect weights-of-evidence model on
every layer: "distance" layers ascending, "density" layers descending, "geology" layers
categorical) and OUTDIR/read.toml (a weighted-sum model with automatic min/max on the same
layers, whose statistics pass is a plain read of every layer: the baseline).

Usage: /usr/bin/python3 bench/wofe_gen.py OUTDIR [--size 8192] [--layers 10] [--deposits 500]
                                          [--seed 7]

Everything is a function of (row, col, seed), generated in blocks of 256 rows, so memory stays
bounded whatever the size and deposits can be drawn without reading the rasters back.
"""

import argparse
import os
import sys

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

BLOCK = 256
CELL_M = 30.0
X0 = -1000000.0
Y0 = 2000000.0


def kind_of(i):
    return ("distance", "density", "geology")[i % 3]


def classes_at(i, seed, rows, cols, size):
    """Class values of layer i at integer arrays rows, cols (broadcast)."""
    k = kind_of(i)
    r = rows.astype(np.float64) / size
    c = cols.astype(np.float64) / size
    ph = (seed * 0.37 + i * 1.7) % 6.28
    f = (np.sin(2 * np.pi * (3 + i % 4) * r + ph) + np.sin(2 * np.pi * (2 + i % 5) * c - ph)
         + 0.5 * np.sin(2 * np.pi * 11 * (r + c) + i))
    u = (f + 2.5) / 5.0  # about 0..1
    if k == "distance":
        v = np.clip(np.floor(u * 20) + 1, 1, 20)           # 1..20, low favourable
    elif k == "density":
        v = np.clip(np.floor(u * 10) + 1, 1, 10)           # 1..10, high favourable
    else:
        v = (np.floor(r * (5 + i)) * 7 + np.floor(c * (4 + i)) * 3 + i) % 30 + 1  # 1..30
    # Holes (nodata 0): a disc per layer.
    cy = 0.2 + 0.6 * ((i * 0.618) % 1.0)
    cx = 0.2 + 0.6 * ((i * 0.382 + 0.5) % 1.0)
    hole = (r - cy) ** 2 + (c - cx) ** 2 < 0.0004
    return np.where(hole, 0, v).astype(np.uint8)


def favourability(i, v):
    k = kind_of(i)
    if k == "distance":
        return (20 - v) / 19.0
    if k == "density":
        return (v - 1) / 9.0
    return ((v * 7) % 30) / 29.0


def write_layer(path, i, seed, size, srs_wkt):
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, size, size, 1, gdal.GDT_Byte,
                    ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE",
                     "PREDICTOR=2", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"])
    ds.SetGeoTransform([X0, CELL_M, 0, Y0, 0, -CELL_M])
    ds.SetProjection(srs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(0)
    cols = np.arange(size)[None, :]
    for r0 in range(0, size, BLOCK):
        rows = np.arange(r0, min(size, r0 + BLOCK))[:, None]
        band.WriteArray(classes_at(i, seed, rows, cols, size), 0, r0)
    ds = None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--deposits", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    os.makedirs(a.outdir, exist_ok=True)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(5070)
    wkt = srs.ExportToWkt()
    for i in range(a.layers):
        p = os.path.join(a.outdir, f"ev_{i + 1:02d}.tif")
        if not os.path.exists(p):
            write_layer(p, i, a.seed, a.size, wkt)
    # Deposits: candidate cells accepted with a probability rising with mean favourability.
    rng = np.random.default_rng(a.seed)
    xs, ys = [], []
    while len(xs) < a.deposits:
        rows = rng.integers(0, a.size, 4096)
        cols = rng.integers(0, a.size, 4096)
        fav = np.zeros(4096)
        ok = np.ones(4096, bool)
        for i in range(a.layers):
            v = classes_at(i, a.seed, rows, cols, a.size).astype(np.float64)
            ok &= v > 0
            fav += favourability(i, v)
        fav /= a.layers
        accept = ok & (rng.random(4096) < 0.002 * np.exp(6 * fav))
        for r, c in zip(rows[accept], cols[accept]):
            if len(xs) < a.deposits:
                xs.append(X0 + (c + rng.random()) * CELL_M)
                ys.append(Y0 - (r + rng.random()) * CELL_M)
    with open(os.path.join(a.outdir, "deposits.csv"), "w") as f:
        f.write("name,x,y\n")
        for k, (x, y) in enumerate(zip(xs, ys)):
            f.write(f"dep{k + 1},{x:.3f},{y:.3f}\n")
    types = {"distance": "ascending", "density": "descending", "geology": "categorical"}
    with open(os.path.join(a.outdir, "wofe.toml"), "w") as f:
        f.write('[model]\nname = "wofe-bench"\n\n[training]\ndeposits = "deposits.csv"\n'
                'x_column = "x"\ny_column = "y"\ncrs = "EPSG:5070"\nname_column = "name"\n'
                'unit_cell_km2 = 1.0\n')
        for i in range(a.layers):
            f.write(f'\n[[layer]]\nname = "ev_{i + 1:02d}"\npath = "ev_{i + 1:02d}.tif"\n'
                    f'resampling = "nearest"\nwofe = {{ type = "{types[kind_of(i)]}" }}\n')
        f.write('\n[combine]\nmethod = "wofe"\n\n[output]\npath = "wofe.tif"\nquicklook = false\n'
                'classes = false\nstyle = false\n')
    with open(os.path.join(a.outdir, "read.toml"), "w") as f:
        f.write('[model]\nname = "read-bench"\n')
        for i in range(a.layers):
            f.write(f'\n[[layer]]\nname = "ev_{i + 1:02d}"\npath = "ev_{i + 1:02d}.tif"\n'
                    f'resampling = "nearest"\ntransform = {{ kind = "linear" }}\n')
        f.write('\n[output]\npath = "read.tif"\nquicklook = false\nclasses = false\n'
                'style = false\n')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
