"""Measure a restoration module: PSNR / SSIM of its output and of its degraded input.

* :func:`held_out_metrics` -- the protocol every published number uses: the photos of
  :mod:`nca_zoo.data.held_out` (never trained on), centre-cropped and resized to 32 / 64 / 128 /
  256 px and at full size, degraded at the fixed strength, restored whole-photo by
  :func:`~nca_zoo.restoration.restore`;
* :func:`classical_held_out` -- the same protocol for the classical baselines of a task
  (:mod:`~nca_zoo.restoration.classical`), measured once per process;
* :func:`ships` -- the shipping rule (:func:`rule_failures` says which clause fails): at every
  size of :data:`SHIPPING_SIZES` a denoiser beats its input and the best classical baseline in
  PSNR *and* SSIM; a deblurrer gains at least 1 dB PSNR and 0.02 SSIM over its input and beats
  every classical baseline in PSNR and SSIM;
* :func:`restoration_metrics` -- the datamodule's test split (tiles at the training size).

Used by ``benchmarks/tools/export_pretrained.py`` (model cards),
``benchmarks/lnca/restoration_held_out.py`` and the tests (a shipped module still reproduces its
card and passes the rule).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from ..data.degradations import Curriculum, degrade
from ..data.held_out import held_out_photos
from ..data.images import resize_square
from ..data.restoration import RestorationDataModule
from ..layers import to_tensor
from .classical import CLASSICAL_RESTORERS, classical_baselines
from .restore import default_tile, restore

#: photo sizes of the held-out protocol ("full" = the photo as it is)
HELD_OUT_SIZES = ("32", "64", "128", "256", "full")
#: sizes at which the shipping rule is checked
SHIPPING_SIZES = ("64", "128", "256")
#: least gain over the degraded input, (PSNR dB, SSIM), per task; 0: any gain (strictly better)
INPUT_MARGINS = {"noise": (0.0, 0.0), "blur": (1.0, 0.02)}


@torch.no_grad()
def restoration_metrics(model: nn.Module, task: str = "noise", image_size: int = 32,
                        seed: int = 0, n: Optional[int] = None, batch: int = 16,
                        split: str = "photo") -> dict:
    """PSNR / SSIM of ``model`` and of the degraded input on the test split (fixed strength).

    ``n`` keeps the first ``n`` test pairs (a quick subset); ``split``: the datamodule's split
    (``"tile"`` reproduces release 0.1's cards).
    """
    dm = RestorationDataModule(task=task, image_size=image_size,
                               curriculum={"enabled": False}, split={"by": split})
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
    out = {"n_test": len(clean_all), "task": task, "image_size": image_size, "split": split}
    for key, (psnr, ssim) in meters.items():
        out[f"psnr_{key}"], out[f"ssim_{key}"] = float(psnr.compute()), float(ssim.compute())
    return out


@torch.no_grad()
def held_out_metrics(model: nn.Module, task: str = "noise", sizes=HELD_OUT_SIZES,
                     seed: int = 1234, tile: Optional[int] = None,
                     photos: Optional[dict] = None) -> dict:
    """PSNR (pooled pixels) and mean SSIM over the held-out photos at each size, model vs input.

    Each photo is centre-cropped to a square and resized (Lanczos) to the size, or kept whole for
    ``"full"``; degraded at the task's fixed strength (seeded per photo); restored by
    :func:`~nca_zoo.restoration.restore` (``tile``: the model's training size if it encodes
    absolute positions).  ``photos`` (name -> ``uint8 (H, W, 3)``) replaces the held-out photos,
    e.g. to compare with the training photos.  Returns ``{size: {psnr_input, psnr_model,
    ssim_input, ssim_model, n}}``.
    """
    strength = Curriculum(task).strength(None)
    tile = tile if tile is not None else default_tile(model)
    model = model.eval()
    photo_set = held_out_photos() if photos is None else photos
    if not photo_set:
        raise ValueError("held_out_metrics: no photos to measure")
    out = {}
    for size in sizes:
        meters = {k: (PeakSignalNoiseRatio(data_range=1.0),
                      StructuralSimilarityIndexMeasure(data_range=1.0))
                  for k in ("model", "input")}
        for i, photo in enumerate(photo_set.values()):
            clean = to_tensor(photo if size == "full" else resize_square(photo, int(size)))
            gen = torch.Generator().manual_seed(seed + i)
            degraded = degrade(clean[None], task, strength, gen)[0]
            with torch.random.fork_rng(devices=[]):  # stochastic update masks
                torch.manual_seed(seed + i)
                restored = restore(model, degraded, tile=tile)
            for key, img in (("model", restored), ("input", degraded)):
                for m in meters[key]:
                    m.update(img[None], clean[None])
        out[size] = {"n": i + 1}
        for key, (psnr, ssim) in meters.items():
            out[size][f"psnr_{key}"] = round(float(psnr.compute()), 3)
            out[size][f"ssim_{key}"] = round(float(ssim.compute()), 4)
    return out


_CLASSICAL_CACHE: dict = {}


def classical_held_out(task: str, sizes=SHIPPING_SIZES, seed: int = 1234) -> dict:
    """:func:`held_out_metrics` of every classical baseline of ``task``: ``{name: {size: ...}}``.

    Measured once per process for each ``(task, size, seed)``; later calls reuse the numbers.
    """
    out = {}
    for name in classical_baselines(task):
        missing = [s for s in sizes if (name, task, s, seed) not in _CLASSICAL_CACHE]
        if missing:
            measured = held_out_metrics(CLASSICAL_RESTORERS[name](), task, missing, seed)
            for size, m in measured.items():
                _CLASSICAL_CACHE[name, task, size, seed] = m
        out[name] = {s: dict(_CLASSICAL_CACHE[name, task, s, seed]) for s in sizes}
    return out


def rule_failures(held_out: dict, classical: dict, task: str, sizes=SHIPPING_SIZES) -> list[str]:
    """Why a restorer with ``held_out`` numbers does not ship (empty: it ships).

    ``classical``: ``{baseline: {size: held-out metrics}}`` (:func:`classical_held_out`); the
    model must beat the best baseline per metric (the max over baselines) at every size.
    """
    if task not in INPUT_MARGINS:
        raise ValueError(f"unknown restoration task {task!r}; choose from "
                         f"{', '.join(INPUT_MARGINS)}")
    if not classical:
        raise ValueError(f"no classical baseline numbers for {task!r}")
    failures = []
    for size in sizes:
        if size not in held_out:
            failures.append(f"not measured at {size} px")
            continue
        m = held_out[size]
        for key, margin in zip(("psnr", "ssim"), INPUT_MARGINS[task]):
            gain = m[f"{key}_model"] - m[f"{key}_input"]
            if not (gain >= margin if margin else gain > 0):
                failures.append(f"{size} px: {key.upper()} gain over the input {gain:+.4g}"
                                + (f" < {margin}" if margin else ""))
            best_name = max(classical, key=lambda n: classical[n][size][f"{key}_model"])
            best = classical[best_name][size][f"{key}_model"]
            if not m[f"{key}_model"] > best:
                failures.append(f"{size} px: {key.upper()} {m[f'{key}_model']:.4g} <= "
                                f"{best_name} {best:.4g}")
    return failures


def ships(held_out: dict, classical: dict, task: str, sizes=SHIPPING_SIZES) -> bool:
    """The shipping rule (see the module docstring and :func:`rule_failures`)."""
    return not rule_failures(held_out, classical, task, sizes)
