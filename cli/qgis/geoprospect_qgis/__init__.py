"""QGIS plugin "geoprospect": a Processing provider (provider.py) over the Python module."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .plugin import GeoprospectPlugin
    return GeoprospectPlugin(iface)
