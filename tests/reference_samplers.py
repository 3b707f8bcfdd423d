"""The zoo's hand-written DDPM and DDIM samplers as they were before sampling moved to diffusers.

Kept only as the reference the scheduler-based samplers must reproduce (same seed, same noise
draws): ``tests/test_diffusion_schedulers.py``.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from nca_zoo.diffusion.noise_schedule import DDPMSchedule

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
