"""Samplers on top of :class:`~nca_zoo.diffusion.schedule.DDPMSchedule` (Diff-NCA paper §4.6-4.8).

Every denoiser is called as ``model(x_t, t / T)`` (plus ``region=`` when one is given).  Public
functions take and return images in [0, 1]; inside, diffusion works in [-1, 1].

* :func:`sample`: unconditional generation at any ``H x W`` (OOD sizes, §4.6), ancestral DDPM or
  DDIM (Song et al. 2020) with ``ddim_steps`` strided timesteps and ``eta``.
* :func:`inpaint` (§4.7): only cells under the mask are updated (the mask is passed to the NCA as
  its update ``region``); every other pixel is reset to the known image after each step.
* :func:`superres_x2` (§4.8): the ``[[1, 0], [0, 0]]`` upsampling grid, 90 % noise on the new
  pixels, only new pixels updated, and 2 % of the nearest-neighbour upsampled original blended into
  them after each step.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .schedule import DDPMSchedule

SAMPLERS = ("ddpm", "ddim")
OnStep = Callable[[Tensor, int], Tensor]


def _predict(model, schedule: DDPMSchedule, x: Tensor, t: int, region: Optional[Tensor]) -> Tensor:
    tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
    if region is None:
        return model(x, schedule.t_frac(tt))
    return model(x, schedule.t_frac(tt), region=region)


def _randn(like: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


def ddim_timesteps(t_start: int, n: int) -> list[int]:
    """``n`` (at most ``t_start + 1``) distinct timesteps from ``t_start`` down to 0."""
    n = max(1, min(n, t_start + 1))
    ts = torch.linspace(t_start, 0, n).round().long().tolist()
    return sorted(set(ts), reverse=True)


@torch.no_grad()
def ddpm_sample(model, schedule: DDPMSchedule, x: Tensor, t_start: Optional[int] = None,
                region: Optional[Tensor] = None, on_step: Optional[OnStep] = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """Ancestral sampling from ``x = x_{t_start}`` (default T-1) down to x_0, in [-1, 1]."""
    t_start = schedule.timesteps - 1 if t_start is None else t_start
    for t in range(t_start, -1, -1):
        eps = _predict(model, schedule, x, t, region)
        tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
        mean, var = schedule.p_mean_variance(x, tt, eps)
        x = mean + var.sqrt() * _randn(x, generator) if t > 0 else mean
        if on_step is not None:
            x = on_step(x, t)
    return x


@torch.no_grad()
def ddim_sample(model, schedule: DDPMSchedule, x: Tensor, steps: int = 50, eta: float = 0.0,
                t_start: Optional[int] = None, region: Optional[Tensor] = None,
                on_step: Optional[OnStep] = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """DDIM (Song et al. 2020, Eq. 12) over ``steps`` strided timesteps; ``eta=1`` ~ DDPM noise."""
    t_start = schedule.timesteps - 1 if t_start is None else t_start
    ts = ddim_timesteps(t_start, steps)
    abar_all = schedule.alphas_cumprod.to(x.device)
    for i, t in enumerate(ts):
        eps = _predict(model, schedule, x, t, region)
        abar = abar_all[t]
        abar_prev = abar_all[ts[i + 1]] if i + 1 < len(ts) else abar.new_ones(())
        x0 = (x - (1 - abar).sqrt() * eps) / abar.sqrt()
        sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).clamp(min=0).sqrt()
        x = abar_prev.sqrt() * x0 + (1 - abar_prev - sigma ** 2).clamp(min=0).sqrt() * eps
        if eta > 0 and i + 1 < len(ts):
            x = x + sigma * _randn(x, generator)
        if on_step is not None:
            x = on_step(x, t)
    return x


def denoise(model, schedule: DDPMSchedule, x: Tensor, sampler: str = "ddpm", ddim_steps: int = 50,
            eta: float = 0.0, **kw) -> Tensor:
    """Dispatch to :func:`ddpm_sample` or :func:`ddim_sample`."""
    if sampler == "ddpm":
        return ddpm_sample(model, schedule, x, **kw)
    if sampler == "ddim":
        return ddim_sample(model, schedule, x, steps=ddim_steps, eta=eta, **kw)
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")


def _to01(x: Tensor) -> Tensor:
    return ((x + 1) / 2).clamp(0, 1)


def sample(model, schedule: DDPMSchedule, n: int, height: int, width: int, sampler: str = "ddpm",
           ddim_steps: int = 50, eta: float = 0.0, generator: Optional[torch.Generator] = None,
           device=None) -> Tensor:
    """``n`` images ``(n, 3, height, width)`` in [0, 1] from pure noise, at any size."""
    if n < 1 or height < 2 or width < 2:
        raise ValueError(f"need n >= 1 and a size of at least 2x2, got n={n}, {height}x{width}")
    device = device or next(model.parameters()).device
    x = torch.randn(n, 3, height, width, generator=generator, device=device)
    return _to01(denoise(model, schedule, x, sampler, ddim_steps, eta, generator=generator))


def inpaint(model, schedule: DDPMSchedule, image: Tensor, mask: Tensor, sampler: str = "ddpm",
            ddim_steps: int = 50, eta: float = 0.0, known: str = "clean",
            generator: Optional[torch.Generator] = None) -> Tensor:
    """Fill the pixels where ``mask`` is 1 (``(B, 1, H, W)``); the others are returned unchanged.

    ``known="clean"`` resets the known pixels to the clean image after each step (the authors'
    code); ``"noised"`` resets them to the image noised to the next timestep (the usual
    "replacement" method).
    """
    if image.dim() != 4 or mask.shape != (image.shape[0], 1, *image.shape[-2:]):
        raise ValueError(f"image must be (B, 3, H, W) and mask (B, 1, H, W); got "
                         f"{tuple(image.shape)} and {tuple(mask.shape)}")
    if known not in ("clean", "noised"):
        raise ValueError(f"known must be 'clean' or 'noised', got {known!r}")
    m = mask.to(image.dtype)
    x0 = image * 2 - 1
    x = torch.where(m > 0, _randn(x0, generator), x0)

    def reset(x: Tensor, t: int) -> Tensor:
        ref = x0
        if known == "noised" and t > 0:
            tt = torch.full((x.shape[0],), t - 1, device=x.device, dtype=torch.long)
            ref = schedule.q_sample(x0, tt, _randn(x0, generator))
        return torch.where(m > 0, x, ref)

    out = denoise(model, schedule, x, sampler, ddim_steps, eta, region=m, on_step=reset,
                  generator=generator)
    return torch.where(m > 0, _to01(out), image)


def superres_grid(image: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest-neighbour x2 upsampling and the mask of the new pixels.

    The new pixels are the ``0`` entries of the ``[[1,0],[0,0]]`` grid.
    """
    up = F.interpolate(image, scale_factor=2, mode="nearest")
    new = torch.ones_like(up[:, :1])
    new[..., ::2, ::2] = 0
    return up, new


