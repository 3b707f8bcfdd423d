"""Sampling a noise predictor through ``diffusers`` schedulers (Diff-NCA paper §4.6-4.8).

Every denoiser is called as ``model(x_t, t / T)`` (plus ``region=`` when one is given).  Public
functions take and return images in [0, 1]; inside, diffusion works in [-1, 1].  ``sampler``
names a scheduler of :mod:`nca_zoo.diffusion.samplers` (``ddpm``, ``ddim``, ``dpm-solver++``,
``unipc``, ``euler``, ...), built from the model's own β schedule; ``steps`` is the number of
timesteps (default: all T for ``ddpm``, 20 for the others) and ``eta`` DDIM's noise.

* :func:`sample`: unconditional generation at any ``H x W`` (OOD sizes, §4.6).
* :func:`inpaint` (§4.7): only cells under the mask are updated (the mask is passed to the NCA as
  its update ``region``); every other pixel is reset to the known image after each step.
* :func:`superres_x2` (§4.8): the ``[[1, 0], [0, 0]]`` upsampling grid, 90 % noise on the new
  pixels, only new pixels updated, and 2 % of the nearest-neighbour upsampled original blended into
  them after each step.

Schedulers of the Karras family (``euler``, ``heun``, ``lms``, ...) keep their sample as
``x_t / sqrt(ᾱ_t)``: the model sees ``scheduler.scale_model_input`` of it, and the hooks that put
known pixels back (``on_step``) get the scheduler, so that they noise with its ``add_noise``.
"""
from __future__ import annotations

import inspect
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .noise_schedule import DDPMSchedule
from .samplers import (
    DEFAULT_SAMPLER,
    SAMPLERS,
    default_sampling_steps,
    make_sampler,
    timesteps_for,
)

__all__ = ["SAMPLERS", "denoise", "inpaint", "sample", "superres_grid", "superres_x2"]

#: ``on_step(x, t_next)``: called after every step with ``x = x_{t_next}`` (the forward
#: process's own noisy image, whatever the scheduler keeps) and the next timestep (``None`` after
#: the last step, when ``x`` is x_0); returns the state to go on with
OnStep = Callable[[Tensor, Optional[float]], Tensor]


def _randn(like: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


def _vp_scale(scheduler, like: Tensor, t) -> Tensor:
    """``x_t / sample``: 1 for DDPM-type schedulers, ``sqrt(ᾱ_t)`` for the Karras family."""
    if t is None:
        return like.new_ones(1)
    return scheduler.scale_model_input(like.new_ones(1), t)


@torch.no_grad()
def denoise(model, schedule: DDPMSchedule, x: Tensor, sampler: str = "ddpm",
            steps: Optional[int] = None, eta: float = 0.0, t_start: Optional[int] = None,
            region: Optional[Tensor] = None, on_step: Optional[OnStep] = None,
            generator: Optional[torch.Generator] = None) -> Tensor:
    """The reverse chain from ``x = x_{t_start}`` (default T-1) down to x_0, all in [-1, 1].

    ``x`` is the forward process's noisy image ``sqrt(ᾱ) x_0 + sqrt(1 - ᾱ) ε`` (unit noise from
    T-1); ``steps`` defaults to all T for ``ddpm`` and 20 otherwise; ``eta`` is DDIM's (the other
    samplers refuse ``eta > 0``).
    """
    scheduler = make_sampler(sampler, schedule)
    if eta < 0 or (eta > 0 and sampler != "ddim"):
        raise ValueError(f"eta applies to the ddim sampler only (and must be >= 0), got {eta} "
                         f"with {sampler}")
    steps = default_sampling_steps(sampler, schedule) if steps is None else steps
    t_start = schedule.timesteps - 1 if t_start is None else t_start
    ts = timesteps_for(scheduler, steps, t_start)     # on the CPU, as diffusers keeps σ
    step_kw = {"eta": eta} if sampler == "ddim" else {}
    if "generator" in inspect.signature(scheduler.step).parameters:
        step_kw["generator"] = generator
    model_kw = {} if region is None else {"region": region}
    ts = ts.tolist()                       # host numbers: ints, or floats for Euler & co.
    x = x / _vp_scale(scheduler, x, ts[0])
    for i, t in enumerate(ts):
        t_frac = torch.full((x.shape[0],), t / schedule.timesteps, device=x.device)
        eps = model(scheduler.scale_model_input(x, t), t_frac, **model_kw)
        x = scheduler.step(eps, t, x, **step_kw).prev_sample
        if on_step is not None:
            t_next = ts[i + 1] if i + 1 < len(ts) else None
            scale = _vp_scale(scheduler, x, t_next)
            x = on_step(x * scale, t_next) / scale
    return x


def _to01(x: Tensor) -> Tensor:
    return ((x + 1) / 2).clamp(0, 1)


def sample(model, schedule: DDPMSchedule, n: int, height: int, width: int,
           sampler: str = DEFAULT_SAMPLER, steps: Optional[int] = None, eta: float = 0.0,
           generator: Optional[torch.Generator] = None, device=None) -> Tensor:
    """``n`` images ``(n, 3, height, width)`` in [0, 1] from pure noise, at any size."""
    if n < 1 or height < 2 or width < 2:
        raise ValueError(f"need n >= 1 and a size of at least 2x2, got n={n}, {height}x{width}")
    device = device or next(model.parameters()).device
    x = torch.randn(n, 3, height, width, generator=generator, device=device)
    return _to01(denoise(model, schedule, x, sampler, steps, eta, generator=generator))


def inpaint(model, schedule: DDPMSchedule, image: Tensor, mask: Tensor,
            sampler: str = DEFAULT_SAMPLER, steps: Optional[int] = None, eta: float = 0.0,
            known: str = "clean", generator: Optional[torch.Generator] = None) -> Tensor:
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

    def reset(x: Tensor, t_next: Optional[float]) -> Tensor:
        ref = x0
        if known == "noised" and t_next is not None:    # Karras timesteps are fractional
            tt = torch.full((x.shape[0],), round(t_next), device=x.device, dtype=torch.long)
            ref = schedule.q_sample(x0, tt, _randn(x0, generator))
        return torch.where(m > 0, x, ref)

    out = denoise(model, schedule, x, sampler, steps, eta, region=m, on_step=reset,
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
                blend: float = 0.02, sampler: str = DEFAULT_SAMPLER, steps: Optional[int] = None,
                eta: float = 0.0, generator: Optional[torch.Generator] = None) -> Tensor:
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

    def keep(x: Tensor, t_next: Optional[float]) -> Tensor:
        return torch.where(new > 0, (1 - blend) * x + blend * up, up)

    out = denoise(model, schedule, x, sampler, steps, eta, t_start=t0, region=new,
                  on_step=keep, generator=generator)
    return torch.where(new > 0, _to01(out), up01)
