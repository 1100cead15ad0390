"""The provider's algorithms, each a thin caller of the Python module `geoprospect` (the same
runner as the program): Run model, Validate map, List territories, Make model from layers.

Progress goes to QGIS's feedback object; the cancel button stops a run at its next progress
update: the callback raises, the run unwinds and removes its staged files (nothing is left
behind, an older output stays as it was), and the algorithm returns no outputs.
"""

import csv
import json
import os
import re
import sys

from qgis.core import (QgsProcessing, QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingOutputFile,
                       QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterBoolean, QgsProcessingParameterCrs,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination,
                       QgsProcessingParameterFolderDestination,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString,
                       QgsRasterLayer, QgsVectorLayer)

DEVICES = ["auto", "cpu", "cuda"]
# The knowledge-driven combine methods (model file [combine] method); trained ones need deposits
# and per-layer settings the user writes by hand.
METHODS = ["weighted-sum", "fuzzy-and", "fuzzy-or", "fuzzy-product", "fuzzy-sum", "fuzzy-gamma",
           "index-overlay"]


def module():
    """The Python module: installed, or bundled in the plugin's lib/ folder (the zip)."""
    try:
        import geoprospect
    except ImportError:
        bundled = os.path.join(os.path.dirname(__file__), "lib")
        if not os.path.isdir(bundled):
            raise QgsProcessingException(
                "the Python module geoprospect is missing: install it (cmake --install) or use "
                "a plugin zip built beside it")
        sys.path.insert(0, bundled)
        import geoprospect
    return geoprospect


class Cancelled(Exception):
    """Raised from the progress callback when the user pressed cancel."""


class Base(QgsProcessingAlgorithm):
    def createInstance(self):  # noqa: N802 (QGIS's names)
        return type(self)()

    def group(self):
        return ""

    def groupId(self):  # noqa: N802
        return ""

    def tr(self, text):
        return text


class RunModel(Base):
    """geoprospect run: the map, its classes and styles; loaded into the project in a group."""

    def name(self):
        return "runmodel"

    def displayName(self):  # noqa: N802
        return "Run model"

    def shortHelpString(self):  # noqa: N802
        return ("Runs a geoprospect model file (TOML) and writes the prospectivity map with its "
                "classes, styles, quicklook and report. The outputs are loaded styled into a "
                "group with the model's deposits. Output empty: the model's [output] path.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model file", extension="toml"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT", "Output map", "GeoTIFF (*.tif)", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(
            "OVERWRITE", "Replace existing outputs", defaultValue=False))
        self.addParameter(QgsProcessingParameterBoolean(
            "LOAD", "Load the outputs into the project", defaultValue=True))
        self.addOutput(QgsProcessingOutputFile("CLASSES", "Classes raster"))
        self.addOutput(QgsProcessingOutputFile("REPORT", "Run report (JSON)"))
        self.addOutput(QgsProcessingOutputString("FILES", "Files written"))
        self.loaded = None

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        gp = module()
        self.model = self.parameterAsFile(parameters, "MODEL", context)
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context) or None
        device = DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)]
        self.load = self.parameterAsBoolean(parameters, "LOAD", context)

        def progress(fraction, message):
            if feedback.isCanceled():
                raise Cancelled()
            feedback.setProgressText(message)
            feedback.setProgress(100.0 * fraction)

        try:
            res = gp.run(self.model, output=output, device=device, progress=progress,
                         overwrite=self.parameterAsBoolean(parameters, "OVERWRITE", context))
        except Cancelled:
            feedback.pushInfo("cancelled: nothing was written")
            self.result = None
            return {}
        except gp.Error as e:
            raise QgsProcessingException(str(e))
        self.result = res
        feedback.pushInfo("wrote %s (%d x %d cells, %s)" % (
            res.output, res.grid["width"], res.grid["height"], res.device))
        classes = [f for f in res.files if f.endswith("_classes.tif")]
        reports = [f for f in res.files if f.endswith("_report.json")]
        return {"OUTPUT": res.output, "CLASSES": classes[0] if classes else "",
                "REPORT": reports[0] if reports else "", "FILES": ";".join(res.files)}

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802
        """On the main thread: the map, its classes and the deposits in one group."""
        res = getattr(self, "result", None)
        if res is None or not self.load:
            return {}
        project = context.project()
        root = project.layerTreeRoot()
        name = res.report.get("model", {}).get("name") or os.path.basename(res.output)
        group = root.insertGroup(0, "geoprospect: %s" % name)
        layers = [f for f in res.files if f.endswith("_classes.tif")] + [res.output]
        deposits = model_deposits(self.model)
        if deposits is not None:
            deposits.setName("deposits")
            project.addMapLayer(deposits, False)
            group.addLayer(deposits)
        for path in reversed(layers):  # the classes below the map
            layer = QgsRasterLayer(path, os.path.splitext(os.path.basename(path))[0], "gdal")
            qml = os.path.splitext(path)[0] + ".qml"
            if os.path.isfile(qml):
                layer.loadNamedStyle(qml)
            project.addMapLayer(layer, False)
            group.addLayer(layer)
        return {}


