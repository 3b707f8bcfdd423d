"""FID and KID through torchmetrics, offline (Diff-NCA paper §4.2: 2048 real vs 2048 generated).

The feature extractor is named by a string, and every result carries that name:

* ``inception:/path/to/weights.pth``: the standard Inception-v3 of torch-fidelity
  (``pt_inception-2015-12-05`` / ``weights-inception-2015-12-05``) loaded from a local file; needs
  the ``torch-fidelity`` package.  No download is ever attempted.
* ``tiny``: :class:`TinyFeatureNet`, a fixed random conv net (seeded, untrained).  It runs the same
  torchmetrics code path in tests and CPU smoke runs; its numbers are *not* comparable to any
  published FID.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class TinyFeatureNet(nn.Module):
    """Deterministic random features for uint8 images: 3 strided convs + global pooling."""

    def __init__(self, num_features: int = 16, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_features = num_features
        chans = [3, 16, 32, num_features]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1)
                                   for a, b in zip(chans, chans[1:]))
        with torch.no_grad():
            for c in self.convs:
                c.weight.copy_(torch.randn(c.weight.shape, generator=g)
                               / (c.weight[0].numel() ** 0.5))
                c.bias.zero_()
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``(N, 3, H, W)`` (uint8 or float in [-1, 1]) -> features ``(N, num_features)``."""
        dt = self.convs[0].weight.dtype
        x = x.to(dt) / 255.0 * 2 - 1 if x.dtype == torch.uint8 else x.to(dt)
        for i, c in enumerate(self.convs):
            x = c(x)
            if i < len(self.convs) - 1:
                x = torch.tanh(x)
        return x.mean((-2, -1))


def feature_extractor(spec: str) -> tuple[nn.Module, str]:
    """``(module, description)`` for ``"tiny"`` or ``"inception:PATH"``; one-line errors."""
    if spec == "tiny":
        return TinyFeatureNet(), ("TinyFeatureNet (random 16-d features; not comparable to "
                                  "Inception FID)")
    if spec.startswith("inception:"):
        path = Path(spec.split(":", 1)[1]).expanduser()
        if not path.is_file():
            raise ValueError(f"Inception weights not found: {path} (download "
                             f"pt_inception-2015-12-05-6726825d.pth elsewhere and name its "
                             f"local path)")
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
            net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                     feature_extractor_weights_path=str(path))
        except (ImportError, ModuleNotFoundError) as exc:
            raise ValueError(f"Inception features need the torch-fidelity package "
                             f"({exc})") from None
        net.num_features = 2048
        return net, f"Inception-v3 (torch-fidelity, 2048-d pool features) from {path}"
    raise ValueError(f"feature extractor must be 'tiny' or 'inception:/path/to/weights.pth', "
                     f"got {spec!r}")


@torch.no_grad()
def fid_kid(real: Tensor, fake: Tensor, feature: str = "tiny", kid_subset_size: int = 1000,
            batch: int = 64) -> dict:
    """FID and KID between ``uint8 (N, 3, H, W)`` image sets; the dict names the extractor."""
    for name, x in (("real", real), ("fake", fake)):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{name} images must be uint8 (N, 3, H, W), "
                             f"got {x.dtype} {tuple(x.shape)}")
        if len(x) < 2:
            raise ValueError(f"FID needs at least 2 {name} images, got {len(x)}")
    net, desc = feature_extractor(feature)
    subset = max(2, min(kid_subset_size, min(len(real), len(fake)) // 2))
    fid = FrechetInceptionDistance(feature=net, reset_real_features=True)
    with warnings.catch_warnings():   # "KID saves all features": intended, N is small
        warnings.simplefilter("ignore")
        kid = KernelInceptionDistance(feature=net, subset_size=subset, reset_real_features=True)
    fid.set_dtype(torch.float64)
    for metric in (fid, kid):
        for is_real, x in ((True, real), (False, fake)):
            for i in range(0, len(x), batch):
                metric.update(x[i:i + batch], real=is_real)
    with torch.random.fork_rng(devices=[]):     # KID draws random subsets: make them repeatable
        torch.manual_seed(0)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid_mean": float(kid_mean), "kid_std": float(kid_std),
            "n_real": len(real), "n_fake": len(fake), "kid_subset_size": subset, "features": desc}
