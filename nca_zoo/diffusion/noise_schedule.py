"""The DDPM noise schedule (β_t, ᾱ_t) and its closed forms (Ho et al. 2020; Diff-NCA §3.2).

``linear``: β_t from ``beta_start`` to ``beta_end`` over ``T`` steps (authors' code: 1e-4 ... 0.02,
T = 300, *not* rescaled for T, so ᾱ_T ≈ 0.048 at T = 300).  ``scale_to_T=True`` rescales the end
points by 1000 / T (Nichol & Dhariwal) so that x_T is close to pure noise for any T.
``cosine``: Nichol & Dhariwal (2021), s = 0.008.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def make_betas(timesteps: int, kind: str = "linear", beta_start: float = 1e-4,
               beta_end: float = 0.02, scale_to_T: bool = False) -> Tensor:
    """β_1..β_T as float64."""
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    if kind == "linear":
        scale = 1000.0 / timesteps if scale_to_T else 1.0
        return torch.linspace(beta_start * scale, beta_end * scale, timesteps, dtype=torch.float64)
    if kind == "cosine":
        s = 0.008
        x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
        f = torch.cos((x / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(1e-4, 0.9999)
    raise ValueError(f"beta schedule must be 'linear' or 'cosine', got {kind!r}")


def _gather(v: Tensor, t: Tensor, like: Tensor) -> Tensor:
    return v.to(like.device)[t.long()].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


class DDPMSchedule(nn.Module):
    """Buffers of a discrete DDPM with ε-prediction; timesteps are integers ``0 .. T-1``."""

    def __init__(self, timesteps: int = 300, kind: str = "linear", beta_start: float = 1e-4,
                 beta_end: float = 0.02, scale_to_T: bool = False) -> None:
        super().__init__()
        betas = make_betas(timesteps, kind, beta_start, beta_end, scale_to_T)
        if not ((betas > 0) & (betas < 1)).all():
            raise ValueError("every beta must lie in (0, 1)")
        abar = torch.cumprod(1 - betas, 0)
        abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
        self.timesteps = int(timesteps)
        #: β_1..β_T as float64 on the host, whatever device the buffers are on (the samplers'
        #: schedulers are built from it)
        self.betas_host = tuple(betas.tolist())
        for name, v in dict(betas=betas, alphas_cumprod=abar, alphas_cumprod_prev=abar_prev,
                            posterior_variance=betas * (1 - abar_prev) / (1 - abar)).items():
            self.register_buffer(name, v.float(), persistent=False)

    def t_frac(self, t: Tensor) -> Tensor:
        """The model's time input ``t / T`` (authors' convention)."""
        return t.float() / self.timesteps

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε."""
        abar = _gather(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def predict_x0(self, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """x_0 = (x_t - sqrt(1 - ᾱ_t) ε) / sqrt(ᾱ_t), the inverse of :meth:`q_sample`."""
        abar = _gather(self.alphas_cumprod, t, x_t)
        return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()

    def p_mean_variance(self, x_t: Tensor, t: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (1/sqrt(α_t)) (x_t - β_t / sqrt(1-ᾱ_t) ε) and the "fixed small" variance."""
        beta = _gather(self.betas, t, x_t)
        abar = _gather(self.alphas_cumprod, t, x_t)
        mean = (x_t - beta / (1 - abar).sqrt() * eps) / (1 - beta).sqrt()
        return mean, _gather(self.posterior_variance, t, x_t)
