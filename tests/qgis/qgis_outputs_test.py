#!/usr/bin/python3
"""Loads geoprospect's outputs in QGIS itself (headless) and checks what a QGIS user sees.

Runs `geoprospect run` on the shipped demo model into a scratch folder, then for the map and the
classes raster: the layer is valid, its CRS is the grid's (from the run report), the .qml beside
it was applied (renderer type, class count, labels, min/max), and a rendered picture of the
layer is not blank. Fails, never skips, when QGIS's Python bindings are missing.

Usage: qgis_outputs_test.py GEOPROSPECT_EXE MODEL.toml SCRATCH_DIR
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Checks, checking_in_qgis, qgis_offscreen  # noqa: E402 (tests/support/checks.py)

check = Checks()


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    exe, model, scratch = sys.argv[1:4]
    runtime = qgis_offscreen()
    try:
        from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsMapSettings,
                               QgsMapRendererSequentialJob, QgsRasterLayer)
        from qgis.PyQt.QtCore import QSize
        from qgis.PyQt.QtGui import QColor
    except ImportError as e:
        print("FAIL: python3-qgis is missing or broken (%s): install the Debian packages "
              "python3-qgis and qgis-providers (.ci/setup.sh does) to run this test" % e)
        return 1

    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    out = os.path.join(scratch, "demo.tif")
    run = subprocess.run([exe, "run", model, "-o", out, "--quiet"], capture_output=True, text=True)
    check(run.returncode == 0, "geoprospect run exits 0 (stderr: %s)" % run.stderr.strip())
    if run.returncode != 0:
        return 1
    base = os.path.join(scratch, "demo")
    with open(base + "_report.json") as f:
        report = json.load(f)
    band1 = report["statistics"]["bands"][0]
    classes = report["classes"]["classes"]

    app = QgsApplication([], False)
    app.initQgis()
    with checking_in_qgis(check, runtime):  # reports and leaves at once
        grid_crs = QgsCoordinateReferenceSystem.fromWkt(report["grid"]["crs_wkt"])
        check(grid_crs.isValid(), "the report's grid CRS is a valid QGIS CRS")

        def render(layer, name):
            ms = QgsMapSettings()
            ms.setLayers([layer])
            ms.setDestinationCrs(layer.crs())
            ms.setExtent(layer.extent())
            ms.setOutputSize(QSize(300, 400))
            ms.setBackgroundColor(QColor(255, 255, 255))
            job = QgsMapRendererSequentialJob(ms)
            job.start()
            job.waitForFinished()
            img = job.renderedImage()
            img.save(os.path.join(scratch, "qgis_render_%s.png" % name))
            colours = {}
            for y in range(0, img.height(), 2):
                for x in range(0, img.width(), 2):
                    c = img.pixel(x, y) & 0xFFFFFF
                    colours[c] = colours.get(c, 0) + 1
            return colours

        # The score map.
        lyr = QgsRasterLayer(out, "score")
        check(lyr.isValid(), "map: layer is valid")
        check(lyr.crs() == grid_crs, "map: CRS equals the grid's (%s)" % lyr.crs().authid())
        check(lyr.crs().authid() == "EPSG:3577", "map: CRS is EPSG:3577")
        r = lyr.renderer()
        check(r.type() == "singlebandpseudocolor",
              "map: demo.qml applied (renderer %s, expected singlebandpseudocolor)" % r.type())
        if r.type() == "singlebandpseudocolor":
            check(abs(r.classificationMin() - band1["min"]) < 1e-6 and
                  abs(r.classificationMax() - band1["max"]) < 1e-6,
                  "map: ramp spans the statistics %g..%g (got %g..%g)" %
                  (band1["min"], band1["max"], r.classificationMin(), r.classificationMax()))
            items = r.shader().rasterShaderFunction().colorRampItemList()
            check(len(items) == 33, "map: 33 ramp items (got %d)" % len(items))
            check(items[0].color.name() == "#440154" and items[-1].color.name() == "#fde725",
                  "map: viridis ends (%s .. %s)" % (items[0].color.name(), items[-1].color.name()))
        stats = lyr.dataProvider().bandStatistics(1)
        check(abs(stats.minimumValue - band1["min"]) < 1e-5, "map: GDAL statistics seen by QGIS")
        colours = render(lyr, "map")
        check(len(colours) >= 20, "map: rendering is not blank (%d colours)" % len(colours))
        check(0xFDE725 in colours or any(c != 0xFFFFFF for c in colours),
              "map: rendering has coloured pixels")

        # The classes.
        cl = QgsRasterLayer(base + "_classes.tif", "classes")
        check(cl.isValid(), "classes: layer is valid")
        check(cl.crs() == grid_crs, "classes: CRS equals the grid's")
        cr = cl.renderer()
        check(cr.type() == "paletted",
              "classes: demo_classes.qml applied (renderer %s, expected paletted)" % cr.type())
        if cr.type() == "paletted":
            pc = cr.classes()
            check(len(pc) == len(classes), "classes: %d palette classes (got %d)" %
                  (len(classes), len(pc)))
            check([c.value for c in pc] == [c["value"] for c in classes], "classes: values 1..N")
            check([c.label for c in pc] == [c["label"] for c in classes],
                  "classes: labels match the report (%s)" % [c.label for c in pc])
            check([c.color.name() for c in pc] == [c["colour"] for c in classes],
                  "classes: colours match the report")
        colours = render(cl, "classes")
        palette = {int(c["colour"][1:], 16) for c in classes}
        drawn = palette & set(colours)
        check(len(drawn) >= 4, "classes: rendering shows %d of the %d class colours" %
              (len(drawn), len(palette)))


if __name__ == "__main__":
    sys.exit(main())
