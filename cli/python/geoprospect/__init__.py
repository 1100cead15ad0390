"""geoprospect from Python: run a prospectivity model, validate a map, read a raster.

A thin layer over the same runner as the `geoprospect` program (its C++ half is
geoprospect._geoprospect): the same model files, the same outputs, the same one-line error
messages, as exceptions whose class says the exit code's category.

    import geoprospect as gp
    result = gp.run("model.toml", output="out/map.tif", overwrite=True)
    values, nodata, geotransform = gp.read(result.output)
"""

import json
import os

from . import _geoprospect as _core

__version__ = _core.__version__
__all__ = ["run", "validate", "territories", "read", "RunResult", "Error", "UsageError",
           "ModelError", "InputError", "OutputError", "DeviceError", "OutOfMemoryError"]


class Error(Exception):
    """Any error geoprospect reports; `exit_code` is the program's exit code for it."""
    exit_code = 1


class UsageError(Error, ValueError):
    """A bad argument (the program's bad command line)."""
    exit_code = 2


class ModelError(Error):
    """The model is invalid."""
    exit_code = 3


class InputError(Error):
    """An input is missing, unreadable or unusable."""
    exit_code = 4


class OutputError(Error):
    """An output cannot be written."""
    exit_code = 5


class DeviceError(Error):
    """The compute device failed or is missing."""
    exit_code = 6


class OutOfMemoryError(Error, MemoryError):
    """Out of memory (or of threads) on the host."""
    exit_code = 7


_BY_CODE = {c.exit_code: c for c in (UsageError, ModelError, InputError, OutputError,
                                     DeviceError, OutOfMemoryError)}
_DEVICES = ("auto", "cpu", "cuda")


def _call(function, *args):
    """Calls the C++ half, raising its failures as the matching Error class."""
    try:
        return function(*args)
    except _core._Failure as f:
        code, message = f.args
        error = _BY_CODE.get(code, Error)(message)
        error.exit_code = code
        raise error from None


class RunResult:
    """What a run wrote: `output` (the map), `files` (every file, map last), `grid` (dict:
    width, height, x0, y0, dx, dy, geotransform, crs_wkt), `device`, `bands` (per band
    statistics), `timings` (seconds per stage), `report` (the run report as a dict)."""

    def __init__(self, d):
        self.output = d["output"]
        self.files = list(d["files"])
        self.grid = d["grid"]
        self.device = d["device"]
        self.valid_cells = d["valid_cells"]
        self.nodata_cells = d["nodata_cells"]
        self.bands = d["bands"]
        self.timings = d["timings"]
        self.layer_modes = d["layer_modes"]
        # The JSON report the run wrote; without one, the sections the run gathered for it.
        reports = [f for f in self.files if f.endswith("_report.json")]
        if reports:
            with open(reports[0]) as f:
                self.report = json.load(f)
        else:
            self.report = json.loads(d["report_sections"])

    def __repr__(self):
        return "RunResult(output=%r, %d x %d cells, device=%r)" % (
            self.output, self.grid["width"], self.grid["height"], self.device)


def _model_kind(model):
    """("file" | "text" | "dict", the value for the C++ half)."""
    if isinstance(model, dict):
        return "dict", model
    if isinstance(model, os.PathLike):
        return "file", os.fspath(model)
    if isinstance(model, str):
        # TOML text has a line break or a key; a path has neither (or names an existing file).
        if os.path.exists(model) or ("\n" not in model and "=" not in model):
            return "file", model
        return "text", model
    raise UsageError("model: expected a path, TOML text or a dict, found %s" % type(model).__name__)


def _check_device(device):
    if device not in _DEVICES:
        raise UsageError("device: expected auto, cpu or cuda, found %r" % (device,))


