"""Shared by the Python test scripts (tests/python/, tests/qgis/): checks counted and reported,
and QGIS headless (offscreen, with a private runtime folder)."""

import contextlib
import os
import shutil
import sys
import tempfile
import traceback


class Checks:
    """check(cond, what) prints ok/FAIL and counts; summary() gives the exit status."""

    def __init__(self):
        self.passes = 0
        self.failures = []

    def __call__(self, cond, what):
        if cond:
            self.passes += 1
            print("ok   " + what)
        else:
            self.failures.append(what)
            print("FAIL " + what)

    def unexpected(self):
        """In an `except Exception:` block: an unexpected error fails, never passes silently."""
        traceback.print_exc()
        self.failures.append("no unexpected exception")

    def summary(self):
        print("%d passed, %d failed" % (self.passes, len(self.failures)))
        sys.stdout.flush()
        sys.stderr.flush()
        return 1 if self.failures else 0


def qgis_offscreen():
    """QT_QPA_PLATFORM=offscreen and a private XDG_RUNTIME_DIR (returned: remove it at the end)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    runtime = tempfile.mkdtemp(prefix="gp-qgis-xdg-")
    os.chmod(runtime, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = runtime
    return runtime


def leave_qgis(checks, runtime):
    """Reports and exits at once. QGIS's bindings crash when Python tears down layers and the
    application after exitQgis(); the verdict is known, so leave with the layers still alive."""
    shutil.rmtree(runtime, ignore_errors=True)
    os._exit(checks.summary())


@contextlib.contextmanager
def checking_in_qgis(checks, runtime):
    """The body of a QGIS test: an unexpected error fails it; then report and leave_qgis."""
    try:
        yield
    except Exception:
        checks.unexpected()
    finally:
        leave_qgis(checks, runtime)
