"""The reference side of test_fid_inception.py, run with PyTorch and pytorch-fid installed.

    python pytorch_fid_reference.py FOLDER

Writes FOLDER/weights.pth (random weights in the layout of pytorch-fid's published file: the state
dict of its FID Inception, in torch.save's older single-stream format) and FOLDER/weights_zip.pth (the
same in today's zip format); then reads FOLDER/images.npz (uint8 batches, NHWC) and writes
FOLDER/reference.npz: for each batch, the 2048-d features pytorch-fid's own InceptionV3 computes
(as its fid_score does: ToTensor's /255, then its resize and normalisation) and PyTorch's resize alone;
and what PyTorch reads from FOLDER/ours_zip.pth and FOLDER/ours_legacy.pth (written by torch_files.py).
"""

import collections
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_fid import inception


def random_state(generator: torch.Generator) -> dict:
    """torchvision's Inception-v3 as pytorch-fid builds it (1008 classes, no auxiliary head): the FID
    blocks replace some forwards but keep every parameter name and shape. Random weights, and batch-norm
    statistics measured on random images so that activations keep their scale through 94 layers."""
    model = inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("bn.weight"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif name.endswith("bn.bias"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
            elif tensor.dtype == torch.float32 and not name.endswith(("running_mean", "running_var")):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * (2.0 / tensor[0].numel()) ** 0.5)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # a plain average over the calibration batch
        model.train()
        model(torch.rand((8, 3, 299, 299), generator=generator) * 2 - 1)
    # like the published file (converted from TensorFlow's graph, 95,628,359 bytes): a plain OrderedDict
    # without batch norm's step counters or module version metadata
    state = model.eval().state_dict()
    return collections.OrderedDict((k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))


def main(folder: Path) -> None:
    torch.manual_seed(0)
    state = random_state(torch.Generator().manual_seed(1))
    torch.save(state, folder / "weights.pth", _use_new_zipfile_serialization=False)
    torch.save(state, folder / "weights_zip.pth")
    # pytorch-fid downloads its weights through this function: hand it the file instead
    inception.load_state_dict_from_url = lambda *args, **kwargs: torch.load(folder / "weights.pth", weights_only=True)
    network = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    results = {}
    with np.load(folder / "images.npz") as images, torch.no_grad():
        for name in images.files:
            batch = torch.from_numpy(images[name]).permute(0, 3, 1, 2).float() / 255  # as ToTensor
            results[f"features_{name}"] = network(batch)[0].squeeze(3).squeeze(2).numpy()
            resized = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
            results[f"resized_{name}"] = resized.permute(0, 2, 3, 1).numpy()
    for layout in ("zip", "legacy"):  # files written by the tests' own writer, read by PyTorch
        for key, value in torch.load(folder / f"ours_{layout}.pth", weights_only=True).items():
            results[f"ours_{layout}_{key}"] = value.numpy()
    np.savez(folder / "reference.npz", **results)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
