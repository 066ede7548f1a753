"""``fid_inception``: the network of published FIDs, proven against pytorch-fid itself, and every way its
weights file can be missing, wrong or unsafe.

The real weights cannot be downloaded here. The proof builds pytorch-fid's own model (installed with
PyTorch into the test session's folder, conftest.pytorch_site) with random weights, saves them in the published file's layout, and
checks that ganforge, reading that file with its own loader, computes the same features from the same
images, and resizes them exactly as pytorch-fid does.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error, invoke_cli
from PIL import Image
from torch_files import save_state_dict

from ganforge.data.pixels import to_unit_range
from ganforge.errors import RecipeError
from ganforge.evaluation.download import sha256_of
from ganforge.evaluation.features import build_feature_network, extract
from ganforge.evaluation.torch_weights import WeightsFileError, read_state_dict
from ganforge.trained.evaluate import features_option

HERE = Path(__file__).parent


@functools.lru_cache(maxsize=1)
def fid_layout() -> dict[str, tuple]:
    """Names and shapes of the FID Inception's tensors, in PyTorch's order of axes."""
    from ganforge import backend
    from ganforge_metrics.inception_2015 import build_model

    _, units = build_model(backend.keras())
    shapes = {}
    for name, (conv, _) in units.items():
        height, width, inputs, outputs = conv.kernel.shape
        shapes[f"{name}.conv.weight"] = (outputs, inputs, height, width)
        shapes.update({f"{name}.bn.{part}": (outputs,) for part in ("weight", "bias", "running_mean", "running_var")})
    return {**shapes, "fc.weight": (1008, 2048), "fc.bias": (1008,)}


def random_fid_weights(path: Path, seed: int = 0, **kwargs) -> Path:
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in fid_layout().items():
        if name.endswith("running_var") or name.endswith("bn.weight"):
            arrays[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif len(shape) == 4:
            arrays[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)
        else:
            arrays[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
    return save_state_dict(path, arrays, **kwargs)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return random_fid_weights(tmp_path_factory.mktemp("fid") / "random.pth", legacy=True)


# -- the proof against pytorch-fid ---------------------------------------------------------------


@pytest.mark.slow
def test_features_and_resize_agree_with_pytorch_fid(pytorch, tmp_path):
    rng = np.random.default_rng(0)
    batches = {  # sizes of CIFAR and CelebA crops, a non-square one, and one that shrinks
        "cifar": rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8),
        "celeba": rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8),
        "wide": rng.integers(0, 256, (3, 40, 72, 3), dtype=np.uint8),
        "large": rng.integers(0, 256, (2, 512, 512, 3), dtype=np.uint8),
    }
    np.savez(tmp_path / "images.npz", **batches)
    small = {"a": rng.standard_normal((3, 4)).astype(np.float32), "b": np.arange(5, dtype=np.int64)}
    save_state_dict(tmp_path / "ours_zip.pth", small)
    save_state_dict(tmp_path / "ours_legacy.pth", small, legacy=True)
    env = {**os.environ, "PYTHONPATH": str(pytorch), "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, str(HERE / "pytorch_fid_reference.py"), str(tmp_path)], env=env, check=True)
    reference = np.load(tmp_path / "reference.npz")

    from ganforge_metrics.reference_input import resize_bilinear

    for layout in ("weights.pth", "weights_zip.pth"):  # torch.save's older layout (the published file's) and zip
        network = build_feature_network({"name": "fid_inception", "weights": str(tmp_path / layout)})
        for name, images in batches.items():
            features, _ = network(to_unit_range(images))
            expected = reference[f"features_{name}"]
            assert np.abs(features - expected).max() <= 1e-4 * np.abs(expected).max(), (layout, name)
    for name, images in batches.items():  # to the pixel: within float32 rounding of the same arithmetic
        resized = resize_bilinear(images.astype(np.float32) / np.float32(255), 299)
        np.testing.assert_allclose(resized, reference[f"resized_{name}"], rtol=0, atol=2.5e-7)
    state = read_state_dict(tmp_path / "weights.pth")  # the logits: the last layer's weights, without its bias
    _, logits = network(to_unit_range(batches["cifar"]))
    np.testing.assert_allclose(logits, reference["features_cifar"] @ state["fc.weight"].T, rtol=1e-4, atol=1e-3)
    for layout in ("zip", "legacy"):  # this file's test writer writes what PyTorch itself reads
        for key, value in small.items():
            np.testing.assert_array_equal(reference[f"ours_{layout}_{key}"], value)


# -- the file reader -----------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_state_dict_reads_back_exactly_in_both_layouts(tmp_path, legacy):
    rng = np.random.default_rng(1)
    arrays = {"w": rng.standard_normal((4, 3, 2, 2)).astype(np.float32), "n": np.array(7, np.int64)}
    read = read_state_dict(save_state_dict(tmp_path / "w.pth", arrays, legacy=legacy))
    assert list(read) == ["w", "n"]
    np.testing.assert_array_equal(read["w"], arrays["w"])
    assert read["n"] == 7


class RunsACommand:
    """Pickles as a call of os.system: what a malicious weights file would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_file_that_needs_pickle_to_run_code_is_refused_without_running_it(tmp_path, legacy):
    marker = tmp_path / "ran"
    smuggled = pickle_bytes({"conv.weight": RunsACommand(marker)})
    path = save_state_dict(tmp_path / "evil.pth", {}, legacy=legacy, extra=smuggled)
    with pytest.raises(
        WeightsFileError, match=r"evil.pth: not a state dict of plain tensors \(it asks for posix.system"
    ):
        read_state_dict(path)
    assert not marker.exists()
    whole_model = pickle_bytes({"model": WeightsFileError("a pickled object")})
    with pytest.raises(WeightsFileError, match="it asks for ganforge.evaluation.torch_weights.WeightsFileError"):
        read_state_dict(save_state_dict(tmp_path / "model.pth", {}, legacy=legacy, extra=whole_model))


