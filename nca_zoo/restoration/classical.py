"""Classical restorers: the filters a learned denoiser or deblurrer has to beat.

Each is a parameter-free ``nn.Module`` mapping ``(B, 3, H, W)`` in [0, 1] to the same shape, so it
goes wherever a learned restorer goes: :func:`~nca_zoo.restoration.restore`,
:func:`~nca_zoo.restoration.held_out_metrics`, the benchmarks, and ``nca-zoo restore --model
median3``.  Every filter runs with scikit-image's / SciPy's defaults or with settings fixed once
here (never tuned on the held-out photos):

========= ====== =================================================================================
name      task   filter
========= ====== =================================================================================
median3   noise  3x3 median per channel (``scipy.ndimage.median_filter``, reflected edges)
median5   noise  5x5 median per channel
tv        noise  total-variation denoising (``denoise_tv_chambolle``, default weight 0.1)
nlmeans   noise  non-local means, fast mode, patch 5, distance 6, ``h = 0.8 sigma`` with sigma from
                 ``estimate_sigma`` (scikit-image's gallery settings)
wavelet   noise  wavelet shrinkage (``denoise_wavelet``, BayesShrink, soft, ``rescale_sigma``)
unsharp   blur   unsharp masking ``x + (x - gaussian(x, 1))``, clipped: the formula of
                 ``skimage.filters.unsharp_mask`` (radius 1, amount 1) on SciPy's Gaussian; the
                 blur kernel is unknown to a restorer, so no Wiener / Richardson-Lucy baseline
========= ====== =================================================================================

BM3D is left out: the ``bm3d`` package on PyPI is licensed for non-commercial use only.
:func:`load_restorer` resolves a name the way ``nca-zoo restore --model`` does: a classical filter
first, else a pretrained module.  SciPy and scikit-image are imported inside the filters, so
importing this module loads neither.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch
from torch import nn


def _median(size: int) -> Callable[[np.ndarray], np.ndarray]:
    def median(img: np.ndarray) -> np.ndarray:
        from scipy.ndimage import median_filter

        return median_filter(img, size=(size, size, 1), mode="reflect")
    return median


def _tv(img: np.ndarray) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(img, channel_axis=-1)


def _nlmeans(img: np.ndarray) -> np.ndarray:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    sigma = float(np.nan_to_num(np.mean(estimate_sigma(img, channel_axis=-1))))
    if sigma <= 0:  # no noise found (a flat or noise-free image): nothing to remove
        return img.copy()
    return denoise_nl_means(img, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                            patch_distance=6, channel_axis=-1)


def _wavelet(img: np.ndarray) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    with warnings.catch_warnings():  # the NaN estimate's "mean of empty slice"
        warnings.simplefilter("ignore", RuntimeWarning)
        out = denoise_wavelet(img, method="BayesShrink", mode="soft", rescale_sigma=True,
                              channel_axis=-1)
    # a channel without detail coefficients (flat, noise-free) has no noise estimate (NaN): kept
    return np.where(np.isfinite(out), out, img)


def _unsharp(img: np.ndarray) -> np.ndarray:
    # skimage.filters.unsharp_mask's formula, written out: in this environment its first call in
    # a process returned a NaN pixel (scikit-image 0.26, NumPy 2.4)
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(img, sigma=(1.0, 1.0, 0.0), mode="reflect", truncate=4.0)
    return img + (img - blurred) * 1.0


#: name -> (task, what it does, filter on one float64 ``(H, W, 3)`` image in [0, 1])
FILTERS: dict[str, tuple[str, str, Callable[[np.ndarray], np.ndarray]]] = {
    "median3": ("noise", "3x3 median filter per channel (SciPy)", _median(3)),
    "median5": ("noise", "5x5 median filter per channel (SciPy)", _median(5)),
    "tv": ("noise", "total-variation denoising, Chambolle, weight 0.1 (scikit-image)", _tv),
    "nlmeans": ("noise", "non-local means, fast mode, h = 0.8 x estimated sigma (scikit-image)",
                _nlmeans),
    "wavelet": ("noise", "wavelet shrinkage, BayesShrink, soft (scikit-image)", _wavelet),
    "unsharp": ("blur", "unsharp masking, radius 1, amount 1", _unsharp),
}


class ClassicalRestorer(nn.Module):
    """A classical filter as a restoration module; ``card`` labels it in cards and tables."""

    def __init__(self, name: str):
        super().__init__()
        if name not in FILTERS:
            raise ValueError(f"unknown classical restorer {name!r}; choose from "
                             f"{', '.join(FILTERS)}")
        task, summary, self._filter = FILTERS[name]
        self.name = name
        self.card = {"name": name, "kind": "classical", "task": task, "summary": summary,
                     "num_params": 0}

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter every image of ``x`` ``(B, 3, H, W)`` in [0, 1]; the result is clipped."""
        images = x.detach().cpu().double().clamp(0, 1).permute(0, 2, 3, 1).numpy()
        out = np.stack([self._filter(np.ascontiguousarray(img)) for img in images])
        if not np.isfinite(out).all():
            raise FloatingPointError(f"classical restorer {self.name} returned non-finite pixels")
        return torch.from_numpy(np.clip(out, 0, 1)).permute(0, 3, 1, 2).to(x.device, x.dtype)

    def extra_repr(self) -> str:
        """The filter's name in ``repr``."""
        return repr(self.name)


#: name -> factory of the classical restorer
CLASSICAL_RESTORERS: dict[str, Callable[[], ClassicalRestorer]] = {
    name: (lambda name=name: ClassicalRestorer(name)) for name in FILTERS}

#: the baselines a restorer of each task is compared with (denoisers only blur a blurred photo
#: further, so the deblurring task has unsharp masking alone)
BASELINES = {"noise": ("median3", "median5", "tv", "nlmeans", "wavelet"), "blur": ("unsharp",)}


def classical_baselines(task: str) -> tuple[str, ...]:
    """Names of the classical baselines of ``task`` ("noise" or "blur")."""
    if task not in BASELINES:
        raise ValueError(f"unknown restoration task {task!r}; choose from {', '.join(BASELINES)}")
    return BASELINES[task]


def shipped_restorers() -> list[str]:
    """Shipped pretrained modules whose card says they restore (task ``noise`` or ``blur``)."""
    import json

    from .._pretrained import SHIPPED, list_pretrained

    return [n for n in list_pretrained()
            if json.loads((SHIPPED / n / "card.json").read_text()).get("task") in BASELINES]


def load_restorer(name: str) -> nn.Module:
    """A restorer by name: a classical filter (``median3``, ...) or a pretrained module (eval mode).

    Raises ``FileNotFoundError`` (one line listing the choices) for a name that is neither a
    classical filter, a shipped module nor a pretrained folder.
    """
    from .._pretrained import load_pretrained

    if name in CLASSICAL_RESTORERS:
        return CLASSICAL_RESTORERS[name]().eval()
    try:
        return load_pretrained(name)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no restorer {name!r}: choose a classical filter ({', '.join(CLASSICAL_RESTORERS)}), "
            f"a shipped restorer ({', '.join(shipped_restorers()) or 'none shipped'}) or a "
            f"pretrained folder") from None
