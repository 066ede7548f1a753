"""ADA's adaptive p in training: it rises while D overfits its few real images and falls to 0 when D
does not, one record of it per log line (kill -9 and resume restore it exactly: tests/test_crash_safety.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_RECIPE, write
from test_engine import start_run

from ganforge.training.trainer import train

# p moves by the images D judged over speed_images at each adjustment: 16 / 2,000 a step here. The colour
# group alone: how p moves does not depend on the pipeline, and "c" costs least
ADAPTIVE = [
    'augment.pipeline="c"',
    "augment.adaptive=true",
    "augment.interval=1",
    "augment.speed_images=2000",
    "train.steps=16",
    "train.log_every=1",
    "train.sample_every=100",
    "train.checkpoint_every=100",
    'sinks=["jsonl"]',
]


def p_and_rt(run) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return np.array([r["augment/p"] for r in rows]), np.array([r["augment/rt"] for r in rows])


@pytest.mark.slow
def test_p_rises_while_d_overfits_64_images(tmp_path):
    """D trained on 64 images tells them from G's at once: E[sign(D(real))] stays above 0.6, p climbs."""
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    run = train(*start_run(recipe, tmp_path, [*ADAPTIVE, "dataset.limit=64"])).run_dir
    p, rt = p_and_rt(run)
    assert (rt[4:] > 0.6).mean() > 0.8, rt
    assert (np.diff(p) >= 0).all() and p[-1] > 0.05, p
    # each step moved p by at most the step's share: sign(r_t - 0.6) * 16 / 2000
    assert np.abs(np.diff(p)).max() <= 16 / 2000 + 1e-6


@pytest.mark.slow
def test_p_falls_to_0_when_d_does_not_overfit(tmp_path):
    """A D whose learning rate is too small to learn keeps r_t below the target: p, started at 0.1, falls by
    a step's share each step until it stops at 0."""
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    slow_d = ["augment.p=0.1", "discriminator_optimizer.learning_rate=1e-9"]
    run = train(*start_run(recipe, tmp_path, [*ADAPTIVE, *slow_d])).run_dir
    p, rt = p_and_rt(run)
    assert (rt < 0.6).all(), rt
    assert p[0] == pytest.approx(0.1 - 16 / 2000, abs=1e-6)
    assert (np.diff(p) <= 0).all() and p[-1] == 0.0, p


@pytest.mark.slow
def test_a_scheduled_p_is_logged_as_the_next_step_uses_it(tmp_path):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    schedule = 'augment.p={ shape = "linear", initial = 0.0, final = 1.0, end_images = 64 }'
    overrides = ['augment.pipeline="c"', schedule, "train.steps=3", "train.log_every=1", 'sinks=["jsonl"]']
    run = train(*start_run(recipe, tmp_path, overrides)).run_dir
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # after step s, the next step has trained on 16 s images: p = 16 s / 64
    assert [r["augment/p"] for r in rows] == pytest.approx([0.25, 0.5, 0.75])
