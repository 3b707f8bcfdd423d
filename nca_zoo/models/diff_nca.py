"""Diff-NCA and FourierDiff-NCA noise predictors (Diff-NCA paper §3.2-3.3, listings 1-2).

Both are plain ``nn.Module`` denoisers ``model(x_t, t_frac, region=None) -> eps``: ``x_t`` is the
noisy image in [-1, 1], ``t_frac = t / T`` per sample.  The state is ``c`` channels: the noisy image
(3, never written), the predicted noise (3, read out) and ``c - 6`` hidden channels, seeded with
zeros.

* :class:`DiffNCA`: ``steps`` image-space NCA steps of one :class:`DiffusionCell` (reflect
  padding).  Its default embedding has no position, so the rule is translation-equivariant and
  (with ``norm="cell"``) strictly local: the model of §4.9's seamless large images.
* :class:`FourierDiffNCA`: FFT of the state, a 16x16 window of the shifted spectrum as a
  ``2c``-channel state (real | imaginary), 32 steps of its own cell in Fourier space (all cells
  update), write-back of the hidden channels, inverse FFT, then ``steps`` image-space steps (§3.2).
  ``fourier_anchor="dc"`` takes the window *starting* at the centre (DC) of the shifted spectrum,
  as the paper and the authors' code do; ``"centred"`` takes the window centred on DC (all
  frequencies within +-8).

``region`` (B x 1 x H x W) restricts the image-space updates (inpainting, super-resolution); the
Fourier stage is global by construction and is not restricted.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from .._registry import register_model
from ..automaton import Automaton
from ..cells.diffusion import DiffusionCell
from ..layers import RGB_CHANNELS, check_images

IMAGE_CHANNELS = RGB_CHANNELS


class _NCADenoiser(nn.Module):
    """Shared image-space stage: seed, rollout, noise read-out."""

    def __init__(self, channels: int, hidden: int, steps: int, update_rate: float, norm: str,
                 embed_inputs: Sequence[str], n_freqs: int, embed_dim: int,
                 checkpoint_every: int, weight_norm: bool) -> None:
        super().__init__()
        if channels < 2 * IMAGE_CHANNELS + 1:
            raise ValueError(f"channels must be >= {2 * IMAGE_CHANNELS + 1} "
                             f"(image + noise + hidden), got {channels}")
        self.channels, self.hidden, self.steps = channels, hidden, int(steps)
        cell = DiffusionCell(channels, hidden, fixed_channels=IMAGE_CHANNELS,
                             embed_inputs=embed_inputs, n_freqs=n_freqs, embed_dim=embed_dim,
                             norm=norm, padding_mode="reflect", step_norm=steps,
                             weight_norm=weight_norm)
        # the cell is registered once, inside its automaton: a second reference would list every
        # tensor twice in state_dict (and make a state_dict-based EMA update them twice)
        self.automaton = Automaton(cell, steps=steps, update_rate=update_rate,
                                   fixed_channels=IMAGE_CHANNELS, checkpoint_every=checkpoint_every)

    @property
    def cell(self) -> DiffusionCell:
        """The image-space cell."""
        return self.automaton.cell

    @property
    def receptive_radius(self) -> int:
        """Cells a prediction can see in each direction in image space (one per step)."""
        return self.steps

    @property
    def is_local(self) -> bool:
        """True when the prediction for a cell depends only on its ``receptive_radius``."""
        return self.cell.is_local and not ({"x", "y"} & set(self.cell.embed_inputs))

    def seed(self, x_t: Tensor) -> Tensor:
        b, _, h, w = x_t.shape
        return torch.cat([x_t, x_t.new_zeros(b, self.channels - IMAGE_CHANNELS, h, w)], 1)

    def image_stage(self, state: Tensor, t_frac: Tensor, region: Optional[Tensor]) -> Tensor:
        state, _ = self.automaton.rollout(state, self.steps, t_frac, region=region)
        return state[:, IMAGE_CHANNELS:2 * IMAGE_CHANNELS]

    @staticmethod
    def _check(x_t: Tensor, t_frac: Tensor) -> Tensor:
        check_images(x_t, min_size=2, name="x_t")   # 2x2: reflect padding
        t_frac = torch.as_tensor(t_frac, dtype=x_t.dtype, device=x_t.device)
        return t_frac.expand(x_t.shape[0]) if t_frac.dim() == 0 else t_frac


class DiffNCA(_NCADenoiser):
    """Diff-NCA (listing 2): image-space NCA only.  See the module docstring."""

    def __init__(self, channels: int = 96, hidden: int = 512, steps: int = 20,
                 update_rate: float = 0.9, norm: str = "group",
                 embed_inputs: Sequence[str] = ("t", "step"), n_freqs: int = 1, embed_dim: int = 2,
                 checkpoint_every: int = 0, weight_norm: bool = True) -> None:
        super().__init__(channels, hidden, steps, update_rate, norm, embed_inputs, n_freqs,
                         embed_dim, checkpoint_every, weight_norm)

    def forward(self, x_t: Tensor, t_frac: Tensor, region: Optional[Tensor] = None) -> Tensor:
        """``x_t`` ``(B, 3, H, W)``, ``t_frac`` (scalar or ``(B,)``) -> noise ``(B, 3, H, W)``.

        ``steps`` image-space NCA steps from the seed ``[x_t | 0 | 0]``; the noise is read out of
        channels 3-5.  ``region`` ``(B, 1, H, W)`` restricts the updates.
        """
        t_frac = self._check(x_t, t_frac)
        return self.image_stage(self.seed(x_t), t_frac, region)


def fourier_window(size: int, window: int, anchor: str) -> tuple[int, int]:
    """``(start, length)`` of the Fourier window along one axis of an fftshift-ed spectrum.

    ``dc``: starts at the DC index ``size // 2`` (paper, authors' code); ``centred``: centred on it.
    The window is clipped to the spectrum for small images.
    """
    dc = size // 2
    if anchor == "dc":
        return dc, min(window, size - dc)
    if anchor == "centred":
        n = min(window, size)
        return max(0, min(dc - n // 2, size - n)), n
    raise ValueError(f"fourier_anchor must be 'dc' or 'centred', got {anchor!r}")


class FourierDiffNCA(_NCADenoiser):
    """FourierDiff-NCA (listing 1).  See the module docstring.

    Args (beyond :class:`DiffNCA`'s): ``fourier_window`` (16), ``fourier_steps`` (32),
    ``fourier_anchor`` (``"dc"`` or ``"centred"``).  The Fourier state puts the six fixed
    channels (real and imaginary image spectrum) first; the layer shapes are those of listing 1.
    """

    def __init__(self, channels: int = 96, hidden: int = 512, steps: int = 20,
                 update_rate: float = 0.9, norm: str = "group",
                 embed_inputs: Sequence[str] = ("x", "y", "t", "step"), n_freqs: int = 2,
                 embed_dim: int = 4, fourier_window: int = 16, fourier_steps: int = 32,
                 fourier_anchor: str = "dc", checkpoint_every: int = 0,
                 weight_norm: bool = True) -> None:
        super().__init__(channels, hidden, steps, update_rate, norm, embed_inputs, n_freqs,
                         embed_dim, checkpoint_every, weight_norm)
        if fourier_anchor not in ("dc", "centred"):
            raise ValueError(f"fourier_anchor must be 'dc' or 'centred', got {fourier_anchor!r}")
        if fourier_window < 1 or fourier_steps < 1:
            raise ValueError("fourier_window and fourier_steps must be >= 1")
        self.window, self.fourier_steps, self.anchor = fourier_window, fourier_steps, fourier_anchor
        fourier_cell = DiffusionCell(2 * channels, hidden, fixed_channels=2 * IMAGE_CHANNELS,
                                     embed_inputs=embed_inputs, n_freqs=n_freqs,
                                     embed_dim=embed_dim, norm=norm, padding_mode="zeros",
                                     step_norm=fourier_steps, weight_norm=weight_norm)
        self.fourier_automaton = Automaton(fourier_cell, steps=fourier_steps, update_rate=1.0,
                                           fixed_channels=2 * IMAGE_CHANNELS,
                                           checkpoint_every=checkpoint_every)

    @property
    def fourier_cell(self) -> DiffusionCell:
        """The Fourier-space cell."""
        return self.fourier_automaton.cell

    @property
    def is_local(self) -> bool:
        """Always False: the Fourier stage (§3.2) mixes the whole image."""
        return False

    def crop(self, x: Tensor) -> tuple[Tensor, tuple[slice, slice]]:
        """FFT (norm="forward"), fftshift and the window of ``x``.

        Returns the complex window ``(B, C, k, k)`` and its slices.
        """
        spec = torch.fft.fftshift(torch.fft.fft2(x, norm="forward"), dim=(-2, -1))
        (r0, nr), (c0, nc) = (fourier_window(s, self.window, self.anchor) for s in x.shape[-2:])
        win = (slice(r0, r0 + nr), slice(c0, c0 + nc))
        return spec[..., win[0], win[1]], win

    @staticmethod
    def uncrop(window: Tensor, win: tuple[slice, slice], size: tuple[int, int],
               real: bool = True) -> Tensor:
        """Inverse of :meth:`crop` for a spectrum that is zero outside the window.

        ``real`` keeps the real part, as the authors do: the edited window is not Hermitian, so
        the imaginary residue is discarded.
        """
        spec = window.new_zeros(*window.shape[:2], *size)
        spec[..., win[0], win[1]] = window
        img = torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1)), norm="forward")
        return img.real if real else img

    def fourier_stage(self, x_t: Tensor, t_frac: Tensor) -> Tensor:
        """§3.2: 32 Fourier-space steps; returns the hidden channels (``c - 3``) in image space.

        The hidden channels of the seed are zero, so their spectrum is zero outside the window and
        the image channels' spectrum is never written: only the window of the hidden channels
        needs the inverse FFT.
        """
        c, k = self.channels, IMAGE_CHANNELS
        win_spec, win = self.crop(x_t)
        b, _, nr, nc = win_spec.shape
        zeros = x_t.new_zeros(b, c - k, nr, nc)
        state = torch.cat([win_spec.real, win_spec.imag, zeros, zeros], 1)   # fixed 6 first
        state, _ = self.fourier_automaton.rollout(state, self.fourier_steps, t_frac)
        hidden = torch.complex(state[:, 2 * k:c + k], state[:, c + k:])
        return self.uncrop(hidden, win, tuple(x_t.shape[-2:]))

    def forward(self, x_t: Tensor, t_frac: Tensor, region: Optional[Tensor] = None) -> Tensor:
        """``x_t`` ``(B, 3, H, W)``, ``t_frac`` (scalar or ``(B,)``) -> noise ``(B, 3, H, W)``.

        The Fourier stage (§3.2) seeds the ``c - 3`` other channels, then ``steps`` image-space
        steps run; ``region`` ``(B, 1, H, W)`` restricts only the image-space updates.
        """
        t_frac = self._check(x_t, t_frac)
        state = torch.cat([x_t, self.fourier_stage(x_t, t_frac)], 1)
        return self.image_stage(state, t_frac, region)


# ---------------------------------------------------------------------------- registry
@register_model(num_params=330_440, family="denoiser",
                tiny=dict(channels=10, hidden=16, steps=2))
def diff_nca(**kwargs) -> DiffNCA:
    """Diff-NCA, listing 2: c=96, h=512, embedding of (t, NCA step) -> 2 channels; ~331k params."""
    return DiffNCA(**kwargs)


@register_model(num_params=1_100_192, family="denoiser",
                tiny=dict(channels=10, hidden=16, steps=2, fourier_steps=2))
def fourierdiff_nca(**kwargs) -> FourierDiffNCA:
    """FourierDiff-NCA "Basic", listing 1 / Table 1: c=96, h=512, s=20.

    1,101,216 params in the paper.
    """
    return FourierDiffNCA(**kwargs)


@register_model(num_params=524_768, family="denoiser",
                tiny=dict(channels=10, hidden=16, steps=2, fourier_steps=2))
def fourierdiff_nca_c48(**kwargs) -> FourierDiffNCA:
    """Table 1 ablation c=48 (525,792 params in the paper)."""
    return FourierDiffNCA(**{"channels": 48, **kwargs})


@register_model(num_params=736_672, family="denoiser",
                tiny=dict(channels=10, hidden=16, steps=2, fourier_steps=2))
def fourierdiff_nca_h256(**kwargs) -> FourierDiffNCA:
    """Table 1 ablation h=256 (737,184 params in the paper)."""
    return FourierDiffNCA(**{"hidden": 256, **kwargs})


@register_model(num_params=1_848_352, family="denoiser",
                tiny=dict(channels=10, hidden=16, steps=2, fourier_steps=2))
def fourierdiff_nca_1m85(**kwargs) -> FourierDiffNCA:
    """Table 2 "FD-NCA (1.85m)": c=128, h=640 (1,849,632 params in the paper)."""
    return FourierDiffNCA(**{"channels": 128, "hidden": 640, **kwargs})
