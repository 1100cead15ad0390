#!/usr/bin/python3
"""Deterministic synthetic evidence layers for geoprospect benchmarks.

Writes OUTDIR/layer_1.tif .. layer_N.tif (Float32, EPSG:5070, 30 m cells, tiled 256 x 256,
DEFLATE + floating-point predictor, nodata -9999 with holes), OUTDIR/stats.json (each layer's
exact min and max over valid cells, as stored in float32), OUTDIR/model.toml (a geoprospect
weighted-sum model with those min/max written out) and OUTDIR/model_autostats.toml (the same
model without min/max, so geoprospect computes them in a first pass).

Usage: /usr/bin/python3 bench/gen_layers.py OUTDIR [--size 8192] [--layers 6] [--seed 42]

Values are smooth-ish (sums of sines in x, y and along diagonals) plus deterministic noise, with
a different range per layer. Holes differ per layer: a few discs, a horizontal and a vertical
stripe, and scattered single-cell dropouts. Everything derives from --seed; the file is
generated in blocks of 256 rows (one tile row), so memory stays bounded whatever the size.
Bit-identical output is expected for the same seed, size, numpy and GDAL on the same CPU
(numpy's vectorised sin may round differently on other CPUs; stats.json always records what was
actually written).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

NODATA = -9999.0
BLOCK_ROWS = 256  # one tile row; part of the deterministic recipe (noise is drawn per block)
CELL_M = 30.0
X0 = -1000000.0  # EPSG:5070 (CONUS Albers), around the middle of the US
Y0 = 2000000.0

# Per layer: name, value range (lo, hi); loosely REE-flavoured evidence.
LAYER_KINDS = [
    ("potassium_pct", 0.0, 5.0),
    ("uranium_ppm", 0.0, 40.0),
    ("thorium_ppm", 2.0, 60.0),
    ("u_th_ratio", 0.02, 0.6),
    ("gravity_mgal", -80.0, 40.0),
    ("magnetics_nt", -500.0, 1500.0),
]
WEIGHTS_6 = [0.25, 0.2, 0.15, 0.15, 0.15, 0.1]


def layer_kind(i):
    name, lo, hi = LAYER_KINDS[i % len(LAYER_KINDS)]
    if i >= len(LAYER_KINDS):
        name = f"{name}_{i // len(LAYER_KINDS) + 1}"
    return name, lo, hi


def default_weights(n):
    if n == len(WEIGHTS_6):
        return list(WEIGHTS_6)
    raw = [float(n - i) for i in range(n)]
    s = sum(raw)
    return [w / s for w in raw]


class LayerRecipe:
    """Everything random about one layer, drawn once from (seed, layer index)."""

    def __init__(self, seed, index, size):
        rng = np.random.default_rng([seed, index, 7919])
        self.index = index
        self.size = size
        self.name, self.lo, self.hi = layer_kind(index)
        # Separable waves: a * sin(2 pi (fx x + px)) * cos(2 pi (fy y + py)), x, y in [0, 1).
        n_sep = 3
        self.sep = [
            (rng.uniform(0.5, 1.5), rng.uniform(0.5, 6.0), rng.uniform(0, 1),
             rng.uniform(0.5, 6.0), rng.uniform(0, 1))
            for _ in range(n_sep)
        ]
        # Diagonal waves: a * sin(2 pi (u x + v y + p)) = a (sin U cos V + cos U sin V).
        n_diag = 2
        self.diag = [
            (rng.uniform(0.3, 1.0), rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(0, 1))
            for _ in range(n_diag)
        ]
        self.amp = sum(s[0] for s in self.sep) + sum(d[0] for d in self.diag)
        self.noise = rng.uniform(0.01, 0.04)  # noise std as a fraction of the range
        # Holes, in fractions of the raster side.
        self.discs = [
            (rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95), rng.uniform(0.01, 0.06))
            for _ in range(int(rng.integers(3, 7)))
        ]
        self.hstripe = (rng.uniform(0.05, 0.95), rng.uniform(0.002, 0.008))  # centre, half-width
        self.vstripe = (rng.uniform(0.05, 0.95), rng.uniform(0.001, 0.004))
        self.dropout = rng.uniform(0.0005, 0.002)  # probability of a single-cell hole
        self.block_seed = int(rng.integers(0, 2**62))

    def block(self, row0, rows):
        """Float32 values of rows row0 .. row0+rows-1, with NODATA in the holes."""
        n = self.size
        x = (np.arange(n, dtype=np.float64) + 0.5) / n
        y = (np.arange(row0, row0 + rows, dtype=np.float64) + 0.5) / n
        two_pi = 2.0 * math.pi
        f = np.zeros((rows, n), dtype=np.float64)
        for a, fx, px, fy, py in self.sep:
            f += np.outer(a * np.cos(two_pi * (fy * y + py)), np.sin(two_pi * (fx * x + px)))
        for a, u, v, p in self.diag:
            su, cu = np.sin(two_pi * u * x), np.cos(two_pi * u * x)
            sv, cv = np.sin(two_pi * (v * y + p)), np.cos(two_pi * (v * y + p))
            f += np.outer(a * cv, su)
            f += np.outer(a * sv, cu)
        rng = np.random.default_rng([self.block_seed, row0])
        span = self.hi - self.lo
        vals = self.lo + span * 0.5 * (f / self.amp + 1.0)
        vals += rng.standard_normal((rows, n)) * (self.noise * span)
        out = vals.astype(np.float32)

        hole = rng.random((rows, n)) < self.dropout
        xs = np.arange(n, dtype=np.float64)[None, :]
        ys = np.arange(row0, row0 + rows, dtype=np.float64)[:, None]
        for cx, cy, r in self.discs:
            cxp, cyp, rp = cx * n, cy * n, r * n
            if row0 + rows < cyp - rp or row0 > cyp + rp:
                continue
            hole |= (xs - cxp) ** 2 + (ys - cyp) ** 2 < rp * rp
        c, hw = self.hstripe
        hole |= np.abs(ys - c * n) < max(hw * n, 0.5)
        c, hw = self.vstripe
        hole |= np.abs(xs - c * n) < max(hw * n, 0.5)
        out[hole] = NODATA
        return out


def write_layer(path, recipe, srs_wkt, creation_options):
    n = recipe.size
    drv = gdal.GetDriverByName("GTiff")
    tmp = path + ".partial"
    ds = drv.Create(tmp, n, n, 1, gdal.GDT_Float32, options=creation_options)
    ds.SetGeoTransform((X0, CELL_M, 0.0, Y0, 0.0, -CELL_M))
    ds.SetProjection(srs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(NODATA)
    band.SetDescription(recipe.name)
    vmin, vmax = math.inf, -math.inf
    valid = 0
    for row0 in range(0, n, BLOCK_ROWS):
        rows = min(BLOCK_ROWS, n - row0)
        blk = recipe.block(row0, rows)
        ok = blk != np.float32(NODATA)
        cnt = int(ok.sum())
        if cnt:
            v = blk[ok]
            vmin = min(vmin, float(v.min()))  # float32 -> double is exact
            vmax = max(vmax, float(v.max()))
            valid += cnt
        band.WriteArray(blk, 0, row0)
    band = None
    ds.FlushCache()
    ds = None
    os.replace(tmp, path)
    return {"name": recipe.name, "path": os.path.basename(path), "min": vmin, "max": vmax,
            "valid": valid, "nodata": n * n - valid}


def model_toml(name, layers, weights, with_stats):
    lines = [
        "# Generated by bench/gen_layers.py: a min-max-normalised weighted sum of the synthetic",
        "# layers (the same map bench/e2e_vs_gdal_calc.sh computes with gdal_calc.py).",
        "",
        "[model]",
        f'name = "{name}"',
        "",
    ]
    for lay, w in zip(layers, weights):
        lines += ["[[layer]]", f'name = "{lay["name"]}"', f'path = "{lay["path"]}"',
                  'resampling = "nearest"']
        if with_stats:
            lines.append(f'transform = {{ kind = "linear", min = {lay["min"]!r}, '
                         f'max = {lay["max"]!r} }}')
        else:
            lines.append('transform = { kind = "linear" }   # min/max from a first pass')
        lines += [f"weight = {w!r}", ""]
    lines += ["[combine]", 'method = "weighted-sum"', "", "[output]", 'path = "out_gp.tif"', ""]
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=8192, help="raster side in cells (default 8192)")
    ap.add_argument("--layers", type=int, default=6, help="number of layers (default 6)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.size < 16:
        ap.error("--size must be at least 16")
    if not 1 <= args.layers <= 26:
        ap.error("--layers must be between 1 and 26 (gdal_calc.py names inputs A..Z)")

    os.makedirs(args.outdir, exist_ok=True)
    gdal.SetCacheMax(64 * 1024 * 1024)  # bounded memory: tiles are flushed as rows complete
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(5070)
    co = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=3",
          "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]
    weights = default_weights(args.layers)
    t0 = time.time()
    layers = []
    for i in range(args.layers):
        path = os.path.join(args.outdir, f"layer_{i + 1}.tif")
        info = write_layer(path, LayerRecipe(args.seed, i, args.size), srs.ExportToWkt(), co)
        info["weight"] = weights[i]
        layers.append(info)
        if not args.quiet:
            print(f"  {path}: {info['name']} min={info['min']!r} max={info['max']!r} "
                  f"nodata={100.0 * info['nodata'] / args.size**2:.2f}% "
                  f"({time.time() - t0:.1f} s)", flush=True)

    name = f"bench-synthetic-{args.size}"
    with open(os.path.join(args.outdir, "model.toml"), "w") as fh:
        fh.write(model_toml(name, layers, weights, True))
    with open(os.path.join(args.outdir, "model_autostats.toml"), "w") as fh:
        fh.write(model_toml(name + "-autostats", layers, weights, False))
    stats = {"size": args.size, "layers": args.layers, "seed": args.seed, "nodata": NODATA,
             "crs": "EPSG:5070", "cell_m": CELL_M, "origin": [X0, Y0], "block_rows": BLOCK_ROWS,
             "layer": layers}
    # Written last: its presence marks a complete dataset.
    tmp = os.path.join(args.outdir, "stats.json.partial")
    with open(tmp, "w") as fh:
        json.dump(stats, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, os.path.join(args.outdir, "stats.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
