#!/usr/bin/python3
"""Deterministic synthetic fault network for the distance-transform benchmark.

Writes OUTDIR/faults.gpkg (layer "faults", LineString features in EPSG:5070) and
OUTDIR/faults_mask.tif (Byte, 1 on cells the faults touch, 0 elsewhere; the grid of SIZE x SIZE
cells of CELL m, tiled 512, DEFLATE), rasterised with gdal_rasterize so that geoprospect and
gdal_proximity.py read the very same input.

Usage: /usr/bin/python3 bench/gen_faults.py OUTDIR [--size 8192] [--cell 100] [--faults 4000]
                                            [--seed 42]

Faults look like a real regional network: a few dominant strike directions (two conjugate
sets and a cross-cutting one), lengths log-normally distributed (median ~8 km, a few 100 km+),
each trace a gently wandering polyline with a vertex every 300-800 m, clustered in corridors.
"""

import argparse
import math
import os
import random
import subprocess
import sys

from osgeo import gdal, ogr, osr

gdal.UseExceptions()
X0 = -1000000.0
Y0 = 2000000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--cell", type=float, default=100.0)
    ap.add_argument("--faults", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rng = random.Random(a.seed)
    span = a.size * a.cell
    gpkg = os.path.join(a.outdir, "faults.gpkg")
    if os.path.exists(gpkg):
        os.remove(gpkg)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(5070)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(gpkg)
    lyr = ds.CreateLayer("faults", srs, ogr.wkbLineString)
    lyr.CreateField(ogr.FieldDefn("set", ogr.OFTInteger))
    sets = [(35.0, 12.0), (125.0, 12.0), (80.0, 20.0)]  # strike (deg from east), spread
    corridors = [(rng.uniform(0, span), rng.uniform(0, span)) for _ in range(25)]
    lyr.StartTransaction()
    vertices = 0
    for i in range(a.faults):
        s = rng.choices(range(3), weights=[0.4, 0.4, 0.2])[0]
        strike, spread = sets[s]
        ang = math.radians(rng.gauss(strike, spread))
        length = min(rng.lognormvariate(math.log(8000.0), 0.9), 0.6 * span)
        if rng.random() < 0.6:
            cx, cy = rng.choice(corridors)
            x = cx + rng.gauss(0, span * 0.06)
            y = cy + rng.gauss(0, span * 0.06)
        else:
            x, y = rng.uniform(0, span), rng.uniform(0, span)
        line = ogr.Geometry(ogr.wkbLineString)
        walked = 0.0
        x -= 0.5 * length * math.cos(ang)
        y -= 0.5 * length * math.sin(ang)
        line.AddPoint_2D(X0 + x, Y0 - span + y)
        while walked < length:
            step = rng.uniform(300.0, 800.0)
            ang += rng.gauss(0, 0.05)
            x += step * math.cos(ang)
            y += step * math.sin(ang)
            walked += step
            line.AddPoint_2D(X0 + x, Y0 - span + y)
        vertices += line.GetPointCount()
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("set", s)
        f.SetGeometry(line)
        lyr.CreateFeature(f)
    lyr.CommitTransaction()
    ds = None
    mask = os.path.join(a.outdir, "faults_mask.tif")
    subprocess.run(["gdal_rasterize", "-q", "-burn", "1", "-init", "0", "-ot", "Byte", "-a_srs",
                    "EPSG:5070", "-te", str(X0), str(Y0 - span), str(X0 + span), str(Y0),
                    "-tr", str(a.cell), str(a.cell), "-co", "TILED=YES", "-co", "BLOCKXSIZE=512",
                    "-co", "BLOCKYSIZE=512", "-co", "COMPRESS=DEFLATE", "-l", "faults", gpkg,
                    mask], check=True)
    print(f"faults: {a.faults} lines, {vertices} vertices -> {gpkg}; mask {a.size} x {a.size} "
          f"of {a.cell:g} m -> {mask}")


if __name__ == "__main__":
    sys.exit(main())
