"""Measure a pretrained module on held-out data: restoration (PSNR / SSIM) and diffusion (FID / KID).

The functions are used both by ``benchmarks/export_pretrained.py`` (to write a model card) and by
the tests (to check that a shipped module still reproduces its card).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from .data.restoration import RestorationDataModule


@torch.no_grad()
def restoration_metrics(model: nn.Module, task: str = "noise", image_size: int = 32,
                        seed: int = 0, n: Optional[int] = None, batch: int = 16) -> dict:
    """PSNR / SSIM of ``model`` and of the degraded input on the test split (fixed strength);
    ``n`` keeps the first ``n`` test pairs (a quick subset)."""
    dm = RestorationDataModule(task=task, image_size=image_size, curriculum=False)
    dm.setup("test")
    clean_all, degraded_all = (t[:n] for t in dm.test_pairs)
    meters = {k: (PeakSignalNoiseRatio(data_range=1.0), StructuralSimilarityIndexMeasure(data_range=1.0))
              for k in ("model", "input")}
    model = model.eval()
    with torch.random.fork_rng(devices=[]):      # stochastic update masks use the global RNG
        torch.manual_seed(seed)
        for i in range(0, len(clean_all), batch):
            clean, degraded = clean_all[i:i + batch], degraded_all[i:i + batch]
            for key, img in (("model", model(degraded).clamp(0, 1)), ("input", degraded)):
                for m in meters[key]:
                    m.update(img, clean)
    out = {"n_test": len(clean_all), "task": task, "image_size": image_size}
    for key, (psnr, ssim) in meters.items():
        out[f"psnr_{key}"], out[f"ssim_{key}"] = float(psnr.compute()), float(ssim.compute())
    return out


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
    from .data.diffusion import DiffusionDataModule
    from .diffusion.fid import fid_kid
    from .diffusion.sampling import sample

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
