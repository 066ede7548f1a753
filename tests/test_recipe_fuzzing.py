"""Recipe fuzzing: whatever a recipe holds, ganforge succeeds or says what is wrong (exit 2), never a traceback.

Hypothesis mutates a valid recipe three ways: a key gets another value (any
TOML type, extremes, NaN), a key is renamed or deleted, or the TOML text
itself is cut and spliced. Each result goes through the real `ganforge recipe
check` command (in this process, for speed), which loads the recipe and builds
every component.
"""

import os
from pathlib import Path

import pytest
import tomli_w
import tomllib
from conftest import TINY_RECIPE
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ganforge.cli import app
from ganforge.recipe import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
# an image GAN on digits and the 2-D mixture benchmark (with penalty, schedules, metrics and eval keys)
BASES = [tomllib.loads(TINY_RECIPE), tomllib.loads((ROOT / "recipes" / "grid25.toml").read_text(encoding="utf-8"))]
# GANFORGE_FUZZ_EXAMPLES=5000 for a longer campaign than the suite's
EXAMPLES = int(os.environ.get("GANFORGE_FUZZ_EXAMPLES", "300"))


def leaves(table, prefix=()):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)


KEY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 300),  # near the real values, where the edge cases are
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
    st.sampled_from(["dcgan", "article", "radford", "digits", "images", "bce", "wgan_gp", "", "adam"]),
    st.booleans(),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY_TEXT, inner, max_size=3), max_leaves=6
)


def copied(table):
    return {key: copied(value) if isinstance(value, dict) else value for key, value in table.items()}


def place(table, path, value):
    for key in path[:-1]:
        if not isinstance(table.get(key), dict):
            table[key] = {}
        table = table[key]
    table[path[-1]] = value


def take(table, path):
    for key in path[:-1]:
        table = table[key]
    return table.pop(path[-1])


@st.composite
def mutated_recipes(draw):
    """(recipe text, the top-level key the message must name or None for broken TOML)."""
    data = copied(draw(st.sampled_from(BASES)))
    all_leaves = sorted(leaves(data))
    kind = draw(st.sampled_from(["value", "new key", "rename", "delete", "delete table", "syntax"]))
    path = draw(st.sampled_from(all_leaves))
    if kind == "value":
        place(data, path, draw(VALUES))
    elif kind == "new key":
        section = draw(st.sampled_from([(), *sorted({leaf[:1] for leaf in all_leaves if len(leaf) > 1})]))
        path = (*section, draw(KEY_TEXT))
        place(data, path, draw(VALUES))
    elif kind == "rename":
        value = take(data, path)
        path = (*path[:-1], draw(KEY_TEXT))
        place(data, path, value)
    elif kind == "delete":
        take(data, path)
    elif kind == "delete table":
        path = path[:1]
        take(data, path)
    text = tomli_w.dumps(data)
    if kind != "syntax":
        return text, path[0]
    at = draw(st.integers(0, len(text)))
    cut = draw(st.integers(0, 12))
    spliced = draw(st.text(st.sampled_from(list("[]{}=\"',.#\n\\ -+0123456789aeinf_")), max_size=6))
    return text[:at] + spliced + text[at + cut :], None


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.toml"


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutated_recipes())
def test_a_mutated_recipe_is_accepted_or_rejected_with_a_message_naming_file_and_key(recipe_file, mutation):
    text, key = mutation
    recipe_file.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["recipe", "check", str(recipe_file)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the bug this test exists to find
    output = result.output
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), output
    if result.exit_code == 2:
        assert "Traceback" not in output
        assert str(recipe_file) in output or recipe_file.name in output, output
        if key is not None:
            assert key in output, f"the message does not name {key!r}: {output}"


@settings(
    max_examples=EXAMPLES // 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(sorted(leaves(BASES[0]))), st.text(max_size=24))
def test_a_mutated_set_override_is_accepted_or_rejected_with_a_message_naming_the_key(recipe_file, path, raw):
    recipe_file.write_text(TINY_RECIPE, encoding="utf-8")
    key = ".".join(path)
    result = CliRunner().invoke(app, ["recipe", "check", str(recipe_file), "--set", f"{key}={raw}"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "Traceback" not in result.output
        assert key in result.output or "--set" in result.output, result.output


TRAIN_VALUES = st.one_of(
    st.integers(-3, 70), st.floats(-2, 2), st.sampled_from([0, 1, 0.0, 0.5, 0.999, True, "x", "rollback", float("nan")])
)


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("GANFORGE_FUZZ_RUNS", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(sorted(TrainConfig.model_fields)), TRAIN_VALUES)
def test_a_recipe_that_passes_check_also_trains(recipe_file, key, value):
    """Values the check accepts must train: the same mutation, run for two steps through the real loop."""
    data = copied(BASES[0])
    data["train"][key] = value
    data["output_dir"] = str(recipe_file.parent / "runs")
    data["sinks"] = ["jsonl"]
    recipe_file.write_text(tomli_w.dumps(data), encoding="utf-8")
    steps = ["--set", "train.steps=2"] if key != "steps" else []
    checked = CliRunner().invoke(app, ["recipe", "check", str(recipe_file), *steps])
    if checked.exit_code != 0:
        return
    event(f"train.{key} trained")
    result = CliRunner().invoke(app, ["run", str(recipe_file), *steps])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert f"train.{key}" in result.output or key in result.output, result.output


@pytest.mark.slow
def test_a_model_too_big_for_memory_is_a_recipe_error_naming_its_table(recipe_file):
    """Found by the fuzzer: an MLP 1,126,163 units wide asked TensorFlow for a 5 TB matrix, and that was a traceback."""
    recipe_file.write_text((ROOT / "recipes" / "grid25.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(app, ["recipe", "check", str(recipe_file), "--set", "discriminator.hidden=1126163"])
    assert result.exit_code == 2, result.output
    assert "discriminator 'mlp': does not fit in memory with these parameters (OOM when allocating" in result.output
