"""TOML recipes: loading, ``extends`` chains, ``--set`` overrides, validation.

Every key is checked before anything is built, and every error names the
file the offending key came from and its dotted path. A child recipe's table
merges into its parent's key by key, except a component table whose
``name`` changes: that one replaces the parent's, since the old component's
parameters mean nothing to the new one.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from ganforge.data import augment_policy
from ganforge.data.augment_policy import parse_policy
from ganforge.errors import Location, PluginError, RecipeError
from ganforge.plugin import params
from ganforge.plugin.build import build, find
from ganforge.plugin.registry import Registry, get_registry
from ganforge.schedule import Schedule, is_scheduled, scheduled

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# recipe section -> component kind
COMPONENT_SECTIONS = {
    "dataset": "dataset",
    "generator": "generator",
    "discriminator": "discriminator",
    "loss": "loss",
}
# sections that hold a list of components, each optional: [[penalty]] (D's regularisers; one [penalty]
# table means a list of one) and [[generator_penalty]] (G's)
LIST_SECTIONS = {"penalty": "penalty", "generator_penalty": "generator_penalty"}
SET_ORIGIN = "--set"
# The root of every extends chain: the components a recipe may leave out.
DEFAULTS = Path(__file__).with_name("defaults.toml")
# `name = "none"` switches a listed component off (a child recipe cannot delete its parent's table,
# but it can say "none"); `penalty = []` empties the list.
NO_COMPONENT = "none"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TrainConfig(_Section):
    steps: int = Field(10_000, gt=0, le=10**12, description="generator updates to train for")
    batch_size: int = Field(64, gt=0, le=65_536, description="images per batch, for real and for fake")
    d_steps: int = Field(1, ge=1, le=100, description="discriminator updates before each generator update")
    latent_dim: int = Field(100, gt=0, le=65_536, description="size of the generator's noise vector")
    sample_every: int = Field(500, gt=0, description="steps between fixed-noise sample grids")
    samples: int = Field(64, gt=0, le=1024, description="images in each sample grid")
    checkpoint_every: int = Field(1000, gt=0, description="steps between checkpoints")
    keep_checkpoints: int = Field(3, ge=1, description="newest checkpoints kept on disk")
    log_every: int = Field(50, gt=0, description="steps between records to metrics.jsonl and sinks")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="one-sided: D's target for real becomes 1 - s")
    label_noise: float = Field(0.0, ge=0, lt=0.5, description="probability that each of D's targets is flipped")
    ema_decay: float = Field(
        0.0, ge=0, lt=1, description="0: off; else keep an EMA of G's weights for samples and evaluation"
    )
    ema_images: scheduled(gt=0) | None = Field(
        None,
        description="the EMA of G's weights as a half-life in images (StyleGAN's ema_kimg x 1000), a number or "
        "a schedule; instead of ema_decay",
    )
    ema_rampup: float = Field(
        0.05, ge=0, description="ema_images: the half-life is at most this times the images trained on so far (0: off)"
    )
    jit_compile: bool = Field(False, description="compile the step with XLA (measure first: slower on many CPUs)")
    deterministic: Literal[True, False, "auto"] = Field(
        "auto",
        description='deterministic TensorFlow ops, so the same seed gives the same losses; "auto": on for CPUs, off on GPUs',
    )
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "float32", description="16-bit compute for G and D, float32 weights, logits and losses (mixed_*)"
    )
    on_divergence: Literal["stop", "rollback"] = Field(
        "stop",
        description="when a loss or weight stops being finite: stop (exit 3), or roll back to the last checkpoint",
    )
    rollback_lr_factor: float = Field(
        0.5, gt=0, lt=1, description="each rollback multiplies both learning rates by this"
    )
    max_rollbacks: int = Field(3, ge=1, description="rollbacks allowed in one process before the run stops anyway")


class OptimizerConfig(_Section):
    name: Literal["adam"] = Field("adam", description="optimizer (Adam)")
    learning_rate: scheduled(gt=0) = Field(2e-4, description="a number, or a schedule over the images trained on")
    beta_1: scheduled(ge=0, lt=1) = Field(0.5, description="a number, or a schedule")
    beta_2: scheduled(ge=0, lt=1) = Field(0.999, description="a number, or a schedule (R3GAN's)")
    epsilon: float = Field(1e-7, gt=0, description="Keras' default 1e-7; StyleGAN and R3GAN use 1e-8")
    schedule: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="learning-rate decay: constant, or linear / cosine down to final_scale"
    )
    decay_start: float = Field(0.0, ge=0, lt=1, description="fraction of training before the decay begins")
    final_scale: float = Field(0.0, ge=0, le=1, description="the last learning rate, as a fraction of learning_rate")


class ComponentConfig(BaseModel):
    """``name`` picks the component; every other key is one of its parameters."""

    model_config = ConfigDict(extra="allow", strict=True)
    name: str = Field(min_length=1)


class EvalConfig(_Section):
    every: int = Field(0, ge=0, description="steps between evaluations (0: only at the end, when metrics are listed)")
    metrics: list[ComponentConfig] = Field([], description="metrics to run, each a table with name and parameters")
    best: str = Field(
        "", description='keep checkpoints/best.npz by this result, e.g. "fid/fid" (metric/value); empty: off'
    )
    best_mode: Literal["min", "max"] = Field("min", description="whether smaller or larger is better for `best`")


class DistributeConfig(_Section):
    strategy: Literal["none", "mirrored", "multi_worker"] = Field(
        "none", description="none: one device; mirrored: this machine's devices; multi_worker: the TF_CONFIG cluster"
    )
    devices: list[str] = Field(
        [], description='for mirrored, e.g. ["GPU:0", "GPU:1"]; empty: every GPU, or the CPU\'s logical devices'
    )
    cpu_devices: int = Field(
        1, ge=1, le=64, description="split the CPU into this many logical devices (to try a strategy without GPUs)"
    )
    connect_timeout: float = Field(
        300.0, gt=0, description="multi_worker: seconds to wait for every worker of TF_CONFIG to start"
    )


class AugmentConfig(_Section):
    policy: str = Field(
        "", description='DiffAugment transforms of every D input, e.g. "color,translation,cutout"; empty: off'
    )
    pipeline: str = Field("", description='ADA\'s augmentations of every D input, e.g. "bgc"; empty: off')
    p: scheduled(ge=0, le=1) = Field(
        0.0, description="ADA: the probability of each augmentation, a number or a schedule (adaptive: where p starts)"
    )
    adaptive: bool = Field(False, description="ADA: move p so that E[sign(D(real))] stays at target")
    target: float = Field(0.6, gt=0, lt=1, description="adaptive: the r_t = E[sign(D(real))] to hold")
    interval: int = Field(4, ge=1, description="adaptive: steps between adjustments of p")
    speed_images: int = Field(500_000, gt=0, description="adaptive: images over which p can move from 0 to 1")

    @field_validator("policy")
    @classmethod
    def _known(cls, value: str) -> str:
        if value.strip():
            parse_policy(value)
        return value

    @field_validator("pipeline")
    @classmethod
    def _known_pipeline(cls, value: str) -> str:
        if value.strip():
            augment_policy.parse_pipeline(value)
        return value


class ConditionConfig(_Section):
    labels: bool = Field(
        False,
        description="train a conditional GAN: G and D take the dataset's labels (its classes or attributes)",
    )
    discriminator: Literal["projection", "classifier"] = Field(
        "projection",
        description="how D uses the labels: projection (Miyato & Koyama 2018: D takes them) or classifier "
        "(AC-GAN, Odena et al. 2017: D predicts them, a classification loss added for D and G)",
    )
    classifier_weight: float = Field(1.0, gt=0, description="classifier: the weight of the classification loss")


class RecipeModel(_Section):
    name: str = Field(min_length=1, description="run name; run folders are <output_dir>/<name>-<time>")
    seed: int = Field(0, ge=0, description="seeds weights, noise and data order")
    backend: Literal["tensorflow", "jax"] = Field(
        "tensorflow", description="the Keras backend to train on (docs/backends.md: which when)"
    )
    output_dir: str = Field("runs", min_length=1, description="where run folders are created")
    dataset: ComponentConfig
    generator: ComponentConfig
    discriminator: ComponentConfig
    loss: ComponentConfig  # its default is in defaults.toml, like every default that names a plugin
    penalty: list[ComponentConfig] = Field([], description="D's regularisers ([[penalty]] tables)")
    generator_penalty: list[ComponentConfig] = Field([], description="G's regularisers ([[generator_penalty]])")
    eval: EvalConfig = EvalConfig()
    train: TrainConfig = TrainConfig()
    distribute: DistributeConfig = DistributeConfig()
    augment: AugmentConfig = AugmentConfig()
    condition: ConditionConfig = ConditionConfig()
    generator_optimizer: OptimizerConfig = OptimizerConfig()
    discriminator_optimizer: OptimizerConfig = OptimizerConfig()
    sinks: list[str | ComponentConfig] = Field(
        description="where records go: sink names, or tables { name = ..., parameters }"
    )


@dataclass
class Recipe:
    """A validated recipe: ``data`` is the fully resolved dict, defaults filled in (what ``recipe.toml``
    saves); ``model`` the same, typed. A component is read through :meth:`table` and built through
    :meth:`build`, which know where its table came from."""

    path: Path
    data: dict[str, Any]
    model: RecipeModel
    origins: dict[str, str] = field(default_factory=dict)
    single: frozenset[str] = frozenset()  # list sections written as one table ([penalty]), named so in errors

    @property
    def name(self) -> str:
        return self.model.name

    def location(self, section: str = "") -> Location:
        """Where the table ``section`` (``generator``, ``eval.metrics[0]``) came from, for errors."""
        return Location(as_written(section, self.single), self.origins, str(self.path))

    def table(self, section: str) -> dict[str, Any] | None:
        """A component's table as its factory takes it: ``name`` and every parameter, defaults written
        out, without the keys ganforge reads itself (``[dataset] limit``); None for an optional
        component the recipe does not use. ``section``: ``generator``, ``eval.metrics[0]``, ``sinks[1]``."""
        found = self._at(section)
        if found is None:
            return None
        table = {"name": found} if isinstance(found, str) else dict(found)  # a sink named bare
        return {key: value for key, value in table.items() if key not in CORE_KEYS.get(_kind(section), ())}

    def tables(self, section: str) -> list[str]:
        """The sections of a list section's components, in order: ``penalty[0]``, ``penalty[1]``."""
        return [f"{section}[{index}]" for index in range(len(self.data.get(section, [])))]

    def core_key(self, section: str, key: str, default: Any = None) -> Any:
        """A key ganforge reads from a component's table (``[dataset] limit``, a regulariser's ``scale``),
        schedules as :class:`~ganforge.schedule.Schedule`."""
        value = self._at(section).get(key, default)
        return Schedule.model_validate(value) if isinstance(value, dict) else value

    def _at(self, section: str) -> Any:
        """What ``data`` holds at ``section`` (``generator``, ``penalty[1]``, ``eval.metrics[0]``), or None."""
        found: Any = self.data
        for part in re.findall(r"[^.\[\]]+", section):
            found = found[int(part)] if part.isdigit() else found.get(part)
            if found is None:
                return None
        return found

    def build(self, section: str, registry: Registry, *args: Any, given: dict | None = None) -> Any:
        """The component ``section`` names, built from its table; every error names this recipe's file and
        the table's key. ``args`` and ``given``: what ganforge passes the factory (see ``plugin.build``)."""
        return build(registry, _kind(section), self.table(section), *args, where=self.location(section), given=given)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self.data))


