"""Measure a diffusion model on held-out data: FID / KID of its samples and two references.

Used both by ``benchmarks/export_pretrained.py`` (to write a model card) and by the tests (to
check that a shipped generator still reproduces its card).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..data.diffusion import DiffusionDataModule
from .fid import fid_kid
from .sampling import sample


@torch.no_grad()
def diffusion_metrics(model: nn.Module, schedule, data: dict, n: Optional[int] = None,
                      sampler: str = "ddim", steps: int = 25, seed: int = 0,
                      features: str = "tiny", batch: int = 64) -> dict:
    """FID / KID of ``n`` samples against the test split of ``DiffusionDataModule(**data)``.

    Two references measured with the same extractor make the numbers readable when the extractor
    is not Inception: ``*_train`` compares training images with the test images (what a perfect
    model could reach) and ``*_noise`` compares Gaussian noise of the test set's per-channel mean
    and standard deviation (what a model that learned only the colours reaches).
    """
    dm = DiffusionDataModule(**data)
    real = dm.real_images("test", n)
    n, size = len(real), dm.size
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):   # the NCAs' stochastic update masks use the global RNG
        torch.manual_seed(seed)
        fake = torch.cat([sample(model.eval(), schedule, min(batch, n - i), size, size, sampler,
                                 steps, generator=gen, device="cpu") for i in range(0, n, batch)])
    fake = fake.mul(255).round().to(torch.uint8)
    train = dm.real_images("train", n)
    r = real.float()
    mean, std = r.mean((0, 2, 3), keepdim=True), r.std((0, 2, 3), keepdim=True)
    noise = (torch.randn(r.shape, generator=gen) * std + mean).clamp(0, 255).round().to(torch.uint8)
    out = {"n": n, "image_size": size, "sampler": sampler, "sampler_steps": steps, "seed": seed}
    for key, imgs in (("model", fake), ("train", train), ("noise", noise)):
        m = fid_kid(real, imgs, features)
        out[f"fid_{key}"], out[f"kid_{key}"] = m["fid"], m["kid_mean"]
        out["features"] = m["features"]
    return out