def run(model, output=None, device="auto", overwrite=False, progress=None, threads=0,
        window_rows=0, window_cells=1 << 21, cache_mib=96):
    """Runs a model, like `geoprospect run`. `model`: a model file's path, TOML text or a dict of
    the same structure (relative paths in text and dicts are taken from the current folder).
    `output` overrides [output] path. `progress(fraction, message)` is called as the run goes;
    an exception it raises stops the run. Ctrl-C stops the run (KeyboardInterrupt) and leaves no
    partial file; an existing output is replaced only once the new one is complete
    (`overwrite=True`). Returns a RunResult."""
    kind, value = _model_kind(model)
    _check_device(device)
    if progress is not None and not callable(progress):
        raise UsageError("progress: expected a callable (fraction, message)")
    d = _call(_core.run, kind, value, os.getcwd(), os.fspath(output) if output else "", device,
              bool(overwrite), progress, int(threads), int(window_rows), int(window_cells),
              int(cache_mib))
    if progress is not None:
        progress(1.0, "done")
    return RunResult(d)


_DEPOSIT_OPTIONS = ("layer", "sql", "where", "x_column", "y_column", "crs", "name_column",
                    "filter_column", "filter_contains", "filter_equals")


def _check_validate_options(deposit, holdout, kfold, split_by, blocks=None):
    """The option conflicts `geoprospect validate` declares on its command line."""
    pairs = [("layer", "sql"), ("filter_contains", "filter_equals")]
    for a, b in pairs:
        if deposit.get(a) is not None and deposit.get(b) is not None:
            raise UsageError("%s excludes %s" % (a, b))
    if (deposit.get("x_column") is None) != (deposit.get("y_column") is None):
        raise UsageError("x_column and y_column go together")
    for k in ("filter_contains", "filter_equals"):
        if deposit.get(k) is not None and deposit.get("filter_column") is None:
            raise UsageError("%s needs filter_column" % k)
    if holdout is not None and kfold is not None:
        raise UsageError("holdout excludes kfold")
    if holdout is not None and not 0 <= holdout <= 1:
        raise UsageError("holdout: expected a number from 0 to 1, found %r" % (holdout,))
    if kfold is not None and not 2 <= kfold <= 100:
        raise UsageError("kfold: expected a number from 2 to 100, found %r" % (kfold,))
    for name, value in (("split_by", split_by), ("blocks", blocks)):
        if value is not None and holdout is None and kfold is None:
            raise UsageError("%s needs holdout or kfold" % name)
    if blocks is not None and split_by is not None:
        raise UsageError("blocks excludes split_by")
    if blocks is not None and not blocks > 0:
        raise UsageError("blocks: expected a block side in km above 0, found %r" % (blocks,))


def validate(map, deposits, out=None, band=1, holdout=None, kfold=None, seed=None,
             split_by=None, capture=None, device="auto", threads=0, overwrite=False,
             blocks=None, **deposit):
    """Validates a finished map against known deposits, like `geoprospect validate`: success-
    rate and ROC curves, AUCs, capture efficiency, the prediction-area crossing. Deposit
    options as keywords: layer, sql, where, x_column, y_column, crs, name_column,
    filter_column, filter_contains, filter_equals. `blocks` (km) deals whole square blocks
    of a projected map to the folds instead of single deposits. Writes <map>_validation.json, .svg and the
    curves' CSV files into `out` (default: the map's folder). Returns the validation as a dict
    (the JSON file's content) with "files": the files written."""
    unknown = sorted(set(deposit) - set(_DEPOSIT_OPTIONS))
    if unknown:
        raise UsageError("validate: unknown option %s" % ", ".join(unknown))
    _check_device(device)
    _check_validate_options(deposit, holdout, kfold, split_by, blocks)
    split = {"holdout": holdout, "kfold": kfold, "seed": seed, "split_by": split_by,
             "blocks": blocks,
             "capture": list(capture) if capture is not None else None}
    d = _call(_core.validate, os.fspath(map), os.fspath(deposits), deposit, split,
              os.fspath(out) if out else "", int(band), device, int(threads), bool(overwrite))
    result = json.loads(d["json"])
    result["files"] = list(d["files"])
    return result


def territories():
    """The built-in territories ([grid] territory = CODE): dicts of code, name, crs, note."""
    return _call(_core.territories)


def read(path, band=1):
    """One band of a raster: (values as a float32 numpy array of rows x columns, nodata mask
    (True where the cell holds the band's nodata value or NaN), GDAL geotransform)."""
    return _call(_core.read, os.fspath(path), int(band))
