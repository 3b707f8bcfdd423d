"""Measure a restoration module on the held-out test split of a RestorationDataModule.

One function used both by ``benchmarks/export_pretrained.py`` (to write a model card) and by the
tests (to check that a shipped module still reproduces its card).
"""
from __future__ import annotations

import torch
from torch import nn
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from .data.restoration import RestorationDataModule


@torch.no_grad()
def restoration_metrics(model: nn.Module, task: str = "noise", image_size: int = 32,
                        seed: int = 0) -> dict:
    """PSNR / SSIM of ``model`` and of the degraded input on the test split (fixed strength)."""
    dm = RestorationDataModule(task=task, image_size=image_size, curriculum=False)
    dm.setup("test")
    torch.manual_seed(seed)
    model = model.eval()
    meters = {k: (PeakSignalNoiseRatio(data_range=1.0), StructuralSimilarityIndexMeasure(data_range=1.0))
              for k in ("model", "input")}
    for clean, degraded in dm.test_dataloader():
        for key, img in (("model", model(degraded).clamp(0, 1)), ("input", degraded)):
            for m in meters[key]:
                m.update(img, clean)
    out = {"n_test": len(dm.test_pairs[0]), "task": task, "image_size": image_size}
    for key, (psnr, ssim) in meters.items():
        out[f"psnr_{key}"], out[f"ssim_{key}"] = float(psnr.compute()), float(ssim.compute())
    return out
