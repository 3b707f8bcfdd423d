"""Measure a restoration module on the held-out test split: PSNR / SSIM of it and of its input.

Used both by ``benchmarks/export_pretrained.py`` (to write a model card) and by the tests (to
check that a shipped module still reproduces its card).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from ..data.restoration import RestorationDataModule


@torch.no_grad()
def restoration_metrics(model: nn.Module, task: str = "noise", image_size: int = 32,
                        seed: int = 0, n: Optional[int] = None, batch: int = 16) -> dict:
    """PSNR / SSIM of ``model`` and of the degraded input on the test split (fixed strength).

    ``n`` keeps the first ``n`` test pairs (a quick subset).
    """
    dm = RestorationDataModule(task=task, image_size=image_size, curriculum=False)
    dm.setup("test")
    clean_all, degraded_all = (t[:n] for t in dm.test_pairs)
    meters = {k: (PeakSignalNoiseRatio(data_range=1.0),
                  StructuralSimilarityIndexMeasure(data_range=1.0))
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
