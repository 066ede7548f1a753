"""Damaged files, made by Hypothesis: every one is reported as damaged, none raises anything else.

Checkpoints and images are the files a run reads that the user did not
write with ganforge's own code a moment ago; a bad disk, a cut copy or a
hostile sender can put anything in them.
"""

import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganforge.data.imagefiles import Preprocess, decode
from ganforge.errors import CheckpointError
from ganforge.runs import checkpoint

EXAMPLES = int(os.environ.get("GANFORGE_FUZZ_EXAMPLES", "300")) // 2


def damage(data, original: bytes) -> bytes:
    """1 to 4 flips, cuts or splices anywhere in ``original``."""
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        if not damaged:
            break
        at = data.draw(st.integers(0, len(damaged) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "splice"]))
        if how == "flip":
            damaged[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del damaged[at : at + data.draw(st.integers(1, 4096))]
        else:
            damaged[at:at] = data.draw(st.binary(min_size=1, max_size=64))
    return bytes(damaged)


@pytest.fixture(scope="module")
def checkpoint_bytes(tiny_run):
    return (tiny_run / "checkpoints" / "step_00000006.npz").read_bytes()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_checkpoint_is_always_a_checkpoint_error(checkpoint_bytes, tmp_path, data):
    """Flipped, cut or spliced bytes anywhere in the file: a CheckpointError, never another error or changed numbers."""
    damaged = damage(data, checkpoint_bytes)
    if damaged == checkpoint_bytes:
        return
    path = tmp_path / "step_00000006.npz"
    path.write_bytes(damaged)
    try:
        checkpoint.verify(path)
    except CheckpointError:
        event("reported damaged")
        return
    event("harmless")
    # bytes the format does not use (padding, a comment) can change harmlessly: then every array must be intact
    original = tmp_path / "original.npz"
    original.write_bytes(checkpoint_bytes)
    with np.load(path) as read, np.load(original) as expected:
        assert sorted(read.files) == sorted(expected.files)
        for key in expected.files:
            np.testing.assert_array_equal(read[key], expected[key])


def encoded(format: str, mode: str) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


IMAGES = [
    encoded("JPEG", "RGB"),
    encoded("PNG", "RGBA"),
    encoded("PNG", "P"),
    encoded("GIF", "P"),
    encoded("WEBP", "RGB"),
    encoded("BMP", "RGB"),
    encoded("TIFF", "CMYK"),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about damaged TIFF tags and EXIF: expected here
@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(range(len(IMAGES))), st.sampled_from(["none", "center", "center140"]), st.data())
def test_a_damaged_image_decodes_to_the_right_shape_or_is_reported_unreadable(which, crop, data):
    """What the image datasets do with each file: a (16, 16, C) uint8 array, or ValueError("not a readable image")."""
    damaged = damage(data, IMAGES[which])
    try:
        array = decode(damaged, Preprocess(crop=crop, resolution=16, channels=3))
    except ValueError as error:
        assert "not a readable image" in str(error)
        event("reported unreadable")
        return
    event("decoded")
    assert array.shape == (16, 16, 3) and array.dtype == np.uint8