def model_deposits(model_path):
    """The model's deposits ([training], else [validation]) as a vector layer, or None."""
    import tomllib
    with open(model_path, "rb") as f:
        m = tomllib.load(f)
    base = os.path.dirname(os.path.abspath(model_path))
    for section in ("training", "validation"):
        spec = m.get(section) or {}
        if "deposits" not in spec:
            continue
        path = os.path.join(base, spec["deposits"])
        if spec.get("x_column"):
            uri = "file://%s?type=csv&xField=%s&yField=%s&crs=%s&detectTypes=yes" % (
                path, spec["x_column"], spec["y_column"], spec.get("crs", "EPSG:4326"))
            layer = QgsVectorLayer(uri, "deposits", "delimitedtext")
        else:
            if spec.get("layer"):
                path += "|layername=" + spec["layer"]
            layer = QgsVectorLayer(path, "deposits", "ogr")
        return layer if layer.isValid() else None
    return None


class ValidateMap(Base):
    """geoprospect validate: curves, AUCs, capture efficiency of a map against deposits."""

    def name(self):
        return "validatemap"

    def displayName(self):  # noqa: N802
        return "Validate map"

    def shortHelpString(self):  # noqa: N802
        return ("Success-rate and ROC curves, AUCs, capture efficiency and the prediction-area "
                "crossing of a prospectivity map against known deposits (any point layer).")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("MAP", "Prospectivity map"))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "DEPOSITS", "Deposits", [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            "NAME_FIELD", "Field naming each deposit", parentLayerParameterName="DEPOSITS",
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "BAND", "Band of the score", QgsProcessingParameterNumber.Integer, 1, minValue=1))
        self.addParameter(QgsProcessingParameterBoolean(
            "OVERWRITE", "Replace existing outputs", defaultValue=False))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Output folder"))
        self.addOutput(QgsProcessingOutputNumber("AUC", "Success-rate AUC"))
        self.addOutput(QgsProcessingOutputNumber("ROC_AUC", "ROC AUC"))
        self.addOutput(QgsProcessingOutputFile("JSON", "Validation (JSON)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        gp = module()
        layer = self.parameterAsRasterLayer(parameters, "MAP", context)
        if layer is None:
            raise QgsProcessingException("Validate map: no map layer")
        # A layer OGR reads as it is (a shapefile, a GeoPackage), else a copy in a GeoPackage
        # (memory layers, delimited text, services) in Processing's temporary folder.
        deposits = self.parameterAsCompatibleSourceLayerPath(
            parameters, "DEPOSITS", context, ["gpkg", "shp", "geojson", "fgb"], "gpkg", feedback)
        out = self.parameterAsString(parameters, "OUTPUT", context)
        os.makedirs(out, exist_ok=True)
        name = self.parameterAsString(parameters, "NAME_FIELD", context) or None
        feedback.setProgressText("validating %s" % layer.source())
        try:
            v = gp.validate(layer.source(), deposits, out=out, name_column=name,
                            band=self.parameterAsInt(parameters, "BAND", context),
                            overwrite=self.parameterAsBoolean(parameters, "OVERWRITE", context))
        except gp.Error as e:
            raise QgsProcessingException(str(e))
        for f in v["files"]:
            feedback.pushInfo("wrote %s" % f)
        auc = v["success_rate"]["auc"]
        roc = v["success_rate"]["roc_auc"]
        feedback.pushInfo("success-rate AUC %s, ROC AUC %s" % (auc, roc))
        js = [f for f in v["files"] if f.endswith("_validation.json")]
        return {"OUTPUT": out, "AUC": auc, "ROC_AUC": roc, "JSON": js[0] if js else ""}


class ListTerritories(Base):
    """geoprospect territories: code, name and CRS of the built-in territories."""

    def name(self):
        return "listterritories"

    def displayName(self):  # noqa: N802
        return "List territories"

    def shortHelpString(self):  # noqa: N802
        return ("The built-in territories a model's [grid] territory = CODE names: code, name, "
                "CRS and why that CRS. Optionally written as a CSV table.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT", "Table (CSV)", "CSV (*.csv)", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString("TERRITORIES", "Territories (code, name, CRS)"))
        self.addOutput(QgsProcessingOutputNumber("COUNT", "Number of territories"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        ts = module().territories()
        lines = ["%s\t%s\t%s" % (t["code"], t["name"], t["crs"]) for t in ts]
        for line in lines:
            feedback.pushInfo(line)
        result = {"TERRITORIES": "\n".join(lines), "COUNT": len(ts)}
        path = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        if path:
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["code", "name", "crs", "note"])
                for t in ts:
                    w.writerow([t["code"], t["name"], t["crs"], t["note"]])
            result["OUTPUT"] = path
        return result


def toml_string(s):
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(s, ensure_ascii=False)


def layer_key(name, taken):
    """A model layer name from a QGIS layer name: lower case, letters, digits and _."""
    key = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "layer"
    if key[0].isdigit():
        key = "l_" + key
    base, n = key, 2
    while key in taken:
        key, n = "%s_%d" % (base, n), n + 1
    taken.add(key)
    return key


class MakeModel(Base):
    """Raster layers and a combine method -> a model file to edit and run."""

    def name(self):
        return "makemodel"

    def displayName(self):  # noqa: N802
        return "Make model from layers"

    def shortHelpString(self):  # noqa: N802
        return ("Writes a geoprospect model file (TOML) from raster layers: each layer scaled "
                "linearly to 0..1 over its range on the grid, combined by the chosen method, on "
                "a grid in the chosen CRS and resolution (default: the first layer's). Edit it "
                "(transforms, weights) and run it with Run model.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "LAYERS", "Evidence layers", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Combine method", METHODS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "GAMMA", "Gamma (fuzzy-gamma)", QgsProcessingParameterNumber.Double, 0.9,
            minValue=0.0, maxValue=1.0))
        self.addParameter(QgsProcessingParameterString("NAME", "Model name", "prospectivity"))
        self.addParameter(QgsProcessingParameterCrs("CRS", "Grid CRS", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "RESOLUTION", "Cell size (CRS units)", QgsProcessingParameterNumber.Double,
            optional=True, minValue=0.0))
        self.addParameter(QgsProcessingParameterString(
            "MAP", "Map the model writes ([output] path)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT", "Model file", "geoprospect model (*.toml)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layers = self.parameterAsLayerList(parameters, "LAYERS", context)
        if not layers:
            raise QgsProcessingException("Make model: pick at least one raster layer")
        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]
        crs = self.parameterAsCrs(parameters, "CRS", context)
        res = self.parameterAsDouble(parameters, "RESOLUTION", context)
        if not crs.isValid():
            crs = layers[0].crs()
            if not res:
                res = layers[0].rasterUnitsPerPixelX()
        elif not res:
            raise QgsProcessingException("Make model: with a CRS, give the cell size in its units")
        path = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        out_map = self.parameterAsString(parameters, "MAP", context) or (
            os.path.splitext(path)[0] + "_map.tif")
        text = model_text(self.parameterAsString(parameters, "NAME", context), layers, method,
                          self.parameterAsDouble(parameters, "GAMMA", context), crs, res, out_map)
        with open(path, "w") as f:
            f.write(text)
        feedback.pushInfo("wrote %s (%d layers, %s)" % (path, len(layers), method))
        return {"OUTPUT": path}


def model_text(name, layers, method, gamma, crs, resolution, out_map):
    """The model file: [model], [grid], one [[layer]] per raster, [combine], [output]."""
    crs_text = crs.authid() or crs.toWkt()
    lines = ["# geoprospect model made in QGIS from %d layers: edit the transforms and weights,"
             % len(layers), "# then run it (Processing: geoprospect > Run model).", "",
             "[model]", "name = %s" % toml_string(name), "",
             "[grid]", "crs = %s" % toml_string(crs_text), "resolution = %r" % float(resolution)]
    taken = set()
    for layer in layers:
        source = layer.source().split("|")[0]
        lines += ["", "[[layer]]", "name = %s" % toml_string(layer_key(layer.name(), taken)),
                  "path = %s" % toml_string(source), 'resampling = "bilinear"',
                  'transform = { kind = "linear" }   # 0..1 over its range on the grid',
                  "weight = 1.0"]
    lines += ["", "[combine]", "method = %s" % toml_string(method)]
    if method == "fuzzy-gamma":
        lines.append("gamma = %r" % float(gamma))
    lines += ["", "[output]", "path = %s" % toml_string(out_map), ""]
    return "\n".join(lines)