def pickle_bytes(value) -> bytes:
    import pickle

    return pickle.dumps(value, protocol=2)


def test_files_that_are_not_weights_or_are_cut_short_are_named(tmp_path, weights):
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(WeightsFileError, match="notes.pth: not a PyTorch weights file"):
        read_state_dict(text)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(WeightsFileError, match="cut.pth: damaged or cut short"):
        read_state_dict(cut)
    zipped = random_fid_weights(tmp_path / "zipped.pth")
    cut.write_bytes(zipped.read_bytes()[:-5000])
    with pytest.raises(WeightsFileError, match="cut.pth: damaged or cut short"):
        read_state_dict(cut)


# -- the network: weights, defaults, bad input -------------------------------------------------


def test_weights_of_another_network_are_refused_naming_what_differs(tmp_path):
    other = save_state_dict(tmp_path / "resnet.pth", {"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)})
    with pytest.raises(ValueError, match=r"resnet.pth is not the FID Inception weights file .*missing.*conv1.weight"):
        build_feature_network({"name": "fid_inception", "weights": str(other)})
    layout = fid_layout()
    arrays = {name: np.zeros(shape, np.float32) for name, shape in layout.items()}
    arrays["fc.weight"] = np.zeros((1000, 2048), np.float32)  # torchvision's ImageNet head, not the 2015 graph's
    wrong = save_state_dict(tmp_path / "imagenet.pth", arrays)
    with pytest.raises(ValueError, match=r"wrong shape or type: fc.weight \(1000, 2048\) \(expected \(1008, 2048\)\)"):
        build_feature_network({"name": "fid_inception", "weights": str(wrong)})


def test_images_too_small_or_of_the_wrong_channel_count_are_refused(weights):
    network = build_feature_network({"name": "fid_inception", "weights": str(weights)})
    assert extract(network, np.zeros((2, 16, 20, 1), np.float32), None).features.shape == (2, 2048)  # grey: repeated
    with pytest.raises(ValueError, match="at least 16x16; these are 8x8"):
        extract(network, np.zeros((2, 8, 8, 3), np.float32), None)
    with pytest.raises(ValueError, match="3-channel images; these have 4"):
        extract(network, np.zeros((2, 32, 32, 4), np.float32), None)


def test_fid_and_kid_pick_the_fid_inception_for_colour_and_digits_for_grey(weights, monkeypatch):
    from ganforge.data import DataSpec
    from ganforge_metrics import fid, kid
    from ganforge_metrics.measured import default_features

    monkeypatch.setenv("GANFORGE_FID_WEIGHTS", str(weights))
    assert default_features(DataSpec(32, 32, 1)) == "digits"  # (test_evaluation.py measures with it)
    networks = []
    for factory in (fid, kid):
        colour = factory(samples=4, reference_samples=4)
        colour.check(DataSpec(32, 32, 3), None)
        assert colour.describe()["network"]["name"] == "fid_inception"
        networks.append(colour.network)
    assert networks[0] is networks[1]  # built once, its weights in memory once
    with pytest.raises(ValueError, match="resize: this feature network resizes images itself"):
        fid(resize="bicubic").check(DataSpec(32, 32, 3), None)


# -- ganforge eval (in this process, conftest.invoke_cli): records, the download, bad files ------------


def image_folder(folder: Path, count: int, seed: int, side: int = 32) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"{index:03d}.png")
    return folder


@pytest.mark.slow
def test_eval_records_the_network_its_weights_checksum_resize_and_counts(tmp_path, weights):
    real, fake = image_folder(tmp_path / "real", 12, 1), image_folder(tmp_path / "fake", 12, 2)
    out = tmp_path / "fid.json"
    args = ["eval", str(fake), "--against", str(real), "--metric", "fid", "--metric", "kid", "--out", str(out)]
    features = f"fid_inception:weights={weights}"
    done = invoke_cli(*args, "--samples", "12", "--reference-samples", "12", "--features", features, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for record in json.loads(out.read_text()):
        assert record["network"] == {
            "name": "fid_inception",
            "description": record["features"],
            "weights": str(weights),
            "weights_sha256": sha256_of(weights),
            "standard_weights": False,
        }
        assert "NOT the published weights" in record["features"]
        assert record["resize"].startswith("pytorch-fid: uint8, bilinear to 299x299")
        assert (record["samples"], record["reference_samples"], record["reference"]) == (12, 12, str(real))
    assert "NOT the published weights" in done.stdout


class Files:
    """A local HTTP server for one folder."""

    def __init__(self, folder: Path):
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.mark.slow
def test_eval_downloads_once_and_refuses_a_wrong_checksum_or_no_network(tmp_path, weights):
    real, fake = image_folder(tmp_path / "real", 4, 1), image_folder(tmp_path / "fake", 4, 2)
    files = Files(weights.parent)
    cache = tmp_path / "cache"
    env = {"GANFORGE_CACHE": str(cache), "GANFORGE_FID_WEIGHTS_URL": files.url(weights.name)}
    args = ["eval", str(fake), "--against", str(real), "--metric", "fid", "--samples", "4", "--reference-samples", "4"]
    wrong = invoke_cli(*args, env=env, cwd=tmp_path)
    assert_user_error(wrong)
    message = " ".join(wrong.stderr.split())
    assert f"{files.url(weights.name)}: the download's SHA-256 is {sha256_of(weights)}" in message
    assert "not the published 6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2" in message
    assert "--features fid_inception:weights=PATH" in message and "$GANFORGE_FID_WEIGHTS" in message
    assert not (cache / "features").exists() or not any((cache / "features").iterdir())
    files.httpd.shutdown()
    files.httpd.server_close()
    offline = invoke_cli(*args, env=env, cwd=tmp_path)  # the server is gone: nothing answers
    assert_user_error(offline)
    message = " ".join(offline.stderr.split())
    assert (
        f"cannot download {files.url(weights.name)} to {cache / 'features' / 'pt_inception-2015-12-05-6726825d.pth'}"
        in message
    )
    assert "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" in message


@pytest.mark.slow
def test_eval_names_a_bad_weights_file_or_too_small_images_and_exits_2(tmp_path, weights):
    real, fake = image_folder(tmp_path / "real", 4, 1), image_folder(tmp_path / "fake", 4, 2)
    other = save_state_dict(tmp_path / "other.pth", {"conv1.weight": np.zeros((8, 3, 3, 3), np.float32)})
    args = ["eval", str(fake), "--against", str(real), "--metric", "fid", "--samples", "4", "--reference-samples", "4"]
    done = invoke_cli(*args, "--features", f"fid_inception:weights={other}", cwd=tmp_path)
    assert_user_error(done)
    assert f"{other} is not the FID Inception weights file" in " ".join(done.stderr.split())
    with pytest.raises(RecipeError, match="write NAME or NAME:key=value"):
        features_option("fid_inception:weights")  # the --features value, before anything loads
    tiny_real, tiny_fake = (
        image_folder(tmp_path / "tiny_real", 4, 1, side=8),
        image_folder(tmp_path / "tiny_fake", 4, 2, 8),
    )
    args[1:4] = [str(tiny_fake), "--against", str(tiny_real)]
    tiny = invoke_cli(*args, "--features", f"fid_inception:weights={weights}", cwd=tmp_path)
    assert_user_error(tiny)
    expected = f"on {tiny_fake} against {tiny_real}: the feature network takes images of at least 16x16"
    assert expected in " ".join(tiny.stderr.split())
