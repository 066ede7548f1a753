"""``ganforge plugin new``: a plugin package that installs, passes its own tests and trains, from one command.

The files come from ``templates/`` with ``$names`` filled in; what differs
between kinds of component (the hook, the factory, the contract check, where
the recipe names it) is in :data:`KINDS`.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from ganforge import CONTRACT_VERSION, __version__
from ganforge.errors import GanforgeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TEMPLATES = Path(__file__).with_name("templates")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


@dataclass(frozen=True)
class Kind:
    hook: str
    factory: str
    summary: str
    check: str  # the body of the test that runs ganforge.testing's check
    recipe: dict[str, str] = field(default_factory=dict)  # recipe slots this kind fills (the rest are built-ins)
    usage: str = ""
    trained: str = ""  # what the "recipe trains" test asserts besides the checkpoint


KINDS = {
    "generator": Kind(
        "register_generators",
        "build_generator",
        "a small fully connected generator",
        "    model = testing.check_generator($factory, DataSpec(32, 32, 1), latent_dim=16)\n"
        "    testing.check_save_and_load(model, np.zeros((2, 16), np.float32))",
        {"generator": 'name = "$component"\nhidden = 128'},
        '`[generator] name = "$component"`.',
    ),
    "discriminator": Kind(
        "register_discriminators",
        "build_discriminator",
        "a small fully connected discriminator",
        "    model = testing.check_discriminator($factory, DataSpec(32, 32, 1))\n"
        "    testing.check_save_and_load(model, np.zeros((2, 32, 32, 1), np.float32))",
        {"discriminator": 'name = "$component"\nhidden = 128'},
        '`[discriminator] name = "$component"`.',
    ),
    "dataset": Kind(
        "register_datasets",
        "build_dataset",
        "grayscale images of one bright disc each",
        "    dataset = testing.check_dataset($factory, size=100)\n    assert len(dataset) == 100",
        {"dataset": 'name = "$component"\nsize = 2000'},
        '`[dataset] name = "$component"`.',
    ),
    "loss": Kind(
        "register_losses",
        "build_loss",
        "least squares on the discriminator's logits",
        "    testing.check_loss($factory)",
        {"loss": 'name = "$component"'},
        '`[loss] name = "$component"`.',
    ),
    "penalty": Kind(
        "register_penalties",
        "build_penalty",
        "the squared norm of D's gradients on real images",
        "    testing.check_penalty($factory, weight=10.0)",
        {"extra": '\n[penalty]\nname = "$component"\nweight = 10.0\n'},
        '`[penalty] name = "$component"`.',
    ),
    "metric": Kind(
        "register_metrics",
        "build_metric",
        "the gap between the generator's mean image and the data's",
        "    images = np.random.default_rng(0).integers(0, 256, (300, 16, 16, 1), dtype=np.uint8)\n"
        "    results = testing.check_metric($factory, ArrayDataset(images))\n"
        '    assert results["gap"] < 1e-6  # the data against itself',
        {"extra": '\n[eval]\nevery = 500\nmetrics = [{ name = "$component" }]\n'},
        '`[eval] metrics = [{ name = "$component" }]`.',
    ),
    "features": Kind(
        "register_feature_networks",
        "build_features",
        "a seeded random projection of grey pixels, for FID and kin",
        "    network = testing.check_feature_network($factory, dimensions=8)\n"
        '    assert "8 dimensions" in network.describe()',
        {
            "extra": '\n[eval]\nevery = 500\nmetrics = [{ name = "fid", features = "$component", samples = 500, reference_samples = 500 }]\n'
        },
        '`metrics = [{ name = "fid", features = "$component" }]` in `[eval]`.',
    ),
    "sink": Kind(
        "register_sinks",
        "build_sink",
        "scalar records to a CSV file in the run folder",
        "    testing.check_sink($factory, tmp_path)\n"
        '    assert (tmp_path / "scalars.csv").read_text().startswith("2,loss/generator,0.5")',
        {"top": 'sinks = ["console", "jsonl", "png", "$component"]\n'},
        '`sinks = ["console", "$component"]`.',
        '    assert "loss/generator" in (run / "scalars.csv").read_text()  # the sink ran in the loop\n',
    ),
}


class ScaffoldError(GanforgeError):
    """A plugin name or destination that cannot be used."""


def check_name(name: str) -> str:
    """The import suffix for ``name`` (``my-shapes`` -> ``my_shapes``), or a ScaffoldError saying why not."""
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"plugin name {name!r}: use lower-case letters, digits and single '-' or '_' between them, "
            "starting with a letter (e.g. 'shapes' or 'my-shapes')"
        )
    suffix = name.replace("-", "_")
    if keyword.iskeyword(suffix):
        raise ScaffoldError(f"plugin name {name!r} is a Python keyword")
    return suffix


def create(name: str, kind: str, parent: Path) -> Path:
    """Write ``parent/ganforge-NAME``; nothing is written when anything is wrong."""
    suffix = check_name(name)
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    target = parent / f"ganforge-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} already exists; nothing was written (pick another name or folder)")
    if not parent.is_dir():
        raise ScaffoldError(f"--dir {parent}: no such folder")
    values = _values(name, suffix, kind)
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"ganforge_{suffix}/__init__.py": "__init__.py.tmpl",
        f"ganforge_{suffix}/{kind}.py": f"{kind}.py.tmpl",
        f"recipes/{name}.toml": "recipe.toml.tmpl",
        f"tests/test_{suffix}.py": "test_plugin.py.tmpl",
    }
    # build it beside the target and rename: a failure halfway leaves no half-made package
    staging = Path(tempfile.mkdtemp(prefix=f".ganforge-{name}.", dir=parent))
    try:
        for relative, template in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            text = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
            path.write_text(text, encoding="utf-8")
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _values(name: str, suffix: str, kind: str) -> dict[str, str]:
    """What the templates' ``$names`` stand for."""
    spec = KINDS[kind]
    values = {
        "name": name,
        "module_suffix": suffix,
        "module": f"ganforge_{suffix}",
        "component": suffix,
        "kind": kind,
        "kind_module": kind,
        "factory": spec.factory,
        "hook": spec.hook,
        "summary": spec.summary[0].upper() + spec.summary[1:] + ".",
        "summary_lower": spec.summary,
        "contract": str(CONTRACT_VERSION),
        "ganforge_version": __version__,
    }

    def fill(text: str) -> str:
        return Template(text).substitute(values)

    # the recipe's slots: ganforge's built-ins, except the one the new component fills
    slots = {"top": "", "extra": "", **tomllib.loads((TEMPLATES / "built_ins.toml").read_text(encoding="utf-8"))}
    slots.update({slot: fill(text) for slot, text in spec.recipe.items()})
    check = fill(spec.check)
    return {
        **values,
        **slots,
        "check": check,
        "usage": fill(spec.usage),
        "trained": fill(spec.trained),
        "imports": "\nimport numpy as np\n" if "np." in check else "",
        "data_import": "".join(
            f"from ganforge.data import {name}\n" for name in ("ArrayDataset", "DataSpec") if name in check
        ),
    }
