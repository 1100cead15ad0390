#!/usr/bin/python3
"""The QGIS Processing plugin (cli/qgis/) headless in Debian's QGIS, installed from its zip.

Unzips build/qgis/geoprospect_qgis.zip into a scratch plugins folder (as "Install from ZIP"
does), starts QGIS offscreen with Processing, loads the plugin's provider and runs each
algorithm with processing.run: Run model (the outputs exist, the map and classes load with the
styles of their .qml in a group with the deposits; the pixels equal the program's run), a
cancelled run (no output, no partial file, an older output intact), Validate map (a memory
point layer; the program's figures), List territories (the program's list), Make model from
layers (the file equals a hand-written model's result bit for bit when run). Fails, never
skips, when QGIS's Python bindings are missing. No PYTHONPATH: the module bundled in the zip.

Usage: qgis_plugin_test.py GEOPROSPECT_EXE PLUGIN_ZIP SOURCE_DIR SCRATCH_DIR
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Checks, checking_in_qgis, qgis_offscreen  # noqa: E402 (tests/support/checks.py)

check = Checks()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pixels(path):
    from osgeo import gdal
    ds = gdal.Open(path)  # kept while its band is read (GDAL's bindings do not keep it)
    return ds.GetRasterBand(1).ReadAsArray().tobytes()


def sirsam_model(source, scratch, deposits_csv):
    """The sirsam demo with absolute paths and [validation] deposits (for the group)."""
    base = os.path.join(source, "data-samples", "sirsam")
    with open(os.path.join(base, "ree_radiometric.toml")) as f:
        text = f.read()
    for name in ("k_15v5.tif", "U_15v1.tif", "U_TH_15.tif", "gg_clip.tif"):
        text = text.replace('"%s"' % name, '"%s"' % os.path.join(base, name))
    text = text.replace('path = "../../out/sirsam_ree_prospectivity.tif"',
                        'path = "%s"' % os.path.join(scratch, "model_default.tif"))
    text += ('\n[validation]\ndeposits = "%s"\nx_column = "x"\ny_column = "y"\n'
             'crs = "EPSG:3577"\nname_column = "name"\n' % deposits_csv)
    path = os.path.join(scratch, "model.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def deposit_points(exe, source, scratch):
    """12 cells of the demo grid with values, from a program run (x, y in EPSG:3577)."""
    from osgeo import gdal
    import numpy as np
    out = os.path.join(scratch, "ref", "ref.tif")
    os.makedirs(os.path.dirname(out))
    model = os.path.join(source, "data-samples", "sirsam", "ree_radiometric.toml")
    r = subprocess.run([exe, "run", model, "-o", out, "-q"], capture_output=True, text=True)
    check(r.returncode == 0, "program run for reference exits 0 (%s)" % r.stderr.strip())
    ds = gdal.Open(out)
    gt = ds.GetGeoTransform()
    v = ds.GetRasterBand(1).ReadAsArray()
    rows, cols = np.nonzero(v != ds.GetRasterBand(1).GetNoDataValue())
    pick = np.linspace(0, len(rows) - 1, 12).astype(int)
    pts = [("d%d" % i, gt[0] + (cols[k] + 0.5) * gt[1], gt[3] + (rows[k] + 0.5) * gt[5])
           for i, k in enumerate(pick)]
    csv = os.path.join(scratch, "deposits.csv")
    with open(csv, "w") as f:
        f.write("name,x,y\n")
        for p in pts:
            f.write("%s,%.3f,%.3f\n" % p)
    return out, pts, csv


def qml_renderer(qml):
    return ET.parse(qml).getroot().find(".//rasterrenderer").get("type")


def test_runmodel(processing, project, model, scratch, ref_map, n_deposits):
    from qgis.core import QgsRasterLayer, QgsVectorLayer
    out = os.path.join(scratch, "run", "map.tif")
    os.makedirs(os.path.dirname(out))
    res = processing.run("geoprospect:runmodel", {"MODEL": model, "OUTPUT": out, "DEVICE": 1})
    check(res.get("OUTPUT") == out and os.path.isfile(out), "runmodel: the map exists")
    check(os.path.isfile(res.get("CLASSES", "")) and os.path.isfile(res.get("REPORT", "")),
          "runmodel: classes and report exist")
    check(pixels(out) == pixels(ref_map), "runmodel: the program's pixels")
    group = project.layerTreeRoot().findGroup("geoprospect: sirsam-ree-radiometric")
    check(group is not None, "runmodel: a group for the model in the project")
    if group is None:
        return out
    layers = {c.layer().name(): c.layer() for c in group.findLayers()}
    check(sorted(layers) == ["deposits", "map", "map_classes"], "group: %s" % sorted(layers))
    m, c, d = layers.get("map"), layers.get("map_classes"), layers.get("deposits")
    for lyr, qml in ((m, out[:-4] + ".qml"), (c, out[:-4] + "_classes.qml")):
        if lyr is None:
            continue
        check(isinstance(lyr, QgsRasterLayer) and lyr.isValid(), "%s: a valid raster" % lyr.name())
        check(lyr.renderer().type() == qml_renderer(qml),
              "%s: styled by its .qml (%s)" % (lyr.name(), lyr.renderer().type()))
    if c is not None and c.renderer().type() == "paletted":
        n_qml = len(ET.parse(out[:-4] + "_classes.qml").getroot().findall(".//paletteEntry"))
        check(len(c.renderer().classes()) == n_qml, "classes: the .qml's %d entries" % n_qml)
    check(isinstance(d, QgsVectorLayer) and d.isValid() and d.featureCount() == n_deposits,
          "group: the deposits layer has the %d deposits" % n_deposits)
    return out


def test_cancel(processing, model, scratch):
    from qgis.core import QgsProcessingFeedback

    class CancelAtFirstProgress(QgsProcessingFeedback):
        def setProgress(self, p):
            super().setProgress(p)
            self.cancel()

    folder = os.path.join(scratch, "cancel")
    os.makedirs(folder)
    fresh = os.path.join(folder, "fresh.tif")
    res = processing.run("geoprospect:runmodel", {"MODEL": model, "OUTPUT": fresh, "DEVICE": 1,
                                                   "LOAD": False},
                         feedback=CancelAtFirstProgress())
    check("OUTPUT" not in res or not res.get("OUTPUT"), "cancel: no output returned (%s)" % res)
    check(os.listdir(folder) == [], "cancel: nothing left behind (%s)" % os.listdir(folder))
    old = os.path.join(folder, "old.tif")
    processing.run("geoprospect:runmodel", {"MODEL": model, "OUTPUT": old, "DEVICE": 1,
                                             "LOAD": False})
    before = {f: digest(os.path.join(folder, f)) for f in os.listdir(folder)}
    processing.run("geoprospect:runmodel", {"MODEL": model, "OUTPUT": old, "DEVICE": 1,
                                             "OVERWRITE": True, "LOAD": False},
                   feedback=CancelAtFirstProgress())
    after = {f: digest(os.path.join(folder, f)) for f in os.listdir(folder)}
    check(len(before) >= 5 and after == before, "cancel: an older output intact, no partial file")


def test_validate(processing, exe, map_path, pts, csv, scratch):
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer, QgsField
    from qgis.PyQt.QtCore import QVariant
    layer = QgsVectorLayer("Point?crs=EPSG:3577", "known deposits", "memory")
    layer.dataProvider().addAttributes([QgsField("name", QVariant.String)])
    layer.updateFields()
    feats = []
    for name, x, y in pts:
        f = QgsFeature(layer.fields())
        f.setAttribute("name", name)
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(round(x, 3), round(y, 3))))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    out = os.path.join(scratch, "validate_qgis")
    res = processing.run("geoprospect:validatemap", {"MAP": map_path, "DEPOSITS": layer,
                                                      "NAME_FIELD": "name", "OUTPUT": out})
    check(os.path.isfile(res.get("JSON", "")), "validatemap: the validation JSON exists")
    cli_out = os.path.join(scratch, "validate_cli")
    r = subprocess.run([exe, "validate", map_path, "--deposits", csv, "--x-column", "x",
                        "--y-column", "y", "--crs", "EPSG:3577", "--name-column", "name",
                        "--out", cli_out, "-q"], capture_output=True, text=True)
    check(r.returncode == 0, "program validate exits 0 (%s)" % r.stderr.strip())
    if not os.path.isfile(res.get("JSON", "")):
        return
    with open(res["JSON"]) as f:
        q = json.load(f)
    with open(os.path.join(cli_out, os.path.basename(map_path)[:-4] + "_validation.json")) as f:
        c = json.load(f)
    check(q["deposits_used"] == len(pts), "validatemap: the %d points are the deposits" % len(pts))
    check(res.get("AUC") == c["success_rate"]["auc"] and
          res.get("ROC_AUC") == c["success_rate"]["roc_auc"],
          "validatemap: the program's AUCs (%s, %s)" % (res.get("AUC"), res.get("ROC_AUC")))


def test_territories(processing, exe):
    res = processing.run("geoprospect:listterritories", {})
    r = subprocess.run([exe, "territories"], capture_output=True, text=True)
    lines = r.stdout.split("\n\n")[0].splitlines()  # the table, before the notes on aliases
    codes = [l.split()[0] for l in lines[1:]]
    got = [l.split("\t")[0] for l in res.get("TERRITORIES", "").splitlines()]
    check(res.get("COUNT") == len(codes) and got == codes,
          "listterritories: the program's %d territories" % len(codes))


def test_makemodel(processing, exe, source, scratch):
    from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer
    base = os.path.join(source, "data-samples", "sirsam")
    k = QgsRasterLayer(os.path.join(base, "k_15v5.tif"), "Potassium %")
    u = QgsRasterLayer(os.path.join(base, "U_15v1.tif"), "Uranium ppm")
    made = os.path.join(scratch, "made", "made.toml")
    os.makedirs(os.path.dirname(made))
    res = processing.run("geoprospect:makemodel", {
        "LAYERS": [k, u], "METHOD": 5, "GAMMA": 0.8, "NAME": "made in qgis",
        "CRS": QgsCoordinateReferenceSystem("EPSG:3577"), "RESOLUTION": 90.0, "OUTPUT": made})
    check(res.get("OUTPUT") == made and os.path.isfile(made), "makemodel: the model file exists")
    with open(made, "rb") as f:
        m = tomllib.load(f)
    check([l["name"] for l in m["layer"]] == ["potassium", "uranium_ppm"],
          "makemodel: layer names from the QGIS names (%s)" % [l["name"] for l in m["layer"]])
    check(m["combine"] == {"method": "fuzzy-gamma", "gamma": 0.8}, "makemodel: [combine]")
    # The same model written by hand, run by the program: the made model's map, bit for bit.
    hand = os.path.join(scratch, "made", "hand.toml")
    with open(hand, "w") as f:
        f.write('[model]\nname = "hand"\n[grid]\ncrs = "EPSG:3577"\nresolution = 90.0\n'
                '[[layer]]\nname = "a"\npath = "%s"\nresampling = "bilinear"\n'
                'transform = { kind = "linear" }\n'
                '[[layer]]\nname = "b"\npath = "%s"\nresampling = "bilinear"\n'
                'transform = { kind = "linear" }\n'
                '[combine]\nmethod = "fuzzy-gamma"\ngamma = 0.8\n'
                % (os.path.join(base, "k_15v5.tif"), os.path.join(base, "U_15v1.tif")))
    hand_map = os.path.join(scratch, "made", "hand.tif")
    r = subprocess.run([exe, "run", hand, "-o", hand_map, "-q"], capture_output=True, text=True)
    check(r.returncode == 0, "hand-written model runs (%s)" % r.stderr.strip())
    run = processing.run("geoprospect:runmodel", {"MODEL": made, "DEVICE": 1, "LOAD": False})
    check(run.get("OUTPUT") == m["output"]["path"] and os.path.isfile(run["OUTPUT"]),
          "makemodel: the model runs and writes its [output] path")
    if r.returncode == 0 and os.path.isfile(run.get("OUTPUT", "")):
        check(pixels(run["OUTPUT"]) == pixels(hand_map),
              "makemodel: its map equals the hand-written model's bit for bit")


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    exe, zip_path, source, scratch = sys.argv[1:5]
    runtime = qgis_offscreen()
    try:
        from qgis.core import QgsApplication, QgsProject
    except ImportError as e:
        print("FAIL: python3-qgis is missing or broken (%s): install the Debian packages "
              "python3-qgis and qgis-providers (.ci/setup.sh does) to run this test" % e)
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    plugins = os.path.join(scratch, "plugins")
    os.makedirs(plugins)
    with zipfile.ZipFile(zip_path) as z:  # what "Install from ZIP" does
        z.extractall(plugins)
    sys.path.insert(0, plugins)
    app = QgsApplication([], False)
    app.initQgis()
    with checking_in_qgis(check, runtime):  # reports and leaves at once
        sys.path.append("/usr/share/qgis/python/plugins")
        from processing.core.Processing import Processing
        Processing.initialize()
        import processing
        import geoprospect_qgis
        plugin = geoprospect_qgis.classFactory(None)
        plugin.initProcessing()
        ids = sorted(a.id() for a in plugin.provider.algorithms())
        check(ids == ["geoprospect:listterritories", "geoprospect:makemodel",
                      "geoprospect:runmodel", "geoprospect:validatemap"], "provider: %s" % ids)
        ref_map, pts, csv = deposit_points(exe, source, scratch)
        model = sirsam_model(source, scratch, csv)
        out = test_runmodel(processing, QgsProject.instance(), model, scratch, ref_map, len(pts))
        import geoprospect
        check(geoprospect.__file__.startswith(plugins), "the module bundled in the zip is used")
        test_cancel(processing, model, scratch)
        test_validate(processing, exe, out, pts, csv, scratch)
        test_territories(processing, exe)
        test_makemodel(processing, exe, source, scratch)


if __name__ == "__main__":
    sys.exit(main())