# -- locating and reading files -----------------------------------------
def _packaged_recipe_dirs() -> list[Path]:
    package_dir = Path(__file__).resolve().parent
    # a wheel carries recipes inside the package; an editable install sees the repository's
    return [package_dir / "recipes", package_dir.parent / "recipes"]


def find_recipe(reference: str | Path) -> Path:
    """A recipe path, or a bare name (``quickstart``) looked up in ./recipes and ganforge's own."""
    path = Path(reference)
    if path.is_file():
        return path
    if path.suffix != ".toml" and path.parent == Path("."):
        for folder in [Path.cwd() / "recipes", *_packaged_recipe_dirs()]:
            candidate = folder / f"{path.name}.toml"
            if candidate.is_file():
                return candidate
    if path.is_dir():
        raise RecipeError("is a folder, not a recipe file (to continue a run, add --resume)", file=str(path))
    raise RecipeError("no such recipe file" + _bundled_hint(path), file=str(path))


def _bundled_hint(path: Path) -> str:
    """Name the bundled recipe a missing path looks like (``recipes/quickstart.toml`` outside the checkout)."""
    bundled = sorted({p.stem for folder in _packaged_recipe_dirs() if folder.is_dir() for p in folder.glob("*.toml")})
    if path.stem in bundled:
        return f"; ganforge ships a recipe of that name: use {path.stem!r} (ganforge run {path.stem})"
    close = difflib.get_close_matches(path.stem, bundled, n=1, cutoff=0.75)
    return f"; did you mean the bundled recipe {close[0]!r}?" if close else ""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("no such recipe file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecipeError(f"cannot read recipe: {error}", file=str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"not valid TOML: {error}", file=str(path)) from None


def _load_chain(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise RecipeError(f"'extends' forms a cycle: {cycle}", file=str(chain[-1]), key="extends")
    data = _read_toml(path)
    parent_ref = data.pop("extends", None)
    if path == DEFAULTS:
        return data, _origins(data, str(path))
    if parent_ref is None:
        base, origins = _load_chain(DEFAULTS, (*chain, path))
        return _merge(base, data, origins, str(path)), origins
    if not isinstance(parent_ref, str):
        raise RecipeError(f"must be a file name string, got {parent_ref!r}", file=str(path), key="extends")
    parent_path = path.parent / parent_ref
    if not parent_path.is_file():
        try:
            parent_path = find_recipe(parent_ref)
        except RecipeError:
            raise RecipeError(
                f"the recipe it extends, {parent_ref!r}, does not exist (looked for {parent_path})",
                file=str(path),
                key="extends",
            ) from None
    base, origins = _load_chain(parent_path, (*chain, path))
    return _merge(base, data, origins, str(path)), origins


def _origins(data: dict[str, Any], file: str, prefix: str = "") -> dict[str, str]:
    origins = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        origins[dotted] = file
        if isinstance(value, dict):
            origins.update(_origins(value, file, dotted + "."))
    return origins


def _merge(
    base: dict[str, Any], override: dict[str, Any], origins: dict[str, str], file: str, prefix: str = ""
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        old = merged.get(key)
        if not prefix and key in LIST_SECTIONS and isinstance(value, dict) and _single(old):
            old = old[0]  # [penalty] or --set penalty.gamma=... over a list of one: that one table
        replaces_component = (
            not prefix
            and (key in COMPONENT_SECTIONS or key in LIST_SECTIONS)
            and isinstance(old, dict)
            and isinstance(value, dict)
            and "name" in value
            and value["name"] != old.get("name")
        )
        if isinstance(old, dict) and isinstance(value, dict) and not replaces_component:
            merged[key] = _merge(old, value, origins, file, dotted + ".")
            origins[dotted] = file
        else:
            for stale in [k for k in origins if k.startswith(dotted + ".")]:
                del origins[stale]
            merged[key] = value
            origins.update(_origins({key: value}, file, prefix))
    return merged


def _single(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)


# -- --set overrides -----------------------------------------------------
def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` with the value read as a TOML literal.

    A value that is not valid TOML but is a plain word (``radford``) is taken
    as a string, so users need not quote strings on the command line.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"--set {text!r}: expected section.key=value", key=key or None)
    parts = key.split(".")
    if any(not part for part in parts):
        raise RecipeError(f"--set {text!r}: empty part in the key", key=key)
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        if not raw or any(ch in raw for ch in "\"'[]{}=,"):
            raise RecipeError(f"--set {text!r}: {raw!r} is not a TOML value", file=SET_ORIGIN, key=key) from None
        value = raw
    return parts, value


def _apply_override(data: dict[str, Any], origins: dict[str, str], parts: list[str], value: Any) -> dict[str, Any]:
    nested: Any = value
    for part in reversed(parts[1:]):
        nested = {part: nested}
    if (indexed := re.fullmatch(r"(\w+)\[(\d+)\]", parts[0])) is not None:  # penalty[1].gamma=...
        return _apply_to_listed(data, origins, indexed[1], int(indexed[2]), nested, parts[0])
    return _merge(data, {parts[0]: nested}, origins, SET_ORIGIN)


def _apply_to_listed(data: dict[str, Any], origins: dict[str, str], section: str, index: int, value: Any, key: str):
    """An override of one table of a list section (``--set penalty[1].gamma=1.0``)."""
    listed = data.get(section)
    listed = [listed] if isinstance(listed, dict) else listed
    if section not in LIST_SECTIONS or not isinstance(listed, list) or index >= len(listed):
        count = len(listed) if isinstance(listed, list) else 0
        raise RecipeError(f"the recipe has no table {key} (it lists {count} [[{section}]])", file=SET_ORIGIN, key=key)
    if not isinstance(value, dict) or not isinstance(listed[index], dict):
        raise RecipeError(f"{key} is a table: set one of its keys, as {key}.name=...", file=SET_ORIGIN, key=key)
    changed = list(listed)
    changed[index] = _merge(listed[index], value, origins, SET_ORIGIN, f"{key}.")
    return {**data, section: changed}


# -- validation ----------------------------------------------------------
def load_recipe(reference: str | Path, overrides: list[str] = (), registry: Registry | None = None) -> Recipe:
    """Read, merge, override and validate a recipe; raises RecipeError on any problem."""
    path = find_recipe(reference)
    data, origins = _load_chain(path)
    for text in overrides:
        parts, value = parse_override(text)
        data = _apply_override(data, origins, parts, value)
    data.setdefault("name", path.stem)
    recipe = Location("", origins, str(path))
    single = frozenset(section for section in LIST_SECTIONS if isinstance(data.get(section), dict))
    data = _as_lists(data)
    model = params.validate(RecipeModel, data, recipe)
    _check_combinations(model, recipe)

    registry = registry or get_registry()
    resolved = model.model_dump()
    for section, kind in COMPONENT_SECTIONS.items():
        resolved[section] = _validate_component(registry, kind, data[section], recipe.within(section))
    for section, kind in LIST_SECTIONS.items():
        resolved[section] = [
            _validate_component(registry, kind, dict(table), recipe.within(as_written(f"{section}[{index}]", single)))
            for index, table in enumerate(data.get(section, []))
        ]
    resolved["eval"]["metrics"] = [
        _validate_component(registry, "metric", dict(table), recipe.within(f"eval.metrics[{index}]"))
        for index, table in enumerate(data.get("eval", {}).get("metrics", []))
    ]
    _check_best(model.eval, recipe)
    resolved["sinks"] = [
        # a bare name stays a bare name in the saved recipe; a table gets its defaults written out
        sink
        if isinstance(sink, str) and not _has_required_params(registry, sink)
        else _validate_component(
            registry,
            "sink",
            {"name": sink} if isinstance(sink, str) else dict(sink),
            recipe.within(f"sinks[{position}]"),
        )
        for position, sink in enumerate(data["sinks"])
    ]
    # the model again, from the resolved tables: its component tables then hold their defaults too, so
    # recipe.model and recipe.data say the same thing
    return Recipe(path=path, data=resolved, model=RecipeModel.model_validate(resolved), origins=origins, single=single)


def as_written(section: str, single: frozenset[str]) -> str:
    """``penalty[0]`` as ``penalty`` when the recipe wrote one ``[penalty]`` table: errors name what a user wrote."""
    head = section.partition("[")[0]
    return head + section.partition("]")[2] if head in single and section.startswith(f"{head}[0]") else section


def _as_lists(data: dict[str, Any]) -> dict[str, Any]:
    """``[penalty]`` as a list of one, and a table named "none" as no table: the schema's list sections
    hold lists. (Errors in a single table name it as written, ``penalty.KEY``: :func:`as_written`.)"""
    data = dict(data)
    for section in LIST_SECTIONS:
        value = data.get(section)
        if isinstance(value, dict):
            value = [value]
        if isinstance(value, list):
            data[section] = [t for t in value if not (isinstance(t, dict) and t.get("name") == NO_COMPONENT)]
    return data


def _check_combinations(model: RecipeModel, recipe: Location) -> None:
    """What each key allows alone but not beside another, named by the key that would change."""
    train, augment = model.train, model.augment
    if train.ema_decay and train.ema_images is not None:
        raise recipe.error("ema_decay and ema_images both set the average of G's weights: keep one", "train.ema_images")
    for side in ("generator_optimizer", "discriminator_optimizer"):
        config = getattr(model, side)
        if isinstance(config.learning_rate, Schedule) and config.schedule != "constant":
            message = f'learning_rate is a schedule of its own: schedule = "{config.schedule}" would decay it twice'
            raise recipe.error(message + ' (leave schedule = "constant")', f"{side}.schedule")
    if augment.policy.strip() and augment.pipeline.strip():
        message = "policy (DiffAugment) and pipeline (ADA) both augment D's inputs: keep one"
        raise recipe.error(message, "augment.pipeline")
    for key in ("p", "adaptive"):  # (their defaults are written out in a saved recipe: look at the values)
        if getattr(augment, key) not in (0.0, False) and not augment.pipeline.strip():
            raise recipe.error(f'{key} is ADA\'s: set augment.pipeline (e.g. "bgc") too', f"augment.{key}")
    if augment.adaptive and is_scheduled(augment.p):
        message = "an adaptive p moves by itself: give p the number it starts at, not a schedule"
        raise recipe.error(message, "augment.p")


def _check_best(config: EvalConfig, recipe: Location) -> None:
    """``best`` must be "metric/value" with the metric among those listed."""
    if not config.best:
        return
    metric, _, value = config.best.partition("/")
    listed = [m.name for m in config.metrics]
    if metric not in listed or not value:
        hint = f"metrics listed: {', '.join(listed)}" if listed else "no metrics are listed in [eval] metrics"
        raise recipe.error(
            f'{config.best!r} should be "metric/value", e.g. "fid/fid", naming a metric in [eval] metrics ({hint})',
            "eval.best",
        )


def _has_required_params(registry: Registry, name: str) -> bool:
    """Whether a sink named bare needs a table instead (its check then reports what is missing)."""
    try:
        component = registry.get("sink", name)
    except PluginError:
        return True  # unknown: let _validate_component name the key and suggest a spelling
    return any(field.is_required() for field in component.params.model_fields.values())


def _kind(section: str) -> str:
    """The component kind of a recipe table: ``eval.metrics[0]`` holds a metric, ``sinks[1]`` a sink."""
    head = section.partition("[")[0]
    return {"eval.metrics": "metric", "sinks": "sink", **LIST_SECTIONS}.get(head) or COMPONENT_SECTIONS[head]


# keys of a component's table that ganforge reads, not the component: [dataset] limit (train on a fixed
# subset); a regulariser's scale (a number or a schedule multiplying its term)
CORE_KEYS = {"dataset": ("limit",), "penalty": ("scale",), "generator_penalty": ("scale",)}
# what each core key accepts, checked as the recipe is read
CORE_KEY_TYPES = {"scale": scheduled(ge=0)}


def _validate_component(registry: Registry, kind: str, values: dict[str, Any], where: Location) -> dict[str, Any]:
    """The table with every parameter checked and every default written out."""
    table = dict(values)
    name = table.pop("name")
    component = find(registry, kind, name, where)
    clash = [key for key in CORE_KEYS.get(kind, ()) if key in component.params.model_fields]
    if clash:
        raise PluginError(
            f"{kind} {name!r} declares the parameter {clash[0]!r}, which ganforge reserves for every {kind} "
            f"([{kind}] {clash[0]}, docs/recipes.md): its plugin must rename it"
        )
    core = {key: table.pop(key) for key in CORE_KEYS.get(kind, ()) if key in table}
    if "limit" in core and (isinstance(core["limit"], bool) or not isinstance(core["limit"], int) or core["limit"] < 1):
        raise where.error(f"limit must be a whole number of examples >= 1; got {core['limit']!r}", "limit")
    typed = {key: CORE_KEY_TYPES[key] for key in core if key in CORE_KEY_TYPES}
    if typed:  # a schedule is kept as its table (what recipe.toml saves); the step reads it back
        model = create_model(
            f"{kind}_core", __config__=ConfigDict(extra="forbid"), **{k: (t, ...) for k, t in typed.items()}
        )
        core.update(params.validate(model, {key: core[key] for key in typed}, where).model_dump(exclude_none=True))
    return {"name": name, **params.validate(component.params, table, where).model_dump(), **core}


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
