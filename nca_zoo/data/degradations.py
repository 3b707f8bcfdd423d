"""Synthetic degradations of LNCA (§4.1; the authors' ``create_mask_noise/create_mask_blur``).

* :func:`coherent_noise` -- channel-coherent Gaussian noise: a per-pixel Bernoulli(``fraction``)
  mask and one N(0, ``sigma``) value per pixel added to R, G and B alike (a tone shift), clipped.
  ``fraction`` is the share of corrupted pixels; sigma is fixed at 0.2 in the reference.
* :func:`motion_blur` -- camera motion blur: a k x k line kernel (middle row of ones) rotated by a
  random angle in [0, 360), normalised to sum 1, one kernel per image, the same for R, G and B,
  zero padding ('same').
* :class:`Curriculum` -- strength ``clip(progress * range, a_min, a_max)`` in training (progress =
  epoch / epochs, reset per LNCA phase), a fixed strength for validation and test; or, with
  ``random``, a strength drawn uniformly from ``[a_min, a_max]`` for every training batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

KINDS = ("noise", "blur")


def coherent_noise(x: Tensor, fraction: float, sigma: float = 0.2,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """Channel-coherent Gaussian noise on ``fraction`` of the pixels of ``x``.

    ``x`` is (B, C, H, W) in [0, 1]; the result is clipped to [0, 1].
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"noise fraction must be in [0, 1], got {fraction}")
    b, _, h, w = x.shape
    mask = torch.rand(b, 1, h, w, generator=generator) < fraction
    signal = torch.randn(b, 1, h, w, generator=generator) * sigma
    return (x + (mask * signal).to(x.device, x.dtype)).clamp(0.0, 1.0)


def motion_blur_kernel(size: int, angle_deg: float) -> Tensor:
    """A ``size x size`` line kernel through the centre, rotated by ``angle_deg``, summing to 1."""
    if size < 1:
        raise ValueError(f"blur kernel size must be >= 1, got {size}")
    line = torch.zeros(1, 1, size, size)
    line[0, 0, (size - 1) // 2, :] = 1.0
    a = math.radians(angle_deg)
    # rotation about the kernel centre (normalised coordinates, bilinear, zeros outside: warpAffine)
    theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]])
    grid = F.affine_grid(theta, line.shape, align_corners=True)
    kernel = F.grid_sample(line, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=True)[0, 0]
    total = kernel.sum()
    if total <= 0:  # a 1x1 or degenerate rotation: fall back to the identity
        kernel = torch.zeros(size, size)
        kernel[(size - 1) // 2, (size - 1) // 2] = 1.0
        return kernel
    return kernel / total


def random_motion_blur_kernels(n: int, size: int,
                               generator: Optional[torch.Generator] = None) -> Tensor:
    """``n`` motion kernels ``(n, size, size)`` at random angles, built on the CPU (host side)."""
    angles = torch.rand(n, generator=generator) * 360.0
    return torch.stack([motion_blur_kernel(size, float(a)) for a in angles])


def motion_blur(x: Tensor, size: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Blur every image of ``x`` with its own random-direction motion kernel of side ``size``."""
    b, c, h, w = x.shape
    kernels = random_motion_blur_kernels(b, int(size), generator)  # (B, k, k)
    weight = kernels[:, None].repeat_interleave(c, 0).to(x.device, x.dtype)  # (B*C, 1, k, k)
    out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding="same", groups=b * c)
    return out.reshape(b, c, h, w).clamp(0.0, 1.0)


def degrade(x: Tensor, kind: str, strength: float,
            generator: Optional[torch.Generator] = None) -> Tensor:
    """Apply degradation ``kind`` ("noise": fraction of pixels; "blur": kernel size) to ``x``."""
    if kind == "noise":
        return coherent_noise(x, float(strength), generator=generator)
    if kind == "blur":
        return motion_blur(x, int(strength), generator=generator)
    raise ValueError(f"unknown degradation {kind!r}; choose from {KINDS}")


@dataclass
class Curriculum:
    """Degradation strength over training (LNCA authors' ``DataGenerator``, docs/paper-to-code.md).

    Defaults per kind: noise range 1.0, fixed 0.5, clip [0.25, 0.75]; blur range 15, fixed 7,
    clip [4, 10].  ``random``: draw each training strength uniformly from ``[a_min, a_max]``
    (whole kernel sizes for blur) instead of raising it with progress.  The paper's curriculum
    ends at ``a_max``, stronger than the fixed test strength, and a model trained on corpus
    crops loses validation PSNR over the last part of the run (docs/restoration.md); the
    uniform draw keeps every strength in training to the end.
    """

    kind: str = "noise"
    range: Optional[float] = None
    intensity: Optional[float] = None
    a_min: Optional[float] = None
    a_max: Optional[float] = None
    enabled: bool = True
    random: bool = False

    DEFAULTS = {"noise": (1.0, 0.5, 0.25, 0.75), "blur": (15.0, 7.0, 4.0, 10.0)}

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown degradation {self.kind!r}; choose from {KINDS}")
        d = self.DEFAULTS[self.kind]
        self.range = d[0] if self.range is None else float(self.range)
        self.intensity = d[1] if self.intensity is None else float(self.intensity)
        self.a_min = d[2] if self.a_min is None else float(self.a_min)
        self.a_max = d[3] if self.a_max is None else float(self.a_max)
        if self.a_min > self.a_max:
            raise ValueError(f"a_min {self.a_min} > a_max {self.a_max}")

    def strength(self, progress: Optional[float]) -> float:
        """Training strength at ``progress`` in [0, 1]; the fixed strength if None or disabled.

        With ``random``, a fresh uniform draw from ``[a_min, a_max]`` (torch's global generator,
        so seeded runs and exact resumes repeat it), whatever the progress.
        """
        if progress is None or not self.enabled:
            return self.intensity
        if self.random:
            if self.kind == "blur":  # whole kernel sizes, both ends included
                return float(torch.randint(int(self.a_min), int(self.a_max) + 1, ()).item())
            return self.a_min + (self.a_max - self.a_min) * float(torch.rand(()).item())
        return min(max(progress * self.range, self.a_min), self.a_max)
