"""Module paths of ganforge 0.1, still importable after the tree was split into packages.

Plugins written for 0.1 import, say, ``ganforge.datacache``; that code now
lives in ``ganforge.data.cache``. Importing an old path gives the new module
itself (the very same object, so patching and ``isinstance`` agree), with a
DeprecationWarning that names where it went.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "ganforge.cli_support": "ganforge.cli.support",
    "ganforge.cli_trained": "ganforge.cli.trained",
    "ganforge.contract": "ganforge.plugin.contract",
    "ganforge.datacache": "ganforge.data.cache",
    "ganforge.dataparams": "ganforge.data.params",
    "ganforge.evaluate": "ganforge.trained.evaluate",
    "ganforge.features": "ganforge.evaluation.features",
    "ganforge.generating": "ganforge.trained.generating",
    "ganforge.grids": "ganforge.data.pixels",
    "ganforge.hookspecs": "ganforge.plugin.hookspecs",
    "ganforge.imagefiles": "ganforge.data.imagefiles",
    "ganforge.plugin_listing": "ganforge.cli.plugins",
    "ganforge.registry": "ganforge.plugin.registry",
    "ganforge.report": "ganforge.trained.report",
    "ganforge.scaffold": "ganforge.plugin.scaffold",
    "ganforge.training.build": "ganforge.training.assembly",
    "ganforge.training.checkpoint": "ganforge.runs.checkpoint",
    "ganforge.training.evaluation": "ganforge.training.monitor",
    "ganforge.training.loop": "ganforge.training.trainer",
    "ganforge.training.records": "ganforge.training.sinks",
    "ganforge.training.step_jax": "ganforge.training.engines.jax.step",
    "ganforge.training.step_tensorflow": "ganforge.training.engines.tensorflow.step",
    "ganforge.training.distribute_jax": "ganforge.training.engines.jax.distribution",
    "ganforge.training.distribute": "ganforge.training.cluster",
    "ganforge.training.run_dir": "ganforge.runs.folder",
    # what uses a trained run moved above training (the layer rule in CONTRIBUTING.md)
    "ganforge.runs.trained": "ganforge.trained",
    "ganforge.runs.generating": "ganforge.trained.generating",
    "ganforge.runs.report": "ganforge.trained.report",
    "ganforge.runs.compare": "ganforge.trained.compare",
    "ganforge.evaluation.offline": "ganforge.trained.evaluate",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self._specs = {}  # old name -> the new module's own spec

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} has moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # the import system has just set module.__spec__ to the old name's spec: give the module its own back
        module.__spec__ = self._specs[module.__spec__.name]


def install() -> None:
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