def superres_x2(model, schedule: DDPMSchedule, image: Tensor, noise_level: float = 0.9,
                blend: float = 0.02, sampler: str = "ddpm", ddim_steps: int = 50, eta: float = 0.0,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """§4.8 super-resolution x2 of ``image`` (B, 3, h, w) in [0, 1] -> (B, 3, 2h, 2w).

    The new pixels start from the upsampled image noised to ``t0 = noise_level * (T - 1)``; the
    original pixels (top-left of every 2x2 block) stay exactly as given.
    """
    if not 0 < noise_level <= 1 or not 0 <= blend < 1:
        raise ValueError("noise_level must be in (0, 1] and blend in [0, 1)")
    up01, new = superres_grid(image)
    up = up01 * 2 - 1
    t0 = int(round(noise_level * (schedule.timesteps - 1)))
    tt = torch.full((image.shape[0],), t0, device=image.device, dtype=torch.long)
    x = torch.where(new > 0, schedule.q_sample(up, tt, _randn(up, generator)), up)

    def keep(x: Tensor, t: int) -> Tensor:
        return torch.where(new > 0, (1 - blend) * x + blend * up, up)

    out = denoise(model, schedule, x, sampler, ddim_steps, eta, t_start=t0, region=new,
                  on_step=keep, generator=generator)
    return torch.where(new > 0, _to01(out), up01)
