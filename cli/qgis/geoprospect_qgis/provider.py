"""The Processing provider "geoprospect": its four algorithms (algorithms.py)."""

from qgis.core import QgsProcessingProvider

from .algorithms import ListTerritories, MakeModel, RunModel, ValidateMap


class GeoprospectProvider(QgsProcessingProvider):
    def id(self):
        return "geoprospect"

    def name(self):
        return "geoprospect"

    def longName(self):  # noqa: N802 (QGIS's name)
        return "geoprospect: mineral prospectivity mapping"

    def loadAlgorithms(self):  # noqa: N802
        for alg in (RunModel(), ValidateMap(), ListTerritories(), MakeModel()):
            self.addAlgorithm(alg)
