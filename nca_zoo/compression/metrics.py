"""Image-quality and compression metrics (thin wrappers over torchmetrics).

MSE and PSNR are reported on the 0-255 scale as in the GNCA paper (Eq. 5-6); SSIM as in Eq. 7;
MS-SSIM (Wang et al. 2003) with as many scales as a small image allows.
"""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)


def _as_batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].double()


def image_quality(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """PSNR (dB), MSE and SSIM of two ``uint8 (H, W, 3)`` images, on the 0-255 scale."""
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch {reference.shape} vs {test.shape}")
    ref, out = _as_batch(reference), _as_batch(test)
    mse = torch.mean((ref - out) ** 2).item()
    psnr = peak_signal_noise_ratio(out, ref, data_range=255.0).item() if mse > 0 else float("inf")
    # SSIM's 11x11 Gaussian window needs images of at least 11 px; smaller ones use a 3x3 window.
    k = 11 if min(reference.shape[:2]) >= 11 else 3
    ssim = structural_similarity_index_measure(out, ref, data_range=255.0, kernel_size=k).item()
    return {"psnr": psnr, "mse": mse, "ssim": ssim}


def compression_rate(compressed_bytes: int, height: int, width: int, channels: int = 3) -> float:
    """``CR = 1 - size(compressed) / size(I)`` in percent, size(I) = raw 8-bit bytes (GNCA §4.2)."""
    return 100.0 * (1.0 - compressed_bytes / float(height * width * channels))


#: MS-SSIM's five scale weights (Wang et al. 2003)
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(side: int) -> tuple[int, int]:
    """(kernel size, number of scales) MS-SSIM can use on images whose short side is ``side``.

    Each scale halves the image and the last one still needs a full kernel: kernel 11 from 176 px,
    else 7, so 3 scales at 40 px, 4 at 80 and 5 from 120.
    """
    kernel = 11 if side >= 176 else 7
    return kernel, max(1, min(5, int(np.floor(np.log2(side / kernel))) + 1))


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM of two ``uint8 (H, W, 3)`` images at :func:`ms_ssim_scales` (betas renormalised)."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    from ..layers import to_tensor

    kernel, scales = ms_ssim_scales(min(reference.shape[:2]))
    betas = np.array(MS_SSIM_BETAS[:scales])
    value = multiscale_structural_similarity_index_measure(
        to_tensor(test)[None], to_tensor(reference)[None], data_range=1.0, kernel_size=kernel,
        betas=tuple(float(b) for b in betas / betas.sum()), normalize="relu")
    return float(value)
