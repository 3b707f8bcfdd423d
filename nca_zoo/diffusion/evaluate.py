"""Measure a diffusion model on held-out data: FID / KID of its samples and two references.

:func:`vnca_metrics` does the same for the VAE baseline VNCA (prior samples, no schedule).

Used both by ``benchmarks/tools/export_pretrained.py`` (to write a model card) and by the tests (to
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
                      sampler: str = "ddim", steps: Optional[int] = 25, seed: int = 0,
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
    out = {"n": n, "image_size": size, "sampler": sampler, "sampler_steps": steps, "seed": seed}
    return {**out, **_with_references(dm, real, fake, gen, features)}


def _with_references(dm: DiffusionDataModule, real, fake, gen: torch.Generator,
                     features: str) -> dict:
    """FID / KID of ``fake`` (float in [0, 1]) and of the train and colour-noise references."""
    n = len(real)
    fake = fake.mul(255).round().to(torch.uint8)
    train = dm.real_images("train", n)
    r = real.float()
    mean, std = r.mean((0, 2, 3), keepdim=True), r.std((0, 2, 3), keepdim=True)
    noise = (torch.randn(r.shape, generator=gen) * std + mean).clamp(0, 255).round().to(torch.uint8)
    out = {}
    for key, imgs in (("model", fake), ("train", train), ("noise", noise)):
        m = fid_kid(real, imgs, features)
        out[f"fid_{key}"], out[f"kid_{key}"] = m["fid"], m["kid_mean"]
        out["features"] = m["features"]
    return out


@torch.no_grad()
def vnca_metrics(model: nn.Module, data: dict, n: Optional[int] = None, seed: int = 0,
                 features: str = "tiny", batch: int = 64, pixels: str = "sample") -> dict:
    """FID / KID of ``n`` prior samples of a VNCA (``model.sample``), as :func:`diffusion_metrics`.

    Same test split, extractor and references; the data's image size must be the model's.
    """
    dm = DiffusionDataModule(**data)
    if dm.size != model.image_size:
        raise ValueError(f"the data has {dm.size}x{dm.size} images, the VNCA grows "
                         f"{model.image_size}x{model.image_size}")
    real = dm.real_images("test", n)
    n = len(real)
    gen = torch.Generator().manual_seed(seed)
    fake = torch.cat([model.eval().sample(min(batch, n - i), generator=gen, pixels=pixels).cpu()
                      for i in range(0, n, batch)])
    out = {"n": n, "image_size": dm.size, "pixels": pixels, "seed": seed}
    return {**out, **_with_references(dm, real, fake, gen, features)}
