"""The PyTorch side of test_spectral_norm.py: ``torch.nn.utils.spectral_norm`` on given weights.

    python spectral_norm_reference.py FOLDER

Reads FOLDER/inputs.npz (a Conv2d's or Linear's weight and bias in PyTorch's layout, the starting
u and v, inputs x and a fixed cotangent r) and writes FOLDER/torch.npz: for each of three training
calls the output, u, v and the gradient of sum(output * r) with respect to the unnormalised weight,
then the output of one call in eval mode.
"""

import sys
from pathlib import Path

import numpy as np
import torch

folder = Path(sys.argv[1])
given = dict(np.load(folder / "inputs.npz"))
weight = torch.from_numpy(given["weight"])
if weight.ndim == 4:
    layer = torch.nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], padding=weight.shape[2] // 2)
    x = torch.from_numpy(given["x"]).permute(0, 3, 1, 2)  # NHWC -> NCHW
else:
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    x = torch.from_numpy(given["x"])
with torch.no_grad():
    layer.weight.copy_(weight)
    layer.bias.copy_(torch.from_numpy(given["bias"]))
layer = torch.nn.utils.spectral_norm(layer)
with torch.no_grad():
    layer.weight_u.copy_(torch.from_numpy(given["u"]))
    layer.weight_v.copy_(torch.from_numpy(given["v"]))
r = torch.from_numpy(given["r"])
results = {}
layer.train()
for call in range(3):
    layer.weight_orig.grad = None
    out = layer(x)
    out = out.permute(0, 2, 3, 1) if out.ndim == 4 else out
    (out * r).sum().backward()
    results.update(
        {
            f"out_{call}": out.detach().numpy(),
            f"u_{call}": layer.weight_u.numpy().copy(),
            f"v_{call}": layer.weight_v.numpy().copy(),
            f"grad_{call}": layer.weight_orig.grad.numpy().copy(),
        }
    )
layer.eval()
with torch.no_grad():
    out = layer(x)
    results["eval_out"] = (out.permute(0, 2, 3, 1) if out.ndim == 4 else out).numpy()
np.savez(folder / "torch.npz", **results)
