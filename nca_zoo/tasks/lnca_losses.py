"""LNCA's losses (Menta et al. 2024, §3.2): phase 1 Eq. 3-6, phase 2 Eq. 7-9, and their weights.

The weights are two dataclasses, written as mappings in YAML: :class:`AutoencoderLoss` (phase 1)
and :class:`LatentNCALoss` (phase 2).  The loss functions take the model and the weights and
return every term by name (logged under ``train/``) plus the weighted total.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from .restoration import overflow

#: the minimum of swish, ``x * sigmoid(x)`` (at ``x = -1.2785``): the lowest latent value of the
#: LNCA autoencoder, whose latent comes out of a swish
SWISH_MIN = -0.2785


@dataclass
class AutoencoderLoss:
    """Phase-1 loss weights of LNCA (§3.2.1).

    ``rec`` Eq. 3, ``dist`` Eq. 4 (triplet ``margin`` alpha), ``task`` Eq. 5, ``eq`` Eq. 6 with
    latent noise ``eq_noise_std``.
    """

    rec: float = 100.0
    dist: float = 10.0
    task: float = 10.0
    eq: float = 100.0
    margin: float = 1.0
    eq_noise_std: float = 0.5


@dataclass
class LatentNCALoss:
    """Phase-2 loss weights of LNCA (§3.2.2).

    ``rec`` Eq. 7, ``latent`` Eq. 8, ``overflow`` Eq. 9, and ``ssim`` (not in the paper, 0 by
    default): the weight of ``1 - SSIM`` between Eq. 7's read-out and the clean image, for
    restorers judged on SSIM as well as PSNR (every term of the paper is a mean squared error).
    Eq. 9 keeps the hidden channels in [-1, 1] and the output channels in
    ``[output_low, output_high]``: [0, 1] in the paper and the authors' code, although the
    output channels must match the autoencoder's swish latent (Eq. 8), which leaves [0, 1]
    (minimum ``SWISH_MIN``, no upper bound).  Bounds of ``[SWISH_MIN, inf]``
    (``output_low: -0.2785, output_high: .inf`` in YAML) stop Eq. 9 from fighting Eq. 8
    (measured on held-out deblurring: no gain; docs/paper-to-code.md).

    Phase 2 normalises each parameter's gradient, so only the ratio of the weights matters.
    Eq. 8 is a plain mean over latent channels: on an autoencoder whose latent has a few
    high-variance channels it outweighs Eq. 7, what PSNR measures, by orders of magnitude
    (``benchmarks/lnca/lnca_loss_balance.py``).
    """

    rec: float = 100.0
    latent: float = 100.0
    overflow: float = 1.0
    ssim: float = 0.0
    output_low: float = 0.0
    output_high: float = 1.0

    def __post_init__(self) -> None:
        if not self.output_low < self.output_high:
            raise ValueError(f"nca_loss output_low ({self.output_low}) must be below "
                             f"output_high ({self.output_high})")
        if self.ssim < 0:
            raise ValueError(f"nca_loss ssim must be 0 or more, got {self.ssim}")


def derangement(n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """A random permutation of ``range(n)`` without fixed points (§3.2.1 negatives)."""
    if n < 2:
        raise ValueError(f"LNCA phase 1 needs batches of at least 2 images for negatives, got {n}")
    while True:
        perm = torch.randperm(n, generator=generator)
        if not (perm == torch.arange(n)).any():
            return perm


def corrupted_pixels(anchor: Tensor, positive: Tensor) -> Tensor:
    """The mask ``m_{A,P} = 1[x_A != x_P]`` (any channel) of Eq. 5 and 6."""
    return (anchor != positive).any(1, keepdim=True).to(anchor.dtype)


def autoencoder_losses(ae, w: AutoencoderLoss, anchor: Tensor, positive: Tensor,
                       negative: Tensor) -> dict:
    """Phase 1, first step: reconstruction (Eq. 3), distance (Eq. 4), task (Eq. 5)."""
    mask = corrupted_pixels(anchor, positive)
    x = torch.cat([anchor, positive, negative])
    skip, z = ae.encode(x)
    rec = ae.decode(z, skip)
    l_rec = F.mse_loss(rec, x)
    z_a, z_p, z_n = z.flatten(1).chunk(3)
    d_ap, d_an = (z_a - z_p).pow(2).mean(1), (z_a - z_n).pow(2).mean(1)
    l_dist = F.relu(d_ap - d_an + w.margin).mean()
    rec_p = rec.chunk(3)[1]
    l_task = F.mse_loss(positive * mask, rec_p * mask)
    total = w.rec * l_rec + w.dist * l_dist + w.task * l_task
    return {"rec_ae": l_rec, "dist": l_dist, "task": l_task, "loss_ae": total}


def equivalence_loss(ae, w: AutoencoderLoss, anchor: Tensor, positive: Tensor) -> Tensor:
    """Phase 1, second step, Eq. 6 (unweighted): decode swapped latents and skips.

    The anchor's latent (plus noise ``eq_noise_std``) is decoded with the positive's skip, and
    vice versa.
    """
    mask = corrupted_pixels(anchor, positive)
    skip, z = ae.encode(torch.cat([anchor, positive]))
    (skip_a, skip_p), (z_a, z_p) = skip.chunk(2), z.chunk(2)
    x_a_star = ae.decode(z_a + w.eq_noise_std * torch.randn_like(z_a), skip_p)
    x_p_star = ae.decode(z_p, skip_a)
    return (F.mse_loss(anchor * mask, x_a_star * mask)
            + F.mse_loss(positive * mask, x_p_star * mask))


def latent_nca_losses(model, w: LatentNCALoss, state: Tensor, clean: Tensor, degraded: Tensor,
                      skip: Tensor, z_true: Tensor) -> dict:
    """Phase 2: reconstruction (Eq. 7), latent (Eq. 8) and overflow (Eq. 9) losses.

    Eq. 7 compares the model's read-out (:meth:`~nca_zoo.models.lnca.LatentNCA.read_out`:
    ``D(output, skip)``, or the residual read-out of ``degraded``) with the clean image.  With
    ``w.ssim > 0`` the same read-out also gives ``ssim_nca = 1 - SSIM`` (torchmetrics' Gaussian
    11 x 11 window on [0, 1]).
    """
    out, hidden = model.output(state), model.hidden(state)
    restored = model.read_out(degraded, state, skip)
    terms = {"rec_nca": F.mse_loss(restored, clean), "latent": F.mse_loss(out, z_true),
             "overflow": overflow(out, w.output_low, w.output_high) + overflow(hidden, -1.0, 1.0)}
    total = w.rec * terms["rec_nca"] + w.latent * terms["latent"] + w.overflow * terms["overflow"]
    if w.ssim > 0:
        terms["ssim_nca"] = 1 - structural_similarity_index_measure(restored, clean,
                                                                     data_range=1.0)
        total = total + w.ssim * terms["ssim_nca"]
    return {**terms, "loss_nca": total}
