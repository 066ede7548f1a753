"""Images/s of FID features: ganforge's fid_inception (on TensorFlow and on JAX) beside pytorch-fid, one machine, one run.

Each side runs in a process of its own, on the same uint8 images and the same weights file, batch 50
(pytorch-fid's default), after one warm-up batch; the three alternate for ``--rounds`` rounds and the
medians are compared. Also prints how far ganforge's features are from pytorch-fid's.

    python benchmarks/fid_features.py --weights pt_inception-2015-12-05-6726825d.pth
    python benchmarks/fid_features.py --weights W.pth --torch-path FOLDER   # FOLDER: pip install --target FOLDER
                                                                           # torch torchvision==0.15.2 pytorch-fid
Without ``--torch-path`` only ganforge's two backends are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BATCH = 50

GANFORGE = """
import json, sys, time
import numpy as np
from ganforge.data.pixels import to_unit_range
from ganforge.evaluation.features import build_feature_network, extract
network = build_feature_network({"name": "fid_inception", "weights": sys.argv[2]})
images = to_unit_range(np.load(sys.argv[1]))
extract(network, images[:50], None)  # warm-up: the first call builds the graph
started = time.perf_counter()
features = extract(network, images, None).features
seconds = time.perf_counter() - started
np.save(sys.argv[3], features)
print(json.dumps(len(images) / seconds))
"""

PYTORCH_FID = """
import json, sys, time
import numpy as np, torch
from pytorch_fid import inception
inception.load_state_dict_from_url = lambda *a, **k: torch.load(sys.argv[2], weights_only=True)
network = inception.InceptionV3([3]).eval()
images = torch.from_numpy(np.load(sys.argv[1])).permute(0, 3, 1, 2).float() / 255
with torch.no_grad():
    network(images[:50])
    started = time.perf_counter()
    features = torch.cat([network(images[s : s + 50])[0][:, :, 0, 0] for s in range(0, len(images), 50)])
    seconds = time.perf_counter() - started
np.save(sys.argv[3], features.numpy())
print(json.dumps(len(images) / seconds))
"""


def run_side(code: str, images: Path, weights: Path, out: Path, env: dict) -> float:
    child = subprocess.run(
        [sys.executable, "-c", code, str(images), str(weights), str(out)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise SystemExit(child.stderr[-3000:])
    return float(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="a .pth in pytorch-fid's layout")
    parser.add_argument("--torch-path", type=Path, help="a folder with torch, torchvision and pytorch-fid")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=64, help="side of the generated-like images")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fid-bench-"))
    images = folder / "images.npy"
    rng = np.random.default_rng(0)
    np.save(images, rng.integers(0, 256, (args.images, args.size, args.size, 3), dtype=np.uint8))
    sides = {"ganforge, TensorFlow": (GANFORGE, {"KERAS_BACKEND": "tensorflow"})}
    sides["ganforge, JAX"] = (GANFORGE, {"KERAS_BACKEND": "jax"})
    if args.torch_path:
        sides["pytorch-fid, PyTorch"] = (PYTORCH_FID, {"PYTHONPATH": str(args.torch_path), "PYTHONWARNINGS": "ignore"})
    speeds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for index, (name, (code, env)) in enumerate(sides.items()):
            speeds[name].append(run_side(code, images, args.weights, folder / f"features_{index}.npy", env))
    first = next(iter(speeds))
    print(f"{args.images} images of {args.size}x{args.size}, batch {BATCH}, {args.rounds} rounds, median images/s:")
    for name, values in speeds.items():
        ratio = statistics.median(values) / statistics.median(speeds[first])
        print(f"  {name:22s} {statistics.median(values):7.1f}   ({ratio:.2f}x {first})")
    if args.torch_path:
        reference = np.load(folder / f"features_{len(sides) - 1}.npy")
        for index, name in enumerate(list(sides)[:-1]):
            difference = np.abs(np.load(folder / f"features_{index}.npy") - reference).max()
            print(
                f"  {name}: max |features - pytorch-fid's| = {difference:.3g} ({difference / np.abs(reference).max():.2g} of the largest)"
            )
    print(json.dumps({name: statistics.median(values) for name, values in speeds.items()}))


if __name__ == "__main__":
    main()
